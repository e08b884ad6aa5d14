"""The CloudFormation lifecycle, end to end: real handler, emulator over HTTP, responses over HTTPS.

Each test asserts what CloudFormation receives and what the emulator ends with.
"""

from __future__ import annotations

import time
import uuid

import pytest

from phone_number_assignment.tags import LOGICAL_ID_TAG, PREVIOUS_TARGET_TAG, STACK_TAG
from tests.conftest import STALE_SECONDS, describe

MUTATING = {
    "UpdatePhoneNumber",
    "TagResource",
    "UntagResource",
    "AssociatePhoneNumberContactFlow",
    "DisassociatePhoneNumberContactFlow",
    "ReleasePhoneNumber",
}


def mutating_calls(control) -> list[dict]:
    return [call for call in control.calls() if call["operation"] in MUTATING]


def calls_named(control, operation: str) -> list[dict]:
    return [call for call in control.calls() if call["operation"] == operation and call["status"] == 200]


@pytest.fixture(autouse=True)
def never_releases(aws_env, request):
    """Whatever a test does, the provider never releases a number (a release costs up to 180 days)."""
    yield
    by_hand = 1 if request.node.get_closest_marker("releases_by_hand") else 0
    assert len([c for c in aws_env.control.calls() if c["operation"] == "ReleasePhoneNumber"]) == by_hand


def assign(world, **overrides) -> dict:
    properties = {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn}
    properties.update(overrides)
    return {k: v for k, v in properties.items() if v is not None}


# Create ---------------------------------------------------------------------------------------------


def test_create_moves_the_number_and_reports_only_once_it_is_claimed_on_the_target(
    stack, world, connect, aws_env
):
    response = stack.create("MainLine", assign(world))

    assert response.ok, response.reason
    assert response.count == 1
    assert response.physical_id == world.number_arn
    assert response.data == {
        "PhoneNumberArn": world.number_arn,
        "PhoneNumberId": world.number_id,
        "PhoneNumber": world.phone_number,
        "TargetArn": world.instance_b_arn,
        "PreviousTargetArn": world.instance_a_arn,
        "ContactFlowArn": "",
        "PreviousContactFlowArn": "",
    }
    summary = describe(connect, world.number_arn)
    assert summary["TargetArn"] == world.instance_b_arn
    assert summary["PhoneNumberStatus"]["Status"] == "CLAIMED"
    assert summary["Tags"][STACK_TAG] == stack.stack_id
    assert summary["Tags"][LOGICAL_ID_TAG] == "MainLine"
    assert summary["Tags"][PREVIOUS_TARGET_TAG] == world.instance_a_arn
    [move] = aws_env.control.moves()
    assert move["to_target"] == world.instance_b_arn
    assert move["outcome"] == "CLAIMED"
    [update] = calls_named(aws_env.control, "UpdatePhoneNumber")
    assert update["params"]["PhoneNumberId"] == world.number_arn  # the ARN is what goes to the API
    assert len(update["params"]["ClientToken"]) <= 500


def test_the_old_target_shown_right_after_the_call_is_not_taken_for_success(stack, world, aws_env, receiver):
    # The service keeps showing the old target CLAIMED for a while after UpdatePhoneNumber; the first poll
    # falls inside that window here.
    aws_env.control.configure(move_seconds=2.0, stale_seconds=1.6)

    response = stack.create("MainLine", assign(world))

    assert response.ok, response.reason
    [move] = aws_env.control.moves()
    [attempt] = receiver.attempts(response.event["RequestId"])
    assert attempt.received_at >= move["completes_at"]


def test_full_phone_number_arn_works_like_the_id(stack, world, connect):
    response = stack.create("MainLine", assign(world, PhoneNumberId=world.number_arn))

    assert response.ok, response.reason
    assert response.physical_id == world.number_arn
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


def test_create_onto_a_traffic_distribution_group(stack, world, connect):
    response = stack.create("MainLine", assign(world, TargetArn=world.tdg_arn))

    assert response.ok, response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.tdg_arn


def test_create_when_the_number_is_already_on_the_target_moves_nothing(stack, world, aws_env):
    response = stack.create("MainLine", assign(world, TargetArn=world.instance_a_arn))

    assert response.ok, response.reason
    assert response.data["TargetArn"] == world.instance_a_arn
    assert not calls_named(aws_env.control, "UpdatePhoneNumber")
    assert not aws_env.control.moves()


