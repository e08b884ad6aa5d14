"""Rollbacks CloudFormation expresses as deletions, and holders CloudFormation shows only in part (issue 31).

A nested stack its parent added in an operation that fails is *deleted* (its own status DELETE_IN_PROGRESS,
its ParentId rolling back); a stack created with OnFailure=DELETE is deleted after its creation failed (its
events: CREATE_FAILED, then DELETE_IN_PROGRESS). Both are rollbacks: every number goes back where it was,
whatever OnDelete says. A replaced number in a nested stack stays held while its root can still roll back.
DescribeStackResources shows only the first 100 resources of the stack it names: the rest are read with
ListStackResources, and a deleted stack's resources hold nothing.
"""

from __future__ import annotations

import pytest

from tests.reliability.helpers import mutating, operations, ownership_record, props, provider_tags, state_of


def _on(connect, arn, target):
    final = state_of(connect, arn)
    assert (final["target"], final["status"]) == (target, "CLAIMED")


# ---- a Delete that is a rollback, whatever the stack's own status says ----------------------------------


@pytest.mark.parametrize(
    "parent_status", ["ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"]
)
def test_a_nested_stack_deleted_by_its_parents_rollback_puts_the_number_back_even_with_retain(
    parent_status, new_stack, world, connect, aws_env
):
    parent = new_stack("migration-wave", stack_status="UPDATE_IN_PROGRESS")
    child = new_stack("migration-wave-Numbers", parent=parent)
    assert child.create("MainLine", props(world, OnDelete="Retain")).ok
    child.set_status("CREATE_COMPLETE")
    _on(connect, world.number_arn, world.instance_b_arn)

    # Another resource of the parent fails: the parent rolls back and deletes the nested stack it added.
    parent.set_status(parent_status)
    deleted = child.delete_every_resource()

    assert deleted["MainLine"].ok, deleted["MainLine"].reason
    _on(connect, world.number_arn, world.instance_a_arn)
    assert provider_tags(connect, world.number_arn) == {}
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["State"] == "RELEASED"


def test_a_stack_nested_two_deep_is_rolled_back_by_its_root(new_stack, world, connect):
    root = new_stack("estate", stack_status="ROLLBACK_IN_PROGRESS")
    middle = new_stack("estate-Region", parent=root, stack_status="DELETE_IN_PROGRESS")
    leaf = new_stack("estate-Region-Numbers", parent=middle)
    assert leaf.create("MainLine", props(world, OnDelete="Retain")).ok
    leaf.set_status("CREATE_COMPLETE")

    assert leaf.delete_every_resource()["MainLine"].ok

    _on(connect, world.number_arn, world.instance_a_arn)


def test_a_nested_stack_deleted_with_its_parent_keeps_what_retain_keeps(new_stack, world, connect, aws_env):
    parent = new_stack("migration-wave", stack_status="CREATE_COMPLETE")
    child = new_stack("migration-wave-Numbers", parent=parent)
    assert child.create("MainLine", props(world, OnDelete="Retain")).ok
    child.set_status("CREATE_COMPLETE")
    since = len(aws_env.control.calls())

    parent.set_status("DELETE_IN_PROGRESS")  # a deliberate deletion of the whole tree
    assert child.delete_every_resource()["MainLine"].ok

    _on(connect, world.number_arn, world.instance_b_arn)
    assert [
        call for call in mutating(operations(aws_env.control, since)) if call[0] == "UpdatePhoneNumber"
    ] == []


