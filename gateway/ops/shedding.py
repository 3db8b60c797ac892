"""The sheddable class's limit that follows the deadline class's health (overload): while
uploads and acknowledgements stay slower than a target, listings get fewer slots, a shorter
queue and wait, and a rest after each answer; each healthy interval gives a slot back. Used by
ops/admission.py; off unless KAPU_ADMISSION_TARGET_SECONDS is set."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Limits:
    limit: int  # served at once
    queue: int  # waiting at most
    wait: float  # seconds a queued request waits at most


@dataclass(frozen=True)
class Health:
    """What the deadline class's health is judged by (ShedControl)."""

    target: float  # seconds: median latency of uploads and acknowledgements kept under this
    interval: float  # seconds: the window judged at a time; a shorter burst moves nothing


class ShedControl:
    """The sheddable class's current limit, from the deadline class's latency: halved after an
    interval whose median latency (or whose oldest queued request's wait) was above the target,
    one slot more after an interval at or under it (or without uploads), between 1 and the
    configured limit. Windows are judged when a sample or a sheddable request comes, from the
    monotonic time given (deterministic in tests)."""

    MAX_SAMPLES = 1024  # per interval: enough for a median, and bounded under any load

    def __init__(self, health: Health, ceiling: int, now: float) -> None:
        self.health = health
        self.ceiling = ceiling
        self.limit = ceiling
        self._window_start = now
        self._samples: list[float] = []

    def observe(self, latency: float) -> None:
        """An upload or acknowledgement was answered ``latency`` seconds after it came (in the
        interval update() was last brought to)."""
        if len(self._samples) < self.MAX_SAMPLES:
            self._samples.append(latency)

    def update(self, now: float, waiting_since: float | None = None) -> None:
        """Judge every interval that has ended by ``now``. ``waiting_since``: when the oldest
        deadline request still queued came; a queue that answers no one counts as slow."""
        interval = self.health.interval
        ended = int((now - self._window_start) // interval)
        # After the first, the ended intervals had no sample; past ceiling + 1 of them the
        # limit is at one end of its range whatever they were.
        for index in range(1, min(ended, self.ceiling + 1) + 1):
            end = self._window_start + index * interval
            self._judge(end - waiting_since if waiting_since is not None else 0.0)
        if ended > 0:
            self._window_start += ended * interval

    def _judge(self, waited: float) -> None:
        samples = sorted(self._samples)
        # The lower median: slow uploads in half an interval or less are a burst.
        median = samples[(len(samples) - 1) // 2] if samples else 0.0
        if median > self.health.target or waited > self.health.target:
            self.limit = max(1, self.limit // 2)
        else:
            self.limit = min(self.ceiling, self.limit + 1)
        self._samples.clear()

    def rest(self, held: float) -> float:
        """How long a sheddable slot stays taken after a request that held it ``held`` seconds
        was answered: one slot of quick listings can still take a core's worth of CPU and
        database time, so a tightened class also keeps its slots busy only limit / ceiling of
        the time. The client has its answer; only the next listing waits (or is refused). At
        most an interval: a slow page must not outlast the shrunk wait of the one queued next."""
        return min(self.health.interval, held * (self.ceiling - self.limit) / self.limit)

    def limits(self, configured: Limits) -> Limits:
        """The sheddable class's limits now: slots as judged, the queue and the wait shrunk
        alike. A few places stay at one slot: clients that list at the same moment are served
        one after another rather than refused (slow uploads alone are no overload)."""
        if self.limit >= self.ceiling:
            return configured
        share = self.limit / self.ceiling
        return replace(configured, limit=self.limit, queue=int(configured.queue * share),
                       wait=configured.wait * share)
