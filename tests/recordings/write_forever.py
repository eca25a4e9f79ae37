"""Writes a recording in real time until killed: the subprocess of the kill -9 test.

Run as ``python -m tests.recordings.write_forever PATH CODEC`` from the repository. Prints
"writing" once the file has its header, then the seconds written every half second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recordings.container import MediaFileWriter
from recordings.depacketize import Frame
from tests.recordings.helpers import FPS, RtpSender, encode_opus, encode_video

LIFETIME = 60.0  # never outlive a test that lost track of this process


def main() -> None:
    """Write VP8 or H.264 video (a 2 s loop starting at a keyframe) and Opus, paced in time."""
    path, codec = Path(sys.argv[1]), sys.argv[2]
    loop = encode_video(codec, 2 * FPS, 320, 240, keyframes=(0,))
    tone = encode_opus(50)
    video, audio = RtpSender(f"video/{codec}"), RtpSender("audio/opus")
    start = time.monotonic()
    writer = MediaFileWriter(path, codec, True, start)
    written_video = written_audio = 0
    report = 0.0
    while (elapsed := time.monotonic() - start) < LIFETIME:
        while written_video / FPS <= elapsed:
            t = written_video / FPS
            index = written_video % len(loop)
            writer.write("video", Frame(loop[index], video.timestamp(t), index == 0, start + t))
            written_video += 1
        while written_audio * 0.02 <= elapsed:
            t = written_audio * 0.02
            packet = tone[written_audio % len(tone)]
            writer.write("audio", Frame(packet, audio.timestamp(t), False, start + t))
            written_audio += 1
        if report == 0.0:
            print("writing", flush=True)
        if elapsed >= report:
            print(f"{elapsed:.2f}", flush=True)
            report += 0.5
        time.sleep(0.005)
    writer.close()


if __name__ == "__main__":
    main()
