"""Small helpers shared by the fan-out benchmark's processes (no aiortc internals here)."""

import asyncio
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchutil import cpu_seconds

# how many payload bytes after the VP8 payload descriptor identify a frame (see frame_key)
FRAME_KEY_BYTES = 24


def log(message: str) -> None:
    """Progress on stderr, stamped with the time and the process."""
    print(
        f"[fanout {time.strftime('%H:%M:%S')} {os.getpid()}] {message}",
        file=sys.stderr,
        flush=True,
    )


def process_name(pid: int) -> str:
    """The command name of a process (``/proc/<pid>/comm``)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def prioritise(pid: int, nice: int) -> int:
    """Set every thread of ``pid`` and its descendants to ``nice``; how many were set.

    Linux keeps a nice value per thread, and a thread inherits its creator's: a server that
    starts threads per session (Janus) is set again once its subscribers are connected.
    Raising priority needs root (CAP_SYS_NICE); without it nothing changes.
    """
    done = 0
    for proc in process_tree(pid):
        try:
            tasks = [int(t.name) for t in Path(f"/proc/{proc}/task").iterdir()]
        except OSError:
            continue
        for tid in tasks:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                done += 1
            except OSError:
                pass
    return done


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a server may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def split(count: int, parts: int) -> list[int]:
    """``count`` items in ``parts`` near-equal shares."""
    size, extra = divmod(count, parts)
    return [size + (1 if p < extra else 0) for p in range(parts)]


class Window:
    """This process's copy of the measuring window (the parent sets it once, for everyone)."""

    def __init__(self) -> None:
        self.start = math.inf
        self.stop = math.inf

    async def wait(self, start_at: Any, stop_at: Any) -> None:
        """Poll the shared values until the parent has set them."""
        # a value in shared memory, not an event of this loop: polling is the way to wait
        while start_at.value == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        self.start, self.stop = start_at.value, stop_at.value

    def inside(self, now: float) -> bool:
        """Whether ``now`` is inside the window."""
        return self.start <= now < self.stop


# ---- RTP and VP8, read straight from the datagram ------------------------------------------


def rtp_payload_offset(data: bytes) -> int:
    """Where the payload of an RTP packet starts (after CSRCs and header extensions)."""
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        words = int.from_bytes(data[offset + 2 : offset + 4], "big")
        offset += 4 + 4 * words
    return offset


def vp8_descriptor_length(payload: bytes, at: int = 0) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 §4.2) at ``payload[at:]``."""
    first = payload[at]
    if not first & 0x80:
        return 1
    ext = payload[at + 1]
    length = 2
    if ext & 0x80:  # I: picture ID, one or two bytes
        length += 2 if payload[at + 2] & 0x80 else 1
    if ext & 0x40:  # L: TL0PICIDX
        length += 1
    if ext & 0x30:  # T or K: TID/KEYIDX
        length += 1
    return length


def vp8_frame_start(payload_first_byte: int) -> bool:
    """S bit set and partition index 0: the first packet of a frame."""
    return payload_first_byte & 0x17 == 0x10


def frame_key(data: bytes, payload_offset: int) -> bytes:
    """Bytes that identify a VP8 frame whatever an SFU rewrites.

    SFUs give every subscriber its own SSRC, sequence numbers, timestamps and sometimes picture
    IDs, but forward the VP8 frame itself untouched, so the first bytes after the payload
    descriptor (frame header and the start of the first partition) name the frame.
    """
    start = payload_offset + vp8_descriptor_length(data, payload_offset)
    return bytes(data[start : start + FRAME_KEY_BYTES])


@dataclass(frozen=True)
class PayloadType:
    """One negotiated RTP payload type."""

    kind: str  # "audio" | "video"
    codec: str  # lower-case encoding name: "vp8", "opus", "rtx", …
    apt: int | None = None  # for RTX: the payload type it retransmits


_MLINE = re.compile(r"^m=(\w+) \d+ \S+ ([\d ]+)$")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")
_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")


def payload_types(sdp: str) -> dict[int, PayloadType]:
    """Payload types of every m-line in an SDP, by number."""
    found: dict[int, PayloadType] = {}
    kind = ""
    apts: dict[int, int] = {}
    for line in sdp.splitlines():
        line = line.strip()
        if m := _MLINE.match(line):
            kind = m.group(1)
        elif m := _RTPMAP.match(line):
            found[int(m.group(1))] = PayloadType(kind, m.group(2).lower())
        elif m := _APT.match(line):
            apts[int(m.group(1))] = int(m.group(2))
    for pt, apt in apts.items():
        if pt in found:
            found[pt] = PayloadType(found[pt].kind, found[pt].codec, apt)
    return found


_SSRC_LINE = re.compile(r"^a=ssrc:(\d+) ", re.MULTILINE)


def first_ssrc(sdp: str) -> int | None:
    """The first SSRC an SDP announces (a receive-only peer still announces one per m-line)."""
    m = _SSRC_LINE.search(sdp)
    return int(m.group(1)) if m else None
