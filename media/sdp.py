"""SDP text the SFU reads and adjusts around aiortc's offer/answer, without aiortc internals.

The client is always the offerer and an aiortc ``RTCPeerConnection`` answers for the SFU.
aiortc's SDP model has no ``a=rid`` / ``a=simulcast`` (RFC 8851 / RFC 8853), so a Chromium
offer with three simulcast layers goes through two steps around aiortc:

1. ``split_simulcast(offer)``: takes the simulcast description out of the offer (and
   normalises the few lines aiortc's parser raises on), giving an SDP for
   ``setRemoteDescription`` plus, per mid, what was offered.
2. ``merge_simulcast(answer, offers)``: after ``setLocalDescription`` (aiortc regenerates the
   SDP text from its own model there, so anything merged earlier would be lost), writes the
   ``a=rid:<rid> recv`` / ``a=simulcast:recv`` lines, and the RID header extensions aiortc does
   not negotiate by itself, into the answer sent to the client.

The other helpers read what the forwarding path needs from either side's SDP: header
extension ids (to read MID/RID/audio level and translate ids between publisher and
subscriber), SSRCs with their RTX pairs, directions and payload types.

Everything here is pure text processing: lines are kept byte for byte unless they have to
change, so an SDP without simulcast passes through ``split_simulcast`` unchanged.
"""

from dataclasses import dataclass, field

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})

# RFC 3551 static payload types that may legally appear without an a=rtpmap line.
_STATIC_PAYLOAD_TYPES: dict[str, dict[int, tuple[str, int, int | None]]] = {
    "audio": {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1)},
}


@dataclass(frozen=True, slots=True)
class SimulcastRid:
    """One layer of a simulcast offer, as the offerer described it."""

    rid: str
    direction: str  # the offerer's a=rid direction: "send" for a publishing client
    paused: bool = False  # offered with "~": the client keeps the layer off for now


@dataclass(frozen=True, slots=True)
class SimulcastOffer:
    """The simulcast part of one offered m-section (the one aiortc cannot see).

    ``rids`` keep the order of the offer's ``a=simulcast`` line (RFC 8853 §5.1: the order of
    preference; Chromium writes its ``sendEncodings`` order). The extension ids are what the
    publisher writes into its packets, so the SFU reads layers by ``rid_ext_id`` and RTX
    repairs by ``repaired_rid_ext_id``.
    """

    direction: str  # the offerer's a=simulcast direction; only "send" is taken
    rids: tuple[SimulcastRid, ...]
    rid_ext_id: int
    repaired_rid_ext_id: int | None = None
    mid_ext_id: int | None = None

    @property
    def rid_names(self) -> list[str]:
        """The rids in offer order."""
        return [layer.rid for layer in self.rids]


@dataclass(frozen=True, slots=True)
class MediaSsrcs:
    """SSRCs one m-section announces: primary streams, and their RTX / FEC partners."""

    primary: list[int] = field(default_factory=list)
    rtx: dict[int, int] = field(default_factory=dict)  # primary SSRC -> RTX SSRC (FID)
    fec: dict[int, int] = field(default_factory=dict)  # primary SSRC -> FlexFEC SSRC (FEC-FR)

    @property
    def all(self) -> list[int]:
        """Every SSRC of the section: primaries first, then RTX, then FEC."""
        return [*self.primary, *self.rtx.values(), *self.fec.values()]


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """One payload type of an m-section (a=rtpmap, a=fmtp and a=rtcp-fb together)."""

    payload_type: int
    mime_type: str  # "video/VP8", "video/rtx", "audio/opus": kind + encoding name as written
    clock_rate: int
    channels: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)  # fmtp; flags map to ""
    rtcp_feedback: tuple[str, ...] = ()  # "nack", "nack pli", "ccm fir", "transport-cc", ...

    @property
    def name(self) -> str:
        """The encoding name ("VP8", "H264", "rtx", "opus")."""
        return self.mime_type.split("/", 1)[1]

    @property
    def is_rtx(self) -> bool:
        """True for an RTX (RFC 4588) payload type."""
        return self.name.lower() == "rtx"

    @property
    def apt(self) -> int | None:
        """For RTX: the payload type it repairs (fmtp ``apt``); None otherwise or if absent."""
        value = self.parameters.get("apt")
        return int(value) if value is not None and value.isdigit() else None


