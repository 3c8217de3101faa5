"""Contract fuzzing: every documented operation, as a master admin, answers without 5xx and as documented."""
from __future__ import annotations

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import openapi
from api.app import VERSION, route_table
from api.ops import OpenAPI
from core import config
from tests.factories import Tokens

# The document create_app serves at /openapi.json, built the same way at import time (collection needs the schema
# before any fixture exists, and schemathesis.pytest.from_fixture breaks on pytest 9.2: it writes the removed
# `Node._nodeid`). test_served_document_is_the_fuzzed_one pins it to what the session `app` really serves.
DOCUMENT = orjson.loads(orjson.dumps(openapi.build(route_table(config.get()) + [("/openapi.json", OpenAPI({}), None)],
                                                   title="Students service", version=VERSION)))
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def admin_headers(database):
    return Tokens.bearer(Tokens(database).master(manage=True))


def test_served_document_is_the_fuzzed_one(client):
    assert client.simulate_get("/openapi.json").json == DOCUMENT


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_contract(case, app, admin_headers):
    case.operation.app = case.operation.schema.app = app  # checks' probes (ignored_auth) use the schema's transport
    # positive_data_acceptance is off: the service validates beyond the schema by design and answers a documented
    # 400/422 to schema-valid bodies (e-mail syntax, IANA time zones, "at least one product", from != to, unknown
    # product ids; pydantic strict ints refuse 380.0, which JSON Schema calls an integer).
    case.call_and_validate(headers=admin_headers, excluded_checks=[positive_data_acceptance])
