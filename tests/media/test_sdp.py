"""media/sdp.py against a Chromium simulcast offer and real aiortc peer connections."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, rtcpeerconnection
from aiortc import codecs as aiortc_codecs
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.sdp import SessionDescription

from media.aiortc_hooks import (
    SFU_VIDEO_HEADER_EXTENSIONS,
    AiortcIncompatible,
    enable_sfu_header_extensions,
)
from media.sdp import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    MID_URI,
    REPAIRED_RID_URI,
    RID_URI,
    TRANSPORT_CC_URI,
    MediaSsrcs,
    SimulcastOffer,
    SimulcastRid,
    codecs_by_mid,
    directions_by_mid,
    header_extension_ids,
    merge_simulcast,
    split_simulcast,
    ssrcs_by_mid,
)

DATA = Path(__file__).parent / "data"
CHROMIUM_OFFER = (DATA / "chromium_simulcast_offer.sdp").read_bytes().decode()
SFU_URIS = {uri for uri, _ in SFU_VIDEO_HEADER_EXTENSIONS}


def section(sdp: str, mid: str) -> list[str]:
    """The lines of the m-section with ``a=mid:<mid>``."""
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        if sections:
            sections[-1].append(line)
    return next(lines for lines in sections if f"a=mid:{mid}" in lines)


def with_simulcast(lines: str) -> str:
    """The Chromium offer with its a=simulcast line replaced (several lines allowed)."""
    return CHROMIUM_OFFER.replace("a=simulcast:send q;h;f\r\n", lines)


@pytest.fixture
def stock_header_extensions() -> Iterator[None]:
    """aiortc's own header extension list for the test, whatever ran before; restored after."""
    video = aiortc_codecs.HEADER_EXTENSIONS["video"]
    saved = video[:]
    video[:] = [ext for ext in saved if ext.uri not in SFU_URIS]
    yield
    video[:] = saved


@pytest.fixture
async def answerer() -> AsyncIterator[RTCPeerConnection]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server
    yield pc
    await pc.close()


async def answer(pc: RTCPeerConnection, offer_sdp: str) -> str:
    """The SFU side: aiortc answers an offer; returns what it would send back."""
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp


# --- split_simulcast ------------------------------------------------------------------------


def test_split_finds_the_three_layers_and_their_extension_ids():
    stripped, offers = split_simulcast(CHROMIUM_OFFER)

    assert offers == {
        "1": SimulcastOffer(
            direction="send",
            rids=(SimulcastRid("q", "send"), SimulcastRid("h", "send"), SimulcastRid("f", "send")),
            rid_ext_id=10,
            repaired_rid_ext_id=11,
            mid_ext_id=4,
        )
    }
    assert offers["1"].rid_names == ["q", "h", "f"]
    # Only the rid/simulcast lines went; everything else is kept byte for byte.
    kept = [
        line
        for line in CHROMIUM_OFFER.splitlines(keepends=True)
        if not line.startswith(("a=rid:", "a=simulcast:"))
    ]
    assert stripped == "".join(kept)
    assert "a=rid" not in stripped and "a=simulcast" not in stripped


def test_split_reads_paused_layers_and_takes_the_first_alternative():
    offer = with_simulcast("a=simulcast:send ~q;h,f;f\r\n")
    _, offers = split_simulcast(offer)
    assert offers["1"].rids == (
        SimulcastRid("q", "send", paused=True),
        SimulcastRid("h", "send"),
        SimulcastRid("f", "send"),
    )


def test_split_reads_the_pre_rfc_syntax():
    _, offers = split_simulcast(with_simulcast("a=simulcast: send rid=q;h;f\r\n"))
    assert offers["1"].rid_names == ["q", "h", "f"]


def test_split_ignores_rids_without_an_a_rid_line_of_the_same_direction():
    offer = with_simulcast("a=simulcast:send q;x;f\r\n").replace("a=rid:f send", "a=rid:f recv")
    _, offers = split_simulcast(offer)
    assert offers["1"].rid_names == ["q"]


def test_split_declines_receive_simulcast_and_rid_without_its_extension():
    receive = with_simulcast("a=simulcast:recv q;h;f\r\n").replace(" send\r\n", " recv\r\n")
    stripped, offers = split_simulcast(receive)
    assert offers == {}
    assert "a=simulcast" not in stripped and "a=rid" not in stripped

    no_rid_extension = CHROMIUM_OFFER.replace(f"a=extmap:10 {RID_URI}\r\n", "")
    assert split_simulcast(no_rid_extension)[1] == {}


