"""One AWS call, retried on throttling and transient faults while the invocation's budget lasts.

The Connect calls (connect.py), the ownership record's DynamoDB calls (records.py) and the CloudFormation
reads (stacks.py) share this loop: how long each pause is comes from waiting.Pacing, what an error means
from errors.py, which asks botocore's standard retry mode (a 5xx answer, with or without an error code, a
request timeout, a connection reset or timeout; the throttling codes). Throttling is paced as a quota
shared with every other invocation (Pacing.throttle_delay); a transient fault, which is not, takes the short
error backoff. A Connect call also waits for its turn on the account's shared pace (pace.SharedPace) when
there is one, before every attempt, a retry after a fault included: then a throttle is answered by the next
turn, not by a pause guessed alone, unless the same call keeps being throttled at its turns
(THROTTLES_BEFORE_PACING_ALONE). Before each retry the caller's fence (before_retry) is checked, whatever
the fault was.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from .errors import (
    SERVICE_NAMES,
    DeadlineOutOfReach,
    ProviderError,
    error_code,
    from_client_error,
    is_retryable,
    is_throttling,
    is_transient,
    unreachable,
)
from .pace import SharedPace, Turn
from .waiting import Budget, HeldTurn, Pacing

# Standard logging, not Powertools: the tools import this module with boto3 alone; in the Lambda,
# telemetry.py hands these loggers Powertools' handler and format.
logger = logging.getLogger(__name__)

# A call throttled this many times in a row at the turns the shared pace gave it also takes its own backoff
# (waiting.Pacing.throttle_delay) before its next turn: the pace is wrong for now (other tools may be using
# the quota), and the provider must not keep asking at it. Not at the second: a pace a little too fast is
# slowed by the first throttle, and the calls already given turns at it may meet one more (make bench,
# N=100: at 2, a pace learned too fast sent a hundred calls into the 5-30 s pauses, 1.48x the floor).
THROTTLES_BEFORE_PACING_ALONE = 3
# A turn this long is a pause like a retry's: the caller's fence (before_retry) is checked after it.
TURN_FENCE_SECONDS = 1.0


def call(
    method: Callable[..., dict[str, Any]],
    params: dict[str, Any],
    *,
    operation: str,
    subject: str,
    service: str,
    pacing: Pacing,
    budget: Budget,
    sleep: Callable[[float], None],
    answer: Callable[[ClientError], Exception | None] = lambda error: None,
    before_retry: Callable[[], None] | None = None,
    pace: SharedPace | None = None,
) -> dict[str, Any]:
    """``method(**params)``, retried until it succeeds or the next pause would not fit in the budget.

    ``answer`` turns an error the caller handles itself into the exception to raise at once (None: not
    one of those). Any other error that is not worth retrying, or that outlasts the budget, becomes a
    ProviderError from the taxonomy, with ``subject`` saying what the call was for. ``before_retry`` runs
    after each pause, before the call is made again, and may raise to stop it (the ownership fence: a
    request overtaken while its move was being throttled must not start it). ``pace``: each attempt first
    waits for its turn on the shared pace (None, or the pace unavailable: the call is paced alone).
    """
    errors = 0
    throttled_at_turns = 0
    first = True
    while True:
        if not first and before_retry is not None:
            before_retry()
        first = False
        turn = _wait_for_turn(pace, operation, budget, sleep, before_retry)
        try:
            response = method(**params)
        except ClientError as error:
            handled = answer(error)
            if handled is not None:
                raise handled from error
            if not is_retryable(error, service):
                raise from_client_error(error, subject=subject, service=service) from error
            throttled = is_throttling(error)
            if throttled and turn is not None and pace is not None:
                # The next turn is the pause; the pace learns the quota admits less than it thought.
                pace.throttled(operation, turn)
                pacing.note_throttled()
                throttled_at_turns += 1
                delay = (
                    pacing.throttle_delay(operation)
                    if throttled_at_turns >= THROTTLES_BEFORE_PACING_ALONE
                    else 0.0
                )
            elif throttled:
                delay = pacing.throttle_delay(operation)
            else:
                errors += 1
                delay = pacing.error_delay(errors)
            final = from_client_error(error, subject=subject, service=service)
            _pause_or_give_up(delay, budget, sleep, final, operation, service, error_code(error))
            continue
        except BotoCoreError as error:
            if not is_transient(error):
                raise
            # No answer (a connection refused or reset, a timeout). botocore's own retries are off for
            # Connect (clients.CONNECT_CLIENT_CONFIG): what its standard mode would have retried once, this
            # loop retries within the budget.
            errors += 1
            delay = pacing.error_delay(errors)
            final = unreachable(error, subject=subject, service=service, operation=operation)
            _pause_or_give_up(delay, budget, sleep, final, operation, service, type(error).__name__)
            continue
        pacing.succeeded(operation)
        return response


def _wait_for_turn(
    pace: SharedPace | None,
    operation: str,
    budget: Budget,
    sleep: Callable[[float], None],
    before_retry: Callable[[], None] | None,
) -> Turn | None:
    """Wait for the call's turn on the shared pace; the turn, or None when the call is paced alone."""
    if pace is None:
        return None
    turn = pace.turn(operation)
    if turn is None or turn.wait <= 0:
        return turn
    out_of_reach = budget.turn_out_of_reach(operation, turn.wait, turn.interval)
    if out_of_reach is not None:
        raise DeadlineOutOfReach(out_of_reach)
    if turn.wait >= budget.remaining():
        if budget.continues():
            # The turn is taken in the next invocation, never spent on a call outside the pace: wait here
            # while this invocation lasts (fenced like any long wait), then hand the turn over.
            sleep(budget.remaining())
            if before_retry is not None:
                before_retry()
            budget.hand_over(f"its {operation} turn", HeldTurn(operation, turn.at, turn.interval))
        # No time for the turn and no later invocation: the call goes now, as it would alone.
        return None
    sleep(turn.wait)
    if turn.wait >= TURN_FENCE_SECONDS and before_retry is not None:
        before_retry()
    return turn


