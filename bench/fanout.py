"""Fan-out benchmark: one 720p30 VP8 + Opus publisher, N subscribers, one SFU at a time.

The publisher process sends a pre-encoded stream (about 2.5 Mbit/s VP8 at 1280x720, 30 fps,
keyframe every 2 s, plus Opus 20 ms; encoded once and cached, see fanout_lib/source.py) into
the SFU, its video paced at ``--pacing-factor`` (2.5) times its bitrate as browsers' WebRTC
pacer does (0: each frame in one burst, as aiortc alone sends). N subscriber peers in several
processes count every RTP packet per stream at their sockets (no aiortc receiver, no
decoding), NACK gaps and count what is still missing after a second as lost, and record when
the first packet of each video frame arrived (the kernel's receive stamp); the publisher
records when it sent it, so added latency = arrival − publisher send time (one machine, one
clock; frames matched by their payload bytes, which every forwarding SFU keeps). One of the
N runs alone in its own process and decodes with aiortc, to prove the frames are valid (its
packets are counted, not timed). The publisher and subscribers stand in for remote
machines but share this one's cores with the server, so every thread of the measured server
runs at ``--server-nice`` (-10): without it the load generator's own processes preempt the
server and their scheduling shows up as added latency.
Server CPU comes from /proc/<pid>/stat over the measuring window.

SFUs (``--sfu``, or ``--compare a,b,…`` to run several one after another):

- ``phonghop``: this project (``python -m signaling serve``), negotiated over socket.io.
- ``relay``: aiortc's ``MediaRelay`` (decode once, encode per subscriber), capped at
  ``--relay-subscribers`` (default 10): it runs out of CPU long before the others.
- ``janus``: Debian's Janus 1.1.2, VideoRoom plugin, driven over its HTTP API. It leaves
  loopback out of its ICE candidates, so it runs in a network namespace the benchmark creates
  and removes (a veth pair, needs root).

Progress goes to stderr; the last line on stdout is one JSON object::

    {"runs": {"<sfu>": {"subscribers", "seconds", "packets_in", "packets_out",
                        "frames_delivered", "server_cpu_s", "cpu_us_per_packet_out", "loss_pct",
                        "p50_added_latency_ms", "p99_added_latency_ms", "decoded_frames_ok"}},
     "ratios": {"phonghop_vs_janus_cpu_per_packet": x, "relay_vs_phonghop_cpu_per_frame": y}}

A ratio is null unless both its runs were asked for.

``--record`` runs phonghop several times in the same invocation, without and with the
meeting recorded (the chair starts the recorder before the window and stops it after; such a
run is ``"phonghop_recording"`` with the file's ``recording`` row), and adds
``"recording_cpu_overhead_pct"``: server CPU per forwarded packet with the recorder, over
without, minus one, in per cent, pooled over the runs. A first run is thrown away (the first
run of an invocation was measured 3-4x dearer per packet whatever it did) and the others go
plain, recorded, recorded, plain... so that neither kind always runs first; each run's own
figures are in ``"recording_runs"``.

Usage::

    python bench/fanout.py --sfu phonghop --subscribers 100 --seconds 30
    python bench/fanout.py --compare phonghop,relay,janus --subscribers 50 --seconds 20
    python bench/fanout.py --record --subscribers 100 --seconds 15
"""

import argparse
import bisect
import json
import multiprocessing as mp
import os
import queue
import sys
import time
from typing import Any

import benchutil
from fanout_lib import common
from fanout_lib.common import log
from fanout_lib.publisher import publish
from fanout_lib.servers import SfuServer, start_server
from fanout_lib.source import SourceParams, load_or_encode
from fanout_lib.subscriber import Counts, subscribe

SFUS = ("phonghop", "relay", "janus")


def latency_percentile(latencies: list[float], q: float) -> float | None:
    """The q-th percentile of the latency samples in ms, rounded; None without samples."""
    return round(benchutil.percentile(latencies, q), 2) if latencies else None