async def test_split_normalises_lines_aiortc_raises_on(answerer):
    # RFC 8285 extension attributes after the uri, and an fmtp for an undeclared payload type.
    hostile = CHROMIUM_OFFER.replace(
        "a=extmap:13 urn:3gpp:video-orientation\r\n",
        "a=extmap:13 urn:3gpp:video-orientation some-attribute\r\n",
    ).replace("a=rtpmap:120 ulpfec/90000\r\n", "a=rtpmap:120 ulpfec/90000\r\na=fmtp:121 x=1\r\n")
    with pytest.raises(ValueError):
        SessionDescription.parse(hostile)
    without_extmap_attribute = hostile.replace(" some-attribute", "")
    with pytest.raises((StopIteration, RuntimeError)):
        SessionDescription.parse(without_extmap_attribute)

    stripped, offers = split_simulcast(hostile)
    assert "a=extmap:13 urn:3gpp:video-orientation\r\n" in stripped
    assert "a=fmtp:121" not in stripped
    assert offers["1"].rid_names == ["q", "h", "f"]
    assert "a=mid:1" in await answer(answerer, stripped)


async def test_a_plain_aiortc_offer_passes_through_unchanged():
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offerer.addTrack(AudioStreamTrack())
        offerer.addTrack(VideoStreamTrack())
        offerer.addTransceiver("video", direction="recvonly")
        await offerer.setLocalDescription(await offerer.createOffer())
        offer = offerer.localDescription.sdp

        stripped, offers = split_simulcast(offer)
        assert stripped == offer
        assert offers == {}
        assert merge_simulcast(offer, offers) == offer
    finally:
        await offerer.close()


# --- aiortc answers the stripped offer, merge_simulcast completes the answer -----------------


async def test_aiortc_answers_the_stripped_chromium_offer_and_merge_adds_simulcast(
    answerer, stock_header_extensions
):
    stripped, offers = split_simulcast(CHROMIUM_OFFER)
    aiortc_answer = await answer(answerer, stripped)
    # Stock aiortc negotiates no RID extension: this is what merge_simulcast repairs.
    assert RID_URI not in header_extension_ids(aiortc_answer)["1"]

    merged = merge_simulcast(aiortc_answer, offers)

    video = section(merged, "1")
    rid_lines = [line for line in video if line.startswith("a=rid:")]
    assert rid_lines == ["a=rid:q recv", "a=rid:h recv", "a=rid:f recv"]
    assert [line for line in video if line.startswith("a=simulcast:")] == ["a=simulcast:recv q;h;f"]
    assert not any(line.startswith(("a=rid", "a=simulcast")) for line in section(merged, "0"))
    # The extension ids are the offer's, as RFC 8285 wants in an answer.
    assert header_extension_ids(merged) == {
        "0": {AUDIO_LEVEL_URI: 1, MID_URI: 4},
        "1": {ABS_SEND_TIME_URI: 2, MID_URI: 4, RID_URI: 10, REPAIRED_RID_URI: 11},
    }
    assert directions_by_mid(merged) == {"0": "recvonly", "1": "recvonly"}

    # VP8 and constrained-baseline H.264 in packetization mode 1 are accepted, each with RTX.
    codecs = codecs_by_mid(merged)["1"]
    by_name = {(c.name, c.parameters.get("profile-level-id")): c for c in codecs.values()}
    vp8 = by_name[("VP8", None)]
    h264 = by_name[("H264", "42e01f")]
    assert vp8.payload_type == 96 and vp8.clock_rate == 90000
    assert h264.payload_type == 108 and h264.parameters["packetization-mode"] == "1"
    rtx = {c.apt: c.payload_type for c in codecs.values() if c.is_rtx}
    assert rtx[96] == 97 and rtx[108] == 109
    assert not any(c.name in ("VP9", "AV1") for c in codecs.values())
    assert next(iter(codecs_by_mid(merged)["0"].values())).name == "opus"

    # aiortc itself (and so any aiortc client) parses the merged answer.
    parsed = SessionDescription.parse(RTCSessionDescription(sdp=merged, type="answer").sdp)
    assert [m.rtp.muxId for m in parsed.media] == ["0", "1"]
    assert [(e.id, e.uri) for e in parsed.media[1].rtp.headerExtensions][-2:] == [
        (10, RID_URI),
        (11, REPAIRED_RID_URI),
    ]
    assert str(SessionDescription.parse(aiortc_answer)) == str(
        SessionDescription.parse(
            "\r\n".join(
                line
                for line in merged.split("\r\n")
                if not line.startswith(("a=rid:", "a=simulcast:", "a=extmap:10", "a=extmap:11"))
            )
        )
    )
    # Merging again changes nothing.
    assert merge_simulcast(merged, offers) == merged


