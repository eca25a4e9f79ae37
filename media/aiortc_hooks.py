"""Every use of aiortc internals lives here, checked against the pinned aiortc version.

aiortc hands each decrypted RTP packet to an ``RTCRtpReceiver``, which always runs NACK,
jitter buffer and decoder (aiortc issues 449 and 627: it has no forwarding mode). An SFU must
forward encoded packets instead, so we take them one step earlier: ``RTCDtlsTransport`` calls
``self._handle_rtp_data(data, arrival_time_ms=...)`` with the SRTP-unprotected datagram; the
tap replaces that method on one transport instance and gives the bytes to the media plane
untouched. Sending goes the other way round aiortc's coroutine send: SRTP protect, aioice's
nominated pair, the datagram transport, all synchronous.

Internals used: ``RTCDtlsTransport._handle_rtp_data`` / ``_tx_srtp`` / ``transport._connection``,
aioice ``Connection._nominated``, ``RTCRtpTransceiver._codecs``, ``RTCRtpSender._ssrc``.
``check_aiortc`` checks what exists on the classes; tests/media/test_aiortc_hooks.py and
tests/media/test_forwarding.py exercise the instance-level ones with real peers and fail
loudly if an upgrade moves any of them.
"""

import inspect
from collections.abc import Callable

import aiortc
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

PINNED_AIORTC = "1.16.0"
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


def untap_rtp(transport: RTCDtlsTransport) -> None:
    """Give the transport's RTP back to aiortc's own receivers."""
    transport.__dict__.pop("_handle_rtp_data", None)


# A consumer whose UDP socket cannot keep up drops its own packets instead of letting asyncio
# buffer them without bound (a stalled commune link must not grow the server's memory).
MAX_PENDING_BYTES = 256 * 1024


def _send_datagram(transport: RTCDtlsTransport, protect: str, packet: bytes) -> bool:
    srtp = getattr(transport, "_tx_srtp", None)
    pair = transport.transport._connection._nominated.get(1)
    if srtp is None or pair is None:
        return False  # not connected (yet, or any more)
    udp = pair.protocol.transport
    if udp is None or udp.get_write_buffer_size() > MAX_PENDING_BYTES:
        return False
    udp.sendto(getattr(srtp, protect)(packet), pair.remote_addr)
    return True


def send_rtp_nowait(transport: RTCDtlsTransport, packet: bytes) -> bool:
    """SRTP-protect and send one RTP packet without awaiting; False if it was dropped.

    aiortc's own ``_send_rtp`` is a coroutine (a task per packet per consumer on the hot
    path); every step under it is synchronous: SRTP protect, aioice's nominated candidate
    pair, and the asyncio datagram transport.
    """
    return _send_datagram(transport, "protect", packet)


def send_rtcp_nowait(transport: RTCDtlsTransport, packet: bytes) -> bool:
    """SRTCP-protect and send one RTCP packet without awaiting; False if it was dropped."""
    return _send_datagram(transport, "protect_rtcp", packet)


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


def outgoing_stream(transceiver: RTCRtpTransceiver, mime_type: str) -> tuple[int, int]:
    """(SSRC, negotiated payload type of ``mime_type``) of a transceiver's sender.

    aiortc keeps both private: the SSRC it announced in the SDP and the codec list agreed in
    the last negotiation. Forwarded packets must carry exactly these to be accepted.
    """
    for codec in transceiver._codecs:
        if codec.mimeType.lower() == mime_type.lower():
            return transceiver.sender._ssrc, codec.payloadType
    raise LookupError(f"{mime_type} was not negotiated on transceiver {transceiver.mid}")