def test_a_stack_deleted_after_its_creation_failed_puts_every_number_back(stack, world, connect, aws_env):
    # CreateStack with OnFailure=DELETE (sam deploy --on-failure DELETE): no ROLLBACK_IN_PROGRESS, the stack
    # is deleted; only its events say the deletion follows a failed creation.
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    assert stack.create("OtherLine", props(world, PhoneNumberId=world.other_number_id, OnDelete="Retain")).ok
    _on(connect, world.number_arn, world.instance_b_arn)

    deleted = stack.fail_creation(on_failure="DELETE")

    assert all(response.ok for response in deleted.values()), [r.reason for r in deleted.values()]
    _on(connect, world.number_arn, world.instance_a_arn)
    _on(connect, world.other_number_arn, world.instance_a_arn)
    assert aws_env.control.service_calls().get("cloudformation:DescribeStackEvents", 0) >= 1


def test_a_stack_deleted_after_it_was_created_keeps_what_retain_keeps(stack, world, connect):
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    stack.set_status("CREATE_COMPLETE")

    assert stack.delete_every_resource()["MainLine"].ok

    _on(connect, world.number_arn, world.instance_b_arn)


def test_a_delete_during_an_import_rollback_puts_the_number_back(stack, world, connect):
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    stack.set_status("IMPORT_ROLLBACK_IN_PROGRESS")

    assert stack.delete("MainLine").ok

    _on(connect, world.number_arn, world.instance_a_arn)


# ---- a replaced number stays held while any ancestor can still roll back -----------------------------------


def test_a_replaced_number_of_a_nested_stack_is_held_until_its_root_commits(new_stack, world, connect, clock):
    root = new_stack("estate", stack_status="CREATE_COMPLETE")
    child = new_stack("estate-Numbers", parent=root)
    assert child.create("MainLine", props(world)).ok
    child.set_status("CREATE_COMPLETE")
    clock.advance(60)
    root.set_status("UPDATE_IN_PROGRESS")
    child.set_status("UPDATE_IN_PROGRESS")
    assert child.update("MainLine", props(world, PhoneNumberId=world.other_number_id)).ok
    # The nested stack has finished its part and waits for the root, which can still fail.
    child.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    other = new_stack("other-stack")

    refused = other.create("Line", props(world, TargetArn=world.tdg_arn))

    assert refused.status == "FAILED"
    assert "already assigned by MainLine" in refused.reason
    _on(connect, world.number_arn, world.instance_b_arn)

    # The root commits: the clean-up's Delete of the old number is on its way, and it is free to take.
    root.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    taken = other.create("Line", props(world, TargetArn=world.tdg_arn))
    assert taken.ok, taken.reason


# ---- holders found in stacks of any size ----------------------------------------------------------------


def _big_stack(new_stack, name, *, holder_at, holder_type, holder_status, number_arn, size=150):
    """A stack of ``size`` resources whose ``holder_at``-th has the number's ARN as physical ID."""
    big = new_stack(name, stack_status="CREATE_COMPLETE")
    for index in range(size):
        if index == holder_at:
            big.control.play_stack(
                big.stack_id,
                logical_id="SupportLine",
                resource_status=holder_status,
                physical_id=number_arn,
                resource_type=holder_type,
            )
        else:
            big.control.play_stack(
                big.stack_id,
                logical_id=f"Queue{index}",
                resource_status="CREATE_COMPLETE",
                physical_id=f"queue-{index}",
                resource_type="AWS::Connect::Queue",
            )
    return big


def test_a_native_holder_beyond_the_first_100_resources_is_found_and_named(
    stack, new_stack, world, connect, aws_env
):
    big = _big_stack(
        new_stack,
        "contact-centre",
        holder_at=130,
        holder_type="AWS::Connect::PhoneNumber",
        holder_status="CREATE_COMPLETE",
        number_arn=world.number_arn,
    )
    since = len(aws_env.control.calls())

    response = stack.create("MainLine", props(world))

    assert response.status == "FAILED"
    assert f"AWS::Connect::PhoneNumber SupportLine of stack {big.stack_id}" in response.reason
    assert "would release" in response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert (
        aws_env.control.service_calls().get("cloudformation:ListStackResources", 0) == 2
    )  # 150 in pages of 100


