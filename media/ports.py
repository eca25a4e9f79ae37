"""Which local addresses and UDP ports the media plane gathers ICE host candidates on.

A firewall in front of the SFU opens one UDP port range (``PHONGHOP_MEDIA_UDP_PORT_MIN``-
``MAX``); every host candidate the server offers must use a port inside it. aioice binds its host
sockets itself, to port 0, so ``bind_rtc_ports`` swaps in our binding for one peer connection
(the aioice side of that lives in ``media/aiortc_hooks.py``, the only module allowed to touch
aiortc/aioice internals). This module holds the policy: the port allocator, the address list and
the announced (public) address of a 1:1 NAT.

Ports are not reserved in-process: binding is the reservation. Each allocation starts at a random
port of the range and walks it, skipping ports in use, so several SFU worker processes share one
range without coordinating, and a port is free again the moment its socket closes (when the peer
connection is closed).
"""

import errno
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiortc import RTCPeerConnection

from media import aiortc_hooks

LOOPBACK_V4 = "127.0.0.1"


class PortRangeExhausted(RuntimeError):
    """Every UDP port of the configured range is taken on the address asked for."""

    def __init__(self, port_range: "PortRange", address: str) -> None:
        self.port_range = port_range
        self.address = address
        super().__init__(
            f"no free UDP port in {port_range.low}-{port_range.high} on {address}: all "
            f"{len(port_range)} are in use; widen PHONGHOP_MEDIA_UDP_PORT_MIN/MAX (and the "
            f"firewall rule) or spread endpoints over more servers"
        )


def _udp_socket(address: str) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    # No SO_REUSEADDR: on Linux it would let two UDP sockets share a port.
    return socket.socket(family, socket.SOCK_DGRAM)


def _bind(sock: socket.socket, address: str, port: int) -> None:
    if sock.family == socket.AF_INET6:
        sock.bind((address, port, 0, 0))
    else:
        sock.bind((address, port))


def bind_ephemeral(address: str) -> socket.socket:
    """A non-blocking UDP socket on ``address`` with a port the OS chooses."""
    sock = _udp_socket(address)
    try:
        _bind(sock, address, 0)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive range of UDP ports; ``bind`` hands out one free port of it."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 65535:
            raise ValueError(f"invalid UDP port range {self.low}-{self.high}")

    def __len__(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def candidates(self, start: int | None = None) -> Iterable[int]:
        """Every port of the range once, from ``start`` (default: random) round to just before."""
        size = len(self)
        first = secrets.randbelow(size) if start is None else (start - self.low) % size
        for i in range(size):
            yield self.low + (first + i) % size

    def bind(self, address: str) -> socket.socket:
        """A non-blocking UDP socket bound to ``address`` on a free port of the range.

        Raises ``PortRangeExhausted`` when every port is in use on that address, and the
        ``OSError`` of the first failure that is not "in use" (e.g. the address is not local).
        """
        sock = _udp_socket(address)
        try:
            for port in self.candidates():
                try:
                    _bind(sock, address, port)
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        continue
                    raise
                sock.setblocking(False)
                return sock
        except BaseException:
            sock.close()
            raise
        sock.close()
        raise PortRangeExhausted(self, address)


@dataclass(frozen=True, slots=True)
class MediaNetwork:
    """Where host candidates are gathered and what the server announces to clients.

    ``port_range`` None: the OS picks ephemeral ports. ``bind_addresses`` None: every
    non-loopback address aioice discovers, plus 127.0.0.1 when ``include_loopback`` (a browser
    on the server itself, development). ``announced_address``: the public IP of a 1:1 NAT in
    front of the server; each non-loopback host candidate of the same IP family gets a server
    reflexive candidate with that IP and the same port, which is what a STUN query would
    return through such a NAT (so the forwarded port range must equal the local one).
    """

    port_range: PortRange | None = None
    bind_addresses: tuple[str, ...] | None = None
    announced_address: str | None = None
    include_loopback: bool = True

    def host_addresses(self, discovered: Sequence[str]) -> list[str]:
        """The local addresses to bind, given what aioice found on the interfaces."""
        if self.bind_addresses is not None:
            return list(self.bind_addresses)
        addresses = list(discovered)
        if self.include_loopback and LOOPBACK_V4 not in addresses:
            addresses.append(LOOPBACK_V4)
        return addresses

    def open_socket(self, address: str) -> socket.socket:
        """A bound, non-blocking UDP socket for a host candidate on ``address``."""
        if self.port_range is None:
            return bind_ephemeral(address)
        return self.port_range.bind(address)

    def announced_address_for(self, host: str) -> str | None:
        """The public address to announce for a host candidate on ``host``, if any."""
        if self.announced_address is None:
            return None
        local = ipaddress.ip_address(host)
        public = ipaddress.ip_address(self.announced_address)
        if local.is_loopback or local.version != public.version or local == public:
            return None
        return self.announced_address


def bind_rtc_ports(pc: RTCPeerConnection, network: MediaNetwork) -> None:
    """Gather every host candidate of ``pc`` according to ``network``.

    Call it right after creating the peer connection, before any ``setLocalDescription``: it
    covers the ICE transports the connection creates later (renegotiation) too. The sockets
    close, and their ports are free again, when ``pc`` is closed. When the range is
    exhausted, ``setLocalDescription`` raises ``PortRangeExhausted``.
    """
    aiortc_hooks.gather_host_candidates_with(pc, network)


__all__ = [
    "MediaNetwork",
    "PortRange",
    "PortRangeExhausted",
    "bind_ephemeral",
    "bind_rtc_ports",
]
