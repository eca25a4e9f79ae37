"""Who is in which meeting, across one process (memory) or many (Redis).

A principal (account or endpoint) may be connected several times; it is present while at
least one connection is attached, and stays listed as disconnected during the reconnect
grace period, so a flapping commune link does not spam joined/left to everyone.
"""

import json
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Participant:
    """A principal present in a meeting, as broadcast to the others."""

    key: str
    kind: str
    id: int
    name: str
    unit_id: int
    unit_name: str
    role: str | None
    meeting_role: str
    connected: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (by hand: ``dataclasses.asdict`` deep-copies and is ~10x slower,
        which showed up as a third of the event loop when 1000 communes joined at once)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
            "role": self.role,
            "meeting_role": self.meeting_role,
            "connected": self.connected,
        }


class PresenceStore(Protocol):
    """Presence bookkeeping; every method is atomic per (meeting, principal)."""

    async def attach(self, meeting_id: int, participant: Participant, sid: str) -> bool:
        """Add a connection; True when the principal was not present before."""
        ...

    async def detach(self, meeting_id: int, key: str, sid: str) -> bool:
        """Remove a connection; True when it was the principal's last one."""
        ...

    async def remove_if_disconnected(self, meeting_id: int, key: str) -> bool:
        """Drop a principal with no connection left; True if it was dropped."""
        ...

    async def snapshot(self, meeting_id: int) -> list[dict[str, Any]]:
        """Everyone present (JSON-ready), including those within their grace period."""
        ...

    async def count(self, meeting_id: int) -> int:
        """How many principals are present."""
        ...

    async def get(self, meeting_id: int, key: str) -> Participant | None:
        """One principal's entry, if present."""
        ...

    async def disconnected_meetings(self, key: str) -> list[int]:
        """Meetings where this principal is waiting out its grace period."""
        ...

    async def clear(self, meeting_id: int) -> None:
        """Forget a meeting's presence (it ended)."""
        ...


@dataclass
class _Entry:
    participant: Participant
    sids: set[str] = field(default_factory=set)
    public: dict[str, Any] = field(default_factory=dict)  # cached as_dict(), sent on every join

    def __post_init__(self) -> None:
        self.public = self.participant.as_dict()

    def set(self, participant: Participant) -> None:
        self.participant = participant
        self.public = participant.as_dict()


@dataclass
class MemoryPresence:
    """Presence for the single-process setup."""

    _meetings: dict[int, dict[str, _Entry]] = field(default_factory=dict)
    _away: dict[str, set[int]] = field(default_factory=dict)

    async def attach(self, meeting_id: int, participant: Participant, sid: str) -> bool:
        """See ``PresenceStore.attach``."""
        room = self._meetings.setdefault(meeting_id, {})
        entry = room.get(participant.key)
        self._away.get(participant.key, set()).discard(meeting_id)
        if entry is None:
            room[participant.key] = _Entry(participant, {sid})
            return True
        entry.set(replace(participant, connected=True))
        entry.sids.add(sid)
        return False

    async def detach(self, meeting_id: int, key: str, sid: str) -> bool:
        """See ``PresenceStore.detach``."""
        entry = self._meetings.get(meeting_id, {}).get(key)
        if entry is None or sid not in entry.sids:
            return False
        entry.sids.discard(sid)
        if entry.sids:
            return False
        entry.set(replace(entry.participant, connected=False))
        self._away.setdefault(key, set()).add(meeting_id)
        return True

    async def remove_if_disconnected(self, meeting_id: int, key: str) -> bool:
        """See ``PresenceStore.remove_if_disconnected``."""
        room = self._meetings.get(meeting_id, {})
        entry = room.get(key)
        if entry is None or entry.sids:
            return False
        del room[key]
        if not room:
            self._meetings.pop(meeting_id, None)
        away = self._away.get(key)
        if away is not None:
            away.discard(meeting_id)
            if not away:
                del self._away[key]
        return True

    async def snapshot(self, meeting_id: int) -> list[dict[str, Any]]:
        """See ``PresenceStore.snapshot``."""
        return [e.public for e in self._meetings.get(meeting_id, {}).values()]

    async def count(self, meeting_id: int) -> int:
        """See ``PresenceStore.count``."""
        return len(self._meetings.get(meeting_id, {}))

    async def get(self, meeting_id: int, key: str) -> Participant | None:
        """See ``PresenceStore.get``."""
        entry = self._meetings.get(meeting_id, {}).get(key)
        return entry.participant if entry else None

    async def disconnected_meetings(self, key: str) -> list[int]:
        """See ``PresenceStore.disconnected_meetings``."""
        return sorted(self._away.get(key, set()))

    async def clear(self, meeting_id: int) -> None:
        """See ``PresenceStore.clear``."""
        for key in self._meetings.pop(meeting_id, {}):
            self._away.get(key, set()).discard(meeting_id)


