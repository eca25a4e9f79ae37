"""Login attempt limits per account and per address, in memory or shared through Redis.

A fixed window per key: simple, cheap, and enough to make password guessing impractical.
"""

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis


class AttemptCounter(Protocol):
    """Counts attempts for a key within a window."""

    async def count(self, key: str) -> int:
        """Attempts recorded for ``key`` in the current window."""
        ...

    async def hit(self, key: str) -> None:
        """Record one attempt."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts of ``key``."""
        ...


@dataclass
class MemoryCounter:
    """Sliding window in this process (the embedded single-process setup)."""

    window_seconds: float
    max_keys: int = 100_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def _live(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        cutoff = time.monotonic() - self.window_seconds
        while hits and hits[0] < cutoff:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    async def count(self, key: str) -> int:
        """Attempts in the last ``window_seconds``."""
        return len(self._live(key))

    async def hit(self, key: str) -> None:
        """Record one attempt now."""
        if len(self._hits) >= self.max_keys:  # bound memory under a flood of distinct keys
            for stale in list(self._hits)[: self.max_keys // 10]:
                del self._hits[stale]
        self._hits.setdefault(key, deque()).append(time.monotonic())

    async def reset(self, key: str) -> None:
        """Forget ``key``."""
        self._hits.pop(key, None)


@dataclass
class RedisCounter:
    """Fixed window shared by every process through Redis."""

    redis: Redis
    window_seconds: int
    prefix: str = "phonghop:login:"

    async def count(self, key: str) -> int:
        """Attempts in the current window."""
        value = await self.redis.get(self.prefix + key)
        return int(value or 0)

    async def hit(self, key: str) -> None:
        """Record one attempt; the first one starts the window."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.prefix + key)
            pipe.expire(self.prefix + key, self.window_seconds, nx=True)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        """Forget ``key``."""
        await self.redis.delete(self.prefix + key)


@dataclass
class LoginLimiter:
    """Refuses a login when an address or an account has seen too many attempts."""

    counter: AttemptCounter
    max_per_account: int
    max_per_address: int
    window_seconds: int

    async def blocked(self, username: str, address: str) -> bool:
        """True if this attempt must be refused before checking the password."""
        return (
            await self.counter.count(f"addr:{address}") >= self.max_per_address
            or await self.counter.count(f"user:{username.lower()}") >= self.max_per_account
        )

    async def address_blocked(self, address: str) -> bool:
        """True if this address has used up its attempts (for device logins, which name no
        account: one shared "device" key would let anyone lock every device out)."""
        return await self.counter.count(f"addr:{address}") >= self.max_per_address

    async def record_address_failure(self, address: str) -> None:
        """Count a failed attempt against the address only."""
        await self.counter.hit(f"addr:{address}")

    async def record(self, username: str, address: str, success: bool) -> None:
        """Count an attempt; success clears the account's failures."""
        await self.counter.hit(f"addr:{address}")
        if success:
            await self.counter.reset(f"user:{username.lower()}")
        else:
            await self.counter.hit(f"user:{username.lower()}")
