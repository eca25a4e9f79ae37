"""Every use of aiortc internals lives here, checked against the pinned aiortc version.

aiortc hands each decrypted RTP packet to an ``RTCRtpReceiver``, which always runs NACK,
jitter buffer and decoder (aiortc issues 449 and 627: it has no forwarding mode). An SFU must
forward encoded packets instead, so we take them one step earlier: ``RTCDtlsTransport`` calls
``self._handle_rtp_data(data, arrival_time_ms=...)`` with the SRTP-unprotected datagram; the
tap replaces that method on one transport instance and gives the bytes to the media plane
untouched. Sending goes the other way round aiortc's coroutine send: SRTP protect, aioice's
nominated pair, the datagram transport, all synchronous.

Internals used: ``RTCDtlsTransport._handle_rtp_data`` / ``_tx_srtp`` / ``transport._connection``,
aioice ``Connection._nominated``, ``RTCRtpTransceiver._codecs``, ``RTCRtpSender._ssrc``, and
pylibsrtp's ``Session._srtp`` with its cffi binding (``pylibsrtp._binding``, pinned too).
``check_aiortc`` checks what exists on the classes; tests/media/test_aiortc_hooks.py and
tests/media/test_forwarding.py exercise the instance-level ones with real peers and fail
loudly if an upgrade moves any of them.
"""

import asyncio
import inspect
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aioice
import aiortc
import pylibsrtp
from aioice import ice as aioice_ice
from aioice import turn as aioice_turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aiortc import RTCPeerConnection
from aiortc import clock as aiortc_clock
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from pylibsrtp import Session
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

PINNED_AIORTC = "1.16.0"
PINNED_PYLIBSRTP = "1.0.0"
SEND_BUFFER_BYTES = 1500 + 148  # an MTU-sized packet plus libsrtp's largest trailer
SRTP_TRAILER_BYTES = 148  # SRTP_MAX_TAG_LEN + SRTP_MAX_MKI_LEN
RtpSink = Callable[[bytes, int], None]  # (decrypted RTP datagram, arrival time in ms)


class AiortcIncompatible(RuntimeError):
    """The installed aiortc is not the one these hooks were written and tested against."""


def check_aiortc() -> None:
    """Refuse to run on an aiortc whose internals we have not checked."""
    if aiortc.__version__ != PINNED_AIORTC:
        raise AiortcIncompatible(
            f"aiortc {aiortc.__version__} installed, media/aiortc_hooks.py targets {PINNED_AIORTC}"
        )
    handler = getattr(RTCDtlsTransport, "_handle_rtp_data", None)
    if handler is None or not inspect.iscoroutinefunction(handler):
        raise AiortcIncompatible("RTCDtlsTransport._handle_rtp_data is gone or no longer async")
    if list(inspect.signature(handler).parameters) != ["self", "data", "arrival_time_ms"]:
        raise AiortcIncompatible("RTCDtlsTransport._handle_rtp_data changed its parameters")
    for name in ("_send_rtp", "_recv_next", "_handle_rtcp_data"):
        if not inspect.iscoroutinefunction(getattr(RTCDtlsTransport, name, None)):
            raise AiortcIncompatible(f"RTCDtlsTransport.{name} is gone or no longer async")
    if pylibsrtp.__version__ != PINNED_PYLIBSRTP:
        raise AiortcIncompatible(
            f"pylibsrtp {pylibsrtp.__version__} installed, RtpSendPath targets {PINNED_PYLIBSRTP}"
        )


def tap_rtp(transport: RTCDtlsTransport, sink: RtpSink) -> None:
    """Deliver this transport's incoming RTP to ``sink`` instead of aiortc's receivers.

    ``sink`` is called synchronously on the event loop for every packet: it must not block.
    RTCP keeps flowing through aiortc (``_handle_rtcp_data``) until the SFU takes it over too.
    """
    check_aiortc()

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        sink(data, arrival_time_ms)

    # An instance attribute shadows the class method for this transport only.
    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]


