"""ContactFlowArn: after a move the number rings into the declared flow, not into nothing."""

from __future__ import annotations

import pytest

from phone_number_assignment.tags import CONTACT_FLOW_TAG
from tests.conftest import ACCOUNT, REGION, describe
from tests.provider.test_lifecycle import assign, calls_named, mutating_calls


def flows_of(connect, instance_id: str) -> dict[str, str]:
    """Phone-number ARN -> flow ARN, as Connect lists the instance's voice phone-number associations."""
    summaries = connect.list_flow_associations(InstanceId=instance_id, ResourceType="VOICE_PHONE_NUMBER")
    return {item["ResourceId"]: item["FlowId"] for item in summaries["FlowAssociationSummaryList"]}


def test_create_moves_then_associates_the_declared_flow(stack, world, connect):
    response = stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert response.ok, response.reason
    assert response.data["ContactFlowArn"] == world.flow_b_arn
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn
    assert flows_of(connect, world.instance_b) == {world.number_arn: world.flow_b_arn}
    assert describe(connect, world.number_arn)["Tags"][CONTACT_FLOW_TAG] == world.flow_b_arn


def test_changing_only_the_flow_reassociates_without_a_move(stack, world, connect, aws_env):
    other_flow = connect.create_contact_flow(
        InstanceId=world.instance_b, Name="After hours", Type="CONTACT_FLOW", Content="{}"
    )["ContactFlowArn"]
    assert stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn)).ok
    moves_before = len(aws_env.control.moves())

    response = stack.update("MainLine", assign(world, ContactFlowArn=other_flow))

    assert response.ok, response.reason
    assert len(aws_env.control.moves()) == moves_before
    assert flows_of(connect, world.instance_b) == {world.number_arn: other_flow}


def test_moving_to_another_instance_associates_the_declared_flow_there(stack, world, connect):
    assert stack.create(
        "MainLine", assign(world, TargetArn=world.instance_a_arn, ContactFlowArn=world.flow_a_arn)
    ).ok
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}

    response = stack.update("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert response.ok, response.reason
    assert flows_of(connect, world.instance_b) == {world.number_arn: world.flow_b_arn}
    assert flows_of(connect, world.instance_a) == {}


def test_restore_keeps_the_association_until_connect_accepts_the_move(stack, world, connect, aws_env):
    assert stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn, OnDelete="Restore")).ok
    since = len(aws_env.control.calls())

    response = stack.delete("MainLine")

    assert response.ok, response.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    # A move drops the association (UpdatePhoneNumber "doesn't migrate the flow configuration"); nothing
    # was removed before Connect accepted the move.
    assert flows_of(connect, world.instance_b) == {}
    operations = [call["operation"] for call in aws_env.control.calls()[since:]]
    assert "DisassociatePhoneNumberContactFlow" not in operations


def test_restore_without_a_move_removes_the_association_it_made(stack, world, connect, aws_env):
    # Created where it already was: Restore does not move it, so the association is removed explicitly.
    declared = assign(
        world, TargetArn=world.instance_a_arn, ContactFlowArn=world.flow_a_arn, OnDelete="Restore"
    )
    assert stack.create("MainLine", declared).ok
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}

    response = stack.delete("MainLine")

    assert response.ok, response.reason
    assert flows_of(connect, world.instance_a) == {}
    [disassociation] = calls_named(aws_env.control, "DisassociatePhoneNumberContactFlow")
    assert disassociation["params"]["InstanceId"] == world.instance_a


@pytest.mark.parametrize("refusal", ["AccessDeniedException", "ResourceNotFoundException"])
def test_a_refused_move_leaves_routing_as_it_was(stack, world, connect, aws_env, refusal):
    assert stack.create(
        "MainLine", assign(world, TargetArn=world.instance_a_arn, ContactFlowArn=world.flow_a_arn)
    ).ok
    aws_env.control.inject_error("UpdatePhoneNumber", refusal)

    response = stack.update("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert response.status == "FAILED"
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}
    assert describe(connect, world.number_arn)["Tags"][CONTACT_FLOW_TAG] == world.flow_a_arn


def test_a_failed_move_leaves_routing_as_it_was(stack, world, connect, aws_env):
    assert stack.create(
        "MainLine", assign(world, TargetArn=world.instance_a_arn, ContactFlowArn=world.flow_a_arn)
    ).ok
    aws_env.control.fail_next_move("Number is being ported")

    response = stack.update("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert response.status == "FAILED"
    assert "Number is being ported" in response.reason
    summary = describe(connect, world.number_arn)
    assert (summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]) == (world.instance_a_arn, "FAILED")
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}


def test_retain_keeps_calls_routing_into_the_flow(stack, world, connect):
    assert stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn)).ok

    assert stack.delete("MainLine").ok

    assert flows_of(connect, world.instance_b) == {world.number_arn: world.flow_b_arn}
    assert describe(connect, world.number_arn)["Tags"] == {}


def test_a_flow_in_another_instance_fails_before_anything_changes(stack, world, aws_env):
    response = stack.create("MainLine", assign(world, ContactFlowArn=world.flow_a_arn))

    assert response.status == "FAILED"
    assert "must belong to the target instance" in response.reason
    assert aws_env.control.calls() == []


