"""One pace per account and Region: the Connect calls of every invocation take turns on a shared schedule.

Connect's quotas are per account, Region and operation, and CloudFormation starts every resource of a stack
at once, each in its own Lambda container. Alone, an invocation only sees its own answers: after a throttle
it must back off as if the crowd were large (waiting.Pacing), and the quota sits idle while everyone waits.
Here the invocations share one schedule per operation, kept as one item of the ownership table, so that each
call waits for a turn the quota has room for instead of guessing (docs/performance.md, "Shared pace", has
the measurements and the alternatives weighed).

The schedule is GCRA (the "virtual scheduling" form of a token bucket): ``Tat`` is the time (epoch seconds)
from which the next call may go once the burst is spent, and ``Interval`` the seconds between calls. A
call's turn is ``max(now, Tat - (BURST - 1) x Interval)``, and taking it moves ``Tat`` on by ``Interval``:
one UpdateItem, atomic in DynamoDB, whatever the number of invocations asking at once (no read, no retry on
a lost race). The pace is learned, not assumed: it starts open (Interval 0: no waiting at all, so an
account whose quota is raised, or that is not contended, pays one write per call and nothing more), the
first throttle sets it a little below Connect's default quota, each throttle of a pace slows it by
THROTTLE_SLOWDOWN (once per pace seen, however many calls were throttled at it), and while callers queue
without throttles it speeds up by SPEEDUP every SPEEDUP_EVERY_SECONDS, back to the default, and past it
only after PROBE_AFTER_SECONDS without a throttle: a quota taken in part by other tools costs a few
throttles, not a crowd of them, and one raised or freed is found again.

Whatever goes wrong with the shared item (DynamoDB throttled, slow, unreachable, the table missing or not
yet created, access denied) the invocation goes on alone, with its own backoff as before, for
UNAVAILABLE_SECONDS before it asks again: the pace can make the provider faster, never fail it.

The items' keys are phone-number ARNs that no number has (``phone-number/pace-<Operation>``; Connect's
phone number IDs are UUIDs), so the function's IAM condition on the table's leading keys (this account's
and Region's phone-number ARNs) needs no widening; tools/status.py leaves them out.
"""

from __future__ import annotations

import decimal
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .waiting import HeldTurn

# Standard logging, not Powertools: the tools import this module with boto3 alone; in the Lambda,
# telemetry.py hands these loggers Powertools' handler and format.
logger = logging.getLogger(__name__)

# Connect's default for the phone-number operations (Amazon Connect service quotas, "API throttling
# quotas": 2 requests per second, burst 5 for most operations) less HEADROOM: the pace the first throttle
# sets. A pace exactly at the quota keeps its bucket empty, so that any call a little late (network, a busy
# container) makes the next one early and throttled; 5 % below it, the bucket keeps a token in hand
# (make bench: at 2/s exactly, the Describe pace was slowed twice by such throttles in a 20-number stack).
HEADROOM = 0.95
DEFAULT_INTERVAL_SECONDS = 0.5 / HEADROOM
# Calls allowed back to back once a pace is set. Below Connect's 5: other tools may hold part of the burst,
# and a smaller burst costs the provider nothing after the first seconds.
BURST = 2
# A throttle at a pace means the quota admits less than it: the interval grows by this factor, once per
# pace (a conditional write on the Interval the throttled call was scheduled at). A quota taken in part by
# other tools (1.5 of 2 requests/s) is found within two throttles, where halving would leave up to half of
# it idle and small steps cost a throttled crowd each (make bench: 1.15 took four steps from a pace learned
# in a quiet hour, 1.45x the floor in the busy profile).
THROTTLE_SLOWDOWN = 1.2
# While callers wait for turns and nothing was throttled for QUIET_SECONDS, the interval shrinks by SPEEDUP
# at most every SPEEDUP_EVERY_SECONDS (account-wide: the write is conditional on the last speed-up's time):
# a pace slowed too far (throttles that others' calls caused, or jitter) comes back within seconds. Up to
# the default pace only, for PROBE_AFTER_SECONDS after a throttle: the documented quota is the likeliest,
# and probing past it costs a throttle and a step back each time; past it once nothing was throttled for
# that long (a raised quota, or other tools that stopped), and the next throttle steps back.
SPEEDUP = 0.93
SPEEDUP_EVERY_SECONDS = 2.0
QUIET_SECONDS = 10.0
PROBE_AFTER_SECONDS = 300.0
# Bounds of the learned interval: a hundred times the default quota at most, a tenth of it at least.
MIN_INTERVAL_SECONDS = DEFAULT_INTERVAL_SECONDS / 100
MAX_INTERVAL_SECONDS = DEFAULT_INTERVAL_SECONDS * 10
# No queue is longer than CloudFormation waits for a request (ServiceTimeout, at most an hour): a request
# continues past its invocation (continuation.py), so a queue can be longer than Lambda's 15 minutes, but a
# turn further ahead than the hour comes from a writer whose clock was wrong, or a damaged item, and the
# schedule starts afresh rather than hold every call back. (At 900 s, the invocation's length, a queue of
# 1,000 numbers at the default quota restarted the schedule and throttled everyone.)
MAX_TURN_AHEAD_SECONDS = 3600.0
# Two turns of one operation in a row that found the pace open are trusted for this long by the same
# invocation: its next calls of that operation (a move's polls, once a second) go without a write. A pace
# closed meanwhile costs at most one throttled call, which ends the trust. Each write costs latency on the
# way to CloudFormation's answer (make bench, completion lag with no quota: median 0.46 s with a write
# before every poll, 0.23 s without the pace). Two, not one: a stack's first crowd finds the pace open
# and closes it at once, and the few it admitted must not then poll unpaced (make bench, N=20: 1.28x the
# floor, against 1.08x).
OPEN_TRUST_SECONDS = 5.0
OPEN_TURNS_TO_TRUST = 2
# After the shared item failed once, the invocation paces itself alone for this long.
UNAVAILABLE_SECONDS = 30.0

