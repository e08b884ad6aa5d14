"""Connect misbehaving under the real handler: what CloudFormation hears, and where the number ends up.

Each test drives the provider through LocalCustomResourceStack (one Lambda invocation per request, the
response PUT over HTTPS) against the emulator with a fault injected, then checks the one response
CloudFormation received and the number's final state as DescribePhoneNumber shows it.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from phone_number_assignment.clients import ATTEMPTS_PER_CALL
from tests.conftest import ACCOUNT, MOVE_SECONDS, REGION, STALE_SECONDS
from tests.reliability.helpers import (
    errors_of,
    mutating,
    operations,
    props,
    provider_tags,
    state_of,
    wait_until,
)

CLAIMED, IN_PROGRESS, FAILED = "CLAIMED", "IN_PROGRESS", "FAILED"


def rollback_delete(stack, logical_id, properties, physical_id):
    """The Delete CloudFormation sends for a failed Create during rollback."""
    return stack.send("Delete", logical_id, properties, physical_id=physical_id)


# ---- a move already in flight ----------------------------------------------------------------------------


def _start_someone_elses_move(aws_env, connect, world):
    """Someone else moves the number to B just before the stack operation, and Describe lags behind it.

    The lag (stale window) outlasts the provider's claim, so its UpdatePhoneNumber meets the move in flight
    while Describe still shows the number CLAIMED where it was: ResourceInUseException.
    """
    aws_env.control.configure(move_seconds=3, stale_seconds=2.5)
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.instance_b_arn)
    # Timing applies to moves started from now on: the provider's own move is quick again.
    aws_env.control.configure(move_seconds=MOVE_SECONDS, stale_seconds=STALE_SECONDS)


def test_move_already_in_flight_is_waited_out(stack, world, connect, aws_env):
    _start_someone_elses_move(aws_env, connect, world)

    response = stack.create("MainLine", props(world, TargetArn=world.tdg_arn))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    assert "ResourceInUseException" in errors_of(aws_env.control, "UpdatePhoneNumber")
    moves = aws_env.control.moves()
    assert [move["to_target"] for move in moves] == [world.instance_b_arn, world.tdg_arn]
    assert state_of(connect, world.number_arn)["target"] == world.tdg_arn
    assert state_of(connect, world.number_arn)["status"] == CLAIMED


def test_move_already_in_flight_is_retried_at_a_bounded_rate(stack, world, connect, aws_env):
    _start_someone_elses_move(aws_env, connect, world)

    response = stack.create("MainLine", props(world, TargetArn=world.tdg_arn))

    assert response.ok, response.reason
    # The number stays busy for about two seconds; polling at the provider's own pace (about once a
    # second) meets it a handful of times, not hundreds.
    assert errors_of(aws_env.control, "UpdatePhoneNumber").count("ResourceInUseException") <= 8


# ---- permissions -----------------------------------------------------------------------------------------


def test_access_denied_on_the_move_names_the_permission(stack, world, connect, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", "AccessDeniedException", count=1)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("FAILED", 1)
    assert "connect:UpdatePhoneNumber" in response.reason
    assert response.physical_id == world.number_arn
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
    assert aws_env.control.moves() == []

    rollback = rollback_delete(stack, "MainLine", props(world), response.physical_id)

    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    assert provider_tags(connect, world.number_arn) == {}


def test_access_denied_on_describe_names_the_permission_and_changes_nothing(stack, world, aws_env):
    aws_env.control.inject_error("DescribePhoneNumber", "AccessDeniedException", count=1)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("FAILED", 1)
    assert "connect:DescribePhoneNumber" in response.reason
    assert mutating(operations(aws_env.control)) == []
    # The properties parsed: the declared number's ARN, so the rollback's Delete looks (and finds no tags).
    assert response.physical_id == world.number_arn
    rollback = rollback_delete(stack, "MainLine", props(world), response.physical_id)
    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    assert mutating(operations(aws_env.control)) == []


# ---- a target only Connect can refuse ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["deleted-instance", "other-account"])
def test_target_connect_refuses_is_undone_by_the_rollback(where, stack, world, connect, aws_env):
    # Well-formed, so property validation passes and the number is claimed (tagged) before Connect refuses
    # the move: the guarantee is that the failure names the target and the rollback leaves no trace.
    target_arn = {
        "deleted-instance": f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{uuid.uuid4()}",
        "other-account": f"arn:aws:connect:{REGION}:210987654321:instance/{world.instance_b}",
    }[where]

    response = stack.create("MainLine", props(world, TargetArn=target_arn))

    assert (response.status, response.count) == ("FAILED", 1)
    assert target_arn in response.reason
    assert response.physical_id == world.number_arn
    assert aws_env.control.moves() == []

    rollback = rollback_delete(stack, "MainLine", props(world, TargetArn=target_arn), response.physical_id)

    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    assert provider_tags(connect, world.number_arn) == {}
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_a_arn, CLAIMED)


def test_a_metadata_update_in_flight_is_waited_out(stack, world, connect, aws_env):
    # UpdatePhoneNumberMetadata puts the number IN_PROGRESS: the provider waits until it ends, then moves it.
    aws_env.control.configure(move_seconds=3, stale_seconds=0)
    connect.update_phone_number_metadata(PhoneNumberId=world.number_arn, PhoneNumberDescription="main line")
    [metadata] = [c for c in aws_env.control.calls() if c["operation"] == "UpdatePhoneNumberMetadata"]
    aws_env.control.configure(move_seconds=MOVE_SECONDS, stale_seconds=STALE_SECONDS)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    [move] = [c for c in aws_env.control.calls() if c["operation"] == "UpdatePhoneNumber"]
    assert move["time"] >= metadata["time"] + 3  # not before the metadata update had ended
    assert move["error"] is None  # waited out, not run into
    summary = connect.describe_phone_number(PhoneNumberId=world.number_arn)["ClaimedPhoneNumberSummary"]
    assert (summary["TargetArn"], summary["PhoneNumberDescription"]) == (world.instance_b_arn, "main line")


def test_a_number_of_another_account_is_refused_saying_so_before_any_call(stack, world, connect, aws_env):
    elsewhere = f"arn:aws:connect:{REGION}:210987654321:phone-number/{world.number_id}"

    response = stack.create("MainLine", props(world, PhoneNumberId=elsewhere))

    assert (response.status, response.count) == ("FAILED", 1)
    assert "that number is in another account" in response.reason
    assert "210987654321" in response.reason
    assert "connect:" not in response.reason  # not sent to IAM
    assert operations(aws_env.control) == []  # not even a Describe
    # CloudFormation's own physical ID for a Create that named no usable number: its Delete changes nothing.
    rollback = rollback_delete(stack, "MainLine", props(world, PhoneNumberId=elsewhere), response.physical_id)
    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    assert mutating(operations(aws_env.control)) == []
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn


def _tag_the_number(aws_env, world, count):
    """The world's number, seeded again with ``count`` tags of its own (and CloudFormation's, which do not
    count toward Connect's 50)."""
    tags = {f"team-{index:02d}": "x" for index in range(count)}
    tags["aws:cloudformation:stack-name"] = "elsewhere"
    number = {
        "id": world.number_id,
        "phone_number": world.phone_number,
        "target": world.instance_a,
        "tags": tags,
    }
    aws_env.control.seed({"account_id": ACCOUNT, "region": REGION, "phone_numbers": [number]})


