"""Lambda entry point of the Custom::PhoneNumberAssignment provider.

Thin on purpose: it turns the CloudFormation event into a lifecycle Request, gives the lifecycle a Connect
client and a time budget, and lets crhelper (through responder.CloudFormationResponder) answer
CloudFormation exactly once.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import os
import urllib.parse
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from botocore.utils import ArnParser, InvalidArnException

from . import continuation, lifecycle
from .clients import (
    CALL_WORST_CASE_SECONDS,
    cloudformation_client,
    connect_client,
    dynamodb_client,
    lambda_client,
    pace_client,
)
from .connect import PhoneNumbers
from .errors import TooLittleTime
from .pace import SharedPace
from .properties import Scope
from .records import OWNERSHIP_TABLE, OwnershipRecords, request_key
from .responder import CloudFormationResponder
from .stack_reads import CloudFormationReads
from .telemetry import logger, metrics
from .waiting import SYSTEM_CLOCK, Budget, Clock, OutOfInvocation

# The provider starts its answer at least this long before Lambda or CloudFormation would give up on it (the
# watchdog, responder.WATCHDOG_LEAD_SECONDS, fires later than that). Before it, a reserve for one Connect call
# that started just before the budget ran out (clients.CALL_WORST_CASE_SECONDS), so no call can delay it.
RESPONSE_SEND_SECONDS = 3.0
RESPONSE_RESERVE_SECONDS = CALL_WORST_CASE_SECONDS + RESPONSE_SEND_SECONDS

# crhelper logs the whole event, ResponseURL included, at DEBUG: whatever LogLevel the stack chooses, its
# loggers stay at INFO.
logging.getLogger("crhelper").setLevel(logging.INFO)


def _scope(context: Any) -> Scope:
    """The partition, Region and account the function runs in, from its own ARN."""
    try:
        arn = ArnParser().parse_arn(context.invoked_function_arn)
        return Scope(arn["partition"], arn["region"], arn["account"])
    except (AttributeError, TypeError, InvalidArnException):
        # Lambda always passes its ARN; this serves hand-made contexts only.
        region = os.environ.get("AWS_REGION", "us-east-1")
        partition = boto3.session.Session().get_partition_for_region(region)
        return Scope(partition, region, os.environ.get("AWS_ACCOUNT_ID", "000000000000"))


# CloudFormation waits this long for a custom resource that sets no ServiceTimeout (User Guide, "Custom
# resources": "the default value is 3600 seconds (1 hour)").
DEFAULT_SERVICE_TIMEOUT_SECONDS = 3600.0


def budget_seconds(
    context: Any,
    service_timeout: float | None = None,
    *,
    requested_at: float | None = None,
    now: float | None = None,
) -> float:
    """How long the provider may work: until Lambda or CloudFormation would give up, less the reserve.

    CloudFormation fails the resource ServiceTimeout seconds (an hour if unset) after it sent the request,
    however long the event waited in Lambda's queue: counted from ``requested_at`` (the ResponseURL's signing
    time) when given, else from the start of the invocation.
    """
    remaining = context.get_remaining_time_in_millis() / 1000
    timeout = service_timeout if service_timeout is not None else DEFAULT_SERVICE_TIMEOUT_SECONDS
    if requested_at is not None and now is not None:
        remaining = min(remaining, requested_at + timeout - now)
    elif service_timeout is not None:
        remaining = min(remaining, service_timeout)
    return max(0.0, remaining - RESPONSE_RESERVE_SECONDS)


def service_timeout(properties: Any) -> float | None:
    """The resource's ServiceTimeout (CloudFormation passes it among the properties, as a string), if set."""
    value = properties.get("ServiceTimeout") if isinstance(properties, dict) else None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _request(event: dict[str, Any], context: Any, clock: Clock = SYSTEM_CLOCK) -> lifecycle.Request:
    cfn_event = CloudFormationCustomResourceEvent(event)
    signed_at = requested_at(event.get("ResponseURL"))
    return lifecycle.Request(
        request_type=cfn_event.request_type,
        stack_id=cfn_event.stack_id,
        logical_id=cfn_event.logical_resource_id,
        request_id=cfn_event.request_id,
        scope=_scope(context),
        properties=event.get("ResourceProperties") or {},
        physical_id=event.get("PhysicalResourceId") or "",
        old_properties=event.get("OldResourceProperties") or {},
        # A Delete whose sending time cannot be read is taken as sent now: the newest it could be, so that it
        # fences out every Create it may cancel. A Create or Update without one is refused in _run.
        requested_at=signed_at if signed_at is not None else clock.time(),
        signed=signed_at is not None,
    )


