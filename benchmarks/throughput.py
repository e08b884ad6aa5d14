"""Sections 1 and 2: completion lag of single moves, and many assignments under the default quota."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from local_aws.connect.runtime import DEFAULT_QUOTAS

from . import stats
from .harness import (
    REGION,
    LocalAws,
    arrivals_by_number,
    assign_concurrently,
    progress,
    provider_on_path,
    provider_stdout,
    seed_world,
)

# Completion lag: CloudFormation hears within half a second (median) of Connect showing CLAIMED, and the
# wait costs at most one Describe per second of move plus 2 (the first read and the one that sees CLAIMED).
LAG_TARGET_SECONDS = 0.5
DESCRIBES_PER_SECOND_TARGET = 1.0
DESCRIBES_ALLOWANCE = 2
# Many assignments at once (issue 27): at most FLOOR_TARGET_RATIO times the floor (see floor_seconds) in
# every quota profile, SMALL_STACK_FLOOR_TARGET_RATIO up to SMALL_STACK_RESOURCES assignments (where one
# move, the burst and the first seconds weigh most), with throttled calls at most THROTTLED_SHARE_TARGET of
# the accepted ones (the quota is shared with the account's other tools).
FLOOR_TARGET_RATIO = 1.3
SMALL_STACK_FLOOR_TARGET_RATIO = 1.5
SMALL_STACK_RESOURCES = 20
THROTTLED_SHARE_TARGET = 0.5
THROUGHPUT_MOVE_SECONDS = 2.0
# No provider can assign a number it has not read, nor answer before it has seen the number CLAIMED on the
# target: two DescribePhoneNumber calls per fresh assignment.
FLOOR_DESCRIBES_PER_ASSIGNMENT = 2


@dataclass(frozen=True)
class QuotaProfile:
    """The share of Connect's per-operation quotas the provider gets: the same for every operation."""

    name: str
    per_second: float
    burst: int
    description: str

    def quotas(self, operations: Sequence[str]) -> dict[str, tuple[float, int]]:
        return {operation: (self.per_second, self.burst) for operation in operations}


# Connect's documented default (runtime.DEFAULT_QUOTAS: 2 requests/s, burst 5, every operation), and an
# account where other tools (the admin website, scripts) already use part of it.
DOCUMENTED = QuotaProfile("documented", 2.0, 5, "Connect's default quota: 2 req/s, burst 5")
BUSY = QuotaProfile("busy", 1.5, 2, "busy account: 1.5 req/s, burst 2 left by other tools")
PROFILES = {profile.name: profile for profile in (DOCUMENTED, BUSY)}


def floor_seconds(resources: int, profile: QuotaProfile) -> float:
    """The shortest makespan any provider could have: its Describes alone, at the Describe quota.

    The bucket starts full, so the first ``burst`` calls are free; every other one waits its turn.
    """
    calls = FLOOR_DESCRIBES_PER_ASSIGNMENT * resources
    return stats.bucket_seconds(calls, per_second=profile.per_second, burst=profile.burst)


def floor_target(resources: int, profile: QuotaProfile) -> float | None:
    """The makespan/floor target this run is held to, if any."""
    del profile  # the same target in every profile
    return SMALL_STACK_FLOOR_TARGET_RATIO if resources <= SMALL_STACK_RESOURCES else FLOOR_TARGET_RATIO


@dataclass
class LagResult:
    summary: stats.LagSummary
    failures: list[str] = field(default_factory=list)

    @property
    def describes_allowed(self) -> float:
        return self.summary.move_seconds * DESCRIBES_PER_SECOND_TARGET + DESCRIBES_ALLOWANCE

    @property
    def lag_met(self) -> bool:
        return not self.failures and self.summary.median_lag <= LAG_TARGET_SECONDS

    @property
    def describes_met(self) -> bool:
        return self.summary.describes_per_assignment_max <= self.describes_allowed

    @property
    def met(self) -> bool:
        return self.lag_met and self.describes_met