def collect(
    results: Any,
    inbox: dict[tuple[str, Any], Any],
    kind: str,
    who: list[Any],
    within: float,
    procs: list,
) -> dict[Any, Any]:
    """Wait for one ``kind`` message from each of ``who``; keep other messages in ``inbox``."""
    got = {w: inbox.pop((kind, w)) for w in who if (kind, w) in inbox}
    deadline = time.monotonic() + within
    while len(got) < len(who):
        left = deadline - time.monotonic()
        if left <= 0:
            missing = [w for w in who if w not in got]
            raise TimeoutError(f"{missing} did not report {kind!r} within {within:.0f} s")
        try:
            what, sender, data = results.get(timeout=min(left, 1.0))
        except queue.Empty:
            dead = [p.name for p in procs if not p.is_alive()]
            if dead:
                raise RuntimeError(f"processes {dead} exited early") from None
            continue
        if what == "error":
            raise RuntimeError(f"{sender} failed: {data}")
        if what == kind and sender in who:
            got[sender] = data
        else:
            inbox[(what, sender)] = data
    return got


def added_latencies(
    counts: list[Counts], sent: list[tuple[int, bytes, float]], origins: dict[int, int]
) -> list[float]:
    """Arrival − publisher send time (ms) of the first packet of every video frame received.

    Forwarded frames are found by their key (several sends of one key: the source loops, so
    the latest send before the arrival); re-encoded frames (relay) by the publisher's RTP
    timestamp, ``subscriber timestamp − encoder origin``.
    """
    by_key: dict[bytes, list[float]] = {}
    by_timestamp: dict[int, float] = {}
    for timestamp, key, at in sent:
        by_key.setdefault(key, []).append(at)
        by_timestamp[timestamp] = at
    values: list[float] = []
    for c in counts:
        for ssrc, timestamp, key, arrival in c.records:
            if ssrc in origins:
                source = timestamp - origins[ssrc]
                at = next(  # the re-encoded timestamp may be rounded by a tick or two
                    (
                        by_timestamp[(source + d) & 0xFFFFFFFF]
                        for d in (0, -1, 1, -2, 2)
                        if (source + d) & 0xFFFFFFFF in by_timestamp
                    ),
                    None,
                )
            else:
                times = by_key.get(key, [])
                i = bisect.bisect_right(times, arrival)
                at = times[i - 1] if i else None
            if at is not None and 0 <= arrival - at < 10:
                values.append((arrival - at) * 1000)
    return values


