"""A request that outlives its invocation: continued by an asynchronous Invoke of this same function.

Lambda gives an invocation at most 15 minutes; CloudFormation waits for a custom resource until
ServiceTimeout (an hour by default) after it sent the request. Every invocation of an account shares
Connect's quota, so a stack operation with more numbers than the quota serves in one invocation's time
(about 1,700 at the default 2 requests/s, two DescribePhoneNumber per number: docs/performance.md) used to
answer FAILED for all the numbers whose turns came late. Now, when a request's next step does not fit what
is left of its invocation (a turn on the shared pace, a pause, a move still running) and CloudFormation
still waits, the invocation hands the request over (waiting.OutOfInvocation) to a new invocation of this
function: the same event, plus a ``Continuation`` marker carrying what the next invocation cannot read
elsewhere (the turn it holds on the shared pace, the moves already started, its hop count).

The continuation is the same request: the same RequestId and ResponseURL (so the same signing time, the
same stamp and fences in ownership.py, the same ClientToken), re-run from the top. Every step converges
from wherever it finds the number, as a Lambda retry of the event always did. A newer request of the
resource stops it exactly as it stops the original (the ownership fences), and the request's deadline is
CloudFormation's, computed from the ResponseURL's signing time as before.

Exactly one answer: a request that has been handed over answers through ``claim_answer``, a conditional
write of a marker item in the ownership table (keyed ``phone-number/request-<id>``, like the shared pace's
items a phone-number ARN no number has, so the table's IAM condition needs no widening). A continuation
that finds the marker (a duplicate delivery by Lambda, a retry after a crash, an invocation whose watchdog
answered; Lambda's Invoke reference: an asynchronous function "may receive the same event multiple times,
even if no error occurs") does nothing. Records are never deleted (no dynamodb:DeleteItem), so the
marker stays; it is written only for requests that were handed over.

Why Lambda's own asynchronous Invoke rather than crhelper's polling or EventBridge Scheduler
(docs/performance.md, "Past one invocation", has the measurements): one call per continuation and nothing
created, so nothing to remove when the request ends, FAILED or overtaken included; IAM is
lambda:InvokeFunction on this function only; the next invocation starts as soon as Lambda's queue hands it
the event. crhelper's polling puts an EventBridge rule, a target and a Lambda permission per request (and
must remove all three: events:PutRule/PutTargets/RemoveTargets/DeleteRule, lambda:AddPermission/
RemovePermission, the first of which would let the function grant anyone the right to invoke it), and a
rule fires at most once a minute (crhelper's default: every 2). Scheduler needs a role it assumes
(iam:PassRole), a schedule per request, and invokes "with 60 second precision" (Scheduler User Guide,
"Schedule types").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import ProviderError
from .pace import KEY_ATTRIBUTE
from .waiting import HeldTurn, OutOfInvocation

# Standard logging, not Powertools: make status imports this module with boto3 alone; in the Lambda,
# telemetry.py hands these loggers Powertools' handler and format.
logger = logging.getLogger(__name__)

# The event key crhelper's own polling would use is CrHelperPoll; this provider's is its own.
CONTINUATION_KEY = "Continuation"


def hop(event: dict[str, Any]) -> int:
    """0 for CloudFormation's own delivery; n for the n-th continuation of the request."""
    marker = event.get(CONTINUATION_KEY)
    value = marker.get("Hop") if isinstance(marker, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def held_turn(event: dict[str, Any]) -> HeldTurn | None:
    marker = event.get(CONTINUATION_KEY)
    turn = marker.get("Turn") if isinstance(marker, dict) else None
    if not isinstance(turn, dict):
        return None
    try:
        return HeldTurn(str(turn["Operation"]), float(turn["At"]), float(turn["Interval"]))
    except (KeyError, TypeError, ValueError):
        return None


def moves_started(event: dict[str, Any]) -> set[str]:
    marker = event.get(CONTINUATION_KEY)
    moves = marker.get("MovesStarted") if isinstance(marker, dict) else None
    return {move for move in moves if isinstance(move, str)} if isinstance(moves, list) else set()


def lag_since(event: dict[str, Any]) -> dict[str, float]:
    """Per number, when the request began waiting out Describe's lag in an earlier invocation."""
    marker = event.get(CONTINUATION_KEY)
    since = marker.get("LagSince") if isinstance(marker, dict) else None
    if not isinstance(since, dict):
        return {}
    return {
        arn: float(at)
        for arn, at in since.items()
        if isinstance(arn, str) and isinstance(at, int | float) and not isinstance(at, bool)
    }


def next_event(
    event: dict[str, Any],
    out: OutOfInvocation,
    started: set[str],
    *,
    lag_from: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The event of the request's next invocation: CloudFormation's, unchanged, and the marker."""
    marker: dict[str, Any] = {"Hop": hop(event) + 1, "MovesStarted": sorted(started | moves_started(event))}
    if lag_from:
        marker["LagSince"] = dict(lag_from)
    if out.held_turn is not None:
        turn = out.held_turn
        marker["Turn"] = {"Operation": turn.operation, "At": turn.at, "Interval": turn.interval}
    return {
        **{key: value for key, value in event.items() if key != CONTINUATION_KEY},
        CONTINUATION_KEY: marker,
    }


class ContinuationFailed(ProviderError):
    """The request could not be handed to a later invocation (Lambda refused or did not answer the Invoke)."""


class Continuations:
    """Hands a request to the next invocation, and keeps its answer to exactly one."""

    def __init__(
        self,
        lambda_client: Callable[[], Any],
        dynamodb: Any,
        table: str,
        *,
        key: str,
        wall_clock: Callable[[], float],
    ) -> None:
        self._lambda_client = lambda_client
        self._dynamodb = dynamodb
        self._table = table
        self._key = key
        self._clock = wall_clock

    def hand_over(self, function_arn: str, event: dict[str, Any]) -> None:
        """Invoke this function asynchronously with ``event``; ContinuationFailed if Lambda refuses."""
        payload = json.dumps(event).encode()
        try:
            response = self._lambda_client().invoke(
                FunctionName=function_arn, InvocationType="Event", Payload=payload
            )
        except (ClientError, BotoCoreError) as error:
            raise ContinuationFailed(
                "The request needed more time than this invocation had, and handing it to the next "
                f"invocation failed ({type(error).__name__}: {str(error)[:200]}); nothing more was changed. "
                "Check that the function's role may invoke the function itself (lambda:InvokeFunction), "
                "then retry the stack operation."
            ) from error
        status = response.get("StatusCode")
        if status != 202:
            raise ContinuationFailed(
                f"The request needed more time than this invocation had, and Lambda answered {status} to "
                "its hand-over (202 expected); nothing more was changed. Retry the stack operation."
            )
        logger.info("Request continues in the next invocation", extra={"hop": event[CONTINUATION_KEY]["Hop"]})

    def answered(self) -> bool:
        """Whether an invocation of this request has answered CloudFormation already (strongly read)."""
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={KEY_ATTRIBUTE: {"S": self._key}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            # Unknown: go on. The work is idempotent, and claim_answer still keeps the answer to one.
            logger.warning(
                "Could not read whether the request was answered", extra={"error": str(error)[:200]}
            )
            return False
        return bool(item and "AnsweredAt" in item)

    def claim_answer(self, status: str) -> bool:
        """Record that this invocation answers; False if another one has already (then it must not)."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={KEY_ATTRIBUTE: {"S": self._key}},
                UpdateExpression="SET #answered = :now, #status = :status",
                ConditionExpression="attribute_not_exists(#answered)",
                ExpressionAttributeNames={"#answered": "AnsweredAt", "#status": "AnswerStatus"},
                ExpressionAttributeValues={":now": {"N": f"{self._clock():.6f}"}, ":status": {"S": status}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            # An answer CloudFormation waits for matters more than a duplicate it ignores: send it.
            logger.warning("Could not record the answer; answering anyway", extra={"error": str(error)[:200]})
        except BotoCoreError as error:
            logger.warning("Could not record the answer; answering anyway", extra={"error": str(error)[:200]})
        return True
