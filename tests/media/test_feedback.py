"""media.feedback: packet cache, RTX, NACK answers, SR clock, bandwidth estimate."""

import random
import time

import pytest
from aiortc.clock import datetime_from_ntp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtcpPacket, RtcpSrPacket, RtpPacket, unwrap_rtx

from media import rtcp, rtp
from media.feedback import (
    BandwidthEstimate,
    NackGenerator,
    NackResponder,
    PacketCache,
    ReceptionStats,
    SenderReportClock,
    ntp_middle,
    ntp_now,
    ntp_to_unix,
    rtx_packet,
    unix_to_ntp,
)
from media.feedback import unwrap_rtx as unwrap_rtx_bytes

_EXT_MAP = HeaderExtensionsMap()
_EXT_MAP.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(
                id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
            ),
        ]
    )
)


def _rtp(seq: int, payload: bytes = b"payload", ts: int = 1000) -> bytes:
    return RtpPacket(
        payload_type=96, sequence_number=seq, timestamp=ts, ssrc=5, payload=payload
    ).serialize()


# --- PacketCache --------------------------------------------------------------------------


def test_cache_returns_exactly_the_stored_sequence():
    cache = PacketCache(size=8, max_age_ms=1000)
    packets = {seq: _rtp(seq) for seq in range(65530, 65536)} | {s: _rtp(s) for s in range(4)}
    for arrival, (seq, data) in enumerate(packets.items()):
        cache.put(seq, data, 10_000 + arrival)
    # The last 8 puts are there (across the wrap); the two before were overwritten.
    for seq in [*range(65532, 65536), *range(4)]:
        assert cache.get(seq) == packets[seq]
    assert cache.get(65530) is None and cache.get(65531) is None
    assert cache.get(4) is None and cache.get(12) is None  # never stored (12 & 7 == 4 & 7)
    assert len(cache) == 8


def test_cache_refuses_packets_older_than_max_age():
    cache = PacketCache(size=16, max_age_ms=1000)
    cache.put(1, b"one", 5_000)
    cache.put(2, b"two", 5_600)
    assert cache.get(1, now_ms=6_000) == b"one"  # exactly max_age old
    assert cache.get(1, now_ms=6_001) is None
    assert cache.get(2, now_ms=6_001) == b"two"
    cache.put(3, b"three", 6_200)  # the newest arrival is the default "now"
    assert cache.get(1) is None and cache.get(2) == b"two"
    cache.clear()
    assert cache.get(2) is None and cache.get(3) is None


@pytest.mark.parametrize("size", [0, 3, 500, -4])
def test_cache_size_must_be_a_power_of_two(size):
    with pytest.raises(ValueError):
        PacketCache(size=size)


# --- RTX ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_rtx_packet_is_what_aiortc_unwraps(seed):
    rnd = random.Random(seed)
    original = RtpPacket(
        payload_type=97,
        marker=rnd.random() < 0.5,
        sequence_number=rnd.randrange(1 << 16),
        timestamp=rnd.randrange(1 << 32),
        ssrc=rnd.randrange(1 << 32),
        payload=rnd.randbytes(rnd.randrange(1, 1100)),
    )
    original.csrc = [rnd.randrange(1 << 32) for _ in range(rnd.randrange(3))]
    if rnd.random() < 0.7:
        original.extensions.mid = str(rnd.randrange(10))
        original.extensions.abs_send_time = rnd.randrange(1 << 24)
    original.padding_size = rnd.choice([0, 0, 1, 7, 200])
    data = original.serialize(_EXT_MAP)
    header = rtp.parse_header(data)
    rtx_seq, rtx_ssrc = rnd.randrange(1 << 16), rnd.randrange(1 << 32)

    wrapped = rtx_packet(data, header.header_length, rtx_ssrc, 98, rtx_seq)

    parsed = RtpPacket.parse(wrapped, _EXT_MAP)
    assert (parsed.payload_type, parsed.sequence_number, parsed.ssrc) == (98, rtx_seq, rtx_ssrc)
    assert parsed.timestamp == original.timestamp and parsed.marker == original.marker
    assert parsed.csrc == original.csrc and parsed.extensions == original.extensions
    assert parsed.padding_size == 0 and not wrapped[0] & 0x20
    assert int.from_bytes(parsed.payload[:2], "big") == original.sequence_number
    restored = unwrap_rtx(parsed, payload_type=97, ssrc=original.ssrc)
    reference = RtpPacket.parse(data, _EXT_MAP)
    reference.padding_size = 0  # the only difference: RTX drops the original's padding
    assert restored.serialize(_EXT_MAP) == reference.serialize(_EXT_MAP)
    assert restored.payload == original.payload
    assert restored.sequence_number == original.sequence_number
    # Our own unwrap (publisher RTX → original) gives the same bytes as aiortc's.
    ours = unwrap_rtx_bytes(wrapped, rtp.parse_header(wrapped).header_length, original.ssrc, 97)
    assert ours == reference.serialize(_EXT_MAP)


