"""Following one incident by email from its page: the visitor's step records a request, the
same for any address, and a worker turns it into the follower and its emailed link."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import followers, incidents, scheduler, signup
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Channel, Delivery
from tests.conftest import Actions
from tests.smtp import body_of

ADDRESS = "follower@example.com"


@pytest.fixture
def incident(make_incident: Any) -> Any:
    return make_incident("Checkout errors")


def follow(actions: Actions, incident: Any, address: str = ADDRESS, query: str = "") -> Any:
    """The incident page's follow form, posted by email."""
    return actions.post(f"/incidents/{incident.id}/subscribe{query}", {"email": address})


def follows_of(address: str) -> list[subs.Subscriber]:
    """The address's follows of single incidents, as committed."""
    _db.session.rollback()
    return list(_db.session.scalars(sa.select(subs.Subscriber).where(
        subs.Subscriber.email == address, subs.Subscriber.incident_id.is_not(None))
        .order_by(subs.Subscriber.id)))


def requests() -> int:
    _db.session.rollback()
    return _db.session.scalar(sa.select(sa.func.count()).select_from(signup.SubscriptionRequest))


def links_to(smtp: Any, address: str) -> list[str]:
    """The subscriber links (confirm or manage) emailed to ``address`` once a worker ran."""
    scheduler.take_subscription_requests()
    notify.deliver()
    return [re.search(r"/subscriptions/(?:confirm|manage)/\S+", body_of(m)).group(0)
            for m in smtp.to(address)]


@pytest.fixture
def known(incident: Any) -> subs.Subscriber:
    """A confirmed follower of the incident, its last link long ago."""
    follower = followers.follow_by_email(incident.id, ADDRESS, confirmed=True)
    follower.link_sent_at = utcnow() - timedelta(days=3)
    _db.session.commit()
    return follower


def test_the_follow_form_does_the_same_work_and_answers_the_same_for_a_known_address(
        actions: Actions, db: Any, incident: Any, known: subs.Subscriber) -> None:
    def posted(address: str) -> tuple[list[str], bytes]:
        actions.client.get(f"/incidents/{incident.id}/subscribe")  # warm, as a visitor would
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = follow(actions, incident, address)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        assert response.status_code == 200
        return seen, response.data.replace(address.encode(), b"X")

    known_work, known_page = posted(ADDRESS)
    new_work, new_page = posted("stranger@example.com")

    assert known_work == new_work
    assert [s.split("(")[0].strip() for s in new_work if s.startswith("INSERT")] == [
        "INSERT INTO subscription_request"]
    assert not any(re.search(r"\bFROM subscriber\b", s) for s in new_work)
    assert known_page == new_page and b"Almost done" in new_page
    assert requests() == 2 and [f.id for f in follows_of(ADDRESS)] == [known.id]


def test_a_new_address_gets_exactly_one_link_once_the_worker_has_run(
        actions: Actions, smtp: Any, incident: Any) -> None:
    follow(actions, incident, query="?lang=pl")
    follow(actions, incident)  # asked twice before the worker came to it

    assert follows_of(ADDRESS) == [] and requests() == 2
    assert smtp.to(ADDRESS) == []

    [link] = links_to(smtp, ADDRESS)

    [follower] = follows_of(ADDRESS)
    assert (follower.channel, follower.incident_id, follower.confirmed, follower.language) == (
        Channel.EMAIL, incident.id, False, "pl")
    assert link.startswith("/subscriptions/confirm/") and requests() == 0
    page = actions.client.get(link).get_data(as_text=True)
    assert "You will hear every update of this one incident" in page


def test_a_known_follower_gets_the_link_again_and_its_follow_is_unchanged(
        actions: Actions, smtp: Any, incident: Any, known: subs.Subscriber) -> None:
    notify.deliver()  # the incident's opening, which the follower hears
    smtp.clear()
    before = [(f.id, f.confirmed_at, f.language, f.token_version, f.ended_at)
              for f in follows_of(ADDRESS)]

    follow(actions, incident, query="?lang=pl")
    [link] = links_to(smtp, ADDRESS)
    follow(actions, incident)  # within the cooldown of the link just sent
    assert len(links_to(smtp, ADDRESS)) == 1

    assert link.startswith("/subscriptions/manage/")  # it is confirmed: the link to manage it
    assert [(f.id, f.confirmed_at, f.language, f.token_version, f.ended_at)
            for f in follows_of(ADDRESS)] == before
    assert requests() == 0


def test_a_follow_request_whose_incident_ended_before_the_worker_came_adds_nothing(
        actions: Actions, smtp: Any, incident: Any) -> None:
    follow(actions, incident)
    incidents.resolve_incident(incident, body="Fixed.")

    assert links_to(smtp, ADDRESS) == []
    assert follows_of(ADDRESS) == [] and requests() == 0


def test_following_an_incident_that_is_over_is_refused_and_records_nothing(
        actions: Actions, incident: Any) -> None:
    incidents.resolve_incident(incident, body="Fixed.")

    assert follow(actions, incident).status_code == 409
    assert requests() == 0


def test_follow_requests_and_followers_never_confirmed_are_purged(
        actions: Actions, incident: Any, smtp: Any) -> None:
    follow(actions, incident, "taken@example.com")
    signup.process_requests()  # an unconfirmed follower now, its link queued
    follow(actions, incident)  # never taken: no worker ran since
    later = utcnow() + subs.confirm_max_age() + timedelta(minutes=1)

    assert scheduler.purge_unconfirmed() == (0, 0)  # within the link's lifetime: kept
    assert subs.purge_unconfirmed(now=later) == 1
    assert signup.purge_requests(now=later) == 1

    assert requests() == 0 and follows_of(ADDRESS) == [] and follows_of("taken@example.com") == []
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
        Delivery.status == "queued")) == 0


def test_two_workers_racing_to_add_one_address_leave_one_follower(
        actions: Actions, incident: Any, smtp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    follow(actions, incident)
    real_existing = followers._existing

    def raced(*args: Any) -> Any:
        # Another worker adds the same follower between this one's lookup and its insert.
        monkeypatch.setattr(followers, "_existing", real_existing)
        with _db.engine.begin() as other:
            other.execute(sa.insert(subs.Subscriber.__table__).values(
                channel="email", email=ADDRESS, incident_id=incident.id, all_components=True,
                created_at=utcnow(), updated_at=utcnow(), public_id="racer0000000000a",
                language="en"))
        return None

    monkeypatch.setattr(followers, "_existing", raced)
    assert signup.process_requests() == 0  # the insert hits the index; the request waits
    assert requests() == 1
    assert signup.process_requests() == 1  # the next tick finds the other worker's follower
    assert [f.public_id for f in follows_of(ADDRESS)] == ["racer0000000000a"]
    with pytest.raises(sa.exc.IntegrityError):
        with _db.engine.begin() as other:
            other.execute(sa.insert(subs.Subscriber.__table__).values(
                channel="email", email=ADDRESS, incident_id=incident.id, all_components=True,
                created_at=utcnow(), updated_at=utcnow(), public_id="racer0000000000b",
                language="en"))
