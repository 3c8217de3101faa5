"""Per-principal limit on write requests: a fixed window counted in Redis (429 with Retry-After when exceeded).

Each web process reserves writes from Redis a few at a time (a lease of `LIMIT // 50`, at least 1) and spends them
locally, so a busy principal costs one Redis round trip per lease instead of one per write: on this 2-core machine
that round trip was a fifth of a preference write's time under load. The count in Redis is of reserved writes, so the
limit is never exceeded; a principal writing through several processes may be refused up to (processes x (lease - 1))
writes early in a window. With a limit under 100 the lease is 1 and the count is exact.
"""
from __future__ import annotations

import logging
import threading
import time

import redis

from core.errors import RateLimited

log = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
MAX_LEASES = 10_000  # principals remembered per process; expired leases are dropped beyond this

# Reserve up to ARGV[3] writes in the window: returns {writes granted (0 when over), seconds left in the window}.
_RESERVE = """
local n = redis.call('INCRBY', KEYS[1], ARGV[3])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local granted = tonumber(ARGV[3]) - math.max(0, n - tonumber(ARGV[2]))
return {math.max(0, granted), ttl}
"""


class WriteLimiter:
    def __init__(self, redis_url: str | None, limit: tuple[int, int] | None):
        self.limit = limit
        self.redis = (redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
                      if limit and redis_url else None)
        self._reserve = self.redis.register_script(_RESERVE) if self.redis is not None else None
        self.lease_size = max(1, limit[0] // 50) if limit else 1
        self._leases: dict[str, list] = {}  # key -> [writes left, monotonic end of the window]
        self._lock = threading.Lock()

    def check(self, method: str, principal) -> None:
        """Count one write for `principal`; over the limit raises RateLimited. Redis trouble lets the write pass."""
        if self.redis is None or method not in WRITES or principal is None:
            return
        count_max, window = self.limit
        key = f"students:rl:{principal.typ}:{principal.id or principal.typ}"
        now = time.monotonic()
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease[0] > 0 and now < lease[1]:
                lease[0] -= 1
                return
        try:
            granted, ttl = self._reserve(keys=[key], args=[window, count_max, self.lease_size])
        except redis.RedisError:
            log.warning("rate limiter unavailable; write allowed")
            return
        if granted <= 0:
            raise RateLimited(f"More than {count_max} writes in {window} s; slow down.",
                              retry_after=max(1, int(ttl)))
        with self._lock:
            if len(self._leases) >= MAX_LEASES:
                self._leases = {k: v for k, v in self._leases.items() if v[1] > now}
                if len(self._leases) >= MAX_LEASES:  # all live: forgetting leases only costs round trips
                    self._leases.clear()
            self._leases[key] = [granted - 1, now + ttl]  # this write spends one