def test_padding_only_rtx_unwraps_to_nothing():
    probe = RtpPacket(payload_type=98, sequence_number=7, timestamp=1, ssrc=5)
    probe.padding_size = 200  # how Chromium probes bandwidth on its RTX stream
    data = probe.serialize(_EXT_MAP)
    assert unwrap_rtx_bytes(data, rtp.parse_header(data).header_length, 1234, 97) is None


def test_nack_generator_finds_gaps_retries_and_gives_up():
    g = NackGenerator(retry_ms=50, max_retries=3, max_age_ms=1000)
    assert g.on_packet(65533, 0) == NackGenerator.IN_ORDER
    assert g.on_packet(65534, 1) == NackGenerator.IN_ORDER
    assert g.on_packet(2, 2) == NackGenerator.GAP  # 65535, 0 and 1 missing, across the wrap
    assert g.due(2) == [65535, 0, 1]
    assert g.due(30) == []  # not again before retry_ms
    assert g.on_packet(0, 40) == NackGenerator.LATE  # recovered
    assert (g.recovered, g.missing) == (1, 2)
    assert g.due(52) == [65535, 1]
    assert g.due(102) == [65535, 1]
    assert g.due(152) == []  # asked max_retries times: given up
    assert (g.missing, g.given_up, g.asked) == (0, 2, 7)
    assert g.on_packet(3, 160) == NackGenerator.IN_ORDER


def test_nack_generator_forgets_old_losses_and_resyncs_on_a_jump():
    g = NackGenerator(retry_ms=50, max_age_ms=200, max_pending=100)
    g.on_packet(10, 0)
    g.on_packet(13, 0)
    assert g.due(0) == [11, 12]
    assert g.due(300) == []  # too old to be worth asking
    assert g.missing == 0
    assert g.on_packet(5000, 300) == NackGenerator.IN_ORDER  # a restarted stream, not loss
    assert g.missing == 0
    assert g.on_packet(5000, 301) == NackGenerator.LATE  # a duplicate


def test_rtx_packet_rejects_bad_padding():
    data = bytearray(_rtp(1, b"abc"))
    data[0] |= 0x20
    data[-1] = 200  # more padding than the packet holds
    with pytest.raises(ValueError):
        rtx_packet(bytes(data), 12, 1, 98, 1)


# --- NackResponder ------------------------------------------------------------------------


def test_nack_maps_consumer_numbers_to_cached_producer_packets():
    cache = PacketCache(size=64)
    producer = {seq & 0xFFFF: _rtp(seq & 0xFFFF) for seq in range(65520, 65560)}
    for seq, data in producer.items():
        cache.put(seq, data, 1_000)
    offset = 30_000  # consumer_seq = producer_seq + offset
    responder = NackResponder(cache)
    lost_producer = [65534, 65535, 0, 3, 20]
    # What the consumer's receiver sends: a NACK in its own numbering, through the wire format.
    packet = rtcp.nack(1, 2, [(s + offset) & 0xFFFF for s in lost_producer])
    (item,) = rtcp.items(packet)
    resent = responder.resend(rtcp.parse_nack(item), offset)
    assert resent == [producer[s] for s in lost_producer]
    assert [rtp.parse_header(p).sequence for p in resent] == lost_producer
    assert (responder.hits, responder.misses) == (5, 0)

    # Not cached (never forwarded, or overwritten) → a miss; duplicates are looked up once.
    resent = responder.resend([(s + offset) & 0xFFFF for s in (100, 3, 3, 65519)], offset)
    assert resent == [producer[3]]
    assert (responder.hits, responder.misses) == (6, 2)


