"""How the provider spends time: the invocation's budget, how often it looks at a move, how long it backs off.

Kept apart from the Connect calls (connect.py) because these are policy, chosen for CloudFormation's and
Connect's limits (a 2 requests/s quota shared by every resource of an account, answers due before a
deadline), and tuned with ``make bench`` rather than by reading the API.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol

# Poll schedule while a move runs. The first look comes after one second because the service keeps showing
# the old state for a moment after UpdatePhoneNumber (the emulator's stale window stands for that lag); then
# once a second on a fixed grid counted from the first look: at most one Describe per second of move, plus
# the one that sees it CLAIMED, and CloudFormation hears within a second of completion (half a second in
# the median for moves of any length). The grid does not drift: each poll's jitter (0 to POLL_JITTER of an
# interval, never early) and each call's own latency are not carried into the next, where a jitter added to
# every interval made the polls come every 1.1 s on average, so 10 % later and fewer than the quota allows.
# After FAST_POLL_SECONDS a long move is polled less often, up to SLOW_POLL_SECONDS, to leave the quota to
# other resources.
FIRST_POLL_SECONDS = 1.0
POLL_SECONDS = 1.0
POLL_JITTER = 0.1
FAST_POLL_SECONDS = 30.0
SLOW_POLL_SECONDS = 5.0
# While the quota is contended (a call of this invocation was throttled in the last CONTENTION_SECONDS) a
# poll that finds the move still running only takes a request from another resource of the stack: then the
# move is polled at most every CONTENDED_POLL_SECONDS, and no sooner than the pause that got this
# invocation's last Describe through (see below: the same crowd is still asking).
CONTENDED_POLL_SECONDS = 3.0
CONTENTION_SECONDS = 10.0
# Pause after throttling. Connect's quota is per account, Region and operation, and CloudFormation starts
# every resource of a stack at once: a hundred invocations, each in its own Lambda container with its own
# client, ask at the same moment. botocore's adaptive mode only limits one client, which makes a handful of
# calls here, so it never learns the crowd's demand (clients.py). The provider cannot see the others either,
# only its own answers; so each throttle of an operation pauses longer, until the crowd together asks at
# about the rate the quota admits (N callers at 2 requests/s: a pause around N / 3 s), and the pause comes
# down a step with each call that gets through. The k-th throttle of an operation (k counts down one per
# success) pauses uniform(1 - THROTTLE_JITTER, 1 + THROTTLE_JITTER) x min(THROTTLE_CAP_SECONDS,
# THROTTLE_FIRST_SECONDS x THROTTLE_GROWTH ** (k - 1)). The numbers come from a simulation of N = 20..100
# callers against one token bucket (2/s burst 5, and 1.5/s burst 2), checked with make bench
# (docs/reliability.md): a shorter first pause or a slower growth multiplies the throttled calls (each
# extra step is one more throttled call for every waiting caller); a higher cap leaves the quota idle at
# the end, when the last callers wait out long pauses nobody contends with any more.
THROTTLE_FIRST_SECONDS = 5.0
THROTTLE_GROWTH = 4.0
THROTTLE_CAP_SECONDS = 30.0
THROTTLE_JITTER = 0.5
# A move's poll waits a share of the pause its read needed, drawn from this range: the read met the crowd
# at its largest, and by the poll everyone ahead of it has gone through. The whole pause again left the
# quota idle at the end (simulated N=100: 1.41x the floor; with this share, 1.34x at the same throttling).
LEARNED_POLL_SHARE = (0.25, 1.0)
# Pause after an internal error (no quota to share): full jitter on a short capped exponential.
RETRY_BASE_SECONDS = 0.5
RETRY_CAP_SECONDS = 8.0
# How long a rollback looks again before it believes a number shows where it was, when a move the request
# being undone started may not show yet (lifecycle._to). A move's own wait never trusts a clock for this: a
# FAILED seen after its call is taken for its outcome only on proof (connect.PhoneNumbers.wait_for_move).
STALE_STATUS_GRACE_SECONDS = 5.0
# A move is only started with at least this much of the budget left: time to see it IN_PROGRESS at least.
MIN_SECONDS_TO_START_A_MOVE = 3.0


class Timer(Protocol):
    def start(self) -> None: ...
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Every reading of time and every wait of one invocation goes through one of these.

    Lambda's is SYSTEM_CLOCK. The local stand-ins (local_aws.clock.VirtualClock) pass one whose waits skip
    ahead, shared with the Connect emulator's moves and Lambda's deadline, so that tests of budgets, lags
    and timeouts run through the same code without waiting for them in real time.
    """

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def timer(self, seconds: float, function: Callable[[], None]) -> Timer:
        """A timer, not yet started, that calls ``function`` once ``seconds`` have passed on this clock."""
        ...


