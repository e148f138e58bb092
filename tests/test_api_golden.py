"""Every v2 and v1 answer on the demo data, compared with answers recorded earlier.

The API is a contract with clients that nobody here controls, so reshaping the code behind it
must not change a byte of what they read. ``STEPS`` walks both APIs on the demo page: every
read, every spelling of the paths, the writes of each resource, and the errors. Each answer's
status, the headers clients act on and its body are compared with ``golden/api.json``.

Values that follow the wall clock (the demo is told at a fixed time in the past, the writes
happen now) and the random page id are replaced by placeholders before comparing. To record
the file again after a deliberate change of the API, run the test with
``STATUSPAGE_RECORD_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from statuspage import demo, staff
from statuspage.site import get_page_settings

GOLDEN = Path(__file__).parent / "golden" / "api.json"
RECORD = os.environ.get("STATUSPAGE_RECORD_GOLDEN") == "1"
# Far enough in the past that no time the demo writes can be mistaken for the wall clock.
DEMO_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
# Times this close to the wall clock were written by it (created now, purged in 7 days).
CLOCK_WINDOW = (timedelta(days=-1), timedelta(days=8))
HEADERS = ("Content-Type", "Cache-Control", "ETag", "Access-Control-Allow-Origin", "Vary",
           "WWW-Authenticate", "Retry-After", "Location")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")

# (name, method, path, body, key): ``{page}`` is the page id; key is "write", "read" or None.
# A body that is a dict is sent as JSON; one that is a list of pairs as form fields.
V2 = [(f"v2 {name}", "GET", f"/api/v2/{name}.json", None, None) for name in (
    "summary", "status", "components", "incidents", "incidents/unresolved",
    "scheduled-maintenances", "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active")]
V1_READS = [
    ("pages", "GET", "/api/v1/pages", None, "read"),
    ("pages via /v1 and .json", "GET", "/v1/pages.json", None, "read"),
    ("page", "GET", "/api/v1/pages/{page}", None, "read"),
    ("components", "GET", "/api/v1/pages/{page}/components", None, "read"),
    ("components via /v1", "GET", "/v1/pages/{page}/components.json", None, "read"),
    ("component", "GET", "/api/v1/pages/{page}/components/4", None, "read"),
    ("groups", "GET", "/api/v1/pages/{page}/component-groups", None, "read"),
    ("group by g-id", "GET", "/api/v1/pages/{page}/component-groups/g2", None, "read"),
    ("group by bare id", "GET", "/v1/pages/{page}/component-groups/3.json", None, "read"),
    ("incidents", "GET", "/api/v1/pages/{page}/incidents", None, "read"),
    ("incidents searched", "GET", "/api/v1/pages/{page}/incidents?q=api&limit=2", None,
     "read"),
    ("incidents paged", "GET", "/api/v1/pages/{page}/incidents?limit=2&page=2", None, "read"),
    ("incidents per_page", "GET", "/api/v1/pages/{page}/incidents?per_page=1", None, "read"),
    ("unresolved", "GET", "/api/v1/pages/{page}/incidents/unresolved", None, "read"),
    ("scheduled", "GET", "/api/v1/pages/{page}/incidents/scheduled", None, "read"),
    ("upcoming", "GET", "/api/v1/pages/{page}/incidents/upcoming.json", None, "read"),
    ("active maintenance", "GET", "/v1/pages/{page}/incidents/active_maintenance", None,
     "read"),
    ("incident", "GET", "/api/v1/pages/{page}/incidents/1", None, "read"),
    ("postmortem", "GET", "/api/v1/pages/{page}/incidents/1/postmortem", None, "read"),
    ("subscribers, none", "GET", "/api/v1/pages/{page}/subscribers", None, "read"),
]
V1_ERRORS = [
    ("no key", "GET", "/api/v1/pages/{page}/components", None, None),
    ("another page", "GET", "/api/v1/pages/nosuchpage/components", None, "read"),
    ("read key writes", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": "Nope"}}, "read"),
    ("unknown component", "GET", "/api/v1/pages/{page}/components/9999", None, "read"),
    ("component id out of range", "GET", "/api/v1/pages/{page}/components/99999999999",
     None, "read"),
    ("unknown group", "GET", "/api/v1/pages/{page}/component-groups/gx", None, "read"),
    ("unknown incident", "GET", "/api/v1/pages/{page}/incidents/9999", None, "read"),
    ("unknown update", "PATCH", "/api/v1/pages/{page}/incidents/1/incident_updates/9999",
     {"incident_update": {"body": "x"}}, "write"),
    ("unknown subscriber", "GET", "/api/v1/pages/{page}/subscribers/9999", None, "read"),
    ("unknown route", "GET", "/api/v1/pages/{page}/nothing-here", None, "read"),
    ("unresolved is not an incident id", "PATCH",
     "/api/v1/pages/{page}/incidents/unresolved", {}, "write"),
    ("method not allowed", "POST", "/api/v1/pages/{page}/incidents/1", {}, "write"),
    ("bad paging", "GET", "/api/v1/pages/{page}/incidents?limit=many", None, "read"),
    ("not json", "POST", "/api/v1/pages/{page}/components", "{not json", "write"),
    ("body not an object", "POST", "/api/v1/pages/{page}/components", [1, 2], "write"),
    ("resource not an object", "POST", "/api/v1/pages/{page}/components",
     {"component": "API"}, "write"),
    ("empty name", "POST", "/api/v1/pages/{page}/components", {"component": {"name": ""}},
     "write"),
    ("name not text", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": {"a": 1}}}, "write"),
    ("unknown component status", "PATCH", "/api/v1/pages/{page}/components/1",
     {"component": {"status": "on_fire"}}, "write"),
    ("unknown group for component", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": "X", "group_id": "g999"}}, "write"),
    ("bad start date", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": "X", "start_date": "soon"}}, "write"),
    ("bad flag", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": "X", "showcase": "perhaps"}}, "write"),
    ("unknown incident status", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "status": "panicking"}}, "write"),
    ("components not a map", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "components": ["1"]}}, "write"),
    ("unknown component in incident", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "components": {"999999": "major_outage"}}}, "write"),
    ("unknown component id list", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "component_ids": ["999999"]}}, "write"),
    ("bad impact", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "impact_override": "apocalyptic"}}, "write"),
    ("maintenance created in progress", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "status": "in_progress"}}, "write"),
    ("maintenance without a window", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "status": "scheduled"}}, "write"),
    ("maintenance with a naive time", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "status": "scheduled", "scheduled_for": "2027-01-01T10:00",
                   "scheduled_until": "2027-01-01T12:00:00Z"}}, "write"),
    ("maintenance ends before it starts", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "X", "status": "scheduled",
                   "scheduled_for": "2027-01-01T12:00:00Z",
                   "scheduled_until": "2027-01-01T10:00:00Z"}}, "write"),
    ("incident takes a maintenance status", "PATCH", "/api/v1/pages/{page}/incidents/1",
     {"incident": {"status": "in_progress"}}, "write"),
    ("rename and unknown component", "PATCH", "/api/v1/pages/{page}/incidents/5",
     {"incident": {"name": "Renamed", "components": {"999999": "major_outage"}}}, "write"),
    ("delete component of an open incident", "DELETE", "/api/v1/pages/{page}/components/4",
     None, "write"),
    ("bad subscriber address", "POST", "/api/v1/pages/{page}/subscribers",
     {"subscriber": {"email": "not an address"}}, "write"),
    ("bad time zone", "PATCH", "/api/v1/pages/{page}", {"page": {"time_zone": "Mars/Base"}},
     "write"),
    ("publish without a postmortem", "PUT",
     "/api/v1/pages/{page}/incidents/5/postmortem/publish", None, "write"),
]
V1_WRITES = [
    ("create component", "POST", "/api/v1/pages/{page}/components",
     {"component": {"name": "Status API", "description": "This API.", "group_id": "g1",
                    "showcase": False, "start_date": "2025-06-01"}}, "write"),
    ("change component status", "PATCH", "/api/v1/pages/{page}/components/14",
     {"component": {"status": "degraded_performance"}}, "write"),
    ("put component", "PUT", "/v1/pages/{page}/components/14.json",
     {"component": {"name": "Status API v2", "only_show_if_degraded": "true"}}, "write"),
    ("create group", "POST", "/api/v1/pages/{page}/component-groups",
     {"component_group": {"name": "Extras", "components": ["14", "13"]},
      "description": "Things beside."}, "write"),
    ("change group", "PATCH", "/api/v1/pages/{page}/component-groups/g4",
     {"component_group": {"name": "More extras", "components": ["14"]}}, "write"),
    ("open incident", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "Checkout errors", "status": "identified", "body": "Found it.",
                   "components": {"14": "major_outage"}, "component_ids": ["13"],
                   "deliver_notifications": False}}, "write"),
    ("open incident by form", "POST", "/api/v1/pages/{page}/incidents",
     [("incident[name]", "Slow search"), ("incident[status]", "investigating"),
      ("incident[components][12]", "partial_outage"), ("incident[impact_override]", "minor"),
      ("incident[deliver_notifications]", "0")], "write"),
    ("post update", "PATCH", "/api/v1/pages/{page}/incidents/8",
     {"incident": {"status": "monitoring", "body": "A fix is out.",
                   "components": {"14": "operational"}, "deliver_notifications": False}},
     "write"),
    ("rename incident", "PATCH", "/api/v1/pages/{page}/incidents/8",
     {"incident": {"name": "Checkout errors (EU)", "impact_override": "major"}}, "write"),
    ("rename and post", "PUT", "/api/v1/pages/{page}/incidents/9",
     {"incident": {"name": "Slow search (all)", "status": "resolved",
                   "deliver_notifications": False}}, "write"),
    ("edit update", "PATCH", "/api/v1/pages/{page}/incidents/8/incident_updates/25",
     {"incident_update": {"body": "A fix is out for everyone.",
                          "display_at": "2031-02-01T10:00:00+01:00",
                          "deliver_notifications": "false"}}, "write"),
    ("schedule maintenance", "POST", "/api/v1/pages/{page}/incidents",
     {"incident": {"name": "Router swap", "status": "scheduled",
                   "scheduled_for": "2030-03-01T02:00:00Z",
                   "scheduled_until": "2030-03-01T04:00:00+00:00",
                   "component_ids": ["13"], "scheduled_remind_prior": False,
                   "scheduled_auto_in_progress": True, "deliver_notifications": False}},
     "write"),
    ("move maintenance", "PATCH", "/api/v1/pages/{page}/incidents/10",
     {"incident": {"scheduled_for": "2030-03-02T02:00:00Z",
                   "scheduled_until": "2030-03-02T05:00:00Z",
                   "scheduled_auto_completed": False}}, "write"),
    ("start maintenance", "PATCH", "/api/v1/pages/{page}/incidents/10",
     {"incident": {"status": "in_progress", "deliver_notifications": False}}, "write"),
    ("complete maintenance", "PATCH", "/api/v1/pages/{page}/incidents/10",
     {"incident": {"status": "completed", "body": "Done.", "deliver_notifications": False}},
     "write"),
    ("save postmortem", "PUT", "/api/v1/pages/{page}/incidents/9/postmortem",
     {"postmortem": {"body_draft": "## Cause\n\nAn index was missing."}}, "write"),
    ("publish postmortem", "PUT", "/api/v1/pages/{page}/incidents/9/postmortem/publish", None,
     "write"),
    ("revert postmortem", "POST", "/api/v1/pages/{page}/incidents/9/postmortem/revert", None,
     "write"),
    ("add subscriber", "POST", "/api/v1/pages/{page}/subscribers",
     {"subscriber": {"email": "Kund@Example.com", "component_ids": ["1", "g2"]}}, "write"),
    ("add confirmed subscriber", "POST", "/api/v1/pages/{page}/subscribers",
     {"subscriber": {"email": "ops@example.org", "skip_confirmation_notification": True}},
     "write"),
    ("existing subscriber", "POST", "/api/v1/pages/{page}/subscribers",
     {"subscriber": {"email": "kund@example.com"}}, "write"),
    ("subscribers", "GET", "/api/v1/pages/{page}/subscribers", None, "read"),
    ("subscribers searched", "GET", "/api/v1/pages/{page}/subscribers?q=kund", None, "read"),
    ("subscriber", "GET", "/api/v1/pages/{page}/subscribers/1", None, "read"),
    ("resend confirmation", "POST", "/api/v1/pages/{page}/subscribers/1/resend_confirmation",
     None, "write"),
    ("remove subscriber", "DELETE", "/api/v1/pages/{page}/subscribers/2", None, "write"),
    ("rename page", "PATCH", "/api/v1/pages/{page}",
     {"page": {"name": "Pagero Status", "support_url": "https://example.com/help"}}, "write"),
    ("delete incident", "DELETE", "/api/v1/pages/{page}/incidents/9", None, "write"),
    ("delete group", "DELETE", "/api/v1/pages/{page}/component-groups/g4", None, "write"),
    ("resolve incident", "PATCH", "/api/v1/pages/{page}/incidents/8",
     {"incident": {"status": "resolved", "deliver_notifications": False}}, "write"),
    ("delete component", "DELETE", "/api/v1/pages/{page}/components/13", None, "write"),
    ("v2 summary after the writes", "GET", "/api/v2/summary.json", None, None),
    ("v2 incidents after the writes", "GET", "/api/v2/incidents.json", None, None),
    ("v2 maintenances after the writes", "GET", "/api/v2/scheduled-maintenances.json", None,
     None),
]
STEPS = [*V2, *V1_READS, *V1_ERRORS, *V1_WRITES]


def _normalised(value: Any, page_code: str) -> Any:
    """``value`` with the page id and the times that follow the wall clock as placeholders."""
    if isinstance(value, dict):
        return {k: _normalised(v, page_code) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v, page_code) for v in value]
    if isinstance(value, str):
        value = value.replace(page_code, "<page>")
        now = datetime.now(UTC)

        def clock(match: re.Match[str]) -> str:
            stamp = datetime.fromisoformat(match[0].replace("Z", "+00:00"))
            near = now + CLOCK_WINDOW[0] <= stamp <= now + CLOCK_WINDOW[1]
            return "<clock>" if near else match[0]

        return _TIMESTAMP.sub(clock, value)
    return value


def _answer(response: Any, page_code: str) -> dict[str, Any]:
    body: Any = response.get_data(as_text=True)
    if response.mimetype == "application/json" and body:
        body = json.loads(body)
    headers = {name: response.headers[name] for name in HEADERS if name in response.headers}
    return _normalised({"status": response.status_code, "headers": headers, "body": body},
                       page_code)


def _send(client: Any, step: tuple[Any, ...], page_code: str, keys: dict[str, str]) -> Any:
    _name, method, path, body, key = step
    headers = {"Authorization": f"OAuth {keys[key]}"} if key else {}
    kwargs: dict[str, Any] = {}
    if isinstance(body, list) and body and isinstance(body[0], tuple):
        kwargs["data"] = MultiDict(body)
    elif isinstance(body, str):
        kwargs["data"] = body
        kwargs["content_type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    return client.open(path.format(page=page_code), method=method, headers=headers, **kwargs)


@pytest.fixture
def demo_page(db: Any) -> dict[str, str]:
    demo.load(login_password="demo password 1", now=DEMO_NOW)
    return {"page": get_page_settings().page_code,
            "write": staff.create_api_key("golden writer", scope="write", subscribers=True,
                                          actor="test")[1],
            "read": staff.create_api_key("golden reader", scope="read", actor="test")[1]}


def test_every_api_answer_on_the_demo_page_is_as_recorded(client: Any, demo_page: dict[str, str]
                                                          ) -> None:
    page_code = demo_page["page"]
    answers: dict[str, Any] = {}
    for step in STEPS:
        answers[step[0]] = _answer(_send(client, step, page_code, demo_page), page_code)
        if step[0].startswith("v2 ") and "ETag" in answers[step[0]]["headers"]:
            again = client.get(step[2], headers={
                "If-None-Match": client.get(step[2]).headers["ETag"]})
            answers[step[0] + " revalidated"] = _answer(again, page_code)
    if RECORD:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n")
        pytest.skip(f"recorded {len(answers)} answers in {GOLDEN}")
    recorded = json.loads(GOLDEN.read_text())
    assert list(answers) == list(recorded)
    for name, answer in answers.items():
        assert answer == recorded[name], name
