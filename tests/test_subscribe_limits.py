"""The subscribe forms cannot be used to mail strangers: limits per client, in total and per
address, a cooldown for ops' resends too, and a proof of work the visitor's browser solves.

The limits and the proof of work guard the step that asks for an email (Save on the choice
page, ``/subscribe/components``); the address step before it writes nothing. The forms that
subscribe a webhook, Slack or Teams channel, or follow one incident, ask for the same proof."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import config, signup
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery
from statuspage.views.public_forms import NOT_SOLVED
from tests.conftest import Actions, form_errors


def queued() -> list[str]:
    """The emails queued once a worker took the saved choices."""
    _db.session.rollback()
    signup.process_requests()
    return list(_db.session.scalars(sa.select(Delivery.to_address).order_by(Delivery.id)))


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def choice_page(actions: Actions, address: str) -> str:
    """"Subscribe via email" with an address: the choice page, carrying the address's ticket."""
    return html(actions.client.post("/subscribe", data={"email": address}))


def save_choice(actions: Actions, address: str, page: str | None = None, **extra: str) -> Any:
    """The choice saved for ``address`` (all components, in English)."""
    page = page or choice_page(actions, address)
    ticket = unescape(re.search(r'name="ticket" type="hidden" value="([^"]+)"', page).group(1))
    return actions.post("/subscribe/components", {"ticket": ticket, "scope": "all",
                                                  "language": "en", **extra})


# --- per client, in total -----------------------------------------------------------------------

def test_one_client_cannot_mail_a_crowd_of_strangers(actions: Actions, db: Any) -> None:
    answers = [save_choice(actions, f"stranger{n}@example.com").status_code for n in range(12)]

    assert answers == [200] * 10 + [429] * 2
    assert len(queued()) == 10


def test_the_limit_page_says_how_long_to_wait(actions: Actions, db: Any) -> None:
    for n in range(10):
        save_choice(actions, f"stranger{n}@example.com")
    response = save_choice(actions, "one-more@example.com")
    assert response.status_code == 429 and 60 < int(response.headers["Retry-After"]) <= 3600
    assert "Too many subscription requests" in html(response)
    assert "Wait about" in html(response)


def test_subscriptions_in_total_are_capped_per_hour(app: Any, db: Any) -> None:
    app.config["SUBSCRIBE_PER_HOUR"] = 3
    answers = []
    for n in range(4):
        client = Actions(app, app.test_client())
        client.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        answers.append(save_choice(client, f"p{n}@example.com").status_code)
    assert answers == [200, 200, 200, 429]


# --- per address: a growing cooldown ------------------------------------------------------------

def test_one_address_gets_its_links_ever_further_apart(db: Any) -> None:
    start = utcnow()
    # Someone asks for a link for the same address every minute for two hours, then every
    # half hour for three days.
    for minute in [*range(120), *range(120, 3 * 24 * 60, 30)]:
        subs.subscribe("victim@example.com", now=start + timedelta(minutes=minute))
    sent = list(_db.session.scalars(sa.select(Delivery.created_at).order_by(Delivery.id)))

    first_day = [t for t in sent if t < start + timedelta(days=1)]
    later_days = [t for t in sent if t >= start + timedelta(days=1)]
    assert len(first_day) <= 11  # it was 720 a day: one every two minutes, forever
    assert len(later_days) <= 3
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[0] == subs.LINK_RESEND_COOLDOWN


def test_confirming_starts_the_cooldown_afresh(db: Any) -> None:
    now = utcnow()
    for minute in (0, 2, 6, 14):
        subs.subscribe("reader@example.com", now=now + timedelta(minutes=minute))
    subscriber = subs.find_subscriber("reader@example.com")
    subs.choose(subscriber, all_components=True, now=now + timedelta(minutes=20))
    subs.subscribe("reader@example.com", now=now + timedelta(minutes=23))
    assert queued()[-1] == "reader@example.com"
    assert len(queued()) == 5


# --- ops' resends obey the cooldown -------------------------------------------------------------