def test_a_number_on_a_traffic_distribution_group_gets_a_flow_of_the_groups_instance(stack, world, connect):
    # The group's home instance is A (tests/conftest.py): Connect associates the number there.
    response = stack.create(
        "MainLine", assign(world, TargetArn=world.tdg_arn, ContactFlowArn=world.flow_a_arn)
    )

    assert response.ok, response.reason
    assert response.data["ContactFlowArn"] == world.flow_a_arn
    assert describe(connect, world.number_arn)["TargetArn"] == world.tdg_arn
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}


def test_a_flow_outside_the_groups_instance_fails_before_anything_changes(stack, world, aws_env):
    response = stack.create(
        "MainLine", assign(world, TargetArn=world.tdg_arn, ContactFlowArn=world.flow_b_arn)
    )

    assert response.status == "FAILED"
    assert "traffic distribution group" in response.reason
    assert world.instance_a in response.reason
    assert mutating_calls(aws_env.control) == []


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_flow_that_does_not_exist_is_refused_before_anything_changes(
    stack, world, connect, aws_env, request_type
):
    ghost = world.flow_b_arn.replace(world.flow_b, "00000000-0000-4000-8000-000000000000")
    if request_type == "Update":
        assert stack.create("MainLine", assign(world)).ok
        since = len(mutating_calls(aws_env.control))
        # An update that would move the number back to A.
        ghost = world.flow_a_arn.replace(world.flow_a, "00000000-0000-4000-8000-000000000000")
        declared = assign(world, TargetArn=world.instance_a_arn, ContactFlowArn=ghost)
        response = stack.update("MainLine", declared)
    else:
        since = 0
        response = stack.create("MainLine", assign(world, ContactFlowArn=ghost))

    assert response.status == "FAILED"
    assert ghost in response.reason
    assert "does not find" in response.reason
    assert response.physical_id == world.number_arn
    # Found out with DescribeContactFlow before the move, not by the association after it.
    assert mutating_calls(aws_env.control)[since:] == []


@pytest.mark.parametrize(
    ("flow", "said"),
    [
        ({"type": "CUSTOMER_QUEUE"}, "its type is 'CUSTOMER_QUEUE', not CONTACT_FLOW"),
        ({"status": "SAVED"}, "its status is 'SAVED', not PUBLISHED"),
        ({"state": "ARCHIVED"}, "its state is 'ARCHIVED', not ACTIVE"),
    ],
)
def test_a_flow_that_is_not_a_published_inbound_flow_is_refused_before_the_move(
    flow, said, stack, world, connect, aws_env
):
    unusable = "a1b2c3d4-0000-4000-8000-000000000002"
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "contact_flows": [{"id": unusable, "instance_id": world.instance_b, "name": "queue", **flow}],
        }
    )
    flow_arn = world.flow_b_arn.replace(world.flow_b, unusable)

    response = stack.create("MainLine", assign(world, ContactFlowArn=flow_arn))

    assert response.status == "FAILED"
    assert said in response.reason
    assert "nothing was changed" in response.reason
    assert mutating_calls(aws_env.control) == []
    assert aws_env.control.moves() == []
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert [call["operation"] for call in aws_env.control.calls()].count("DescribeContactFlow") == 1


def test_a_flow_connect_says_is_not_published_is_refused_before_the_move(stack, world, connect, aws_env):
    aws_env.control.inject_error("DescribeContactFlow", "ContactFlowNotPublishedException")

    response = stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert response.status == "FAILED"
    assert "has not been published" in response.reason
    assert mutating_calls(aws_env.control) == []


# ---- routed as it was: the flow a number had before the stack took it ------------------------------------


def _routed_by_hand(connect, world) -> None:
    """The number answers calls on instance A through flow A before any stack takes it."""
    connect.associate_phone_number_contact_flow(
        PhoneNumberId=world.number_arn, InstanceId=world.instance_a, ContactFlowId=world.flow_a
    )
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}


@pytest.mark.parametrize(
    ("on_delete", "stack_status"),
    [("Restore", "DELETE_IN_PROGRESS"), ("Retain", "ROLLBACK_IN_PROGRESS")],
    ids=["restore", "rollback-with-retain"],
)
def test_a_number_put_back_routes_to_the_flow_it_had_before(on_delete, stack_status, stack, world, connect):
    _routed_by_hand(connect, world)
    created = stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn, OnDelete=on_delete))
    assert created.ok, created.reason
    assert created.data["PreviousContactFlowArn"] == world.flow_a_arn
    assert flows_of(connect, world.instance_a) == {}  # the move dropped it

    stack.set_status(stack_status)
    deleted = stack.delete("MainLine")

    assert deleted.ok, deleted.reason
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}
    assert flows_of(connect, world.instance_b) == {}


def test_a_rolled_back_create_whose_move_failed_still_routes_as_before(stack, world, connect, aws_env):
    _routed_by_hand(connect, world)
    aws_env.control.fail_next_move("Carrier rejected the port")

    failed = stack.create("MainLine", assign(world, ContactFlowArn=world.flow_b_arn))

    assert failed.status == "FAILED"
    stack.set_status("ROLLBACK_IN_PROGRESS")
    assert stack.send("Delete", "MainLine", assign(world), physical_id=failed.physical_id).ok
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert flows_of(connect, world.instance_a) == {world.number_arn: world.flow_a_arn}
