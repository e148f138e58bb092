"""Every route of the application, walked as every kind of caller: a decision per route.

``ACCESS`` names, for every endpoint in the URL map, who may use it. The walk requests every
rule with every method as an anonymous visitor, an editor and an admin (the public site and
the console) or without a key and with each scope of API key (the management API), and checks
each answer against the decision: refused callers get exactly the refusal (a redirect to sign
in, 403, 401), allowed callers never get a refusal or a server error. A route added without a
decision fails the walk, so nobody can forget to decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from statuspage import staff
from statuspage import subscriptions as subs
from statuspage.extensions import limiter
from statuspage.incident_templates import save_template
from statuspage.incidents import post_update
from statuspage.site import get_page_settings
from tests.conftest import Actions

PUBLIC, SIGN_IN, STAFF, ADMIN = "public", "sign-in", "staff", "admin"
API, API_SUBSCRIBERS = "api", "api-subscribers"  # read for GET, write for the other methods

CONSOLE_STAFF = """dashboard logout account start_two_factor confirm_two_factor
    new_recovery_codes disable_two_factor components new_component edit_component
    set_component_status move_component delete_component new_group edit_group move_group
    delete_group incidents new_incident incident post_incident_update resolve_incident
    edit_incident edit_update delete_incident save_postmortem publish_postmortem
    revert_postmortem maintenance_list new_maintenance maintenance edit_maintenance
    post_maintenance_update start_maintenance complete_maintenance cancel_maintenance reach
    retry_update_deliveries incident_templates new_incident_template edit_incident_template
    delete_incident_template preview_markdown preview_email"""
CONSOLE_ADMIN = """require_two_factor reset_two_factor settings staff_list create_user
    change_role change_active delete_user audit api_keys create_api_key revoke_api_key
    subscribers resend_confirmation clear_quarantine remove_subscriber export_subscribers
    import_subscribers failed_deliveries retry_all_deliveries mail mail_message
    mail_message_html new_endpoint"""
V1 = """pages get_page update_page components create_component get_component update_component
    delete_component groups create_group get_group update_group delete_group incidents
    unresolved_incidents scheduled_incidents upcoming_incidents active_maintenance
    create_incident get_incident update_incident delete_incident edit_update get_postmortem
    save_postmortem publish_postmortem revert_postmortem"""
V1_SUBSCRIBERS = """subscribers create_subscriber get_subscriber change_subscriber
    delete_subscriber resend_confirmation incident_subscribers create_incident_subscriber
    get_incident_subscriber delete_incident_subscriber
    resend_incident_subscriber_confirmation"""
OPEN = """public.index public.incident public.history public.history_rss public.history_atom
    public.component_rss public.component_atom public.theme public.subscribe
    public.choose_components public.switch_language embeds.favicon embeds.favicon_ico
    embeds.robots
    public.confirm_subscription public.resend_confirmation public.manage_subscription
    public.unsubscribe_page public.unsubscribe public.subscribe_channel public.follow_incident
    embeds.badge embeds.component_badge
    embeds.maintenance_calendar embeds.embed api.summary api.status api.components
    api.incidents api.unresolved_incidents api.scheduled_maintenances
    api.upcoming_maintenances api.active_maintenances api_docs.openapi_document
    api_docs.api_docs api_docs.api_docs_asset static"""

ACCESS: dict[str, str] = {
    **{endpoint: PUBLIC for endpoint in OPEN.split()},
    "admin.login": SIGN_IN, "admin.login_code": SIGN_IN,
    **{f"admin.{name}": STAFF for name in CONSOLE_STAFF.split()},
    **{f"admin.{name}": ADMIN for name in CONSOLE_ADMIN.split()},
    **{f"api_v1.{name}": API for name in V1.split()},
    **{f"api_v1.{name}": API_SUBSCRIBERS for name in V1_SUBSCRIBERS.split()},
}

REFUSALS = {401, 403, 429}
# Pages whose right answer is a redirect to sign in: signing out, and the code step without a
# password first.
LANDS_ON_SIGN_IN = {"admin.logout", "admin.login_code"}
KEYS = ("read", "write", "read+subscribers", "write+subscribers")


@dataclass
class World:
    app: Any
    values: dict[str, Any]
    people: dict[str, Actions]
    keys: dict[str, str]


@pytest.fixture
def world(app: Any, make_user: Any, make_group: Any, make_component: Any, make_incident: Any,
          make_maintenance: Any) -> World:
    make_user("admin@example.com", role="admin")
    make_user("editor@example.com", role="editor")
    victim = make_user("victim@example.com", role="editor")  # the one users' routes act on
    group = make_group("Platform")
    component = make_component("API", group_id=group.id)
    incident = make_incident("Errors", components={component.id: "partial_outage"})
    update = post_update(incident, status="identified", body="Found it.")
    maintenance = make_maintenance("Upgrade")
    subscriber = subs.add_subscriber("reader@example.com", confirmed=True)
    spare_key, _ = staff.create_api_key("spare")
    keys = {name: staff.create_api_key(name, scope=name.split("+")[0],
                                       subscribers="+" in name)[1] for name in KEYS}
    people = {"anonymous": Actions(app, app.test_client())}
    for role in ("editor", "admin"):
        people[role] = Actions(app, app.test_client())
        assert people[role].login(f"{role}@example.com").status_code == 302
    values = {
        "page_id": get_page_settings().page_code, "suffix": "", "component_id": component.id,
        "group_id": group.id, "component_group_id": f"g{group.id}",
        "incident_id": incident.id, "update_id": update.id, "incident_update_id": update.id,
        "maintenance": maintenance.id, "subscriber_id": subscriber.id, "user_id": victim.id,
        "key_id": spare_key.id, "message_id": "0-none", "colour": "2c7be5",
        "tokens": {p: subs.make_token(subscriber, p) for p in subs.TokenPurpose},
        "code": "pl", "template_id": save_template(
            name="Slow", title="Slow responses", status="investigating", body="",
            components={}).id,
    }
    return World(app, values, people, keys)


def rules(app: Any) -> Iterator[tuple[Any, str]]:
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def url_of(world: World, rule: Any) -> str:
    values = dict(world.values)
    if "maintenance" in rule.endpoint:
        values["incident_id"] = values["maintenance"]
    if rule.endpoint.startswith("public.") and "token" in rule.arguments:
        purpose = "confirm" if "confirm" in rule.endpoint else \
            "unsubscribe" if "unsubscribe" in rule.endpoint else "manage"
        values["token"] = values["tokens"][purpose]
    values["filename"] = "swagger-ui.css" if rule.endpoint.startswith("api_docs") else \
        "style.css"
    with world.app.test_request_context():
        return world.app.url_map.bind("localhost").build(
            rule.endpoint, {name: values[name] for name in rule.arguments}, method=None)


def denied_to_sign_in(response: Any) -> bool:
    return response.status_code == 302 and \
        response.headers["Location"].startswith("/admin/login")


def expected(access: str, who: str, method: str) -> int | None:
    """The refusal ``who`` must get, or None when they are let through."""
    if access in (PUBLIC, SIGN_IN):
        return None
    if access in (STAFF, ADMIN):
        if who == "anonymous":
            return 302
        return 403 if access == ADMIN and who == "editor" else None
    if who == "no key":
        return 401
    writes = method != "GET"
    if writes and not who.startswith("write"):
        return 403
    return 403 if access == API_SUBSCRIBERS and "subscribers" not in who else None


def ask(world: World, who: str, method: str, url: str) -> Any:
    if who in world.people:
        actions = world.people[who]
        if method == "GET":
            return actions.client.get(url)
        return actions.post(url) if method == "POST" else actions.client.open(
            url, method=method, data={"csrf_token": actions.csrf_token()})
    headers = {} if who == "no key" else {"Authorization": f"OAuth {world.keys[who]}"}
    return world.app.test_client().open(url, method=method, headers=headers, json={})


def test_every_route_has_an_access_decision(app: Any) -> None:
    undecided = sorted({rule.endpoint for rule, _ in rules(app)} - set(ACCESS))
    assert undecided == [], "decide who may use these, in ACCESS"
    assert sorted(set(ACCESS) - {rule.endpoint for rule, _ in rules(app)}) == []


def test_every_route_answers_every_caller_as_decided(world: World) -> None:
    wrong: list[str] = []
    # Signing out ends the admin's sessions: it goes last.
    walk = sorted(rules(world.app), key=lambda pair: pair[0].endpoint == "admin.logout")
    for rule, method in walk:
        access = ACCESS[rule.endpoint]
        callers = ["no key", *KEYS] if rule.endpoint.startswith("api_v1.") else \
            ["anonymous", "editor", "admin"]
        url = url_of(world, rule)
        for who in callers:
            limiter.reset()  # the walk is not a flood
            response = ask(world, who, method, url)
            response.close()  # files (static, Swagger UI's) are streamed
            refusal, status = expected(access, who, method), response.status_code
            if refusal == 302:
                ok = denied_to_sign_in(response)
            elif refusal is not None:
                ok = status == refusal
            else:
                ok = status < 500 and status not in REFUSALS and (
                    rule.endpoint in LANDS_ON_SIGN_IN or not denied_to_sign_in(response))
            if not ok:
                wrong.append(f"{method} {url} as {who}: {status} (expected "
                             f"{refusal or 'to be let through'})")
    assert not wrong, "\n".join(wrong)
