"""aiortc endpoints for SFU tests: publish a moving picture and a tone, receive on slots."""

import asyncio
import fractions
import math
import time
from typing import Any

import numpy
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame


class LiveClock:
    """Frame times from the wall clock, as a capture device stamps them.

    aiortc's own tracks catch up after a stall by sending the frames they owe in a burst, so
    on a busy machine a few seconds of media can arrive in less wall-clock time. A camera or
    microphone never does that: what it missed is gone. Tests that compare media time with
    elapsed time (recordings) use this clock so that they measure the server, not the load.
    """

    def __init__(self, rate: int, period: int) -> None:
        self.rate, self.period = rate, period
        self._start: float | None = None
        self._ticks = 0

    async def tick(self) -> int:
        """Wait for the next frame time; return its timestamp in ``1/rate`` units."""
        now = time.time()
        if self._start is None:
            self._start = now
            return 0
        self._ticks += 1
        due = self._start + self._ticks * self.period / self.rate
        if due >= now:
            await asyncio.sleep(due - now)
        else:  # late: skip the frames a real device would have dropped meanwhile
            self._ticks += int((now - due) * self.rate / self.period)
        return self._ticks * self.period


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone (aiortc's AudioStreamTrack is silence, whose audio level is 127)."""

    RATE, SAMPLES = 8000, 160  # aiortc's own audio track: 20 ms of 8 kHz mono

    def __init__(self, amplitude: float = 0.3, live: bool = False) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.speaking = True  # False: digital silence (level 127), as a muted microphone
        self._clock = LiveClock(self.RATE, self.SAMPLES) if live else None
        self._phase = 0

    async def recv(self) -> AudioFrame:
        if self._clock is None:
            frame = await super().recv()
            pts, rate, samples = frame.pts, frame.sample_rate, frame.samples
        else:
            if self.readyState != "live":
                raise MediaStreamError
            pts, rate, samples = await self._clock.tick(), self.RATE, self.SAMPLES
            self._phase = pts
        t = (numpy.arange(samples) + self._phase) / rate
        self._phase += samples
        amplitude = self.amplitude if self.speaking else 0.0
        tone = (amplitude * 32767 * numpy.sin(2 * math.pi * 440 * t)).astype(numpy.int16)
        loud = AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        loud.sample_rate, loud.pts, loud.time_base = rate, pts, fractions.Fraction(1, rate)
        return loud


class ColourTrack(VideoStreamTrack):
    """A 320x240 picture whose colour changes every frame (cheap to encode, easy to check)."""

    def __init__(self, width: int = 320, height: int = 240, live: bool = False) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._clock = LiveClock(90000, 3000) if live else None  # 30 fps
        self._n = 0

    async def recv(self) -> VideoFrame:
        if self._clock is None:
            pts, time_base = await self.next_timestamp()
        else:
            if self.readyState != "live":
                raise MediaStreamError
            pts, time_base = await self._clock.tick(), None
        self._n += 1
        picture = numpy.full((self.height, self.width, 3), self._n % 256, dtype=numpy.uint8)
        frame = VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base or fractions.Fraction(1, 90000)
        return frame


class Endpoint:
    """One endpoint's single peer connection to the SFU; always the offerer."""

    def __init__(
        self,
        audio: bool = True,
        video: bool = True,
        video_size: tuple[int, int] = (320, 240),
        tone: bool = True,
        live: bool = False,
        quiet: bool = False,
    ) -> None:
        """``live``: sources paced by the wall clock like capture devices (see LiveClock);
        ``quiet``: the tone starts silent (``speak`` turns it on and off)."""
        # Max-bundle: aiortc's balanced policy loses the second m-section of a kind.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.sources: dict[str, str] = {}
        self._publish: list[tuple[str, Any]] = []
        self.tone: ToneTrack | None = None
        if audio:
            track = ToneTrack(live=live) if tone else AudioStreamTrack()  # silence: level 127
            if isinstance(track, ToneTrack):
                self.tone = track
                track.speaking = not quiet
            self._publish.append(("microphone", self.pc.addTrack(track)))
        if video:
            self._publish.append(("camera", self.pc.addTrack(ColourTrack(*video_size, live=live))))
        self.slots: dict[str, dict[str, Any]] = {}

    def speak(self, speaking: bool) -> None:
        """Turn the tone on (speech to the active-speaker detector) or off (silence)."""
        assert self.tone is not None, "this endpoint publishes no tone"
        self.tone.speaking = speaking

    def add_slots(self, audio: int, video: int) -> None:
        """Receive slots beyond those present (the SFU asks with rtc.renegotiate)."""
        have = {"audio": 0, "video": 0}
        for t in self.pc.getTransceivers():
            if t.direction == "recvonly":
                have[t.kind] += 1
        for kind, wanted in (("audio", audio), ("video", video)):
            for _ in range(wanted - have[kind]):
                self.pc.addTransceiver(kind, direction="recvonly")

    async def offer(self) -> dict[str, Any]:
        """The next offer with the sources of our sendonly m-sections."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sources = {}
        for source, sender in self._publish:
            for t in self.pc.getTransceivers():
                if t.sender is sender and t.mid is not None:
                    sources[t.mid] = source
        self.sources = sources
        return {"type": "offer", "sdp": self.pc.localDescription.sdp, "sources": sources}

    async def accept(self, answer: dict[str, Any]) -> None:
        """Apply the SFU's answer and remember what each slot carries."""
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self.slots = {slot["mid"]: slot for slot in answer.get("slots", [])}

    def track(self, mid: str) -> Any:
        """The remote track received on slot ``mid``."""
        for t in self.pc.getTransceivers():
            if t.mid == mid:
                return t.receiver.track
        raise KeyError(mid)

    def slot_mids(self, kind: str) -> list[str]:
        """Our recvonly mids of one kind, in m-line order."""
        return [
            t.mid
            for t in self.pc.getTransceivers()
            if t.kind == kind and t.direction == "recvonly" and t.mid
        ]

    async def close(self) -> None:
        await self.pc.close()


async def frames(track: Any, count: int, within: float = 20) -> list[Any]:
    """``count`` decoded frames from a remote track."""
    return [await asyncio.wait_for(track.recv(), within) for _ in range(count)]
