"""A CloudFormation response URL that refuses, fails or hangs, and a provider that overruns its own budget.

Whatever the URL does, the invocation ends before Lambda's timeout (Lambda would otherwise kill it, and a
killed sandbox can take the next request down with it), and CloudFormation records at most one response.
"""

from __future__ import annotations

import threading

import pytest

from local_aws.cloudformation import build_event, invoke_handler, response_problems
from local_aws.connect.control import LocalControl
from tests.reliability.helpers import one_response, props, state_of

# Short, so a hanging URL would take the invocation past it if the sends were not bounded.
TIMEOUT_SECONDS = 4


def _invoke(
    stack,
    receiver,
    handler,
    properties,
    *,
    request_type="Create",
    timeout_seconds=TIMEOUT_SECONDS,
):
    clock = stack.clock
    event = build_event(
        request_type,
        properties=properties,
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        # A Create that failed before touching a number: its Delete answers at once, so all the invocation's
        # time is left to the response URL.
        physical_id="MainLine-unassigned-0123456789ab" if request_type == "Delete" else None,
        sent_at=clock.time(),
    )
    return event, invoke_handler(handler, event, timeout_seconds=timeout_seconds, clock=clock)


@pytest.mark.parametrize("behaviour", ["refuse", "hang", "error"])
def test_unreachable_response_url_does_not_outlive_the_invocation(behaviour, stack, world, handler, receiver):
    receiver.set_behaviour(behaviour)

    event, invocation = _invoke(stack, receiver, handler, props(world), request_type="Delete")

    assert not invocation.timed_out
    assert invocation.error is None
    assert receiver.responses(event["RequestId"]) == []
    assert receiver.attempts(event["RequestId"]) or behaviour == "refuse"


# A Create needs more than app.RESPONSE_RESERVE_SECONDS + waiting.MIN_SECONDS_TO_START_A_MOVE to start a move.
LONG_ENOUGH_TO_MOVE_SECONDS = 22
# Once the move is done, Lambda's clock skips ahead to this long before the deadline, as if the move had taken
# that much longer: the answer still has time to be sent (and to hang), without waiting through the rest.
LEFT_FOR_THE_ANSWER_SECONDS = 4


def test_lost_answer_after_real_work_still_ends_in_time(stack, world, connect, handler, receiver, clock):
    receiver.set_behaviour("hang")
    deadline = clock.monotonic() + LONG_ENOUGH_TO_MOVE_SECONDS  # Lambda's, give or take the event's building

    def skip_once(arn: str) -> None:
        if arn == world.number_arn and not skipped:
            skipped.append(max(0.0, deadline - LEFT_FOR_THE_ANSWER_SECONDS - clock.monotonic()))
            clock.advance(skipped[0])

    skipped = []
    LocalControl().on_move_settled(skip_once)

    event, invocation = _invoke(
        stack, receiver, handler, props(world), timeout_seconds=LONG_ENOUGH_TO_MOVE_SECONDS
    )

    assert not invocation.timed_out
    assert invocation.error is None
    assert receiver.responses(event["RequestId"]) == []
    # The move was done; only the answer was lost (CloudFormation would time the stack operation out).
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    [skipped_seconds] = skipped  # the skip happened, before the answer was sent
    assert skipped_seconds > 10
    assert receiver.attempts(event["RequestId"])


@pytest.mark.parametrize(
    ("behaviour", "times", "status"),
    [
        ("refuse", 1, None),
        ("error", 2, None),
        ("error", 1, 503),  # S3's SlowDown
        ("page", 1, 502),  # a proxy's page, no error code
        ("page", 1, 504),
        ("reset", 1, None),  # the request read, the connection reset unanswered
        ("error", 5, 503),  # a brown-out: tried again while the sending window lasts, not a fixed few times
    ],
)
def test_transient_response_url_faults_still_deliver_exactly_one_response(
    behaviour, times, status, stack, world, handler, receiver
):
    receiver.set_behaviour(behaviour, times=times, status=status)

    # Time for the retries (a pause of RESPONSE_RETRY_PAUSE_SECONDS after each fault) even on a loaded
    # machine: with the short TIMEOUT_SECONDS the sending window could close before the last one.
    event, invocation = _invoke(
        stack, receiver, handler, props(world), request_type="Delete", timeout_seconds=15
    )

    assert not invocation.timed_out
    body = one_response(receiver, event["RequestId"])
    assert body["Status"] == "SUCCESS"
    assert response_problems(event, body) == []
    # Each fault met a PUT (a refused connection never reaches the handler), then one more was accepted.
    outcomes = [attempt.outcome for attempt in receiver.attempts(event["RequestId"])]
    assert outcomes[-1] == "accepted"
    assert len(outcomes) == (1 if behaviour == "refuse" else times + 1)


def _lambda_thread(invocation):
    name = f"lambda-{invocation.context.function_name}-{invocation.context.aws_request_id}"
    return next((t for t in threading.enumerate() if t.name == name), None)


def test_watchdog_answers_when_the_provider_overruns(monkeypatch, stack, world, aws_env, handler, receiver):
    from phone_number_assignment import app

    aws_env.control.configure(move_seconds=300)
    # As if a Connect call hung past the budget: the provider believes it has longer than Lambda gives it.
    monkeypatch.setattr(
        app, "budget_seconds", lambda context, *_, **__: context.get_remaining_time_in_millis() / 1000 + 2
    )

    event, invocation = _invoke(stack, receiver, handler, props(world), timeout_seconds=4)
    # Lambda freezes the sandbox at its timeout: what was sent by now is all CloudFormation ever gets.
    sent_in_time = receiver.responses(event["RequestId"])
    overrunning = _lambda_thread(invocation)
    if overrunning is not None:
        overrunning.join(timeout=30)

    assert invocation.timed_out
    assert len(sent_in_time) == 1
    assert "ran out of Lambda time" in sent_in_time[0]["Reason"]
    # The declared number, so that the rollback's Delete finds what the overrunning request took.
    assert sent_in_time[0]["PhysicalResourceId"] == world.number_arn
    assert response_problems(event, sent_in_time[0]) == []
    assert len(receiver.responses(event["RequestId"])) == 1
