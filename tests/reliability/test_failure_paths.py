"""The paths between the contract's steps: a failure at each step, then what CloudFormation sends next.

Every test fails a request at one step, delivers CloudFormation's next request (the rollback's Delete or
Update, with the physical ID and properties CloudFormation would use), and checks the invariant: afterwards no
number carries this stack's tags unless the stack still declares it, and no number is somewhere no stack
declares.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from phone_number_assignment import lifecycle, ownership
from phone_number_assignment.tags import STACK_TAG
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

CLAIMED, FAILED = "CLAIMED", "FAILED"


def assert_untouched(connect, world, arn=None, *, aws_env=None):
    """Where it was before the stack, without a tag of this provider (nor, given ``aws_env``, a record)."""
    arn = arn or world.number_arn
    assert provider_tags(connect, arn) == {}
    assert state_of(connect, arn)["target"] == world.instance_a_arn
    if aws_env is not None:
        assert released(aws_env.endpoint_url, arn)


# ---- a failed Create leaves nothing owned --------------------------------------------------------------


def test_a_create_whose_tag_write_is_denied_is_moved_back_by_its_rollback_even_with_retain(
    stack, world, connect, aws_env
):
    # The owner tags are written once the number is on its target: denying them fails the Create after the
    # move, with the record still saying the request never succeeded.
    aws_env.control.inject_error("TagResource", "AccessDeniedException")

    response = stack.create("MainLine", props(world, OnDelete="Retain"))

    assert response.status == "FAILED"
    assert "connect:TagResource" in response.reason
    assert response.physical_id == world.number_arn
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "MOVING"
    rollback = stack.send("Delete", "MainLine", props(world), physical_id=response.physical_id)
    assert rollback.ok, rollback.reason
    # The assignment never existed: Retain does not apply to it.
    assert_untouched(connect, world, aws_env=aws_env)


@pytest.mark.parametrize("step", ["advance", "write_tags"])
def test_a_create_failing_inside_the_ownership_step_is_undone(
    monkeypatch, step, stack, world, connect, aws_env
):
    # An unexpected error once the record was written: before the move (its fence), or after it.
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ownership if step == "advance" else lifecycle, step, broken)

    response = stack.create("MainLine", props(world))

    assert response.status == "FAILED"
    assert "Internal error" in response.reason
    assert "a bug" not in response.reason  # no internals, no stack trace
    assert response.physical_id == world.number_arn
    monkeypatch.undo()
    rollback = stack.send("Delete", "MainLine", props(world), physical_id=response.physical_id)
    assert rollback.ok, rollback.reason
    assert_untouched(connect, world, aws_env=aws_env)


def test_a_create_cloudformation_timed_out_is_undone_by_a_delete_without_its_arn(
    stack, world, connect, aws_env
):
    # The invocation ran out of time mid-move (CloudFormation stopped waiting and never got an ARN): the
    # rollback's Delete carries some other physical ID but the same properties.
    # Longer than the Create's 6 s of budget, short enough for the Delete to wait out.
    aws_env.control.configure(move_seconds=8)
    stack.create("MainLine", props(world), timeout_seconds=24)
    aws_env.control.configure(move_seconds=0.6)

    rollback = stack.send("Delete", "MainLine", props(world), physical_id="MainLine-Timeout-1234")

    assert rollback.ok, rollback.reason
    assert_untouched(connect, world)


def test_a_delete_without_an_arn_undoes_a_create_that_succeeded_after_cloudformation_gave_up(
    stack, world, connect, aws_env
):
    # The Create finished, but CloudFormation never heard (it had cancelled or timed the Create out): the
    # stack does not declare the number, so its Delete, carrying a physical ID CloudFormation made up, puts
    # it back whatever OnDelete says.
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok

    response = stack.send("Delete", "MainLine", props(world), physical_id="MainLine-unassigned-1234")

    assert response.ok, response.reason
    assert provider_tags(connect, world.number_arn) == {}
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn


def test_a_delete_without_an_arn_never_touches_a_number_another_resource_holds(
    stack, world, connect, aws_env
):
    assert stack.create("MainLine", props(world)).ok
    since = len(aws_env.control.calls())

    response = stack.send("Delete", "OtherLine", props(world), physical_id="OtherLine-unassigned-1234")

    assert response.ok, response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["LogicalResourceId"] == "MainLine"


# ---- a failed replacement gives the new number up --------------------------------------------------------


def _failed_replacement(stack, world, aws_env, *, after_the_move: bool):
    assert stack.create("MainLine", props(world)).ok
    replacement = props(world, PhoneNumberId=world.other_number_id)
    if after_the_move:
        # The flow does not exist: the association fails once the new number is on B.
        ghost = world.flow_b_arn.replace(world.flow_b, "00000000-0000-4000-8000-000000000000")
        replacement = props(world, PhoneNumberId=world.other_number_id, ContactFlowArn=ghost)
    else:
        aws_env.control.fail_next_move("Carrier rejected the port")
    failed = stack.update("MainLine", replacement)
    assert failed.status == "FAILED"
    assert failed.physical_id == world.other_number_arn
    return replacement


@pytest.mark.parametrize("after_the_move", [False, True])
def test_rollback_update_keeping_the_old_physical_id_gives_up_the_new_number(
    after_the_move, stack, world, connect, aws_env
):
    replacement = _failed_replacement(stack, world, aws_env, after_the_move=after_the_move)

    # CloudFormation keeps the old physical ID and sends the old properties, naming the new number as old.
    rollback = stack.send(
        "Update",
        "MainLine",
        props(world),
        physical_id=world.number_arn,
        old_properties=replacement,
    )

    assert rollback.ok, rollback.reason
    assert rollback.physical_id == world.number_arn
    assert_untouched(connect, world, world.other_number_arn)
    assert provider_tags(connect, world.number_arn)[STACK_TAG] == stack.stack_id


@pytest.mark.parametrize("after_the_move", [False, True])
def test_rollback_through_the_new_physical_id_then_delete_gives_up_the_new_number(
    after_the_move, stack, world, connect, aws_env
):
    replacement = _failed_replacement(stack, world, aws_env, after_the_move=after_the_move)

    # CloudFormation took the failed response's ID: the rollback Update is itself a replacement, then the
    # clean-up Delete names the new number.
    rollback = stack.send(
        "Update", "MainLine", props(world), physical_id=world.other_number_arn, old_properties=replacement
    )
    assert rollback.ok, rollback.reason
    assert rollback.physical_id == world.number_arn
    cleanup = stack.send("Delete", "MainLine", replacement, physical_id=world.other_number_arn)

    assert cleanup.ok, cleanup.reason
    assert_untouched(connect, world, world.other_number_arn)
    assert provider_tags(connect, world.number_arn)[STACK_TAG] == stack.stack_id


# ---- CloudFormation's own deadline ----------------------------------------------------------------------


def test_service_timeout_bounds_the_wait_not_only_lambdas_timeout(stack, world, aws_env):
    aws_env.control.configure(move_seconds=300)

    # 60 s of Lambda left, but CloudFormation gives up 25 s after it sent the request: 25 - 18 s of reserve
    # = 7 s of work, less the part of a second the signing time (whole seconds) is behind.
    response = stack.create("MainLine", props(world, ServiceTimeout="25"), timeout_seconds=60)

    assert response.status == "FAILED"
    assert re.search(r"Gave up after [67] s", response.reason), response.reason
    assert "still IN_PROGRESS" in response.reason


def test_a_service_timeout_too_short_to_work_in_changes_nothing(stack, world, aws_env):
    response = stack.create("MainLine", props(world, ServiceTimeout="10"))

    assert response.status == "FAILED"
    assert "ServiceTimeout" in response.reason
    assert aws_env.control.calls() == []


def test_a_delete_still_runs_with_a_service_timeout_too_short_for_moves(stack, world, connect):
    assert stack.create("MainLine", props(world)).ok

    response = stack.send(
        "Delete", "MainLine", props(world, ServiceTimeout="10"), physical_id=world.number_arn
    )

    assert response.ok, response.reason
    assert provider_tags(connect, world.number_arn) == {}


# ---- someone else's number -------------------------------------------------------------------------------


def test_a_non_owners_delete_answers_without_waiting_for_someone_elses_move(
    stack, new_stack, world, connect, aws_env
):
    other = new_stack("owner-stack")
    assert other.create("MainLine", props(world)).ok
    aws_env.control.configure(move_seconds=30)
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.instance_a_arn)
    since = len(aws_env.control.calls())

    response = stack.send("Delete", "MainLine", props(world), physical_id=world.number_arn)

    assert response.ok, response.reason
    assert [name for name, _ in operations(aws_env.control, since)] == ["DescribePhoneNumber"]


@pytest.mark.real_time  # requests that wait at the same time: see local_aws/clock.py
def test_a_number_another_stacks_create_is_still_taking_is_reported_as_such_and_changes_nothing(
    stack, new_stack, world, connect, aws_env
):
    # The rival's Create has written its record and is waiting for its move (CREATE_IN_PROGRESS).
    rival = new_stack("rival")
    aws_env.control.configure(move_seconds=3)
    racing = threading.Thread(target=rival.create, args=("Line", props(world, TargetArn=world.tdg_arn)))
    racing.start()
    try:
        wait_until(lambda: aws_env.control.moves())
        since = len(aws_env.control.calls())

        response = stack.create("MainLine", props(world))
    finally:
        racing.join()

    assert response.status == "FAILED"
    assert f"was taken by Line in stack {rival.stack_id} in a stack operation that has not succeeded" in (
        response.reason
    )
    # Only the rival's own last write (its owner tags) may have landed meanwhile.
    assert [call for call in mutating(operations(aws_env.control, since)) if call[0] != "TagResource"] == []
    assert provider_tags(connect, world.number_arn)[STACK_TAG] == rival.stack_id


# ---- the number's status -----------------------------------------------------------------------------------


def _leave_failed_on_a(world, connect, aws_env, clock, message="Carrier rejected the port"):
    """A move to B that failed: the number FAILED on A, the target it never left."""
    aws_env.control.fail_next_move(message)
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.instance_b_arn)
    clock.advance(1.0)  # the emulator's move (0.6 s) fails
    assert (state_of(connect, world.number_arn)["status"], state_of(connect, world.number_arn)["target"]) == (
        FAILED,
        world.instance_a_arn,
    )


def test_a_number_failed_on_the_declared_target_is_moved_there_again(stack, world, connect, aws_env, clock):
    # FAILED is the outcome of the last operation, not a usable place: the assignment moves the number onto
    # its target (an ordinary move to where it rests) and answers SUCCESS only once it is CLAIMED there.
    _leave_failed_on_a(world, connect, aws_env, clock)
    moves_before = len(aws_env.control.moves())

    response = stack.create("MainLine", props(world, TargetArn=world.instance_a_arn))

    assert response.ok, response.reason
    assert [(m["to_target"], m["outcome"]) for m in aws_env.control.moves()[moves_before:]] == [
        (world.instance_a_arn, CLAIMED)
    ]
    assert state_of(connect, world.number_arn)["status"] == CLAIMED


def test_an_earlier_failed_shown_past_describes_lag_is_waited_out_not_taken_for_the_move(
    stack, world, connect, aws_env, clock
):
    # Describe goes on showing the earlier FAILED for 8 s after the provider's move (1 s) was accepted: more
    # than the 5 s after which 0.2.0 took it for this move failing, dropped the record, and left the number
    # to land on B untagged and unrecorded.
    _leave_failed_on_a(world, connect, aws_env, clock)
    aws_env.control.configure(move_seconds=1, failed_stale_seconds=8)

    response = stack.create("MainLine", props(world))

    assert response.ok, response.reason
    assert state_of(connect, world.number_arn)["status"] == CLAIMED
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert provider_tags(connect, world.number_arn)[STACK_TAG] == stack.stack_id
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "ASSIGNED"


def test_a_budget_that_runs_out_on_an_earlier_failed_says_so_and_the_rollback_undoes_the_move(
    stack, world, connect, aws_env, clock
):
    _leave_failed_on_a(world, connect, aws_env, clock)
    aws_env.control.configure(move_seconds=1, failed_stale_seconds=120)

    # 40 s of ServiceTimeout less the 18 s reserve: 22 s of budget, all of it showing the old FAILED.
    response = stack.create("MainLine", props(world, ServiceTimeout="40"))

    assert response.status == "FAILED"
    assert "earlier operation" in response.reason
    assert "Carrier rejected the port" in response.reason
    assert response.physical_id == world.number_arn
    # The move may still land: the record stays MOVING for the rollback, which finds it landed on B.
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "MOVING"
    clock.advance(120)
    assert state_of(connect, world.number_arn) == {
        "target": world.instance_b_arn,
        "status": CLAIMED,
        "tags": {},
    }
    rollback = stack.send("Delete", "MainLine", props(world), physical_id=response.physical_id)
    assert rollback.ok, rollback.reason
    assert_untouched(connect, world, aws_env=aws_env)


def test_a_failed_seen_after_the_move_was_in_progress_is_this_moves_outcome(
    stack, world, connect, aws_env, clock
):
    # The number was FAILED before the call too, but the move was seen IN_PROGRESS since: the FAILED that
    # follows is this move's, reported at once with Connect's new message, and nothing is left to undo.
    _leave_failed_on_a(world, connect, aws_env, clock, message="first failure")
    aws_env.control.configure(move_seconds=3)
    aws_env.control.fail_next_move("second failure")

    response = stack.create("MainLine", props(world))

    assert response.status == "FAILED"
    assert "second failure" in response.reason
    assert response.seconds < 10
    assert released(aws_env.endpoint_url, world.number_arn)


def test_a_rollback_delete_arriving_while_describe_still_lags_the_move_waits_it_out(
    stack, world, connect, aws_env
):
    # Describe shows the number CLAIMED where it was for 10 s after the move is accepted; the Create (8 s of
    # budget) gives up before that, and its rollback's Delete arrives while the number still looks unmoved.
    aws_env.control.configure(move_seconds=11, stale_seconds=10)
    # ServiceTimeout: CloudFormation waits too little longer for the Create to continue in another invocation.
    failed = stack.create("MainLine", props(world, ServiceTimeout="30"), timeout_seconds=26)
    assert failed.status == "FAILED"
    assert len(aws_env.control.moves()) == 1
    aws_env.control.configure(move_seconds=0.6, stale_seconds=0.2)

    rollback = stack.send("Delete", "MainLine", props(world), physical_id=failed.physical_id)

    assert rollback.ok, rollback.reason
    assert_untouched(connect, world)


def test_no_move_is_started_without_time_to_see_it_through(stack, world, connect, aws_env):
    # 20 s of ServiceTimeout less the 18 s reserve: 2 s, less than a move needs to be seen IN_PROGRESS.
    response = stack.create("MainLine", props(world, ServiceTimeout="20"))

    assert response.status == "FAILED"
    assert "nothing was moved" in response.reason
    assert aws_env.control.moves() == []
    # Nothing to put back, so the tags are gone before the rollback even comes.
    assert_untouched(connect, world)


# ---- traffic distribution groups that are not ACTIVE -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("UPDATE_IN_PROGRESS", "once the group is ACTIVE"),
        ("PENDING_DELETION", "choose another TargetArn"),
        ("CREATION_FAILED", "Fix the group"),
    ],
)
def test_a_move_to_a_group_that_is_not_active_says_what_is_going_on(
    status, advice, stack, world, connect, aws_env
):
    aws_env.control.set_traffic_distribution_group_status(world.tdg, status)

    response = stack.create("MainLine", props(world, TargetArn=world.tdg_arn))

    assert response.status == "FAILED"
    assert status in response.reason
    assert advice in response.reason
    assert "was not found" not in response.reason
    assert aws_env.control.moves() == []
    assert_untouched(connect, world)


def test_a_restore_to_a_group_being_deleted_advises_retain_and_keeps_the_number(
    stack, world, connect, aws_env
):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.tdg_arn)
    time.sleep(1.0)
    assert stack.create("MainLine", props(world, OnDelete="Restore")).ok
    aws_env.control.set_traffic_distribution_group_status(world.tdg, "PENDING_DELETION")

    response = stack.delete("MainLine")

    assert response.status == "FAILED"
    assert "PENDING_DELETION" in response.reason
    assert "OnDelete to Retain" in response.reason
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert provider_tags(connect, world.number_arn)[STACK_TAG] == stack.stack_id


def test_a_restore_to_a_group_mid_update_says_to_retry_not_to_retain(stack, world, connect, aws_env):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.tdg_arn)
    time.sleep(1.0)
    assert stack.create("MainLine", props(world, OnDelete="Restore")).ok
    aws_env.control.set_traffic_distribution_group_status(world.tdg, "UPDATE_IN_PROGRESS")

    response = stack.delete("MainLine")

    assert response.status == "FAILED"
    assert "once the group is ACTIVE" in response.reason
    assert "no longer exists" not in response.reason