def clock_ms() -> int:
    """Now, on the clock of the ``arrival_time_ms`` aiortc hands to ``_handle_rtp_data``."""
    return aiortc_clock.current_ms()


def observe_rtp(transport: RTCDtlsTransport, sink: RtpSink) -> None:
    """Show this transport's incoming RTP to ``sink``, then let aiortc's receivers have it.

    For endpoints that both decode and inspect what arrives (tests, the benchmark's one
    decoding subscriber).
    """
    check_aiortc()
    stock = transport._handle_rtp_data

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        sink(data, arrival_time_ms)
        await stock(data, arrival_time_ms)

    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]


def untap_rtp(transport: RTCDtlsTransport) -> None:
    """Give the transport's RTP back to aiortc's own receivers."""
    transport.__dict__.pop("_handle_rtp_data", None)


class SrtpError(OSError):
    """libsrtp refused to protect a packet (its error code is ``errno``)."""


class RtpSendPath:
    """One consumer's per-packet send path: write the packet into ``buffer``, ``send`` it.

    Cut to two C calls: libsrtp's ``srtp_protect`` in place on our own buffer, then the UDP
    socket's ``sendto`` on aioice's nominated pair. pylibsrtp's ``Session.protect`` would copy
    the packet in, allocate a length cell and copy it out again on every call (about 0.6 µs of
    the ~2.5 µs it costs here), so the session's ``srtp_t`` is called through pylibsrtp's own
    cffi binding. ``send`` raises ``BlockingIOError`` when the socket's buffer is full (the
    consumer drops the packet: a stalled link never queues in the server), ``OSError`` if the
    path is gone. The nominated pair can change (ICE restart, consent lost): callers resolve
    again at each stream switch and reporting round.
    """

    __slots__ = ("_cdata", "_length", "_sendto", "_session", "_srtp", "_to", "_view", "buffer")

    def __init__(self, session: Session, sendto: Callable[..., int], address: Any) -> None:
        self._session = session  # keeps the srtp_t alive
        self._srtp = session._srtp[0]
        self._cdata = _srtp_ffi.new("char[]", SEND_BUFFER_BYTES)
        self._view = memoryview(_srtp_ffi.buffer(self._cdata))
        self.buffer = self._view[: SEND_BUFFER_BYTES - SRTP_TRAILER_BYTES]  # room for the tag
        self._length = _srtp_ffi.new("int *")
        self._sendto = sendto
        self._to = address

    def send(self, length: int) -> None:
        """Protect the first ``length`` bytes of ``buffer`` and send them."""
        self._length[0] = length
        error = _srtp_lib.srtp_protect(self._srtp, self._cdata, self._length)
        if error:
            raise SrtpError(error, "srtp_protect failed")
        self._sendto(self._view[: self._length[0]], self._to)

    def send_packet(self, packet: bytes) -> None:
        """Copy ``packet`` into the buffer and send it (retransmissions, tests)."""
        if len(packet) > len(self.buffer):
            raise ValueError("packet too long for the send buffer")
        self.buffer[: len(packet)] = packet
        self.send(len(packet))


def rtp_send_path(transport: RTCDtlsTransport) -> RtpSendPath | None:
    """The transport's send path, resolved now; None if it is not connected (yet, or any more)."""
    srtp = getattr(transport, "_tx_srtp", None)
    pair = transport.transport._connection._nominated.get(1)
    if srtp is None or pair is None or pair.protocol.transport is None:
        return None
    # asyncio's own socket (non-blocking); its transport would buffer, we want to drop
    sendto = pair.protocol.transport._sock.sendto
    return RtpSendPath(srtp, sendto, pair.remote_addr)


# RTCP (a few packets per second per transport) goes through asyncio's transport, which buffers
# on a full socket; beyond this backlog a stalled link's reports are dropped, not queued.
MAX_PENDING_BYTES = 256 * 1024