@pytest.fixture
def api(client: Any, db: Any) -> Any:
    from statuspage.site import update_page_settings
    from statuspage.staff import create_api_key

    _key, token = create_api_key("ops", scope="write", subscribers=True)
    root = f"/api/v1/pages/{update_page_settings(name='Acme').page_code}"
    return lambda method, path, **kw: client.open(
        root + path, method=method, headers={"Authorization": f"OAuth {token}"}, **kw)


def test_api_resends_obey_the_cooldown(api: Any) -> None:
    created = api("POST", "/subscribers", json={"subscriber": {"email": "new@example.com"}})
    subscriber_id = created.get_json()["id"]

    answers = [api("POST", f"/subscribers/{subscriber_id}/resend_confirmation")
               for _ in range(16)]

    assert {a.status_code for a in answers} == {429}
    assert answers[0].get_json()["error"] == "Too Many Requests"
    assert 1 <= int(answers[0].headers["Retry-After"]) <= 120
    assert queued() == ["new@example.com"]  # 16 calls, still one email


def test_console_resends_obey_the_cooldown(logged_in: Actions) -> None:
    subs.subscribe("slow-reader@example.com")
    person = subs.find_subscriber("slow-reader@example.com")

    response = logged_in.post(f"/admin/subscribers/{person.id}/resend", follow_redirects=True)

    assert ("A link was sent to slow-reader@example.com recently; another can be sent in "
            "about 2 minutes.") in html(response)
    assert queued() == ["slow-reader@example.com"]


# --- the proof of work --------------------------------------------------------------------------

def solve(page: str) -> str:
    """What the page's script sends: the number whose SHA-256 with the salt is the challenge."""
    form = re.search(r"<form[^>]*data-challenge[^>]*>", page).group(0)
    fields = {k: unescape(v) for k, v in re.findall(r'data-challenge-(\w+)="([^"]*)"', form)}
    for number in range(int(fields["maxnumber"]) + 1):
        digest = hashlib.sha256(f"{fields['salt']}{number}".encode()).hexdigest()
        if digest == fields["challenge"]:
            break
    else:
        raise AssertionError("no solution")
    payload = {"algorithm": fields["algorithm"], "challenge": fields["challenge"],
               "number": number, "salt": fields["salt"], "signature": fields["signature"]}
    return base64.b64encode(json.dumps(payload).encode()).decode()


@pytest.fixture
def challenged(app: Any, actions: Actions, db: Any) -> Actions:
    app.config["SUBSCRIBE_CHALLENGE"] = True
    return actions


def test_the_address_step_writes_nothing_and_asks_no_proof(challenged: Actions) -> None:
    # It sits on the cached status page for everyone; the choice page carries the puzzle.
    page = choice_page(challenged, "reader@example.com")
    assert "data-challenge" in page and 'name="altcha"' in page
    assert "data-challenge" not in html(challenged.client.get("/subscribe"))
    assert queued() == []


def test_the_challenge_is_on_by_default() -> None:
    assert config.from_env({})["SUBSCRIBE_CHALLENGE"] is True


def test_the_form_is_sent_with_a_solved_challenge(challenged: Actions) -> None:
    page = choice_page(challenged, "reader@example.com")
    assert '<script src="/static/challenge.js" defer></script>' in page

    response = save_choice(challenged, "reader@example.com", page, altcha=solve(page))

    assert response.status_code == 200 and "Check your inbox" in html(response)
    assert queued() == ["reader@example.com"]


@pytest.mark.parametrize("spoil", ["missing", "garbage", "wrong number", "other signature"])
def test_a_missing_or_wrong_solution_sends_nothing(challenged: Actions, spoil: str) -> None:
    page = choice_page(challenged, "reader@example.com")
    payload = solve(page)
    data = json.loads(base64.b64decode(payload))
    if spoil == "wrong number":
        data["number"] += 1
    if spoil == "other signature":
        data["signature"] = "0" * 64
    sent = {"missing": "", "garbage": "bm90IGpzb24="}.get(
        spoil, base64.b64encode(json.dumps(data).encode()).decode())

    response = save_choice(challenged, "reader@example.com", page, altcha=sent)

    assert response.status_code == 422
    assert "could not check that a person sent this form" in html(response)
    # The choice page again, for the same address: typed once is enough.
    assert "reader@example.com" in html(response) and 'name="ticket"' in html(response)
    assert queued() == []


