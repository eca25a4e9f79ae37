"""Subscriber processes: many aiortc peer connections that count RTP instead of decoding it.

A stock aiortc receiver costs about 2% of a core per 720p stream (NACK, jitter buffer,
depacketising, and a decoder thread), so a hundred of them would saturate the machine before
the SFU does. Each peer's DTLS transport is tapped (``media.aiortc_hooks.tap_rtp``): the
decrypted RTP comes here and aiortc's receivers never see it. Per stream (SSRC) the counter
keeps the highest sequence number and the missing ones, sends a Generic NACK for a gap at once
and again every 100 ms, and counts a packet as lost when it is still missing after one second.
Once connected, each counting peer reads its socket itself (``probes.DirectReceiver``, every
``--subscriber-poll-ms``, or as datagrams arrive when that is 0):
for the first packet of each video frame it records the kernel's arrival time and the frame's
``common.frame_key`` so that the parent can compute the latency the SFU added, free of the
subscriber process's own scheduling. Like a browser,
each peer sends an RTCP receiver report every second (LSR/DLSR from the SFU's sender reports)
as its own announced SSRC.

``--drop-pct`` makes the counters discard that share of packets on arrival, as a lossy link
would, to check that NACKs are answered and repaired packets counted (not for real runs).

One subscriber runs alone in its own process with stock receivers and decodes
(``decode=True``): its RTP is only observed (``media.aiortc_hooks.observe_rtp``), aiortc sends
its NACKs, and it reports how many frames decoded at the source's size, proving the forwarded
stream is valid.
"""

import asyncio
import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import benchutil
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import RTCDtlsTransport

from media import rtcp
from media.aiortc_hooks import observe_rtp, send_rtcp_nowait, tap_rtcp, tap_rtp

from . import common
from .clients import client_for, peer_connection
from .probes import DirectReceiver, peer_transport

LOSS_AFTER = 1.0  # a packet still missing this long after its gap was seen is lost
NACK_EVERY = 0.1
REPORT_EVERY = 1.0  # RTCP receiver reports, as a browser sends them (Janus needs the RTT)
MAX_GAP = 1000  # a jump this large is a new stream position, not a thousand losses
NEW, RECOVERED, DUPLICATE = 0, 1, 2


class Stream:
    """Sequence tracking of one incoming SSRC."""

    __slots__ = ("highest", "kind", "last_sr", "lost", "missing", "ssrc")

    def __init__(self, ssrc: int, kind: str) -> None:
        self.ssrc = ssrc
        self.kind = kind
        self.highest = -1  # extended sequence number
        self.missing: dict[int, float] = {}  # extended sequence number → when the gap was seen
        self.lost = 0  # given up on, since the start
        self.last_sr: tuple[int, float] | None = None  # (middle 32 bits of its NTP, arrival)

    def receive(self, seq: int, now: float, gaps: list[int]) -> int:
        """Account for one packet; extended numbers of a new gap are appended to ``gaps``."""
        if self.highest < 0:
            self.highest = seq + 0x10000
            return NEW
        delta = ((seq - self.highest) + 0x8000) & 0xFFFF
        ext = self.highest + delta - 0x8000
        if ext > self.highest:
            if 1 < ext - self.highest <= MAX_GAP:
                for missing in range(self.highest + 1, ext):
                    self.missing[missing] = now
                    gaps.append(missing)
            self.highest = ext
            return NEW
        if self.missing.pop(ext, None) is not None:
            return RECOVERED
        return DUPLICATE


@dataclass
class Counts:
    """What one process's peers received inside the window."""

    packets: int = 0  # every RTP datagram (media, retransmissions, duplicates)
    unique: int = 0  # media packets seen for the first time (including recovered ones)
    recovered: int = 0  # … of which arrived after a NACK
    lost: int = 0  # still missing one second after the gap was seen
    frames: int = 0  # video packets with the marker bit
    bytes: int = 0
    decoded: int = 0  # frames decoded at the source's size (decoding subscriber only)
    # (SSRC, RTP timestamp, frame key, arrival) of the first packet of each video frame
    records: list[tuple[int, int, bytes, float]] = field(default_factory=list)


