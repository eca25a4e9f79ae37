"""A user-space UDP relay on loopback that drops, delays and reorders datagrams, for tests.

Two WebRTC peers are made to talk through it by rewriting their SDPs (``LossyRelay.route_to``
for the peer the relay delivers to, ``LossyRelay.advertise`` for the other): every candidate
the far side learns is the relay's address, so the relay is the only path.

aioice never offers 127.0.0.1 as a candidate (``aioice.ice.get_host_addresses`` leaves it
out); the peers' sockets are bound to the machine's other addresses. The relay still listens
on 127.0.0.1: Linux delivers a datagram from a socket bound to 192.0.2.2 to 127.0.0.1 and back,
so the IPv4 host candidate is rewritten to point at the relay, and the IPv6 ones are removed
(an IPv6 socket cannot reach an IPv4 relay, so no candidate pair bypasses it).

Datagram classes by first byte (RFC 7983): 0–3 STUN, 20–63 DTLS, 128–191 RTP or RTCP (RTCP
when the second byte is 192–223, RFC 5761). SRTP keeps the RTP header in the clear, so the
relay can read payload type, sequence number and SSRC of the packets it drops.
"""

import asyncio
import random
import re
import struct
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Self

Address = tuple[str, int]
DropPredicate = Callable[[int, bytes], bool]  # (index of the datagram, datagram) → drop it?
Observer = Callable[[str, bytes, bool], None]  # (direction, datagram, dropped)
TO_TARGET, TO_CLIENT = "to_target", "to_client"


def kind(data: bytes) -> str:
    """'stun', 'dtls', 'rtp', 'rtcp' or 'other' (RFC 7983 demultiplexing)."""
    if not data:
        return "other"
    first = data[0]
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 128 <= first <= 191:
        return "rtcp" if len(data) > 1 and 192 <= data[1] <= 223 else "rtp"
    return "other"


def rtp_fields(data: bytes) -> tuple[int, int, int]:
    """(payload type, sequence number, SSRC) from a (S)RTP header."""
    _, second, seq, _, ssrc = struct.unpack_from("!BBHII", data, 0)
    return second & 0x7F, seq, ssrc


def every_nth(n: int, start: int = 0, stop: int | None = None) -> DropPredicate:
    """Drops indexes ``start``, ``start + n``, … below ``stop`` (never if ``stop`` is reached)."""
    if n <= 0:
        raise ValueError("n must be positive")

    def predicate(index: int, data: bytes) -> bool:
        return index >= start and (stop is None or index < stop) and (index - start) % n == 0

    return predicate


def random_loss(rate: float, seed: int = 0) -> DropPredicate:
    """Drops each datagram with probability ``rate``, reproducibly for a given ``seed``."""
    rng = random.Random(seed)
    return lambda index, data: rng.random() < rate


@dataclass
class RtpOnly:
    """Applies a predicate to RTP packets only (optionally of some payload types).

    STUN, DTLS and RTCP always pass, so ICE and the handshake are untouched. The predicate
    sees the index among the matching RTP packets. With ``once`` (the default) a packet is
    dropped at most once (by SSRC and sequence number): a retransmission of a dropped packet
    always gets through, so a test can expect every loss to be repaired.
    """

    predicate: DropPredicate
    payload_types: Collection[int] | None = None
    once: bool = True
    seen: int = 0  # matching RTP packets so far
    dropped: list[tuple[int, int]] = field(default_factory=list)  # (SSRC, sequence number)
    _dropped_set: set[tuple[int, int]] = field(default_factory=set)

    def __call__(self, index: int, data: bytes) -> bool:
        if kind(data) != "rtp" or len(data) < 12:
            return False
        payload_type, seq, ssrc = rtp_fields(data)
        if self.payload_types is not None and payload_type not in self.payload_types:
            return False
        rtp_index = self.seen
        self.seen += 1
        key = (ssrc, seq)
        if self.once and key in self._dropped_set:
            return False
        if not self.predicate(rtp_index, data):
            return False
        self._dropped_set.add(key)
        self.dropped.append(key)
        return True


def rtp_only(
    predicate: DropPredicate, payload_types: Collection[int] | None = None, once: bool = True
) -> RtpOnly:
    """Wrap ``predicate`` so that it drops RTP (of ``payload_types``) and nothing else."""
    return RtpOnly(predicate, payload_types, once)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, relay: "LossyRelay") -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.relay._received(data, (addr[0], addr[1]))


