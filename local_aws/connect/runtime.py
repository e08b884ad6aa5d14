"""Process-wide emulator knobs and logs: timing, rate limits, injected faults, the call and move logs.

These describe the emulated *service*, not an account's data, so they live outside moto's backends
and survive a moto reset; ``EmulatorRuntime.reset`` (``control.reset()``) clears them instead.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from local_aws.clock import REAL_CLOCK

from .exceptions import ConnectError, ThrottlingException, status_code_for

DEFAULT_MOVE_SECONDS = 1.5
DEFAULT_STALE_SECONDS = 0.3
# How long Describe keeps showing a FAILED left by an earlier operation once a new UpdatePhoneNumber is
# accepted, however short the new move is (0: only the ordinary stale window). Whether the status written by
# a failed operation is replaced at once is not documented; the provider must not take it for the new move's
# outcome (docs/reliability.md, "Assumptions about the real service").
DEFAULT_FAILED_STALE_SECONDS = 0.0
# Connect's model lists ThrottlingException for every phone-number operation, and has TooManyRequestsException
# too (also 429, "Displayed when rate-related API limits are exceeded"), which real Connect is reported to
# send for throttling as well. Which one a throttled phone-number call gets is not documented, so a rate limit
# can answer with either (configure(throttling_error=...)); the provider must treat both as throttling.
THROTTLING_ERROR_CODES = ("ThrottlingException", "TooManyRequestsException")
DEFAULT_TAG_VISIBILITY_SECONDS = 0.0
# Connect's default API throttling quota, per operation, account and Region: "a RateLimit of 2 per second,
# and a BurstLimit of 5 per second" for every operation without an exception of its own (Amazon Connect
# Administrator Guide, "Amazon Connect service quotas" > "API throttling quotas",
# https://docs.aws.amazon.com/connect/latest/adminguide/amazon-connect-service-limits.html, and the
# Connect API reference's introduction). None of the phone-number, tagging, flow-association or traffic
# distribution group operations has an exception, and each operation has a bucket of its own ("the throttling
# limits are defined for each API separately", API reference, "Best practices for using Amazon Connect APIs").
DEFAULT_QUOTA_PER_SECOND = 2.0
DEFAULT_QUOTA_BURST = 5
DEFAULT_QUOTAS: dict[str, tuple[float, int]] = {
    operation: (DEFAULT_QUOTA_PER_SECOND, DEFAULT_QUOTA_BURST)
    for operation in (
        "ClaimPhoneNumber",
        "ReleasePhoneNumber",
        "UpdatePhoneNumber",
        "UpdatePhoneNumberMetadata",
        "DescribePhoneNumber",
        "ListPhoneNumbers",
        "ListPhoneNumbersV2",
        "SearchAvailablePhoneNumbers",
        "AssociatePhoneNumberContactFlow",
        "DisassociatePhoneNumberContactFlow",
        "ListFlowAssociations",
        "BatchGetFlowAssociation",
        "DescribeContactFlow",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "CreateTrafficDistributionGroup",
        "DescribeTrafficDistributionGroup",
        "DeleteTrafficDistributionGroup",
    )
}

# One lock for all emulator state (runtime and every account/region's data). Each request holds it
# for well under a millisecond, which keeps 50+ concurrent callers consistent without lock ordering.
EMULATOR_LOCK = threading.RLock()


class TokenBucket:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.refilled_at = runtime.clock.monotonic()

    def try_take(self) -> bool:
        now = runtime.clock.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.refilled_at) * self.per_second)
        self.refilled_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class InjectedFault:
    code: str
    message: str
    remaining: int


@dataclass
class MoveRecord:
    phone_number_id: str
    phone_number_arn: str
    from_target: str | None
    to_target: str
    started_at: float
    completes_at: float
    outcome: str


class EmulatorRuntime:
    def __init__(self) -> None:
        # The service's time: moves, stale windows, tag visibility, quotas and latency all read it. Not
        # reset with the rest: the clock belongs to whoever runs the process (use_clock), not to a test's
        # data, and a reset in the middle of a run must not move time back under a waiting provider.
        self.clock: Any = REAL_CLOCK
        self.reset()

    def now(self) -> float:
        """The service's wall-clock time (a move's timestamps, a tag write's visibility)."""
        return self.clock.time()

    def use_clock(self, clock: Any | None) -> None:
        """Read time from ``clock`` (monotonic(), time(), sleep()) from now on; None: the real clock."""
        with EMULATOR_LOCK:
            self.clock = clock or REAL_CLOCK

    def reset(self) -> None:
        with EMULATOR_LOCK:
            self.move_seconds = DEFAULT_MOVE_SECONDS
            self.stale_seconds = DEFAULT_STALE_SECONDS
            self.failed_stale_seconds = DEFAULT_FAILED_STALE_SECONDS
            self.throttling_error = THROTTLING_ERROR_CODES[0]
            self.tag_visibility_seconds = DEFAULT_TAG_VISIBILITY_SECONDS
            self.latency_seconds = 0.0
            self.rate_limits: dict[str, TokenBucket] = {}
            self.faults: dict[str, deque[InjectedFault]] = {}
            self.move_failures: deque[list[Any]] = deque()  # [message, remaining]
            self.call_log: list[dict[str, Any]] = []
            # DynamoDB (local_aws.connect.dynamodb): faults by operation. Calls of the other services the
            # provider uses (DynamoDB, CloudFormation), counted by "service:Operation".
            self.dynamodb_faults: dict[str, deque[Any]] = {}
            # Transient faults of any service (local_aws.connect.faults), by (service, operation).
            self.transient_faults: dict[tuple[str, str], deque[Any]] = {}
            self.faults_met: list[dict[str, Any]] = []
            self.service_calls: dict[str, int] = {}
            self.move_log: list[MoveRecord] = []
            self.settled_observers: list[Callable[[str], None]] = []

    def configure(
        self,
        *,
        move_seconds: float | None = None,
        stale_seconds: float | None = None,
        tag_visibility_seconds: float | None = None,
        latency_seconds: float | None = None,
        failed_stale_seconds: float | None = None,
        throttling_error: str | None = None,
    ) -> None:
        if throttling_error is not None and throttling_error not in THROTTLING_ERROR_CODES:
            raise ValueError(f"throttling_error must be one of {', '.join(THROTTLING_ERROR_CODES)}")
        knobs = {
            "move_seconds": move_seconds,
            "stale_seconds": stale_seconds,
            "failed_stale_seconds": failed_stale_seconds,
            "tag_visibility_seconds": tag_visibility_seconds,
            "latency_seconds": latency_seconds,
        }
        for name, value in knobs.items():
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        with EMULATOR_LOCK:
            for name, value in knobs.items():
                if value is not None:
                    setattr(self, name, float(value))
            if throttling_error is not None:
                self.throttling_error = throttling_error

    def set_rate_limit(self, operation: str, per_second: float | None, burst: int | None = None) -> None:
        with EMULATOR_LOCK:
            if per_second is None:
                self.rate_limits.pop(operation, None)
                return
            if per_second <= 0:
                raise ValueError("per_second must be positive (None disables the limit)")
            if burst is None:
                burst = max(1, int(per_second))
            if burst < 1:
                raise ValueError("burst must be at least 1")
            self.rate_limits[operation] = TokenBucket(float(per_second), int(burst))

    def use_default_quotas(self) -> None:
        for operation, (per_second, burst) in DEFAULT_QUOTAS.items():
            self.set_rate_limit(operation, per_second, burst)

    def rate_limits_in_force(self) -> dict[str, tuple[float, int]]:
        with EMULATOR_LOCK:
            return {op: (bucket.per_second, int(bucket.capacity)) for op, bucket in self.rate_limits.items()}

    def inject_error(self, operation: str, code: str, *, count: int = 1, message: str | None = None) -> None:
        status_code_for(code)  # fail now, at the caller, for codes Connect doesn't have
        if count < 1:
            raise ValueError("count must be at least 1")
        with EMULATOR_LOCK:
            self.faults.setdefault(operation, deque()).append(
                InjectedFault(code, message or f"Injected {code} for {operation}", count)
            )

    def fail_next_move(self, message: str, *, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        with EMULATOR_LOCK:
            self.move_failures.append([message, count])

    def admit(self, operation: str) -> ConnectError | None:
        """The error this call must fail with before it touches any state, or None to let it run."""
        with EMULATOR_LOCK:
            bucket = self.rate_limits.get(operation)
            if bucket is not None and not bucket.try_take():
                return ThrottlingException(code=self.throttling_error)
            queue = self.faults.get(operation)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.popleft()
                return ConnectError(fault.code, fault.message)
            return None

    def take_move_failure(self) -> str | None:
        with EMULATOR_LOCK:
            if not self.move_failures:
                return None
            entry = self.move_failures[0]
            entry[1] -= 1
            if entry[1] == 0:
                self.move_failures.popleft()
            return entry[0]

    def record_call(
        self, operation: str, started: float, params: dict[str, Any], status: int, error: str | None
    ) -> None:
        with EMULATOR_LOCK:
            self.call_log.append(
                {"operation": operation, "time": started, "params": params, "status": status, "error": error}
            )

    def record_move(self, move: MoveRecord) -> None:
        with EMULATOR_LOCK:
            self.move_log.append(move)

    def calls(self) -> list[dict[str, Any]]:
        with EMULATOR_LOCK:
            return copy.deepcopy(self.call_log)

    def count_call(self, service: str, operation: str) -> None:
        with EMULATOR_LOCK:
            key = f"{service}:{operation}"
            self.service_calls[key] = self.service_calls.get(key, 0) + 1

    def move_settled(self, phone_number_arn: str) -> None:
        """A claim or move has just completed (at the first read that shows it); callers hold the lock."""
        for observer in list(self.settled_observers):
            observer(phone_number_arn)

    def moves(self) -> list[dict[str, Any]]:
        with EMULATOR_LOCK:
            return [asdict(move) for move in self.move_log]


runtime = EmulatorRuntime()
