"""The OpenAPI 3.1 document, generated from the route table and each responder's `@endpoint` declaration."""
from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from api.schemas.common import Problem

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"{(\w+)(?::(\w+)(?:\([^)]*\))?)?}")
_PARAM_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer", "minimum": 1}}
_SCHEMES = {"shop": "shopToken", "sso": "ssoToken"}


def responders(routes: Iterable[tuple[str, object, str | None]]):
    """(path template, method, responder, @endpoint meta) for every declared responder of the route table."""
    for template, resource, suffix in routes:
        for method in METHODS:
            name = f"on_{method}" + (f"_{suffix}" if suffix else "")
            fn = getattr(resource, name, None)
            meta = getattr(fn, "__endpoint__", None)
            if meta is not None:
                yield template, method, fn, meta


def build(routes, *, title: str, version: str) -> dict:
    components: dict[str, Any] = {}

    def ref(model, mode: str) -> dict:
        schema = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[schema.get("title", model.__name__)] = schema
        return {"$ref": f"#/components/schemas/{schema.get('title', model.__name__)}"}

    problem = ref(Problem, "serialization")
    paths: dict[str, dict] = {}
    for template, method, _fn, meta in responders(routes):
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", template)
        op: dict[str, Any] = {
            "summary": meta.summary,
            "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "tags": list(meta.tags) or ["misc"],
            "responses": {},
        }
        params = [{"name": name, "in": "path", "required": True,
                   "schema": _PARAM_SCHEMAS.get(conv, {"type": "string"})}
                  for name, conv in _PARAM.findall(template)]
        if params:
            op["parameters"] = params
        if meta.guard is not None:
            op["security"] = [{_SCHEMES.get(meta.guard, "bearerToken"): []}]
            op["description"] = f"Guard: `{meta.guard.removesuffix('_token')}` (SPEC §1)."
        if meta.deprecated is not None:
            op["deprecated"] = True
        if meta.body is not None:
            # An empty body reads as {}: the body is required only when the model has required fields.
            required = bool(meta.body.model_json_schema(mode="validation").get("required"))
            op["requestBody"] = {"required": required,
                                 "content": {"application/json": {"schema": ref(meta.body, "validation")}}}
        ok: dict[str, Any] = {"description": HTTPStatus(meta.status).phrase}
        if meta.response is not None:
            ok["content"] = {"application/json": {"schema": ref(meta.response, "serialization")}}
        op["responses"][str(meta.status)] = ok
        statuses = set(meta.errors)
        if meta.guard is not None:
            statuses |= {401, 403}
        if meta.body is not None:
            statuses |= {400, 413, 415, 422}
        for status in sorted(statuses):
            op["responses"][str(status)] = {"description": HTTPStatus(status).phrase,
                                            "content": {"application/problem+json": {"schema": problem}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Student accounts, entitlements and Salty Bucks. Errors are problem+json "
                                "(RFC 9457) with a stable `code`."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "shopToken": {"type": "apiKey", "in": "header", "name": "X-Proxy-Authorization"},
                "ssoToken": {"type": "apiKey", "in": "header", "name": "X-Proxy-Authorization"},
            },
        },
    }
