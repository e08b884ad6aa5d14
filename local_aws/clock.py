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


class RealClock:
    """The time module's clocks, sleep and threading.Timer."""

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

    Calling the clock reads its monotonic time, so it also serves where a ``() -> float`` is expected
    (LambdaContext, invoke_handler).
    """

    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def time(self) -> float:
        return time.time() + self.skipped

    def __call__(self) -> float:
        return self.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")  # as time.sleep says
        self.advance(seconds)
        # Still a switch to the other threads, as a real sleep is: a polling loop must not starve them.
        time.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` at once, as if that long had passed."""
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


class _Timer(threading.Thread):
    """threading.Timer's interface, firing when ``seconds`` have passed on a VirtualClock."""

    def __init__(self, clock: VirtualClock, seconds: float, function: Callable[[], None]) -> None:
        super().__init__(name="virtual-timer", daemon=True)
        self._clock = clock
        self._seconds = seconds
        self._function = function
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def run(self) -> None:
        deadline = self._clock.monotonic() + self._seconds
        while not self._cancelled.wait(TIMER_POLL_SECONDS):
            if self._clock.monotonic() >= deadline:
                self._function()
                return