def test_create_waits_for_a_move_already_in_progress_to_settle(stack, world, connect, aws_env):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.tdg_arn)

    response = stack.create("MainLine", assign(world))

    assert response.ok, response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn
    # The restore target is where the number settled before this stack took it.
    assert response.data["PreviousTargetArn"] == world.tdg_arn
    assert [move["to_target"] for move in aws_env.control.moves()] == [world.tdg_arn, world.instance_b_arn]


def test_a_move_that_ends_failed_is_a_failure_with_the_service_message(stack, world, connect, aws_env):
    aws_env.control.fail_next_move("Number is not supported by the target instance's telephony")

    response = stack.create("MainLine", assign(world))

    assert response.status == "FAILED"
    assert "Number is not supported by the target instance's telephony" in response.reason
    # The number carries our tags: its ARN stays the physical ID so the rollback's Delete can clean up.
    assert response.physical_id == world.number_arn
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn


def test_invalid_properties_fail_clearly_and_change_nothing(stack, world, aws_env):
    response = stack.create("MainLine", {"PhoneNumberId": world.number_id, "TargetARN": world.instance_b_arn})

    assert response.status == "FAILED"
    assert "TargetARN" in response.reason
    assert "TargetArn" in response.reason
    assert not response.physical_id.startswith("arn:")
    assert aws_env.control.calls() == []


def test_a_number_that_does_not_exist_fails_clearly(stack, world, aws_env):
    missing = str(uuid.uuid4())

    response = stack.create("MainLine", assign(world, PhoneNumberId=missing))

    assert response.status == "FAILED"
    assert missing in response.reason
    assert "does not exist" in response.reason
    assert not mutating_calls(aws_env.control)


def test_a_target_that_does_not_exist_fails_with_the_service_message(stack, world, connect):
    ghost = world.instance_b_arn.replace(world.instance_b, str(uuid.uuid4()))

    response = stack.create("MainLine", assign(world, TargetArn=ghost))

    assert response.status == "FAILED"
    assert ghost in response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn


def test_access_denied_names_the_missing_permission(stack, world, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", "AccessDeniedException", count=1)

    response = stack.create("MainLine", assign(world))

    assert response.status == "FAILED"
    assert "connect:UpdatePhoneNumber" in response.reason


def test_running_out_of_time_reports_the_move_still_in_progress(stack, world, aws_env):
    # Out of CloudFormation's time (ServiceTimeout), not only of an invocation's: the request continued in
    # later invocations (continuation.py) until no continuation had time left, and the last one answers.
    aws_env.control.configure(move_seconds=60)

    response = stack.create("MainLine", assign(world, ServiceTimeout="45"), timeout_seconds=24)

    assert stack.invocations > 1
    assert response.status == "FAILED"
    assert "still IN_PROGRESS" in response.reason
    assert "timed out" not in response.reason  # ours, not crhelper's watchdog
    assert response.count == 1
    assert response.physical_id == world.number_arn


# Ownership ------------------------------------------------------------------------------------------


def test_a_number_owned_by_another_stack_is_never_taken(stack, new_stack, world, connect, aws_env):
    other = new_stack("payments-stack")
    assert other.create("Hotline", assign(world, TargetArn=world.tdg_arn)).ok
    calls_before = len(mutating_calls(aws_env.control))

    response = stack.create("MainLine", assign(world))

    assert response.status == "FAILED"
    assert other.stack_id in response.reason
    assert len(mutating_calls(aws_env.control)) == calls_before
    assert describe(connect, world.number_arn)["TargetArn"] == world.tdg_arn


def test_another_logical_id_of_the_same_stack_takes_over_and_keeps_the_restore_target(
    stack, world, connect, clock
):
    assert stack.create("OldName", assign(world)).ok
    clock.advance(60)  # a rename is a later stack update
    stack.set_status("UPDATE_IN_PROGRESS")

    renamed = stack.create("NewName", assign(world, TargetArn=world.tdg_arn, OnDelete="Restore"))

    assert renamed.ok, renamed.reason
    assert renamed.data["PreviousTargetArn"] == world.instance_a_arn
    tags = describe(connect, world.number_arn)["Tags"]
    assert tags[LOGICAL_ID_TAG] == "NewName"
    # CloudFormation deletes the old logical ID afterwards: it no longer owns the number and leaves it alone.
    assert stack.delete("OldName").ok
    summary = describe(connect, world.number_arn)
    assert summary["TargetArn"] == world.tdg_arn
    assert summary["Tags"][LOGICAL_ID_TAG] == "NewName"


# Update ---------------------------------------------------------------------------------------------


def test_update_with_a_new_target_moves_in_place(stack, world, connect):
    assert stack.create("MainLine", assign(world)).ok

    response = stack.update("MainLine", assign(world, TargetArn=world.tdg_arn))

    assert response.ok, response.reason
    assert response.physical_id == world.number_arn
    assert response.data["PreviousTargetArn"] == world.instance_a_arn
    assert describe(connect, world.number_arn)["TargetArn"] == world.tdg_arn


def test_switching_between_id_and_arn_of_the_same_number_is_not_a_replacement(stack, world, aws_env):
    assert stack.create("MainLine", assign(world)).ok
    moves_before = len(aws_env.control.moves())

    response = stack.update("MainLine", assign(world, PhoneNumberId=world.number_arn))

    assert response.ok
    assert response.physical_id == world.number_arn
    assert len(aws_env.control.moves()) == moves_before


def test_update_with_another_number_is_a_replacement(stack, world, connect):
    assert stack.create("MainLine", assign(world)).ok
    old = stack.resources["MainLine"]

    response = stack.update("MainLine", assign(world, PhoneNumberId=world.other_number_id))

    assert response.ok, response.reason
    assert response.physical_id == world.other_number_arn
    assert describe(connect, world.other_number_arn)["TargetArn"] == world.instance_b_arn
    # CloudFormation then deletes the old physical ID (OnDelete Retain: it stays, untagged).
    cleanup = stack.send("Delete", "MainLine", old.properties, physical_id=old.physical_id)
    assert cleanup.ok
    old_summary = describe(connect, world.number_arn)
    assert old_summary["TargetArn"] == world.instance_b_arn
    assert not [key for key in old_summary["Tags"] if key.startswith("PhoneNumberAssignment:")]


def test_update_and_its_rollback_are_two_moves_with_different_tokens(stack, world, connect, aws_env):
    assert stack.create("MainLine", assign(world)).ok
    assert stack.update("MainLine", assign(world, TargetArn=world.tdg_arn)).ok

    rollback = stack.update("MainLine", assign(world))  # UPDATE_ROLLBACK sends the old properties

    assert rollback.ok, rollback.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn
    tokens = [call["params"]["ClientToken"] for call in calls_named(aws_env.control, "UpdatePhoneNumber")]
    assert len(tokens) == 3
    assert len(set(tokens)) == 3


def test_update_repairs_a_number_moved_by_hand(stack, world, connect, aws_env):
    assert stack.create("MainLine", assign(world)).ok
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.tdg_arn)
    # Once Describe shows the hand move (right after it, the service still shows the old target: no provider
    # can see a move it did not make until then).
    time.sleep(STALE_SECONDS)

    response = stack.update("MainLine", assign(world, OnDelete="Restore"))

    assert response.ok, response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