def test_a_solution_is_good_for_one_subscription_only(challenged: Actions) -> None:
    solution = solve(choice_page(challenged, "a@example.com"))
    first = save_choice(challenged, "a@example.com", altcha=solution)
    again = save_choice(challenged, "b@example.com", altcha=solution)
    assert (first.status_code, again.status_code) == (200, 422)
    assert queued() == ["a@example.com"]


def test_an_old_solution_is_refused(challenged: Actions) -> None:
    from statuspage import challenge

    solution = solve(choice_page(challenged, "reader@example.com"))
    assert not challenge.verify(solution, now=utcnow() + challenge.EXPIRES + timedelta(seconds=5))
    assert challenge.verify(solution, now=utcnow())


# --- the same proof of work on every form that subscribes ---------------------------------------

# Each makes the site email an address, or post to a URL, that the visitor names: the form's
# page, what it is sent ("/..." endpoints on the test's receiver), where the confirmation goes.
SUBSCRIBING_FORMS = {
    "webhook": ("/subscribe/channel",
                {"channel": "webhook", "endpoint": "/hook", "email": "oncall@example.com"},
                "oncall@example.com"),
    "slack": ("/subscribe/channel", {"channel": "slack", "endpoint": "/slack"}, "/slack"),
    "teams": ("/subscribe/channel", {"channel": "teams", "endpoint": "/teams"}, "/teams"),
    "follow by email": ("/incidents/{incident}/subscribe", {"email": "follower@example.com"},
                        "follower@example.com"),
    "follow by webhook": ("/incidents/{incident}/subscribe",
                          {"email": "oncall@example.com", "endpoint": "/hook"},
                          "oncall@example.com"),
}


@dataclass
class SubscribingForm:
    """One of SUBSCRIBING_FORMS on a page with an open incident, and what came of it."""

    actions: Actions
    receiver: Any
    smtp: Any
    url: str
    fields: dict[str, str]
    confirmation_to: str

    def page(self) -> str:
        """The form's page, as the browser gets it."""
        response = self.actions.client.get(self.url)
        assert response.status_code == 200
        return html(response)

    def send(self, **extra: str) -> Any:
        """The form posted with its fields (and, say, a solution)."""
        return self.actions.post(self.url, {**self.fields, **extra})

    def stored(self) -> int:
        """The subscribers there are once a worker took what the form recorded."""
        _db.session.rollback()
        signup.process_requests()
        return _db.session.scalar(sa.select(sa.func.count()).select_from(subs.Subscriber))

    def sent(self) -> list[bytes]:
        """The bodies of every email and POST a worker sent since the form was posted."""
        signup.process_requests()
        notify.deliver()
        return [*(m.as_bytes() for m in self.smtp.messages),
                *(r.body for r in self.receiver.requests)]

    def confirmations(self) -> list[bytes]:
        """What reached the address or channel the form named."""
        signup.process_requests()
        notify.deliver()
        if self.confirmation_to.startswith("/"):
            return [r.body for r in self.receiver.requests if r.path == self.confirmation_to]
        return self.smtp.raw_to(self.confirmation_to)


@pytest.fixture(params=SUBSCRIBING_FORMS)
def subscribing_form(request: pytest.FixtureRequest, challenged: Actions, receiver: Any,
                     smtp: Any, make_incident: Any) -> SubscribingForm:
    path, fields, to = SUBSCRIBING_FORMS[request.param]
    incident = make_incident("Checkout errors")  # its notice reaches no one unconfirmed
    fields = {k: receiver.url(v) if k == "endpoint" else v for k, v in fields.items()}
    return SubscribingForm(challenged, receiver, smtp, path.format(incident=incident.id),
                           fields, to)


