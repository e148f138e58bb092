"""Webhook deliveries: Statuspage's JSON body, rendered once per notice, signed per subscriber.

Each notice's body is built once (by the API's webhook shapes, handed over in ``init_app``)
and serialised around a slot for the one personal value, the subscriber's unsubscribe link.
Every request carries ``Content-Type: application/json``, a ``User-Agent``, the delivery's
``Idempotency-Key`` (the same on every retry of that delivery), ``X-Statuspage-Timestamp``
(Unix seconds) and ``X-Statuspage-Signature: v1=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` under the subscriber's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from .. import links
from ..emails import RENDER_MAX_AGE, Undeliverable, link_tokens
from ..extensions import db
from ..outbox import Notice
from ..site import get_page_settings
from ..subscriptions import TokenPurpose

PAYLOAD_BUILDER = "statuspage.webhook_payload"
SIGNATURE_HEADER = "X-Statuspage-Signature"
TIMESTAMP_HEADER = "X-Statuspage-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "statuspage-webhooks/1.0"
_SLOT = "\x00unsubscribe\x00"


def new_secret() -> str:
    """A subscriber's signing secret: 32 random bytes, hex."""
    return secrets.token_hex(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``v1=`` and the HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def idempotency_key(delivery_id: int, page_code: str) -> str:
    """One delivery's key: the same on every retry, unique across pages."""
    return f"{page_code}-{delivery_id}"


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to go."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Prepared:
    """A notice's body serialised once, around the slot for the unsubscribe link."""

    head: bytes
    tail: bytes
    created: float

    def body(self, unsubscribe_url: str) -> bytes:
        """The body with this subscriber's link."""
        return self.head + json.dumps(unsubscribe_url).encode() + self.tail


def prepare(notice_id: int | None, now: datetime | None = None) -> Prepared:
    """Serialise a notice's webhook body once; Undeliverable when what it announces is gone."""
    notice = db.session.get(Notice, notice_id) if notice_id is not None else None
    build = current_app.extensions.get(PAYLOAD_BUILDER)
    data: dict[str, Any] | None = build(notice, _SLOT, now) if notice and build else None
    if data is None:
        raise Undeliverable("What this webhook announced was deleted before it was sent.")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    head, marker, tail = text.partition(json.dumps(_SLOT).encode())
    assert marker, "the unsubscribe slot is missing from the webhook body"
    return Prepared(head, tail, time.monotonic())


class Renderer:
    """Renders each notice once, and every subscriber's signed request from that."""

    def __init__(self) -> None:
        self._prepared: dict[int | None, Prepared | Undeliverable] = {}
        self._page_code = get_page_settings().page_code

    def render(self, item: Any, now: datetime | None = None) -> Request:
        """The signed request for one claimed delivery; Undeliverable if it cannot be."""
        if item.public_id is None or item.token_version is None or not item.endpoint:
            raise Undeliverable("The subscriber of this webhook no longer exists.")
        if item.quarantined:
            raise Undeliverable("The endpoint is disabled after repeated failures.")
        prepared = self._prepared.get(item.notice_id)
        if isinstance(prepared, Prepared) and time.monotonic() - prepared.created > RENDER_MAX_AGE:
            prepared = None
        if prepared is None:
            try:
                prepared = prepare(item.notice_id, now)
            except Undeliverable as exc:
                prepared = exc
            self._prepared[item.notice_id] = prepared
        if isinstance(prepared, Undeliverable):
            raise prepared
        token = link_tokens(item.public_id, item.token_version,
                            (TokenPurpose.UNSUBSCRIBE,))[TokenPurpose.UNSUBSCRIBE]
        body = prepared.body(links.unsubscribe(token))
        timestamp = str(int(time.time() if now is None else now.timestamp()))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   IDEMPOTENCY_HEADER: idempotency_key(item.id, self._page_code),
                   TIMESTAMP_HEADER: timestamp}
        if item.secret:
            headers[SIGNATURE_HEADER] = signature(item.secret, timestamp, body)
        return Request(item.endpoint, body, headers)