class PeerCounter:
    """The RTP sink of one subscriber peer connection."""

    def __init__(
        self, counts: Counts, window: common.Window, nack: bool, drop: float = 0.0
    ) -> None:
        self.counts = counts
        # latency samples only from kernel arrival stamps (probes.DirectReceiver); the
        # decoding subscriber's packets pass through aiortc's queues first and are not timed
        self.timing = False
        self.drop = drop  # fraction of packets to discard on arrival (NACK self-test)
        self.window = window
        self.nack = nack
        self.payload_types: dict[int, common.PayloadType] = {}
        self.streams: dict[int, Stream] = {}
        self.primary: dict[str, Stream] = {}  # the media stream an RTX stream repairs
        self.transport: RTCDtlsTransport | None = None
        self.rtcp_ssrc = random.getrandbits(32)  # replaced by the peer's own, once negotiated
        self.next_report = 0.0

    def on_rtcp(self, data: bytes) -> None:
        """Incoming RTCP: remember each sender report, for the LSR/DLSR of our reports."""
        with contextlib.suppress(ValueError):
            for item in rtcp.items(data):
                report = rtcp.parse_sender_report(item)
                stream = self.streams.get(report.ssrc) if report is not None else None
                if stream is not None and report is not None:
                    stream.last_sr = ((report.ntp >> 16) & 0xFFFFFFFF, time.monotonic())

    def on_rtp(self, data: bytes, arrival_ms: int) -> None:
        """A decrypted RTP packet from aiortc's receive path (arrival: now)."""
        self.receive(data, time.monotonic())

    def receive(self, data: bytes, now: float) -> None:
        """Count one decrypted RTP packet of this peer that arrived at ``now`` (monotonic)."""
        if self.drop and random.random() < self.drop:
            return
        counts = self.counts
        inside = self.window.start <= now < self.window.stop
        if inside:
            counts.packets += 1
            counts.bytes += len(data)
        info = self.payload_types.get(data[1] & 0x7F)
        if info is None:
            return
        gaps: list[int] = []
        if info.codec == "rtx":
            stream = self.primary.get(self.payload_types[info.apt].kind) if info.apt else None
            if stream is None:
                return
            offset = common.rtp_payload_offset(data)
            if len(data) < offset + 2:
                return  # padding only
            status = stream.receive(data[offset] << 8 | data[offset + 1], now, gaps)
        else:
            ssrc = int.from_bytes(data[8:12], "big")
            stream = self.streams.get(ssrc)
            if stream is None:
                stream = self.streams[ssrc] = Stream(ssrc, info.kind)
                self.primary[info.kind] = stream
            status = stream.receive(data[2] << 8 | data[3], now, gaps)
        if gaps and self.nack:
            self._send_nack(stream, gaps)
        if status == DUPLICATE or not inside:
            return
        counts.unique += 1
        if status == RECOVERED:
            counts.recovered += 1
        if stream.kind != "video" or info.codec == "rtx":
            return
        if data[1] & 0x80:
            counts.frames += 1
        if status == NEW and self.timing:
            offset = common.rtp_payload_offset(data)
            if len(data) > offset and common.vp8_frame_start(data[offset]):
                key = common.frame_key(data, offset)
                timestamp = int.from_bytes(data[4:8], "big")
                counts.records.append((stream.ssrc, timestamp, key, now))

    def tick(self, now: float) -> None:
        """Expire old gaps as lost; NACK the others again."""
        for stream in self.streams.values():
            if not stream.missing:
                continue
            again = []
            for seq, seen in list(stream.missing.items()):
                if now - seen >= LOSS_AFTER:
                    del stream.missing[seq]
                    stream.lost += 1
                    if self.window.inside(seen):
                        self.counts.lost += 1
                else:
                    again.append(seq)
            if again and self.nack:
                self._send_nack(stream, again)
        if self.nack and now >= self.next_report and self.transport is not None:
            self.next_report = now + REPORT_EVERY
            self._send_report(now)

    def _send_report(self, now: float) -> None:
        blocks = []
        for stream in list(self.streams.values())[:31]:
            lsr, dlsr = 0, 0
            if stream.last_sr is not None:
                lsr = stream.last_sr[0]
                dlsr = int((now - stream.last_sr[1]) * 65536) & 0xFFFFFFFF
            blocks.append(
                rtcp.ReportBlock(
                    ssrc=stream.ssrc,
                    fraction_lost=0,
                    cumulative_lost=min(stream.lost, 0x7FFFFF),
                    highest_sequence=stream.highest & 0xFFFFFFFF,
                    jitter=0,
                    lsr=lsr,
                    dlsr=dlsr,
                )
            )
        if blocks and self.transport is not None:
            send_rtcp_nowait(self.transport, rtcp.receiver_report(self.rtcp_ssrc, blocks))

    def _send_nack(self, stream: Stream, seqs: list[int]) -> None:
        if self.transport is not None:
            send_rtcp_nowait(self.transport, rtcp.nack(self.rtcp_ssrc, stream.ssrc, seqs[:200]))


