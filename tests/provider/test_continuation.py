"""A request that outlives its invocation continues in the next one (continuation.py), through the handler
against the emulator, with the function's timeout shrunk in the test's Lambda context and a VirtualClock:
the same request (stamp, fences, ClientToken), exactly one answer, nothing left behind."""

from __future__ import annotations

import boto3

from local_aws.cloudformation import build_event, invoke_handler
from phone_number_assignment import continuation, pace, records, waiting
from phone_number_assignment.app import CONTINUATIONS_ENV
from phone_number_assignment.records import KEY, OWNERSHIP_TABLE
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import ownership_record, props, state_of

# A function timeout that leaves 22 s of budget (app.RESPONSE_RESERVE_SECONDS is 18 s) against
# CloudFormation's hour: the request's work below needs two to a few invocations.
SHORT_TIMEOUT_SECONDS = 40
LONG_MOVE_SECONDS = 50.0
DESCRIBE = "DescribePhoneNumber"


def table_item(endpoint_url: str, key: str) -> dict | None:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    return client.get_item(TableName=OWNERSHIP_TABLE, Key={KEY: {"S": key}}, ConsistentRead=True).get("Item")


def marker_key(event: dict) -> str:
    return records.request_key(
        "aws", REGION, ACCOUNT, event["StackId"], event["LogicalResourceId"], event["RequestId"]
    )


def connect_operations(control) -> list[str]:
    return [call["operation"] for call in control.calls()]


def test_a_move_longer_than_the_invocation_continues_and_is_answered_once(stack, world, aws_env, connect):
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)

    response = stack.create("MainLine", props(world), timeout_seconds=SHORT_TIMEOUT_SECONDS)

    assert response.ok, response.reason
    assert response.count == 1
    assert stack.invocations >= 3  # 50 s of move with 22 s of budget each
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    # The same request all along: one move, one ClientToken, the record stamped by this request only.
    moves = [call for call in aws_env.control.calls() if call["operation"] == "UpdatePhoneNumber"]
    assert len({call["params"].get("ClientToken") for call in moves}) == 1
    record = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert record["RequestId"] == response.event["RequestId"]
    # Nothing left behind: no queued invocation; the marker says it was answered, and how.
    assert aws_env.control.take_invocations() == []
    marker = table_item(aws_env.endpoint_url, marker_key(response.event))
    assert marker["AnswerStatus"]["S"] == "SUCCESS"


def test_without_continuations_the_same_request_fails_at_the_invocations_end(
    stack, world, aws_env, monkeypatch
):
    # The cliff this module removes: the same request, continuations turned off.
    monkeypatch.setenv(CONTINUATIONS_ENV, "Off")
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)

    response = stack.create("MainLine", props(world), timeout_seconds=SHORT_TIMEOUT_SECONDS)

    assert not response.ok
    assert stack.invocations == 1


def hand_over_once(stack, world, aws_env, clock) -> tuple[dict, dict]:
    """CloudFormation's Create, run in one invocation that hands the request over: (event, continuation)."""
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)
    event = build_event(
        "Create",
        properties=props(world),
        response_url=stack.receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        sent_at=clock.time(),
    )
    stack.play("MainLine", "CREATE_IN_PROGRESS")
    invoke_handler(stack.handler, event, timeout_seconds=SHORT_TIMEOUT_SECONDS, region=REGION, clock=clock)
    (queued,) = aws_env.control.take_invocations(event["RequestId"])
    assert stack.receiver.responses(event["RequestId"]) == []
    return event, queued["payload"]


def test_a_continuation_overtaken_by_a_newer_request_stops(stack, world, aws_env, clock, connect, receiver):
    event, continued = hand_over_once(stack, world, aws_env, clock)
    assert continued["RequestId"] == event["RequestId"]
    assert continued["ResponseURL"] == event["ResponseURL"]  # the same signing time: the same stamp

    # Another resource failed meanwhile: CloudFormation cancels the Create and sends its Delete at once.
    cancelled = stack.cancel_create("MainLine", props(world))
    assert cancelled.ok, cancelled.reason
    moves_before = len(aws_env.control.moves())
    invoke_handler(
        stack.handler, continued, timeout_seconds=SHORT_TIMEOUT_SECONDS, region=REGION, clock=clock
    )

    # The continuation met the Delete's fence: it moved nothing more, and the number is back where it was.
    assert len(aws_env.control.moves()) == moves_before
    assert aws_env.control.take_invocations() == []
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "RELEASED"
    assert len(receiver.responses(event["RequestId"])) <= 1


