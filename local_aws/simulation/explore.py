"""Running schedules: the invariants, the strategies that choose, and how a failing schedule is printed and
replayed.

A schedule is written down as its *deviations* from the default schedule: the default takes option 0 at
every open choice (the actor that ran last goes on; CloudFormation's "at any time" points wait until nothing
else can run; no faults), and a deviation says "at open choice #k, take the option labelled L". That is all a
replay needs (``Schedule``), and it reads as the story of the run: "cfn: a sibling resource fails" at #3,
"Delete S.A#1: connect:UpdatePhoneNumber [throttled]" at #9.

Exploration (see docs/reliability.md, "Simulation"):
- ``exhaustive``: every schedule with at most ``bound`` deviations (the preemption bound of CHESS, with
  faults and CloudFormation's moves counted as deviations too), depth-first, stateless: each schedule runs
  from a fresh world, replaying its prefix. Partial-order reduction: actors whose numbers are disjoint are
  never reordered against each other (scheduler._options).
- ``random_walks``: seeded walks that deviate at each open choice with a small probability, to reach deeper
  schedules (FoundationDB's simulation: many seeds, each replayable from its seed and its choices).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .scheduler import EPOCH, Option, Scheduler, SimulationStuck, Strategy
from .world import DYNAMODB_WRITES, MOVE_SECONDS, REGION, STALE_SECONDS, World, provider_environment

SETTLE_SECONDS = 600.0


@dataclass(frozen=True)
class Schedule:
    """A replayable schedule: a scenario and its deviations (choice index, option label) from the default."""

    scenario: str
    deviations: tuple[tuple[int, str], ...] = ()
    # The faults a call could meet when it was explored: they are options at every call, so they number the
    # open choices too.
    faults: tuple[str, ...] = ()

    def script(self) -> str:
        steps = ", ".join(f"({index}, {label!r})" for index, label in self.deviations)
        faults = f", faults={self.faults!r}" if self.faults else ""
        return f"Schedule({self.scenario!r}, ({steps}{',' if len(self.deviations) == 1 else ''}){faults})"


@dataclass
class Result:
    schedule: Schedule
    violations: list[str]
    choices: int
    trace: list[tuple[float, str]] = field(repr=False, default_factory=list)
    diverged: bool = False

    def report(self) -> str:
        lines = [f"Scenario {self.schedule.scenario}: {len(self.violations)} violation(s)"]
        lines += [f"  - {v}" for v in self.violations]
        lines.append("  Deviations from the default schedule (open choice #, option taken):")
        lines += [f"    #{index}: {label}" for index, label in self.schedule.deviations] or ["    none"]
        lines.append(f"  Replay: {self.schedule.script()}")
        return "\n".join(lines)


class Replay(Strategy):
    """Takes the recorded deviations, the default everywhere else. An option whose label is gone (the code
    now makes other calls) is matched by actor, else the default is taken, and the replay says it diverged."""

    def __init__(self, deviations: tuple[tuple[int, str], ...]) -> None:
        self.deviations = dict(deviations)
        self.diverged = False
        self.count = 0

    def choose(self, options: list[Option], scheduler: Scheduler) -> int:
        index = self.count
        self.count += 1
        wanted = self.deviations.get(index)
        if wanted is None:
            return 0
        labels = [option.label for option in options]
        if wanted in labels:
            return labels.index(wanted)
        self.diverged = True
        actor = wanted.split(":", 1)[0]
        for position, option in enumerate(options):
            if option.actor == actor:
                return position
        return 0


class Walk(Strategy):
    """A seeded random walk: deviate at an open choice with probability ``rate``, ``limit`` times at most."""

    def __init__(self, seed: int, rate: float, limit: int) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.limit = limit
        self.taken = 0
        self.count = 0
        self.deviations: list[tuple[int, str]] = []

    def choose(self, options: list[Option], scheduler: Scheduler) -> int:
        index = self.count
        self.count += 1
        if self.taken >= self.limit or self.rng.random() >= self.rate:
            return 0
        self.taken += 1
        chosen = self.rng.randrange(1, len(options))
        self.deviations.append((index, options[chosen].label))
        return chosen


@dataclass
class Simulation:
    """The session one process explores in: the emulator (its endpoint and in-process control), the
    response receiver, and the provider's environment (world.provider_environment)."""

    endpoint_url: str
    receiver: Any
    control: Any
    _install: Callable[[Scheduler], None] | None = None
    _observer: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    @contextlib.contextmanager
    def session(self) -> Iterator[Simulation]:
        with provider_environment(self.endpoint_url) as install:
            self._install = install
            self._ensure_table()
            try:
                yield self
            finally:
                self._install = None

    def run(self, schedule: Schedule, strategy: Strategy | None = None) -> Result:
        """Run ``schedule`` (or whatever ``strategy`` chooses) from a fresh world; the result and its
        violations."""
        from phone_number_assignment import app

        from .scenarios import SCENARIOS

        assert self._install is not None, "run inside session()"
        scenario = SCENARIOS[schedule.scenario]
        strategy = strategy or Replay(schedule.deviations)
        scheduler = Scheduler(strategy, faults=schedule.faults)
        self._install(scheduler)
        self.control.reset()
        self.control.configure(move_seconds=MOVE_SECONDS, stale_seconds=STALE_SECONDS)
        self.control.use_clock(scheduler.clock)
        previous_clock = self.receiver.clock
        self.receiver.clock = scheduler.clock
        world = World(scheduler, self.receiver, self.control, app.make_handler(scheduler.clock))
        self.last_world = world
        scenario.setup(world)
        scheduler.spawn("cfn", lambda: scenario.script(world), kind="cloudformation")
        violations: list[str] = []
        try:
            scheduler.run()
        except SimulationStuck as stuck:
            violations.append(f"the run itself got stuck: {stuck}")
            scheduler.abandon()
        finally:
            self.receiver.clock = previous_clock
        self.runs += 1
        if not violations:
            scheduler.clock.advance_to(scheduler.clock.monotonic() + SETTLE_SECONDS)
            violations = check(world, self._observe())
        self.control.use_clock(None)
        taken = tuple(
            (index, choice.option.label) for index, choice in enumerate(scheduler.choices) if choice.taken
        )
        return Result(
            Schedule(schedule.scenario, taken, schedule.faults),
            violations,
            len(scheduler.choices),
            scheduler.trace,
            diverged=isinstance(strategy, Replay) and strategy.diverged,
        )

    def _observe(self) -> Any:
        if "connect" not in self._observer:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            config = Config(retries={"mode": "standard", "total_max_attempts": 1})
            for service in ("connect", "dynamodb"):
                self._observer[service] = session.client(
                    service,
                    region_name=REGION,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",  # noqa: S106 - the emulator checks no credentials
                    config=config,
                )
        return self._observer

    def _ensure_table(self) -> None:
        from phone_number_assignment.records import KEY, OWNERSHIP_TABLE

        dynamodb = self._observe()["dynamodb"]
        try:
            dynamodb.describe_table(TableName=OWNERSHIP_TABLE)
        except dynamodb.exceptions.ResourceNotFoundException:
            dynamodb.create_table(
                TableName=OWNERSHIP_TABLE,
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )

    # ---- exploration ------------------------------------------------------------------------------

    def exhaustive(
        self,
        scenario: str,
        bound: int,
        *,
        faults: tuple[str, ...] = (),
        budget: int | None = None,
        seconds: float | None = None,
        part: tuple[int, int] = (0, 1),
    ) -> Exploration:
        """Every schedule of ``scenario`` with at most ``bound`` deviations (or as many as ``budget`` runs or
        ``seconds`` allow: the exploration then says it was cut short).

        ``part`` (k, n) explores the k-th of n disjoint shares: the default schedule, then only the
        schedules whose first deviation is the k-th, (k+n)-th, ... of the default's (so the n parts
        together explore every schedule once, the default n times, and can run on n workers)."""
        share, shares = part
        exploration = Exploration(scenario)
        started = time.monotonic()
        pending: list[tuple[tuple[int, str], ...]] = [()]
        while pending:
            if (budget is not None and exploration.runs >= budget) or (
                seconds is not None and time.monotonic() - started > seconds
            ):
                exploration.complete = False
                break
            deviations = pending.pop()
            replay = Replay(deviations)
            scheduler_choices: list[Any] = []
            result = self._run_recording(Schedule(scenario, deviations, faults), replay, scheduler_choices)
            exploration.add(result)
            if len(deviations) >= bound:
                continue
            last = deviations[-1][0] if deviations else -1
            # Branch only after the last deviation: each schedule is reached once, by its deviations in order.
            first = 0
            for index in range(len(scheduler_choices) - 1, last, -1):
                options = scheduler_choices[index]
                for option in options[1:]:
                    if not deviations:
                        first += 1
                        if first % shares != share:
                            continue
                    pending.append((*deviations, (index, option.label)))
        return exploration

    def _run_recording(self, schedule: Schedule, replay: Replay, into: list[Any]) -> Result:
        result = self.run(schedule, _Recording(replay, into))
        result.diverged = replay.diverged
        return result

    def random_walks(
        self,
        scenario: str,
        seeds: range,
        *,
        faults: tuple[str, ...] = (),
        rate: float = 0.05,
        limit: int = 3,
        seconds: float | None = None,
    ) -> Exploration:
        exploration = Exploration(scenario)
        started = time.monotonic()
        for seed in seeds:
            if seconds is not None and time.monotonic() - started > seconds:
                exploration.complete = False
                break
            result = self.run(Schedule(scenario, faults=faults), Walk(seed, rate, limit))
            exploration.add(result)
        return exploration