class SystemClock:
    """The time module's clocks and threading.Timer: what the provider runs on in Lambda."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def timer(self, seconds: float, function: Callable[[], None]) -> Timer:
        return threading.Timer(seconds, function)


SYSTEM_CLOCK: Clock = SystemClock()


def _throttle_step(level: int) -> float:
    """The pause (before jitter) at the ``level``-th throttle not yet worked off: see THROTTLE_*."""
    return min(THROTTLE_CAP_SECONDS, THROTTLE_FIRST_SECONDS * THROTTLE_GROWTH ** (level - 1))


# A request is only continued in another invocation if CloudFormation waits at least this much longer than
# this invocation can: time for the continuation to start (Lambda's asynchronous queue: typically well under
# a second), read its record and make a call or two. Less than that, and the hand-over costs more than it
# buys: the request ends here as it did before continuations.
MIN_CONTINUATION_SECONDS = 10.0
# The first turn of a request is checked against CloudFormation's deadline with this factor: a number needs
# at least two DescribePhoneNumber turns (read it; see it CLAIMED), and the second queues behind everyone who
# asked after the first, so a number whose first turn is T seconds away finishes no sooner than 2T.
TURNS_PER_NUMBER = 2


class HeldTurn(NamedTuple):
    """A turn on the shared pace this request reserved but could not take in its invocation: the
    continuation takes it (at ``at``, epoch seconds) instead of queueing again at the back."""

    operation: str
    at: float
    interval: float


class OutOfInvocation(BaseException):
    """This invocation's time is up, CloudFormation's is not: the request continues in the next invocation.

    A BaseException on purpose: nothing between the wait that raises it and app.py, which starts the
    continuation, may treat it as a failure (undo what the request did, turn it into a Reason). The request
    stops where it stands, as a Lambda timeout would stop it, and its continuation re-runs it from the top
    with the same stamp, fences and ClientToken: every step converges from wherever it finds the number.
    """

    def __init__(self, why: str, held_turn: HeldTurn | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.held_turn = held_turn


class Budget:
    """The time this invocation may spend on Connect before it must answer CloudFormation.

    ``request_seconds``: how long CloudFormation still waits for this request (less the same reserve), when
    known; ``continues`` says whether the request may go on in another invocation after this one.
    """

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        request_seconds: float | None = None,
        service_timeout: float | None = None,
        continuable: bool = False,
    ) -> None:
        self._clock = clock
        self._deadline = clock() + seconds
        self.seconds = seconds
        self._request_deadline = None if request_seconds is None else clock() + request_seconds
        self.service_timeout = service_timeout
        self.continuable = continuable
        self._first_turn = True

    def remaining(self) -> float:
        return max(0.0, self._deadline - self._clock())

    def request_remaining(self) -> float | None:
        """Seconds until CloudFormation's deadline (less the reserve); None if unknown."""
        if self._request_deadline is None:
            return None
        return max(0.0, self._request_deadline - self._clock())

    def continues(self) -> bool:
        """Whether the request can go on in a later invocation once this one's budget is spent."""
        return (
            self.continuable
            and self._request_deadline is not None
            and self._request_deadline - self._deadline >= MIN_CONTINUATION_SECONDS
        )

    def hand_over(self, why: str, held_turn: HeldTurn | None = None) -> None:
        """Raise OutOfInvocation if the request can continue elsewhere; return (the caller fails) if not."""
        if self.continues():
            raise OutOfInvocation(why, held_turn)

    def turn_out_of_reach(self, operation: str, wait: float, interval: float) -> str | None:
        """Why a turn ``wait`` seconds away leaves the request no way to finish before CloudFormation's
        deadline, whatever the number of invocations (the caller fails now, clearly, rather than after the
        hour); None if it may. The request's first turn also counts the second Describe every number needs."""
        first, self._first_turn = self._first_turn, False
        left = self.request_remaining()
        if left is None:
            return None
        needed = wait * TURNS_PER_NUMBER if first else wait
        if needed < left:
            return None
        rate = 1 / interval if interval > 0 else 0.0
        timeout = self.service_timeout
        fit = ""
        if rate and timeout:
            numbers = int(timeout * rate / TURNS_PER_NUMBER)
            fit = (
                f" At this pace about {numbers} numbers fit in one stack operation ({timeout:.0f} s x "
                f"{rate:.2f} calls/s / {TURNS_PER_NUMBER} {operation} calls per number)."
            )
        return (
            f"Connect's {operation} quota cannot serve this request before CloudFormation's deadline: at the "
            f"pace the account's calls get now ({rate:.2f} requests/s), this request's turn comes in "
            f"{wait:.0f} s and the number needs about {needed:.0f} s, but CloudFormation waits only "
            f"{left:.0f} s more.{fit} Nothing was changed. Raise the {operation} quota (Service Quotas), "
            "raise the resource's ServiceTimeout (at most 3600 s), or split the operation into stacks "
            "deployed one after another."
        )


