"""Settings: typed, validated, and a missing key outside the embedded mode stops start-up naming the variable."""
from __future__ import annotations

import pytest

from core import config

KEYS = {"APP_KEY": "a" * 32, "SSO_KEY": "b" * 32, "SHOP_KEY": "c" * 32}
PG = "postgresql://postgres@127.0.0.1:5432/x"


def test_embedded_default_needs_nothing():
    settings = config.load({})
    assert settings.embedded and settings.database_url.startswith("sqlite:///")
    assert settings.redis_url is None and settings.broker_url == "filesystem://"
    assert len(settings.app_key) >= 32


@pytest.mark.parametrize("missing", sorted(KEYS))
def test_postgres_requires_every_key(missing):
    env = {"DATABASE_URL": PG, **KEYS}
    del env[missing]
    with pytest.raises(config.ConfigError, match=missing):
        config.load(env)


@pytest.mark.parametrize("env,variable", [
    ({"APP_KEY": "short"}, "APP_KEY"),
    ({"TOKEN_TTL": "soon"}, "TOKEN_TTL"),
    ({"JOB_CHUNK_SIZE": "0"}, "JOB_CHUNK_SIZE"),
    ({"PRUNE_MAX_FRACTION": "2"}, "PRUNE_MAX_FRACTION"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
])
def test_bad_values_name_their_variable(env, variable):
    with pytest.raises(config.ConfigError, match=variable):
        config.load({"DATABASE_URL": PG, **KEYS, **env})


def test_bad_database_url():
    with pytest.raises(config.ConfigError, match="DATABASE_URL"):
        config.load({"DATABASE_URL": "mysql://x"})


def test_values_are_typed():
    settings = config.load({"DATABASE_URL": PG, **KEYS, "TOKEN_TTL": "120", "PRUNE_MAX_FRACTION": "0.1",
                            "CORS_ORIGINS": "https://a.example.com, https://b.example.com"})
    assert settings.token_ttl == 120 and settings.prune_max_fraction == 0.1
    assert settings.cors_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.is_postgres and not settings.embedded


def test_cli_stops_with_the_variable_named(monkeypatch):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": PG, "SSO_KEY": "b" * 32, "SHOP_KEY": "c" * 32}
    out = subprocess.run([sys.executable, "-m", "tasks.cli", "migrate"], env=env, capture_output=True, text=True,
                         cwd=config.ROOT)
    assert out.returncode != 0 and "APP_KEY" in out.stderr