def test_invalid_update_fails_without_changing_anything(stack, world, connect, aws_env):
    assert stack.create("MainLine", assign(world)).ok
    calls_before = len(aws_env.control.calls())

    response = stack.update("MainLine", assign(world, OnDelete="Destroy"))

    assert response.status == "FAILED"
    assert "OnDelete" in response.reason
    assert response.physical_id == world.number_arn
    assert len(aws_env.control.calls()) == calls_before


# Delete ---------------------------------------------------------------------------------------------


def test_delete_after_a_create_that_failed_early_calls_nothing(stack, world, aws_env):
    failed = stack.create("MainLine", assign(world, OnDelete="Sometimes"))
    assert failed.status == "FAILED"

    response = stack.send(
        "Delete", "MainLine", assign(world, OnDelete="Sometimes"), physical_id=failed.physical_id
    )

    assert response.ok, response.reason
    assert aws_env.control.calls() == []


def test_delete_with_retain_leaves_the_number_where_it_is_and_removes_the_tags(stack, world, connect):
    assert stack.create("MainLine", assign(world)).ok

    response = stack.delete("MainLine")

    assert response.ok, response.reason
    summary = describe(connect, world.number_arn)
    assert summary["TargetArn"] == world.instance_b_arn
    assert summary["Tags"] == {}


def test_delete_with_restore_moves_the_number_back_and_removes_the_tags(stack, world, connect):
    assert stack.create("MainLine", assign(world, OnDelete="Restore")).ok

    response = stack.delete("MainLine")

    assert response.ok, response.reason
    summary = describe(connect, world.number_arn)
    assert summary["TargetArn"] == world.instance_a_arn
    assert summary["PhoneNumberStatus"]["Status"] == "CLAIMED"
    assert summary["Tags"] == {}