def send_rtcp_nowait(transport: RTCDtlsTransport, packet: bytes) -> bool:
    """SRTCP-protect and send one RTCP packet without awaiting; False if it was dropped."""
    srtp = getattr(transport, "_tx_srtp", None)
    pair = transport.transport._connection._nominated.get(1)
    if srtp is None or pair is None:
        return False  # not connected (yet, or any more)
    udp = pair.protocol.transport
    if udp is None or udp.get_write_buffer_size() > MAX_PENDING_BYTES:
        return False
    udp.sendto(srtp.protect_rtcp(packet), pair.remote_addr)
    return True


def tap_rtcp(transport: RTCDtlsTransport, sink: Callable[[bytes], None]) -> None:
    """Show this transport's incoming (decrypted) RTCP to ``sink`` first.

    aiortc still processes it afterwards: its senders keep their receiver-report statistics.
    """
    check_aiortc()
    stock = transport._handle_rtcp_data

    async def handle_rtcp_data(data: bytes) -> None:
        sink(data)
        await stock(data)

    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]


def take_rtcp(transport: RTCDtlsTransport, sink: Callable[[bytes], None]) -> None:
    """Give this transport's incoming (decrypted) RTCP to ``sink`` only.

    For the SFU's own transports: aiortc's senders and receivers there never run (see
    ``detach_media``), so its RTCP dispatch would only parse packets into objects nobody reads.
    """
    check_aiortc()

    async def handle_rtcp_data(data: bytes) -> None:
        sink(data)

    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]


async def _not_started(*_: object) -> None:
    return None


def detach_media(transceiver: RTCRtpTransceiver) -> None:
    """Keep aiortc's sender and receiver of an SFU transceiver from ever starting.

    On the SFU, RTP goes around them (``tap_rtp`` in, ``rtp_send_path`` out). Started, a
    trackless sender polls for a track every 20 ms (a wake-up per consumer slot, 50 times a
    second) and sends sender reports of its own with zero counts, and a receiver starts a
    decoder thread. ``RTCPeerConnection`` starts them through these two methods only.
    """
    transceiver.sender.send = _not_started  # type: ignore[method-assign]
    transceiver.receiver.receive = _not_started  # type: ignore[method-assign]


def offered_direction(transceiver: RTCRtpTransceiver) -> str | None:
    """The direction the remote offer asks of us for this transceiver (aiortc's parse of it)."""
    return transceiver._offerDirection


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """One codec of the last negotiation, with its RTX payload type if RTX was agreed."""

    mime: str  # lower case, e.g. "video/vp8"
    payload_type: int
    clock_rate: int
    rtx_payload_type: int | None
    feedback: frozenset[str]  # "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[NegotiatedCodec]:
    """The media codecs both sides agreed on for a transceiver, in preference order."""
    rtx: dict[int, int] = {}
    for codec in transceiver._codecs:
        if codec.mimeType.lower().endswith("/rtx"):
            apt = codec.parameters.get("apt")
            if isinstance(apt, int) and codec.payloadType is not None:
                rtx[apt] = codec.payloadType
    found: list[NegotiatedCodec] = []
    for codec in transceiver._codecs:
        mime = codec.mimeType.lower()
        if mime.endswith("/rtx") or codec.payloadType is None:
            continue
        feedback = frozenset(
            f"{fb.type} {fb.parameter}" if fb.parameter else fb.type for fb in codec.rtcpFeedback
        )
        found.append(
            NegotiatedCodec(
                mime, codec.payloadType, codec.clockRate, rtx.get(codec.payloadType), feedback
            )
        )
    return found


def sender_ssrcs(transceiver: RTCRtpTransceiver) -> tuple[int, int]:
    """(media SSRC, RTX SSRC) aiortc announced in the SDP for a transceiver's sender."""
    return transceiver.sender._ssrc, transceiver.sender._rtx_ssrc