async def test_merge_echoes_paused_layers(answerer):
    stripped, offers = split_simulcast(with_simulcast("a=simulcast:send q;~h;f\r\n"))
    merged = merge_simulcast(await answer(answerer, stripped), offers)
    assert "a=simulcast:recv q;~h;f" in section(merged, "1")


async def test_merge_leaves_sections_the_sfu_does_not_receive_on(answerer):
    stripped, offers = split_simulcast(CHROMIUM_OFFER)
    aiortc_answer = await answer(answerer, stripped)
    inactive = aiortc_answer.replace("a=recvonly", "a=inactive")
    assert merge_simulcast(inactive, offers) == inactive


def test_merge_rejects_a_wrong_answer():
    _, offers = split_simulcast(CHROMIUM_OFFER)
    audio_only = CHROMIUM_OFFER.split("m=video")[0]
    with pytest.raises(ValueError, match="mid"):
        merge_simulcast(audio_only, offers)
    taken = CHROMIUM_OFFER.replace("a=sendonly", "a=recvonly").replace(
        f"a=extmap:10 {RID_URI}", "a=extmap:10 urn:example:other"
    )
    with pytest.raises(ValueError, match="extmap id 10"):
        merge_simulcast(taken, offers)


def test_merge_keeps_lf_line_endings():
    _, offers = split_simulcast(CHROMIUM_OFFER)
    answer_lf = (
        CHROMIUM_OFFER.replace("\r\n", "\n")
        .replace("a=sendonly", "a=recvonly")
        .replace(f"a=extmap:10 {RID_URI}\n", "")
    )
    merged = merge_simulcast(answer_lf, offers)
    assert "\r" not in merged
    # Inserted after the section's last extmap, with the offer's id.
    allocation = "a=extmap:9 http://www.webrtc.org/experiments/rtp-hdrext/video-layers-allocation00"
    assert f"{allocation}\na=extmap:10 {RID_URI}\n" in merged
    assert merged.endswith("a=simulcast:recv q;h;f\n")


# --- the small readers --------------------------------------------------------------------


CAMERA_WITH_SSRCS = (
    CHROMIUM_OFFER.replace("a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n", "")
    .replace("a=simulcast:send q;h;f\r\n", "")
    .replace(
        "a=rtpmap:120 ulpfec/90000\r\n",
        "a=rtpmap:120 ulpfec/90000\r\n"
        "a=ssrc-group:FID 1111 2222\r\n"
        "a=ssrc:1111 cname:kX3pQ8v1ZmN4tR7w\r\n"
        "a=ssrc:1111 msid:s t\r\n"
        "a=ssrc:2222 cname:kX3pQ8v1ZmN4tR7w\r\n"
        "a=ssrc:2222 msid:s t\r\n",
    )
)


def test_ssrcs_by_mid_separates_rtx():
    assert ssrcs_by_mid(CAMERA_WITH_SSRCS) == {
        "0": MediaSsrcs(primary=[3371501448]),
        "1": MediaSsrcs(primary=[1111], rtx={1111: 2222}),
    }
    assert ssrcs_by_mid(CAMERA_WITH_SSRCS)["1"].all == [1111, 2222]
    # Chromium announces no SSRCs for rid-based simulcast.
    assert ssrcs_by_mid(CHROMIUM_OFFER)["1"] == MediaSsrcs()


def test_header_extension_ids_of_the_offer():
    ids = header_extension_ids(CHROMIUM_OFFER)
    assert ids["0"] == {AUDIO_LEVEL_URI: 1, ABS_SEND_TIME_URI: 2, TRANSPORT_CC_URI: 3, MID_URI: 4}
    assert ids["1"][RID_URI] == 10 and ids["1"][REPAIRED_RID_URI] == 11
    assert ids["1"][MID_URI] == 4 and ids["1"][ABS_SEND_TIME_URI] == 2
    # Session-level extmaps (RFC 8285 §5) hold for every section; "/dir" suffixes are read.
    session_level = CHROMIUM_OFFER.replace(
        "a=extmap-allow-mixed\r\n", "a=extmap-allow-mixed\r\na=extmap:12/recvonly urn:x:y\r\n"
    )
    assert header_extension_ids(session_level)["0"]["urn:x:y"] == 12