def test_rollback_delete_after_a_failed_move_restores_the_number(stack, world, connect, aws_env):
    # Longer than the Create's 6 s of budget, short enough for the Delete to wait out; CloudFormation waits
    # too little longer (ServiceTimeout) for the Create to continue in another invocation.
    aws_env.control.configure(move_seconds=8)
    failed = stack.create(
        "MainLine", assign(world, OnDelete="Restore", ServiceTimeout="30"), timeout_seconds=24
    )
    assert failed.status == "FAILED"
    assert failed.physical_id == world.number_arn
    aws_env.control.configure(move_seconds=0.6)

    response = stack.send(
        "Delete", "MainLine", assign(world, OnDelete="Restore"), physical_id=failed.physical_id
    )

    assert response.ok, response.reason
    summary = describe(connect, world.number_arn)
    assert summary["TargetArn"] == world.instance_a_arn
    assert summary["Tags"] == {}


@pytest.mark.releases_by_hand
def test_delete_of_a_number_that_no_longer_exists_succeeds(stack, world, connect):
    assert stack.create("MainLine", assign(world, OnDelete="Restore")).ok
    connect.release_phone_number(PhoneNumberId=world.number_id)

    assert stack.delete("MainLine").ok


def test_delete_leaves_a_number_this_resource_no_longer_owns_alone(stack, new_stack, world, connect, aws_env):
    assert stack.create("MainLine", assign(world, OnDelete="Restore")).ok
    # The resource was retained (DELETE_SKIPPED), so another stack took the number over; a Delete for the old
    # resource that arrives after that (a redelivery, say) must not touch it.
    resource = stack.resources["MainLine"]
    stack.retain("MainLine")
    other = new_stack("payments-stack")
    assert other.create("Hotline", assign(world)).ok
    calls_before = len(mutating_calls(aws_env.control))

    late = stack.send("Delete", "MainLine", resource.properties, physical_id=resource.physical_id)

    assert late.ok, late.reason

    assert len(mutating_calls(aws_env.control)) == calls_before
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


def test_restore_to_a_target_that_is_gone_fails_and_says_how_to_retain(stack, world, connect):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.tdg_arn)
    assert stack.create("MainLine", assign(world, OnDelete="Restore")).ok
    connect.delete_traffic_distribution_group(TrafficDistributionGroupId=world.tdg)

    response = stack.delete("MainLine")

    assert response.status == "FAILED"
    assert world.tdg_arn in response.reason
    assert "Retain" in response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


# Delivery -------------------------------------------------------------------------------------------


def test_the_same_event_delivered_twice_moves_once(stack, world, aws_env):
    first = stack.create("MainLine", assign(world))
    again = stack.deliver(first.event)

    assert first.ok
    assert again.ok
    assert again.physical_id == first.physical_id
    assert len(aws_env.control.moves()) == 1


def test_a_failed_status_left_by_an_earlier_move_is_not_taken_for_this_moves_outcome(
    stack, world, connect, aws_env
):
    aws_env.control.fail_next_move("Carrier rejected the port")
    assert stack.create("MainLine", assign(world)).status == "FAILED"
    assert describe(connect, world.number_arn)["PhoneNumberStatus"]["Status"] == "FAILED"
    # Right after the next call the service still shows that FAILED status for a while.
    aws_env.control.configure(move_seconds=2.0, stale_seconds=1.6)

    retry = stack.create("MainLine", assign(world))

    assert retry.ok, retry.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


# ---- DescribePhoneNumber's InstanceId is optional (issue 31, point 9) --------------------------------------


@pytest.mark.parametrize("starts_on", ["instance", "traffic distribution group"])
def test_a_number_put_back_routes_to_its_flow_when_connect_leaves_out_its_instance(
    starts_on, stack, new_stack, world, connect, aws_env
):
    from tests.provider.test_contact_flow import _routed_by_hand, flows_of

    if starts_on == "traffic distribution group":  # its home instance is A
        setup = new_stack("setup")
        assert setup.create("Line", assign(world, TargetArn=world.tdg_arn)).ok
        setup.set_status("DELETE_IN_PROGRESS")
        assert setup.delete("Line").ok
    where = describe(connect, world.number_arn)["TargetArn"]
    _routed_by_hand(connect, world)
    aws_env.control.configure(omit_instance_id=True)
    assert "InstanceId" not in describe(connect, world.number_arn)

    created = stack.create("MainLine", assign(world, OnDelete="Restore"))
    assert created.ok, created.reason
    assert created.data["PreviousContactFlowArn"] == world.flow_a_arn
    stack.set_status("DELETE_IN_PROGRESS")
    deleted = stack.delete("MainLine")

    assert deleted.ok, deleted.reason
    assert describe(connect, world.number_arn)["TargetArn"] == where
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}