# How many times a turn tries both of its conditional writes before the call goes without waiting.
RESERVE_ROUNDS = 2

KEY_ATTRIBUTE = "PhoneNumberArn"
PACE_ID_PREFIX = "pace-"


def pace_key(partition: str, region: str, account: str, operation: str) -> str:
    """The shared item of ``operation``: a phone-number ARN of this account and Region no number has."""
    return f"arn:{partition}:connect:{region}:{account}:phone-number/{PACE_ID_PREFIX}{operation}"


def is_pace_key(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(PACE_ID_PREFIX)


@dataclass
class PaceStats:
    """What the pace cost and saved this invocation: logged once per invocation (app.py)."""

    writes: int = 0
    turns: int = 0
    waited_seconds: float = 0.0
    failures: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """A call's reserved turn: wait ``wait`` seconds, then call; ``interval`` is the pace it was given at."""

    wait: float
    interval: float
    # When the turn comes (epoch seconds): a turn that does not fit this invocation is handed to the next.
    at: float = field(default=0.0, compare=False)


class SharedPace:
    """The account's and Region's schedule of Connect calls, in the ownership table (one item per operation).

    ``clock`` gives epoch seconds (the schedule is compared across Lambda containers, whose clocks are assumed
    to agree to well under an interval: docs/reliability.md) and ``monotonic`` the invocation's own time for
    UNAVAILABLE_SECONDS. Every wait is the caller's, through its Clock (retries.call).
    """

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        partition: str,
        region: str,
        account: str,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self._client = client
        self._table = table
        self._scope = (partition, region, account)
        self._clock = clock
        self._monotonic = monotonic
        self._unavailable_until: float | None = None
        self._busy: dict[str, bool] = {}  # operation -> whether the last turn found callers queued
        # operation -> (turns in a row that found its pace open, when the last of them did)
        self._open: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._held: dict[str, HeldTurn] = {}
        self.stats = PaceStats()

    def hold(self, turn: HeldTurn) -> None:
        """A turn an earlier invocation of this request reserved and handed over: the next call of its
        operation takes it, instead of reserving another at the back of the queue (which, hop after hop,
        would only lengthen the queue and leave the given turns unused)."""
        self._held[turn.operation] = turn

    def available(self) -> bool:
        return self._unavailable_until is None or self._monotonic() >= self._unavailable_until

    def turn(self, operation: str) -> Turn | None:
        """Reserve the next turn of ``operation``; None if the shared item cannot be used (pace alone)."""
        held = self._held.pop(operation, None)
        if held is not None:
            self.stats.turns += 1
            return Turn(max(0.0, held.at - self._clock()), held.interval, held.at)
        if not self.available():
            return None
        open_turns, open_at = self._open.get(operation, (0, 0.0))
        if open_turns >= OPEN_TURNS_TO_TRUST and self._monotonic() - open_at < OPEN_TRUST_SECONDS:
            self.stats.turns += 1
            return Turn(0.0, 0.0)
        try:
            turn = self._reserve(operation)
        except (ClientError, BotoCoreError) as error:
            self._give_up(operation, error)
            return None
        if turn.interval == 0 and turn.wait == 0:
            self._open[operation] = (open_turns + 1, self._monotonic())
        else:
            self._open.pop(operation, None)
        self.stats.turns += 1
        self.stats.waited_seconds += turn.wait
        return turn

    def throttled(self, operation: str, turn: Turn | None) -> None:
        """A call made at ``turn`` was throttled: the quota admits less than the pace (THROTTLE_SLOWDOWN)."""
        self._open.pop(operation, None)
        if turn is None or not self.available():
            return
        now = self._clock()
        # An open pace (Interval 0) closes at Connect's default quota; a pace set already slows down.
        slower = (
            min(MAX_INTERVAL_SECONDS, turn.interval * THROTTLE_SLOWDOWN)
            if turn.interval > 0
            else DEFAULT_INTERVAL_SECONDS
        )
        # The quota's bucket was empty now. The turns already given (up to Tat) stand, whatever their
        # pace: new turns come after them, a burst of the new pace later, for the bucket to refill. Moving
        # Tat back to now instead would book new turns over the ones given, twice the rate, and throttle
        # the new pace too (make bench: a 1.9/s pace cascaded down to 0.66/s in a 1.5/s quota).
        names = {"#interval": "Interval", "#throttled": "ThrottledAt", "#tat": "Tat"}
        values = {":slower": slower, ":now": now, ":seen": turn.interval, ":penalty": BURST * slower}
        # Once per pace: the other calls throttled at the same pace find it changed already.
        same_pace = "(attribute_not_exists(#interval) OR #interval = :seen)"
        try:
            try:
                self._update(
                    operation,
                    "SET #interval = :slower, #throttled = :now, #tat = #tat + :penalty",
                    values,
                    f"{same_pace} AND #tat > :now",
                    names=names,
                )
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                # Nobody queued (or the pace changed: then this fails too, and that is the answer).
                self._update(
                    operation,
                    "SET #interval = :slower, #throttled = :now, #tat = :now + :penalty",
                    values,
                    f"{same_pace} AND (attribute_not_exists(#tat) OR #tat <= :now)",
                    names=names,
                )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                self._give_up(operation, error)
        except BotoCoreError as error:
            self._give_up(operation, error)

    def _reserve(self, operation: str) -> Turn:
        now = self._clock()
        names = {"#tat": "Tat", "#interval": "Interval"}
        # Two writes would be needed to express max(now, Tat) + Interval; each is conditional, and the one
        # that usually holds is tried first (the last turn's), so a turn is one write in a steady state.
        attempts = ("queued", "idle") if self._busy.get(operation) else ("idle", "queued")
        # Both conditions can fail only if Tat moved past now between the two writes: then the queue is
        # the answer, which the next round asks first. A bounded number of rounds, then no wait at all.
        for attempt in attempts * RESERVE_ROUNDS:
            try:
                if attempt == "queued":
                    # Callers are queued: the turn after the last one taken.
                    old = self._update(
                        operation,
                        "SET #tat = #tat + #interval",
                        {":now": now},
                        "#tat > :now",
                        names=names,
                        returns="ALL_OLD",
                    )
                    interval = _number(old.get("Interval"))
                    at = max(now, _number(old.get("Tat")) - (BURST - 1) * interval)
                    if at - now > MAX_TURN_AHEAD_SECONDS:
                        self._start_afresh(operation, old, now)
                        return Turn(0.0, interval)
                    self._busy[operation] = True
                    turn = Turn(max(0.0, at - now), interval, at)
                    if turn.wait > 0:
                        self._maybe_speed_up(operation, old, now)
                    return turn
                # Nobody queued (or no item yet): this call goes now, the next one after Interval.
                old = self._update(
                    operation,
                    "SET #tat = :now + if_not_exists(#interval, :open), "
                    "#interval = if_not_exists(#interval, :open)",
                    {":now": now, ":open": 0},
                    "attribute_not_exists(#tat) OR #tat <= :now",
                    names=names,
                    returns="ALL_OLD",
                )
                self._busy[operation] = False
                return Turn(0.0, _number(old.get("Interval")), now)
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
        return Turn(0.0, 0.0)

    def _start_afresh(self, operation: str, item: dict[str, Any], now: float) -> None:
        logger.warning("Shared pace too far ahead: starting it afresh", extra={"operation": operation})
        try:
            self._update(
                operation,
                "SET #tat = :now",
                # Exactly what DynamoDB stored (its decimal sum), not a float's rounding of it.
                {":now": now, ":seen": _exact_sum(item.get("Tat"), item.get("Interval"))},
                "#tat = :seen",
                names={"#tat": "Tat"},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise

    def _maybe_speed_up(self, operation: str, item: dict[str, Any], now: float) -> None:
        """Callers wait and nothing was throttled for a while: try a quicker pace (see SPEEDUP)."""
        interval = _number(item.get("Interval"))
        if interval <= MIN_INTERVAL_SECONDS:
            return
        if now - _number(item.get("ThrottledAt")) < QUIET_SECONDS:
            return
        if now - _number(item.get("SpedUpAt")) < SPEEDUP_EVERY_SECONDS:
            return
        quicker = max(MIN_INTERVAL_SECONDS, interval * SPEEDUP)
        if now - _number(item.get("ThrottledAt")) < PROBE_AFTER_SECONDS:
            quicker = max(quicker, DEFAULT_INTERVAL_SECONDS)
        if quicker >= interval:
            return
        try:
            self._update(
                operation,
                "SET #interval = :quicker, #sped = :now",
                {":quicker": quicker, ":now": now, ":seen": interval},
                "#interval = :seen AND (attribute_not_exists(#sped) OR #sped <= :since)",
                names={"#interval": "Interval", "#sped": "SpedUpAt"},
                extra_values={":since": now - SPEEDUP_EVERY_SECONDS},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise

    def _update(
        self,
        operation: str,
        expression: str,
        values: dict[str, float | str],
        condition: str,
        *,
        names: dict[str, str],
        returns: str = "NONE",
        extra_values: dict[str, float | str] | None = None,
    ) -> dict[str, Any]:
        values = {**values, **(extra_values or {})}
        used = {name for name in values if name in expression or name in condition}
        with self._lock:
            self.stats.writes += 1
            self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1
        response = self._client.update_item(
            TableName=self._table,
            Key={KEY_ATTRIBUTE: {"S": pace_key(*self._scope, operation)}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={k: v for k, v in names.items() if k in expression or k in condition},
            ExpressionAttributeValues={k: {"N": _decimal(v)} for k, v in values.items() if k in used},
            ReturnValues=returns,
        )
        return response.get("Attributes", {})

    def _give_up(self, operation: str, error: Exception) -> None:
        self.stats.failures += 1
        self._unavailable_until = self._monotonic() + UNAVAILABLE_SECONDS
        code = _code(error) if isinstance(error, ClientError) else type(error).__name__
        if code == "ResourceNotFoundException":
            # The first request in an account and Region: the table is created when the first owner is
            # recorded. Said plainly, without the Connect operation or the error code beside it, which would
            # read as a number that does not exist.
            logger.info(
                f"Shared pace not in use yet: the ownership table {self._table} does not exist until the "
                "provider records its first owner in this account and Region; pacing alone meanwhile",
                extra={"table": self._table, "retry_in": UNAVAILABLE_SECONDS},
            )
            return
        logger.info(
            "Shared pace unavailable: pacing alone",
            extra={"operation": operation, "error_code": code, "retry_in": UNAVAILABLE_SECONDS},
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _number(attribute: Any) -> float:
    if isinstance(attribute, dict) and "N" in attribute:
        try:
            return float(attribute["N"])
        except ValueError:
            return 0.0
    return 0.0


def _exact_sum(*attributes: Any) -> str:
    total = decimal.Decimal(0)
    for attribute in attributes:
        if isinstance(attribute, dict) and "N" in attribute:
            total += decimal.Decimal(attribute["N"])
    return str(total)


def _decimal(value: float | str) -> str:
    # DynamoDB numbers: 38 digits of precision, no exponent needed for epoch seconds to the microsecond.
    return value if isinstance(value, str) else f"{value:.6f}"
