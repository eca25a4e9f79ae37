"""A consumer's simulcast layer choice over time: hysteresis and upward probing.

Why probing is needed: a browser's receive-side estimate (REMB) grows by about 8 % per second
but never past about 1.5x what it currently receives. A consumer that was moved down to the
180p layer (150 kbps) therefore reports at most ~225 kbps, forever, however fast its link is:
the estimate alone can never bring it back to 360p or 720p. So when the estimate is what holds
a consumer below the layer its display wants, the selector tries the next layer up for a few
seconds (the stream stays decodable: switches happen at keyframes). If the estimate catches up
the consumer stays there; if the receiver reports loss or its estimate falls, it goes back down
and waits before the next try, twice as long each time (4 s up to 64 s), the way mediasoup and
LiveKit back off their probes.

Pure logic with the time passed in, so it is tested without sleeping.
"""

from dataclasses import dataclass

MIN_BACKOFF_S = 4.0
MAX_BACKOFF_S = 64.0
PROBE_S = 8.0  # how long a probe may wait for the estimate to reach the probed layer
SETTLE_S = 1.0  # pause between a successful probe and trying the next layer
PROBE_LOSS = 0.02  # only start a probe on a link losing less than this
FAIL_LOSS = 0.10  # a probe that causes more loss than this has failed
FAIL_REMB_DROP = 0.85  # ... or one during which the receiver's estimate fell by 15 %


@dataclass(slots=True)
class LayerSelector:
    """Decides a consumer's target layer from what its display wants and its estimate."""

    target: int = 0
    probing: int | None = None  # the layer being tried above what the estimate allows
    probes: int = 0
    failed_probes: int = 0
    backoff_s: float = MIN_BACKOFF_S
    _probe_started: float = 0.0
    _probe_remb: int | None = None
    _next_probe: float = 0.0

    def choose(
        self,
        now: float,
        size_layer: int,
        bandwidth_layer: int,
        probe_layer: int | None,
        loss: float,
        remb_bps: int | None,
    ) -> int:
        """The layer to send from now on.

        ``size_layer``: the highest live layer that fits the displayed size.
        ``bandwidth_layer``: the highest that also fits the estimate (never above
        ``size_layer``). ``probe_layer``: the next live layer above ``bandwidth_layer`` that
        still fits the size, or None. ``loss``: the last reported loss fraction (0–1).
        """
        if bandwidth_layer >= size_layer:
            # The estimate allows everything the display wants: no need to probe.
            self._end_probe(now, success=True)
            self.target = size_layer
            return self.target
        if self.probing is not None:
            if bandwidth_layer >= self.probing:
                self._end_probe(now, success=True)
                self.target = bandwidth_layer
            elif self._probe_failed(now, loss, remb_bps) or self.probing > size_layer:
                self._end_probe(now, success=False)
                self.target = bandwidth_layer
            else:
                self.target = self.probing
            return self.target
        if probe_layer is not None and now >= self._next_probe and loss < PROBE_LOSS:
            self.probing = probe_layer
            self.probes += 1
            self._probe_started = now
            self._probe_remb = remb_bps
            self.target = probe_layer
            return self.target
        self.target = bandwidth_layer
        return self.target

    def _probe_failed(self, now: float, loss: float, remb_bps: int | None) -> bool:
        if loss > FAIL_LOSS or now - self._probe_started > PROBE_S:
            return True
        start = self._probe_remb
        return start is not None and remb_bps is not None and remb_bps < start * FAIL_REMB_DROP

    def _end_probe(self, now: float, success: bool) -> None:
        if self.probing is None:
            if success:
                self.backoff_s = MIN_BACKOFF_S
            return
        self.probing = None
        if success:
            self.backoff_s = MIN_BACKOFF_S
            self._next_probe = now + SETTLE_S
        else:
            self.failed_probes += 1
            self._next_probe = now + self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
