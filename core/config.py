"""Settings read once from the environment, typed and validated; a bad value stops start-up naming the variable."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Keys used only in the embedded default (no DATABASE_URL): a laptop trial, never a deployment.
_EMBEDDED_KEYS = {
    "APP_KEY": "embedded-app-key-not-for-production-0001",
    "SSO_KEY": "embedded-sso-key-not-for-production-0002",
    "SHOP_KEY": "embedded-shop-key-not-for-production-003",
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    app_key: str
    sso_key: str
    shop_key: str
    token_ttl: int = 24 * 3600
    server_token_max_age: int = 600
    export_dir: Path = ROOT / "var" / "exports"
    export_ttl: int = 24 * 3600
    prune_inactive_days: int = 90
    prune_course_grace_days: int = 180
    prune_max_fraction: float = 0.05
    job_heartbeat_timeout: int = 60
    job_redispatch_after: int = 60
    job_chunk_size: int = 1000
    job_chunk_pause: float = 0.0
    db_pool_size: int = 8
    log_level: str = "INFO"
    cors_origins: tuple[str, ...] = ()
    flower_basic_auth: str | None = None
    broker_dir: Path = ROOT / "var" / "broker"
    queue: str = "students"
    rate_limit: tuple[int, int] | None = None  # (writes, per seconds) per principal; None: off
    extra: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def broker_url(self) -> str:
        return self.redis_url or "filesystem://"

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _rate_limit(env: Mapping[str, str], redis_url: str | None) -> tuple[int, int] | None:
    """RATE_LIMIT_WRITES as "N/SECONDS" or "off"; default 300/60 with Redis, off in the embedded default."""
    raw = env.get("RATE_LIMIT_WRITES") or ("300/60" if redis_url else "off")
    if raw == "off":
        return None
    if not redis_url:
        raise ConfigError("RATE_LIMIT_WRITES needs REDIS_URL (the counters live in Redis); use 'off' without it")
    count, _, seconds = raw.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise ConfigError(f"RATE_LIMIT_WRITES must be N/SECONDS (e.g. 300/60) or off, got {raw!r}")
    return int(count), int(seconds)


def _key(env: Mapping[str, str], name: str, embedded: bool) -> str:
    value = env.get(name, "")
    if not value:
        if embedded:
            return _EMBEDDED_KEYS[name]
        raise ConfigError(f"{name} is not set: it is required when DATABASE_URL points at PostgreSQL")
    if len(value.encode()) < 32:
        raise ConfigError(f"{name} must be at least 32 bytes long")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the given mapping)."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL") or f"sqlite:///{ROOT / 'var' / 'students.db'}"
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL must start with postgresql:// or sqlite:///")
    embedded = database_url.startswith("sqlite")
    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    fraction = _float(env, "PRUNE_MAX_FRACTION", 0.05)
    if not 0 <= fraction <= 1:
        raise ConfigError("PRUNE_MAX_FRACTION must be between 0 and 1")
    var = ROOT / "var"
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        app_key=_key(env, "APP_KEY", embedded),
        sso_key=_key(env, "SSO_KEY", embedded),
        shop_key=_key(env, "SHOP_KEY", embedded),
        token_ttl=_int(env, "TOKEN_TTL", 24 * 3600, 60),
        server_token_max_age=_int(env, "SERVER_TOKEN_MAX_AGE", 600, 1),
        export_dir=Path(env.get("EXPORT_DIR") or var / "exports"),
        export_ttl=_int(env, "EXPORT_TTL", 24 * 3600, 1),
        prune_inactive_days=_int(env, "PRUNE_INACTIVE_DAYS", 90, 1),
        prune_course_grace_days=_int(env, "PRUNE_COURSE_GRACE_DAYS", 180, 0),
        prune_max_fraction=fraction,
        job_heartbeat_timeout=_int(env, "JOB_HEARTBEAT_TIMEOUT", 60, 1),
        job_redispatch_after=_int(env, "JOB_REDISPATCH_AFTER", 60, 1),
        job_chunk_size=_int(env, "JOB_CHUNK_SIZE", 1000, 1),
        job_chunk_pause=_float(env, "JOB_CHUNK_PAUSE", 0.0),
        db_pool_size=_int(env, "DB_POOL_SIZE", 8, 1),
        log_level=log_level,
        cors_origins=tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()),
        flower_basic_auth=env.get("FLOWER_BASIC_AUTH") or None,
        broker_dir=Path(env.get("BROKER_DIR") or var / "broker"),
        queue=env.get("CELERY_QUEUE") or "students",
        rate_limit=_rate_limit(env, redis_url),
    )


_settings: Settings | None = None


def get() -> Settings:
    """The process-wide settings, read on first use."""
    global _settings
    if _settings is None:
        _settings = load()
    return _settings


def override(settings: Settings) -> None:
    """Replace the process-wide settings (tests, CLI)."""
    global _settings
    _settings = settings