def test_a_number_with_no_room_for_the_providers_tags_is_refused_before_the_move(
    stack, world, connect, aws_env
):
    # 46 tags of its own, and the provider's five (with a flow): 51, one more than Connect allows.
    _tag_the_number(aws_env, world, 46)

    response = stack.create("MainLine", props(world, ContactFlowArn=world.flow_b_arn))

    assert (response.status, response.count) == ("FAILED", 1)
    assert "has 46 tags" in response.reason
    assert "Remove at least 1 of the number's other tags ('team-00'" in response.reason
    assert "and 36 more" in response.reason
    assert mutating(operations(aws_env.control)) == []
    assert aws_env.control.moves() == []
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn


def test_a_number_with_exactly_room_for_the_providers_tags_is_assigned(stack, world, connect, aws_env):
    # 45 + 5 = 50: the count matches Connect's (the emulator refuses a 51st user tag).
    _tag_the_number(aws_env, world, 45)

    response = stack.create("MainLine", props(world, ContactFlowArn=world.flow_b_arn))

    assert response.ok, response.reason
    assert len(provider_tags(connect, world.number_arn)) == 5


# ---- moves that fail or never finish ---------------------------------------------------------------------


def test_failed_move_reports_connects_message_and_rollback_restores(stack, world, connect, aws_env):
    message = "The phone number is being ported and cannot be moved"
    aws_env.control.fail_next_move(message)
    declared = props(world, OnDelete="Restore")

    response = stack.create("MainLine", declared)

    assert (response.status, response.count) == ("FAILED", 1)
    assert message in response.reason
    assert response.physical_id == world.number_arn
    assert [move["outcome"] for move in aws_env.control.moves()] == [FAILED]
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn

    rollback = rollback_delete(stack, "MainLine", declared, response.physical_id)

    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    final = state_of(connect, world.number_arn)
    assert final["target"] == world.instance_a_arn
    assert provider_tags(connect, world.number_arn) == {}