async def subscribe(
    mode: str,
    config: dict[str, Any],
    index: int,
    first_peer: int,
    peers: int,
    options: dict[str, Any],
    results: Any,
    start_at: Any,
    stop_at: Any,
    stop: Any,
) -> None:
    """One subscriber process's work (run through ``common.child_main``); reports to ``results``."""
    decode: bool = options["decode"]
    expected_size: tuple[int, int] = tuple(options["expected_size"])  # type: ignore[assignment]
    client = client_for(mode, config)
    window = common.Window()
    counts = Counts()
    pcs: list[RTCPeerConnection] = []
    counters: list[PeerCounter] = []
    decoders: list[asyncio.Task] = []
    receivers: list[DirectReceiver] = []
    poll_seconds: float = options.get("poll_ms", 0) / 1000
    gate = asyncio.Semaphore(4)

    async def decode_track(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if (
                    track.kind == "video"
                    and (frame.width, frame.height) == expected_size
                    and window.inside(time.monotonic())
                ):
                    counts.decoded += 1

    async def connect(peer: int) -> None:
        pc = peer_connection()
        counter = PeerCounter(counts, window, nack=not decode, drop=options["drop"])
        pcs.append(pc)
        counters.append(counter)
        connected = asyncio.Event()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                connected.set()

        if decode:

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                decoders.append(asyncio.ensure_future(decode_track(track)))

        def prepare(pc: RTCPeerConnection) -> None:
            transport = counter.transport = peer_transport(pc)
            if decode:  # aiortc's own receivers run: they NACK and report
                observe_rtp(transport, counter.on_rtp)
            else:
                tap_rtp(transport, counter.on_rtp)
                tap_rtcp(transport, counter.on_rtcp)

        async with gate:
            await client.subscribe(pc, peer, prepare)
        descriptions = sorted(
            (pc.localDescription, pc.remoteDescription), key=lambda d: d.type == "answer"
        )
        for description in descriptions:  # the answer's numbers win where both name one
            counter.payload_types.update(common.payload_types(description.sdp))
        # report and NACK as the peer's own SSRC, as aiortc's receivers would (an SFU may
        # ignore RTCP from an SSRC the peer never announced)
        counter.rtcp_ssrc = common.first_ssrc(pc.localDescription.sdp) or counter.rtcp_ssrc
        await asyncio.wait_for(connected.wait(), 60)
        if not decode:
            receiver = DirectReceiver(counter.transport, counter.receive, counter.on_rtcp)
            if not poll_seconds:
                receiver.wake_on_arrival()
            receivers.append(receiver)
            counter.timing = True

    await asyncio.gather(*(connect(first_peer + i) for i in range(peers)))
    common.log(f"subscriber process {index}: {peers} peer(s) connected")
    results.put(("ready", index, None))

    async def ticker() -> None:
        while True:
            await asyncio.sleep(NACK_EVERY)
            now = time.monotonic()
            for counter in counters:
                counter.tick(now)

    async def poller() -> None:
        while True:
            await asyncio.sleep(poll_seconds)
            for receiver in receivers:
                receiver.drain()

    ticking = asyncio.ensure_future(ticker())
    polling = asyncio.ensure_future(poller()) if poll_seconds and receivers else None
    await window.wait(start_at, stop_at)
    await asyncio.sleep(max(0.0, window.start - time.monotonic()))
    cpu0 = benchutil.cpu_seconds(os.getpid())
    await asyncio.sleep(max(0.0, window.stop - time.monotonic()))
    cpu = benchutil.cpu_seconds(os.getpid()) - cpu0
    await asyncio.sleep(LOSS_AFTER + 2 * NACK_EVERY)  # let the last gaps be repaired or expire
    results.put(("result", index, {"counts": counts, "cpu": cpu, "peers": peers}))
    await asyncio.to_thread(stop.wait)
    ticking.cancel()
    if polling is not None:
        polling.cancel()
    for task in decoders:
        task.cancel()
    await client.close()
    for receiver in receivers:
        receiver.close()
    await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
