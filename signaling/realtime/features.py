"""socket.io events of the meeting features (agenda, documents, voting, ...).

Each feature module has ``install(gateway)``, which adds its ``EventSpec``s to
``gateway.events``; the gateway calls ``install_all`` once it has registered its own events.
A feature adds its module to ``INSTALLERS`` (one line).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from signaling.realtime import proceedings_events, recording_events, room_events, voting_events

if TYPE_CHECKING:
    from signaling.realtime.gateway import SignalingGateway

INSTALLERS: list[Callable[["SignalingGateway"], None]] = [
    proceedings_events.install,
    voting_events.install,
    room_events.install,
    recording_events.install,
]


def install_all(gateway: "SignalingGateway") -> None:
    """Register every feature's events on ``gateway``."""
    for install in INSTALLERS:
        install(gateway)