def outgoing_stream(transceiver: RTCRtpTransceiver, mime_type: str) -> tuple[int, int]:
    """(SSRC, negotiated payload type of ``mime_type``) of a transceiver's sender.

    aiortc keeps both private: the SSRC it announced in the SDP and the codec list agreed in
    the last negotiation. Forwarded packets must carry exactly these to be accepted.
    """
    for codec in transceiver._codecs:
        if codec.mimeType.lower() == mime_type.lower():
            return transceiver.sender._ssrc, codec.payloadType
    raise LookupError(f"{mime_type} was not negotiated on transceiver {transceiver.mid}")


# ---- Host candidates on our own sockets (media/ports.py) -------------------------------------
#
# aioice binds every host candidate itself, to port 0 (``Connection.get_component_candidates``:
# ``create_datagram_endpoint(..., local_addr=(address, 0))``), so a firewall cannot be told which
# UDP ports the SFU uses. ``gather_host_candidates_with`` replaces that method on the aioice
# connections of one peer connection: host sockets come from the given ``HostSockets`` (ports
# from the configured range); server reflexive candidates (STUN, or the announced address of a
# 1:1 NAT) are built on those sockets; TURN relays are still obtained by aioice's own code.
#
# Internals used: ``RTCPeerConnection.__createDtlsTransport`` / ``__iceTransports`` (name-mangled),
# ``RTCIceGatherer._connection``, aioice ``Connection.get_component_candidates`` /
# ``_protocols`` / ``_transport_policy`` / ``stun_server``, ``StunProtocol``,
# ``server_reflexive_candidate`` and ``turn.UDP_SOCKET_BUFFER_SIZE``. tests/media/test_ports.py
# exercises them with real peers.

PINNED_AIOICE = "0.13.0"
_CREATE_DTLS = "_RTCPeerConnection__createDtlsTransport"
_ICE_TRANSPORTS = "_RTCPeerConnection__iceTransports"
_HOOKED = "_phonghop_host_sockets"
_log = logging.getLogger("phonghop.media.ice")


class HostSockets(Protocol):
    """Where host candidates are bound (``media.ports.MediaNetwork`` implements it)."""

    def host_addresses(self, discovered: list[str]) -> list[str]:
        """Local addresses to bind, given those aioice discovered on the interfaces."""
        ...

    def open_socket(self, address: str) -> socket.socket:
        """A bound non-blocking UDP socket on ``address`` (raises when none can be had)."""
        ...

    def announced_address_for(self, host: str) -> str | None:
        """A public address to announce as server reflexive for a host candidate, or None."""
        ...


def check_aioice() -> None:
    """Refuse to gather on our sockets with an aioice/aiortc whose internals we have not checked."""
    check_aiortc()
    if aioice.__version__ != PINNED_AIOICE:
        raise AiortcIncompatible(
            f"aioice {aioice.__version__} installed, media/aiortc_hooks.py targets {PINNED_AIOICE}"
        )
    method = getattr(aioice_ice.Connection, "get_component_candidates", None)
    if method is None or not inspect.iscoroutinefunction(method):
        raise AiortcIncompatible("aioice Connection.get_component_candidates is gone or not async")
    if list(inspect.signature(method).parameters) != ["self", "component", "addresses", "timeout"]:
        raise AiortcIncompatible("aioice Connection.get_component_candidates changed parameters")
    if not callable(getattr(RTCPeerConnection, _CREATE_DTLS, None)):
        raise AiortcIncompatible("RTCPeerConnection.__createDtlsTransport is gone")
    for name in ("StunProtocol", "server_reflexive_candidate", "TransportPolicy"):
        if not hasattr(aioice_ice, name):
            raise AiortcIncompatible(f"aioice.ice.{name} is gone")
    if not isinstance(getattr(aioice_turn, "UDP_SOCKET_BUFFER_SIZE", None), int):
        raise AiortcIncompatible("aioice.turn.UDP_SOCKET_BUFFER_SIZE is gone")


