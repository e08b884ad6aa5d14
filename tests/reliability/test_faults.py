"""Connect misbehaving under the real handler: what CloudFormation hears, and where the number ends up.

Each test drives the provider through LocalCustomResourceStack (one Lambda invocation per request, the
response PUT over HTTPS) against the emulator with a fault injected, then checks the one response
CloudFormation received and the number's final state as DescribePhoneNumber shows it.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ACCOUNT, MOVE_SECONDS, REGION, STALE_SECONDS
from tests.reliability.helpers import errors_of, mutating, operations, props, provider_tags, state_of

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