def requested_at(response_url: Any) -> float | None:
    """When CloudFormation made the request: the signing time of its presigned ResponseURL (SigV4's
    X-Amz-Date), which a Lambda retry of the same event keeps; None if it has none. The URL itself is
    never logged."""
    if isinstance(response_url, str):
        signed = urllib.parse.parse_qs(urllib.parse.urlsplit(response_url).query).get("X-Amz-Date")
        if signed:
            try:
                when = datetime.datetime.strptime(signed[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
            except ValueError:
                pass
            else:
                return when.timestamp()
    return None


# CONTINUATIONS=Off in the function's environment: a request ends with its invocation, as before
# continuation.py (its work that does not fit answers FAILED).
CONTINUATIONS_ENV = "CONTINUATIONS"


class _Invocation:
    """What one invocation knows about its request's continuations (continuation.py)."""

    def __init__(self, continuations: continuation.Continuations | None, *, handed_over: bool) -> None:
        self.continuations = continuations
        # The request has been (or is being) handed over: its answer is claimed first, to stay one.
        self.handed_over = handed_over


def _continuations(event: Any, context: Any, clock: Clock) -> continuation.Continuations | None:
    if os.environ.get(CONTINUATIONS_ENV, "On") == "Off" or not isinstance(event, dict):
        return None
    ids = [event.get(key) for key in ("StackId", "LogicalResourceId", "RequestId")]
    if not all(isinstance(value, str) and value for value in ids):
        return None  # malformed: the responder answers it
    scope = _scope(context)
    return continuation.Continuations(
        lambda: lambda_client(scope.region),
        dynamodb_client(scope.region),
        OWNERSHIP_TABLE,
        key=request_key(scope.partition, scope.region, scope.account, *ids),
        wall_clock=clock.time,
    )


def _run(
    operation: Any, clock: Clock, invocation: _Invocation, event: dict[str, Any], context: Any
) -> lifecycle.Outcome:
    request = _request(event, context, clock)
    timeout = service_timeout(request.properties)
    if not request.signed and request.request_type != "Delete":
        # Without it the provider cannot tell whether CloudFormation still waits for this request, or has
        # long since sent a newer one: it is treated as old, and changes nothing.
        raise TooLittleTime(
            "The event's ResponseURL carries no signing time (X-Amz-Date), so the provider cannot tell when "
            "CloudFormation sent this request, nor whether it still waits for it; nothing was changed. "
            "CloudFormation's own requests always carry one: send the event as CloudFormation does."
        )
    seconds = budget_seconds(context, timeout, requested_at=request.requested_at, now=clock.time())
    if seconds <= 0 and request.request_type != "Delete":
        # A Delete still runs: most take one call, and refusing it would leave the stack stuck.
        raise TooLittleTime(
            f"Not enough time to assign a phone number; nothing was changed: the provider needs more than "
            f"{RESPONSE_RESERVE_SECONDS:.0f} s ({_time_limits(context, timeout, request, clock)}). Raise "
            "the resource's ServiceTimeout (or the provider function's Timeout) and retry."
        )
    region = request.scope.region
    # How long CloudFormation still waits (less the same reserve): where a request handed over to later
    # invocations must end. Unknown for an unsigned Delete, which never continues.
    until_deadline = (
        (request.requested_at + (timeout or DEFAULT_SERVICE_TIMEOUT_SECONDS) - clock.time())
        - RESPONSE_RESERVE_SECONDS
        if request.signed
        else None
    )
    budget = Budget(
        seconds,
        clock=clock.monotonic,
        request_seconds=until_deadline,
        service_timeout=timeout or DEFAULT_SERVICE_TIMEOUT_SECONDS,
        continuable=invocation.continuations is not None,
    )
    timing = {"sleep": clock.sleep, "clock": clock.monotonic}
    pace = shared_pace(request.scope, clock)
    held = continuation.held_turn(event)
    if pace is not None and held is not None:
        pace.hold(held)
    numbers = PhoneNumbers(connect_client(region), budget, pace=pace, **timing)
    # A move an earlier invocation of this request started: one this request must put right if overtaken.
    numbers.moves_started |= continuation.moves_started(event)
    numbers.wall_clock = clock.time
    numbers.lag_since = continuation.lag_since(event)
    services = lifecycle.Services(
        numbers=numbers,
        records=OwnershipRecords(
            dynamodb_client(region),
            budget,
            wall_clock=clock.time,
            create_table=os.environ.get("OWNERSHIP_TABLE", "Provider") != "External",
            **timing,
        ),
        cloudformation=lambda: CloudFormationReads(cloudformation_client(region), budget, **timing),
    )
    try:
        return operation(request, services)
    except OutOfInvocation as out:
        if invocation.continuations is None:
            raise  # budgets only hand over when continuations exist; never reached
        invocation.handed_over = True
        logger.info("Out of invocation time, not of CloudFormation's", extra={"waiting_for": out.why})
        metrics.add_metric(name="Continuations", unit=MetricUnit.Count, value=1)
        # ContinuationFailed (a ProviderError) if Lambda does not take it: then this invocation answers.
        handed = continuation.next_event(event, out, numbers.moves_started, lag_from=numbers.lag_since)
        invocation.continuations.hand_over(context.invoked_function_arn, handed)
        raise
    finally:
        if pace is not None:
            _log_pace(pace)


# SHARED_PACE=Off in the function's environment: every invocation paces itself alone (as before the pace).
SHARED_PACE_ENV = "SHARED_PACE"


def shared_pace(scope: Scope, clock: Clock) -> SharedPace | None:
    """The account's and Region's pace of Connect calls (pace.py), in the ownership table."""
    if os.environ.get(SHARED_PACE_ENV, "On") == "Off":
        return None
    return SharedPace(
        pace_client(scope.region),
        OWNERSHIP_TABLE,
        partition=scope.partition,
        region=scope.region,
        account=scope.account,
        clock=clock.time,
        monotonic=clock.monotonic,
    )


def _log_pace(pace: SharedPace) -> None:
    stats = pace.stats
    if stats.writes or stats.failures:
        logger.info(
            "Shared pace",
            extra={
                "pace_writes": stats.writes,
                "pace_turns": stats.turns,
                "pace_waited": round(stats.waited_seconds, 3),
                "pace_failures": stats.failures,
            },
        )


def _time_limits(context: Any, timeout: float | None, request: lifecycle.Request, clock: Clock) -> str:
    lambda_seconds = context.get_remaining_time_in_millis() / 1000
    limits = f"{lambda_seconds:.0f} s left of the function's timeout"
    waited = max(0.0, clock.time() - request.requested_at)
    seconds = timeout if timeout is not None else DEFAULT_SERVICE_TIMEOUT_SECONDS
    cloudformation = (
        f"CloudFormation sent the request {waited:.0f} s ago and waits {seconds:.0f} s (ServiceTimeout"
        f"{'' if timeout is not None else ', its default'})"
    )
    return f"{limits}; {cloudformation}"


def _subject_keys(event: dict[str, Any]) -> dict[str, str]:
    """The number and target a request is about, as log keys on every line of it (bounded: they are data)."""
    properties = event.get("ResourceProperties")
    properties = properties if isinstance(properties, dict) else {}
    number = properties.get("PhoneNumberId")
    if event.get("RequestType") == "Delete" or not isinstance(number, str):
        number = event.get("PhysicalResourceId")
    keys = {"phone_number": number, "target_arn": properties.get("TargetArn")}
    return {key: value[:300] for key, value in keys.items() if isinstance(value, str) and value}


def failure_physical_id(event: dict[str, Any], context: Any) -> str | None:
    """For the responder: the physical ID any failure of this event answers with (lifecycle decides)."""
    try:
        return lifecycle.failure_physical_id(_request(event, context))
    except Exception:  # noqa: BLE001 - a malformed event: the responder has its own fallback
        return None


class _OnceResponder(CloudFormationResponder):
    """The responder of a request that has been handed over: it answers only if no other invocation of the
    request has (continuation.Continuations.claim_answer); a request never handed over answers as before."""

    def __init__(self, invocation: _Invocation, **options: Any) -> None:
        super().__init__(**options)
        self._invocation = invocation

    def _send(self, status: str | None = None, reason: str = "") -> None:
        continuations = self._invocation.continuations
        claimed = (
            not self._invocation.handed_over
            or continuations is None
            or continuations.claim_answer(status or self.Status)
        )
        if not claimed:
            logger.warning("Another invocation of this request answered it; not answering again")
            return
        super()._send(status, reason)


def make_handler(clock: Clock = SYSTEM_CLOCK) -> Any:
    """The Lambda handler, reading time and waiting through ``clock``.

    Lambda runs ``handler`` below (SYSTEM_CLOCK). The local stand-ins build one on their own clock
    (local_aws.clock.VirtualClock), so that the provider's budget, polls and back-offs, its watchdog and the
    emulator's moves all see the same time, and a test of a long wait does not take that long.
    """

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        # One per request, so every invocation publishes a metric (and Powertools never warns of none).
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        if isinstance(event, dict):
            logger.set_correlation_id(str(event.get("RequestId", "")))
            logger.append_keys(
                request_type=event.get("RequestType"),
                stack_id=event.get("StackId"),
                logical_resource_id=event.get("LogicalResourceId"),
                physical_resource_id=event.get("PhysicalResourceId"),
                **_subject_keys(event),
            )
        continuations = _continuations(event, context, clock)
        hop = continuation.hop(event) if isinstance(event, dict) else 0
        if hop:
            logger.append_keys(continuation_hop=hop)
            if continuations is not None and continuations.answered():
                # A duplicate delivery, or a retry of a continuation that answered: the request is over.
                logger.info("Request already answered; this continuation does nothing")
                return
        invocation = _Invocation(continuations, handed_over=hop > 0)
        # A responder per invocation: crhelper keeps the request's state on the instance, and nothing of one
        # request may leak into the next one a warm container serves.
        # OutOfInvocation: handed over, the next invocation answers (crhelper cancelled its watchdog).
        with contextlib.suppress(OutOfInvocation):
            _OnceResponder(
                invocation,
                create=functools.partial(_run, lifecycle.create, clock, invocation),
                update=functools.partial(_run, lifecycle.update, clock, invocation),
                delete=functools.partial(_run, lifecycle.delete, clock, invocation),
                failure_physical_id=failure_physical_id,
                clock=clock,
            )(event, context)

    return handler


handler = make_handler()