def gather_host_candidates_with(pc: RTCPeerConnection, sockets: HostSockets) -> None:
    """Make every ICE gatherer of ``pc``, present and future, bind host candidates via ``sockets``.

    Must run before ``pc`` gathers (before its first ``setLocalDescription``); a gatherer that
    has already gathered cannot be moved and raises ``RuntimeError``. Idempotent.
    """
    check_aioice()
    if pc.__dict__.get(_HOOKED) is not None:
        if pc.__dict__[_HOOKED] is not sockets:
            raise RuntimeError("this peer connection already gathers on other host sockets")
        return
    for ice_transport in list(getattr(pc, _ICE_TRANSPORTS)):
        _hook_gatherer(ice_transport.iceGatherer, sockets)
    create_dtls = getattr(pc, _CREATE_DTLS)

    def create_dtls_transport() -> Any:
        dtls_transport = create_dtls()
        _hook_gatherer(dtls_transport.transport.iceGatherer, sockets)
        return dtls_transport

    # Instance attributes shadow the class's (name-mangled) method for this connection only.
    setattr(pc, _CREATE_DTLS, create_dtls_transport)
    setattr(pc, _HOOKED, sockets)


def _hook_gatherer(gatherer: Any, sockets: HostSockets) -> None:
    if gatherer.state != "new":
        raise RuntimeError(
            "ICE candidates were already gathered on OS-chosen ports: hook the peer connection"
            " before its first setLocalDescription"
        )
    connection: aioice_ice.Connection = gatherer._connection
    if connection.__dict__.get(_HOOKED) is not None:
        return
    stock = connection.get_component_candidates  # the bound class method

    async def get_component_candidates(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
    ) -> list[Candidate]:
        return await _gather_component(connection, stock, sockets, component, addresses, timeout)

    connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
    setattr(connection, _HOOKED, sockets)


async def _gather_component(
    connection: aioice_ice.Connection,
    stock: Any,
    sockets: HostSockets,
    component: int,
    addresses: list[str],
    wait_seconds: int,
) -> list[Candidate]:
    """aioice's ``get_component_candidates`` with the host sockets bound by ``sockets``."""
    # aioice passes no addresses under the relay-only policy: then there are no host candidates.
    relay_only = connection._transport_policy != aioice_ice.TransportPolicy.ALL
    hosts = [] if relay_only else sockets.host_addresses(list(addresses))
    loop = asyncio.get_running_loop()
    protocols: list[aioice_ice.StunProtocol] = []
    candidates: list[Candidate] = []
    try:
        for address in hosts:
            try:
                # An exhausted port range is not an OSError: the caller must hear about it.
                sock = sockets.open_socket(address)
            except OSError as exc:  # e.g. a configured address that is not (or no longer) local
                _log.warning("could not bind a host candidate on %s: %s", address, exc)
                continue
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, aioice_turn.UDP_SOCKET_BUFFER_SIZE
                )
                _, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice_ice.StunProtocol(connection), sock=sock
                )
            except BaseException:
                sock.close()
                raise
            protocols.append(protocol)
            host, port = protocol.transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=port,
                type="host",
            )
            candidates.append(protocol.local_candidate)
    except BaseException:
        for protocol in protocols:
            await protocol.close()
        raise
    connection._protocols += protocols

    # A 1:1 NAT forwards its public address and the same port: announce it as STUN would.
    for protocol in protocols:
        local = protocol.local_candidate
        public = sockets.announced_address_for(local.host)
        if public is not None:
            candidates.append(_reflexive(local, public, local.port))

    # STUN (IPv4 host sockets, as aioice does) and TURN (aioice's own code, no host addresses).
    stun_tasks = []
    if connection.stun_server is not None:
        for protocol in protocols:
            if ipaddress.ip_address(protocol.local_candidate.host).version == 4:
                stun_tasks.append(
                    asyncio.create_task(
                        aioice_ice.server_reflexive_candidate(protocol, connection.stun_server)
                    )
                )
    relayed, reflexive = await asyncio.gather(
        stock(component=component, addresses=[], timeout=wait_seconds),
        _finished(stun_tasks, wait_seconds),
    )
    seen = {(c.type, c.host, c.port) for c in candidates}
    for candidate in [*reflexive, *relayed]:
        if (candidate.type, candidate.host, candidate.port) not in seen:
            seen.add((candidate.type, candidate.host, candidate.port))
            candidates.append(candidate)
    return candidates