# --- parsing ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Section:
    """One m-section's lines, and the few facts every helper needs."""

    lines: list[str]  # with their line endings, the m= line first
    kind: str = ""
    port: int = 0
    fmt: list[str] = field(default_factory=list)
    mid: str | None = None


def _attribute(line: str) -> tuple[str, str | None]:
    """``a=name:value`` -> (name, value); ``a=flag`` -> (flag, None)."""
    text = line.rstrip("\r\n")[2:]
    name, sep, value = text.partition(":")
    return name, (value if sep else None)


def _split(sdp: str) -> tuple[list[str], list[_Section]]:
    """Session lines and m-sections, every line with its original ending."""
    session: list[str] = []
    sections: list[_Section] = []
    for line in sdp.splitlines(keepends=True):
        if line.startswith("m="):
            bits = line.rstrip("\r\n")[2:].split()
            section = _Section([line])
            if len(bits) >= 3:
                section.kind = bits[0]
                port = bits[1].split("/", 1)[0]  # "<port>/<count>" is legal (RFC 4566)
                section.port = int(port) if port.isdigit() else 0
                section.fmt = bits[3:]
            sections.append(section)
        elif sections:
            sections[-1].lines.append(line)
            if line.startswith("a=mid:"):
                sections[-1].mid = line.rstrip("\r\n")[6:].strip()
        else:
            session.append(line)
    return session, sections


def _newline(sdp: str) -> str:
    """The line ending the document uses (SDP says CRLF; some tools write LF)."""
    return "\r\n" if "\r\n" in sdp or "\n" not in sdp else "\n"


def _extmaps(lines: list[str]) -> dict[str, int]:
    """``a=extmap`` lines as uri -> id (direction suffix and extension attributes ignored)."""
    found: dict[str, int] = {}
    for line in lines:
        if not line.startswith("a=extmap:"):
            continue
        bits = (_attribute(line)[1] or "").split()
        if len(bits) < 2:
            continue
        ext_id = bits[0].split("/", 1)[0]
        if ext_id.isdigit():
            found.setdefault(bits[1], int(ext_id))
    return found


def _rtpmap_payload_types(lines: list[str]) -> set[str]:
    return {
        (_attribute(line)[1] or "").split(" ", 1)[0]
        for line in lines
        if line.startswith("a=rtpmap:")
    }


# --- simulcast ----------------------------------------------------------------------------


def _parse_simulcast(value: str) -> dict[str, list[tuple[str, bool]]]:
    """``send q;~h;f,x recv r`` -> {"send": [(q, False), (h, True), (f, False)], "recv": [...]}.

    Of ``,``-separated alternatives only the first is kept: the SFU accepts no format
    alternatives, and RFC 8853 §5.3.2 lets the answerer pick one. The pre-RFC syntax
    (``send rid=q;h``, old Firefox) is read too.
    """
    found: dict[str, list[tuple[str, bool]]] = {}
    words = value.split()
    for direction, streams in zip(words[::2], words[1::2], strict=False):
        if direction not in ("send", "recv"):
            continue
        streams = streams.removeprefix("rid=")
        layers: list[tuple[str, bool]] = []
        for alternatives in streams.split(";"):
            first = alternatives.split(",", 1)[0]
            if first.startswith("~"):
                layers.append((first[1:], True))
            elif first:
                layers.append((first, False))
        found[direction] = [layer for layer in layers if layer[0]]
    return found


