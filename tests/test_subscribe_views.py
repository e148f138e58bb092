"""The subscriber's pages through the test client: subscribe, choose, manage, unsubscribe.

Every refused request is checked to change nothing: not the subscriber, not their choice, not
the mail queue.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import signup
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery, DeliveryKind, DeliveryStatus
from tests.conftest import form_errors

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every subscriber with their choice, and every queued email: what must not change."""
    _db.session.rollback()  # forget what this session has cached; read what is committed
    subscribers = [
        (s.email, s.confirmed_at, s.all_components, sorted(c.id for c in s.components),
         s.token_version)
        for s in _db.session.scalars(sa.select(subs.Subscriber).order_by(subs.Subscriber.id))]
    deliveries = [(d.kind, d.to_address, d.status)
                  for d in _db.session.scalars(sa.select(Delivery).order_by(Delivery.id))]
    return subscribers, deliveries


def queued(kind: DeliveryKind) -> list[str]:
    _db.session.rollback()
    return [d.to_address for d in _db.session.scalars(
        sa.select(Delivery).where(Delivery.kind == kind).order_by(Delivery.id))]


@pytest.fixture
def components(make_group: Any, make_component: Any) -> dict[str, Any]:
    """A group of two (API, Web portal) and one ungrouped component (SFTP)."""
    group = make_group("Platform")
    return {"group": group,
            "api": make_component("API", group_id=group.id),
            "web": make_component("Web portal", group_id=group.id),
            "sftp": make_component("SFTP")}


@pytest.fixture
def unconfirmed(db: Any) -> Any:
    subs.subscribe("reader@example.com")
    return subs.find_subscriber("reader@example.com")


@pytest.fixture
def confirmed(components: dict[str, Any]) -> Any:
    """A subscriber who chose SFTP only."""
    subs.subscribe("reader@example.com")
    return subs.choose(subs.find_subscriber("reader@example.com"), all_components=False,
                       component_ids=[components["sftp"].id])


def url(purpose: str, subscriber: Any) -> str:
    return f"/subscriptions/{purpose}/{subs.make_token(subscriber, purpose)}"


def checkbox(html: str, component_id: int) -> str:
    """The <input> of one component on a choice page."""
    return re.search(rf'<input type="checkbox" name="component_ids" value="{component_id}"'
                     r'[^>]*>', html).group(0)


# --- the seed's order: the address, the choice, Save, the emailed link -------------------------

def test_the_status_page_offers_every_way_to_follow_it(client: Any, db: Any) -> None:
    html = _html(client.get("/"))

    control = html[html.index('<details class="follow">'):html.index("</details>")]
    assert '<summary class="button">' in control and "Subscribe to updates" in control
    assert 'action="/subscribe"' in control and "Subscribe via email" in control
    for link in ("/history.atom", "/history.rss", "/maintenance.ics", "/api/v2/summary.json"):
        assert f'href="{link}"' in control
    form = _html(client.get("/subscribe"))
    assert 'name="email"' in form and "Subscribe via email" in form
    # The other ways to follow the page sit beside the email form.
    for link in ("/history.atom", "/history.rss", "/maintenance.ics", "/api/v2/summary.json"):
        assert f'href="{link}"' in form


def give_address(actions: Any, address: str) -> Any:
    """Step one: "Subscribe via email" with an address (no CSRF token: it changes nothing)."""
    return actions.client.post("/subscribe", data={"email": address})


def ticket_of(response: Any) -> str:
    return re.search(r'name="ticket" type="hidden" value="([^"]+)"', _html(response)).group(1)


def save_choice(actions: Any, address: str, **choice: Any) -> Any:
    """Steps one and two: the address, then the choice saved."""
    ticket = ticket_of(give_address(actions, address))
    return actions.post("/subscribe/components", {"ticket": ticket, "scope": "all",
                                                  "language": "en", **choice})


def test_subscribe_via_email_leads_straight_to_the_choice_and_writes_nothing(
        actions: Any, components: dict[str, Any]) -> None:
    before = state()

    response = give_address(actions, "  Reader@Example.COM ")

    html = _html(response)
    assert response.status_code == 200
    assert "Choose your updates" in html and "reader@example.com" in html
    assert re.search(r'name="scope" value="all" checked', html)
    assert f'name="group_ids" value="{components["group"].id}"' in html
    assert '<option selected value="en">English</option>' in html
    assert 'action="/subscribe/components"' in html
    assert state() == before


