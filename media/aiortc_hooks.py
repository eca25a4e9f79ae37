"""Every use of aiortc internals lives here, checked against the pinned aiortc version.

aiortc hands each decrypted RTP packet to an ``RTCRtpReceiver``, which always runs NACK,
jitter buffer and decoder (aiortc issues 449 and 627: it has no forwarding mode). An SFU must
forward encoded packets instead, so we take them one step earlier: ``RTCDtlsTransport`` calls
``self._handle_rtp_data(data, arrival_time_ms=...)`` with the SRTP-unprotected datagram; the
tap replaces that method on one transport instance and gives the bytes to the media plane
untouched. tests/media/test_aiortc_hooks.py fails loudly if an upgrade moves any of this.
"""

import inspect
from collections.abc import Callable

import aiortc
from aiortc.rtcdtlstransport import RTCDtlsTransport

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


async def send_rtp(transport: RTCDtlsTransport, packet: bytes) -> None:
    """SRTP-protect and send one RTP packet on this transport (aiortc's own send step)."""
    await transport._send_rtp(packet)