class _Recording(Strategy):
    """A Replay that also keeps every open choice's options, for the search to branch from."""

    def __init__(self, replay: Replay, into: list[Any]) -> None:
        self.replay = replay
        self.into = into

    def choose(self, options: list[Option], scheduler: Scheduler) -> int:
        self.into.append(list(options))
        return self.replay.choose(options, scheduler)


@dataclass
class Exploration:
    scenario: str
    runs: int = 0
    failing: list[Result] = field(default_factory=list)
    complete: bool = True
    distinct: set[tuple[str, ...]] = field(default_factory=set)

    def add(self, result: Result) -> None:
        self.runs += 1
        if result.violations:
            self.failing.append(result)
            self.distinct.add(tuple(sorted(_kind(v) for v in result.violations)))

    def summary(self) -> str:
        cut = "" if self.complete else " (cut short by its budget)"
        return (
            f"{self.scenario}: {self.runs} schedules explored{cut}, {len(self.failing)} with violations"
            + (f" ({len(self.distinct)} distinct)" if self.failing else "")
        )


def _kind(violation: str) -> str:
    return violation.split(":", 1)[0]


# ---- the invariants ----------------------------------------------------------------------------------


def check(world: World, observer: dict[str, Any]) -> list[str]:
    """What is wrong once every actor has finished and every move has landed (docs/reliability.md,
    "Simulation": the invariants)."""
    from phone_number_assignment.records import KEY, OWNERSHIP_TABLE

    found: list[str] = []
    for actor in world.scheduler.actors:
        if actor.error is not None:
            found.append(f"{actor.name} raised: {type(actor.error).__name__}: {str(actor.error)[:300]}")
    found += [f"stuck stack: {what}" for what in world.stuck]
    for request in world.requests:
        attempts = [a for a in world.receiver.attempts(request.request_id) if a.outcome == "accepted"]
        if not attempts:
            found.append(f"no answer: {request.name} never got one")
            continue
        if attempts[0].received_at > EPOCH + request.deadline:
            found.append(f"late answer: {request.name} answered after CloudFormation's deadline")
        # A continuation is the same request, not one more delivery of it: it adds no answer.
        events = request.deliveries - request.continued
        if len(attempts) > events:
            found.append(
                f"extra answer: {request.name} answered {len(attempts)} times "
                f"in {events} deliveries of CloudFormation's event"
                + (f" and {request.continued} continuations" if request.continued else "")
            )
    found += _check_continuations(world)
    released = [c for c in world.control.calls() if c["operation"] == "ReleasePhoneNumber"]
    if released:
        found.append(f"number released: ReleasePhoneNumber was called {len(released)} time(s)")
    holders: dict[str, list[tuple[Any, str, dict[str, Any]]]] = {}
    for stack in world.stacks:
        for logical_id, resource in stack.resources.items():
            name = world.places.number_name(str(resource.properties.get("PhoneNumberId", "")))
            if name is not None:
                holders.setdefault(name, []).append((stack, logical_id, resource.properties))
    connect, dynamodb = observer["connect"], observer["dynamodb"]
    for name in world.places.numbers:
        number_arn = world.places.number_arn(name)
        held = holders.get(name, [])
        if len(held) > 1:
            found.append(
                f"two holders: {name} is declared by {', '.join(f'{s.name}.{lid}' for s, lid, _ in held)}"
            )
        if held:
            stack, logical_id, properties = held[0]
            target, flow, why = (
                properties["TargetArn"],
                properties.get("ContactFlowArn", ""),
                f"held by {stack.name}.{logical_id}",
            )
        else:
            (target, flow), why = world.rests[name], "held by no resource"
        summary = connect.describe_phone_number(PhoneNumberId=number_arn)["ClaimedPhoneNumberSummary"]
        where, status = summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]
        if where != target or status != "CLAIMED":
            found.append(
                f"misplaced: {name} ({why}) is {status} on {_short(world, where)}, expected CLAIMED on "
                f"{_short(world, target)}"
            )
        elif flow and _flow_of(connect, summary) != flow:
            found.append(
                f"misrouted: {name} ({why}) routes to {_short(world, _flow_of(connect, summary))}, expected "
                f"{_short(world, flow)}"
            )
        item = dynamodb.get_item(
            TableName=OWNERSHIP_TABLE, Key={KEY: {"S": number_arn}}, ConsistentRead=True
        ).get("Item")
        record = {k: next(iter(v.values())) for k, v in item.items()} if item else None
        owner = (record["StackId"], record["LogicalResourceId"]) if record else None
        live = record is not None and record["State"] not in ("RELEASED", "CANCELLED")
        holder_ids = {(s.stack_id, lid) for s, lid, _ in held}
        if live and owner not in holder_ids:
            found.append(
                f"stale owner: {name}'s record names {_owner(world, owner)} ({record['State']}), which "
                "CloudFormation does not hold"
            )
        if held and (not live or owner not in holder_ids):
            state = record["State"] if record else "no record"
            found.append(
                f"unowned: {name} is held by {held[0][0].name}.{held[0][1]} but its record says "
                f"{_owner(world, owner) if record else ''} {state}".replace("  ", " ")
            )
    return found


