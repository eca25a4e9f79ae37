"""Each SFU's signaling, as seen by the publisher and subscriber processes."""

from typing import Any, Protocol

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

Prepare = Any  # Callable[[RTCPeerConnection], None]


class SfuClient(Protocol):
    """Negotiates peer connections with one SFU."""

    async def publish(self, pc: RTCPeerConnection) -> None:
        """Negotiate the publisher's connection (its tracks are already added)."""
        ...

    async def subscribe(self, pc: RTCPeerConnection, index: int, prepare: Prepare) -> None:
        """Negotiate a subscriber's connection to the publisher's audio and video.

        ``prepare(pc)`` is called once the connection has its transport and before media can
        flow (the subscriber taps the transport there).
        """
        ...

    async def close(self) -> None:
        """Release what the client holds (HTTP sessions, sockets)."""
        ...


def peer_connection() -> RTCPeerConnection:
    """A bench peer: no STUN server (one machine), everything on one bundled transport."""
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


def client_for(mode: str, config: dict[str, Any]) -> SfuClient:
    """The client for ``mode`` ("relay", "janus" or "phonghop")."""
    if mode == "relay":
        from .relay import RelayClient

        return RelayClient(config)
    if mode == "janus":
        from .janus import JanusClient

        return JanusClient(config)
    if mode == "phonghop":
        from .phonghop import PhonghopClient

        return PhonghopClient(config)
    raise ValueError(f"unknown SFU {mode!r}")
