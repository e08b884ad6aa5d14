"""The scheduler alone (local_aws/simulation/scheduler.py), with toy actors: no emulator, no provider."""

from __future__ import annotations

from local_aws.simulation.explore import Replay, Walk
from local_aws.simulation.scheduler import Option, Scheduler, Strategy


def _system(scheduler: Scheduler, log: list[str]) -> None:
    """Two workers calling on one number at once, a third on another, and a patient observer."""

    def worker(name: str, calls: int, pause: float) -> None:
        for index in range(calls):
            scheduler.yield_point(f"svc:Call{index}")
            log.append(f"{name}{index}@{scheduler.clock.monotonic():g}")
            if pause:
                scheduler.clock.sleep(pause)

    def observer() -> None:
        log.append(f"observed@{scheduler.clock.monotonic():g}")

    scheduler.spawn("a", lambda: worker("a", 3, 1.0), footprint=frozenset({"N1"}))
    scheduler.spawn("b", lambda: worker("b", 3, 0.0), footprint=frozenset({"N1"}))
    scheduler.spawn("c", lambda: worker("c", 2, 0.0), footprint=frozenset({"N2"}))
    scheduler.spawn("cfn", observer, patient=True, step="may act", kind="cloudformation")


def test_a_walk_replays_exactly_from_its_deviations():
    first_log: list[str] = []
    walk = Walk(seed=7, rate=0.5, limit=5)
    first = Scheduler(walk)
    _system(first, first_log)
    first.run()
    assert walk.deviations, "the walk should have deviated at least once"

    again_log: list[str] = []
    replay = Replay(tuple(walk.deviations))
    again = Scheduler(replay)
    _system(again, again_log)
    again.run()

    assert again_log == first_log
    assert again.trace == first.trace
    assert not replay.diverged


def test_calls_take_no_time_and_the_clock_moves_only_when_no_one_can_call_now():
    log: list[str] = []
    scheduler = Scheduler(Strategy())
    _system(scheduler, log)
    scheduler.run()
    # b and c call at once at t=0; a sleeps a second after each call; the patient observer waits for
    # everything else (the default schedule) and sees the clock where a's last sleep left it.
    assert log == ["a0@0", "b0@0", "b1@0", "b2@0", "c0@0", "c1@0", "a1@1", "a2@2", "observed@3"]


class _Record(Strategy):
    def __init__(self) -> None:
        self.seen: list[list[Option]] = []

    def choose(self, options: list[Option], scheduler: Scheduler) -> int:
        self.seen.append(list(options))
        return 0


def test_only_actors_on_the_same_number_and_patient_points_are_choices():
    record = _Record()
    scheduler = Scheduler(record)
    _system(scheduler, [])
    scheduler.run()
    first = [option.actor for option in record.seen[0]]
    # a goes on by default; b (same number) is a preemption worth exploring; c (another number) commutes
    # with a and is not offered; the patient observer may act between any two calls.
    assert first == ["a", "b", "cfn"]
    assert all(
        "c" not in [o.actor for o in options[1:]] for options in record.seen if options[0].actor == "a"
    )


def test_a_call_can_fail_or_its_invocation_die_there_and_the_death_ends_the_whole_invocation():
    faults: list[tuple[str, str, str]] = []
    deaths: list[str] = []
    ran: list[str] = []

    class DieAtSecondCall(Strategy):
        def choose(self, options: list[Option], scheduler: Scheduler) -> int:
            for index, option in enumerate(options):
                if option.actor == "req" and option.step == "connect:Second" and option.fault == "dies":
                    return index
                if option.actor == "req" and option.step == "connect:First" and option.fault == "throttled":
                    return index
            return 0

    scheduler = Scheduler(
        DieAtSecondCall(),
        faults=("throttled", "dies"),
        on_fault=lambda actor, step, fault: faults.append((actor.name, step, fault)),
    )
    scheduler.on_death = lambda actor: deaths.append(actor.name)

    def request() -> None:
        watchdog = scheduler.clock.timer(30.0, lambda: ran.append("watchdog"))
        watchdog.start()
        scheduler.yield_point("connect:First")
        ran.append("first")
        scheduler.yield_point("connect:Second")
        ran.append("second")

    scheduler.spawn("req", request)
    scheduler.run()
    assert faults == [("req", "connect:First", "throttled")]
    assert deaths == ["req"]
    # Neither the call after the death nor the invocation's watchdog ran.
    assert ran == ["first"]
