"""What the SFU keeps and computes to answer consumers' feedback, without asyncio.

- ``PacketCache``: the last packets a producer forwarded, so a consumer's NACK can be answered
  by the SFU itself (the publisher may be on another commune's link, and its own history is
  keyed by its numbering, not the consumer's).
- ``rtx_packet``: an RFC 4588 retransmission of a cached packet.
- ``NackResponder``: consumer NACK → producer sequence numbers → cached packets.
- ``SenderReportClock``: the NTP/RTP pair of a consumer's Sender Report, on the producer's
  timeline, so browsers keep audio and video of one speaker in sync.
- ``BandwidthEstimate``: a consumer's usable bitrate from its REMBs and loss reports.

Times are passed in by the caller (the hot path already has them, and tests need no sleeps).
"""

import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from media.rtcp import ReportBlock

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_RTX_HEAD = struct.Struct("!BBHII")
_OSN = struct.Struct("!H")


def ntp_now() -> int:
    """The wall clock as a 64-bit NTP timestamp (seconds since 1900 << 32 | fraction)."""
    return unix_to_ntp(time.time())


def unix_to_ntp(seconds: float) -> int:
    """Unix time in seconds → 64-bit NTP timestamp."""
    whole = int(seconds)
    fraction = int((seconds - whole) * (1 << 32))
    return (whole + NTP_UNIX_OFFSET) << 32 | fraction


def ntp_to_unix(ntp: int) -> float:
    """64-bit NTP timestamp → Unix time in seconds."""
    return (ntp >> 32) - NTP_UNIX_OFFSET + (ntp & 0xFFFFFFFF) / (1 << 32)


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: what an RR's LSR field echoes."""
    return (ntp >> 16) & 0xFFFFFFFF


class PacketCache:
    """A ring of the last ``size`` RTP packets of one producer, indexed by sequence number.

    ``put`` is three list stores: no allocation, no eviction walk, so it can run for every
    forwarded packet. Slot ``seq & mask`` is overwritten by the packet 2^k sequence numbers
    later, so ``get`` checks the stored sequence number as well as the age.

    Measured on the 2-core dev box (Python 3.11)::

        >>> import timeit; from media.feedback import PacketCache
        >>> c, p = PacketCache(), bytes(1200)
        >>> timeit.timeit("c.put(s & 0xFFFF, p, s)", "s = 12345", globals=globals(),
        ...               number=1_000_000)  # seconds per million puts = µs per put
        0.059  # an empty method with the same arguments: 0.032; get(): 0.064
    """

    __slots__ = ("_arrivals", "_mask", "_newest_ms", "_packets", "_seqs", "max_age_ms")

    def __init__(self, size: int = 512, max_age_ms: int = 1000) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError("PacketCache size must be a power of two")
        self._mask = size - 1
        # Parallel lists instead of a list of (seq, bytes) tuples: a tuple per put would be
        # an allocation per packet on the hot path.
        self._seqs: list[int] = [-1] * size
        self._packets: list[bytes | None] = [None] * size
        self._arrivals: list[int] = [0] * size
        self._newest_ms = 0
        self.max_age_ms = max_age_ms

    def __len__(self) -> int:
        return self._mask + 1

    def put(self, seq: int, data: bytes, arrival_ms: int) -> None:
        """Remember ``data`` as packet ``seq`` (0–65535), received at ``arrival_ms``."""
        index = seq & self._mask
        self._seqs[index] = seq
        self._packets[index] = data
        self._arrivals[index] = arrival_ms
        self._newest_ms = arrival_ms

    def get(self, seq: int, now_ms: int | None = None) -> bytes | None:
        """Packet ``seq`` if it is still stored and at most ``max_age_ms`` old at ``now_ms``.

        ``now_ms`` defaults to the arrival time of the newest packet put, on the same clock
        as the arrival times (aiortc's are NTP-epoch milliseconds).
        """
        index = seq & self._mask
        if self._seqs[index] != seq:
            return None
        now = self._newest_ms if now_ms is None else now_ms
        if now - self._arrivals[index] > self.max_age_ms:
            return None
        return self._packets[index]

    def clear(self) -> None:
        """Forget every packet (the producer restarted its numbering)."""
        size = self._mask + 1
        self._seqs[:] = [-1] * size
        self._packets[:] = [None] * size