def test_move_outlasting_the_invocation_fails_before_the_watchdog(stack, world, connect, aws_env, receiver):
    aws_env.control.configure(move_seconds=300)

    # Out of CloudFormation's time too (ServiceTimeout): no later invocation to continue in.
    response = stack.create("MainLine", props(world, ServiceTimeout="30"), timeout_seconds=24)

    assert response.status == "FAILED"
    assert "still IN_PROGRESS" in response.reason
    # The provider's own answer, not crhelper's watchdog: it says where the move stands.
    assert "ran out of Lambda time" not in response.reason
    assert len(receiver.attempts(response.event["RequestId"])) == 1
    assert response.physical_id == world.number_arn
    moving = state_of(connect, world.number_arn)
    assert (moving["target"], moving["status"]) == (world.instance_b_arn, IN_PROGRESS)


# ---- transient faults: a brown-out of any service the provider calls ---------------------------------------

# What botocore's standard mode retries (botocore/retries/standard.py, TransientRetryableChecker), as the
# emulator answers it (local_aws/connect/faults.py): (fault, status) for control.inject_fault, and how the
# emulator's logs name it.
TRANSIENT_FAULTS = [
    ("ServiceUnavailable", None, "ServiceUnavailable"),  # 503 with a code
    ("page", 502, "502"),  # a load balancer's page, no code
    ("page", 504, "504"),
    ("InternalFailure", None, "InternalFailure"),  # 500 with a code
    ("connection-reset", None, "connection-reset"),
]
# Every kind of AWS call a Create with a flow makes. A Connect call meets each fault once (botocore makes it
# once: clients.CONNECT_CLIENT_CONFIG); DynamoDB's and CloudFormation's clients retry once themselves
# (clients.CLIENT_CONFIG), so there each fault comes once per attempt botocore makes, and only the
# provider's loop gets past it.
TRANSIENT_CALLS = [
    pytest.param("connect", "UpdatePhoneNumber", 1, id="UpdatePhoneNumber"),
    pytest.param("connect", "DescribePhoneNumber", 1, id="DescribePhoneNumber"),
    pytest.param("connect", "TagResource", 1, id="TagResource"),
    pytest.param("connect", "AssociatePhoneNumberContactFlow", 1, id="AssociatePhoneNumberContactFlow"),
    pytest.param("dynamodb", "PutItem", ATTEMPTS_PER_CALL, id="dynamodb-PutItem"),
    pytest.param("cloudformation", "DescribeStackResources", ATTEMPTS_PER_CALL, id="DescribeStackResources"),
]