def test_saving_the_choice_answers_check_your_inbox_and_a_worker_emails_the_link(
        app: Any, actions: Any, components: dict[str, Any]) -> None:
    response = save_choice(actions, "reader@example.com", scope="some",
                           component_ids=[str(components["sftp"].id)], language="pl")

    assert response.status_code == 200 and "Check your inbox" in _html(response)
    assert state() == ([], [])  # recorded as a request only
    assert signup.process_requests() == 1
    subscriber = subs.find_subscriber("reader@example.com")
    assert not subscriber.confirmed and subscriber.language == "pl"
    assert queued(DeliveryKind.CONFIRM) == ["reader@example.com"]
    pending = signup.pending_request(subscriber)
    assert pending.chosen_ids == [components["sftp"].id] and not pending.all_components


def test_the_emailed_link_shows_the_choice_and_the_button_activates_exactly_it(
        actions: Any, components: dict[str, Any]) -> None:
    save_choice(actions, "reader@example.com", scope="some",
                group_ids=[str(components["group"].id)], language="pl")
    signup.process_requests()
    subscriber = subs.find_subscriber("reader@example.com")
    link = url("confirm", subscriber)
    before = state()

    shown = actions.client.get(link)

    html = _html(shown)
    assert shown.status_code == 200 and "Confirm subscription" in html
    assert "<li>API</li>" in html and "<li>Web portal</li>" in html and "SFTP" not in html
    assert state() == before  # looking is not confirming
    # A page behind a signed link: never kept, never a Referer, nothing inline.
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in shown.headers["Cache-Control"]
    assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", html)
    request_id = re.search(r'name="request_id" type="hidden" value="(\d+)"', html).group(1)

    response = actions.post(link, {"request_id": request_id})

    assert response.status_code == 302
    assert response.location.startswith("/subscriptions/manage/")
    subscriber = subs.find_subscriber("reader@example.com")
    assert subscriber.confirmed and subscriber.language == "pl"
    assert sorted(c.name for c in subscriber.components) == ["API", "Web portal"]
    assert signup.pending_request(subscriber) is None
    # The link followed again changes nothing and leads to the subscription as it is.
    again = actions.client.get(link)
    assert again.status_code == 302 and again.location.startswith("/subscriptions/manage/")


def test_a_known_address_sees_the_same_pages_after_the_same_work(
        actions: Any, db: Any, confirmed: Any, components: dict[str, Any]) -> None:
    def statements(address: str) -> tuple[list[str], int]:
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        pages = [_html(give_address(actions, address))]
        ticket = ticket_of(give_address(actions, address))
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            saved = actions.post("/subscribe/components",
                                 {"ticket": ticket, "scope": "all", "language": "en"})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        pages.append(_html(saved))
        return [re.sub(r'value="[^"]{40,}"', "", page.replace(address, "X")) for page in pages], \
            len(seen)

    known, known_work = statements("reader@example.com")
    unknown, unknown_work = statements("stranger@example.com")

    assert known == unknown
    assert known_work == unknown_work
    assert "SFTP" not in known[1] and "/subscriptions/" not in known[1]


def test_a_known_address_changes_nothing_until_the_link_is_followed(
        actions: Any, confirmed: Any, components: dict[str, Any]) -> None:
    confirmed.link_sent_at = utcnow() - subs.LINK_RESEND_COOLDOWN * 2
    _db.session.commit()
    save_choice(actions, "reader@example.com", scope="some",
                component_ids=[str(components["api"].id)])
    signup.process_requests()

    subscriber = subs.find_subscriber("reader@example.com")
    assert [c.name for c in subscriber.components] == ["SFTP"]  # as before
    assert queued(DeliveryKind.CONFIRM)[-1] == "reader@example.com"
    request_id = signup.pending_request(subscriber).id

    actions.post(url("confirm", subscriber), {"request_id": str(request_id)})

    assert [c.name for c in subs.find_subscriber("reader@example.com").components] == ["API"]


