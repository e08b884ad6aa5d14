"""One clock for everything that runs the provider locally: Lambda's deadline, the provider's waits, the
Connect emulator's moves and quotas, and CloudFormation's request times.

``VirtualClock`` is real time plus the time that waits have skipped: ``sleep(s)`` returns at once and moves
the clock on by ``s``, for every reader. Handed to the provider (``app.make_handler(clock)``), the emulator
(``LocalControl().use_clock(clock)``) and the stand-in for CloudFormation and Lambda
(``LocalCustomResourceStack(clock=...)``), it makes a test of a 40-second budget, a lagging Describe or a
function timeout run through the same code in a fraction of a second, because nothing in the test waits
for time to pass while only one thread is waiting.

Where it is exact, and where it is not: a skipped sleep is the same as a slept one while the thread that
sleeps is the only one waiting on the clock (one request at a time, against an emulator that answers
without sleeping). Two threads sleeping at once each move the clock on by their own pause, so time runs
faster for both than it would in Lambda: requests racing each other for a quota or a number
(``@pytest.mark.real_time`` in the tests) keep the real clock.

Standard library only, like local_aws.lambda_context: the cold-start benchmark loads that file by path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# How often a timer on a VirtualClock looks at the clock: the clock can jump, so a timer cannot sleep until
# its deadline the way threading.Timer does.
TIMER_POLL_SECONDS = 0.005
# How long (real seconds) a sleep that reached a timer's deadline waits for the timer to run: the provider's
# watchdog sends one response, whose attempts end within the invocation's last seconds.
TIMER_RUN_SECONDS = 30.0


class RealClock:
    """The time module's clocks, sleep and threading.Timer.

    The same as the provider's waiting.SystemClock, which the emulator cannot import: ``make emulator`` runs
    without provider/ on the path, and the emulator stands for AWS, not for our code.
    """

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def timer(self, seconds: float, function: Callable[[], None]) -> threading.Timer:
        return threading.Timer(seconds, function)

    def __call__(self) -> float:
        return self.monotonic()


REAL_CLOCK = RealClock()


class VirtualClock:
    """Real time plus every second a wait skipped (see the module docstring).

    A sleep does not skip past a timer of this clock (``timer``): it stops at the timer's deadline and lets
    it run first, as time passing would (the provider's watchdog answers CloudFormation before a provider
    that overruns sleeps on past Lambda's deadline). Calling the clock reads its monotonic time, so it also
    serves where a ``() -> float`` is expected (LambdaContext, invoke_handler).
    """

    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()
        self._timers: set[_Timer] = set()

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def time(self) -> float:
        return time.time() + self.skipped

    def __call__(self) -> float:
        return self.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")  # as time.sleep says
        until = self.monotonic() + seconds
        while (due := self._next_timer(until)) is not None:
            self.advance(max(0.0, due.deadline - self.monotonic()))
            due.done.wait(TIMER_RUN_SECONDS)
        self.advance(max(0.0, until - self.monotonic()))
        # Still a switch to the other threads, as a real sleep is: a polling loop must not starve them.
        time.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` at once, as if that long had passed (timers fire after)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._skipped += seconds

    @property
    def skipped(self) -> float:
        with self._lock:
            return self._skipped

    def timer(self, seconds: float, function: Callable[[], None]) -> _Timer:
        return _Timer(self, seconds, function)

    def _next_timer(self, until: float) -> _Timer | None:
        with self._lock:
            due = [timer for timer in self._timers if timer.deadline <= until]
        return min(due, key=lambda timer: timer.deadline, default=None)

    def _track(self, timer: _Timer, running: bool) -> None:
        with self._lock:
            (self._timers.add if running else self._timers.discard)(timer)


class _Timer(threading.Thread):
    """threading.Timer's interface, firing when ``seconds`` have passed on a VirtualClock."""

    def __init__(self, clock: VirtualClock, seconds: float, function: Callable[[], None]) -> None:
        super().__init__(name="virtual-timer", daemon=True)
        self._clock = clock
        self._seconds = seconds
        self._function = function
        self._cancelled = threading.Event()
        self.done = threading.Event()
        self.deadline = float("inf")

    def start(self) -> None:
        self.deadline = self._clock.monotonic() + self._seconds
        self._clock._track(self, running=True)
        super().start()

    def cancel(self) -> None:
        self._cancelled.set()
        self._finish()

    def run(self) -> None:
        try:
            while not self._cancelled.wait(TIMER_POLL_SECONDS):
                if self._clock.monotonic() >= self.deadline:
                    # No longer one for sleeps to stop at: the function may itself sleep (a retried send).
                    self._clock._track(self, running=False)
                    self._function()
                    return
        finally:
            self._finish()

    def _finish(self) -> None:
        self._clock._track(self, running=False)
        self.done.set()