@pytest.fixture
def botocores_backoff_on_the_clock(monkeypatch, clock):
    """botocore's own retry (DynamoDB's and CloudFormation's clients make two attempts) pauses on the test's
    clock too, instead of up to a real second per fault: botocore.endpoint sleeps through its ``time``."""
    import types

    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=clock.sleep))


def _met(aws_env, service, operation):
    """The injected faults calls of ``operation`` met, in order."""
    return [
        met["fault"]
        for met in aws_env.control.faults_met()
        if (met["service"], met["operation"]) == (service, operation)
    ]


@pytest.mark.parametrize(("service", "operation", "attempts"), TRANSIENT_CALLS)
def test_each_transient_fault_on_any_call_is_retried_to_success(
    service, operation, attempts, stack, world, connect, aws_env, botocores_backoff_on_the_clock
):
    # One Create rides out every kind in a row (one Create per call keeps this fast): had any kind not been
    # retried, the Create would have failed at it, its Reason naming it.
    for fault, status, _ in TRANSIENT_FAULTS:
        aws_env.control.inject_fault(service, operation, fault, status=status, count=attempts)

    response = stack.create("MainLine", props(world, ContactFlowArn=world.flow_b_arn))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    logged = [name for _, _, name in TRANSIENT_FAULTS]
    assert _met(aws_env, service, operation) == [name for name in logged for _ in range(attempts)]
    if service == "connect":
        # The call met each fault, then was made again and answered.
        assert errors_of(aws_env.control, operation)[: len(logged) + 1] == [*logged, None]
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, CLAIMED)
    assert len(aws_env.control.moves()) == 1
    assert len(provider_tags(connect, world.number_arn)) == 5  # the tags, the flow's included, all written


def test_a_restore_meeting_a_504_on_the_way_back_puts_the_number_back(stack, world, connect, aws_env):
    declared = props(world, OnDelete="Restore")
    assert stack.create("MainLine", declared).ok
    aws_env.control.inject_fault("connect", "UpdatePhoneNumber", "page", status=504)

    response = stack.delete("MainLine")

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    assert _met(aws_env, "connect", "UpdatePhoneNumber") == ["504"]
    assert [move["to_target"] for move in aws_env.control.moves()] == [
        world.instance_b_arn,
        world.instance_a_arn,
    ]
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_a_arn, CLAIMED)
    assert provider_tags(connect, world.number_arn) == {}


def test_a_move_whose_answer_is_lost_is_retried_with_its_client_token_and_moves_once(
    stack, world, connect, aws_env
):
    # Connect accepted the move, then the connection dropped before its answer arrived: the retry is the same
    # request (same ClientToken), which Connect answers as the first without moving again.
    aws_env.control.inject_fault("connect", "UpdatePhoneNumber", "connection-reset", served=True)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    updates = [call for call in aws_env.control.calls() if call["operation"] == "UpdatePhoneNumber"]
    assert [call["error"] for call in updates] == ["connection-reset", None]
    assert updates[0]["params"]["ClientToken"] == updates[1]["params"]["ClientToken"]
    assert len(aws_env.control.moves()) == 1
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn


@pytest.mark.parametrize("code", ["InvalidParameterException", "InvalidRequestException"])
def test_a_validation_error_still_fails_at_once(code, stack, world, connect, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", code, count=10_000)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("FAILED", 1)
    assert code in response.reason
    assert errors_of(aws_env.control, "UpdatePhoneNumber") == [code]  # made once, never retried
    assert aws_env.control.moves() == []


# A budget of a few seconds (24 s of Lambda time less the reserve for the answer): the fault outlasts it.
SHORT_TIMEOUT_SECONDS = 24


@pytest.mark.parametrize(
    ("service", "operation", "fault", "status", "named"),
    [
        pytest.param(
            "connect",
            "DescribePhoneNumber",
            "ServiceUnavailable",
            None,
            "ServiceUnavailable (HTTP 503) to connect:DescribePhoneNumber",
            id="connect-503",
        ),
        pytest.param(
            "connect",
            "UpdatePhoneNumber",
            "connection-reset",
            None,
            "with connect:UpdatePhoneNumber until the provider's time budget ran out (ConnectionClosedError",
            id="connect-reset",
        ),
        pytest.param(
            "dynamodb",
            "GetItem",
            "page",
            502,
            "HTTP 502 Bad Gateway with no error code (a load balancer's or proxy's page) to dynamodb:GetItem",
            id="dynamodb-502-page",
        ),
        pytest.param(
            "cloudformation",
            "DescribeStackResources",
            "InternalFailure",
            None,
            "InternalFailure (HTTP 500) to cloudformation:DescribeStackResources",
            id="cloudformation-InternalFailure",
        ),
    ],
)
def test_a_transient_fault_that_outlasts_the_budget_fails_naming_the_call_and_the_fault(
    service, operation, fault, status, named, stack, world, connect, aws_env, botocores_backoff_on_the_clock
):
    aws_env.control.inject_fault(service, operation, fault, status=status, count=10_000)

    # CloudFormation waits too little longer (ServiceTimeout) for a later invocation to try again.
    response = stack.create(
        "MainLine", props(world, ServiceTimeout="30"), timeout_seconds=SHORT_TIMEOUT_SECONDS
    )

    assert (response.status, response.count) == ("FAILED", 1)
    assert named in response.reason
    assert "time budget ran out" in response.reason
    assert len(_met(aws_env, service, operation)) >= 2  # retried (how often: the jitter and the load)
    assert aws_env.control.moves() == []
    aws_env.control.reset()  # the brown-out is over
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn


@pytest.mark.real_time  # two requests waiting at once: see local_aws/clock.py
def test_a_cancelled_update_meeting_a_brown_out_never_moves_after_its_rollback(
    stack, world, connect, aws_env
):
    assert stack.create("MainLine", props(world)).ok
    # The Update's UpdatePhoneNumber meets a 503 again and again; CloudFormation cancels the Update meanwhile.
    aws_env.control.inject_fault("connect", "UpdatePhoneNumber", "ServiceUnavailable", count=10_000)
    results = {}
    updating = threading.Thread(
        target=lambda: results.setdefault(
            "update", stack.update("MainLine", props(world, TargetArn=world.tdg_arn))
        )
    )
    updating.start()
    try:
        wait_until(lambda: _met(aws_env, "connect", "UpdatePhoneNumber"))
        rollback = stack.cancel_update("MainLine", props(world, TargetArn=world.tdg_arn))
    finally:
        updating.join()

    assert rollback.ok, rollback.reason
    # Its fence ran before the next retry: the cancelled Update stopped there, not at the end of its budget.
    assert results["update"].status == "FAILED"
    assert "newer Update" in results["update"].reason
    assert aws_env.control.moves()[1:] == []  # the Create's move only
    state = state_of(connect, world.number_arn)
    assert (state["target"], state["status"]) == (world.instance_b_arn, CLAIMED)


def test_each_transient_fault_on_describe_stacks_is_retried_by_a_delete(
    stack, world, connect, aws_env, botocores_backoff_on_the_clock
):
    # A Delete asks DescribeStacks whether the stack is rolling back (a rollback puts the number back, a
    # deletion honours OnDelete): a brown-out there is ridden out, not taken for "cannot tell".
    assert stack.create("MainLine", props(world)).ok
    for fault, status, _ in TRANSIENT_FAULTS:
        aws_env.control.inject_fault(
            "cloudformation", "DescribeStacks", fault, status=status, count=ATTEMPTS_PER_CALL
        )

    response = stack.delete("MainLine")

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    logged = [name for _, _, name in TRANSIENT_FAULTS]
    assert _met(aws_env, "cloudformation", "DescribeStacks") == [
        n for n in logged for _ in range(ATTEMPTS_PER_CALL)
    ]
    # OnDelete: Retain (the default) and no rollback: the number stays where the stack put it, untagged.
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert provider_tags(connect, world.number_arn) == {}
    assert len(aws_env.control.moves()) == 1
