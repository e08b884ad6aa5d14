"""How the provider spends time: the invocation's budget, how often it looks at a move, how long it backs off.

Kept apart from the Connect calls (connect.py) because these are policy, chosen for CloudFormation's and
Connect's limits (a 2 requests/s quota shared by every resource of an account, answers due before a
deadline), and tuned with ``make bench`` rather than by reading the API.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

# Poll schedule while a move runs. The first look comes after one second because the service keeps showing
# the old state for a moment after UpdatePhoneNumber; then about once a second (at most one Describe per
# second of move, and CloudFormation hears within a second of completion); after FAST_POLL_SECONDS a long
# move is polled less often, up to SLOW_POLL_SECONDS, to leave the 2 requests/s quota to other resources.
FIRST_POLL_SECONDS = 1.0
POLL_SECONDS = 1.0
POLL_JITTER = 0.2
FAST_POLL_SECONDS = 30.0
SLOW_POLL_SECONDS = 5.0
# While the quota is contended (a call of this invocation was throttled, by botocore's retries or ours, in
# the last CONTENTION_SECONDS) a poll that finds the move still running only takes a request from another
# resource of the stack: then the move is polled at most every CONTENDED_POLL_SECONDS.
CONTENDED_POLL_SECONDS = 3.0
CONTENTION_SECONDS = 10.0
# Retry pause after throttling or an internal error: full jitter on a capped exponential.
RETRY_BASE_SECONDS = 0.5
RETRY_CAP_SECONDS = 8.0
# A FAILED status seen right after our call may be the previous move's outcome, still shown during the
# service's lag; it is trusted once the move was seen IN_PROGRESS, or after this long.
STALE_STATUS_GRACE_SECONDS = 5.0
# A move is only started with at least this much of the budget left: time to see it IN_PROGRESS at least.
MIN_SECONDS_TO_START_A_MOVE = 3.0


class Budget:
    """The time this invocation may spend on Connect before it must answer CloudFormation."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        return max(0.0, self._deadline - self._clock())


class Pacing:
    """One invocation's waiting policy: poll delays, retry backoff, and whether the quota is contended."""

    def __init__(self, clock: Callable[[], float], rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._throttled_at: float | None = None

    def poll_delays(self) -> Iterator[float]:
        """Delays between Describes while waiting: see the constants at the top of this module."""
        waited = FIRST_POLL_SECONDS
        yield FIRST_POLL_SECONDS
        interval = POLL_SECONDS
        while True:
            if waited > FAST_POLL_SECONDS:
                interval = min(SLOW_POLL_SECONDS, interval * 1.5)
            delay = interval * (1 + self._rng.uniform(0, POLL_JITTER))
            waited += delay
            yield delay

    def move_poll_delays(self) -> Iterator[float]:
        """Poll delays for a move, stretched while the quota is contended."""
        for delay in self.poll_delays():
            yield max(delay, CONTENDED_POLL_SECONDS) if self.contended() else delay

    def retry_delay(self, attempt: int) -> float:
        return self._rng.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))

    def note_throttled(self) -> None:
        """A call of this invocation was throttled (or failed and was retried), by botocore or by us."""
        self._throttled_at = self._clock()

    def contended(self) -> bool:
        return self._throttled_at is not None and self._clock() - self._throttled_at < CONTENTION_SECONDS