class LossyRelay:
    """Forwards datagrams between one target and its last-seen client, losing some on purpose.

    Datagrams from the target side (the target, or any address in ``target_side``) go to the
    last client seen; datagrams from anyone else go to the target, and their sender becomes
    the client. ``drop`` is a ``DropPredicate`` called on every datagram in both directions with
    its index (count of datagrams the relay has received), or a loss rate applied to RTP only
    (seeded by ``seed``). ``delay_ms`` delays every datagram; ``reorder`` is the probability
    that a datagram is held back and sent after the next one in the same direction.
    """

    def __init__(
        self,
        target: Address | None = None,
        drop: DropPredicate | float | None = None,
        delay_ms: float = 0.0,
        reorder: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        observer: Observer | None = None,
    ) -> None:
        self.target = target
        self.target_side: set[Address] = set()
        self.client: Address | None = None
        if isinstance(drop, float | int) and not isinstance(drop, bool):
            drop = rtp_only(random_loss(float(drop), seed))
        self.drop: DropPredicate | None = drop
        self.delay_ms = delay_ms
        self.reorder = reorder
        self.host = host
        self.observer = observer
        self.received = 0
        self.forwarded: Counter[str] = Counter()  # by kind
        self.dropped: Counter[str] = Counter()  # by kind
        self.unroutable = 0  # no target, or no client yet
        self._rng = random.Random(seed)
        self._held: dict[str, tuple[bytes, Address, asyncio.TimerHandle]] = {}
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        """The UDP port the relay listens on."""
        if self._transport is None:
            raise RuntimeError("relay not started")
        return self._transport.get_extra_info("sockname")[1]

    @property
    def address(self) -> Address:
        """(host, port) the relay listens on."""
        return self.host, self.port

    async def start(self) -> Self:
        """Bind a free port on ``host``."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, 0)
        )
        return self

    def close(self) -> None:
        """Stop relaying; held datagrams are discarded."""
        for _, _, timer in self._held.values():
            timer.cancel()
        self._held.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def route_to(self, sdp: str) -> str:
        """Make the relay deliver to the peer that produced ``sdp``; return the SDP to give the
        other peer (every candidate replaced by the relay's address)."""
        self.target = host_candidate(sdp)
        self.target_side = candidate_addresses(sdp)
        return route_through(sdp, self.port, self.host)

    def advertise(self, sdp: str) -> str:
        """The client peer's ``sdp``, with every candidate replaced by the relay's address."""
        return route_through(sdp, self.port, self.host)

    def _received(self, data: bytes, addr: Address) -> None:
        index = self.received
        self.received += 1
        if self.target is None:
            self.unroutable += 1
            return
        if addr == self.target or addr in self.target_side:
            direction, destination = TO_CLIENT, self.client
        else:
            self.client = addr
            direction, destination = TO_TARGET, self.target
        if destination is None:
            self.unroutable += 1
            return
        dropped = self.drop is not None and self.drop(index, data)
        if self.observer is not None:
            self.observer(direction, data, dropped)
        if dropped:
            self.dropped[kind(data)] += 1
            return
        self._schedule(direction, data, destination)

    def _schedule(self, direction: str, data: bytes, destination: Address) -> None:
        held = self._held.pop(direction, None)
        if held is not None:  # the one held back goes right after this one
            held[2].cancel()
            self._later(data, destination)
            self._later(held[0], held[1])
            return
        if self.reorder and self._rng.random() < self.reorder:
            # Held until the next datagram in this direction, or 50 ms if none comes.
            timer = asyncio.get_running_loop().call_later(0.05, self._release, direction)
            self._held[direction] = (data, destination, timer)
            return
        self._later(data, destination)

    def _release(self, direction: str) -> None:
        held = self._held.pop(direction, None)
        if held is not None:
            self._later(held[0], held[1])

    def _later(self, data: bytes, destination: Address) -> None:
        if self.delay_ms > 0:
            asyncio.get_running_loop().call_later(
                self.delay_ms / 1000, self._send, data, destination
            )
        else:
            self._send(data, destination)

    def _send(self, data: bytes, destination: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, destination)
            self.forwarded[kind(data)] += 1


# --- SDP -------------------------------------------------------------------------------------

_CANDIDATE = re.compile(
    r"^a=candidate:(?P<foundation>\S+) (?P<component>\d+) (?P<transport>\S+) (?P<priority>\d+) "
    r"(?P<ip>\S+) (?P<port>\d+) typ (?P<type>\S+)(?P<rest>.*)$"
)


def _is_ipv4(ip: str) -> bool:
    parts = ip.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _udp_ipv4_host(line: str) -> re.Match[str] | None:
    match = _CANDIDATE.match(line)
    if (
        match is None
        or match["transport"].lower() != "udp"
        or match["type"] != "host"
        or not _is_ipv4(match["ip"])
    ):
        return None
    return match


def candidate_addresses(sdp: str) -> set[Address]:
    """Every (ip, port) of the UDP IPv4 host candidates in ``sdp``."""
    found = set()
    for line in sdp.splitlines():
        match = _udp_ipv4_host(line)
        if match is not None:
            found.add((match["ip"], int(match["port"])))
    return found


def host_candidate(sdp: str) -> Address:
    """(ip, port) of the first UDP IPv4 host candidate of component 1 (RTP) in ``sdp``."""
    for line in sdp.splitlines():
        match = _udp_ipv4_host(line)
        if match is not None and match["component"] == "1":
            return match["ip"], int(match["port"])
    raise LookupError("no UDP IPv4 host candidate in the SDP")


def route_through(sdp: str, relay_port: int, relay_host: str = "127.0.0.1") -> str:
    """``sdp`` with its candidates replaced by one host candidate at the relay per component.

    Per media section: the first UDP IPv4 host candidate of each component is rewritten to
    ``relay_host:relay_port``; every other candidate (IPv6, other interfaces, srflx, relay)
    is removed, so the relay is the only address the other peer knows. The ``m=`` port and
    ``c=`` address (the default candidate) are rewritten too.
    """
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out: list[str] = []
    kept: set[str] = set()  # components already given a relay candidate in this section
    for line in sdp.splitlines():
        if line.startswith("m="):
            kept = set()
            fields = line.split(" ")
            fields[1] = str(relay_port)
            line = " ".join(fields)
        elif line.startswith("c=IN "):
            line = f"c=IN IP4 {relay_host}"
        elif line.startswith("a=candidate:"):
            match = _udp_ipv4_host(line)
            if match is None or match["component"] in kept:
                continue
            kept.add(match["component"])
            line = (
                f"a=candidate:{match['foundation']} {match['component']} {match['transport']} "
                f"{match['priority']} {relay_host} {relay_port} typ host{match['rest']}"
            )
        out.append(line)
    return newline.join(out) + newline
