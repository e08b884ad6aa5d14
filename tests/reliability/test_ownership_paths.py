"""Ownership through the handler: slowness, duplicates in one stack, renames and their rollbacks, creates
CloudFormation cancels, and owners CloudFormation no longer holds.

Every test plays CloudFormation with the local stand-in, which tells the emulator what CloudFormation knows
about each stack and resource (so the provider's DescribeStackResource/DescribeStacks get real answers), and
checks the end state on the number (target, tags) and in the ownership record.
"""

from __future__ import annotations

import threading
import time
import uuid

import boto3
import pytest

from local_aws.cloudformation import build_event, stack_arn
from phone_number_assignment import clients
from phone_number_assignment.records import OwnershipRecords, Record, State
from phone_number_assignment.tags import LOGICAL_ID_TAG, PREVIOUS_TARGET_TAG, STACK_TAG, Owner, owner_tags
from phone_number_assignment.waiting import Budget
from tests.conftest import REGION
from tests.reliability.helpers import (
    captured_logs,
    mutating,
    operations,
    ownership_record,
    props,
    provider_tags,
    released,
    state_of,
    wait_until,
)


def seed_owner(aws_env, connect, world, owner: Owner, *, tags: bool = True) -> None:
    """A number assigned to ``owner`` by an earlier request (its record, and its tags)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    records = OwnershipRecords(dynamodb, Budget(30))
    assert records.create(
        Record(world.number_arn, owner, State.ASSIGNED, world.instance_a_arn, world.instance_a_arn)
    )
    if tags:
        connect.tag_resource(resourceArn=world.number_arn, tags=owner_tags(owner, world.instance_a_arn))


def assert_owned_by(connect, aws_env, world, owner_stack, logical_id, *, target, previous):
    tags = provider_tags(connect, world.number_arn)
    assert (tags[STACK_TAG], tags[LOGICAL_ID_TAG], tags[PREVIOUS_TARGET_TAG]) == (
        owner_stack.stack_id,
        logical_id,
        previous,
    )
    record = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert (record["StackId"], record["LogicalResourceId"], record["State"]) == (
        owner_stack.stack_id,
        logical_id,
        "ASSIGNED",
    )
    assert record["PreviousTargetArn"] == previous
    assert state_of(connect, world.number_arn)["target"] == target


def assert_back_where_it_was(connect, aws_env, world):
    assert provider_tags(connect, world.number_arn) == {}
    assert released(aws_env.endpoint_url, world.number_arn)
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_a_arn, "CLAIMED")


# ---- slowness never fails a request -------------------------------------------------------------------


def test_every_call_answering_slowly_makes_the_lifecycle_slower_never_failed(stack, world, connect, aws_env):
    # 0.8 s per Connect answer (a loaded service, a slow network): the old tag-claim protocol failed every
    # Create within 8 s, deterministically.
    aws_env.control.configure(latency_seconds=0.8)

    created = stack.create("MainLine", props(world, OnDelete="Restore"))
    updated = stack.update("MainLine", props(world, OnDelete="Restore", TargetArn=world.tdg_arn))
    deleted = stack.delete("MainLine")

    assert [created.status, updated.status, deleted.status] == ["SUCCESS"] * 3, [
        created.reason,
        updated.reason,
        deleted.reason,
    ]
    assert_back_where_it_was(connect, aws_env, world)


# ---- two resources of one stack ------------------------------------------------------------------------


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_two_resources_of_one_stack_declaring_one_number_at_once_exactly_one_wins(
    stack, world, connect, aws_env
):
    aws_env.control.configure(move_seconds=2)
    start = threading.Barrier(2)
    responses = {}

    def create(logical_id, target):
        start.wait()
        responses[logical_id] = stack.create(logical_id, props(world, TargetArn=target))

    racers = [
        threading.Thread(target=create, args=args)
        for args in (("First", world.instance_b_arn), ("Second", world.tdg_arn))
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    winners = [logical for logical, response in responses.items() if response.ok]
    assert len(winners) == 1, {logical: r.reason for logical, r in responses.items()}
    [winner] = winners
    [loser] = [logical for logical in responses if logical != winner]
    assert f"already declared by {winner} in this stack" in responses[loser].reason
    target = props(world, TargetArn=world.instance_b_arn if winner == "First" else world.tdg_arn)["TargetArn"]
    assert_owned_by(connect, aws_env, world, stack, winner, target=target, previous=world.instance_a_arn)
    # The loser's rollback takes nothing from the winner.
    assert stack.send("Delete", loser, props(world), physical_id=responses[loser].physical_id).ok
    assert_owned_by(connect, aws_env, world, stack, winner, target=target, previous=world.instance_a_arn)


def test_a_second_resource_of_a_stack_being_created_is_refused_even_after_the_first_succeeded(
    stack, world, connect, aws_env
):
    assert stack.create("First", props(world)).ok
    since = len(aws_env.control.calls())

    second = stack.create("Second", props(world, TargetArn=world.tdg_arn))

    assert second.status == "FAILED"
    assert "already declared by First in this stack" in second.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert_owned_by(
        connect, aws_env, world, stack, "First", target=world.instance_b_arn, previous=world.instance_a_arn
    )


# ---- renames --------------------------------------------------------------------------------------------


def test_a_rename_rolled_back_leaves_the_number_and_its_restore_target_with_the_old_logical_id(
    stack, world, connect, aws_env, clock
):
    assert stack.create("OldName", props(world, OnDelete="Restore")).ok
    clock.advance(60)  # a rename comes in a later stack operation
    stack.set_status("UPDATE_IN_PROGRESS")
    renamed = stack.create("NewName", props(world, TargetArn=world.tdg_arn, OnDelete="Restore"))
    assert renamed.ok, renamed.reason
    assert_owned_by(
        connect, aws_env, world, stack, "NewName", target=world.tdg_arn, previous=world.instance_a_arn
    )

    # Another resource fails: CloudFormation rolls the update back, deleting the new logical ID.
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
    rollback = stack.delete("NewName")

    assert rollback.ok, rollback.reason
    # Not OnDelete: Restore of NewName (the number never stopped being declared by OldName).
    assert_owned_by(
        connect, aws_env, world, stack, "OldName", target=world.instance_b_arn, previous=world.instance_a_arn
    )
    # And the old resource's own Restore still knows where the number came from.
    stack.set_status("DELETE_IN_PROGRESS")
    assert stack.delete("OldName").ok
    assert_back_where_it_was(connect, aws_env, world)


def test_a_rename_that_completes_lets_the_old_logical_id_go_without_touching_the_number(
    stack, world, connect, aws_env, clock
):
    assert stack.create("OldName", props(world, OnDelete="Restore")).ok
    clock.advance(60)  # a rename comes in a later stack operation
    stack.set_status("UPDATE_IN_PROGRESS")
    assert stack.create("NewName", props(world, OnDelete="Restore")).ok
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    since = len(aws_env.control.calls())

    assert stack.delete("OldName").ok  # its OnDelete: Restore does not apply: the number is NewName's

    assert mutating(operations(aws_env.control, since)) == []
    assert_owned_by(
        connect, aws_env, world, stack, "NewName", target=world.instance_b_arn, previous=world.instance_a_arn
    )
    assert "Predecessor" not in ownership_record(aws_env.endpoint_url, world.number_arn)


def test_a_takeover_connect_refuses_leaves_the_old_owner_in_place(
    stack, new_stack, world, connect, aws_env, clock
):
    assert stack.create("OldName", props(world)).ok
    clock.advance(60)  # a rename comes in a later stack operation
    stack.set_status("UPDATE_IN_PROGRESS")
    aws_env.control.fail_next_move("Carrier rejected the port")

    failed = stack.create("NewName", props(world, TargetArn=world.tdg_arn))

    assert failed.status == "FAILED"
    assert_owned_by(
        connect, aws_env, world, stack, "OldName", target=world.instance_b_arn, previous=world.instance_a_arn
    )
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
    assert stack.send("Delete", "NewName", props(world), physical_id=failed.physical_id).ok
    assert_owned_by(
        connect, aws_env, world, stack, "OldName", target=world.instance_b_arn, previous=world.instance_a_arn
    )
    # Nobody else can take it meanwhile.
    refused = new_stack("other").create("Line", props(world, TargetArn=world.tdg_arn))
    assert refused.status == "FAILED"
    assert f"already assigned by OldName in stack {stack.stack_id}" in refused.reason


# ---- creates CloudFormation cancels ---------------------------------------------------------------------


def test_a_create_cancelled_before_it_took_the_number_changes_nothing(
    stack, world, connect, aws_env, receiver
):
    # CloudFormation sent the Create, cancelled it, and sent its Delete; the Create is delivered last.
    create = build_event(
        "Create",
        properties=props(world),
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
    )
    cancel = stack.send("Delete", "MainLine", props(world), physical_id="MainLine-Cancelled-1234")
    assert cancel.ok, cancel.reason
    since = len(aws_env.control.calls())

    late = stack.deliver(create)

    assert late.status == "FAILED"
    assert "cancelled this Create" in late.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert_back_where_it_was(connect, aws_env, world)


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_a_create_cancelled_mid_move_is_undone_whichever_finishes_last(stack, world, connect, aws_env):
    aws_env.control.configure(move_seconds=3)
    results = {}
    creating = threading.Thread(
        target=lambda: results.setdefault("create", stack.create("MainLine", props(world)))
    )
    creating.start()
    try:
        wait_until(lambda: aws_env.control.moves())
        # Another resource failed: CloudFormation cancels the Create and sends its Delete at once.
        cancel = stack.send("Delete", "MainLine", props(world), physical_id="MainLine-Cancelled-5678")
    finally:
        creating.join()

    assert cancel.ok, cancel.reason
    assert results["create"].status == "FAILED"
    assert_back_where_it_was(connect, aws_env, world)
    # No move for this stack after the cancellation but the one putting the number back.
    assert [move["to_target"] for move in aws_env.control.moves()] == [
        world.instance_b_arn,
        world.instance_a_arn,
    ]


def test_a_cancelled_create_does_not_stop_a_later_create_of_the_same_logical_id(
    stack, world, connect, aws_env
):
    assert stack.send("Delete", "MainLine", props(world), physical_id="MainLine-Cancelled-9").ok
    # CloudFormation sends the next Create of this logical ID in a later stack operation: requests are told
    # apart by the second they were signed in.
    time.sleep(1.1)

    again = stack.create("MainLine", props(world))

    assert again.ok, again.reason
    assert_owned_by(
        connect, aws_env, world, stack, "MainLine", target=world.instance_b_arn, previous=world.instance_a_arn
    )


# ---- owners CloudFormation no longer holds ---------------------------------------------------------------


@pytest.mark.parametrize(
    "gone",
    [
        "stack deleted, resource retained",
        "resource removed with Retain",
        "replaced with Retain",
        "logical ID gone",
        "stack never existed",
    ],
)
def test_an_owner_cloudformation_no_longer_holds_is_taken_over_and_the_log_says_so(
    gone, stack, new_stack, world, connect, aws_env
):
    old = new_stack("old-stack")
    if gone == "stack never existed":
        seed_owner(
            aws_env, connect, world, Owner(stack_arn("long-gone", stack_uuid=str(uuid.uuid4())), "MainLine")
        )
    elif gone == "logical ID gone":
        seed_owner(aws_env, connect, world, Owner(old.stack_id, "Ghost"))
    else:
        assert old.create("MainLine", props(world)).ok
        if gone == "stack deleted, resource retained":
            old.delete_stack(retain=True)
        elif gone == "resource removed with Retain":
            old.retain("MainLine")
        else:  # UpdateReplacePolicy: Retain: the resource now names another number
            old.play("MainLine", "UPDATE_COMPLETE", world.other_number_arn)

    with captured_logs() as logs:
        taken = stack.create("MainLine", props(world, TargetArn=world.tdg_arn, OnDelete="Restore"))

    assert taken.ok, taken.reason
    assert "no longer holds the number; taking it" in logs.text()
    previous = state_of(connect, world.number_arn)
    assert_owned_by(
        connect,
        aws_env,
        world,
        stack,
        "MainLine",
        target=world.tdg_arn,
        previous=taken.data["PreviousTargetArn"],
    )
    assert previous["target"] == world.tdg_arn


def test_an_owner_cloudformation_cannot_be_asked_about_is_never_taken(
    stack, new_stack, world, connect, aws_env, monkeypatch
):
    old = new_stack("old-stack")
    assert old.create("MainLine", props(world)).ok
    old.delete_stack(retain=True)
    # Nothing listens there: CloudFormation cannot be asked.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    clients.cloudformation_client.cache_clear()
    since = len(aws_env.control.calls())

    # The unreachable endpoint is retried until the budget runs out; botocore's own retry pauses in real
    # time, so a short budget (timeout - app.RESPONSE_RESERVE_SECONDS) keeps the test quick, and a
    # ServiceTimeout that leaves no later invocation to continue in (CloudFormation's time is out too).
    refused = stack.create(
        "MainLine", props(world, TargetArn=world.tdg_arn, ServiceTimeout="40"), timeout_seconds=25
    )

    assert refused.status == "FAILED"
    assert old.stack_id in refused.reason
    assert "cloudformation:DescribeStackResource" in refused.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["StackId"] == old.stack_id