def _simulcast_offer(section: _Section) -> SimulcastOffer | None:
    """What the section offers for simulcast sending, or None if nothing usable."""
    rid_directions: dict[str, str] = {}
    simulcast: dict[str, list[tuple[str, bool]]] = {}
    for line in section.lines:
        if line.startswith("a=rid:"):
            bits = (_attribute(line)[1] or "").split()
            if len(bits) >= 2:
                rid_directions.setdefault(bits[0], bits[1])
        elif line.startswith("a=simulcast:"):
            simulcast = _parse_simulcast(_attribute(line)[1] or "")
    # RFC 8853 §5.3: a rid in a=simulcast must be defined by an a=rid line of the same
    # direction; the SFU only receives simulcast (it cannot send it through aiortc).
    layers = tuple(
        SimulcastRid(rid, "send", paused)
        for rid, paused in simulcast.get("send", [])
        if rid_directions.get(rid) == "send"
    )
    extensions = _extmaps(section.lines)
    rid_ext_id = extensions.get(RID_URI)
    if not layers or rid_ext_id is None:
        # Without the rtp-stream-id extension the layers could not be told apart (Chromium
        # signals no SSRCs for rid simulcast): answered as a single-stream section.
        return None
    return SimulcastOffer(
        direction="send",
        rids=layers,
        rid_ext_id=rid_ext_id,
        repaired_rid_ext_id=extensions.get(REPAIRED_RID_URI),
        mid_ext_id=extensions.get(MID_URI),
    )


def _normalised(line: str, payload_types: set[str]) -> str | None:
    """The line as aiortc's parser can take it; None to drop it.

    aiortc 1.16 ``SessionDescription.parse`` raises on: extmap lines carrying extension
    attributes (RFC 8285 §8: ``a=extmap:5 <uri> <attributes>``); a=fmtp for a payload type
    without a=rtpmap (its codec lookup raises StopIteration); a=ssrc lines without an
    ``attribute:value``. a=rid / a=simulcast are ignored by aiortc and are taken out so the
    SDP handed to it describes exactly what aiortc negotiates.
    """
    if line.startswith(("a=rid:", "a=simulcast:")):
        return None
    if line.startswith("a=extmap:"):
        bits = (_attribute(line)[1] or "").split()
        if len(bits) < 2:
            return None
        if len(bits) > 2:
            ending = line[len(line.rstrip("\r\n")) :]
            return f"a=extmap:{bits[0]} {bits[1]}{ending}"
    elif line.startswith("a=fmtp:"):
        if (_attribute(line)[1] or "").split(" ", 1)[0] not in payload_types:
            return None
    elif line.startswith("a=ssrc:"):
        description = (_attribute(line)[1] or "").partition(" ")[2]
        if ":" not in description:
            return None
    return line


def split_simulcast(offer_sdp: str) -> tuple[str, dict[str, SimulcastOffer]]:
    """An offer aiortc accepts, and per mid the simulcast layers it cannot see.

    Returns ``(sdp_for_aiortc, offers)``: a=rid and a=simulcast lines are removed and the few
    lines aiortc's parser raises on are normalised (see ``_normalised``); every other line
    is kept byte for byte, so an offer without simulcast comes back unchanged. ``offers``
    holds only sections offering to *send* simulcast with the rtp-stream-id extension
    negotiated; receive-simulcast offers are declined (the answer carries no simulcast
    for them, so the client gets a single stream, RFC 8853 §5.3).

    Port-0 (rejected) m-sections are left as they are: aiortc treats them as live
    sections, which the caller has to know about when a client stops a transceiver.
    """
    session, sections = _split(offer_sdp)
    offers: dict[str, SimulcastOffer] = {}
    out: list[str] = list(session)
    for section in sections:
        if section.mid is not None:
            offer = _simulcast_offer(section)
            if offer is not None:
                offers[section.mid] = offer
        # Only a=rtpmap defines a codec for aiortc, static payload types included.
        payload_types = _rtpmap_payload_types(section.lines)
        out.append(section.lines[0])
        for line in section.lines[1:]:
            kept = _normalised(line, payload_types)
            if kept is not None:
                out.append(kept)
    return "".join(out), offers