# Lua keeps each step atomic across processes. KEYS: presence hash, sid set, away set.
_ATTACH = """
redis.call('SADD', KEYS[2], ARGV[3])
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SREM', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if existed == 1 then return 0 end
return 1
"""
_DETACH = """
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then return 0 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local p = cjson.decode(raw)
  p['connected'] = false
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(p))
end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
"""
_REMOVE_IF_DISCONNECTED = """
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


@dataclass
class RedisPresence:
    """Presence shared by several signaling processes."""

    redis: Redis
    prefix: str = "phonghop:presence:"
    ttl_seconds: int = 86400

    def __post_init__(self) -> None:
        self._attach = self.redis.register_script(_ATTACH)
        self._detach = self.redis.register_script(_DETACH)
        self._remove = self.redis.register_script(_REMOVE_IF_DISCONNECTED)

    def _keys(self, meeting_id: int, key: str) -> list[str]:
        return [
            f"{self.prefix}{meeting_id}",
            f"{self.prefix}{meeting_id}:sids:{key}",
            f"{self.prefix}away:{key}",
        ]

    async def attach(self, meeting_id: int, participant: Participant, sid: str) -> bool:
        """See ``PresenceStore.attach``."""
        data = json.dumps(replace(participant, connected=True).as_dict(), ensure_ascii=False)
        args = [participant.key, data, sid, meeting_id, self.ttl_seconds]
        return bool(await self._attach(keys=self._keys(meeting_id, participant.key), args=args))

    async def detach(self, meeting_id: int, key: str, sid: str) -> bool:
        """See ``PresenceStore.detach``."""
        args = [key, sid, meeting_id, self.ttl_seconds]
        return bool(await self._detach(keys=self._keys(meeting_id, key), args=args))

    async def remove_if_disconnected(self, meeting_id: int, key: str) -> bool:
        """See ``PresenceStore.remove_if_disconnected``."""
        return bool(await self._remove(keys=self._keys(meeting_id, key), args=[key, meeting_id]))

    async def snapshot(self, meeting_id: int) -> list[dict[str, Any]]:
        """See ``PresenceStore.snapshot``."""
        return [json.loads(item) for item in await self.redis.hvals(f"{self.prefix}{meeting_id}")]

    async def count(self, meeting_id: int) -> int:
        """See ``PresenceStore.count``."""
        return int(await self.redis.hlen(f"{self.prefix}{meeting_id}"))

    async def get(self, meeting_id: int, key: str) -> Participant | None:
        """See ``PresenceStore.get``."""
        raw = await self.redis.hget(f"{self.prefix}{meeting_id}", key)
        return Participant(**json.loads(raw)) if raw else None

    async def disconnected_meetings(self, key: str) -> list[int]:
        """See ``PresenceStore.disconnected_meetings``."""
        return sorted(int(m) for m in await self.redis.smembers(f"{self.prefix}away:{key}"))

    async def clear(self, meeting_id: int) -> None:
        """See ``PresenceStore.clear``."""
        hkey = f"{self.prefix}{meeting_id}"
        keys = await self.redis.hkeys(hkey)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                k = key.decode() if isinstance(key, bytes) else key
                pipe.delete(f"{self.prefix}{meeting_id}:sids:{k}")
                pipe.srem(f"{self.prefix}away:{k}", meeting_id)
            pipe.delete(hkey)
            await pipe.execute()