def rtx_packet(
    original: bytes, header_length: int, rtx_ssrc: int, rtx_pt: int, rtx_seq: int
) -> bytes:
    """An RFC 4588 retransmission of ``original`` on the RTX stream.

    The RTX packet keeps the marker, timestamp, CSRCs and header extensions, takes the RTX
    stream's SSRC, payload type and sequence number, and starts its payload with the original
    sequence number (OSN). The original's padding is dropped (it padded the original's length,
    not this one's), so the P bit is cleared. ``header_length`` is ``RtpHeader.header_length``.
    """
    end = len(original)
    if original[0] & 0x20:
        end -= original[-1]
    if end < header_length or header_length < 12:
        raise ValueError("RTP padding or header length larger than the packet")
    head = _RTX_HEAD.pack(
        original[0] & ~0x20 & 0xFF,
        (original[1] & 0x80) | (rtx_pt & 0x7F),
        rtx_seq & 0xFFFF,
        struct.unpack_from("!I", original, 4)[0],
        rtx_ssrc,
    )
    view = memoryview(original)
    return b"".join((head, view[12:header_length], original[2:4], view[header_length:end]))


def unwrap_rtx(rtx: bytes, header_length: int, ssrc: int, payload_type: int) -> bytes | None:
    """The original packet inside an RFC 4588 retransmission (None for padding-only probes).

    The original sequence number (OSN) leads the RTX payload; the original SSRC and payload
    type come from the stream the RTX one repairs. Padding is dropped, as ``rtx_packet`` does.
    """
    end = len(rtx)
    if rtx[0] & 0x20:
        end -= rtx[-1]
    if end - header_length < 2 or header_length < 12:
        return None  # Chromium probes bandwidth with RTX packets that are only padding
    head = _RTX_HEAD.pack(
        rtx[0] & ~0x20 & 0xFF,
        (rtx[1] & 0x80) | (payload_type & 0x7F),
        _OSN.unpack_from(rtx, header_length)[0],
        struct.unpack_from("!I", rtx, 4)[0],
        ssrc,
    )
    view = memoryview(rtx)
    return b"".join((head, view[12:header_length], view[header_length + 2 : end]))


class NackGenerator:
    """Which packets of one incoming stream are missing, and when to NACK them (again).

    The SFU asks the publisher itself: a packet lost on a commune's uplink would otherwise be
    lost for every subscriber, each of whom would NACK the SFU for a packet it never had.
    A gap is NACKed at once, then again every ``retry_ms`` up to ``max_retries`` times, and
    forgotten after ``max_age_ms`` (the decoder has moved on; a keyframe request follows if it
    could not). ``on_packet`` is on the hot path: one subtraction and a compare when nothing
    is missing.
    """

    __slots__ = (
        "_highest",
        "_pending",
        "asked",
        "given_up",
        "max_age_ms",
        "max_pending",
        "max_retries",
        "recovered",
        "retry_ms",
    )

    IN_ORDER, GAP, LATE = 0, 1, 2

    def __init__(
        self,
        retry_ms: int = 60,
        max_retries: int = 8,
        max_age_ms: int = 1000,
        max_pending: int = 500,
    ) -> None:
        self.retry_ms = retry_ms
        self.max_retries = max_retries
        self.max_age_ms = max_age_ms
        self.max_pending = max_pending
        self._highest: int | None = None
        # sequence → [first noticed, last asked, times asked]
        self._pending: dict[int, list[int]] = {}
        self.asked = 0  # sequence numbers put in NACKs (with retries)
        self.recovered = 0  # missing packets that arrived after all
        self.given_up = 0

    @property
    def missing(self) -> int:
        """How many sequence numbers are awaited now."""
        return len(self._pending)

    def on_packet(self, seq: int, now_ms: int) -> int:
        """Note an arriving packet: ``IN_ORDER``, ``GAP`` (new losses found) or ``LATE``."""
        highest = self._highest
        if highest is None:
            self._highest = seq
            return self.IN_ORDER
        distance = (seq - highest) & 0xFFFF
        if distance == 1:
            self._highest = seq
            return self.IN_ORDER
        if distance == 0:
            return self.LATE  # a duplicate
        if distance < 0x8000:
            self._highest = seq
            if distance > self.max_pending:
                # A jump this large is a restarted stream, not loss: resynchronise.
                self.given_up += len(self._pending)
                self._pending.clear()
                return self.IN_ORDER
            for missing in range(highest + 1, highest + distance):
                self._pending[missing & 0xFFFF] = [now_ms, 0, 0]
            if len(self._pending) > self.max_pending:
                for old in list(self._pending)[: len(self._pending) - self.max_pending]:
                    del self._pending[old]
                    self.given_up += 1
            return self.GAP
        if self._pending.pop(seq, None) is not None:
            self.recovered += 1
        return self.LATE

    def due(self, now_ms: int) -> list[int]:
        """The sequence numbers to NACK now; forgets those too old or asked too often."""
        ask: list[int] = []
        for seq, entry in list(self._pending.items()):
            first, last, count = entry
            if now_ms - first > self.max_age_ms or count >= self.max_retries:
                del self._pending[seq]
                self.given_up += 1
            elif count == 0 or now_ms - last >= self.retry_ms:
                entry[1] = now_ms
                entry[2] = count + 1
                ask.append(seq)
        self.asked += len(ask)
        return ask


