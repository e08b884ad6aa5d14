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

from . import stats
from .harness import LocalAws, arrivals_by_number, assign_concurrently, progress, provider_stdout, seed_world

LAG_TARGET_SECONDS = 1.0
DESCRIBES_PER_SECOND_TARGET = 1.0
MAKESPAN_TARGET_RATIO = 1.25
THROUGHPUT_MOVE_SECONDS = 2.0


@dataclass
class LagResult:
    summary: stats.LagSummary
    failures: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return not self.failures and self.summary.meets(LAG_TARGET_SECONDS, DESCRIBES_PER_SECOND_TARGET)


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

    @property
    def ideal(self) -> float:
        return self.bound.seconds

    @property
    def ratio(self) -> float:
        return self.makespan / self.ideal

    @property
    def met(self) -> bool:
        return self.succeeded == self.resources and self.ratio <= MAKESPAN_TARGET_RATIO

    def per_assignment(self, operation: str) -> float:
        return self.calls[operation].admitted / self.resources if self.resources else float("nan")

    def utilisation(self, operation: str) -> float:
        """Share of what the operation's quota could admit during the run that it did admit."""
        per_second, burst = self.quotas[operation]
        return stats.quota_utilisation(
            self.calls[operation].admitted, self.makespan, per_second=per_second, burst=burst
        )


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


def under_quota(aws: LocalAws, handler: Any, resources: int) -> ThroughputResult:
    control = aws.control

    def arrange() -> None:
        control.reset()
        control.configure(move_seconds=THROUGHPUT_MOVE_SECONDS)
        control.use_default_quotas()

    world = seed_world(control, resources)
    fd, log_path = tempfile.mkstemp(prefix="bench-quota-", suffix=".log")
    os.close(fd)
    try:
        with provider_stdout(log_path):
            started, results = assign_concurrently(
                aws, handler, world, stack_name=f"bench-quota-{resources}", arrange=arrange
            )
        retry_logs, retry_pause = _provider_retries(log_path)
    finally:
        os.unlink(log_path)
    arrivals = sorted(a.arrived_at - started for a in results if a.arrived_at is not None)
    failures = [f"{a.logical_id}: {a.status} {a.reason}" for a in results if a.status != "SUCCESS"]
    calls = stats.count_calls_by_operation(control.calls())
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
    )


def run_lags(aws: LocalAws, handler: Any, durations: Sequence[float], moves: int) -> list[LagResult]:
    listed = ", ".join(f"{d:g}" for d in durations)
    progress(f"completion lag: {moves} concurrent moves each of {listed} s")
    started = time.monotonic()
    results = completion_lags(aws, handler, durations, moves)
    progress(f"  done in {time.monotonic() - started:.1f} s")
    return results


def run_throughput(aws: LocalAws, handler: Any, sizes: Sequence[int]) -> list[ThroughputResult]:
    results = []
    for resources in sizes:
        progress(f"throughput: {resources} assignments under the default quotas")
        result = under_quota(aws, handler, resources)
        binding = result.bound.operation
        progress(
            f"  makespan {result.makespan:.1f} s = {result.ratio:.2f}x ideal {result.ideal:.1f} s "
            f"(bound by {binding}), {result.succeeded}/{resources} ok"
        )
        results.append(result)
    return results