def completion_lags(aws: LocalAws, handler: Any, durations: Sequence[float], moves: int) -> list[LagResult]:
    """``moves`` concurrent Creates per duration, each on its own number, no quota.

    All durations overlap, so the section takes about as long as its longest move: batches start longest
    first, each once every move of the previous batch is running, because ``configure(move_seconds=)``
    applies to the moves that start after it.
    """
    control = aws.control
    order = sorted(durations, reverse=True)
    world = seed_world(control, moves * len(order))
    gates = [threading.Event() for _ in order]

    def arrange() -> None:
        control.reset()
        # stale window: the emulator's default, as in AWS
        control.configure(move_seconds=order[0])
        gates[0].set()
        threading.Thread(target=open_gates, name="lag-batches", daemon=True).start()

    def open_gates() -> None:
        for batch in range(1, len(order)):
            deadline = time.monotonic() + 120
            while len(control.moves()) < batch * moves and time.monotonic() < deadline:
                time.sleep(0.05)
            control.configure(move_seconds=order[batch])
            gates[batch].set()

    with tempfile.NamedTemporaryFile(prefix="bench-lag-", suffix=".log") as log, provider_stdout(log.name):
        _, results = assign_concurrently(
            aws,
            handler,
            world,
            stack_name="bench-lag",
            arrange=arrange,
            before_each=lambda index: gates[index // moves].wait(),
        )
    all_moves, calls = control.moves(), control.calls()
    arrivals = arrivals_by_number(results)
    lag_results = []
    for batch, seconds in enumerate(order):
        batch_results = results[batch * moves : (batch + 1) * moves]
        numbers = {a.phone_number_arn for a in batch_results}
        batch_moves = [m for m in all_moves if m["phone_number_arn"] in numbers]
        lags = stats.move_lags(batch_moves, calls, arrivals)
        failures = [f"{a.logical_id}: {a.status} {a.reason}" for a in batch_results if a.status != "SUCCESS"]
        lag_results.append(LagResult(stats.summarise_lags(seconds, lags), failures))
    return sorted(lag_results, key=lambda result: result.summary.move_seconds)


@dataclass
class ThroughputResult:
    resources: int
    move_seconds: float
    makespan: float
    bound: stats.QuotaBound  # from the calls the emulator admitted and the quotas it had in force
    quotas: dict[str, tuple[float, int]]
    succeeded: int
    failures: list[str]
    calls: dict[str, stats.CallCounts]  # every operation the run made, quota-limited or not
    retry_logs: int
    retry_pause_seconds: float
    first_responses: list[float]
    profile: QuotaProfile = DOCUMENTED
    # DynamoDB and CloudFormation calls by "service:Operation" (the ownership records' GetItem/PutItem, the
    # shared pace's UpdateItem, the CloudFormation reads), which no Connect quota counts.
    service_calls: dict[str, int] = field(default_factory=dict)
    pace: PaceTotals | None = None
    # Past one invocation (section 5): the function's timeout, shrunk; how many hand-overs the run made.
    timeout_seconds: float | None = None
    continuations: int = 0

    @property
    def floor(self) -> float:
        return floor_seconds(self.resources, self.profile)

    @property
    def floor_ratio(self) -> float:
        return self.makespan / self.floor if self.floor > 0 else float("nan")

    @property
    def floor_target(self) -> float | None:
        return floor_target(self.resources, self.profile)

    @property
    def ideal(self) -> float:
        """Secondary: the least time the calls the emulator admitted needed (our own calls, not the floor)."""
        return self.bound.seconds

    @property
    def ratio(self) -> float:
        return self.makespan / self.ideal

    @property
    def failed(self) -> int:
        return self.resources - self.succeeded

    @property
    def throttled(self) -> int:
        """Every ThrottlingException the emulator answered, all operations."""
        return sum(counts.throttled for counts in self.calls.values())

    @property
    def accepted(self) -> int:
        """Every call the quota let through (it took a token), all operations."""
        return sum(counts.admitted for counts in self.calls.values())

    @property
    def throttling_met(self) -> bool:
        return self.throttled <= THROTTLED_SHARE_TARGET * self.accepted

    @property
    def floor_met(self) -> bool | None:
        """Whether the makespan is within its target of the floor; None where no target applies."""
        target = self.floor_target
        return None if target is None else self.floor_ratio <= target

    @property
    def met(self) -> bool:
        return self.failed == 0 and self.throttling_met and self.floor_met is not False

    def per_assignment(self, operation: str) -> float:
        return self.calls[operation].admitted / self.resources if self.resources else float("nan")

    def utilisation(self, operation: str) -> float:
        """Share of what the operation's quota could admit during the run that it did admit."""
        per_second, burst = self.quotas[operation]
        return stats.quota_utilisation(
            self.calls[operation].admitted, self.makespan, per_second=per_second, burst=burst
        )


@dataclass(frozen=True)
class PaceTotals:
    """The shared pace's own account of a run (the provider's "Shared pace" log line, one per invocation)."""

    writes: int
    turns: int
    waited_seconds: float
    failures: int


def _report_paces() -> None:
    """What the shared pace learned, per operation (its items in the ownership table), on stderr."""
    provider_on_path()
    from phone_number_assignment import clients
    from phone_number_assignment.pace import is_pace_key
    from phone_number_assignment.records import KEY, OWNERSHIP_TABLE

    client = clients.dynamodb_client.__wrapped__(REGION)
    items = client.scan(TableName=OWNERSHIP_TABLE, ConsistentRead=True)["Items"]
    learned = {
        item[KEY]["S"].rsplit("pace-", 1)[-1]: float(item.get("Interval", {}).get("N", "0"))
        for item in items
        if is_pace_key(item[KEY]["S"])
    }
    if learned:
        paces = ", ".join(f"{op} {1 / i:.2f}/s" if i else f"{op} open" for op, i in sorted(learned.items()))
        progress(f"  shared pace learned: {paces}")


def _pace_totals(log_path: str) -> PaceTotals | None:
    writes = turns = failures = 0
    waited = 0.0
    seen = False
    with open(log_path, errors="replace") as f:
        for line in f:
            if '"Shared pace"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            seen = True
            writes += int(record.get("pace_writes", 0))
            turns += int(record.get("pace_turns", 0))
            waited += float(record.get("pace_waited", 0.0))
            failures += int(record.get("pace_failures", 0))
    return PaceTotals(writes, turns, waited, failures) if seen else None


def _provider_retries(log_path: str) -> tuple[int, float]:
    """How often the provider's own loop paused after throttling, and for how long in total."""
    count, pause = 0, 0.0
    with open(log_path, errors="replace") as f:
        for line in f:
            if '"Connect call will be retried"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            count += 1
            pause += float(record.get("retry_in", 0.0))
    return count, pause


def _continuations(log_path: str) -> int:
    with open(log_path, errors="replace") as f:
        return sum(1 for line in f if '"Request continues in the next invocation"' in line)


def under_quota(
    aws: LocalAws,
    handler: Any,
    resources: int,
    profile: QuotaProfile = DOCUMENTED,
    *,
    timeout_seconds: float | None = None,
) -> ThroughputResult:
    control = aws.control

    def arrange() -> None:
        control.reset()
        control.configure(move_seconds=THROUGHPUT_MOVE_SECONDS)
        for operation, (per_second, burst) in profile.quotas(tuple(DEFAULT_QUOTAS)).items():
            control.set_rate_limit(operation, per_second, burst)

    world = seed_world(control, resources)
    fd, log_path = tempfile.mkstemp(prefix="bench-quota-", suffix=".log")
    os.close(fd)
    try:
        with provider_stdout(log_path):
            started, results = assign_concurrently(
                aws,
                handler,
                world,
                stack_name=f"bench-{profile.name}-{resources}",
                arrange=arrange,
                **({"timeout_seconds": timeout_seconds} if timeout_seconds else {}),
            )
        retry_logs, retry_pause = _provider_retries(log_path)
        pace = _pace_totals(log_path)
        continuations = _continuations(log_path)
    finally:
        os.unlink(log_path)
    arrivals = sorted(a.arrived_at - started for a in results if a.arrived_at is not None)
    failures = [f"{a.logical_id}: {a.status} {a.reason}" for a in results if a.status != "SUCCESS"]
    calls = stats.count_calls_by_operation(control.calls())
    service_calls = control.service_calls()
    _report_paces()
    quotas = {op: (float(rate), int(burst)) for op, (rate, burst) in control.rate_limits().items()}
    control.reset()  # drop the quota before anything else runs
    admitted = {operation: counts.admitted for operation, counts in calls.items()}
    return ThroughputResult(
        resources=resources,
        move_seconds=THROUGHPUT_MOVE_SECONDS,
        makespan=arrivals[-1] if arrivals else float("nan"),
        bound=stats.quota_bound(admitted, quotas, move_seconds=THROUGHPUT_MOVE_SECONDS),
        quotas=quotas,
        succeeded=sum(1 for a in results if a.status == "SUCCESS"),
        failures=failures,
        calls=calls,
        retry_logs=retry_logs,
        retry_pause_seconds=retry_pause,
        first_responses=arrivals[:3],
        profile=profile,
        service_calls=service_calls,
        pace=pace,
        timeout_seconds=timeout_seconds,
        continuations=continuations,
    )


def run_lags(aws: LocalAws, handler: Any, durations: Sequence[float], moves: int) -> list[LagResult]:
    listed = ", ".join(f"{d:g}" for d in durations)
    progress(f"completion lag: {moves} concurrent moves each of {listed} s")
    started = time.monotonic()
    results = completion_lags(aws, handler, durations, moves)
    progress(f"  done in {time.monotonic() - started:.1f} s")
    return results


def run_throughput(
    aws: LocalAws, handler: Any, sizes: Sequence[int], profiles: Sequence[QuotaProfile] = (DOCUMENTED,)
) -> list[ThroughputResult]:
    results = []
    for profile in profiles:
        for resources in sizes:
            progress(f"throughput: {resources} assignments, {profile.description}")
            result = under_quota(aws, handler, resources, profile)
            progress(
                f"  makespan {result.makespan:.1f} s = {result.floor_ratio:.2f}x floor {result.floor:.1f} s, "
                f"{result.failed} FAILED, throttled/accepted {result.throttled}/{result.accepted}"
            )
            results.append(result)
    return results


# Past one invocation (issue 33): the function's timeout shrunk so that N numbers need several invocations
# each, as about 1,700 numbers need at the real 900 s. 60 numbers at the documented quota: floor 57.5 s,
# against 22 s of budget per invocation (40 s less the provider's 18 s reserve).
BEYOND_TIMEOUT_SECONDS = 40.0
BEYOND_SIZES = (60,)


def continuation_allowance() -> float:
    """The time one hand-over may cost on top of the pace: Lambda starting the next invocation (the local
    stand-in's delay, local_aws.stack.CONTINUATION_DELAY_SECONDS)."""
    from local_aws.stack import CONTINUATION_DELAY_SECONDS

    return CONTINUATION_DELAY_SECONDS


def run_beyond_invocation(
    aws: LocalAws,
    handler: Any,
    sizes: Sequence[int],
    timeout_seconds: float,
    *,
    continuations: bool = True,
) -> list[ThroughputResult]:
    results = []
    saved = os.environ.get("CONTINUATIONS")
    os.environ["CONTINUATIONS"] = "On" if continuations else "Off"  # read by every invocation process
    try:
        for resources in sizes:
            progress(
                f"past one invocation: {resources} assignments, function timeout {timeout_seconds:g} s, "
                f"continuations {'on' if continuations else 'off'}, {DOCUMENTED.description}"
            )
            result = under_quota(aws, handler, resources, DOCUMENTED, timeout_seconds=timeout_seconds)
            progress(
                f"  makespan {result.makespan:.1f} s = {result.floor_ratio:.2f}x floor {result.floor:.1f} s, "
                f"{result.failed} FAILED, throttled/accepted {result.throttled}/{result.accepted}, "
                f"{result.continuations} hand-overs"
            )
            results.append(result)
    finally:
        if saved is None:
            os.environ.pop("CONTINUATIONS", None)
        else:
            os.environ["CONTINUATIONS"] = saved
    return results
