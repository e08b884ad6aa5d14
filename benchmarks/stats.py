"""The benchmark's arithmetic, kept free of I/O so tests can feed it synthetic moves, calls and samples.

Times in ``moves()``, ``calls()`` and the receiver's ``Attempt.received_at`` are all wall-clock
``time.time()`` values from the same process, so they can be subtracted from each other directly.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DESCRIBE = "DescribePhoneNumber"
UPDATE = "UpdatePhoneNumber"
THROTTLED = "ThrottlingException"


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class MoveLag:
    """One move as the emulator ran it and as CloudFormation heard of it."""

    phone_number_arn: str
    move_seconds: float
    lag_seconds: float  # response arrival minus the moment the emulator marked the move CLAIMED
    describes_in_window: int  # DescribePhoneNumber calls on the number while the move was running
    describes_total: int  # ... from the move's start until the response arrived
    # ... by the whole request, until its response arrived (the number is fresh in each run: every Describe of
    # it before then is this request's, the read before the move included)
    describes_in_request: int = 0

    @property
    def describes_per_second(self) -> float:
        return self.describes_in_window / self.move_seconds if self.move_seconds > 0 else float("nan")


def _number_of(call: Mapping[str, Any]) -> str:
    return str((call.get("params") or {}).get("PhoneNumberId", ""))


def _same_number(reference: str, arn: str, number_id: str) -> bool:
    return reference in (arn, number_id)


def move_lags(
    moves: Sequence[Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
    arrivals: Mapping[str, float],
) -> list[MoveLag]:
    """Pair each move with the response for its number (``arrivals``: phone-number ARN -> arrival time).

    Moves whose number got no response are left out; the caller reports those as failures.
    """
    describes = [c for c in calls if c.get("operation") == DESCRIBE]
    lags = []
    for move in moves:
        arn, number_id = move["phone_number_arn"], move["phone_number_id"]
        if arn not in arrivals:
            continue
        started, completed, arrived = move["started_at"], move["completes_at"], arrivals[arn]
        mine = [c for c in describes if _same_number(_number_of(c), arn, number_id)]
        lags.append(
            MoveLag(
                phone_number_arn=arn,
                move_seconds=completed - started,
                lag_seconds=arrived - completed,
                describes_in_window=sum(1 for c in mine if started <= c["time"] <= completed),
                describes_total=sum(1 for c in mine if started <= c["time"] <= arrived),
                describes_in_request=sum(1 for c in mine if c["time"] <= arrived),
            )
        )
    return lags


@dataclass(frozen=True)
class LagSummary:
    move_seconds: float
    moves: int
    median_lag: float
    max_lag: float
    describes_per_move: float  # median over moves, inside the move window
    describes_per_second: float  # max over moves: the worst polling rate seen
    describes_per_assignment: float = float("nan")  # median over requests, from the first read to the answer
    describes_per_assignment_max: float = float("nan")

    def meets(self, max_median_lag: float, max_describes_per_second: float) -> bool:
        return self.median_lag <= max_median_lag and self.describes_per_second <= max_describes_per_second


def summarise_lags(move_seconds: float, lags: Sequence[MoveLag]) -> LagSummary:
    return LagSummary(
        move_seconds=move_seconds,
        moves=len(lags),
        median_lag=median(m.lag_seconds for m in lags),
        max_lag=max((m.lag_seconds for m in lags), default=float("nan")),
        describes_per_move=median(m.describes_in_window for m in lags),
        describes_per_second=max((m.describes_per_second for m in lags), default=float("nan")),
        describes_per_assignment=median(m.describes_in_request for m in lags),
        describes_per_assignment_max=max((m.describes_in_request for m in lags), default=float("nan")),
    )


@dataclass(frozen=True)
class CallCounts:
    """What reached the emulator during a run, for one operation."""

    ok: int
    throttled: int
    other_errors: int

    @property
    def total(self) -> int:
        return self.ok + self.throttled + self.other_errors

    @property
    def admitted(self) -> int:
        """Calls the quota let through (each took a token), whatever the service answered next."""
        return self.ok + self.other_errors


def count_calls(calls: Iterable[Mapping[str, Any]], operation: str) -> CallCounts:
    return count_calls_by_operation(calls).get(operation, CallCounts(0, 0, 0))


def count_calls_by_operation(calls: Iterable[Mapping[str, Any]]) -> dict[str, CallCounts]:
    tallies: dict[str, list[int]] = {}
    for call in calls:
        tally = tallies.setdefault(str(call.get("operation")), [0, 0, 0])
        if call.get("status") == 200:
            tally[0] += 1
        elif call.get("error") == THROTTLED:
            tally[1] += 1
        else:
            tally[2] += 1
    return {operation: CallCounts(*tally) for operation, tally in sorted(tallies.items())}


@dataclass(frozen=True)
class QuotaBound:
    """The least time a run's calls need under per-operation token buckets, and the operation that sets it."""

    seconds: float
    operation: str | None
    per_operation: Mapping[str, float]


def bucket_seconds(calls: int, *, per_second: float, burst: int) -> float:
    """Seconds a bucket that starts full (``burst`` calls) and refills ``per_second`` needs for ``calls``."""
    return max(0, calls - burst) / per_second


def quota_bound(
    admitted_calls: Mapping[str, int],
    quotas: Mapping[str, Sequence[float]],
    *,
    move_seconds: float = 0.0,
) -> QuotaBound:
    """A lower bound on the makespan of a run that made ``admitted_calls`` (operation -> calls) under
    ``quotas`` (operation -> (per_second, burst)); operations without a quota cost nothing.

    Each operation's bucket alone needs ``bucket_seconds``; the slowest one binds. UpdatePhoneNumber also
    starts a move that must finish before its assignment can be answered, so its bound is the time to admit
    the last Update plus ``move_seconds``.
    """
    per_operation = {}
    for operation, calls in admitted_calls.items():
        if operation not in quotas:
            continue
        per_second, burst = quotas[operation]
        seconds = bucket_seconds(calls, per_second=per_second, burst=int(burst))
        if operation == UPDATE and calls:
            seconds += move_seconds
        per_operation[operation] = seconds
    if not per_operation:
        return QuotaBound(move_seconds, None, per_operation)
    operation = max(per_operation, key=lambda op: (per_operation[op], op))
    return QuotaBound(max(per_operation[operation], move_seconds), operation, per_operation)


def quota_utilisation(ok_calls: int, seconds: float, *, per_second: float, burst: int) -> float:
    """Share of what the quota could have admitted in ``seconds`` that was actually admitted."""
    capacity = burst + per_second * seconds
    return ok_calls / capacity if capacity > 0 else float("nan")


def cold_start_ratio(handler_samples: Sequence[float], floor_samples: Sequence[float]) -> float:
    return median(handler_samples) / median(floor_samples)


def largest(sizes: Mapping[str, int], count: int) -> list[tuple[str, int]]:
    """The ``count`` biggest entries, biggest first; everything else summed as ``(others)``."""
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    head, tail = ranked[:count], ranked[count:]
    if tail:
        head.append((f"({len(tail)} others)", sum(size for _, size in tail)))
    return head


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"
