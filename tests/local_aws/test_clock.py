"""local_aws.clock: the VirtualClock the tests share with the provider, the emulator and Lambda's deadline."""

from __future__ import annotations

import threading
import time

import pytest

from local_aws.clock import REAL_CLOCK, VirtualClock


def test_a_sleep_moves_every_reading_on_at_once():
    clock = VirtualClock()
    monotonic, wall = clock.monotonic(), clock.time()

    clock.sleep(3600)

    assert 3599 < clock.skipped <= 3600  # the hour, less the instant the call itself took
    # Both clocks moved on by the hour (plus the microseconds the test itself took).
    assert 3600 <= clock.monotonic() - monotonic < 3660
    assert 3600 <= clock.time() - wall < 3660
    assert clock() == pytest.approx(clock.monotonic(), abs=1)


def test_time_only_moves_forward():
    clock = VirtualClock()
    clock.sleep(0)

    assert clock.skipped == 0
    with pytest.raises(ValueError, match="non-negative"):  # as time.sleep(-1)
        clock.sleep(-1)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    assert clock.skipped == 0


def test_a_timer_fires_once_the_clock_passes_its_deadline_not_before():
    clock = VirtualClock()
    fired = threading.Event()
    timer = clock.timer(600, fired.set)
    timer.start()

    assert not fired.wait(0.05)
    clock.advance(599)
    assert not fired.wait(0.05)
    clock.advance(2)
    assert fired.wait(5)


def test_a_cancelled_timer_never_fires():
    clock = VirtualClock()
    fired = threading.Event()
    timer = clock.timer(10, fired.set)
    timer.start()

    timer.cancel()
    clock.advance(60)

    timer.join(5)
    assert not timer.is_alive()
    assert not fired.is_set()


def test_the_real_clock_is_the_time_module():
    assert abs(REAL_CLOCK.time() - time.time()) < 1
    assert REAL_CLOCK.monotonic() <= time.monotonic()
    timer = REAL_CLOCK.timer(60, lambda: None)
    assert isinstance(timer, threading.Timer)


def test_a_sleep_stops_at_a_timers_deadline_and_lets_it_run_first():
    # The provider's watchdog must answer before a provider that sleeps on past Lambda's deadline.
    clock = VirtualClock()
    seen_at = []
    start = clock.monotonic()
    timer = clock.timer(10, lambda: seen_at.append(clock.monotonic()))
    timer.start()

    clock.sleep(60)

    assert len(seen_at) == 1
    assert 10 <= seen_at[0] - start < 11  # it ran at its own deadline, not at the end of the sleep
    assert clock.monotonic() - start >= 60


def test_a_timer_that_sleeps_in_its_function_does_not_wait_for_itself():
    clock = VirtualClock()
    finished = threading.Event()

    def retrying_send():
        clock.sleep(1)
        finished.set()

    timer = clock.timer(5, retrying_send)
    timer.start()
    clock.advance(5)

    assert finished.wait(5)
