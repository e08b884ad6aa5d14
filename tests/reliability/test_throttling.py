"""Throttling and internal errors from Connect under the real handler: ridden out within the time budget,
or reported as FAILED with a Reason that says so, leaving a physical ID the rollback can clean up with."""

from __future__ import annotations

import pytest

from phone_number_assignment.clients import CONNECT_CLIENT_CONFIG
from tests.reliability.helpers import captured_logs, errors_of, props, provider_tags, state_of

# botocore makes each Connect call once (clients.CONNECT_CLIENT_CONFIG): every retry is the provider's, so
# each error in a row is one retry in its log. Two in a row take its backoff twice, the second step longer.
BOTOCORE_ATTEMPTS = CONNECT_CLIENT_CONFIG.retries["total_max_attempts"]
ERRORS_IN_A_ROW = 2


def provider_retries(logs) -> list[str]:
    """The operations the provider's own retry loop retried, as its DEBUG log lines say."""
    return [line for line in logs.lines() if "Connect call will be retried" in line]


@pytest.mark.parametrize("operation", ["UpdatePhoneNumber", "DescribePhoneNumber"])
def test_throttling_storm_is_ridden_out(operation, stack, world, connect, aws_env):
    aws_env.control.inject_error(operation, "ThrottlingException", count=ERRORS_IN_A_ROW)

    with captured_logs(level="DEBUG") as logs:
        response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    # Every throttled call was really made (botocore's retries, then the provider's), then one succeeded.
    assert errors_of(aws_env.control, operation)[: ERRORS_IN_A_ROW + 1] == ["ThrottlingException"] * (
        ERRORS_IN_A_ROW
    ) + [None]
    # botocore did not retry: the provider's loop retried each throttled answer, after a longer pause each.
    assert BOTOCORE_ATTEMPTS == 1
    retries = provider_retries(logs)
    assert len(retries) == ERRORS_IN_A_ROW
    assert all(operation in retry and "ThrottlingException" in retry for retry in retries)
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, "CLAIMED")
    assert len(aws_env.control.moves()) == 1


def test_internal_error_bursts_are_ridden_out(stack, world, connect, aws_env):
    # More in a row than botocore's own attempts, so the provider's retry loop is exercised too.
    for operation in ("DescribePhoneNumber", "UpdatePhoneNumber"):
        aws_env.control.inject_error(operation, "InternalServiceException", count=ERRORS_IN_A_ROW)

    with captured_logs(level="DEBUG") as logs:
        response = stack.create("MainLine", props(world, TargetArn=world.tdg_arn))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    for operation in ("DescribePhoneNumber", "UpdatePhoneNumber"):
        assert errors_of(aws_env.control, operation)[: ERRORS_IN_A_ROW + 1] == [
            "InternalServiceException"
        ] * ERRORS_IN_A_ROW + [None]
    retried = provider_retries(logs)
    assert [("DescribePhoneNumber" in line, "UpdatePhoneNumber" in line) for line in retried] == [
        (True, False)
    ] * ERRORS_IN_A_ROW + [(False, True)] * ERRORS_IN_A_ROW
    assert state_of(connect, world.number_arn)["target"] == world.tdg_arn
    assert len(aws_env.control.moves()) == 1


def test_throttling_that_outlasts_the_budget_fails_and_rolls_back_cleanly(stack, world, connect, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", "ThrottlingException", count=10_000)

    # CloudFormation waits too little longer (ServiceTimeout) for a later invocation to try again.
    response = stack.create("MainLine", props(world, ServiceTimeout="30"), timeout_seconds=24)

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


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
def test_a_rate_limit_answering_either_throttling_code_is_paced_as_throttling(
    code, monkeypatch, stack, world, connect, aws_env
):
    # Real Connect is reported to answer throttling as TooManyRequestsException too: the emulator's quota
    # answers with the code configured, and the provider must pace it as the shared quota it is.
    from phone_number_assignment import waiting

    paced = []
    throttle_delay = waiting.Pacing.throttle_delay

    def spy(self, operation):
        paced.append(operation)
        return throttle_delay(self, operation)

    monkeypatch.setattr(waiting.Pacing, "throttle_delay", spy)
    aws_env.control.configure(throttling_error=code)
    aws_env.control.set_rate_limit("DescribePhoneNumber", per_second=1, burst=1)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("SUCCESS", 1), response.reason
    throttled = [error for error in errors_of(aws_env.control, "DescribePhoneNumber") if error]
    assert throttled
    assert set(throttled) == {code}
    assert paced == ["DescribePhoneNumber"] * len(throttled)
    aws_env.control.set_rate_limit("DescribePhoneNumber", None)
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn


@pytest.mark.parametrize("code", ["LimitExceededException", "ServiceQuotaExceededException"])
def test_a_limit_connect_says_is_reached_fails_at_once_without_retries(code, stack, world, connect, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", code, count=10_000)

    response = stack.create("MainLine", props(world))

    assert (response.status, response.count) == ("FAILED", 1)
    assert code in response.reason
    assert "quota" in response.reason
    assert "Nothing was retried" in response.reason
    assert response.seconds < 5  # not the fifteen minutes of a throttling storm's budget
    assert errors_of(aws_env.control, "UpdatePhoneNumber") == [code]
    assert aws_env.control.moves() == []
    aws_env.control.reset()
    rollback = stack.send("Delete", "MainLine", props(world), physical_id=response.physical_id)
    assert rollback.ok, rollback.reason
    assert provider_tags(connect, world.number_arn) == {}
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
