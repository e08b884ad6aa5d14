"""Many resources of one stack at once under Connect's real request quota.

CloudFormation creates a stack's resources concurrently, each in its own Lambda invocation, and they all
share the account's 2 requests/s quota on UpdatePhoneNumber and DescribePhoneNumber. Every resource must
still succeed: throttling is absorbed by retries within each invocation's time budget.

Three Describes per resource is the floor (before the claim, after it, once the move is done), so at
2 requests/s 50 resources need at least 75 s. The default count keeps the suite short;
RELIABILITY_QUOTA_RESOURCES=50 runs the full-size stack.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import describe
from tests.reliability.helpers import props, seed_numbers

RESOURCES = int(os.environ.get("RELIABILITY_QUOTA_RESOURCES", "16"))
# Generous: the quota, not the provider, sets the pace, and a loaded machine must not turn it into a failure.
INVOCATION_TIMEOUT_SECONDS = 900


def test_every_resource_of_a_large_stack_succeeds_under_the_default_quota(stack, world, connect, aws_env):
    number_ids = seed_numbers(aws_env.control, RESOURCES, world.instance_a)
    aws_env.control.use_default_quotas()
    start = threading.Barrier(RESOURCES)

    def create(index: int):
        start.wait()
        return stack.create(
            f"Line{index}",
            props(world, PhoneNumberId=number_ids[index]),
            timeout_seconds=INVOCATION_TIMEOUT_SECONDS,
        )

    with ThreadPoolExecutor(max_workers=RESOURCES) as pool:
        responses = list(pool.map(create, range(RESOURCES)))

    failures = [(r.event["LogicalResourceId"], r.reason) for r in responses if not r.ok]
    assert failures == []
    assert all(r.count == 1 for r in responses)
    calls = aws_env.control.calls()
    # The quota really bit, or this test proves nothing.
    assert any(call["error"] == "ThrottlingException" for call in calls)
    # Lift the quota so this test's own Describes are not throttled.
    for operation in ("UpdatePhoneNumber", "DescribePhoneNumber"):
        aws_env.control.set_rate_limit(operation, None)
    moved = sorted(move["phone_number_id"] for move in aws_env.control.moves())
    assert moved == sorted(number_ids)
    for number_id, response in zip(number_ids, responses, strict=True):
        summary = describe(connect, response.physical_id)
        assert summary["PhoneNumberId"] == number_id
        assert summary["TargetArn"] == world.instance_b_arn
        assert summary["PhoneNumberStatus"]["Status"] == "CLAIMED"
