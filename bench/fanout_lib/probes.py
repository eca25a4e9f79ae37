"""The benchmark's only uses of aiortc internals beyond media/aiortc_hooks.py.

``media.aiortc_hooks.tap_rtp`` takes a transport's decrypted RTP away from aiortc's receivers
(the subscribers count packets without running a receiver) and ``observe_rtp`` shows it to a
counter before aiortc (the one decoding subscriber, the relay). Here: ``watch_sent_rtp`` shows
every outgoing RTP packet, before SRTP protection, to a callback (the publisher records send
times; the relay server learns its encoders' timestamp origins); it replaces an
``RTCDtlsTransport`` coroutine on one instance; ``DirectReceiver`` reads a
connected peer's socket itself (the counting subscribers). All are checked by
``media.aiortc_hooks.check_aiortc`` against the pinned aiortc.
"""

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport

from media.aiortc_hooks import check_aiortc


def peer_transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    """The (bundled) DTLS transport of a negotiated peer connection."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is not None:
            return transport
    raise RuntimeError("the peer connection has no transport yet")


def watch_sent_rtp(transport: RTCDtlsTransport, callback: Callable[[bytes], None]) -> None:
    """Call ``callback`` with every RTP packet aiortc sends on ``transport`` (before SRTP)."""
    check_aiortc()
    stock = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        callback(data)
        await stock(data)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]


# Linux <asm-generic/socket.h>; Python's socket module does not export them.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
RtpAt = Callable[[bytes, float], None]


class DirectReceiver:
    """Reads a connected peer's socket itself: SRTP/SRTCP to callbacks, the rest to aioice.

    A counting subscriber must cost less than the SFU it measures and must not add its own
    delay to the latency it reports. aiortc's receive path queues every datagram twice (aioice's
    connection queue, then the DTLS transport's task) before ``tap_rtp`` sees it; ``drain``
    reads every waiting datagram at once, unprotects RTP with the transport's own SRTP session
    and passes its arrival time as the kernel stamped it (``SO_TIMESTAMPNS``), converted to
    ``time.monotonic``. STUN (consent) and DTLS datagrams still go to aioice's protocol.

    ``drain`` runs either when the socket becomes readable (``wake_on_arrival``) or from the
    caller's own timer. On one machine the server's ``sendto`` also pays for waking the
    process that waits on the socket, a cost a server sending to remote endpoints never has;
    a subscriber that drains on a timer is not waiting on its sockets, and its latency
    samples are the kernel's stamps either way. Create it once ICE has connected; ``close``
    it before closing the peer connection.
    """

    def __init__(
        self, transport: RTCDtlsTransport, on_rtp: RtpAt, on_rtcp: Callable[[bytes], None]
    ) -> None:
        check_aiortc()
        pair = transport.transport._connection._nominated[1]
        self._protocol = pair.protocol
        self._udp = self._protocol.transport
        # asyncio lets no other reader on a transport's descriptor: pause the transport and
        # read a duplicate of the socket (the same kernel socket) instead.
        self._sock = socket.socket(fileno=os.dup(self._udp.get_extra_info("socket").fileno()))
        self._sock.setblocking(False)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._srtp = transport._rx_srtp
        self._on_rtp, self._on_rtcp = on_rtp, on_rtcp
        self._ancillary = socket.CMSG_SPACE(_TIMESPEC.size)
        self._monotonic_minus_real = time.monotonic() - time.time()
        self._loop = asyncio.get_running_loop()
        self._watching = False
        self._udp.pause_reading()

    def drain(self) -> None:
        """Handle every datagram waiting on the socket."""
        sock, srtp, protocol = self._sock, self._srtp, self._protocol
        while True:
            try:
                data, cmsgs, _, addr = sock.recvmsg(2048, self._ancillary)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            if not data or not 127 < data[0] < 192:
                protocol.datagram_received(data, addr)  # STUN, DTLS
                continue
            try:
                if 192 <= data[1] <= 223:
                    self._on_rtcp(srtp.unprotect_rtcp(data))
                    continue
                packet = srtp.unprotect(data)
            except pylibsrtp.Error:
                continue
            arrival = time.monotonic()
            for level, kind, payload in cmsgs:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
                    arrival = seconds + nanoseconds * 1e-9 + self._monotonic_minus_real
            self._on_rtp(packet, arrival)

    def wake_on_arrival(self) -> None:
        """Drain whenever the socket becomes readable (the event loop waits on it)."""
        self._loop.add_reader(self._sock.fileno(), self.drain)
        self._watching = True

    def close(self) -> None:
        """Stop reading; the duplicate descriptor is closed, the peer's own socket is not."""
        if self._watching:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