class ReceptionStats:
    """What the SFU received of one publisher stream, for its Receiver Reports (RFC 3550 A.3).

    Without RRs a publisher learns neither its uplink loss nor its round-trip time: Chromium's
    loss-based bandwidth estimate and its retransmission timing rely on them. aiortc's own
    receivers would send them, but the SFU takes the packets before they reach a receiver.
    """

    __slots__ = (
        "_base",
        "_cycles",
        "_expected_prior",
        "_highest",
        "_last_transit",
        "_received_prior",
        "_sr_arrival",
        "_sr_middle",
        "clock_rate",
        "jitter",
        "received",
    )

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self._base: int | None = None
        self._highest = 0
        self._cycles = 0
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self.jitter = 0.0  # in RTP timestamp units
        self._last_transit: int | None = None
        self._sr_middle = 0
        self._sr_arrival = 0.0

    def on_packet(self, seq: int, timestamp: int, arrival_ms: int) -> None:
        """One packet (in order, late or retransmitted) of the stream."""
        self.received += 1
        if self._base is None:
            self._base = self._highest = seq
        elif 0 < (seq - self._highest) & 0xFFFF < 0x8000:
            if seq < self._highest:
                self._cycles += 1
            self._highest = seq
        # Interarrival jitter (RFC 3550 A.8), on the stream's clock.
        transit = arrival_ms * self.clock_rate // 1000 - timestamp
        if self._last_transit is not None:
            d = abs(((transit - self._last_transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
            self.jitter += (d - self.jitter) / 16
        self._last_transit = transit

    def on_sender_report(self, ntp: int, arrival: float) -> None:
        """The publisher's SR on this stream, received at monotonic time ``arrival``."""
        self._sr_middle = ntp_middle(ntp)
        self._sr_arrival = arrival

    def report(self, ssrc: int, monotonic_now: float) -> ReportBlock | None:
        """The next report block for ``ssrc`` (None before the first packet)."""
        if self._base is None:
            return None
        extended = self._cycles << 16 | self._highest
        expected = extended - self._base + 1
        lost = expected - self.received
        interval_expected = expected - self._expected_prior
        interval_lost = interval_expected - (self.received - self._received_prior)
        self._expected_prior, self._received_prior = expected, self.received
        fraction = (interval_lost << 8) // interval_expected if interval_lost > 0 else 0
        dlsr = 0
        if self._sr_middle:
            dlsr = int((monotonic_now - self._sr_arrival) * 65536)
        return ReportBlock(
            ssrc, min(fraction, 255), lost, extended, int(self.jitter), self._sr_middle, dlsr
        )


@dataclass(slots=True)
class NackResponder:
    """Answers one consumer's NACKs from its producer's ``PacketCache``.

    The consumer numbers its packets ``producer_seq + offset``; its receiver NACKs those
    numbers. The packets returned are the producer's originals, for the consumer to rewrite
    and send as it does every forwarded packet (or wrap with ``rtx_packet``).
    """

    cache: PacketCache
    max_packets: int = 100  # a NACK this long means the link is gone: resending more adds load
    hits: int = 0
    misses: int = 0
    capped: int = 0  # sequence numbers beyond ``max_packets`` in one NACK, not looked up

    def resend(
        self, lost: Iterable[int], sequence_offset: int, now_ms: int | None = None
    ) -> list[bytes]:
        """Cached producer packets for the consumer sequence numbers ``lost``, in NACK order.

        Duplicates are asked once. The oldest are kept when the NACK is over the cap: the
        receiver's decoder is waiting for those first.
        """
        seen: set[int] = set()
        found: list[bytes] = []
        for consumer_seq in lost:
            producer_seq = (consumer_seq - sequence_offset) & 0xFFFF
            if producer_seq in seen:
                continue
            if len(seen) >= self.max_packets:
                self.capped += 1
                continue
            seen.add(producer_seq)
            packet = self.cache.get(producer_seq, now_ms)
            if packet is None:
                self.misses += 1
            else:
                self.hits += 1
                found.append(packet)
        return found


@dataclass(slots=True)
class SenderReportClock:
    """The (NTP, RTP) pair a consumer puts in its Sender Reports.

    A browser syncs audio to video by mapping each stream's RTP timestamps to NTP through the
    SRs of that stream. A consumer rewrites timestamps (``consumer = producer + offset``), so
    its SRs must carry the producer's NTP↔RTP mapping shifted by the same offset, extrapolated
    to the moment the SR is sent. Audio and video consumers of one publisher then share the
    publisher's NTP timeline and stay in sync.

    Before the producer's first SR, the mapping comes from the first packet: its timestamp
    is taken to be "now" on the server's wall clock. Audio and video anchored that way are
    only as aligned as their first packets' arrival, which is close, and the real SR replaces
    the anchor within a few seconds.
    """

    clock_rate: int
    timestamp_offset: int = 0  # consumer timestamp = producer timestamp + offset (mod 2^32)
    _ntp: int | None = None  # anchor: producer NTP, producer RTP, our monotonic arrival time
    _rtp: int = 0
    _arrival: float = 0.0
    from_sender_report: bool = False

    def on_sender_report(self, ntp: int, rtp_timestamp: int, arrival: float) -> None:
        """The producer's latest SR, received at monotonic time ``arrival`` (seconds)."""
        self._ntp, self._rtp, self._arrival = ntp, rtp_timestamp, arrival
        self.from_sender_report = True

    def on_packet(self, rtp_timestamp: int, arrival: float, wall: float | None = None) -> None:
        """A producer packet: anchors the clock if no SR and no packet has yet.

        ``wall`` is the Unix time at ``arrival`` (defaults to ``time.time()``).
        """
        if self._ntp is not None:
            return
        self._ntp = unix_to_ntp(time.time() if wall is None else wall)
        self._rtp, self._arrival = rtp_timestamp, arrival

    @property
    def ready(self) -> bool:
        """Whether an SR or a packet anchored the clock."""
        return self._ntp is not None

    def now(self, monotonic_now: float | None = None) -> tuple[int, int]:
        """(NTP, consumer RTP timestamp) at ``monotonic_now`` (seconds, ``time.monotonic``)."""
        if self._ntp is None:
            raise LookupError("no sender report or packet from the producer yet")
        elapsed = (time.monotonic() if monotonic_now is None else monotonic_now) - self._arrival
        ntp = self._ntp + round(elapsed * (1 << 32))
        rtp_ts = self._rtp + self.timestamp_offset + round(elapsed * self.clock_rate)
        return ntp & 0xFFFFFFFFFFFFFFFF, rtp_ts & 0xFFFFFFFF


@dataclass(slots=True)
class BandwidthEstimate:
    """A consumer's usable bitrate: loss-based like GCC's sender side, capped by its REMB.

    Loss above 10% cuts the estimate by half the loss; loss under 2% raises it by 8% per
    second since the previous report (raising per report instead would reward receivers that
    report often); in between it holds. The loss-based value is kept at or under the latest
    REMB, so when the receiver's estimate rises again the rate climbs gradually instead of
    jumping.
    """

    initial_bps: int = 1_000_000
    floor_bps: int = 50_000
    ceiling_bps: int = 10_000_000
    remb_bps: int | None = None
    loss: float = 0.0  # the last reported loss fraction (0–1)
    _loss_based: float = field(init=False)
    _updated: float | None = None
    _last_loss_report: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.floor_bps <= self.ceiling_bps:
            raise ValueError("need 0 < floor_bps <= ceiling_bps")
        self._loss_based = float(self._clamp(self.initial_bps))

    def _clamp(self, bps: float) -> float:
        return min(max(bps, self.floor_bps), self.ceiling_bps)

    @property
    def bps(self) -> int:
        """The estimate in bits per second, within [floor, ceiling]."""
        value = self._loss_based
        if self.remb_bps is not None:
            value = min(value, self.remb_bps)
        return int(self._clamp(value))

    def age(self, now: float | None = None) -> float:
        """Seconds since the last REMB or loss report (infinite before the first)."""
        if self._updated is None:
            return float("inf")
        return (time.monotonic() if now is None else now) - self._updated

    def on_remb(self, bps: int, now: float | None = None) -> None:
        """The consumer's receiver estimated it can take ``bps``."""
        now = time.monotonic() if now is None else now
        self.remb_bps = bps
        self._loss_based = min(self._loss_based, self._clamp(bps))
        self._updated = now

    def on_loss(self, fraction_lost: int, now: float | None = None) -> None:
        """A report block's ``fraction_lost`` (0–255, 1/256 units) from the consumer."""
        now = time.monotonic() if now is None else now
        loss = fraction_lost / 256
        self.loss = loss
        if loss > 0.10:
            self._loss_based *= 1 - 0.5 * loss
        elif loss < 0.02 and self._last_loss_report is not None:
            # At most one second's worth: a long silence is no evidence of spare capacity.
            elapsed = min(max(now - self._last_loss_report, 0.0), 1.0)
            self._loss_based *= 1.08**elapsed
        if self.remb_bps is not None:
            self._loss_based = min(self._loss_based, self.remb_bps)
        self._loss_based = self._clamp(self._loss_based)
        self._last_loss_report = now
        self._updated = now