# The Connect calls that change a number (its place, its flow, its tags).
CHANGING_CONNECT = frozenset(
    {
        "UpdatePhoneNumber",
        "AssociatePhoneNumberContactFlow",
        "DisassociatePhoneNumberContactFlow",
        "TagResource",
        "UntagResource",
    }
)


def _check_continuations(world: World) -> list[str]:
    """The invariants of a request that outlives its invocation (docs/reliability.md, "Simulation")."""
    from phone_number_assignment.records import KEY, is_request_key

    found = [f"endless continuation: {what}" for what in world.endless]
    answered = {request.request_id for request in world.requests if request.answer() is not None}
    for request in world.requests:
        # Nothing left in Lambda's queue: the world runs every continuation as its invocation ends.
        for queued in world.control.take_invocations(request.request_id):
            if request.request_id not in answered:
                hop = queued["payload"].get("Continuation", {}).get("Hop")
                found.append(f"lost continuation: {request.name}'s hop {hop} was queued and never run")
    for continuation in world.continuations:
        request = continuation.request
        if continuation.started_at_call is None:
            if request.request_id not in answered:
                found.append(f"lost continuation: {continuation.actor} of {request.name} never ran")
            continue
        calls = [c for c in world.calls[continuation.started_at_call :] if c.actor == continuation.actor]
        if continuation.answered_at_start:
            connect = list(dict.fromkeys(c.operation for c in calls if c.service == "connect"))
            if connect:
                found.append(
                    f"answered continuation acted: {continuation.actor} of {request.name}, already answered, "
                    f"called Connect ({', '.join(connect)})"
                )
        stamped = world.newer_stamp(request)
        if stamped is None or stamped >= continuation.started_at_call:
            continue
        changes = dict.fromkeys(
            f"{c.service}:{c.operation}"
            for c in calls
            if (c.service == "connect" and c.operation in CHANGING_CONNECT)
            or (
                c.service == "dynamodb"
                and c.operation in DYNAMODB_WRITES
                and c.ok is not False
                and not is_request_key(c.key(KEY))
            )
        )
        if changes:
            found.append(
                f"overtaken continuation acted: {continuation.actor} of {request.name} started after a newer "
                f"request of its resource stamped it, and still made {', '.join(changes)}"
            )
    return found


def _flow_of(connect: Any, summary: dict[str, Any]) -> str:
    instance_id = summary.get("InstanceId")
    if not instance_id:
        return ""
    answer = connect.batch_get_flow_association(
        InstanceId=instance_id, ResourceIds=[summary["PhoneNumberArn"]], ResourceType="VOICE_PHONE_NUMBER"
    )
    for association in answer.get("FlowAssociationSummaryList") or []:
        return association.get("FlowId", "")
    return ""


def _short(world: World, arn: str) -> str:
    for name, instance_id in world.places.instances.items():
        if arn.endswith(f"instance/{instance_id}"):
            return f"instance {name}"
        if arn.endswith(f"contact-flow/{world.places.flows.get(name)}"):
            return f"flow {name}"
    return arn or "nothing"


def _owner(world: World, owner: tuple[str, str] | None) -> str:
    if owner is None:
        return "nobody"
    for stack in world.stacks:
        if stack.stack_id == owner[0]:
            return f"{stack.name}.{owner[1]}"
    return f"{owner[0]}.{owner[1]}"