def run_sfu(
    mode: str,
    subscribers: int,
    args: argparse.Namespace,
    params: SourceParams,
    record: bool = False,
) -> dict:
    """One SFU: start it, publish, subscribe, measure, stop; return its result object.

    ``record`` (phonghop only): the chair starts recording the meeting before the window and
    stops it after, so the server's CPU in the window includes the recorder's.
    """
    recording: dict[str, Any] | None = None
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    start_at, stop_at = ctx.Value("d", 0.0), ctx.Value("d", 0.0)
    stop = ctx.Event()
    procs: list[mp.process.BaseProcess] = []
    server: SfuServer | None = None
    try:
        server = start_server(mode, subscribers, args)
        comm = common.process_name(server.pid)
        log(f"{mode}: server pid {server.pid} ({comm}), CPU read from /proc/{server.pid}/stat")
        window = (start_at, stop_at, stop)
        publisher = ctx.Process(
            target=benchutil.child_main,
            args=(
                "publisher",
                results,
                publish,
                mode,
                server.client_config,
                params,
                args.pacing_factor,
                results,
                *window,
            ),
            name="publisher",
            daemon=True,
        )
        publisher.start()
        procs.append(publisher)
        inbox: dict[tuple[str, Any], Any] = {}
        collect(results, inbox, "ready", ["publisher"], 60, procs)
        # the decoding subscriber alone in process 0, the counting ones spread over the others
        tapped = subscribers - 1
        shares = [1] + [s for s in common.split(tapped, max(1, min(args.procs, tapped))) if s]
        first = 0
        for index, peers in enumerate(shares):
            p = ctx.Process(
                target=benchutil.child_main,
                args=(
                    index,
                    results,
                    subscribe,
                    mode,
                    server.client_config,
                    index,
                    first,
                    peers,
                    {
                        "decode": index == 0,
                        "expected_size": (params.width, params.height),
                        "drop": 0.0 if index == 0 else args.drop_pct / 100,
                        "poll_ms": args.subscriber_poll_ms,
                    },
                    results,
                    *window,
                ),
                name=f"subscribers-{index}",
                daemon=True,
            )
            p.start()
            procs.append(p)
            first += peers
        who = list(range(len(shares)))
        collect(results, inbox, "ready", who, 60 + subscribers, procs)
        log(f"{mode}: {subscribers} subscribers connected in {len(shares)} processes")
        if record:
            started = server.start_recording()  # type: ignore[attr-defined]
            log(f"{mode}: recording {started['id']} started")
        if args.server_nice:
            threads = common.prioritise(server.pid, args.server_nice)
            log(f"{mode}: {threads} server thread(s) at nice {args.server_nice}")

        t_start = time.monotonic() + args.warmup
        t_stop = t_start + args.seconds
        start_at.value, stop_at.value = t_start, t_stop
        time.sleep(max(0.0, t_start - time.monotonic()))
        cpu0 = server.cpu_seconds()
        busy0 = benchutil.machine_busy_seconds()
        log(f"{mode}: measuring for {args.seconds:g} s")
        time.sleep(max(0.0, t_stop - time.monotonic()))
        server_cpu = server.cpu_seconds() - cpu0
        busy = benchutil.machine_busy_seconds() - busy0
        if record:
            stopped = server.stop_recording()  # type: ignore[attr-defined]
            recording = {
                key: stopped[key] for key in ("id", "state", "size", "duration_s", "sha256")
            }
            log(f"{mode}: recording stopped: {recording}")
        reports = collect(results, inbox, "result", who, 30, procs)
        origins = server.timestamp_origins()
        stop.set()
        sent = collect(results, inbox, "result", ["publisher"], 30, procs)["publisher"]
    except BaseException:
        if server is not None:
            log(f"{mode} server output (tail):\n{server.tail()}")
        raise
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
                p.join()
        if server is not None:
            server.stop()

    counts: list[Counts] = [r["counts"] for r in reports.values()]
    packets_out = sum(c.packets for c in counts)
    unique = sum(c.unique for c in counts)
    lost = sum(c.lost for c in counts)
    frames = sum(c.frames for c in counts)
    latencies = added_latencies(counts, sent["frames"], origins)
    client_cpu = sum(r["cpu"] for r in reports.values())
    log(
        f"{mode}: {packets_out} packets to subscribers ({sum(c.recovered for c in counts)} "
        f"recovered by NACK, {lost} lost), {frames} frames, server CPU {server_cpu:.2f} s, "
        f"subscriber processes {client_cpu:.2f} s, machine busy {busy:.2f} s of "
        f"{2 * args.seconds:g} core-seconds, {len(latencies)} latency samples"
    )
    return {
        "subscribers": subscribers,
        "seconds": args.seconds,
        "packets_in": sent["packets"],
        "packets_out": packets_out,
        "frames_delivered": frames,
        "server_cpu_s": round(server_cpu, 3),
        "cpu_us_per_packet_out": round(server_cpu * 1e6 / packets_out, 2) if packets_out else None,
        "loss_pct": round(100 * lost / (unique + lost), 3) if unique + lost else None,
        "p50_added_latency_ms": latency_percentile(latencies, 50),
        "p99_added_latency_ms": latency_percentile(latencies, 99),
        "decoded_frames_ok": sum(c.decoded for c in counts),
        **({"recording": recording} if record else {}),
    }