def _reflexive(local: Candidate, host: str, port: int) -> Candidate:
    return Candidate(
        foundation=candidate_foundation("srflx", "udp", local.host),
        component=local.component,
        transport="udp",
        priority=candidate_priority(local.component, "srflx"),
        host=host,
        port=port,
        type="srflx",
        related_address=local.host,
        related_port=local.port,
    )


async def _finished(tasks: list[asyncio.Task[Any]], wait_seconds: float) -> list[Candidate]:
    """The candidates of the STUN queries answered within ``wait_seconds``; the rest cancelled."""
    if not tasks:
        return []
    done, pending = await asyncio.wait(tasks, timeout=wait_seconds)
    for task in pending:
        task.cancel()
    found = []
    for task in done:
        if task.exception() is None:
            found.append(task.result()[0])
        else:
            _log.info("STUN query failed: %s", task.exception())
    return found


# Header extensions the SFU needs aiortc to negotiate, with the ids aiortc uses when it is
# the offerer. Ids must be unique across audio and video under BUNDLE (aiortc's own note in
# aiortc/codecs/__init__.py); 10 and 11 are also the ids Chromium offers for these two.
SFU_VIDEO_HEADER_EXTENSIONS = (
    ("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", 10),
    ("urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", 11),
)


def enable_sfu_header_extensions() -> None:
    """Let aiortc negotiate the simulcast RID header extensions (RFC 8852) for video.

    A deliberate process-wide change: aiortc keeps the extensions it supports in the
    module-level ``aiortc.codecs.HEADER_EXTENSIONS``, which ``setRemoteDescription``
    intersects with the offer (``find_common_header_extensions``, keeping the offer's ids).
    Adding rtp-stream-id and repaired-rtp-stream-id there makes every answer (and every
    offer an aiortc peer in this process creates) carry them, so a simulcast publisher
    keeps tagging its layers. It affects negotiation only: aiortc parses these extensions
    but neither routes by them nor writes them into the packets it sends. Idempotent.

    Raises ``AiortcIncompatible`` if aiortc's structure is not the one this was written
    against (so the change could silently stop taking effect).
    """
    from aiortc import codecs as aiortc_codecs
    from aiortc import rtcpeerconnection
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

    check_aiortc()
    table = getattr(aiortc_codecs, "HEADER_EXTENSIONS", None)
    video = table.get("video") if isinstance(table, dict) else None
    if not isinstance(video, list) or not all(
        isinstance(ext, RTCRtpHeaderExtensionParameters) for kind in table.values() for ext in kind
    ):
        raise AiortcIncompatible("aiortc.codecs.HEADER_EXTENSIONS is no longer a dict of lists")
    # Negotiation must read the very object we change, not a copy taken at import.
    if getattr(rtcpeerconnection, "HEADER_EXTENSIONS", None) is not table:
        raise AiortcIncompatible("RTCPeerConnection no longer negotiates codecs.HEADER_EXTENSIONS")
    common = getattr(rtcpeerconnection, "find_common_header_extensions", None)
    probe = RTCRtpHeaderExtensionParameters(id=7, uri=SFU_VIDEO_HEADER_EXTENSIONS[0][0])
    if not callable(common) or common([probe], [probe]) != [probe]:
        raise AiortcIncompatible("find_common_header_extensions no longer matches by uri")

    ids_in_use = {ext.id: ext.uri for kind in table.values() for ext in kind}
    for uri, ext_id in SFU_VIDEO_HEADER_EXTENSIONS:
        if any(ext.uri == uri for ext in video):
            continue
        if ext_id in ids_in_use and ids_in_use[ext_id] != uri:
            raise AiortcIncompatible(f"aiortc now uses header extension id {ext_id} itself")
        video.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri))
        ids_in_use[ext_id] = uri
