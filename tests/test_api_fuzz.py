"""schemathesis over the generated OpenAPI document: requests made up from the document for
every operation of both APIs, each answered without a server error and as the document says
(status code, content type, headers, body schema).

It takes minutes, so it runs when STATUSPAGE_SCHEMATHESIS=1 (``.ci/run`` runs it once);
STATUSPAGE_SCHEMATHESIS_EXAMPLES bounds the examples per operation (default 25).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from statuspage import staff
from statuspage import subscriptions as subs
from statuspage.site import get_page_settings
from statuspage.views.api import openapi

pytestmark = pytest.mark.skipif(os.environ.get("STATUSPAGE_SCHEMATHESIS") != "1",
                                reason="set STATUSPAGE_SCHEMATHESIS=1 (as .ci/run does)")
EXAMPLES = int(os.environ.get("STATUSPAGE_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture
def fuzzed(app: Any, db: Any, make_group: Any, make_component: Any, make_incident: Any,
           make_maintenance: Any) -> dict[str, str]:
    """A page with something of everything, and a key that may do everything."""
    app.config["API_RATE_LIMIT_PER_MINUTE"] = 0  # every example is a request
    group = make_group("Platform")
    component = make_component("API", group_id=group.id)
    make_incident("Errors", components={component.id: "partial_outage"})
    make_maintenance("Upgrade")
    subs.add_subscriber("reader@example.com", confirmed=True)
    _key, token = staff.create_api_key("fuzz", scope="write", subscribers=True)
    return {"page_id": get_page_settings().page_code, "token": token}


# The document as /api/openapi.json serves it (it needs no application to build); each example
# is sent to the test's application.
schema = schemathesis.openapi.from_dict(openapi.document("http://status.test", "Acme"))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(app: Any, case: Any, fuzzed: dict[str, str]
                                               ) -> None:
    if case.path_parameters and "page_id" in case.path_parameters:
        case.path_parameters["page_id"] = fuzzed["page_id"]  # else every answer is a 404
    # Uncompressed, so the checks read the body (the compressed answers have tests of their
    # own); the test client does not decode Content-Encoding.
    response = case.call(app=app, headers={"Authorization": f"OAuth {fuzzed['token']}",
                                           "Accept-Encoding": "identity"})
    case.validate_response(response, checks=CHECKS)
