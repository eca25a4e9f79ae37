"""The benchmark's only uses of aiortc internals beyond media/aiortc_hooks.py.

``media.aiortc_hooks.tap_rtp`` takes a transport's decrypted RTP away from aiortc's receivers
(the subscribers count packets without running a receiver). Here: ``peek_rtp`` shows the RTP to
a counter and then gives it to aiortc anyway (the one decoding subscriber), and
``watch_sent_rtp`` shows every outgoing RTP packet, before SRTP protection, to a callback (the
publisher records send times; the relay server learns its encoders' timestamp origins).
Both replace ``RTCDtlsTransport`` coroutines on one instance, checked by
``media.aiortc_hooks.check_aiortc`` against the pinned aiortc.
"""

from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport

from media.aiortc_hooks import RtpSink, check_aiortc


def peer_transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    """The (bundled) DTLS transport of a negotiated peer connection."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is not None:
            return transport
    raise RuntimeError("the peer connection has no transport yet")


def peek_rtp(transport: RTCDtlsTransport, sink: RtpSink) -> None:
    """Show each decrypted incoming RTP packet to ``sink``, then let aiortc handle it."""
    check_aiortc()
    stock = transport._handle_rtp_data

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        sink(data, arrival_time_ms)
        await stock(data, arrival_time_ms)

    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]


def watch_sent_rtp(transport: RTCDtlsTransport, callback: Callable[[bytes], None]) -> None:
    """Call ``callback`` with every RTP packet aiortc sends on ``transport`` (before SRTP)."""
    check_aiortc()
    stock = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        callback(data)
        await stock(data)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
