"""The generated OpenAPI document and the operations routes: health, readiness, metrics, docs."""
from __future__ import annotations

import re

import falcon.testing
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from api import openapi
from api.app import create_app, route_table
from api.ops import Docs
from models.jobs import ops as jobs
from tests.factories import make_student

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
def document(client) -> dict:
    resp = client.simulate_get("/openapi.json")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json


def _path(template: str) -> str:
    return re.sub(r"{(\w+):\w+(?:\([^)]*\))?}", r"{\1}", template)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


# -- OpenAPI -------------------------------------------------------------------------------------------------

def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["info"]["title"] and document["info"]["version"]


def test_every_declared_responder_is_documented_with_its_method(document, settings):
    declared = list(openapi.responders(route_table(settings)))
    assert len(declared) >= 12
    for template, method, _fn, _meta in declared:
        path = _path(template)
        assert path in document["paths"], path
        assert method in document["paths"][path], (path, method)
    assert "get" in document["paths"]["/openapi.json"]


def test_undeclared_responders_are_not_documented(document, settings):
    documented = {(p, m) for p, ops in document["paths"].items() for m in ops}
    declared = {(_path(t), m) for t, m, _fn, _meta in openapi.responders(route_table(settings))}
    assert documented - declared == {("/openapi.json", "get")}
    assert "/docs/static/{name}" not in document["paths"]


def test_path_parameters_are_uuid_strings(document):
    op = document["paths"]["/students/{id}/profile"]["get"]
    assert op["parameters"] == [{"name": "id", "in": "path", "required": True,
                                 "schema": {"type": "string", "format": "uuid"}}]
    for path in ("/jobs/{id}", "/jobs/{id}/result", "/jobs/{id}/cancel"):
        assert all(p["schema"]["format"] == "uuid" for op in document["paths"][path].values()
                   for p in op["parameters"])


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_create_student_has_request_and_201_response_schemas(document):
    op = document["paths"]["/students"]["post"]
    body = op["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    request = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(request["required"]) == {"student_email", "student_name", "student_phone"}
    assert request.get("additionalProperties") is False
    ok = op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    profile = document["components"]["schemas"][ok.rsplit("/", 1)[1]]
    assert {"id", "email", "admin_note", "salty_bucks_balance"} <= profile["properties"].keys()
    assert "200" not in op["responses"]
    for status in ("400", "401", "403", "409", "413", "415", "422"):
        assert op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF


def test_components_include_problem_and_every_ref_resolves(document):
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= problem["properties"].keys()
    assert {"title", "status", "detail", "code"} <= set(problem["required"])
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_guarded_operations_list_401_403_and_security(document, settings):
    guarded = 0
    for template, method, _fn, meta in openapi.responders(route_table(settings)):
        op = document["paths"][_path(template)][method]
        if meta.guard is None:
            assert "security" not in op and "401" not in op["responses"], (template, method)
            continue
        guarded += 1
        assert {"401", "403"} <= op["responses"].keys(), (template, method)
        (scheme,) = op["security"][0]
        assert scheme in document["components"]["securitySchemes"]
    assert guarded >= 8


def test_bodyless_operations_do_not_list_body_errors(document):
    op = document["paths"]["/jobs/{id}"]["get"]
    assert "requestBody" not in op and "413" not in op["responses"] and "404" in op["responses"]


# -- health and readiness ------------------------------------------------------------------------------------

def test_healthz(client):
    resp = client.simulate_get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}
    assert resp.headers["x-request-id"]


def test_readyz(client):
    resp = client.simulate_get("/readyz")
    assert resp.status_code == 200, resp.text
    assert resp.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert "retry-after" not in resp.headers


def test_readyz_when_redis_is_down_is_503_with_retry_after(settings, dispatcher):
    app = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0"), dispatcher=dispatcher)
    resp = falcon.testing.TestClient(app).simulate_get("/readyz")
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "5"
    assert resp.json == {"status": "unavailable", "checks": {"database": "ok", "redis": "unreachable"}}
    assert resp.headers["x-request-id"]


def test_healthz_needs_no_dependencies(settings, dispatcher):
    app = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0"), dispatcher=dispatcher)
    resp = falcon.testing.TestClient(app).simulate_get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


# -- metrics -------------------------------------------------------------------------------------------------

def test_metrics_counts_requests_and_jobs(client, conn):
    student = make_student()
    jobs.submit("students.delete", {"ids": [str(student["id"])]}, creator=jobs.Creator(id="a1", typ="admin"),
                total=1, enqueue=lambda job_id: None)
    client.simulate_get("/healthz")
    client.simulate_get("/no-such-route")
    resp = client.simulate_get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text

    def line(pattern: str) -> bool:
        return re.search(pattern, text, re.MULTILINE) is not None

    assert line(r'^students_http_requests_total\{[^}]*route="/healthz"[^}]*status="200"[^}]*\} [1-9]'), text
    assert line(r'^students_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"'), text
    assert "# TYPE students_jobs gauge" in text
    assert line(r'^students_jobs\{status="queued",type="students.delete"\} 1\.0$'), text
    assert "students_http_request_duration_seconds_bucket" in text
    assert line(r"^students_queue_depth \d")


def test_metrics_without_jobs_still_names_the_family(client):
    client.simulate_get("/healthz")
    text = client.simulate_get("/metrics").text
    assert "students_http_requests_total" in text and "# HELP students_jobs" in text


# -- docs ----------------------------------------------------------------------------------------------------

def test_docs_page(client):
    resp = client.simulate_get("/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in resp.text.lower() and "/openapi.json" in resp.text
    assert "//cdn" not in resp.text and "https://" not in resp.text


@pytest.mark.parametrize("name, kinds, needle", [
    ("swagger-ui-bundle.js", ("application/javascript", "text/javascript"), b"SwaggerUIBundle"),
    ("swagger-ui.css", ("text/css",), b".swagger-ui"),
])
def test_docs_static_assets(client, name, kinds, needle):
    resp = client.simulate_get(f"/docs/static/{name}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0] in kinds
    assert needle in resp.content and len(resp.content) > 10_000
    assert "max-age" in resp.headers["cache-control"]


def test_every_asset_the_docs_page_links_is_served(client):
    page = client.simulate_get("/docs").text
    for src in re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page):
        assert client.simulate_get(src).status_code == 200, src


@pytest.mark.parametrize("path", [
    "/docs/static/../../etc/passwd", "/docs/static/..%2F..%2Fetc%2Fpasswd", "/docs/static/%2E%2E",
    "/docs/static/..", "/docs/static/nope.js", "/docs/static/", "/docs/static/%2Fetc%2Fpasswd",
    "/docs/static/..%5C..%5Cetc%5Cpasswd",
])
def test_docs_static_refuses_escapes_and_unknown_files(client, path):
    resp = client.simulate_get(path)
    assert resp.status_code == 404, (path, resp.status_code)
    assert resp.headers["content-type"] == "application/problem+json"
    assert "root:" not in resp.text


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "..", "/etc/passwd", "../__init__.py", ""])
def test_docs_static_responder_itself_refuses_escapes(name):
    resp = falcon.Response()
    with pytest.raises(falcon.HTTPNotFound):
        Docs().on_get_static(falcon.testing.create_req(), resp, name=name)
    assert resp.data is None