def _pause_or_give_up(
    delay: float,
    budget: Budget,
    sleep: Callable[[float], None],
    final: ProviderError,
    operation: str,
    service: str,
    code: str,
) -> None:
    # A call started within the budget ends within the reserve kept after it (app.budget_seconds): the only
    # question is whether the pause itself still fits.
    if delay >= budget.remaining():
        budget.hand_over(f"a pause of {delay:.1f} s after {code} from {operation}")
        raise final
    logger.info(
        f"{SERVICE_NAMES.get(service, service)} call will be retried",
        extra={"operation": operation, "error_code": code, "retry_in": round(delay, 2)},
    )
    sleep(delay)


class BudgetedClient:
    """A boto3 client whose calls go through ``call`` within one invocation's Budget; the Connect calls
    (connect.PhoneNumbers) and the ownership record (records.OwnershipRecords) are both one of these."""

    service = ""

    def __init__(
        self,
        client: Any,
        budget: Budget,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        pace: SharedPace | None = None,
    ) -> None:
        self._client = client
        self._pace = pace
        self.budget = budget
        self._sleep = sleep
        self._clock = clock
        self._pacing = Pacing(clock, rng or random.Random())  # jitter, not security

    def now(self) -> float:
        """This invocation's monotonic clock, the one its budget and pauses are on."""
        return self._clock()

    def _retried(
        self,
        operation: str,
        subject: str,
        params: dict[str, Any],
        answer: Callable[[ClientError], Exception | None] = lambda error: None,
        before_retry: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        return call(
            getattr(self._client, xform_name(operation)),
            params,
            operation=operation,
            subject=subject,
            service=self.service,
            pacing=self._pacing,
            budget=self.budget,
            sleep=self._sleep,
            answer=answer,
            before_retry=before_retry,
            pace=self._pace,
        )
