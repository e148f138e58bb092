"""The development mail catcher: a real SMTP server on loopback whose mail the admin shows."""

from __future__ import annotations

import html
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from statuspage import ROOT, create_app, devmail
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.extensions import mail
from tests.conftest import Actions

BASE = "http://status.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(app: Flask, tmp_path: Path) -> Iterator[devmail.MailCatcher]:
    """The catcher as this module's mail server, where the app sends and the admin reads.

    Named ``smtp`` because it is the one SMTP server these tests may talk to.
    """
    app.instance_path = str(tmp_path)  # caught mail lands in the test's own directory
    catcher = devmail.MailCatcher(devmail.mail_directory(app), "127.0.0.1", free_port())
    app.config.update(DEV_MAIL_CATCHER=True, MAIL_SERVER=catcher.host, MAIL_PORT=catcher.port,
                      MAIL_USE_TLS=False, MAIL_USE_SSL=False, MAIL_USERNAME=None,
                      MAIL_PASSWORD=None, MAIL_SUPPRESS_SEND=False)
    mail.init_app(app)
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


def send(port: int, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", to, subject
    message.set_content("Hello")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(message)


def test_the_admin_lists_a_caught_confirmation_email_and_shows_it_with_its_links(
        logged_in: Actions, smtp: devmail.MailCatcher) -> None:
    subs.subscribe("newcomer@example.com")
    assert notify.deliver().sent == 1  # over real SMTP, into the catcher

    listing = logged_in.client.get("/admin/mail").get_data(as_text=True)
    assert "newcomer@example.com" in listing
    assert "[Acme] Confirm your subscription" in listing
    [path] = re.findall(r'href="(/admin/mail/[0-9a-f-]+)"', listing)

    page = logged_in.client.get(path).get_data(as_text=True)

    # The HTML part, in a sandboxed frame that may not run scripts, under a policy of its own
    # that lets the email's inline styles apply and nothing else.
    frame = re.search(r'<iframe[^>]*sandbox="([^"]*)"[^>]*src="([^"]*)"', page, re.S)
    assert frame, "no sandboxed frame"
    assert "allow-scripts" not in frame.group(1) and "allow-same-origin" not in frame.group(1)
    assert frame.group(2) == f"{path}/html"
    part = logged_in.client.get(frame.group(2))
    policy = part.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-popups allow-popups-to-escape-sandbox; ")
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy and part.headers["X-Frame-Options"] == "SAMEORIGIN"
    body = part.get_data(as_text=True)
    assert body.startswith('<base target="_blank">') and "Confirm" in body
    assert 'style="' in body  # the email's own inline styles, kept
    # Its links, clickable, and the confirmation link acts for this subscriber.
    links = re.findall(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer">', page)
    [confirm] = [link for link in links if "/subscriptions/confirm/" in link]
    assert confirm.startswith(f"{BASE}/subscriptions/confirm/")
    token = html.unescape(confirm).rsplit("/", 1)[1]
    assert subs.load_token("confirm", token).email == "newcomer@example.com"


def test_the_caught_mail_nav_link_shows_while_the_catcher_is_on(
        logged_in: Actions, smtp: devmail.MailCatcher) -> None:
    dashboard = logged_in.client.get("/admin/").get_data(as_text=True)

    assert 'href="/admin/mail"' in dashboard
    assert "No mail caught yet." in logged_in.client.get("/admin/mail").get_data(as_text=True)


def test_the_catcher_keeps_only_the_newest_messages(tmp_path: Path, smtp: Any) -> None:
    catcher = devmail.MailCatcher(tmp_path / "few", "127.0.0.1", free_port(), keep=3).start()
    try:
        for number in range(5):
            send(catcher.port, f"reader{number}@example.com", f"Message {number}")
    finally:
        catcher.stop()

    caught = devmail.caught_messages(tmp_path / "few")
    assert [m.subject for m in caught] == ["Message 4", "Message 3", "Message 2"]
    assert caught[0].to == "reader4@example.com"
    assert caught[0].text.strip() == "Hello"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "mail.example.com"])
def test_the_catcher_refuses_to_listen_beyond_loopback(tmp_path: Path, host: str) -> None:
    with pytest.raises(devmail.CatcherError, match="loopback only"):
        devmail.MailCatcher(tmp_path, host, 1025)


def test_a_taken_port_is_reported_clearly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(devmail.CatcherError, match=f"could not listen on 127.0.0.1:{port}"):
            devmail.MailCatcher(tmp_path, "127.0.0.1", port).start()


@pytest.mark.parametrize("message_id", ["../../etc/passwd", "1700000000000000-zzzzzzzz",
                                        "1700000000000000-0123abcd"])
def test_a_message_that_is_not_one_of_ours_is_not_found(
        logged_in: Actions, smtp: devmail.MailCatcher, message_id: str) -> None:
    assert logged_in.client.get(f"/admin/mail/{message_id}").status_code == 404
    assert devmail.caught_message(smtp.directory, message_id) is None


def test_send_test_mail_lands_in_the_catcher(runner: Any, smtp: devmail.MailCatcher) -> None:
    result = runner.invoke(args=["send-test-mail", "Me@Example.com"])

    assert result.exit_code == 0, result.output
    assert f"Sent a test email to Me@Example.com through 127.0.0.1:{smtp.port}" in result.output
    [caught] = devmail.caught_messages(smtp.directory)
    assert caught.to == "me@example.com" and caught.subject == "[Acme] Test email"


def test_the_factory_never_starts_the_catcher(database_url: str) -> None:
    port = free_port()
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                "DEV_MAIL_CATCHER": True, "MAIL_PORT": port})

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def smtp_greeting(port: int, deadline: float) -> bytes:
    """The first line the server on ``port`` sends, waiting for it to start listening."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                return sock.recv(200)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_flask_dev_starts_the_catcher_once_under_the_reloader(database_url: str,
                                                              tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url,
           "SECRET_KEY": "dev-process-test-4b8e2a6c0d9f1357",
           "DEV_MAIL_CATCHER": "true", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port)}
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "dev", "--port", str(http_port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            greeting = smtp_greeting(smtp_port, time.monotonic() + 20)
            # The reloader's parent watches files only; a second catcher would say it found
            # the port taken.
            time.sleep(1)
            # Its request log keeps a subscriber's link out, as gunicorn's does.
            requests.get(f"http://127.0.0.1:{http_port}/subscriptions/manage/SeCrEt.tok-en",
                         timeout=10)
            time.sleep(0.3)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
    output = log.read_text()

    assert greeting.startswith(b"220 "), greeting
    assert output.count(f"Mail catcher on 127.0.0.1:{smtp_port}") == 1, output
    assert "could not listen" not in output, output
    assert "GET /subscriptions/manage/[token] HTTP/1.1" in output, output
    assert "SeCrEt" not in output