def test_a_newer_choice_replaces_the_pending_one_and_the_older_button_is_refused(
        actions: Any, components: dict[str, Any]) -> None:
    save_choice(actions, "reader@example.com", scope="some",
                component_ids=[str(components["api"].id)])
    signup.process_requests()
    subscriber = subs.find_subscriber("reader@example.com")
    first = signup.pending_request(subscriber).id
    save_choice(actions, "reader@example.com", scope="some",
                component_ids=[str(components["sftp"].id)])
    signup.process_requests()
    before = state()

    response = actions.post(url("confirm", subscriber), {"request_id": str(first)})

    assert response.status_code == 409
    assert "replaced by a newer one" in _html(response) and "<li>SFTP</li>" in _html(response)
    assert state() == before
    assert len(queued(DeliveryKind.CONFIRM)) == 1  # the second came within the cooldown


def test_a_tampered_or_stale_ticket_asks_for_the_address_again(actions: Any, db: Any) -> None:
    ticket = ticket_of(give_address(actions, "reader@example.com"))

    response = actions.post("/subscribe/components", {"ticket": ticket[:-3] + "xyz",
                                                      "scope": "all", "language": "en"})

    assert response.status_code == 422
    assert form_errors(_html(response)) == ["Enter your address again."]
    assert state() == ([], []) and signup.process_requests() == 0


@pytest.mark.parametrize(("choice", "message"), [
    ({"scope": "some"}, "Choose at least one component, or all components."),
    ({"scope": "some", "component_ids": ["999"]}, "Unknown component '999'."),
    ({"scope": "all", "language": "de"}, "Not a valid choice."),
])
def test_a_bad_new_choice_is_refused_and_records_nothing(actions: Any,
                                                          components: dict[str, Any],
                                                          choice: dict[str, Any],
                                                          message: str) -> None:
    response = save_choice(actions, "reader@example.com", **choice)

    assert response.status_code == 422
    assert message in [unescape(e) for e in form_errors(_html(response))]
    assert signup.process_requests() == 0


@pytest.mark.parametrize("address", [
    "", "not-an-address", "a@b", "reader@example.com\r\nBcc: victim@example.com",
    "x" * 250 + "@example.com", "<script>@example.com",
])
def test_an_invalid_address_is_refused_with_a_clear_message(actions: Any, db: Any,
                                                            address: str) -> None:
    before = state()

    response = actions.post("/subscribe", {"email": address})

    assert response.status_code == 422
    assert form_errors(_html(response)) == ["Enter a valid email address."]
    assert "<script>@" not in _html(response)
    assert state() == before


# --- the confirmation link and the choice -------------------------------------------------------

def test_the_confirm_link_shows_the_tree_with_all_components_preselected(
        client: Any, components: dict[str, Any], unconfirmed: Any) -> None:
    response = client.get(url("confirm", unconfirmed))

    html = _html(response)
    assert response.status_code == 200
    assert "reader@example.com" in html
    assert re.search(r'name="scope" value="all" checked', html)
    group = components["group"]
    assert f'name="group_ids" value="{group.id}"' in html
    for name in ("api", "web"):
        assert (f'name="component_ids" value="{components[name].id}" '
                f'data-member-of="{group.id}"') in html
    assert f'name="component_ids" value="{components["sftp"].id}">' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert not subs.find_subscriber("reader@example.com").confirmed  # looking is not confirming


def test_component_names_are_escaped_on_the_choice_page(client: Any, make_group: Any,
                                                        make_component: Any,
                                                        unconfirmed: Any) -> None:
    group = make_group(SCRIPT)
    make_component(SCRIPT, group_id=group.id)

    html = _html(client.get(url("confirm", unconfirmed)))

    assert SCRIPT not in html
    assert html.count(ESCAPED_SCRIPT) == 2


def test_saving_a_ticked_group_confirms_with_its_members(actions: Any,
                                                         components: dict[str, Any],
                                                         unconfirmed: Any) -> None:
    response = actions.post(url("confirm", unconfirmed), {
        "scope": "some", "group_ids": [str(components["group"].id)],
        "component_ids": [str(components["sftp"].id)]})

    assert response.status_code == 302
    assert response.location.startswith("/subscriptions/manage/")
    subscriber = subs.find_subscriber("reader@example.com")
    assert subscriber.confirmed and not subscriber.all_components
    assert {c.name for c in subscriber.components} == {"API", "Web portal", "SFTP"}
    page = _html(actions.client.get(response.location))
    assert "Your subscription is confirmed." in page
    summary = re.search(r"receives updates about\s+(.*?)\.\s", page).group(1)
    assert sorted(summary.split(", ")) == ["API", "SFTP", "Web portal"]


