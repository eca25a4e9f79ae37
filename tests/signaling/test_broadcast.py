"""PresenceBroadcaster: order-preserving coalescing and a room-size-adaptive interval."""

from typing import Any

from signaling.realtime.broadcast import PresenceBroadcaster
from signaling.realtime.presence import Participant


def _p(key: str) -> Participant:
    kind, _, raw = key.partition(":")
    return Participant(key, kind, int(raw), key, 1, "Xã", None, "participant")


class _Room:
    def __init__(self, size: int) -> None:
        self.size = size
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        self.sent.append((event, data, room))

    async def count(self, meeting_id: int) -> int:
        return self.size


async def test_changes_are_coalesced_into_runs_in_order():
    room = _Room(size=2)
    b = PresenceBroadcaster(room.emit, room.count, interval=0.1)
    b.joined(7, _p("endpoint:1"))
    b.joined(7, _p("endpoint:2"))
    b.left(7, _p("endpoint:1"))
    b.joined(7, _p("endpoint:3"))
    await b.flush()
    assert [(e, [p["key"] for p in d["participants"]], r) for e, d, r in room.sent] == [
        ("participant.joined", ["endpoint:1", "endpoint:2"], "meeting:7"),
        ("participant.left", ["endpoint:1"], "meeting:7"),
        ("participant.joined", ["endpoint:3"], "meeting:7"),
    ]
    assert all(d["count"] == 2 and d["meeting_id"] == 7 for _, d, _ in room.sent)
    room.sent.clear()
    await b.flush()
    assert room.sent == []  # nothing pending, nothing sent


async def test_interval_grows_with_the_room_and_is_capped():
    room = _Room(size=10)
    b = PresenceBroadcaster(room.emit, room.count, interval=0.1, recipients_per_second=2000)
    b.joined(1, _p("account:1"))
    assert b._delay() == 0.1  # size not known yet: the base interval
    await b.flush()
    b.joined(1, _p("account:2"))
    assert b._delay() == 0.1  # small room
    room.size = 1000
    await b.flush()
    b.joined(1, _p("account:3"))
    assert b._delay() == 0.5  # 1000 recipients at 2000 writes/s
    room.size = 100_000
    await b.flush()
    b.joined(1, _p("account:4"))
    assert b._delay() == b.max_interval
    room.size = 0
    await b.flush()
    assert 1 not in b._sizes  # an emptied meeting is forgotten
