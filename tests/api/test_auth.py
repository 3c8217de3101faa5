"""SPEC §1 tokens and guards: 401/403 over HTTP, route-less guards via the Authenticator, token issuance."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import NamedTuple

import falcon.testing
import jwt
import pytest

from api.auth import ADMIN_ROLES, LEEWAY, Authenticator, ReplayCache, issue_student_token
from core.errors import Forbidden, Unauthorized
from tests.factories import make_student


class Route(NamedTuple):
    method: str
    path: str
    guard: str
    ok: int  # the status once the guard has let the caller through (an empty body or an unknown id)
    body: dict | None = None


ROUTES = [
    Route("GET", "/students/profile", "student", 200),
    Route("GET", f"/students/{uuid.UUID(int=1)}/profile", "students_manager", 404),  # no such student
    Route("POST", "/students", "master", 422, {}),
    Route("PATCH", "/students/delete", "students_manager", 422, {}),
    Route("GET", "/jobs", "admin", 200),
]
ADMIN_ROUTES = [r for r in ROUTES if r.guard != "student"]
MANAGER_ROUTES = [r for r in ROUTES if r.guard == "students_manager"]


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_claims(typ: str, *, drop: tuple[str, ...] = (), **over) -> dict:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "typ": typ, "email": "x@example.com", "iat": now, "exp": now + 600,
              "jti": uuid.uuid4().hex}
    if typ == "admin":
        claims.update(admin_role="master_admin", can_manage_students=True)
    claims.update(over)
    return {k: v for k, v in claims.items() if k not in drop}


def server_claims(*, drop: tuple[str, ...] = (), **over) -> dict:
    now = int(time.time())
    claims = {"iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **over}
    return {k: v for k, v in claims.items() if k not in drop}


def sign(claims: dict, key: str) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def call(client, route: Route, headers: dict):
    return client.simulate_request(route.method, route.path, headers=headers, json=route.body)


def assert_problem(resp, status: int, code: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json["status"] == status and resp.json["code"]
    if code is not None:
        assert resp.json["code"] == code, resp.json
    if status == 401:
        assert resp.headers["www-authenticate"] == "Bearer"
    else:
        assert "www-authenticate" not in resp.headers


def base_claims(route: Route) -> dict:
    """Claims that would pass `route`'s guard: a live student for the student route, else a master admin."""
    if route.guard == "student":
        return make_claims("student", sub=str(make_student()["id"]))
    return make_claims("admin")


def bad_header(kind: str, claims: dict, settings) -> dict:
    """The Authorization header for a broken variant `kind` of an otherwise valid token."""
    now = int(time.time())
    app = settings.app_key
    if kind == "none":
        return {}
    if kind == "expired":
        token = sign({**claims, "iat": now - 3600, "exp": now - LEEWAY - 30}, app)
    elif kind == "tampered-signature":
        head, payload, sig = sign(claims, app).split(".")
        mid = len(sig) // 2
        token = f"{head}.{payload}.{sig[:mid]}{'A' if sig[mid] != 'A' else 'B'}{sig[mid + 1:]}"
    elif kind == "tampered-payload":
        head, _, sig = sign(claims, app).split(".")
        token = f"{head}.{b64({**claims, 'sub': str(uuid.uuid4()), 'email': 'evil@example.com'})}.{sig}"
    elif kind == "shop-key":
        token = sign(claims, settings.shop_key)
    elif kind == "random-key":
        token = sign(claims, secrets.token_hex(32))
    elif kind == "alg-none":
        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    elif kind == "alg-hs512":  # the right key, but not the pinned algorithm
        signing_input = f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{b64(claims)}"
        token = f"{signing_input}.{b64(hmac.digest(app.encode(), signing_input.encode(), hashlib.sha512))}"
    elif kind in ("no-exp", "no-iat", "no-sub"):
        token = sign({k: v for k, v in claims.items() if k != kind[3:]}, app)
    elif kind == "unknown-role":
        token = sign({**claims, "typ": "admin", "admin_role": "superuser"}, app)
    elif kind == "bad-typ":
        token = sign({**claims, "typ": "shop"}, app)
    else:
        raise AssertionError(kind)
    return {"Authorization": f"Bearer {token}"}


