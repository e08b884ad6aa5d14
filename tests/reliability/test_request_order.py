"""One order per number: a cancelled, late or repeated request never wins, and a rollback leaves every number
where it was (issue 24).

CloudFormation does not wait for a request it has given up on: it cancels a running Create or Update and
sends the rollback's Delete or Update at once, while the first invocation keeps running; Lambda may deliver an
event again after a later request has finished. Each test sends what CloudFormation sends, in the order it
can arrive, and checks where the number ends, who owns it, and that no move was made for a request
CloudFormation no longer waits for. The interleavings are driven by the emulator's throttling (a request
whose UpdatePhoneNumber is being retried) and by the test's clock, not by sleeps.
"""

from __future__ import annotations

import threading

import pytest

from local_aws.cloudformation import build_event
from tests.reliability.helpers import (
    mutating,
    operations,
    ownership_record,
    props,
    provider_tags,
    released,
    state_of,
    wait_until,
)


def _on(connect, world, target):
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (target, "CLAIMED")


def _moves_to(aws_env):
    return [move["to_target"] for move in aws_env.control.moves()]


# ---- a rollback leaves every number where it was, whatever OnDelete says ----------------------------------


@pytest.mark.parametrize("rollback", ["ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_a_rollback_delete_of_a_create_that_succeeded_puts_the_number_back_even_with_retain(
    rollback, stack, world, connect, aws_env
):
    # The stack's creation (or the update that added this resource) fails on another resource.
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    _on(connect, world, world.instance_b_arn)

    stack.set_status(rollback)
    undone = stack.delete("MainLine")

    assert undone.ok, undone.reason
    _on(connect, world, world.instance_a_arn)
    assert provider_tags(connect, world.number_arn) == {}
    assert released(aws_env.endpoint_url, world.number_arn)


def test_a_deliberate_delete_keeps_what_on_delete_retain_keeps(stack, world, connect, aws_env):
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    stack.set_status("DELETE_IN_PROGRESS")
    since = len(aws_env.control.calls())

    assert stack.delete("MainLine").ok

    _on(connect, world, world.instance_b_arn)
    assert [
        call for call in mutating(operations(aws_env.control, since)) if call[0] == "UpdatePhoneNumber"
    ] == []
    assert released(aws_env.endpoint_url, world.number_arn)


# ---- a late or repeated delivery never acts after a newer request -----------------------------------------


def test_a_create_delivered_again_after_its_delete_finished_changes_nothing(
    stack, world, connect, aws_env, receiver
):
    created = stack.create("MainLine", props(world, OnDelete="Restore"))
    assert created.ok, created.reason
    stack.set_status("DELETE_IN_PROGRESS")
    assert stack.delete("MainLine").ok
    _on(connect, world, world.instance_a_arn)
    since = len(aws_env.control.calls())

    stack.deliver(created.event)

    late = receiver.responses(created.event["RequestId"])[-1]  # the first delivery's answer came first
    assert late["Status"] == "FAILED"
    assert "cancelled this Create" in late["Reason"]
    assert mutating(operations(aws_env.control, since)) == []
    _on(connect, world, world.instance_a_arn)
    # The record still says released (not MOVING): nobody else is refused for a stack that is gone.
    record = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert record["State"] == "RELEASED"


def test_an_update_delivered_again_after_the_next_update_changes_nothing(
    stack, world, connect, aws_env, clock, receiver
):
    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    first = stack.update("MainLine", props(world, TargetArn=world.tdg_arn))
    assert first.ok, first.reason
    clock.advance(60)
    assert stack.update("MainLine", props(world)).ok
    _on(connect, world, world.instance_b_arn)
    since = len(aws_env.control.calls())

    stack.deliver(first.event)

    late = receiver.responses(first.event["RequestId"])[-1]
    assert late["Status"] == "FAILED"
    assert "newer Update" in late["Reason"]
    assert mutating(operations(aws_env.control, since)) == []
    _on(connect, world, world.instance_b_arn)


# ---- a request CloudFormation has stopped waiting for never wins -------------------------------------------


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_a_cancelled_update_being_throttled_never_moves_after_its_rollback(stack, world, connect, aws_env):
    assert stack.create("MainLine", props(world)).ok
    # The first Update's UpdatePhoneNumber is throttled again and again while its rollback runs.
    aws_env.control.inject_error("UpdatePhoneNumber", "ThrottlingException", count=3)
    results = {}
    updating = threading.Thread(
        target=lambda: results.setdefault(
            "update", stack.update("MainLine", props(world, TargetArn=world.tdg_arn))
        )
    )
    updating.start()
    try:
        wait_until(lambda: "ThrottlingException" in [error for _, error in operations(aws_env.control)])
        # Another resource failed: CloudFormation cancels the Update and sends the rollback Update at once.
        rollback = stack.cancel_update("MainLine", props(world, TargetArn=world.tdg_arn))
    finally:
        updating.join()

    assert rollback.ok, rollback.reason
    assert results["update"].status == "FAILED"
    assert "newer Update" in results["update"].reason
    # The cancelled Update's move was never started: its fence ran before each retry.
    assert _moves_to(aws_env) == [world.instance_b_arn]
    _on(connect, world, world.instance_b_arn)
    record = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert (record["State"], record["TargetArn"], record["RequestId"]) == (
        "ASSIGNED",
        world.instance_b_arn,
        rollback.event["RequestId"],
    )


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_a_cancelled_create_being_throttled_never_moves_after_its_delete_answered(
    stack, world, connect, aws_env
):
    aws_env.control.inject_error("UpdatePhoneNumber", "ThrottlingException", count=3)
    results = {}
    creating = threading.Thread(
        target=lambda: results.setdefault("create", stack.create("MainLine", props(world, OnDelete="Retain")))
    )
    creating.start()
    try:
        wait_until(lambda: "ThrottlingException" in [error for _, error in operations(aws_env.control)])
        cancel = stack.cancel_create("MainLine", props(world))
    finally:
        creating.join()

    assert cancel.ok, cancel.reason
    assert results["create"].status == "FAILED"
    # The stand-in, like CloudFormation, recorded nothing of the cancelled Create's late answer.
    assert "MainLine" not in stack.resources
    assert _moves_to(aws_env) == []
    _on(connect, world, world.instance_a_arn)
    assert provider_tags(connect, world.number_arn) == {}
    assert released(aws_env.endpoint_url, world.number_arn)


def test_a_request_past_cloudformations_deadline_starts_no_move(stack, world, aws_env, receiver, clock):
    # Queued in Lambda for most of an hour: CloudFormation (no ServiceTimeout: one hour) is about to give up.
    event = build_event(
        "Create",
        properties=props(world),
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        sent_at=clock.time() - 3590,
    )

    late = stack.deliver(event)

    assert late.status == "FAILED"
    assert "CloudFormation sent the request" in late.reason
    assert mutating(operations(aws_env.control)) == []


def test_a_request_without_a_signing_time_is_treated_as_old_and_changes_nothing(
    stack, world, aws_env, receiver
):
    url = receiver.url_for(stack.stack_id, "unsigned-request")
    unsigned = "&".join(part for part in url.split("&") if not part.startswith("X-Amz-Date="))
    event = build_event(
        "Create",
        properties=props(world),
        response_url=unsigned,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        request_id="unsigned-request",
    )

    refused = stack.deliver(event)

    assert refused.status == "FAILED"
    assert "no signing time" in refused.reason
    assert aws_env.control.calls() == []


# ---- two resources of one stack operation ------------------------------------------------------------------


def test_two_resources_added_by_one_update_never_both_own_a_number(stack, world, connect, aws_env, clock):
    assert stack.create("Existing", props(world, PhoneNumberId=world.other_number_id)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    assert stack.create("First", props(world)).ok

    second = stack.create("Second", props(world, TargetArn=world.tdg_arn))

    assert second.status == "FAILED"
    assert "already declared by First in this stack" in second.reason
    _on(connect, world, world.instance_b_arn)
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["LogicalResourceId"] == "First"


def test_a_rename_in_a_later_update_still_takes_the_number_over(stack, world, connect, aws_env, clock):
    assert stack.create("OldName", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")

    renamed = stack.create("NewName", props(world))

    assert renamed.ok, renamed.reason
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["LogicalResourceId"] == "NewName"


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_a_cancelled_creates_move_that_lands_after_its_delete_answered_is_put_back_by_the_create(
    stack, world, connect, aws_env
):
    # Describe keeps showing the old place for longer than the Delete waits for a move to show (5 s): the
    # Delete finds the number unmoved and answers; then the Create's move lands.
    aws_env.control.configure(stale_seconds=6.5, move_seconds=7)
    results = {}
    creating = threading.Thread(
        target=lambda: results.setdefault("create", stack.create("MainLine", props(world, OnDelete="Retain")))
    )
    creating.start()
    try:
        wait_until(lambda: aws_env.control.moves())
        cancel = stack.cancel_create("MainLine", props(world))
        assert cancel.ok, cancel.reason
    finally:
        creating.join()

    assert results["create"].status == "FAILED"
    # The overtaken Create saw its own move land and put the number where the newer request (the Delete)
    # wants it: where it was.
    assert _moves_to(aws_env) == [world.instance_b_arn, world.instance_a_arn]
    _on(connect, world, world.instance_a_arn)
    assert provider_tags(connect, world.number_arn) == {}
    assert released(aws_env.endpoint_url, world.number_arn)


# ---- a replacement's old number is not free until the update can no longer roll back -----------------------


def test_a_replaced_number_is_not_free_until_the_update_can_no_longer_roll_back(
    stack, new_stack, world, connect, aws_env, clock
):
    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    replaced = stack.update("MainLine", props(world, PhoneNumberId=world.other_number_id))
    assert replaced.ok, replaced.reason
    other = new_stack("other-stack")

    # The update may still roll back to the first number: another stack cannot take it yet.
    refused = other.create("Line", props(world, TargetArn=world.tdg_arn))
    assert refused.status == "FAILED"
    assert "already assigned by MainLine" in refused.reason
    _on(connect, world, world.instance_b_arn)

    # Committed: the clean-up's Delete of the old number is on its way, and the number is free to take.
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    taken = other.create("Line", props(world, TargetArn=world.tdg_arn))
    assert taken.ok, taken.reason


@pytest.mark.parametrize("first", ["rollback-update", "delete-of-the-new-resource"])
def test_a_swap_of_numbers_within_one_stack_rolls_back_cleanly(first, stack, world, connect, aws_env, clock):
    other_was = state_of(connect, world.other_number_arn)["target"]
    assert stack.create("A", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    # One update: a new resource B takes A's number (a rename), and A is replaced by another number.
    assert stack.create("B", props(world, TargetArn=world.tdg_arn)).ok
    assert stack.update("A", props(world, PhoneNumberId=world.other_number_id)).ok

    # Another resource fails: CloudFormation rolls A back (an Update to its old properties, its physical ID
    # the original number) and deletes B, in either order; then it cleans up A's replacement number.
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")

    def roll_back_a():
        return stack.send(
            "Update",
            "A",
            props(world),
            physical_id=world.number_arn,
            old_properties=props(world, PhoneNumberId=world.other_number_id),
        )

    def delete_b():
        return stack.send("Delete", "B", props(world, TargetArn=world.tdg_arn), physical_id=world.number_arn)

    steps = [roll_back_a, delete_b] if first == "rollback-update" else [delete_b, roll_back_a]
    for step in steps:
        answered = step()
        assert answered.ok, answered.reason
    stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    cleaned = stack.send(
        "Delete", "A", props(world, PhoneNumberId=world.other_number_id), physical_id=world.other_number_arn
    )
    assert cleaned.ok, cleaned.reason

    # Every number where it was before the update, owned as it was.
    _on(connect, world, world.instance_b_arn)
    record = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert (record["LogicalResourceId"], record["State"]) == ("A", "ASSIGNED")
    assert state_of(connect, world.other_number_arn)["target"] == other_was
    assert released(aws_env.endpoint_url, world.other_number_arn)


# ---- the fence does not depend on the number's history (issue 31, point 1) --------------------------------


def _released_by_another_stack(new_stack, world, connect, arn, number_id):
    """The number carries another stack's RELEASED record (a hand-over with OnDelete: Retain leaves one)."""
    other = new_stack("earlier-owner")
    assert other.create("Line", props(world, PhoneNumberId=number_id, OnDelete="Retain")).ok
    other.set_status("DELETE_IN_PROGRESS")
    assert other.delete("Line").ok
    return other, state_of(connect, arn)["target"]


def test_a_cancelled_create_whose_delete_ran_first_changes_nothing_on_a_number_another_stack_released(
    stack, new_stack, world, connect, aws_env, receiver, clock
):
    other, where = _released_by_another_stack(new_stack, world, connect, world.number_arn, world.number_id)
    before = ownership_record(aws_env.endpoint_url, world.number_arn)
    assert (before["StackId"], before["State"]) == (other.stack_id, "RELEASED")
    create = build_event(
        "Create",
        properties=props(world, TargetArn=world.tdg_arn),
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        sent_at=clock.time(),
    )
    clock.advance(1)
    # CloudFormation cancels the Create and sends its Delete (a made-up physical ID), which runs first.
    cancel = stack.send("Delete", "MainLine", props(world, TargetArn=world.tdg_arn), physical_id="ML-X1")
    assert cancel.ok, cancel.reason
    since = len(aws_env.control.calls())

    late = stack.deliver(create)

    assert late.status == "FAILED"
    assert "cancelled this Create" in late.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert state_of(connect, world.number_arn)["target"] == where
    assert provider_tags(connect, world.number_arn) == {}
    assert ownership_record(aws_env.endpoint_url, world.number_arn) == before


@pytest.mark.parametrize("new_number_has", ["no record", "another stack's record"])
def test_a_cancelled_replacement_whose_rollback_ran_first_never_takes_the_new_number(
    new_number_has, stack, new_stack, world, connect, aws_env, receiver, clock
):
    if new_number_has == "another stack's record":
        _released_by_another_stack(new_stack, world, connect, world.other_number_arn, world.other_number_id)
    before = ownership_record(aws_env.endpoint_url, world.other_number_arn)
    where = state_of(connect, world.other_number_arn)["target"]
    clock.advance(60)
    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    replacement = props(world, PhoneNumberId=world.other_number_id)
    cancelled = build_event(
        "Update",
        properties=replacement,
        old_properties=props(world),
        physical_id=world.number_arn,
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        sent_at=clock.time(),
    )
    clock.advance(1)
    # Another resource failed: the rollback Update runs before the cancelled replacement has done anything.
    rollback = stack.cancel_update("MainLine", replacement)
    assert rollback.ok, rollback.reason
    since = len(aws_env.control.calls())

    late = stack.deliver(cancelled)

    assert late.status == "FAILED"
    assert "newer Update" in late.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert state_of(connect, world.other_number_arn)["target"] == where
    assert provider_tags(connect, world.other_number_arn) == {}
    assert ownership_record(aws_env.endpoint_url, world.other_number_arn) == before
    _on(connect, world, world.instance_b_arn)


# ---- an Update and its rollback signed in the same second (issue 31, point 8) ------------------------------


def _update_and_its_rollback_in_one_second(stack, world, receiver, clock):
    """An Update CloudFormation cancels and the rollback Update it sends at once, both signed now."""
    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    declared, cancelled_properties = props(world), props(world, TargetArn=world.tdg_arn)
    sent_at = clock.time()

    def event(properties, old_properties):
        return build_event(
            "Update",
            properties=properties,
            old_properties=old_properties,
            physical_id=world.number_arn,
            response_url=receiver.url_for,
            logical_id="MainLine",
            stack_id=stack.stack_id,
            sent_at=sent_at,
        )

    return event(cancelled_properties, declared), event(declared, cancelled_properties)


def test_a_rollback_update_that_stamps_first_in_the_same_second_wins(
    stack, world, connect, aws_env, receiver, clock
):
    cancelled, rollback = _update_and_its_rollback_in_one_second(stack, world, receiver, clock)
    # A cold start delays the cancelled Update: its rollback, signed in the same second, runs first.
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
    assert stack.deliver(rollback).ok
    since = len(aws_env.control.calls())

    late = stack.deliver(cancelled)

    assert late.status == "FAILED"
    assert "newer Update" in late.reason
    assert mutating(operations(aws_env.control, since)) == []
    _on(connect, world, world.instance_b_arn)
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["RequestId"] == rollback["RequestId"]


def test_a_rollback_update_that_stamps_last_in_the_same_second_wins(
    stack, world, connect, aws_env, receiver, clock
):
    cancelled, rollback = _update_and_its_rollback_in_one_second(stack, world, receiver, clock)
    stack.deliver(cancelled)  # CloudFormation no longer waits for its answer
    assert state_of(connect, world.number_arn)["target"] == world.tdg_arn
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")

    rolled_back = stack.deliver(rollback)

    assert rolled_back.ok, rolled_back.reason
    _on(connect, world, world.instance_b_arn)
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["RequestId"] == rollback["RequestId"]


def test_a_cancelled_update_delivered_again_after_its_same_second_rollback_stamped_last_changes_nothing(
    stack, world, connect, aws_env, receiver, clock
):
    # Found by the simulation (a walk with faults): the cancelled Update's invocation dies, its rollback
    # (same second, stamping second) succeeds, and Lambda delivers the cancelled Update again.
    cancelled, rollback = _update_and_its_rollback_in_one_second(stack, world, receiver, clock)
    stack.deliver(cancelled)
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
    assert stack.deliver(rollback).ok
    _on(connect, world, world.instance_b_arn)
    clock.advance(60)
    moves_before = len(aws_env.control.moves())

    stack.deliver(cancelled)

    assert len(aws_env.control.moves()) == moves_before
    _on(connect, world, world.instance_b_arn)
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["RequestId"] == rollback["RequestId"]


def test_a_cancelled_replacement_that_succeeded_before_its_rollback_gives_the_new_number_back(
    stack, world, connect, aws_env, receiver, clock
):
    where = state_of(connect, world.other_number_arn)["target"]
    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    replacement = props(world, PhoneNumberId=world.other_number_id)
    cancelled = build_event(
        "Update",
        properties=replacement,
        old_properties=props(world),
        physical_id=world.number_arn,
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
        sent_at=clock.time(),
    )
    # It succeeds, but CloudFormation had already cancelled it: its answer is ignored, no Delete will come.
    assert stack.deliver(cancelled).ok
    assert state_of(connect, world.other_number_arn)["target"] == world.instance_b_arn
    clock.advance(1)

    rollback = stack.cancel_update("MainLine", replacement)

    assert rollback.ok, rollback.reason
    assert state_of(connect, world.other_number_arn)["target"] == where
    assert provider_tags(connect, world.other_number_arn) == {}
    assert released(aws_env.endpoint_url, world.other_number_arn)
    _on(connect, world, world.instance_b_arn)