def test_saving_all_components_confirms_to_everything(actions: Any, components: dict[str, Any],
                                                      unconfirmed: Any) -> None:
    response = actions.post(url("confirm", unconfirmed), {
        "scope": "all", "component_ids": [str(components["api"].id)]})

    assert response.status_code == 302
    subscriber = subs.find_subscriber("reader@example.com")
    assert subscriber.confirmed and subscriber.all_components and subscriber.components == []


@pytest.mark.parametrize(("choice", "message"), [
    ({"scope": "some"}, "Choose at least one component, or all components."),
    ({"scope": "some", "component_ids": ["999"]}, "Unknown component '999'."),
    ({"scope": "some", "component_ids": ["api"]}, "Unknown component 'api'."),
    ({"scope": "some", "group_ids": ["999"]}, "Unknown component group '999'."),
    ({"scope": "everything"}, "Not a valid choice."),
    ({}, "Choose all components or some."),
])
def test_a_bad_choice_is_refused_and_changes_nothing(actions: Any, components: dict[str, Any],
                                                     unconfirmed: Any, choice: dict[str, Any],
                                                     message: str) -> None:
    link = url("confirm", unconfirmed)
    before = state()

    response = actions.post(link, choice)

    assert response.status_code == 422
    assert message in [unescape(e) for e in form_errors(_html(response))]
    assert state() == before


def test_an_unknown_component_among_known_ones_saves_none_of_them(
        actions: Any, components: dict[str, Any], confirmed: Any) -> None:
    before = state()

    response = actions.post(url("manage", confirmed), {
        "scope": "some", "component_ids": [str(components["api"].id), "999"]})

    assert response.status_code == 422
    assert state() == before


# --- the manage link -----------------------------------------------------------------------------

def test_the_manage_page_shows_the_choice_and_an_unsubscribe_link(
        client: Any, components: dict[str, Any], confirmed: Any) -> None:
    html = _html(client.get(url("manage", confirmed)))

    assert re.search(r"receives updates about\s+SFTP\.", html)
    assert re.search(r'name="scope" value="some" checked', html)
    assert "checked" in checkbox(html, components["sftp"].id)
    assert "checked" not in checkbox(html, components["api"].id)
    token = re.search(r'href="/subscriptions/unsubscribe/([^"]+)"', html).group(1)
    assert subs.load_token("unsubscribe", token).email == "reader@example.com"


def test_changing_the_choice_on_the_manage_page(actions: Any, components: dict[str, Any],
                                                confirmed: Any) -> None:
    response = actions.post(url("manage", confirmed), {
        "scope": "some", "component_ids": [str(components["api"].id)]})

    assert response.status_code == 302
    assert "Your choice is saved." in _html(actions.client.get(response.location))
    subscriber = subs.find_subscriber("reader@example.com")
    assert [c.name for c in subscriber.components] == ["API"]


# --- unsubscribing -------------------------------------------------------------------------------

def test_the_unsubscribe_link_asks_first_and_changes_nothing(client: Any,
                                                             confirmed: Any) -> None:
    before = state()

    response = client.get(url("unsubscribe", confirmed))

    html = _html(response)
    assert response.status_code == 200
    assert "reader@example.com" in html
    main = html[html.index("<main"):html.index("</main>")]
    assert main.count("<button") == 1 and 'method="post"' in main
    assert state() == before


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "One-Click"}],
                         ids=["the page's button", "one-click from a mail client"])