def ratios(runs: dict[str, dict]) -> dict[str, float | None]:
    """phonghop vs Janus CPU per packet sent; relay vs phonghop CPU per frame delivered."""

    def per_frame(r: dict) -> float | None:
        return r["server_cpu_s"] / r["frames_delivered"] if r["frames_delivered"] else None

    out: dict[str, float | None] = {
        "phonghop_vs_janus_cpu_per_packet": None,
        "relay_vs_phonghop_cpu_per_frame": None,
    }
    ph, ja, re = runs.get("phonghop"), runs.get("janus"), runs.get("relay")
    if ph and ja and ph["cpu_us_per_packet_out"] and ja["cpu_us_per_packet_out"]:
        out["phonghop_vs_janus_cpu_per_packet"] = round(
            ph["cpu_us_per_packet_out"] / ja["cpu_us_per_packet_out"], 3
        )
    if ph and re:
        a, b = per_frame(re), per_frame(ph)
        if a and b:
            out["relay_vs_phonghop_cpu_per_frame"] = round(a / b, 3)
    return out


def recording_overhead(plain: list[dict], recorded: list[dict]) -> float | None:
    """How much more server CPU each forwarded packet costs while the meeting is recorded (%).

    Pooled: all the server CPU of a kind's runs over all their forwarded packets.
    """

    def per_packet(runs: list[dict]) -> float | None:
        packets = sum(r["packets_out"] for r in runs)
        return sum(r["server_cpu_s"] for r in runs) / packets if packets else None

    a, b = per_packet(plain), per_packet(recorded)
    return round(100 * (b / a - 1), 2) if a and b else None


def record_order(pairs: int) -> list[bool]:
    """Which runs record: plain, recorded, recorded, plain, plain, recorded... (ABBA)."""
    order: list[bool] = []
    for i in range(pairs):
        order += [False, True] if i % 2 == 0 else [True, False]
    return order