def test_a_subscribing_form_with_a_solution_sends_its_confirmation(
        subscribing_form: SubscribingForm) -> None:
    page = subscribing_form.page()
    assert re.search(r'<form [^>]*data-challenge-signature="[0-9a-f]{64}"[^>]* data-challenge>',
                     page)
    assert '<input type="hidden" name="altcha" value="">' in page
    assert '<script src="/static/challenge.js" defer></script>' in page

    response = subscribing_form.send(altcha=solve(page))

    assert response.status_code == 200 and b"Almost done" in response.data
    assert subscribing_form.stored() == 1
    [confirmation] = subscribing_form.confirmations()
    assert b"/subscriptions/confirm/" in confirmation


@pytest.mark.parametrize("spoil", ["missing", "spent"])  # the checks: the email form's tests
def test_a_subscribing_form_without_a_solution_stores_and_sends_nothing(
        subscribing_form: SubscribingForm, spoil: str) -> None:
    from statuspage import challenge

    solution = solve(subscribing_form.page())
    if spoil == "spent":  # on another form, a moment ago
        assert challenge.verify(solution)
    sent = {"missing": "", "spent": solution}[spoil]

    response = subscribing_form.send(altcha=sent)

    assert response.status_code == 422
    assert ("We could not check that a person sent this form. Wait until it says “Ready” "
            "below the button (JavaScript must be on), then send it again.") in form_errors(
                html(response))
    # The form again, as typed, with a fresh puzzle to solve.
    assert subscribing_form.fields["email" if "email" in subscribing_form.fields
                                   else "endpoint"] in html(response)
    assert solve(html(response)) != solution
    assert subscribing_form.stored() == 0
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    assert subscribing_form.sent() == []


def test_the_subscribing_forms_say_the_same_as_the_email_form_when_refused(
        challenged: Actions, make_incident: Any) -> None:
    email_form = save_choice(challenged, "reader@example.com", altcha="")
    channel_form = challenged.post("/subscribe/channel", {"channel": "slack",
                                                          "endpoint": "https://example.com/"})
    follow_form = challenged.post(f"/incidents/{make_incident().id}/subscribe",
                                  {"email": "reader@example.com"})
    refusals = {(r.status_code, str(NOT_SOLVED) in form_errors(html(r)))
                for r in (email_form, channel_form, follow_form)}
    assert refusals == {(422, True)}


def test_ops_adding_a_channel_are_asked_for_no_proof_of_work(challenged: Actions,
                                                            logged_in: Actions,
                                                            receiver: Any) -> None:
    page = html(logged_in.client.get("/admin/subscribers/endpoints/new"))
    assert "data-challenge" not in page and 'name="altcha"' not in page
    added = logged_in.post("/admin/subscribers/endpoints/new", {
        "channel": "slack", "endpoint": receiver.url("/slack"), "confirmed": "y"})
    assert added.status_code == 302
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(subs.Subscriber)) == 1


# --- the pages behind signed links, the management API without a key --------------------------

def test_pages_behind_signed_links_are_limited_per_client(client: Any, db: Any) -> None:
    subs.subscribe("reader@example.com")
    token = subs.make_token(subs.find_subscriber("reader@example.com"), "manage")
    answers = [client.get(f"/subscriptions/manage/{token}").status_code for _ in range(31)]
    assert answers == [200] * 30 + [429]
    assert client.get("/").status_code == 200  # the status page is not limited


def test_one_click_unsubscribe_is_never_limited(client: Any, db: Any) -> None:
    # Mail providers send every recipient's one-click unsubscribe from a few addresses.
    for n in range(40):
        subs.add_subscriber(f"reader{n}@example.com", confirmed=True)
    tokens = [subs.make_token(subs.find_subscriber(f"reader{n}@example.com"), "unsubscribe")
              for n in range(40)]
    answers = {client.post(f"/subscriptions/unsubscribe/{t}",
                           data={"List-Unsubscribe": "One-Click"}).status_code for t in tokens}
    assert answers == {200}


def test_management_api_requests_without_a_valid_key_are_limited_per_client(
        client: Any, db: Any) -> None:
    answers = [client.get("/api/v1/pages", headers={"Authorization": "OAuth sp_guess"})
               for _ in range(61)]
    assert [a.status_code for a in answers] == [401] * 60 + [429]
    assert answers[-1].is_json and int(answers[-1].headers["Retry-After"]) >= 1
