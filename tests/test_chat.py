"""Slack and Microsoft Teams channels over a real HTTP receiver: activated by a message posted
to the channel, then sent messages in the shapes those services document (checked against
the schemas in tests/schemas/)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa

from statuspage import followers, incidents, maintenance
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.channels import chat
from statuspage.extensions import db as _db
from statuspage.outbox import DeliveryKind, Notice
from statuspage.site import get_page_settings, update_page_settings

SCHEMAS = Path(__file__).parent / "schemas"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


SLACK = jsonschema.Draft202012Validator(schema("slack_message.schema.json"))
TEAMS = jsonschema.Draft202012Validator(schema("teams_message.schema.json"))
CARD = jsonschema.Draft6Validator(schema("adaptive_card_1.4.schema.json"))


def valid_slack(message: dict[str, Any]) -> dict[str, Any]:
    SLACK.validate(message)
    return message


def valid_teams(message: dict[str, Any]) -> dict[str, Any]:
    TEAMS.validate(message)
    CARD.validate(message["attachments"][0]["content"])
    return message["attachments"][0]["content"]


def activate(body: bytes, purpose: str = "confirm") -> subs.Subscriber:
    """Follow the activation link a message carries."""
    [token] = re.findall(rf"http://status\.test/subscriptions/{purpose}/([^\"|>]+)",
                         body.decode())
    subscriber = subs.load_token(purpose, token)
    return subs.choose(subscriber, all_components=True)


def slack_texts(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_channel_is_activated_by_a_message_posted_to_it_and_then_hears_incidents(
        channel: str, receiver: Any, make_component: Any, smtp: Any) -> None:
    api = make_component("API")
    followers.subscribe_endpoint(channel, receiver.url(f"/{channel}"))
    incidents.open_incident("Not yet", body="Before the channel is active.")
    notify.deliver()

    [confirmation] = receiver.requests
    message = confirmation.json()
    if channel == "slack":
        valid_slack(message)
        assert "Activate" in slack_texts(message)
    else:
        card = valid_teams(message)
        assert card["actions"][0]["title"] == "Activate"
    subscriber = activate(confirmation.body)
    assert subscriber.confirmed and subscriber.channel == channel

    incidents.open_incident("Elevated API errors", components={api.id: "major_outage"},
                            body="Requests **fail**.")
    notify.deliver()
    [_, posted] = receiver.requests
    assert posted.headers["content-type"].startswith("application/json")
    message = posted.json()
    text = slack_texts(message)
    for expected in ("Elevated API errors", "Investigating", "Impact: Critical", "Requests fail.",
                     "Affected components", "API", "Major Outage", "View the incident",
                     "http://status.test/incidents/2", "/subscriptions/unsubscribe/"):
        assert expected in text, expected
    if channel == "slack":
        valid_slack(message)
        assert message["attachments"][0]["color"] == chat.SLACK_COLOURS["critical"]
        blocks = message["attachments"][0]["blocks"]
        assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                                                        "text": "Elevated API errors"}}
    else:
        card = valid_teams(message)
        assert card["version"] == "1.4" and card["body"][0]["style"] == "attention"
        assert card["body"][3] == {"type": "FactSet", "spacing": "Small",
                                   "facts": [{"title": "API", "value": "Major Outage"}]}
    assert smtp.messages == []


def test_a_resolved_incident_turns_the_colour_bar_green(db: Any, make_component: Any) -> None:
    api = make_component("API")
    incident = incidents.open_incident("Slow API", components={api.id: "degraded_performance"},
                                       body="Slow.")
    update = incidents.resolve_incident(incident, body="Fixed.")
    notice_id = notify_notice(update.id)
    page = get_page_settings()
    slack = valid_slack(chat.slack_message(DeliveryKind.INCIDENT_UPDATE, notice_id, page))
    assert slack["attachments"][0]["color"] == chat.SLACK_COLOURS["resolved"]
    card = valid_teams(chat.teams_message(DeliveryKind.INCIDENT_UPDATE, notice_id, page))
    assert card["body"][0]["style"] == "good"


def notify_notice(update_id: int) -> int:
    """The notice that announces an update."""
    return _db.session.scalar(sa.select(Notice.id).where(Notice.update_id == update_id))


def test_long_text_and_many_components_stay_within_slacks_limits(
        db: Any, make_component: Any) -> None:
    many = {make_component(f"Service {n}").id: "partial_outage" for n in range(14)}
    incident = incidents.open_incident("X" * 200, components=many, body="word " * 2000)
    notice_id = notify_notice(incident.updates[0].id)
    message = valid_slack(chat.slack_message(DeliveryKind.INCIDENT_UPDATE, notice_id,
                                             get_page_settings()))
    valid_teams(chat.teams_message(DeliveryKind.INCIDENT_UPDATE, notice_id,
                                   get_page_settings()))
    assert len(message["attachments"][0]["blocks"][0]["text"]["text"]) <= 150


def test_the_schemas_refuse_what_the_services_refuse() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    with pytest.raises(jsonschema.ValidationError):
        SLACK.validate({"text": "t", "blocks": [header]})
    with pytest.raises(jsonschema.ValidationError):
        SLACK.validate({"text": "t", "blocks": [{"type": "section"}]})
    with pytest.raises(jsonschema.ValidationError):
        CARD.validate({"type": "AdaptiveCard", "version": "1.4",
                       "body": [{"type": "TextBlock", "text": "x", "colour": "good"}]})
    with pytest.raises(jsonschema.ValidationError):
        CARD.validate({"type": "AdaptiveCard", "version": "1.4",
                       "body": [{"type": "Container", "style": "danger", "items": []}]})


# --- in the subscriber's language -----------------------------------------------------------------

def valid(channel: str, message: dict[str, Any]) -> None:
    valid_slack(message) if channel == "slack" else valid_teams(message)


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_channel_added_from_a_polish_page_is_activated_and_told_in_polish(
        channel: str, actions: Any, receiver: Any, make_component: Any) -> None:
    update_page_settings(time_zone="Europe/Warsaw")
    api = make_component("API")
    added = actions.post("/subscribe/channel?lang=pl",
                         {"channel": channel, "endpoint": receiver.url(f"/{channel}")})
    assert added.status_code == 200
    notify.deliver()

    [confirmation] = receiver.requests
    valid(channel, confirmation.json())
    assert confirmation.headers["content-type"] == "application/json; charset=utf-8"
    assert ("Ktoś poprosił o powiadomienia o statusie Acme w tym kanale. Do czasu aktywacji "
            "subskrypcji nic więcej nie zostanie tu opublikowane.").encode() in confirmation.body
    assert b'"Aktywuj"' in confirmation.body
    assert b"Someone" not in confirmation.body and b"Activate" not in confirmation.body
    subscriber = activate(confirmation.body)
    assert subscriber.language == "pl"

    incidents.open_incident("Elevated API errors", components={api.id: "major_outage"},
                            body=None, now=datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    notify.deliver()
    [_, posted] = receiver.requests
    valid(channel, posted.json())
    for polish in ("Analizujemy", "Wpływ: Krytyczny", "Analizujemy ten problem.",
                   "Usługi, których dotyczy", "Poważna awaria", "Zobacz incydent",
                   "Zrezygnuj z subskrypcji w tym kanale", "1 grudnia 2026, 22:00 CET"):
        assert polish.encode() in posted.body, polish
    for english in (b"Investigating", b"Impact", b"Critical", b"Affected", b"Major Outage",
                    b"View the", b"Unsubscribe", b"investigating this issue", b"Dec"):
        assert english not in posted.body, english


def test_a_notice_is_rendered_once_per_language_however_many_channels_hear_it(
        db: Any, receiver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = chat.SlackRenderer.build

    def counted(kind: DeliveryKind, notice_id: int | None, page: Any, language: str) -> Any:
        built.append(language)
        return real(kind, notice_id, page, language)

    monkeypatch.setattr(chat.SlackRenderer, "build", staticmethod(counted))
    for n, language in enumerate(["pl", "en", "pl", "pl"]):
        followers.add_endpoint("slack", receiver.url(f"/{n}"), confirmed=True,
                               language=language)
    incidents.open_incident("Slow API", body="Requests take seconds.")
    notify.deliver()

    assert sorted(built) == ["en", "pl"]
    bodies = {r.path: r.body for r in receiver.requests}
    assert len(bodies) == 4
    for path in ("/0", "/2", "/3"):
        assert "*Analizujemy* · Wpływ: Brak".encode() in bodies[path], path
    assert b"*Investigating* \xc2\xb7 Impact: None" in bodies["/1"]
    assert b"Requests take seconds." in bodies["/1"] and b"Requests take seconds." in bodies["/0"]
    # The same rendering, each with its own unsubscribe link.
    assert len({re.search(rb"/subscriptions/unsubscribe/([^|>\"]+)", b).group(1)
                for b in bodies.values()}) == 4


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_maintenance_and_its_reminder_are_told_in_polish(
        channel: str, receiver: Any, make_component: Any, make_maintenance: Any) -> None:
    update_page_settings(time_zone="Europe/Warsaw")
    archive = make_component("Archive")
    followers.add_endpoint(channel, receiver.url(), confirmed=True, language="pl")
    start = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    make_maintenance("Database upgrade", scheduled_for=start, component_ids=[archive.id],
                     now=start - timedelta(days=2))
    notify.deliver(now=start - timedelta(days=2))
    assert maintenance.enqueue_reminders(now=start - timedelta(minutes=30)) == 1
    notify.deliver(now=start - timedelta(minutes=30))

    [scheduled, reminder] = receiver.requests
    for message in (scheduled, reminder):
        valid(channel, message.json())
        for polish in ("Database upgrade", "Wpływ: Prace serwisowe", "Usługi objęte pracami",
                       "Archive", "Działa", "Zobacz prace serwisowe"):
            assert polish.encode() in message.body, polish
        for english in (b"Impact", b"Maintenance", b"Operational", b"View the"):
            assert english not in message.body, english
    assert b"Zaplanowano" in scheduled.body
    assert b"W tym czasie przeprowadzimy zaplanowane prace serwisowe." in scheduled.body
    assert b"Scheduled" not in scheduled.body and b"undergoing" not in scheduled.body
    assert b"Przypomnienie" in reminder.body
    assert ("Zaplanowane prace serwisowe rozpoczną się 3 grudnia 2026, 23:00 CET."
            .encode() in reminder.body)
    assert b"Reminder" not in reminder.body