def test_a_continuation_of_an_answered_request_does_nothing(stack, world, aws_env, clock, receiver):
    event, continued = hand_over_once(stack, world, aws_env, clock)
    invoke_handler(stack.handler, continued, timeout_seconds=600, region=REGION, clock=clock)
    assert [body["Status"] for body in receiver.responses(event["RequestId"])] == ["SUCCESS"]
    calls_before = len(aws_env.control.calls())

    # Lambda delivers the same asynchronous event again (at least once, not exactly once).
    invoke_handler(stack.handler, continued, timeout_seconds=600, region=REGION, clock=clock)

    assert len(receiver.responses(event["RequestId"])) == 1
    assert len(aws_env.control.calls()) == calls_before  # not a single Connect call
    assert aws_env.control.take_invocations() == []


def test_two_deliveries_of_one_continuation_answer_once(stack, world, aws_env, clock, receiver, monkeypatch):
    # Both run before either answers (the check at their start finds nothing yet): the answer is claimed.
    event, continued = hand_over_once(stack, world, aws_env, clock)
    monkeypatch.setattr(continuation.Continuations, "answered", lambda self: False)

    for _ in range(2):
        invoke_handler(stack.handler, continued, timeout_seconds=600, region=REGION, clock=clock)

    assert [body["Status"] for body in receiver.responses(event["RequestId"])] == ["SUCCESS"]


def test_a_turn_beyond_the_invocation_is_taken_in_the_next_one_not_outside_the_pace(
    stack, world, aws_env, clock
):
    # Other invocations of the account queue 60 s of Describes: this request's first turn is past its
    # invocation's 22 s. The turn is handed over and taken in a later invocation; no call jumps the queue,
    # and the queue is not lengthened by the hand-overs.
    stack.create("Warm", props(world, PhoneNumberId=world.other_number_id, TargetArn=world.instance_a_arn))
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    queue_ends = clock.time() + 60
    interval = pace.DEFAULT_INTERVAL_SECONDS
    client.put_item(
        TableName=OWNERSHIP_TABLE,
        Item={
            KEY: {"S": pace.pace_key("aws", REGION, ACCOUNT, DESCRIBE)},
            "Tat": {"N": f"{queue_ends:.6f}"},
            "Interval": {"N": f"{interval:.6f}"},
            "ThrottledAt": {"N": f"{clock.time():.6f}"},
        },
    )
    calls_before = len(aws_env.control.calls())

    response = stack.create("MainLine", props(world), timeout_seconds=SHORT_TIMEOUT_SECONDS)

    assert response.ok, response.reason
    assert stack.invocations >= 3
    first_call = aws_env.control.calls()[calls_before]
    assert first_call["operation"] == DESCRIBE
    assert first_call["time"] >= queue_ends - pace.BURST * interval - 0.01
    item = table_item(aws_env.endpoint_url, pace.pace_key("aws", REGION, ACCOUNT, DESCRIBE))
    # Its own Describes only (read, polls, the last look): each hand-over re-reserving would add a turn each.
    describes = sum(1 for call in aws_env.control.calls()[calls_before:] if call["operation"] == DESCRIBE)
    assert float(item["Tat"]["N"]) <= queue_ends + (describes + 1) * interval


def test_a_queue_past_cloudformations_deadline_fails_at_once_saying_what_to_do(stack, world, aws_env, clock):
    # ServiceTimeout 300 s and a Describe queue 200 s long: the number's first turn is in reach, but the
    # second Describe every number needs queues behind everyone who asked since: 2 x 200 s > 300 s.
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    stack.create("Warm", props(world, PhoneNumberId=world.other_number_id, TargetArn=world.instance_a_arn))
    client.put_item(
        TableName=OWNERSHIP_TABLE,
        Item={
            KEY: {"S": pace.pace_key("aws", REGION, ACCOUNT, DESCRIBE)},
            "Tat": {"N": f"{clock.time() + 200:.6f}"},
            "Interval": {"N": "0.5"},
            "ThrottledAt": {"N": f"{clock.time():.6f}"},
        },
    )
    calls_before = len(aws_env.control.calls())
    started = clock.monotonic()

    response = stack.create(
        "MainLine", props(world, ServiceTimeout="300"), timeout_seconds=SHORT_TIMEOUT_SECONDS
    )

    assert not response.ok
    assert clock.monotonic() - started < 5  # at once, not at the deadline
    assert aws_env.control.calls()[calls_before:] == []  # nothing moved, nothing even read
    for words in (
        "DescribePhoneNumber quota",
        "about 300 numbers fit",
        "ServiceTimeout",
        "Nothing was changed",
    ):
        assert words in response.reason