BAD_KINDS = {"none": "auth.missing-token", "expired": "auth.token-expired"} | dict.fromkeys(
    ["tampered-signature", "tampered-payload", "shop-key", "random-key", "alg-none", "alg-hs512", "no-exp",
     "no-iat", "no-sub", "unknown-role", "bad-typ"], "auth.invalid-token")


# -- HTTP: 401 --------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_the_unbroken_token_passes_the_guard(client, settings, conn, route):
    token = sign(base_claims(route), settings.app_key)
    resp = call(client, route, {"Authorization": f"Bearer {token}"})
    assert resp.status_code == route.ok, resp.text


@pytest.mark.parametrize("kind, code", BAD_KINDS.items(), ids=list(BAD_KINDS))
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_missing_or_bad_token_is_401(client, settings, conn, route, kind, code):
    resp = call(client, route, bad_header(kind, base_claims(route), settings))
    assert_problem(resp, 401, code)


def test_expired_within_leeway_is_still_accepted(client, settings):
    now = int(time.time())
    token = sign(make_claims("admin", iat=now - 3600, exp=now - LEEWAY // 3), settings.app_key)
    assert client.simulate_get("/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("header", [
    "{token}", "Basic {token}", "Token {token}", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer{token}",
], ids=["no-scheme", "basic", "token-scheme", "basic-credentials", "bearer-only", "bearer-space", "no-space"])
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_missing_or_wrong_scheme_is_401(client, settings, conn, route, header):
    token = sign(base_claims(route), settings.app_key)
    resp = call(client, route, {"Authorization": header.format(token=token)})
    assert_problem(resp, 401, "auth.missing-token")


def test_bearer_scheme_is_case_insensitive(client, tokens):
    resp = client.simulate_get("/jobs", headers={"Authorization": f"bearer {tokens.master()}"})
    assert resp.status_code == 200


@pytest.mark.parametrize("who, code", [
    ("deleted", "auth.student-not-found"), ("inactive", "students.account-inactive"),
    ("unknown", "auth.student-not-found"), ("not-a-uuid", "auth.student-not-found"),
])
def test_token_of_a_gone_or_inactive_student_is_401(client, tokens, conn, who, code):
    sub = {"deleted": lambda: make_student(deleted=True)["id"], "unknown": uuid.uuid4,
           "inactive": lambda: make_student(is_active=False)["id"]}.get(who, lambda: who)()
    resp = client.simulate_get("/students/profile", headers=tokens.bearer(tokens.student(sub)))
    assert_problem(resp, 401, code)


def test_shop_token_as_bearer_on_admin_route_is_401(client, tokens):
    resp = client.simulate_get("/jobs", headers=tokens.bearer(tokens.server("shop")))
    assert_problem(resp, 401, "auth.invalid-token")


# -- HTTP: 403 and passing guards ------------------------------------------------------------
@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_student_token_on_admin_route_is_403(client, tokens, conn, route):
    token = tokens.student(make_student()["id"])
    assert_problem(call(client, route, tokens.bearer(token)), 403, "auth.admins-only")


@pytest.mark.parametrize("role", ["master_admin", "igor", "author_admin"])
def test_admin_token_on_student_route_is_403(client, tokens, role):
    resp = client.simulate_get("/students/profile", headers=tokens.bearer(tokens.admin(role, manage=True)))
    assert_problem(resp, 403, "auth.students-only")


@pytest.mark.parametrize("role, manage, passes", [
    ("igor", False, False),
    ("igor", "true", False),  # the flag must be a real boolean
    ("author_admin", None, False),  # flag absent
    ("igor", True, True),
    ("retail_admin", True, True),
    ("master_admin", False, True),
], ids=["igor-false", "igor-string-true", "author-absent", "igor-true", "retail-true", "master"])
@pytest.mark.parametrize("route", MANAGER_ROUTES, ids=route_id)
def test_students_manager_guard(client, settings, route, role, manage, passes):
    claims = make_claims("admin", admin_role=role, can_manage_students=manage,
                         drop=("can_manage_students",) if manage is None else ())
    resp = call(client, route, {"Authorization": f"Bearer {sign(claims, settings.app_key)}"})
    if passes:
        assert resp.status_code == route.ok, resp.text
    else:
        assert_problem(resp, 403, "auth.students-manager-only")


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES - {"master_admin"}))
def test_only_master_creates_students(client, tokens, role):
    resp = client.simulate_post("/students", json={}, headers=tokens.bearer(tokens.admin(role, manage=True)))
    assert_problem(resp, 403, "auth.master-only")


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES))
def test_any_admin_role_passes_admin_guard(client, tokens, role):
    assert client.simulate_get("/jobs", headers=tokens.bearer(tokens.admin(role))).status_code == 200