def test_a_number_a_large_stack_no_longer_holds_is_taken(stack, new_stack, world, connect):
    # The native resource beyond the first 100 was removed with DeletionPolicy: Retain (the hand-over).
    _big_stack(
        new_stack,
        "contact-centre",
        holder_at=130,
        holder_type="AWS::Connect::PhoneNumber",
        holder_status="DELETE_SKIPPED",
        number_arn=world.number_arn,
    )

    response = stack.create("MainLine", props(world))

    assert response.ok, response.reason
    _on(connect, world.number_arn, world.instance_b_arn)


def test_a_deleted_large_stack_holds_nothing_and_is_not_listed(stack, new_stack, world, connect, aws_env):
    # A large stack that once declared the number (Fn::ForEach), deleted: CloudFormation still names it for
    # 90 days; its resources hold nothing, and no page of them needs reading.
    big = _big_stack(
        new_stack,
        "many-numbers",
        holder_at=130,
        holder_type="Custom::PhoneNumberAssignment",
        holder_status="DELETE_COMPLETE",
        number_arn=world.number_arn,
    )
    big.set_status("DELETE_COMPLETE")

    response = stack.create("MainLine", props(world))

    assert response.ok, response.reason
    assert aws_env.control.service_calls().get("cloudformation:ListStackResources", 0) == 0


# ---- clean-up never strands a number for what a retry fixes ----------------------------------------------


# moto warns that Throttling is not an error of CloudFormation's model: it is its Query API's rate limit.
@pytest.mark.filterwarnings("ignore:Exception\\(InjectedError\\)")
def test_a_clean_up_delete_keeps_asking_cloudformation_while_it_is_throttled(stack, world, connect, aws_env):
    # In a clean-up phase CloudFormation retries a failing Delete a few times, then skips it and completes
    # the stack (cloudformation-coverage-roadmap#744): a FAILED for a throttled read would strand the number.
    assert stack.create("MainLine", props(world, OnDelete="Retain")).ok
    stack.set_status("CREATE_FAILED")
    stack.set_status("DELETE_IN_PROGRESS")
    # Twice: botocore retries the first itself; the second must be retried by the provider.
    aws_env.control.inject_cloudformation_error("DescribeStacks", "Throttling", count=2)

    deleted = stack.delete("MainLine")

    assert deleted.ok, deleted.reason
    _on(connect, world.number_arn, world.instance_a_arn)
    assert aws_env.control.service_calls()["cloudformation:DescribeStacks"] >= 3


@pytest.mark.filterwarnings("ignore:Exception\\(InjectedError\\)")
def test_a_clean_up_delete_that_had_to_fail_is_flagged_by_make_status_with_the_commands_that_fix_it(
    stack, world, connect, aws_env, clock
):
    import io
    import json

    from tools import status

    assert stack.create("MainLine", props(world)).ok
    clock.advance(60)
    stack.set_status("UPDATE_IN_PROGRESS")
    assert stack.update("MainLine", props(world, PhoneNumberId=world.other_number_id)).ok
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    # Denied: no retry fixes it. CloudFormation retries the clean-up Delete a few times, then skips it.
    aws_env.control.inject_cloudformation_error("DescribeStacks", "AccessDenied", message="denied")
    failed = stack.clean_up("MainLine", world.number_arn, props(world))
    assert failed.status == "FAILED"
    stack.set_status("UPDATE_COMPLETE")

    out = io.StringIO()
    code = status.main(["--number", world.number_arn, "--format", "json"], stdout=out, stderr=io.StringIO())

    assert code == 3
    [entry] = json.loads(out.getvalue())["numbers"]
    [flag] = [flag for flag in entry["flags"] if flag["code"] == "clean-up-delete-failed"]
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in flag["message"]
    assert any(command.startswith("aws dynamodb update-item") for command in flag["commands"])
    assert "stale-owner" not in [flag["code"] for flag in entry["flags"]]