def run_recording_comparison(
    n: int, args: argparse.Namespace, params: SourceParams
) -> tuple[dict[str, dict], list[dict], float | None]:
    """phonghop without and with the recorder, after a discarded first run."""
    for i in range(args.record_warmup_runs):
        log(f"phonghop: warm-up run {i + 1} (not counted)")
        run_sfu("phonghop", n, args, params)
    plain: list[dict] = []
    recorded: list[dict] = []
    summary: list[dict] = []
    for record in record_order(args.record_pairs):
        run = run_sfu("phonghop", n, args, params, record=record)
        (recorded if record else plain).append(run)
        summary.append(
            {
                "recorded": record,
                **{k: run[k] for k in ("server_cpu_s", "packets_out", "cpu_us_per_packet_out")},
                "loss_pct": run["loss_pct"],
            }
        )
    first = {"phonghop": plain[0], "phonghop_recording": recorded[0]}
    return first, summary, recording_overhead(plain, recorded)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sfu", choices=SFUS, default="phonghop", help="the SFU to measure")
    p.add_argument(
        "--compare",
        metavar="A,B",
        help="run several SFUs one after another (e.g. relay,janus); overrides --sfu",
    )
    p.add_argument("--subscribers", type=int, default=10, help="subscriber peers (N)")
    p.add_argument("--seconds", type=float, default=10.0, help="measuring window (s)")
    p.add_argument(
        "--relay-subscribers",
        type=int,
        default=10,
        help="at most this many subscribers for relay (it re-encodes for each)",
    )
    p.add_argument("--procs", type=int, default=4, help="processes for the counting subscribers")
    p.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds between all connected and the window (a keyframe every 2 s)",
    )
    p.add_argument(
        "--drop-pct",
        type=float,
        default=0.0,
        help="self-test: counting subscribers discard this %% of packets on arrival (NACK path)",
    )
    p.add_argument(
        "--pacing-factor",
        type=float,
        default=2.5,
        help="the publisher paces video at this multiple of its bitrate, as libwebrtc does "
        "(2.5); 0 sends each frame as one burst",
    )
    p.add_argument(
        "--subscriber-poll-ms",
        type=float,
        default=1.0,
        help="counting subscribers read their sockets every this many ms (arrival times are "
        "the kernel's stamps either way); 0 wakes them on every datagram, which on one "
        "machine the server's sendto pays for",
    )
    p.add_argument(
        "--server-nice",
        type=int,
        default=-10,
        help="nice value for every thread of the measured server (needs root), so that the "
        "publisher and subscribers sharing its cores do not preempt it; 0 leaves it alone",
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="run phonghop twice, without and with the meeting recorded, and report "
        "recording_cpu_overhead_pct (server CPU per forwarded packet, with vs without)",
    )
    p.add_argument(
        "--record-pairs",
        type=int,
        default=2,
        help="with --record: how many plain + recorded pairs of runs (ABBA order)",
    )
    p.add_argument(
        "--record-warmup-runs",
        type=int,
        default=1,
        help="with --record: runs made first and thrown away",
    )
    p.add_argument(
        "--source-size",
        default="1280x720",
        help="the publisher's picture, WxH (tests use a small one: encoding 720p once is slow)",
    )
    p.add_argument("--source-kbps", type=int, default=2500, help="the source's video bitrate")
    p.add_argument(
        "--source-seconds", type=int, default=10, help="length of the looped source clip (s)"
    )
    p.add_argument("--cache-dir", help="where the encoded source is kept")
    p.add_argument("--keep", action="store_true", help="keep the server's temp dir and logs")
    p.add_argument("--server-log-level", default="WARNING", help="phonghop server log level")
    args = p.parse_args(argv)
    modes = args.compare.split(",") if args.compare else [args.sfu]
    unknown = [m for m in modes if m not in SFUS]
    if unknown:
        p.error(f"unknown SFU(s) {unknown}; choose from {', '.join(SFUS)}")
    args.modes = list(dict.fromkeys(modes))
    if args.record and "phonghop" not in args.modes:
        args.modes.insert(0, "phonghop")
    if args.subscribers < 2:
        p.error("--subscribers must be at least 2 (one of them decodes)")
    if args.record_pairs < 1 or args.record_warmup_runs < 0:
        p.error("--record-pairs must be at least 1 and --record-warmup-runs at least 0")
    try:
        width, height = (int(v) for v in args.source_size.lower().split("x"))
    except ValueError:
        p.error(f"--source-size must be WxH, not {args.source_size!r}")
    if width < 16 or height < 16 or width % 2 or height % 2:
        p.error("--source-size needs even sides of at least 16 pixels")
    args.source = SourceParams(
        width=width, height=height, video_kbps=args.source_kbps, seconds=args.source_seconds
    )
    return args


def main() -> int:
    """Run every SFU asked for and print the JSON line last."""
    args = parse_args()
    params = args.source
    if args.cache_dir:
        os.environ["PHONGHOP_BENCH_CACHE"] = args.cache_dir  # the spawned processes read it
    source = load_or_encode(params, log=log)
    log(f"source: {len(source.video)} VP8 frames at {source.video_kbps:.0f} kbit/s (cached)")
    pacing = f"{args.pacing_factor:g} x its bitrate" if args.pacing_factor > 0 else "off (bursts)"
    log(f"publisher pacing: {pacing}")
    runs: dict[str, dict] = {}
    for mode in args.modes:
        n = min(args.subscribers, args.relay_subscribers) if mode == "relay" else args.subscribers
        if n < args.subscribers:
            log(f"relay: {n} subscribers instead of {args.subscribers} (--relay-subscribers)")
        if mode == "phonghop" and args.record:
            first, recording_runs, overhead = run_recording_comparison(max(2, n), args, params)
            runs.update(first)
        else:
            runs[mode] = run_sfu(mode, max(2, n), args, params)
    out: dict[str, Any] = {"runs": runs, "ratios": ratios(runs)}
    if args.record:
        out["recording_cpu_overhead_pct"] = overhead
        out["recording_runs"] = recording_runs
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