# -- Guards without routes: through the Authenticator ----------------------------------------
@pytest.fixture
def auth(settings):
    return Authenticator(settings, ReplayCache(settings.redis_url))


def request(headers: dict):
    return falcon.testing.create_req(headers=headers)


def proxy(token: str) -> dict:
    return {"X-Proxy-Authorization": token}


def refused(auth, guard: str, headers: dict, code: str = "auth.invalid-token") -> None:
    with pytest.raises(Unauthorized) as exc:
        auth.guards[guard](request(headers))
    assert exc.value.code == code


IMPERSONATOR = {"id": "a1", "email": "boss@example.com", "role": "igor"}


@pytest.mark.parametrize("extra", [{}, {"impersonated_by": IMPERSONATOR}, {"preview_admin": IMPERSONATOR}],
                         ids=["plain", "impersonation", "preview"])
def test_student_and_real_student_guards(auth, tokens, conn, extra):
    student = make_student()
    req = request(tokens.bearer(tokens.student(student["id"], **extra)))
    principal = auth.guards["student"](req)
    assert principal.id == str(student["id"]) and principal.student["email"] == student["email"]
    assert (principal.impersonated_by or principal.preview_admin) == (IMPERSONATOR if extra else None)
    if not extra:
        assert auth.guards["real_student"](req).id == str(student["id"])
        return
    with pytest.raises(Forbidden) as exc:
        auth.guards["real_student"](req)
    assert exc.value.code == "auth.real-student-only"


def test_real_student_refuses_admins_and_gone_students(auth, tokens, conn):
    with pytest.raises(Forbidden):
        auth.guards["real_student"](request(tokens.bearer(tokens.master())))
    gone = make_student(deleted=True)
    with pytest.raises(Unauthorized):
        auth.guards["real_student"](request(tokens.bearer(tokens.student(gone["id"]))))


@pytest.mark.parametrize("role, passes", [(r, r in {"master_admin", "igor", "retail_admin"})
                                          for r in sorted(ADMIN_ROLES)])
def test_ledger_reader(auth, tokens, role, passes):
    req = request(tokens.bearer(tokens.admin(role, manage=True)))
    if passes:
        assert auth.guards["ledger_reader"](req).role == role
    else:
        with pytest.raises(Forbidden) as exc:
            auth.guards["ledger_reader"](req)
        assert exc.value.code == "auth.ledger-reader-only"


def test_ledger_reader_refuses_students_and_bad_tokens(auth, tokens, settings):
    with pytest.raises(Forbidden):
        auth.guards["ledger_reader"](request(tokens.bearer(tokens.student(uuid.uuid4()))))
    with pytest.raises(Unauthorized):
        auth.guards["ledger_reader"](request(tokens.bearer(sign(make_claims("admin"), settings.shop_key))))


