"""Write requests are limited per principal (Redis fixed window): 429 with Retry-After, reads never limited."""
from __future__ import annotations

import falcon.testing
import pytest

from api.app import create_app
from core import config
from tests.factories import make_student


@pytest.fixture
def limited(settings, dispatcher):
    app = create_app(settings.with_(rate_limit=(3, 60)), dispatcher=dispatcher)
    return falcon.testing.TestClient(app)


def test_writes_over_the_limit_are_429_per_principal(limited, tokens, conn):
    one, two = make_student(), make_student()
    first = tokens.bearer(tokens.student(one["id"]))
    statuses = [limited.simulate_patch("/students/set-theme", json={"theme": "dark"}, headers=first).status_code
                for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = limited.simulate_patch("/students/set-theme", json={"theme": "dark"}, headers=first)
    assert refused.json["code"] == "rate-limited" and 1 <= int(refused.headers["retry-after"]) <= 60
    # Reads are not counted, and another principal has a window of its own.
    assert limited.simulate_get("/students/profile", headers=first).status_code == 200
    other = tokens.bearer(tokens.student(two["id"]))
    assert limited.simulate_patch("/students/set-theme", json={"theme": "dark"}, headers=other).status_code == 200


def test_leases_never_admit_more_than_the_limit_across_processes(settings):
    """Two web processes (two limiters) spend leases of one principal's window: at most the limit is admitted, and
    at most (processes x (lease - 1)) writes are refused early."""
    import types
    import uuid

    import redis

    from api.ratelimit import WriteLimiter
    from core.errors import RateLimited

    procs = [WriteLimiter(settings.redis_url, (100, 60)) for _ in range(2)]
    assert procs[0].lease_size == 2
    principal = types.SimpleNamespace(typ="student", id=str(uuid.uuid4()))
    admitted = refused = 0
    for i in range(130):
        try:
            procs[i % 3 % 2].check("PATCH", principal)  # uneven: process 0 takes two of every three writes
            admitted += 1
        except RateLimited as exc:
            refused += 1
            assert 1 <= exc.retry_after <= 60
    assert 100 - 2 * (2 - 1) <= admitted <= 100 and admitted + refused == 130
    counted = int(redis.Redis.from_url(settings.redis_url).get(f"students:rl:student:{principal.id}"))
    assert counted >= admitted  # Redis counts reserved writes: never fewer than were made
    procs[0].check("GET", principal)  # reads are never counted


def test_configuration():
    keys = {"APP_KEY": "a" * 32, "SSO_KEY": "b" * 32, "SHOP_KEY": "c" * 32,
            "DATABASE_URL": "postgresql://x@127.0.0.1/x"}
    assert config.load({}).rate_limit is None  # off in the embedded default
    assert config.load({**keys, "REDIS_URL": "redis://127.0.0.1:6379/0"}).rate_limit == (300, 60)
    assert config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "10/1"}).rate_limit == (10, 1)
    assert config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "off"}).rate_limit is None
    with pytest.raises(config.ConfigError, match="RATE_LIMIT_WRITES"):
        config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "lots"})
