"""bench/fanout.py: the counting logic on its own, and one short real run against ``relay``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    # appended, not prepended: bench/signaling.py must not shadow the ``signaling`` package
    sys.path.append(str(BENCH))

from fanout_lib import common  # noqa: E402
from fanout_lib.subscriber import DUPLICATE, NEW, RECOVERED, Stream  # noqa: E402

RUN_KEYS = {
    "subscribers",
    "seconds",
    "packets_in",
    "packets_out",
    "frames_delivered",
    "server_cpu_s",
    "cpu_us_per_packet_out",
    "loss_pct",
    "p50_added_latency_ms",
    "p99_added_latency_ms",
    "decoded_frames_ok",
}


def test_stream_counts_gaps_recoveries_duplicates_across_the_wrap() -> None:
    stream = Stream(1234, "video")
    gaps: list[int] = []
    assert stream.receive(65533, 0.0, gaps) == NEW
    assert stream.receive(65534, 0.0, gaps) == NEW
    assert stream.receive(1, 0.1, gaps) == NEW  # 65535 and 0 are missing, across the wrap
    assert [g & 0xFFFF for g in gaps] == [65535, 0]
    assert len(stream.missing) == 2
    assert stream.receive(0, 0.2, gaps) == RECOVERED  # a retransmission
    assert stream.receive(0, 0.3, gaps) == DUPLICATE
    assert stream.receive(65534, 0.3, gaps) == DUPLICATE
    assert [s & 0xFFFF for s in stream.missing] == [65535]


def test_payload_types_and_rtx_from_sdp() -> None:
    sdp = "\r\n".join(
        [
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=rtpmap:111 opus/48000/2",
            "m=video 9 UDP/TLS/RTP/SAVPF 97 98",
            "a=rtpmap:97 VP8/90000",
            "a=rtpmap:98 rtx/90000",
            "a=fmtp:98 apt=97",
        ]
    )
    types = common.payload_types(sdp)
    assert types[111] == common.PayloadType("audio", "opus")
    assert types[97] == common.PayloadType("video", "vp8")
    assert types[98] == common.PayloadType("video", "rtx", 97)


def test_frame_key_ignores_the_descriptor_an_sfu_may_rewrite() -> None:
    header = bytes([0x80, 96, 0, 1]) + b"\x00" * 8
    frame = bytes(range(40))
    # S=1, PID=0, with a 15-bit picture ID 1 vs 2 and no extension
    a = header + bytes([0x90, 0x80, 0x80, 0x01]) + frame
    b = header + bytes([0x90, 0x80, 0x80, 0x02]) + frame
    c = header + bytes([0x10]) + frame
    offset = common.rtp_payload_offset(a)
    assert common.vp8_frame_start(a[offset])
    assert common.frame_key(a, offset) == common.frame_key(b, offset)
    assert common.frame_key(c, offset) == frame[: common.FRAME_KEY_BYTES]
    assert not common.vp8_frame_start(0x00)  # a continuation packet


@pytest.mark.timeout(120)
def test_relay_run_prints_the_result_line_and_packets_flow() -> None:
    command = [sys.executable, str(BENCH / "fanout.py"), "--sfu", "relay"]
    command += ["--subscribers", "2", "--seconds", "3", "--warmup", "2"]
    # A small source: a fresh machine encodes it in a second, where 720p takes half a minute.
    command += ["--source-size", "320x180", "--source-kbps", "300", "--source-seconds", "4"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=110,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"runs", "ratios"}
    assert set(result["runs"]) == {"relay"}
    run = result["runs"]["relay"]
    assert set(run) == RUN_KEYS
    assert run["subscribers"] == 2
    assert run["packets_in"] > 100
    assert run["packets_out"] > 100
    assert run["frames_delivered"] > 0
    assert run["decoded_frames_ok"] > 0
    assert run["server_cpu_s"] > 0
    assert run["p50_added_latency_ms"] is not None
    assert set(result["ratios"]) == {
        "phonghop_vs_janus_cpu_per_packet",
        "relay_vs_phonghop_cpu_per_frame",
    }


def test_recording_runs_alternate_and_the_overhead_is_pooled() -> None:
    from fanout import record_order, recording_overhead

    assert record_order(1) == [False, True]
    assert record_order(2) == [False, True, True, False]
    plain = [
        {"server_cpu_s": 1.0, "packets_out": 1000},
        {"server_cpu_s": 3.0, "packets_out": 1000},
    ]
    recorded = [{"server_cpu_s": 2.2, "packets_out": 1000}]
    assert recording_overhead(plain, recorded) == 10.0  # 2.2 ms vs 2.0 ms per packet
    assert recording_overhead(plain, [{"server_cpu_s": 1.0, "packets_out": 0}]) is None


@pytest.mark.timeout(200)
def test_record_run_reports_the_overhead_and_a_ready_recording() -> None:
    command = [sys.executable, str(BENCH / "fanout.py"), "--record"]
    command += ["--record-pairs", "1", "--record-warmup-runs", "0"]
    command += ["--subscribers", "2", "--seconds", "3", "--warmup", "2"]
    command += ["--source-size", "320x180", "--source-kbps", "300", "--source-seconds", "4"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=190, cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result["runs"]) == {"phonghop", "phonghop_recording"}
    assert [r["recorded"] for r in result["recording_runs"]] == [False, True]
    assert isinstance(result["recording_cpu_overhead_pct"], float)
    recording = result["runs"]["phonghop_recording"]["recording"]
    assert recording["state"] == "ready" and recording["size"] > 0, recording
    assert recording["duration_s"] > 3 and len(recording["sha256"]) == 64
    assert "recording" not in result["runs"]["phonghop"]