def merge_simulcast(answer_sdp: str, offers: dict[str, SimulcastOffer]) -> str:
    """Write the simulcast answer into aiortc's answer text.

    For each offered mid, the section gets ``a=rid:<rid> recv`` per layer and
    ``a=simulcast:recv <rids>`` in the offer's order, paused layers keeping their ``~`` (an
    answer decides the client's encodings: Chromium turns off any layer the answer pauses
    and drops any it leaves out, so the SFU echoes the client's own choice). The RID and
    repaired-RID ``a=extmap`` lines are added with the offer's ids when aiortc left them out
    (it does unless ``enable_sfu_header_extensions`` ran). Sections the SFU does not receive
    on (answered sendonly/inactive, or rejected) get no simulcast. Calling it twice gives
    the same text. Raises ``ValueError`` if a mid is missing from the answer or an extension
    id is already taken by another extension there.
    """
    if not offers:
        return answer_sdp
    newline = _newline(answer_sdp)
    session, sections = _split(answer_sdp)
    by_mid = {section.mid: section for section in sections}
    missing = sorted(set(offers) - set(by_mid))
    if missing:
        raise ValueError(f"answer has no m-section for mid(s) {', '.join(missing)}")
    session_direction = _session_direction(session)
    out: list[str] = list(session)
    for section in sections:
        offer = offers.get(section.mid) if section.mid is not None else None
        if offer is None or _direction(section, session_direction) not in (
            "recvonly",
            "sendrecv",
        ):
            out.extend(section.lines)
            continue
        lines = [line for line in section.lines if not line.startswith(("a=rid:", "a=simulcast:"))]
        if lines and not lines[-1].endswith(("\r\n", "\n")):
            lines[-1] += newline
        _add_extmaps(lines, offer, newline)
        lines.extend(f"a=rid:{layer.rid} recv{newline}" for layer in offer.rids)
        streams = ";".join(("~" if layer.paused else "") + layer.rid for layer in offer.rids)
        lines.append(f"a=simulcast:recv {streams}{newline}")
        out.extend(lines)
    return "".join(out)


def _add_extmaps(lines: list[str], offer: SimulcastOffer, newline: str) -> None:
    """Insert the offer's RID extmaps that the answer lacks, next to its other extmaps."""
    present = _extmaps(lines)
    taken = {ext_id: uri for uri, ext_id in present.items()}
    wanted = [(RID_URI, offer.rid_ext_id), (REPAIRED_RID_URI, offer.repaired_rid_ext_id)]
    extra: list[str] = []
    for uri, ext_id in wanted:
        if ext_id is None or uri in present:
            continue
        if ext_id in taken:
            raise ValueError(f"extmap id {ext_id} is {taken[ext_id]} in the answer, not {uri}")
        extra.append(f"a=extmap:{ext_id} {uri}{newline}")
    if not extra:
        return
    last_extmap = max(
        (i for i, line in enumerate(lines) if line.startswith("a=extmap:")), default=0
    )
    lines[last_extmap + 1 : last_extmap + 1] = extra


# --- reading -------------------------------------------------------------------------------


def _session_direction(session: list[str]) -> str:
    for line in session:
        name = _attribute(line)[0] if line.startswith("a=") else ""
        if name in DIRECTIONS:
            return name
    return "sendrecv"  # RFC 4566 §6 default


def _direction(section: _Section, default: str) -> str:
    if section.port == 0 and not any(line.startswith("a=bundle-only") for line in section.lines):
        return "inactive"  # rejected (RFC 3264 §6), unless only waiting to join the bundle
    for line in section.lines:
        if line.startswith("a="):
            name = _attribute(line)[0]
            if name in DIRECTIONS:
                return name
    return default


def header_extension_ids(sdp: str) -> dict[str, dict[str, int]]:
    """Per mid: header extension uri -> id (RFC 8285), session-level extmaps included.

    The SFU reads MID/RID/audio level/abs-send-time from packets with these ids, and maps
    a publisher's ids to each subscriber's. Sections without a mid are left out.
    """
    session, sections = _split(sdp)
    defaults = _extmaps(session)
    return {
        section.mid: {**defaults, **_extmaps(section.lines)}
        for section in sections
        if section.mid is not None
    }


