"""Per-principal limit on write requests: a fixed window counted in Redis (429 with Retry-After when exceeded)."""
from __future__ import annotations

import logging

import redis

from core.errors import RateLimited

log = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class WriteLimiter:
    def __init__(self, redis_url: str | None, limit: tuple[int, int] | None):
        self.limit = limit
        self.redis = (redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
                      if limit and redis_url else None)

    def check(self, method: str, principal) -> None:
        """Count one write for `principal`; over the limit raises RateLimited. Redis trouble lets the write pass."""
        if self.redis is None or method not in WRITES or principal is None:
            return
        count_max, window = self.limit
        key = f"students:rl:{principal.typ}:{principal.id or principal.typ}"
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
            pipe.ttl(key)
            count, _, ttl = pipe.execute()
        except redis.RedisError:
            log.warning("rate limiter unavailable; write allowed")
            return
        if count > count_max:
            raise RateLimited(f"More than {count_max} writes in {window} s; slow down.",
                              retry_after=max(1, int(ttl)))
