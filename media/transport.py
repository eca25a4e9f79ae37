"""Transport: one endpoint's WebRTC peer connection, on the SFU's side.

aiortc does ICE, DTLS and SRTP; RTP and RTCP go around its senders and receivers (see
``aiortc_hooks``). The endpoint is always the offerer: its sendonly m-sections become
Producers (one per mid, with its simulcast layers), its recvonly m-sections become slots the
SFU sends on, one Consumer each. Incoming RTP is routed to producers by SSRC, learnt from the
SDP's ``a=ssrc`` lines or, for simulcast (no SSRCs in the SDP), from the MID and RID header
extensions of the first packet of each stream.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media import aiortc_hooks, rtcp, rtp, sdp
from media.feedback import NackGenerator, unwrap_rtx
from media.forwarding import (
    Consumer,
    ExtensionIds,
    KeyframeRequester,
    Layer,
    NackRequester,
    Producer,
)
from media.ports import MediaNetwork, bind_rtc_ports

log = logging.getLogger("phonghop.media")

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
SOURCES = {"camera", "screen", "microphone"}
REPORT_INTERVAL = 1.0  # seconds between RTCP rounds (mean)
# What a publisher may send per video track (REMB): enough for 1080p, and when nobody
# receives it, enough to keep the lowest layer warm for the next subscriber.
PUBLISHER_MAX_BPS = 4_000_000
PUBLISHER_IDLE_BPS = 300_000
# Total simulcast bitrate to allow when the highest layer any consumer shows is low/mid/top.
SIMULCAST_BUDGET = (400_000, 1_000_000, PUBLISHER_MAX_BPS)
Notify = Callable[[str, dict[str, Any]], None]


class NegotiationError(ValueError):
    """The offer cannot be used (malformed, or asks for something the SFU does not do)."""


@dataclass(slots=True)
class Slot:
    """One recvonly m-section of the endpoint: the SFU sends one consumer on it."""

    mid: str
    kind: str
    consumer: Consumer

    def describe(self) -> dict[str, Any]:
        """What signaling tells the endpoint about this slot."""
        producer = self.consumer.producer
        return {
            "mid": self.mid,
            "kind": self.kind,
            "producer_id": producer.id if producer else None,
        }


class Transport:
    """The SFU's end of one endpoint's peer connection."""

    def __init__(
        self,
        transport_id: str,
        router_id: str,
        configuration: RTCConfiguration,
        network: MediaNetwork | None,
        on_producer: Callable[["Transport", Producer], None],
        on_producer_closed: Callable[["Transport", Producer], None],
        on_closed: Callable[["Transport"], None],
    ) -> None:
        self.id = transport_id
        self.router_id = router_id
        self.pc = RTCPeerConnection(configuration)
        if network is not None:
            bind_rtc_ports(self.pc, network)  # host candidates from the firewall's port range
        self.producers: dict[str, Producer] = {}  # by mid
        self.slots: dict[str, Slot] = {}  # by mid
        self._on_producer = on_producer
        self._on_producer_closed = on_producer_closed
        self._on_closed = on_closed
        self._routes: dict[int, tuple[Producer, int]] = {}  # SSRC → (producer, layer)
        self._rtx_routes: dict[int, tuple[Producer, int]] = {}  # RTX SSRC → what it repairs
        self._consumers_by_ssrc: dict[int, Consumer] = {}
        self._mid_ids: set[int] = set()
        self._rid_ids: set[int] = set()
        self._repaired_rid_ids: set[int] = set()
        self._rids: dict[str, list[str]] = {}  # mid → simulcast rids, lowest first
        self._rtcp_ssrc = random.getrandbits(32) or 1
        self.cname = f"phonghop-{self._rtcp_ssrc:08x}"
        self._tapped = False
        self._lock = asyncio.Lock()
        self.closed = False
        self.unroutable = 0
        self.malformed_rtcp = 0
        self._reports: asyncio.Task[None] | None = None
        self.pc.on("connectionstatechange", self._state_changed)

    # ---- negotiation ------------------------------------------------------------------

    async def negotiate(self, offer: str, sources: dict[str, str]) -> str:
        """Apply the endpoint's offer and return the SFU's answer (all candidates included)."""
        async with self._lock:
            if self.closed:
                raise NegotiationError("transport is closed")
            stripped, simulcast = sdp.split_simulcast(offer)
            try:
                parsed = SessionDescription.parse(stripped)
                if not parsed.media:
                    raise NegotiationError("the offer has no media section")
                await self.pc.setRemoteDescription(RTCSessionDescription(stripped, "offer"))
            except NegotiationError:
                raise
            except Exception as exc:  # aiortc raises ValueError, KeyError, OperationError...
                raise NegotiationError(f"offer rejected: {exc}") from exc
            self._tap()
            for mid, found in simulcast.items():
                self._rids[mid] = found.rid_names
            remote_ssrcs: dict[str, list[int]] = {}
            remote_rtx: dict[str, dict[int, int]] = {}
            for media in parsed.media:
                mid = media.rtp.muxId
                remote_ssrcs[mid] = _primary_ssrcs(media)
                remote_rtx[mid] = _rtx_ssrcs(media)
                for extension in media.rtp.headerExtensions:
                    if extension.uri == URI_MID:
                        self._mid_ids.add(extension.id)
                    elif extension.uri == URI_RID:
                        self._rid_ids.add(extension.id)
                    elif extension.uri == URI_REPAIRED_RID:
                        self._repaired_rid_ids.add(extension.id)
            new_producers: list[Producer] = []
            ended: list[Producer] = []
            for transceiver in self.pc.getTransceivers():
                aiortc_hooks.detach_media(transceiver)
                mid = transceiver.mid
                if mid is None:
                    continue
                wanted = aiortc_hooks.offered_direction(transceiver)
                if wanted in ("recvonly", "sendrecv") and mid not in self.producers:
                    producer = self._new_producer(transceiver, parsed, sources.get(mid))
                    self.producers[mid] = producer
                    new_producers.append(producer)
                    ssrcs = remote_ssrcs.get(mid, [])
                    if ssrcs and len(producer.layers) == 1:
                        producer.layers[0].ssrc = ssrcs[0]
                        self._routes[ssrcs[0]] = (producer, 0)
                        rtx_ssrc = remote_rtx.get(mid, {}).get(ssrcs[0])
                        if rtx_ssrc is not None:
                            self._rtx_routes[rtx_ssrc] = (producer, 0)
                elif wanted == "sendonly":
                    transceiver.direction = "sendonly"
                if wanted not in ("recvonly", "sendrecv") and mid in self.producers:
                    # The endpoint stopped sending on this m-section (a screen share ended:
                    # the browser sets it inactive and keeps it for the next share).
                    ended.append(self._end_producer(mid))
            try:
                await self.pc.setLocalDescription(await self.pc.createAnswer())
            except Exception as exc:
                raise NegotiationError(f"cannot answer this offer: {exc}") from exc
            answer = sdp.merge_simulcast(self.pc.localDescription.sdp, simulcast)
            self._update_slots(SessionDescription.parse(self.pc.localDescription.sdp))
        for producer in ended:
            self._on_producer_closed(self, producer)
        for producer in new_producers:
            self._on_producer(self, producer)
        return answer

    def _end_producer(self, mid: str) -> Producer:
        """Forget the producer of ``mid`` and its SSRC routes; the caller announces it."""
        producer = self.producers.pop(mid)
        for routes in (self._routes, self._rtx_routes):
            for ssrc in [s for s, (p, _) in routes.items() if p is producer]:
                del routes[ssrc]
        self._rids.pop(mid, None)
        producer.close()
        return producer

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        """A trickled candidate from the endpoint (None: end of candidates)."""
        if not candidate:
            return
        try:
            parsed = candidate_from_sdp(candidate.removeprefix("a=").removeprefix("candidate:"))
        except Exception as exc:
            raise NegotiationError(f"malformed ICE candidate: {exc}") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = index
        await self.pc.addIceCandidate(parsed)

    def _new_producer(
        self, transceiver: Any, parsed: SessionDescription, source: str | None
    ) -> Producer:
        mid = transceiver.mid
        kind = transceiver.kind
        if source is None or source not in SOURCES:
            source = "microphone" if kind == "audio" else "camera"
        rids = self._rids.get(mid) or [None]
        codecs = aiortc_hooks.negotiated_codecs(transceiver)
        producer = Producer(
            id=f"{self.id}/{mid}",
            kind=kind,
            source=source,
            layers=[Layer(rid) for rid in rids],
            payload_types={codec.payload_type: codec.mime for codec in codecs},
            rtx_payload_types={
                codec.rtx_payload_type: codec.payload_type
                for codec in codecs
                if codec.rtx_payload_type is not None
            },
            extension_ids=ExtensionIds.from_uris(_extension_ids(parsed, mid)),
        )
        nack = kind == "video" and any("nack" in codec.feedback for codec in codecs)
        for index, layer in enumerate(producer.layers):
            layer.keyframes = KeyframeRequester(self._pli_sender(producer, index))
            if nack:
                layer.nacks = NackRequester(
                    NackGenerator(), self._nack_sender(producer, index), aiortc_hooks.clock_ms
                )
        return producer

    def _nack_sender(self, producer: Producer, index: int) -> Callable[[list[int]], None]:
        def send(lost: list[int]) -> None:
            ssrc = producer.layers[index].ssrc
            if ssrc is not None and not self.closed:
                self.send_rtcp(rtcp.nack(self._rtcp_ssrc, ssrc, lost))

        return send

    def _pli_sender(self, producer: Producer, index: int) -> Callable[[], None]:
        def send() -> None:
            ssrc = producer.layers[index].ssrc
            if ssrc is not None and not self.closed:
                self.send_rtcp(rtcp.pli(self._rtcp_ssrc, ssrc))

        return send

    def _update_slots(self, answer: SessionDescription) -> None:
        for transceiver in self.pc.getTransceivers():
            mid = transceiver.mid
            if mid is None or mid in self.slots or transceiver.direction != "sendonly":
                continue
            codecs = aiortc_hooks.negotiated_codecs(transceiver)
            ssrc, rtx_ssrc = aiortc_hooks.sender_ssrcs(transceiver)
            consumer = Consumer(
                transport=transceiver.sender.transport,
                ssrc=ssrc,
                kind=transceiver.kind,
                payload_types={codec.mime: codec.payload_type for codec in codecs},
                extension_ids=ExtensionIds.from_uris(_extension_ids(answer, mid)),
                mid=mid,
                rtx_ssrc=rtx_ssrc,
                rtx_payload_types={
                    c.mime: c.rtx_payload_type for c in codecs if c.rtx_payload_type is not None
                },
            )
            self.slots[mid] = Slot(mid, transceiver.kind, consumer)
            self._consumers_by_ssrc[ssrc] = consumer

    # ---- packets ----------------------------------------------------------------------

    def _tap(self) -> None:
        if self._tapped:
            return
        transceivers = self.pc.getTransceivers()
        if not transceivers:
            return
        dtls = transceivers[0].receiver.transport
        aiortc_hooks.tap_rtp(dtls, self.on_rtp)
        aiortc_hooks.take_rtcp(dtls, self.on_rtcp)
        self._dtls = dtls
        self._tapped = True
        self._reports = asyncio.get_running_loop().create_task(self._report_loop())

    def on_rtp(self, data: bytes, arrival_ms: int) -> None:
        """Every decrypted RTP packet of this endpoint: to its producer, or dropped."""
        try:
            header = rtp.parse_header(data)
        except ValueError:
            self.unroutable += 1
            return
        route = self._routes.get(header.ssrc)
        if route is None:
            repaired = self._rtx_routes.get(header.ssrc)
            if repaired is None:
                route = self._learn_route(data, header)
                repaired = self._rtx_routes.get(header.ssrc) if route is None else None
            if repaired is not None:
                self._on_rtx(repaired[0], repaired[1], data, header, arrival_ms)
                return
            if route is None:
                self.unroutable += 1
                return
        producer, layer = route
        producer.on_rtp(layer, data, header, arrival_ms)

    def _on_rtx(
        self, producer: Producer, index: int, data: bytes, header: rtp.RtpHeader, arrival_ms: int
    ) -> None:
        """A publisher's retransmission (answering our NACK): unwrap it, then as if on time."""
        payload_type = producer.rtx_payload_types.get(header.payload_type)
        ssrc = producer.layers[index].ssrc
        if payload_type is None or ssrc is None:
            self.unroutable += 1
            return
        try:
            original = unwrap_rtx(data, header.header_length, ssrc, payload_type)
            if original is None:
                return  # padding only: the publisher probing its bandwidth
            producer.on_rtp(index, original, rtp.parse_header(original), arrival_ms)
        except ValueError:
            self.unroutable += 1

    def _learn_route(self, data: bytes, header: rtp.RtpHeader) -> tuple[Producer, int] | None:
        """Place an SSRC the SDP did not announce, from its MID/RID header extensions."""
        elements = rtp.extensions(data, header)
        mid = next(
            (elements[i].decode(errors="replace") for i in self._mid_ids if i in elements), None
        )
        rid = next(
            (elements[i].decode(errors="replace") for i in self._rid_ids if i in elements), None
        )
        producer = self.producers.get(mid) if mid is not None else None
        if producer is None:
            return None
        index = 0
        if header.payload_type in producer.rtx_payload_types:
            self._learn_rtx_route(producer, elements, header)
            return None
        if len(producer.layers) > 1:
            rids = [layer.rid for layer in producer.layers]
            if rid not in rids:
                return None  # an unknown layer
            index = rids.index(rid)
        elif producer.layers[0].ssrc is not None:
            return None  # a second SSRC on a single-layer mid: a stray stream
        if header.payload_type not in producer.payload_types:
            return None
        producer.layers[index].ssrc = header.ssrc
        self._routes[header.ssrc] = (producer, index)
        return producer, index

    def _learn_rtx_route(
        self, producer: Producer, elements: dict[int, bytes], header: rtp.RtpHeader
    ) -> None:
        """Place an RTX stream the SDP did not pair (simulcast: by its repaired-rid)."""
        index = 0
        if len(producer.layers) > 1:
            repaired = next(
                (
                    elements[i].decode(errors="replace")
                    for i in self._repaired_rid_ids
                    if i in elements
                ),
                None,
            )
            rids = [layer.rid for layer in producer.layers]
            if repaired not in rids:
                return
            index = rids.index(repaired)
        self._rtx_routes[header.ssrc] = (producer, index)

    def on_rtcp(self, data: bytes) -> None:
        """Decrypted RTCP from the endpoint: feedback on our consumers, reports on its producers."""
        for item in rtcp.items(data):
            try:
                self._on_rtcp_item(item)
            except ValueError:  # a truncated part: skip it, keep the rest of the compound
                self.malformed_rtcp += 1

    def _on_rtcp_item(self, item: rtcp.RtcpItem) -> None:
        if rtcp.wants_keyframe(item):
            media_ssrc = item.media_ssrc
            if item.fmt == rtcp.FMT_FIR and len(item.body) >= 4:
                media_ssrc = int.from_bytes(item.body[:4], "big")
            consumer = self._consumers_by_ssrc.get(media_ssrc)
            if consumer is not None and consumer.producer is not None:
                layer = consumer.current_layer
                consumer.producer.request_keyframe(
                    consumer.target_layer if layer is None else layer
                )
        elif rtcp.is_nack(item):
            consumer = self._consumers_by_ssrc.get(item.media_ssrc)
            if consumer is not None:
                consumer.retransmit(rtcp.parse_nack(item))
        elif rtcp.is_remb(item):
            remb = rtcp.parse_remb(item)
            if remb is not None:
                for ssrc in remb.ssrcs:
                    consumer = self._consumers_by_ssrc.get(ssrc)
                    if consumer is not None:
                        consumer.bandwidth.on_remb(remb.bitrate)
                        consumer.on_bandwidth()
        elif item.packet_type in (rtcp.PT_SR, rtcp.PT_RR):
            if item.packet_type == rtcp.PT_SR:
                report = rtcp.parse_sender_report(item)
                route = self._routes.get(item.sender_ssrc)
                if report is not None and route is not None:
                    producer, layer = route
                    now = time.monotonic()
                    producer.layers[layer].clock.on_sender_report(
                        report.ntp, report.rtp_timestamp, now
                    )
                    producer.layers[layer].reception.on_sender_report(report.ntp, now)
            for block in rtcp.parse_report_blocks(item):
                consumer = self._consumers_by_ssrc.get(block.ssrc)
                if consumer is not None:
                    consumer.bandwidth.on_loss(block.fraction_lost)
                    consumer.on_bandwidth()

    def send_rtcp(self, packet: bytes) -> bool:
        """SRTCP-protect and send an RTCP packet to this endpoint (dropped if not connected)."""
        if not self._tapped:
            return False
        return aiortc_hooks.send_rtcp_nowait(self._dtls, packet)

    async def _report_loop(self) -> None:
        """Sender reports for our consumers, REMB for the endpoint's video producers."""
        while not self.closed:
            # RFC 3550 §6.3.5: randomised interval, so thousands of transports do not align.
            await asyncio.sleep(REPORT_INTERVAL * (0.5 + random.random()))
            try:
                self.send_reports(time.monotonic())
            except Exception:  # one bad report must not end reporting for the endpoint
                log.exception("transport %s: reports failed", self.id)

    def send_reports(self, monotonic_now: float) -> None:
        """One round of RTCP: an SR (+CNAME) per active consumer, a REMB per video producer."""
        for slot in self.slots.values():
            consumer = slot.consumer
            if consumer.producer is not None:
                consumer.resolve_sender()  # follow a change of ICE pair
                consumer.prefer()  # layers start and stop: re-choose (switches at a keyframe)
            times = consumer.sender_report_times(monotonic_now)
            if times is None:
                continue
            ntp, rtp_timestamp = times
            self.send_rtcp(
                rtcp.sender_report(
                    consumer.ssrc,
                    ntp,
                    rtp_timestamp,
                    consumer.sent,
                    consumer.bytes_sent,
                    cname=self.cname,
                )
            )
        blocks: list[rtcp.ReportBlock] = []
        for producer in self.producers.values():
            for layer in producer.layers:
                if layer.ssrc is not None:
                    block = layer.reception.report(layer.ssrc, monotonic_now)
                    if block is not None:
                        blocks.append(block)
            if producer.kind != "video":
                continue
            ssrcs = [layer.ssrc for layer in producer.layers if layer.ssrc is not None]
            if ssrcs:
                self.send_rtcp(rtcp.remb(self._rtcp_ssrc, publisher_budget(producer), ssrcs))
        # Receiver Reports: the publisher's uplink loss and (through LSR/DLSR) its RTT.
        for start in range(0, len(blocks), 31):
            self.send_rtcp(rtcp.receiver_report(self._rtcp_ssrc, blocks[start : start + 31]))

    # ---- consumers --------------------------------------------------------------------

    def assign(self, mid: str, producer: Producer | None) -> None:
        """Show ``producer`` on slot ``mid`` (None pauses it)."""
        slot = self.slots.get(mid)
        if slot is None:
            raise KeyError(mid)
        if producer is not None and producer.kind != slot.kind:
            raise ValueError("a slot shows one kind of media")
        slot.consumer.attach(producer)

    # ---- life cycle -------------------------------------------------------------------

    async def _state_changed(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and not self.closed:
            log.info("transport %s: connection %s", self.id, self.pc.connectionState)
            await self.close()

    async def close(self) -> None:
        """Stop forwarding to and from this endpoint and close its peer connection."""
        if self.closed:
            return
        self.closed = True
        if self._reports is not None:
            self._reports.cancel()
        for slot in self.slots.values():
            slot.consumer.attach(None)
        for producer in self.producers.values():
            producer.close()
            self._on_producer_closed(self, producer)
        await self.pc.close()
        self._on_closed(self)

    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics and tests."""
        return {
            "connection": self.pc.connectionState,
            "unroutable": self.unroutable,
            "producers": {
                p.id: {
                    "kind": p.kind,
                    "source": p.source,
                    "received": p.received,
                    "layers": [layer.packets for layer in p.layers],
                }
                for p in self.producers.values()
            },
            "slots": {
                mid: {
                    "producer_id": s.consumer.producer.id if s.consumer.producer else None,
                    "sent": s.consumer.sent,
                    "dropped": s.consumer.dropped,
                    "skipped": s.consumer.skipped,
                    "layer": s.consumer.current_layer,
                    "target_layer": s.consumer.target_layer,
                    "switches": s.consumer.switches,
                    "bandwidth_bps": s.consumer.bandwidth.bps,
                    "probes": s.consumer.selector.probes,
                    "failed_probes": s.consumer.selector.failed_probes,
                }
                for mid, s in self.slots.items()
            },
            "at": time.time(),
        }


def _extension_ids(description: SessionDescription, mid: str) -> dict[str, int]:
    for media in description.media:
        if media.rtp.muxId == mid:
            return {ext.uri: ext.id for ext in media.rtp.headerExtensions}
    return {}


def _rtx_ssrcs(media: Any) -> dict[int, int]:
    """Primary SSRC → its RTX SSRC, from an m-section's ``a=ssrc-group:FID`` lines."""
    return {
        int(group.items[0]): int(group.items[1])
        for group in media.ssrc_group
        if group.semantic == "FID" and len(group.items) > 1
    }


def _primary_ssrcs(media: Any) -> list[int]:
    """Media SSRCs of an m-section, without the RTX ones paired by ``a=ssrc-group:FID``."""
    repair = {
        int(group.items[1])
        for group in media.ssrc_group
        if group.semantic == "FID" and len(group.items) > 1
    }
    return [info.ssrc for info in media.ssrc if info.ssrc not in repair]


def publisher_budget(producer: Producer) -> int:
    """The bitrate to allow a publisher: enough for the largest picture any consumer shows.

    A consumer that displays a thumbnail needs only the low layer; when every consumer is
    such, the publisher is told (REMB) not to spend its uplink on the layers above. Each
    consumer's own bandwidth is handled by its layer choice, not here: capping the publisher
    by the slowest link would starve everyone else.
    """
    if not producer.consumers:
        return PUBLISHER_IDLE_BPS
    if len(producer.layers) == 1:
        return PUBLISHER_MAX_BPS
    return SIMULCAST_BUDGET[min(producer.wanted_layer(), 2)]
