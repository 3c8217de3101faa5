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


def test_configuration():
    keys = {"APP_KEY": "a" * 32, "SSO_KEY": "b" * 32, "SHOP_KEY": "c" * 32,
            "DATABASE_URL": "postgresql://x@127.0.0.1/x"}
    assert config.load({}).rate_limit is None  # off in the embedded default
    assert config.load({**keys, "REDIS_URL": "redis://127.0.0.1:6379/0"}).rate_limit == (300, 60)
    assert config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "10/1"}).rate_limit == (10, 1)
    assert config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "off"}).rate_limit is None
    with pytest.raises(config.ConfigError, match="RATE_LIMIT_WRITES"):
        config.load({**keys, "REDIS_URL": "redis://h/0", "RATE_LIMIT_WRITES": "lots"})