@pytest.mark.parametrize("kind", ["shop", "sso"])
def test_server_token_passes_once_then_is_replayed(auth, settings, tokens, kind):
    headers = tokens.proxy(tokens.server(kind, order_id=7))
    principal = auth.guards[kind](request(headers))
    assert principal.typ == kind and principal.claims["order_id"] == 7
    refused(auth, kind, headers, "auth.token-replayed")
    # the seen jti lives in Redis, not in this process: a fresh Authenticator refuses it too
    refused(Authenticator(settings, ReplayCache(settings.redis_url)), kind, headers, "auth.token-replayed")


def test_server_token_without_jti_is_refused_the_second_time(auth, settings):
    headers = proxy(sign(server_claims(drop=("jti",), nonce=uuid.uuid4().hex), settings.shop_key))
    assert auth.guards["shop"](request(headers)).typ == "shop"
    refused(auth, "shop", headers, "auth.token-replayed")


def test_server_token_age(auth, settings):
    now = int(time.time())
    too_old = server_claims(iat=now - settings.server_token_max_age - LEEWAY - 5)
    refused(auth, "shop", proxy(sign(too_old, settings.shop_key)), "auth.token-too-old")
    fresh_enough = server_claims(iat=now - settings.server_token_max_age + 5)
    assert auth.guards["shop"](request(proxy(sign(fresh_enough, settings.shop_key))))


@pytest.mark.parametrize("drop", ["exp", "iat"])
def test_server_token_must_carry_exp_and_iat(auth, settings, drop):
    refused(auth, "shop", proxy(sign(server_claims(drop=(drop,)), settings.shop_key)))


@pytest.mark.parametrize("guard, key_name", [("sso", "shop_key"), ("shop", "sso_key"), ("shop", "app_key"),
                                             ("sso", "app_key")])
def test_server_guards_accept_only_their_own_key(auth, settings, guard, key_name):
    refused(auth, guard, proxy(sign(server_claims(), getattr(settings, key_name))))


def test_shop_refuses_an_app_key_admin_token(auth, tokens):
    refused(auth, "shop", tokens.proxy(tokens.master()))


def test_server_guard_without_token(auth, tokens):
    for headers in ({}, proxy(""), tokens.bearer(tokens.server("shop"))):  # Bearer is the wrong header
        refused(auth, "shop", headers, "auth.missing-token")


def test_server_token_alg_none_and_expired_are_refused(auth, settings):
    refused(auth, "shop", proxy(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(server_claims())}."))
    now = int(time.time())
    expired = server_claims(iat=now - 120, exp=now - LEEWAY - 30)
    refused(auth, "sso", proxy(sign(expired, settings.sso_key)), "auth.token-expired")


# -- Issuance --------------------------------------------------------------------------------
def test_issue_student_token(settings):
    sid = uuid.uuid4()
    before = int(time.time())
    token = issue_student_token(settings, student_id=sid, email="s@example.com")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, settings.app_key, algorithms=["HS256"])
    assert claims["sub"] == str(sid) and claims["typ"] == "student" and claims["email"] == "s@example.com"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == settings.token_ttl
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert "impersonated_by" not in claims and "preview_admin" not in claims
    other = jwt.decode(issue_student_token(settings, student_id=sid, email="s@example.com"), settings.app_key,
                       algorithms=["HS256"])
    assert other["jti"] != claims["jti"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, settings.shop_key, algorithms=["HS256"])


def test_issue_student_token_with_impersonation_preview_and_ttl(settings):
    imp = {"id": "a1", "email": "boss@example.com", "role": "master_admin"}
    prev = {"id": "a2", "email": "p@example.com", "role": "author_admin"}
    token = issue_student_token(settings, student_id="s1", email="s@example.com", impersonated_by=imp,
                                preview_admin=prev, ttl=120)
    claims = jwt.decode(token, settings.app_key, algorithms=["HS256"])
    assert claims["impersonated_by"] == imp and claims["preview_admin"] == prev
    assert claims["exp"] - claims["iat"] == 120