def test_a_hand_over_lambda_refuses_answers_failed_once(stack, world, aws_env):
    # Lambda answers 429 to both attempts of the Invoke (the client's standard retry makes two).
    aws_env.control.refuse_invocations(2)
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)

    response = stack.create("MainLine", props(world), timeout_seconds=SHORT_TIMEOUT_SECONDS)

    assert not response.ok
    assert response.count == 1
    assert "handing it to the next invocation failed" in response.reason
    assert "lambda:InvokeFunction" in response.reason


def test_a_put_back_longer_than_the_invocation_is_finished_by_the_continuation(
    stack, world, aws_env, connect
):
    # A Create that never succeeded (its move outlasted CloudFormation's short wait), then the stack is
    # deleted: the Delete puts the number back (the record is MOVING), whatever OnDelete says. The move back
    # outlasts the Delete's invocation: its continuation must go on putting it back, not take the record it
    # left (UNDOING) for a number held after success, which OnDelete: Retain would leave where it stands.
    stack.create("Warm", props(world, PhoneNumberId=world.other_number_id, TargetArn=world.instance_a_arn))
    aws_env.control.configure(move_seconds=8)
    failed = stack.create("MainLine", props(world, ServiceTimeout="30"), timeout_seconds=24)
    assert "still IN_PROGRESS" in failed.reason
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "MOVING"
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)
    stack.set_status("DELETE_IN_PROGRESS")

    response = stack.send(
        "Delete",
        "MainLine",
        props(world),
        physical_id=failed.physical_id,
        timeout_seconds=SHORT_TIMEOUT_SECONDS,
    )

    assert response.ok, response.reason
    assert stack.invocations >= 2
    # Back where it was when CloudFormation heard, not still moving there.
    assert state_of(connect, world.number_arn) == {
        "target": world.instance_a_arn,
        "status": "CLAIMED",
        "tags": {},
    }
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "RELEASED"


def test_the_lag_a_request_waited_from_is_carried_to_its_continuation():
    event = {"RequestId": "r", continuation.CONTINUATION_KEY: {"Hop": 1}}
    out = waiting.OutOfInvocation("its DescribePhoneNumber turn")
    arn = "arn:aws:connect:us-east-1:123456789012:phone-number/1"

    handed = continuation.next_event(event, out, set(), lag_from={arn: 12.5})

    assert continuation.lag_since(handed) == {arn: 12.5}
    assert continuation.lag_since(event) == {}
    assert continuation.lag_since({continuation.CONTINUATION_KEY: {"LagSince": {arn: "x"}}}) == {}


def test_a_continuation_after_its_own_move_landed_converges_without_waiting_out_the_lag_again(
    stack, world, aws_env, clock, receiver
):
    event, continued = hand_over_once(stack, world, aws_env, clock)
    clock.advance(LONG_MOVE_SECONDS)  # the move this request started has landed meanwhile
    calls_before = len(aws_env.control.calls())
    started = clock.monotonic()

    invoke_handler(
        stack.handler, continued, timeout_seconds=SHORT_TIMEOUT_SECONDS, region=REGION, clock=clock
    )

    assert [body["Status"] for body in receiver.responses(event["RequestId"])] == ["SUCCESS"]
    assert aws_env.control.take_invocations() == []
    # Its own move was accepted (the marker says so): shown on the target, the number has arrived. One look,
    # no second Describe five seconds later, which in a long queue needed a turn the invocation may not have.
    describes = [c for c in aws_env.control.calls()[calls_before:] if c["operation"] == DESCRIBE]
    assert len(describes) == 1
    assert clock.monotonic() - started < waiting.STALE_STATUS_GRACE_SECONDS
