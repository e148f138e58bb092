"""The page cache of one process: the page version, known here without asking the database,
and the newest edition of every public resource this process serves.

A view names its ``Resource`` (the path it answers and how to build it) and ``serve`` hands
back the edition for the current stamp: the page version, plus the page's day for resources
that change at local midnight. When the edition kept in memory carries that stamp, the answer
costs no database round trip.

The version is read every PAGE_VERSION_CHECK_MS (at most a second) by the refresher, a daemon
thread of the process. It is started by the first request that needs it, rather than by the
factory, so that it runs only in processes that serve pages (after gunicorn forks, too). When
the version moves, the refresher brings the resources asked for in the last two seconds up to
it at once, most asked first: it reads the edition another process stored, or claims the
build, builds and stores it (``builds``). A request for one asked for less recently (within a
minute) gets its previous edition and wakes the refresher for it. Resources nobody asks for
cost nothing, however often the page changes. A resource nobody asked for in the last minute
is brought up to date by the request that asks for it, which also waits for a build another
process has claimed. With the database down the kept editions keep answering, marked stale;
where there is none, ``Unavailable``.

PAGE_VERSION_CHECK_MS=0 starts no thread: every request reads the version and builds a missing
edition itself (tests, debugging).
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy.exc import SQLAlchemyError

from . import builds
from .builds import Built, Edition
from .dbtypes import utcnow
from .extensions import db
from .site import PageState, page_state
from .validation import DomainError

log = logging.getLogger(__name__)

DEFAULT_LANG = "en"
HOT_SECONDS = 60.0  # a resource asked for this recently gets its previous edition meanwhile
ACTIVE_SECONDS = 2.0  # one asked for this recently is rebuilt as soon as the version moves
# A hot resource lagging its version this long (the refresher is stuck) is updated by the
# request that asks for it instead.
LAG_LIMIT = 10.0
MAX_ENTRIES = 2000
WAIT_STEP = 0.05  # how often a waiting process looks for the edition another one builds
WAIT_LIMIT = 10.0  # after this, a request builds the edition itself
PRUNE_EVERY = 600.0
CACHE_KEY = "statuspage.page_cache"  # in app.extensions


class Unavailable(Exception):
    """No edition to answer with, and the database cannot be read."""


@dataclass(frozen=True)
class Resource:
    """One public answer that is the same for every visitor: where it lives, how it is built."""

    path: str  # the path (and query) it answers, e.g. "/history?page=2"
    build: Callable[[], Built]  # runs in a request context of its own, for ``path``
    daily: bool = False  # changes at midnight in the page's time zone, too
    lang: str = DEFAULT_LANG

    @property
    def key(self) -> str:
        """What the resource is stored under, in memory and in the database."""
        return f"{self.lang} {self.path}"


def stamp_of(resource: Resource, state: PageState, now: datetime) -> str:
    """What an edition of ``resource`` must carry to be current; it doubles as its ETag."""
    stamp = f"v{state.version}"
    if resource.daily:
        stamp += f"-{now.astimezone(state.zone).date().isoformat()}"
    if resource.lang != DEFAULT_LANG:
        stamp += f"-{resource.lang}"
    return stamp


@dataclass
class _Entry:
    edition: Edition
    resource: Resource
    last_hit: float
    hits: int = 0
    asked: bool = False  # a request got this edition after the version moved past it


class PageCache:
    """The page version as last read and the editions kept, for one application in one
    process; shared by its request threads and its refresher."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interval = app.config["PAGE_VERSION_CHECK_MS"] / 1000
        self.base_url = app.config["BASE_URL"]
        self.state: PageState | None = None
        self.checked = 0.0  # monotonic time of the last successful read of the state
        self.since = 0.0  # monotonic time the current version was first read
        self.failing = False
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        self.guard = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.wake = threading.Event()
        self.stopped = False
        self.pause = self.interval
        self.pruned = time.monotonic()

    @property
    def owner(self) -> str:
        """This process, as its claims name it."""
        return f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    # --- the page version ---------------------------------------------------------------------

    def read_state(self) -> PageState:
        """Read the page version and settings now (one query); on failure, mark the cache
        failing and raise."""
        try:
            state = page_state()
        except SQLAlchemyError:
            self.failing = True
            _rollback()
            raise
        if self.state is None or state.version != self.state.version:
            self.since = time.monotonic()
        self.state, self.checked, self.failing = state, time.monotonic(), False
        return state

    def known_state(self) -> PageState:
        """The state requests go by: read now without a refresher, else as last read."""
        if self.interval == 0 or self.state is None:
            try:
                return self.read_state()
            except SQLAlchemyError:
                if self.state is None:
                    raise Unavailable from None
                return self.state
        self.start_refresher()
        return self.state

    def is_failing(self) -> bool:
        """Whether what is kept can no longer be confirmed current."""
        if self.failing:
            return True
        return self.interval > 0 and time.monotonic() - self.checked > max(2.0,
                                                                          3 * self.interval)

    # --- answering --------------------------------------------------------------------------

    def serve(self, resource: Resource) -> tuple[Edition, bool]:
        """The edition to answer ``resource`` with, and whether it is stale (the database
        cannot be read); Unavailable when there is none."""
        state = self.known_state()
        stamp = stamp_of(resource, state, utcnow())
        entry = self.entries.get(resource.key)
        clock = time.monotonic()
        if entry is not None:
            hot = clock - entry.last_hit < HOT_SECONDS
            entry.last_hit, entry.resource, entry.hits = clock, resource, entry.hits + 1
            if entry.edition.stamp == stamp:
                return entry.edition, self.is_failing()
            if self.interval and hot and clock - self.since < LAG_LIMIT and not self.failing:
                entry.asked = True  # the refresher builds the new one; this answer waits not
                self.wake.set()
                return entry.edition, False
            if self.failing:
                return entry.edition, True
        elif self.failing and self.interval:
            raise Unavailable
        try:
            edition = self.ensure(resource, stamp, state.version, wait=True)
        except SQLAlchemyError:
            self.failing = True
            _rollback()
            if entry is None:
                raise Unavailable from None
            return entry.edition, True
        assert edition is not None
        return edition, False

    def kept(self, key: str) -> Edition | None:
        """The edition kept for ``key`` when it is current and the version confirmed within
        the bound, counting the hit; None when only ``serve`` can tell. Reads no database."""
        entry = self.entries.get(key)
        state = self.state
        if entry is None or state is None or self.interval == 0 or self.is_failing():
            return None
        if entry.edition.stamp != stamp_of(entry.resource, state, utcnow()):
            return None
        entry.last_hit, entry.hits = time.monotonic(), entry.hits + 1
        return entry.edition

    def ensure(self, resource: Resource, stamp: str, version: int, *, wait: bool
               ) -> Edition | None:
        """Bring ``resource`` to ``stamp``: the edition stored by another process, or one
        built here under a claim. Without ``wait``, None while another process builds it."""
        with self._lock(resource.key):
            entry = self.entries.get(resource.key)
            if entry is not None and entry.edition.stamp == stamp:
                return entry.edition
            edition = builds.find(resource.key, stamp)
            deadline = time.monotonic() + WAIT_LIMIT
            while edition is None:
                if builds.claim(resource.key, stamp, version, self.owner):
                    edition = self.build(resource, stamp, version, claimed=True)
                elif not wait:
                    return None
                elif time.monotonic() > deadline:
                    edition = self.build(resource, stamp, version, claimed=False)
                else:
                    time.sleep(WAIT_STEP)
                    edition = builds.find(resource.key, stamp)
            self._keep(resource, edition)
            return edition

    def build(self, resource: Resource, stamp: str, version: int, *, claimed: bool) -> Edition:
        """Build ``resource`` in a request context of its own (so its bytes never depend on
        the request that asked), compress it, and store it if claimed."""
        try:
            with self.app.test_request_context(resource.path, base_url=self.base_url), \
                    force_locale(resource.lang):
                built = resource.build()
        except BaseException:
            if claimed:
                try:
                    builds.release(resource.key, stamp, self.owner)
                except SQLAlchemyError:
                    _rollback()
            raise
        edition = builds.edition_of(resource.key, stamp, version, built)
        if claimed:
            builds.store(edition, self.owner)
        return edition

    def _lock(self, key: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())

    def _keep(self, resource: Resource, edition: Edition) -> None:
        with self.guard:
            entry = self.entries.get(resource.key)
            if entry is None:
                self.entries[resource.key] = _Entry(edition, resource, time.monotonic())
            else:
                entry.edition, entry.resource, entry.asked = edition, resource, False
                self.entries.move_to_end(resource.key)
            while len(self.entries) > MAX_ENTRIES:
                key, _ = self.entries.popitem(last=False)
                self.locks.pop(key, None)

    def forget(self, key: str) -> None:
        """Drop a resource that no longer exists (its build says not found)."""
        with self.guard:
            self.entries.pop(key, None)

    # --- the refresher ----------------------------------------------------------------------

    def start_refresher(self) -> None:
        """Start this process's refresher unless it runs or was stopped (a forked process
        starts its own)."""
        if self.stopped or (self.thread is not None and self.thread.is_alive()
                            and self.pid == os.getpid()):
            return
        with self.guard:
            if self.thread is not None and self.thread.is_alive() and self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self._run, name="statuspage-page-refresher",
                                           daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Stop the refresher for good and wait for it (tests; processes simply exit)."""
        self.stopped = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self) -> None:
        # Every build leaves thousands of short-lived objects, which makes the collector scan
        # the whole heap every second or so while the page changes that often: a pause of
        # every request of the process. What exists by now (modules, templates, the URL map)
        # lives as long as the process, so it is left out of every collection from here on.
        gc.freeze()
        last = 0.0
        while not self.stopped:
            self.wake.wait(self.pause)
            self.wake.clear()
            # Woken by every request that got a previous edition: a round at most every
            # WAIT_STEP, so a busy page never turns the refresher into a loop of queries.
            time.sleep(max(0.0, last + WAIT_STEP - time.monotonic()))
            last = time.monotonic()
            if self.stopped:
                break
            with self.app.app_context():
                try:
                    self.refresh()
                except SQLAlchemyError as exc:
                    self.failing = True
                    log.warning("page refresher: database unavailable (%s)", type(exc).__name__)
                except Exception:
                    log.exception("page refresher failed; it tries again")
                finally:
                    _rollback()
                    db.session.remove()

    def refresh(self) -> None:
        """One round: read the version, then bring the resources asked for just now (or since
        it moved) up to it, most asked first, reading the version again whenever a round of
        builds outlasts the bound."""
        self.read_state()
        with self.guard:
            entries = list(self.entries.values())
        pending = False
        clock = time.monotonic()
        wanted = (e for e in entries if e.asked or clock - e.last_hit < ACTIVE_SECONDS)
        for entry in sorted(wanted, key=lambda e: -e.hits):
            assert self.state is not None
            stamp = stamp_of(entry.resource, self.state, utcnow())
            if entry.edition.stamp != stamp:
                try:
                    done = self.ensure(entry.resource, stamp, self.state.version, wait=False)
                except DomainError:
                    self.forget(entry.resource.key)
                    continue
                pending = pending or done is None
            if time.monotonic() - self.checked > self.interval:
                self.read_state()
        self.pause = WAIT_STEP if pending else self.interval
        if time.monotonic() - self.pruned > PRUNE_EVERY:
            builds.prune()
            self.pruned = time.monotonic()


def _rollback() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:  # the connection is gone; the pool replaces it
        pass


def current() -> PageCache:
    """This application's page cache in this process."""
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        cache = app.extensions.setdefault(CACHE_KEY, PageCache(app))
    return cache


def serve(resource: Resource) -> tuple[Edition, bool]:
    """The current edition of ``resource`` and whether it is stale (see ``PageCache.serve``)."""
    return current().serve(resource)


def known_page() -> PageState:
    """The page's settings as this process last read them (the error pages need no database);
    read now if never, the defaults if that fails."""
    cache = current()
    if cache.state is not None:
        return cache.state
    try:
        return cache.read_state()
    except SQLAlchemyError:
        return PageState(version=0, changed_at=None)
