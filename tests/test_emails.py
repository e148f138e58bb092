"""What an email looks like on the wire: raw bytes as the SMTP server received them."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import dkim
import pytest

from statuspage import emails, incidents
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.site import update_page_settings
from tests.conftest import require_tool
from tests.smtp import body_of


@pytest.fixture
def reader(db: Any) -> Any:
    subs.subscribe("reader@example.com")
    return subs.choose(subs.find_subscriber("reader@example.com"), all_components=True)


def head(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def sent_raw(smtp: Any, **incident: Any) -> bytes:
    notify.deliver()
    smtp.clear()
    incidents.open_incident(incident.pop("name", "Payments are failing"), **incident)
    notify.deliver()
    [raw] = smtp.raw_to("reader@example.com")
    return raw


def test_list_unsubscribe_reaches_the_server_as_a_plain_url_on_one_line(
        reader: Any, smtp: Any) -> None:
    raw = sent_raw(smtp)

    found = re.search(rb"\r\nList-Unsubscribe: <(http://status\.test/subscriptions/unsubscribe/"
                      rb"[A-Za-z0-9_.-]+)>\r\n", head(raw))
    assert found, head(raw).decode()
    assert len(found.group(0)) > 78  # longer than a folded line, and still not encoded
    assert b"=?" not in found.group(0)
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head(raw)
    token = found.group(1).rsplit(b"/", 1)[1].decode()
    assert subs.load_token("unsubscribe", token).email == "reader@example.com"


@pytest.mark.parametrize(("name", "expected"), [
    ("Acme", rb"From: Acme <status@localhost>\r\n"),
    ("Acme, Inc.", rb'From: "Acme, Inc." <status@localhost>\r\n'),
    ("Zażółć Status", rb"From: =\?utf-8\?[bq]\?[^?]+\?= Status <status@localhost>\r\n"),
])
def test_the_from_name_is_quoted_or_encoded_only_when_it_must_be(
        reader: Any, smtp: Any, name: str, expected: bytes) -> None:
    update_page_settings(name=name)
    raw = sent_raw(smtp)
    assert re.search(b"\r\n" + expected, b"\r\n" + head(raw)), head(raw).decode()


def test_one_incident_keeps_one_subject_and_its_status_leads_the_body(
        reader: Any, smtp: Any) -> None:
    notify.deliver()
    incident = incidents.open_incident("Payments are failing")
    incidents.post_update(incident, status="identified", body="A bad deploy.")
    notify.deliver()

    first, second = smtp.raw_to("reader@example.com")[-2:]
    subjects = {re.search(rb"\r\nSubject: ([^\r]+)\r\n", head(raw)).group(1)
                for raw in (first, second)}
    assert subjects == {b"[Acme] Payments are failing"}
    statuses = [body_of(m).splitlines()[0] for m in smtp.to("reader@example.com")[-2:]]
    assert [s.split(" - ")[0] for s in statuses] == ["Investigating", "Identified"]


def test_the_text_part_reads_like_the_markdown(reader: Any, smtp: Any) -> None:
    sent_raw(smtp, body="Two causes:\n\n- the **database**\n- the [cache](https://ex.com/c)"
                        "\n\n1. rolled back\n2. watching\n\n> quoted")
    [message] = smtp.to("reader@example.com")
    text = body_of(message).replace("\r\n", "\n")
    assert "Two causes:\n\n- the database\n- the cache (https://ex.com/c)\n\n" in text
    assert "1. rolled back\n2. watching" in text and "> quoted" in text


def test_every_line_is_short_and_no_line_starts_with_a_dot(reader: Any, smtp: Any) -> None:
    raw = sent_raw(smtp, name="." * 20 + " a name that starts with dots " + "x" * 150,
                   body=".starts with a dot\n\n" + "word " * 400)
    header_part, body = raw.split(b"\r\n\r\n", 1)
    for line in header_part.split(b"\r\n"):
        # Folded at 78, except List-Unsubscribe, which must stay one unbroken URL.
        assert len(line) <= 78 or line.startswith(b"List-Unsubscribe: <"), line
    for line in body.split(b"\r\n"):
        assert len(line) <= 76, line
    message = smtp.to("reader@example.com")[0]
    assert body_of(message).startswith("Investigating - ")
    assert ".starts with a dot" in body_of(message)


def _key_pair(folder: Path) -> tuple[Path, bytes]:
    require_tool("openssl", shutil.which("openssl") is not None)
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return key, base64.b64encode(public)


def test_dkim_signatures_verify_with_dkimpy_and_break_when_the_message_changes(
        app: Any, reader: Any, smtp: Any, tmp_path: Path) -> None:
    key, public = _key_pair(tmp_path)
    app.config.update(MAIL_DKIM_KEY_FILE=str(key), MAIL_DKIM_SELECTOR="status2026",
                      MAIL_DKIM_DOMAIN="example.com")
    raw = sent_raw(smtp)

    asked = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return b"v=DKIM1; k=rsa; p=" + public

    assert raw.startswith(b"DKIM-Signature: ")
    signature = head(raw).split(b"\r\n\r\n")[0]
    for field in (b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"):
        assert field in signature.lower()
    assert dkim.verify(raw, dnsfunc=dns)
    assert asked == [b"status2026._domainkey.example.com."]
    assert not dkim.verify(raw.replace(b"Payments are failing", b"Payments are fine"),
                           dnsfunc=dns)


def test_link_tokens_are_the_tokens_make_token_makes(db: Any) -> None:
    subscriber = subs.choose(subs.find_subscriber(subs.subscribe("reader@example.com")),
                             all_components=True)
    purposes = [subs.TokenPurpose.MANAGE, subs.TokenPurpose.UNSUBSCRIBE]

    fast = emails.link_tokens(subscriber.public_id, subscriber.token_version, purposes)

    for purpose in purposes:
        assert subs.load_token(purpose, fast[purpose]) == subscriber
        # Equal to the slow path's token, but for a timestamp a second apart at most.
        slow = subs.make_token(subscriber, purpose)
        assert fast[purpose].split(".")[0] == slow.split(".")[0]
    with pytest.raises(subs.TokenInvalid):
        subs.load_token(subs.TokenPurpose.MANAGE, fast[subs.TokenPurpose.UNSUBSCRIBE])