def test_directions_by_mid():
    assert directions_by_mid(CHROMIUM_OFFER) == {"0": "sendonly", "1": "sendonly"}
    rejected = CHROMIUM_OFFER.replace("m=video 9 ", "m=video 0 ")
    assert directions_by_mid(rejected)["1"] == "inactive"
    no_attribute = CHROMIUM_OFFER.replace("a=sendonly\r\n", "")
    assert directions_by_mid(no_attribute) == {"0": "sendrecv", "1": "sendrecv"}


def test_codecs_by_mid_of_the_offer():
    codecs = codecs_by_mid(CHROMIUM_OFFER)
    audio, video = codecs["0"], codecs["1"]
    assert list(audio) == [111, 63, 9, 0, 8, 13, 110, 126]  # m= line order
    opus = audio[111]
    assert (opus.mime_type, opus.clock_rate, opus.channels) == ("audio/opus", 48000, 2)
    assert opus.parameters == {"minptime": "10", "useinbandfec": "1"}
    assert opus.rtcp_feedback == ("transport-cc",)
    assert audio[0].channels == 1 and audio[0].apt is None
    assert video[96].rtcp_feedback == ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")
    assert video[97].is_rtx and video[97].apt == 96
    assert video[45].mime_type == "video/AV1" and video[45].parameters["level-idx"] == "5"
    assert video[108].parameters == {
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
        "profile-level-id": "42e01f",
    }
    # A static payload type needs no rtpmap; "a=rtcp-fb:*" applies to every payload type.
    static = CHROMIUM_OFFER.replace("a=rtpmap:0 PCMU/8000\r\n", "").replace(
        "a=rtpmap:111 opus/48000/2\r\n", "a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:* nack\r\n"
    )
    assert codecs_by_mid(static)["0"][0].mime_type == "audio/PCMU"
    assert codecs_by_mid(static)["0"][9].rtcp_feedback == ("nack",)


# --- enable_sfu_header_extensions ------------------------------------------------------------


@pytest.fixture
def restore_header_extensions() -> Iterator[None]:
    """The hook changes aiortc process-wide: give other tests the list they had."""
    video = aiortc_codecs.HEADER_EXTENSIONS["video"]
    saved = video[:]
    yield
    video[:] = saved


async def test_enabled_extensions_are_negotiated_by_aiortc_itself(
    answerer, stock_header_extensions, restore_header_extensions
):
    enable_sfu_header_extensions()
    enable_sfu_header_extensions()  # idempotent
    video = [ext.uri for ext in aiortc_codecs.HEADER_EXTENSIONS["video"]]
    assert video.count(RID_URI) == 1 and video.count(REPAIRED_RID_URI) == 1
    assert not SFU_URIS & {ext.uri for ext in aiortc_codecs.HEADER_EXTENSIONS["audio"]}

    stripped, offers = split_simulcast(CHROMIUM_OFFER)
    aiortc_answer = await answer(answerer, stripped)
    ids = header_extension_ids(aiortc_answer)
    assert ids["1"][RID_URI] == 10 and ids["1"][REPAIRED_RID_URI] == 11
    assert RID_URI not in ids["0"]
    merged = merge_simulcast(aiortc_answer, offers)
    assert sum(line.startswith("a=extmap:10 ") for line in section(merged, "1")) == 1
    assert "a=simulcast:recv q;h;f" in section(merged, "1")

    # An aiortc offerer in this process now offers them too, with ids unique under BUNDLE.
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offerer.addTransceiver("audio")
        offerer.addTransceiver("video")
        await offerer.setLocalDescription(await offerer.createOffer())
        offered = header_extension_ids(offerer.localDescription.sdp)
    finally:
        await offerer.close()
    assert offered["1"][RID_URI] == 10 and offered["1"][REPAIRED_RID_URI] == 11
    assert RID_URI not in offered["0"]


def test_enable_fails_loudly_if_aiortc_changed(monkeypatch, restore_header_extensions):
    # Negotiation reading a copy of the table would make the change silently ineffective.
    copy = {kind: list(exts) for kind, exts in aiortc_codecs.HEADER_EXTENSIONS.items()}
    monkeypatch.setattr(rtcpeerconnection, "HEADER_EXTENSIONS", copy)
    with pytest.raises(AiortcIncompatible, match="negotiates"):
        enable_sfu_header_extensions()
    monkeypatch.undo()

    monkeypatch.setattr(aiortc_codecs, "HEADER_EXTENSIONS", {"video": ()})
    with pytest.raises(AiortcIncompatible, match="dict of lists"):
        enable_sfu_header_extensions()
    monkeypatch.undo()

    monkeypatch.setattr(rtcpeerconnection, "find_common_header_extensions", lambda a, b: [])
    with pytest.raises(AiortcIncompatible, match="by uri"):
        enable_sfu_header_extensions()
