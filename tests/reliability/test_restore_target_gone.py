"""OnDelete: Restore when the target the number came from has been deleted since.

Delete must fail (never release the number, never leave it somewhere unexpected), say why, and say how to
let the stack delete anyway; following that advice must work.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import describe
from tests.reliability.helpers import errors_of, props, provider_tags, state_of


def _move_with_own_client(connect, world, target_arn):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=target_arn)
    deadline = time.monotonic() + 30
    while not (
        (summary := describe(connect, world.number_arn))["TargetArn"] == target_arn
        and summary["PhoneNumberStatus"]["Status"] == "CLAIMED"
    ):
        assert time.monotonic() < deadline, "the arranging move never finished"
        time.sleep(0.1)


def _delete_instance_a(connect, world):
    connect.delete_instance(InstanceId=world.instance_a)


def _delete_tdg(connect, world):
    connect.delete_traffic_distribution_group(TrafficDistributionGroupId=world.tdg)


@pytest.mark.parametrize("previous", ["instance", "traffic-distribution-group"])
def test_restore_to_a_deleted_target_fails_and_leaves_the_number_alone(
    previous, stack, world, connect, aws_env, clock
):
    if previous == "traffic-distribution-group":
        _move_with_own_client(connect, world, world.tdg_arn)
        previous_arn, delete_previous = world.tdg_arn, _delete_tdg
    else:
        previous_arn, delete_previous = world.instance_a_arn, _delete_instance_a
    declared = props(world, OnDelete="Restore")
    created = stack.create("MainLine", declared)
    assert created.ok, created.reason
    assert created.data["PreviousTargetArn"] == previous_arn
    owned = provider_tags(connect, world.number_arn)
    delete_previous(connect, world)
    updates_before = len(errors_of(aws_env.control, "UpdatePhoneNumber"))

    deleted = stack.delete("MainLine")

    assert (deleted.status, deleted.count) == ("FAILED", 1)
    assert previous_arn in deleted.reason
    assert "no longer exists" in deleted.reason
    assert "Retain" in deleted.reason
    assert deleted.physical_id == world.number_arn
    # Never released, never moved: still CLAIMED on B, still owned by this resource.
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, "CLAIMED")
    assert provider_tags(connect, world.number_arn) == owned
    assert None not in errors_of(aws_env.control, "UpdatePhoneNumber")[updates_before:]

    # The Reason's advice: switch to Retain, then delete again (a person takes longer than a second to).
    clock.advance(30)
    retained = stack.update("MainLine", {**declared, "OnDelete": "Retain"})
    assert retained.ok, retained.reason
    deleted = stack.delete("MainLine")
    assert deleted.ok, deleted.reason
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, "CLAIMED")
    assert provider_tags(connect, world.number_arn) == {}


def test_failed_restore_keeps_the_contact_flow_association(stack, world, connect, aws_env):
    declared = props(world, OnDelete="Restore", ContactFlowArn=world.flow_b_arn)
    assert stack.create("MainLine", declared).ok
    _delete_instance_a(connect, world)

    deleted = stack.delete("MainLine")

    assert deleted.status == "FAILED"
    associations = connect.list_flow_associations(
        InstanceId=world.instance_b, ResourceType="VOICE_PHONE_NUMBER"
    )
    assert [(a["ResourceId"], a["FlowId"]) for a in associations["FlowAssociationSummaryList"]] == [
        (world.number_arn, world.flow_b_arn)
    ]
