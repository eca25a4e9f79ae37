"""Active speaker detection from the RFC 6464 audio-level header extension, without decoding.

Every audio packet carries its level in -dBov (0 loudest, 127 silence). Per interval
(``tick``), each producer gets the share of its packets that were louder than ``threshold``;
an exponential average of that share is its speech score. The active speaker changes only
with hysteresis, because a grid that jumps at every cough is unusable in a 200-room briefing:
a challenger must be speaking, beat the current speaker's score by ``margin`` for
``confirm_ticks`` intervals in a row, and the current speaker must have held the floor for
``min_hold_ms`` unless they have gone quiet.
"""

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Activity:
    loud: int = 0
    packets: int = 0
    score: float = 0.0
    ahead_ticks: int = 0


@dataclass
class SpeakerDetector:
    """Turns audio levels into at most one active speaker, switching with hysteresis."""

    threshold: int = 55  # -dBov: this loud or louder counts as speech
    speaking_score: float = 0.5
    silent_score: float = 0.2
    margin: float = 0.2
    confirm_ticks: int = 2
    min_hold_ms: int = 1500
    smoothing: float = 0.5  # weight of the newest interval in the score
    current: str | None = None
    _since_ms: int = 0
    _activity: dict[str, _Activity] = field(default_factory=dict)

    def observe(self, key: str, level: int) -> None:
        """One packet's level (-dBov) from producer ``key``; cheap, on the forwarding path."""
        activity = self._activity.get(key)
        if activity is None:
            activity = self._activity[key] = _Activity()
        activity.packets += 1
        if level <= self.threshold:
            activity.loud += 1

    def forget(self, key: str) -> str | None:
        """A producer went away; returns the new active speaker if it was the current one."""
        self._activity.pop(key, None)
        if key == self.current:
            self.current = None
            return None
        return self.current

    def scores(self) -> dict[str, float]:
        """Current speech scores (0..1) by producer, for diagnostics and tests."""
        return {key: a.score for key, a in self._activity.items()}

    def tick(self, now_ms: int) -> bool:
        """Close an interval; True if the active speaker changed (read ``current``)."""
        for activity in self._activity.values():
            share = activity.loud / activity.packets if activity.packets else 0.0
            activity.score += self.smoothing * (share - activity.score)
            activity.loud = activity.packets = 0
        candidate, best = None, -1.0
        for key, activity in self._activity.items():
            if activity.score > best:
                candidate, best = key, activity.score
        if candidate is None or best < self.speaking_score or candidate == self.current:
            for activity in self._activity.values():
                activity.ahead_ticks = 0
            return False
        challenger = self._activity[candidate]
        for key, activity in self._activity.items():
            if key != candidate:
                activity.ahead_ticks = 0
        holder = self._activity.get(self.current) if self.current is not None else None
        holder_quiet = holder is None or holder.score < self.silent_score
        if not holder_quiet and best < holder.score + self.margin:  # type: ignore[union-attr]
            challenger.ahead_ticks = 0
            return False
        challenger.ahead_ticks += 1
        if challenger.ahead_ticks < self.confirm_ticks:
            return False
        if not holder_quiet and now_ms - self._since_ms < self.min_hold_ms:
            return False
        challenger.ahead_ticks = 0
        self.current = candidate
        self._since_ms = now_ms
        return True