def test_posting_to_the_unsubscribe_link_unsubscribes_without_a_csrf_token(
        client: Any, confirmed: Any, body: dict[str, str]) -> None:
    subs.add_delivery(DeliveryKind.MANAGE, confirmed.email, subscriber_id=confirmed.id)
    _db.session.commit()
    link = url("unsubscribe", confirmed)

    response = client.post(link, data=body)

    assert response.status_code == 200
    assert "You are unsubscribed" in _html(response)
    assert subs.find_subscriber("reader@example.com") is None
    assert state()[1][-1] == (DeliveryKind.MANAGE, "reader@example.com",
                              DeliveryStatus.CANCELLED)
    again = client.post(link, data=body)
    assert again.status_code == 410


# --- links that do not work ----------------------------------------------------------------------

def _tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


@pytest.mark.parametrize("purpose", ["confirm", "manage", "unsubscribe"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("damage", ["tampered", "cut short", "another purpose", "revoked"])
def test_a_link_that_does_not_work_shows_a_clear_page_and_changes_nothing(
        actions: Any, components: dict[str, Any], confirmed: Any, purpose: str, method: str,
        damage: str) -> None:
    token = subs.make_token(confirmed, purpose)
    if damage == "tampered":
        token = _tampered(token)
    elif damage == "cut short":
        token = token[:25]
    elif damage == "another purpose":
        token = subs.make_token(confirmed, "manage" if purpose != "manage" else "unsubscribe")
    else:
        subs.revoke_links(confirmed)
    before = state()
    link = f"/subscriptions/{purpose}/{token}"
    choice = {"scope": "all"}

    if method == "GET":
        response = actions.client.get(link)
    else:
        response = actions.post(link, choice)

    html = _html(response)
    assert response.status_code == (410 if damage == "revoked" else 400)
    assert "Nothing was changed." in html
    expected = ("This link is no longer valid." if damage == "revoked"
                else "This link is not valid.")
    assert expected in html
    assert 'name="scope"' not in html and "reader@example.com" not in html
    assert '<a href="/subscribe">subscribe again</a>' in html
    assert state() == before


def test_an_expired_confirm_link_offers_a_fresh_one_and_changes_nothing(
        actions: Any, monkeypatch: pytest.MonkeyPatch, components: dict[str, Any],
        unconfirmed: Any) -> None:
    link = url("confirm", unconfirmed)
    eight_days_on = utcnow() + timedelta(days=8)
    monkeypatch.setattr(subs, "utcnow", lambda: eight_days_on)
    before = state()

    shown = actions.client.get(link)
    posted = actions.post(link, {"scope": "all"})

    assert shown.status_code == posted.status_code == 410
    html = _html(shown)
    assert "This confirmation link has expired." in html and "Nothing was changed." in html
    resend = re.search(r'<form method="post" action="([^"]+)">', html).group(1)
    assert resend == link + "/resend"
    assert state() == before

    response = actions.post(resend)

    assert response.status_code == 200 and "Check your inbox" in _html(response)
    assert queued(DeliveryKind.CONFIRM) == ["reader@example.com", "reader@example.com"]
    assert not subs.find_subscriber("reader@example.com").confirmed


def test_a_forged_link_asking_for_a_fresh_one_gets_the_same_answer_and_no_email(
        actions: Any, unconfirmed: Any) -> None:
    before = state()

    forged = _tampered(subs.make_token(unconfirmed, "confirm"))

    response = actions.post(f"/subscriptions/confirm/{forged}/resend")

    assert response.status_code == 200 and "Check your inbox" in _html(response)
    assert state() == before


# --- forms without their CSRF token --------------------------------------------------------------

@pytest.mark.parametrize("target", ["choose", "confirm", "manage", "resend"])
def test_a_form_posted_without_its_csrf_token_is_refused(client: Any, confirmed: Any,
                                                         target: str) -> None:
    subs.subscribe("waiting@example.com")
    unconfirmed = subs.find_subscriber("waiting@example.com")
    ticket = ticket_of(client.post("/subscribe", data={"email": "new@example.com"}))
    paths = {
        "choose": ("/subscribe/components", {"ticket": ticket, "scope": "all"}),
        "confirm": (url("confirm", unconfirmed), {"scope": "all"}),
        "manage": (url("manage", confirmed), {"scope": "all"}),
        "resend": (url("confirm", unconfirmed) + "/resend", {}),
    }
    path, data = paths[target]
    before = state()

    response = client.post(path, data=data)

    assert response.status_code == 400
    assert "CSRF" in _html(response)
    assert state() == before