def ssrcs_by_mid(sdp: str) -> dict[str, MediaSsrcs]:
    """Per mid: the announced SSRCs, primaries apart from their RTX (FID) and FEC partners.

    A Chromium simulcast section announces no SSRCs (layers are found by RID), so an empty
    ``MediaSsrcs`` is normal there.
    """
    found: dict[str, MediaSsrcs] = {}
    for section in _split(sdp)[1]:
        if section.mid is None:
            continue
        ssrcs: list[int] = []
        info = MediaSsrcs()
        for line in section.lines:
            if line.startswith("a=ssrc:"):
                head = (_attribute(line)[1] or "").split(" ", 1)[0]
                if head.isdigit() and int(head) not in ssrcs:
                    ssrcs.append(int(head))
            elif line.startswith("a=ssrc-group:"):
                bits = (_attribute(line)[1] or "").split()
                if len(bits) == 3 and bits[1].isdigit() and bits[2].isdigit():
                    pairs = {"FID": info.rtx, "FEC-FR": info.fec}.get(bits[0])
                    if pairs is not None:
                        pairs[int(bits[1])] = int(bits[2])
        secondary = set(info.rtx.values()) | set(info.fec.values())
        info.primary.extend(ssrc for ssrc in ssrcs if ssrc not in secondary)
        found[section.mid] = info
    return found


def directions_by_mid(sdp: str) -> dict[str, str]:
    """Per mid: sendrecv / sendonly / recvonly / inactive, as written by that SDP's author.

    A rejected section (port 0 without ``a=bundle-only``) counts as inactive; a section
    without a direction attribute takes the session's, and that defaults to sendrecv.
    """
    session, sections = _split(sdp)
    default = _session_direction(session)
    return {
        section.mid: _direction(section, default) for section in sections if section.mid is not None
    }


def codecs_by_mid(sdp: str) -> dict[str, dict[int, CodecInfo]]:
    """Per mid: payload type -> codec, in the m= line's order (the author's preference).

    Payload types without a=rtpmap are left out unless they are RFC 3551 static ones.
    """
    found: dict[str, dict[int, CodecInfo]] = {}
    for section in _split(sdp)[1]:
        if section.mid is None or section.kind not in ("audio", "video"):
            continue
        rtpmap: dict[int, tuple[str, int, int | None]] = dict(
            _STATIC_PAYLOAD_TYPES.get(section.kind, {})
        )
        fmtp: dict[int, dict[str, str]] = {}
        feedback: dict[int | None, list[str]] = {}
        for line in section.lines:
            name, value = _attribute(line) if line.startswith("a=") else ("", None)
            if value is None:
                continue
            pt_text, _, rest = value.partition(" ")
            pt = int(pt_text) if pt_text.isdigit() else None
            if name == "rtpmap" and pt is not None:
                encoding = rest.strip().split("/")
                if len(encoding) >= 2 and encoding[1].isdigit():
                    channels = int(encoding[2]) if len(encoding) > 2 else None
                    rtpmap[pt] = (encoding[0], int(encoding[1]), channels)
            elif name == "fmtp" and pt is not None:
                fmtp[pt] = _fmtp_parameters(rest)
            elif name == "rtcp-fb" and (pt is not None or pt_text == "*"):
                feedback.setdefault(pt, []).append(" ".join(rest.split()))
        codecs: dict[int, CodecInfo] = {}
        for pt_text in section.fmt:
            if not pt_text.isdigit() or int(pt_text) not in rtpmap:
                continue
            pt = int(pt_text)
            encoding, clock_rate, channels = rtpmap[pt]
            if section.kind == "audio" and channels is None:
                channels = 1  # RFC 4566 §6: one channel when the rtpmap says nothing
            codecs[pt] = CodecInfo(
                payload_type=pt,
                mime_type=f"{section.kind}/{encoding}",
                clock_rate=clock_rate,
                channels=channels,
                parameters=fmtp.get(pt, {}),
                rtcp_feedback=(*feedback.get(None, []), *feedback.get(pt, [])),
            )
        found[section.mid] = codecs
    return found


def _fmtp_parameters(text: str) -> dict[str, str]:
    """``a=b;c=d;flag`` -> {"a": "b", "c": "d", "flag": ""} (names and values stripped)."""
    parameters: dict[str, str] = {}
    for item in text.split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            parameters[name.strip()] = value.strip()
    return parameters
