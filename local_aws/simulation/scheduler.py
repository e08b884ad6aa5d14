"""Deterministic interleaving of threads on a purely virtual clock: one thread runs at a time.

Every participant (an invocation of the handler, its watchdog timer, CloudFormation's side of a scenario) is
an ``Actor`` on a thread of its own. An actor runs only when the scheduler lets it, and stops at the next
*yield point*: before each AWS call it makes (a botocore ``before-call`` hook on the provider's clients),
at each sleep, and wherever CloudFormation's script may act later. Between yield points nothing else runs,
so a schedule is the sequence of choices made at yield points, and replaying those choices replays the run
exactly: the clock only moves when the scheduler moves it, and nothing reads real time.

Time is faithful: an AWS call takes no virtual time, a sleeping actor is ready only once the clock reaches
its wake-up time, and the clock moves to the next wake-up only when no actor is ready to call now. An actor
ready now is *urgent* (a call in flight cannot wait for time to pass); CloudFormation's "at any time" points
are *patient*: they may run between any two calls, or be put off while time passes. Latency, throttling,
transient faults (5xx with and without a code, connection resets) and an invocation dying are choices too
(``Option.fault``), made at a call.

Which choice is taken is a ``Strategy``'s business (explore.py): the default schedule, a replay of a recorded
one, a bounded exhaustive search or a seeded random walk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# 2026-01-01T00:00:00Z: where every simulated run's wall clock starts, so signing times, and the seconds
# they fall in, are the same in every replay.
EPOCH = 1767225600.0
# How long (real seconds) the scheduler waits for an actor to reach its next yield point before it calls
# the run stuck: a provider call hanging on a socket, or a thread blocked outside the scheduler's view.
PARK_TIMEOUT_SECONDS = 60.0


class InvocationDied(BaseException):
    """Raised in an actor's thread at a yield point when its invocation is stopped there (Lambda's timeout,
    or a crash chosen by the schedule). A BaseException, so the provider's ``except Exception`` clauses
    do not turn it into an answer: a dead invocation answers nothing."""


class SimulationStuck(RuntimeError):
    """An actor did not reach a yield point in time, or nothing can ever run again."""


class SimClock:
    """Virtual time only: ``monotonic`` counts from 0, ``time`` from EPOCH, and only ``advance`` moves them.

    ``sleep`` is a yield point of the calling actor (ready again once the clock reaches its wake-up time);
    from a thread the scheduler does not manage (the emulator's server threads never sleep on it) it is an
    error, because it could not be replayed. ``timer`` returns a timer that runs as an actor of its own.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._now = 0.0

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return EPOCH + self._now

    def __call__(self) -> float:
        return self._now

    def advance_to(self, when: float) -> None:
        if when > self._now:
            self._now = when

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self._scheduler.yield_point("sleep", wake=self._now + seconds)

    def timer(self, seconds: float, function: Callable[[], None]) -> SimTimer:
        return SimTimer(self._scheduler, seconds, function)


class SimTimer:
    """threading.Timer's interface (start, cancel), firing as an actor when its time comes."""

    def __init__(self, scheduler: Scheduler, seconds: float, function: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._seconds = seconds
        self._function = function
        self._actor: Actor | None = None

    def start(self) -> None:
        parent = self._scheduler.current()
        name = f"{parent.name}.watchdog" if parent else "timer"
        self._actor = self._scheduler.spawn(
            name,
            self._function,
            wake=self._scheduler.clock.monotonic() + self._seconds,
            group=parent.group if parent else name,
            footprint=parent.footprint if parent else None,
            kind="timer",
        )

    def cancel(self) -> None:
        if self._actor is not None:
            self._scheduler.cancel(self._actor)


@dataclass
class Actor:
    name: str
    function: Callable[[], None]
    group: str
    # The numbers this actor may touch: actors with disjoint footprints commute (None: everything).
    footprint: frozenset[str] | None
    kind: str
    wake: float = 0.0
    patient: bool = False
    # Ready only once this holds (or the clock reaches ``wake``, when ``deadline`` is set).
    condition: Callable[[], bool] | None = None
    deadline: bool = False
    pending: str = "start"
    started: bool = False
    parked: bool = False
    done: bool = False
    kill: bool = False
    fault: str | None = None
    # Alternatives of the pending step the schedule may choose (the first is the default), and the one
    # chosen when the step was taken (None: the default): e.g. when Lambda runs a queued continuation.
    variants: tuple[str, ...] = ()
    chosen: str | None = None
    error: BaseException | None = None
    go: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def ready(self, now: float) -> bool:
        if self.done or not self.parked:
            return False
        if self.condition is not None:
            if self.condition():
                return True
            return self.deadline and now >= self.wake
        return now >= self.wake


@dataclass(frozen=True)
class Option:
    """One thing the scheduler may do next: let ``actor`` take its pending step (with ``fault`` at its AWS
    call, if any), or, with no actor, move the clock to the next wake-up."""

    actor: str | None
    step: str
    fault: str | None = None

    @property
    def label(self) -> str:
        if self.actor is None:
            return f"time passes to t={float(self.step):.2f}"
        return f"{self.actor}: {self.step}" + (f" [{self.fault}]" if self.fault else "")


@dataclass
class Choice:
    """A point where more than one option was open, and which was taken."""

    options: list[Option]
    taken: int
    time: float

    @property
    def option(self) -> Option:
        return self.options[self.taken]


class Strategy:
    """Chooses among the open options; index 0 is always the default (no deviation)."""

    def choose(self, options: list[Option], scheduler: Scheduler) -> int:
        return 0


# The services whose faults the emulator can answer with: every service the provider calls.
FAULTY_SERVICES = ("connect", "dynamodb", "cloudformation")
# Faults a call can meet, as the step's bracketed suffix (world.py's World.apply_fault has the emulator answer
# the one call so): throttled (the service's throttling error), the transient faults botocore's standard mode
# retries and the provider retries with it (local_aws/connect/faults.py: a 503 ServiceUnavailable with its
# code, a load balancer's 502 page with no code, a connection reset before the call is served and one after
# it was served, its answer lost), a call slower than Describe's lag, and the invocation dying at the call.
TRANSIENT_FAULTS = ("5xx", "5xx-page", "reset", "reset-after-serving")
FAULTS = ("throttled", *TRANSIENT_FAULTS, "slow", "dies")


class Scheduler:
    """Runs actors one at a time at their yield points, choosing with ``strategy`` (see the module docstring).

    ``faults``: whether an AWS call may meet one of FAULTS (a choice, so exhaustive search and random walks
    explore them). ``on_fault(actor, operation, fault)`` makes the emulator answer the call so.
    """

    def __init__(
        self,
        strategy: Strategy,
        *,
        faults: Iterable[str] = (),
        on_fault: Callable[[Actor, str, str], None] | None = None,
        max_steps: int = 5000,
    ) -> None:
        self.strategy = strategy
        self.clock = SimClock(self)
        self.faults = tuple(faults)
        self.on_fault = on_fault
        self.max_steps = max_steps
        self.actors: list[Actor] = []
        self.choices: list[Choice] = []
        self.trace: list[tuple[float, str]] = []
        self.deaths: list[Actor] = []
        self._local = threading.local()
        self._lock = threading.Condition()
        self._last: Actor | None = None
        # False while a scenario sets the stage (its stacks' first deployments): the default is taken there,
        # and no choice is recorded, so exploration spends itself on the part under test.
        self.exploring = True
        # Hooks for the world a run plays in (world.World): an invocation died (Lambda retries it), the clock
        # moved (Lambda's timeouts), a step is about to be chosen (CloudFormation takes in answers).
        self.on_death: Callable[[Actor], None] | None = None
        self.on_time: Callable[[float], None] | None = None
        self.on_step: Callable[[], None] | None = None
        # The provider's AWS calls as they are made and answered (world.World.called, .answered).
        self.on_call: Callable[[str, str, dict[str, Any]], None] | None = None
        self.on_answer: Callable[[bool], None] | None = None

    # ---- inside actors ----------------------------------------------------------------------------

    def current(self) -> Actor | None:
        return getattr(self._local, "actor", None)

    def yield_point(
        self,
        step: str,
        *,
        wake: float | None = None,
        patient: bool = False,
        condition: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> str | None:
        """Stop the calling actor here until the scheduler lets it go on; returns the fault to meet, if any.

        A no-op in a thread the scheduler does not manage, except sleeping, which cannot be replayed there.
        """
        actor = self.current()
        if actor is None:
            if step == "sleep":
                raise SimulationStuck("a thread outside the simulation slept on the simulated clock")
            return None
        with self._lock:
            actor.pending = step
            actor.patient = patient
            actor.condition = condition
            actor.deadline = deadline is not None
            actor.wake = (
                deadline if deadline is not None else (wake if wake is not None else self.clock.monotonic())
            )
            actor.parked = True
            actor.go.clear()
            self._lock.notify_all()
        actor.go.wait()
        if actor.kill:
            raise InvocationDied(actor.name)
        fault, actor.fault = actor.fault, None
        return fault

    # ---- the scheduler's side ---------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        function: Callable[[], None],
        *,
        wake: float | None = None,
        group: str | None = None,
        footprint: frozenset[str] | None = None,
        kind: str = "request",
        patient: bool = False,
        step: str = "start",
        variants: tuple[str, ...] = (),
    ) -> Actor:
        """A new actor, parked at its start until the scheduler lets it run (at ``wake`` or later).

        ``variants``: ways of taking the start step the schedule chooses among (the first is the default);
        the function reads the one taken from ``chosen`` (None for the default)."""
        if any(a.name == name for a in self.actors):
            raise ValueError(f"two actors named {name!r}: a schedule could not tell them apart")
        actor = Actor(name, function, group or name, footprint, kind)
        actor.wake = self.clock.monotonic() if wake is None else wake
        actor.patient = patient
        actor.pending = step
        actor.variants = variants
        actor.parked = True

        def run() -> None:
            self._local.actor = actor
            actor.go.wait()
            try:
                if not actor.kill:
                    actor.function()
            except InvocationDied:
                pass
            except BaseException as error:  # noqa: BLE001 - reported with the schedule, not swallowed
                actor.error = error
            finally:
                with self._lock:
                    actor.done = True
                    actor.parked = False
                    self._lock.notify_all()

        actor.thread = threading.Thread(target=run, name=f"sim-{name}", daemon=True)
        with self._lock:
            self.actors.append(actor)
        actor.thread.start()
        return actor

    def cancel(self, actor: Actor) -> None:
        """A timer cancelled before it fired never runs (its thread ends at once).

        No longer parked, under the lock: the scheduler then waits for the thread to end. Left parked, the
        scheduler could read it as live and, a moment later, as neither parked nor ready once its thread
        had ended, and report "nothing can run" (seen once in 280 schedules on a loaded machine)."""
        with self._lock:
            if actor.started or actor.done:
                return
            actor.kill = True
            actor.started = True
            actor.parked = False
            actor.go.set()

    def kill_group(self, group: str) -> None:
        """Stop every actor of an invocation (the handler and its watchdog) at its next yield point."""
        for actor in self.actors:
            if actor.group == group and not actor.done:
                actor.kill = True

    def run(self) -> None:
        """Run until every actor has finished."""
        steps = 0
        while True:
            self._wait_all_parked()
            live = [a for a in self.actors if not a.done]
            if not live:
                return
            steps += 1
            if steps > self.max_steps:
                raise SimulationStuck(f"more than {self.max_steps} steps: a loop that never ends?")
            now = self.clock.monotonic()
            if self.on_step is not None:
                self.on_step()
            for actor in live:
                # An invocation stopped by the schedule (or its watchdog after it) ends at its next step.
                if actor.kill and actor.parked:
                    self._release(actor, None)
                    break
            else:
                options = self._options(live, now)
                if not options:
                    waking = [a.wake for a in live if a.parked and (a.condition is None or a.deadline)]
                    future = [w for w in waking if w > now]
                    if not future:
                        raise SimulationStuck(
                            "nothing can run: " + ", ".join(f"{a.name} at {a.pending}" for a in live)
                        )
                    self._advance(min(future))
                    continue
                open_choice = len(options) > 1 and self.exploring
                taken = self.strategy.choose(options, self) if open_choice else 0
                option = options[taken]
                if open_choice:
                    self.choices.append(Choice(options, taken, now))
                self.trace.append((now, option.label))
                if option.actor is None:
                    self._advance(float(option.step))
                    continue
                actor = next(a for a in live if a.name == option.actor)
                self._release(actor, option.fault)

    def _options(self, live: list[Actor], now: float) -> list[Option]:
        ready = [a for a in live if a.ready(now)]
        urgent = [a for a in ready if not a.patient]
        patient = [a for a in ready if a.patient]
        options: list[Option] = []
        if urgent:
            # The default keeps the last actor going (no preemption); the others are deviations. An urgent
            # actor whose footprint is disjoint from the default's commutes with it: not a choice worth
            # exploring (partial-order reduction).
            urgent.sort(key=lambda a: (a is not self._last, self.actors.index(a)))
            first = urgent[0]
            options.extend(_taking(first))
            options.extend(self._faulted(first))
            for other in urgent[1:]:
                if _dependent(first, other):
                    options.extend(_taking(other))
            for actor in patient:
                options.extend(_taking(actor))
            return options
        sleepers = [a.wake for a in live if a.parked and not a.ready(now) and a.wake > now]
        if sleepers:
            when = min(sleepers)
            options.append(Option(None, repr(when)))
        for actor in patient:
            options.extend(_taking(actor))
        return options

    def _faulted(self, actor: Actor) -> list[Option]:
        if not self.faults or actor.kind != "request" or ":" not in actor.pending:
            return []
        service = actor.pending.split(":", 1)[0]
        # One death per schedule: Lambda retries a dead invocation twice, and three deaths in a row of one
        # request leave CloudFormation without an answer whatever the provider does.
        dies = len(self.deaths) < MAX_DEATHS
        return [
            Option(actor.name, actor.pending, fault)
            for fault in self.faults
            if (fault == "dies" and dies) or (fault != "dies" and service in FAULTY_SERVICES)
        ]

    def _release(self, actor: Actor, fault: str | None) -> None:
        if actor.variants:
            # A variant of the step, not a fault of a call: the actor reads it (Actor.chosen).
            actor.chosen, fault = fault, None
            actor.variants = ()
        if fault == "dies":
            actor.kill = True
            self.kill_group(actor.group)
            self.deaths.append(actor)
            if self.on_death is not None:
                self.on_death(actor)
        elif fault is not None and self.on_fault is not None:
            self.on_fault(actor, actor.pending, fault)
            if fault == "slow":
                # The call answers late: the clock moves on before it (only this actor runs meanwhile).
                self._advance(self.clock.monotonic() + SLOW_CALL_SECONDS)
        self._last = actor
        with self._lock:
            actor.parked = False
            actor.started = True
            actor.fault = fault if fault not in ("dies", "slow") else None
            actor.go.set()

    def _advance(self, when: float) -> None:
        self.clock.advance_to(when)
        if self.on_time is not None:
            self.on_time(self.clock.monotonic())

    def _wait_all_parked(self) -> None:
        with self._lock:
            settled = self._lock.wait_for(
                lambda: all(a.done or a.parked for a in self.actors), PARK_TIMEOUT_SECONDS
            )
            if not settled:
                running = [a.name for a in self.actors if not (a.done or a.parked)]
                raise SimulationStuck(f"{', '.join(running)} did not reach a yield point")

    def abandon(self) -> None:
        """End every actor still parked (after a failure of the run itself), so no thread is left behind."""
        for actor in self.actors:
            if not actor.done:
                actor.kill = True
                actor.go.set()


MAX_DEATHS = 1
# How long a call chosen to be slow takes: past the 5 s the provider gives Describe to show a move
# (waiting.STALE_STATUS_GRACE_SECONDS), so a slow call can reorder what a request sees.
SLOW_CALL_SECONDS = 6.0


def _taking(actor: Actor) -> list[Option]:
    """The options of taking ``actor``'s pending step: as it is, or as one of its other variants."""
    return [
        Option(actor.name, actor.pending),
        *(Option(actor.name, actor.pending, v) for v in actor.variants[1:]),
    ]


def _dependent(a: Actor, b: Actor) -> bool:
    if a.footprint is None or b.footprint is None:
        return True
    return bool(a.footprint & b.footprint)
