"""The README's screenshots, made from the demo data by one command.

``python -m tools.screenshots`` loads the demo page into throwaway SQLite databases (written in
English, and in Polish for the Polish shots), serves each on loopback, and photographs it with
Debian's Chromium through Playwright: the page in light and dark, on a desktop and a phone, in
English and in Polish, the choice of a new subscription, and a notification email. The PNGs go
to docs/screenshots/ (or the folder given), at one device pixel per CSS pixel, so they stay
small.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from statuspage import ROOT, create_app, demo
from statuspage.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--hide-scrollbars"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    viewport: dict[str, int]
    scheme: str  # light or dark
    language: str
    full_page: bool = False


SHOTS = (
    Shot("page-desktop-light", "/", DESKTOP, "light", "en", full_page=True),
    Shot("page-desktop-dark", "/", DESKTOP, "dark", "en"),
    Shot("page-phone-light-pl", "/?lang=pl", PHONE, "light", "pl", full_page=True),
    Shot("page-phone-dark-pl", "/?lang=pl", PHONE, "dark", "pl"),
    Shot("subscribe-pl", "/subscribe?lang=pl", PHONE, "light", "pl"),
)
MAX_HEIGHT = 1900  # a full-page shot is cut here, so the README stays light


def demo_app(folder: Path, port: int, language: str = "en") -> Flask:
    """An application over a fresh database in ``folder`` holding the demo page."""
    from flask_migrate import upgrade

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / f'demo-{language}.db'}",
        "SECRET_KEY": secrets.token_hex(16), "BASE_URL": f"http://127.0.0.1:{port}",
    })
    with app.app_context():
        upgrade()
        demo.load(login_password=secrets.token_urlsafe(12), language=language)
        db.session.remove()
    return app


def free_port() -> int:
    """A port on loopback that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app: Flask, port: int) -> Iterator[str]:
    """Serve ``app`` on loopback in a thread; yields its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def email_html(app: Flask, language: str) -> str:
    """The newest update of the open incident, as a subscriber in ``language`` receives it."""
    import email
    import email.policy

    import sqlalchemy as sa

    from statuspage import emails, subscriptions
    from statuspage.incidents import Incident, IncidentUpdate
    from statuspage.outbox import Delivery, DeliveryKind, NoticeKind, add_notice

    with app.test_request_context():
        subscriber = subscriptions.add_subscriber(f"reader-{language}@example.com",
                                                  confirmed=True, language=language)
        update = db.session.scalars(sa.select(IncidentUpdate).join(Incident).where(
            Incident.resolved_at.is_(None), Incident.kind == "incident")
            .order_by(IncidentUpdate.id.desc())).first()
        notice = add_notice(NoticeKind.INCIDENT_UPDATE, incident_id=update.incident_id,
                            update_id=update.id)
        db.session.flush()
        delivery = Delivery(kind=DeliveryKind.INCIDENT_UPDATE, notice_id=notice.id,
                            subscriber_id=subscriber.id, to_address=subscriber.email, id=0)
        raw, _message_id = emails.render_delivery(delivery)
        db.session.rollback()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message.get_body(preferencelist=("html",)).get_content()


def _photograph(browser: Any, base: str, shot: Shot, target: Path) -> None:
    context = browser.new_context(viewport=shot.viewport, device_scale_factor=1,
                                  color_scheme=shot.scheme, locale=shot.language)
    tab = context.new_page()
    tab.goto(base + shot.path, wait_until="networkidle")
    height = tab.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": shot.viewport["width"],
            "height": min(height, MAX_HEIGHT)} if shot.full_page else None
    tab.screenshot(path=str(target), full_page=shot.full_page, clip=clip)
    context.close()


def take(folder: Path) -> list[Path]:
    """Every shot, written to ``folder``; returns the files."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for language in ("en", "pl"):
            port = free_port()
            app = demo_app(Path(scratch), port, language)
            with serving(app, port) as base:
                for shot in (s for s in SHOTS if s.language == language):
                    written.append(folder / f"{shot.name}.png")
                    _photograph(browser, base, shot, written[-1])
            if language == "pl":
                email = email_html(app, language)
                for scheme in ("light", "dark"):
                    context = browser.new_context(viewport={"width": 680, "height": 720},
                                                  device_scale_factor=1, color_scheme=scheme)
                    tab = context.new_page()
                    tab.set_content(email)
                    written.append(folder / f"email-pl-{scheme}.png")
                    tab.screenshot(path=str(written[-1]))
                    context.close()
        browser.close()
    return written


def main() -> None:
    """Take the screenshots (``python -m tools.screenshots [FOLDER]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    for path in take(args.folder):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