class Pacing:
    """One invocation's waiting policy: poll delays, retry backoff, and whether the quota is contended.

    The backoff state is per operation because Connect's quotas are: a throttled TagResource says nothing
    about DescribePhoneNumber's bucket.
    """

    def __init__(self, clock: Callable[[], float], rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._throttled_at: float | None = None
        self._levels: dict[str, int] = {}  # operation -> throttles not yet worked off by successes
        self._last_pause: dict[str, float] = {}  # operation -> the pause before its last success

    def poll_delays(self) -> Iterator[float]:
        """Delays between Describes while waiting: see the constants at the top of this module."""
        started = self._clock()  # when the wait began (just after UpdatePhoneNumber returned, for a move)
        yield FIRST_POLL_SECONDS
        interval = POLL_SECONDS
        while True:
            since = self._clock() - started
            if since <= FAST_POLL_SECONDS:
                # The next grid point after now: a slow call or a longer pause skips points, never bunches.
                points = math.floor((since - FIRST_POLL_SECONDS) / POLL_SECONDS) + 1
                to_point = FIRST_POLL_SECONDS + points * POLL_SECONDS - since
                yield to_point + self._rng.uniform(0, POLL_JITTER) * POLL_SECONDS
                continue
            interval = min(SLOW_POLL_SECONDS, interval * 1.5)
            yield interval * (1 + self._rng.uniform(0, POLL_JITTER))

    def move_poll_delays(self, operation: str = "DescribePhoneNumber") -> Iterator[float]:
        """Poll delays for a move, stretched while the quota is contended."""
        for delay in self.poll_delays():
            if self.contended():
                delay = max(delay, CONTENDED_POLL_SECONDS)
            # The pause the last Describe needed says how many others are asking; it eases off a step with
            # each poll that gets through (succeeded), so it does not outlast the crowd.
            learned = self._last_pause.get(operation, 0.0)
            yield max(delay, learned * self._rng.uniform(*LEARNED_POLL_SHARE)) if learned else delay

    def throttle_delay(self, operation: str) -> float:
        """The pause before retrying ``operation`` after Connect throttled it (see THROTTLE_*)."""
        self.note_throttled()
        level = self._levels.get(operation, 0) + 1
        self._levels[operation] = level
        return _throttle_step(level) * self._jitter()

    def error_delay(self, attempt: int) -> float:
        """The pause before retry ``attempt`` (1, 2, ...) after an internal or connection error."""
        return self._rng.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))

    def succeeded(self, operation: str) -> None:
        """``operation`` got through: remember the pause it needed, and ease off one step."""
        level = self._levels.get(operation, 0)
        self._last_pause[operation] = _throttle_step(level) if level else 0.0
        if level:
            self._levels[operation] = level - 1

    def note_throttled(self) -> None:
        """A call of this invocation was throttled."""
        self._throttled_at = self._clock()

    def contended(self) -> bool:
        return self._throttled_at is not None and self._clock() - self._throttled_at < CONTENTION_SECONDS

    def _jitter(self) -> float:
        return self._rng.uniform(1 - THROTTLE_JITTER, 1 + THROTTLE_JITTER)