def test_nack_is_capped_and_old_packets_are_not_resent():
    cache = PacketCache(size=512, max_age_ms=1000)
    for seq in range(300):
        cache.put(seq, _rtp(seq), 50_000 + seq)
    responder = NackResponder(cache, max_packets=100)
    resent = responder.resend(range(300), 0)
    assert [rtp.parse_header(p).sequence for p in resent] == list(range(100))
    assert (responder.hits, responder.capped) == (100, 200)
    # At now = 51_100, packets that arrived before 50_100 are too old to be worth sending.
    responder = NackResponder(cache)
    resent = responder.resend([10, 99, 100, 299], 0, now_ms=51_100)
    assert [rtp.parse_header(p).sequence for p in resent] == [100, 299]
    assert responder.misses == 2


# --- NTP and the SR clock -----------------------------------------------------------------


def test_ntp_now_agrees_with_aiortcs_ntp_epoch():
    before = time.time()
    ntp = ntp_now()
    after = time.time()
    as_unix = datetime_from_ntp(ntp).timestamp()  # aiortc's own NTP → datetime conversion
    assert before - 1e-6 <= as_unix <= after + 1e-6
    assert before - 1e-6 <= ntp_to_unix(ntp) <= after + 1e-6
    assert ntp_to_unix(unix_to_ntp(1_700_000_000.25)) == 1_700_000_000.25
    assert ntp_middle(0x0123_4567_89AB_CDEF) == 0x4567_89AB


def test_consumer_sr_carries_the_producer_mapping_shifted_and_extrapolated():
    clock = SenderReportClock(clock_rate=90_000, timestamp_offset=0xFFFF_0000)
    with pytest.raises(LookupError):
        clock.now(0.0)
    producer_ntp = unix_to_ntp(1_700_000_000.0)
    clock.on_sender_report(producer_ntp, 1_000_000, arrival=50.0)
    ntp, rtp_ts = clock.now(50.5)
    assert ntp == producer_ntp + (1 << 31)  # half a second later
    assert rtp_ts == (1_000_000 + 0xFFFF_0000 + 45_000) & 0xFFFFFFFF  # offset, wrapped
    # Packets after an SR do not move the anchor.
    clock.on_packet(123, arrival=51.0, wall=0.0)
    assert clock.now(50.5) == (ntp, rtp_ts) and clock.from_sender_report


def test_audio_and_video_consumers_keep_the_publishers_lip_sync():
    """A frame and a sound captured at the same instant map to the same NTP time downstream."""
    capture = unix_to_ntp(1_700_000_123.0)
    # The publisher's SRs: video at 90 kHz, audio at 48 kHz, each its own RTP origin.
    video = SenderReportClock(90_000, timestamp_offset=123_456_789)
    audio = SenderReportClock(48_000, timestamp_offset=3_000_000_000)
    video.on_sender_report(capture, 4_000_000_000, arrival=10.0)
    audio.on_sender_report(capture + (1 << 30), 777, arrival=10.25)  # sent 250 ms later
    # The consumers send their SRs at different moments.
    v_ntp, v_rtp = video.now(12.0)
    a_ntp, a_rtp = audio.now(13.5)
    # Producer timestamps of the instant ``capture`` + 1 s, rewritten by each consumer.
    v_ts = (4_000_000_000 + 90_000 + 123_456_789) & 0xFFFFFFFF
    a_ts = (777 - 12_000 + 48_000 + 3_000_000_000) & 0xFFFFFFFF

    def to_ntp_seconds(ts: int, sr_ntp: int, sr_rtp: int, rate: int) -> float:
        delta = (ts - sr_rtp + (1 << 31)) % (1 << 32) - (1 << 31)  # what a browser does
        return ntp_to_unix(sr_ntp) + delta / rate

    expected = ntp_to_unix(capture) + 1.0
    assert to_ntp_seconds(v_ts, v_ntp, v_rtp, 90_000) == pytest.approx(expected, abs=1e-6)
    assert to_ntp_seconds(a_ts, a_ntp, a_rtp, 48_000) == pytest.approx(expected, abs=1e-6)


def test_sr_clock_without_sender_report_uses_the_first_packet_and_wall_clock():
    clock = SenderReportClock(48_000, timestamp_offset=10)
    assert not clock.ready
    clock.on_packet(5_000, arrival=100.0, wall=1_700_000_000.0)
    clock.on_packet(9_999, arrival=101.0, wall=1_700_000_777.0)  # ignored: already anchored
    ntp, rtp_ts = clock.now(102.0)
    assert ntp == unix_to_ntp(1_700_000_002.0) and rtp_ts == 5_010 + 96_000
    assert not clock.from_sender_report
    # The SR it builds is one aiortc reads.
    data = rtcp.sender_report(0xC0FFEE, ntp, rtp_ts, 10, 1000, cname="x")
    sr = RtcpPacket.parse(data)[0]
    assert isinstance(sr, RtcpSrPacket)
    assert (sr.sender_info.ntp_timestamp, sr.sender_info.rtp_timestamp) == (ntp, rtp_ts)


