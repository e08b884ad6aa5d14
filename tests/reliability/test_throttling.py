"""Throttling and internal errors from Connect under the real handler: ridden out within the time budget,
or reported as FAILED with a Reason that says so, leaving a physical ID the rollback can clean up with."""

from __future__ import annotations

import pytest

from tests.reliability.helpers import errors_of, props, provider_tags, state_of


@pytest.mark.parametrize("operation", ["UpdatePhoneNumber", "DescribePhoneNumber"])
def test_throttling_storm_is_ridden_out(operation, stack, world, connect, aws_env):
    aws_env.control.inject_error(operation, "ThrottlingException", count=10)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    # All ten throttled calls were really made (botocore's retries, then the provider's), then one succeeded.
    assert errors_of(aws_env.control, operation)[:11] == ["ThrottlingException"] * 10 + [None]
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, "CLAIMED")
    assert len(aws_env.control.moves()) == 1


def test_internal_error_bursts_are_ridden_out(stack, world, connect, aws_env):
    # Four in a row: more than botocore's own three attempts, so the provider's retry loop is exercised too.
    for operation in ("DescribePhoneNumber", "UpdatePhoneNumber"):
        aws_env.control.inject_error(operation, "InternalServiceException", count=4)

    response = stack.create("MainLine", props(world, TargetArn=world.tdg_arn))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    for operation in ("DescribePhoneNumber", "UpdatePhoneNumber"):
        assert errors_of(aws_env.control, operation)[:5] == ["InternalServiceException"] * 4 + [None]
    assert state_of(connect, world.number_arn)["target"] == world.tdg_arn
    assert len(aws_env.control.moves()) == 1


def test_throttling_that_outlasts_the_budget_fails_and_rolls_back_cleanly(stack, world, connect, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", "ThrottlingException", count=10_000)

    response = stack.create("MainLine", props(world), timeout_seconds=24)

    assert (response.status, response.count) == ("FAILED", 1)
    assert "ThrottlingException" in response.reason
    assert "quota" in response.reason
    # The number was tagged for this resource before the move was tried: the physical ID must name it, so
    # the rollback's Delete finds and releases it.
    assert response.physical_id == world.number_arn
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
    assert aws_env.control.moves() == []

    # The storm is over by the time CloudFormation rolls back.
    aws_env.control.reset()
    rollback = stack.send("Delete", "MainLine", props(world), physical_id=response.physical_id)

    assert (rollback.status, rollback.count) == ("SUCCESS", 1), rollback.reason
    assert provider_tags(connect, world.number_arn) == {}
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
