"""socket.io wire encoding: orjson behind the ``dumps``/``loads`` interface python-socketio
and engine.io call, and a packet class that skips the search for binary attachments.

Join acknowledgements carry the meeting's whole participant list; with 1000 communes joining,
encoding them with the standard library was 8% of the server's time. orjson also refuses
integers beyond 64 bits, which keeps the protection engine.io's own ``loads`` adds.
"""

from typing import Any

import orjson
import socketio


def dumps(obj: Any, **_options: Any) -> str:
    """Compact JSON text (``separators`` and similar options are orjson's defaults already)."""
    return orjson.dumps(obj).decode()


def loads(data: str | bytes, **_options: Any) -> Any:
    """Parse JSON text; raises ``ValueError`` (``orjson.JSONDecodeError``) when malformed."""
    return orjson.loads(data)


class JsonPacket(socketio.packet.Packet):
    """socket.io packets that are never binary: everything the server sends is JSON.

    The stock packet walks every value of every outgoing payload looking for ``bytes``
    before encoding it; for the join ack, which lists every participant, that walk cost
    about as much as the JSON encoding itself. Binary packets from clients still decode.
    """

    uses_binary_events = False