# --- BandwidthEstimate --------------------------------------------------------------------


def test_heavy_loss_cuts_light_loss_raises_per_second_and_medium_holds():
    est = BandwidthEstimate(initial_bps=1_000_000, floor_bps=50_000, ceiling_bps=10_000_000)
    assert est.bps == 1_000_000 and est.age(0.0) == float("inf")
    est.on_loss(0, now=0.0)  # first report: nothing to measure an increase against
    assert est.bps == 1_000_000
    est.on_loss(0, now=1.0)
    assert est.bps == 1_080_000
    est.on_loss(2, now=1.5)  # under 2 %: half a second's worth
    assert est.bps == pytest.approx(1_080_000 * 1.08**0.5, abs=1)
    held = est.bps
    est.on_loss(13, now=2.5)  # about 5 %: hold
    assert est.bps == held
    est.on_loss(64, now=3.5)  # 25 %: times (1 - 0.125)
    assert est.bps == pytest.approx(held * 0.875, abs=1)
    cut = est.bps
    est.on_loss(0, now=60.0)  # a long silence counts as one second at most
    assert est.bps == pytest.approx(cut * 1.08, abs=1)
    assert est.age(61.0) == 1.0


def test_remb_caps_the_estimate_and_the_climb_back_is_gradual():
    est = BandwidthEstimate(initial_bps=2_000_000)
    est.on_remb(600_000, now=0.0)
    assert est.bps == 600_000 and est.remb_bps == 600_000
    est.on_loss(0, now=0.5)
    est.on_loss(0, now=1.5)
    assert est.bps == 600_000  # no loss, but the receiver says 600 kbps
    est.on_remb(3_000_000, now=2.0)
    assert est.bps == 600_000  # the receiver has room again: climb, do not jump
    est.on_loss(0, now=3.0)
    assert est.bps == 648_000
    assert est.age(3.25) == 0.25


def test_floor_and_ceiling():
    est = BandwidthEstimate(initial_bps=200_000, floor_bps=150_000, ceiling_bps=300_000)
    for second in range(10):
        est.on_loss(255, now=float(second))  # everything lost
    assert est.bps == 150_000
    for second in range(10, 40):
        est.on_loss(0, now=float(second))
    assert est.bps == 300_000
    est.on_remb(10_000, now=41.0)
    assert est.bps == 150_000
    with pytest.raises(ValueError):
        BandwidthEstimate(floor_bps=10, ceiling_bps=5)


def test_reception_stats_report_loss_per_interval_across_the_wrap():
    stats = ReceptionStats(90000)
    assert stats.report(1, 0.0) is None
    for i, seq in enumerate([65530, 65531, 65533, 65534, 65535, 0, 1, 3]):
        stats.on_packet(seq, 3000 * i, 33 * i)
    block = stats.report(42, 0.0)
    assert block is not None
    # 10 expected (65530 … 3), 8 received: 2 lost, 1/256 units.
    assert (block.ssrc, block.cumulative_lost, block.fraction_lost) == (42, 2, 2 * 256 // 10)
    assert block.highest_sequence == 1 << 16 | 3
    assert (block.lsr, block.dlsr) == (0, 0)
    for seq in range(4, 14):
        stats.on_packet(seq, 0, 0)
    block = stats.report(42, 0.0)
    assert block is not None and (block.fraction_lost, block.cumulative_lost) == (0, 2)
    stats.on_packet(2, 0, 0)  # a late retransmission fills one of the holes
    assert stats.report(42, 0.0).cumulative_lost == 1  # type: ignore[union-attr]


def test_reception_stats_jitter_and_the_sender_report_echo():
    stats = ReceptionStats(90000)
    # Frames every 33 ms on the RTP clock, arriving alternately 0 and 10 ms late.
    for i in range(200):
        stats.on_packet(i, i * 2970, i * 33 + (10 if i % 2 else 0))
    assert 850 <= stats.jitter <= 900  # converges to the 10 ms swing = 900 units
    stats.on_sender_report(0x1234_5678_9ABC_DEF0, arrival=100.0)
    block = stats.report(7, 100.5)
    assert block is not None
    assert block.lsr == 0x5678_9ABC
    assert block.dlsr == 32768  # half a second in 1/65536 s
