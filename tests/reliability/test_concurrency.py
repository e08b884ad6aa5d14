"""Concurrency CloudFormation creates: many resources at once, one request twice, two stacks racing.

CloudFormation creates a stack's resources concurrently, each in its own Lambda invocation, and they all
share the account's 2 requests/s quota on UpdatePhoneNumber and DescribePhoneNumber. It (or Lambda's own
retry) can deliver one request more than once, even while the first delivery is still waiting for its move.
And nothing stops two stacks from declaring the same number at once.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_aws.cloudformation import build_event
from tests.conftest import describe
from tests.reliability.helpers import (
    captured_logs,
    props,
    provider_tags,
    seed_numbers,
    state_of,
    wait_until,
)

# Every test here has requests waiting at the same time, sharing a quota: the real clock (local_aws/clock.py).
pytestmark = pytest.mark.real_time

# At least two Describes per resource (before the move, once the move is done): at 2 requests/s,
# 50 resources need at least 50 s; RELIABILITY_QUOTA_RESOURCES=50 runs a full-size stack. The default is the
# fewest that make the quota defeat botocore's retries, so that the provider's own retry loop must carry some
# calls: the first Describes start together, the burst lets 2 through, and botocore retries the others within
# its backoff of under a second, while the bucket refills under 2 more. With 4 resources the last retry can
# just squeeze in; with 5, one of them fails twice even if the starts spread by a few hundred milliseconds.
RESOURCES = int(os.environ.get("RELIABILITY_QUOTA_RESOURCES", "5"))
# Generous: the quota, not the provider, sets the pace, and a loaded machine must not turn it into a failure.
INVOCATION_TIMEOUT_SECONDS = 900


# First in the file, being the longest test: pytest-xdist then hands this worker no other file meanwhile.
def test_every_resource_of_a_large_stack_succeeds_under_the_default_quota(stack, world, connect, aws_env):
    number_ids = seed_numbers(aws_env.control, RESOURCES, world.instance_a)
    # This test is about the API rate quota. Instance B must have room for every resource: beyond a new
    # account's 5 phone numbers per instance (RELIABILITY_QUOTA_RESOURCES=50) that quota is raised, as an
    # account running such a stack would have had it raised.
    aws_env.control.set_phone_number_quota(max(RESOURCES, 5), instance_id=world.instance_b)
    aws_env.control.use_default_quotas()
    start = threading.Barrier(RESOURCES)

    def create(index: int):
        start.wait()
        return stack.create(
            f"Line{index}",
            props(world, PhoneNumberId=number_ids[index]),
            timeout_seconds=INVOCATION_TIMEOUT_SECONDS,
        )

    with captured_logs(level="DEBUG") as logs, ThreadPoolExecutor(max_workers=RESOURCES) as pool:
        responses = list(pool.map(create, range(RESOURCES)))

    failures = [(r.event["LogicalResourceId"], r.reason) for r in responses if not r.ok]
    assert failures == []
    assert all(r.count == 1 for r in responses)
    calls = aws_env.control.calls()
    # The quota really bit, and the provider's own loop (botocore makes each Connect call once) carried the
    # throttled calls, or this test proves nothing.
    assert any(call["error"] == "ThrottlingException" for call in calls)
    assert any("Connect call will be retried" in line for line in logs.lines())
    # Lift the quotas so this test's own calls are not throttled.
    for operation in aws_env.control.rate_limits():
        aws_env.control.set_rate_limit(operation, None)
    moved = sorted(move["phone_number_id"] for move in aws_env.control.moves())
    assert moved == sorted(number_ids)
    for number_id, response in zip(number_ids, responses, strict=True):
        summary = describe(connect, response.physical_id)
        assert summary["PhoneNumberId"] == number_id
        assert summary["TargetArn"] == world.instance_b_arn
        assert summary["PhoneNumberStatus"]["Status"] == "CLAIMED"


def _create_event(stack, receiver, properties):
    return build_event(
        "Create",
        properties=properties,
        response_url=receiver.url_for,
        logical_id="MainLine",
        stack_id=stack.stack_id,
    )


def test_same_event_delivered_twice_moves_once(stack, world, connect, aws_env, receiver):
    event = _create_event(stack, receiver, props(world))

    stack.deliver(event)
    first = receiver.responses(event["RequestId"])
    stack.deliver(event)
    both = receiver.responses(event["RequestId"])

    assert len(first) == 1
    assert len(both) == 2
    assert [body["Status"] for body in both] == ["SUCCESS", "SUCCESS"]
    assert both[0]["PhysicalResourceId"] == both[1]["PhysicalResourceId"] == world.number_arn
    assert both[0]["Data"] == both[1]["Data"]
    assert len(aws_env.control.moves()) == 1
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn


def test_redelivery_while_the_first_still_waits_moves_once(stack, world, connect, aws_env, receiver):
    # A slow move keeps the first delivery waiting long enough for the second to arrive mid-wait.
    aws_env.control.configure(move_seconds=2)
    event = _create_event(stack, receiver, props(world))
    first = threading.Thread(target=stack.deliver, args=(event,))
    first.start()
    wait_until(lambda: aws_env.control.moves())
    first_was_waiting = first.is_alive() and not receiver.responses(event["RequestId"])

    stack.deliver(event)
    first.join()

    assert first_was_waiting
    bodies = receiver.responses(event["RequestId"])
    assert [body["Status"] for body in bodies] == ["SUCCESS", "SUCCESS"], bodies
    assert {body["PhysicalResourceId"] for body in bodies} == {world.number_arn}
    assert bodies[0]["Data"] == bodies[1]["Data"]
    assert len(aws_env.control.moves()) == 1
    final = state_of(connect, world.number_arn)
    assert (final["target"], final["status"]) == (world.instance_b_arn, "CLAIMED")


def test_two_stacks_racing_for_one_number_exactly_one_wins(world, connect, aws_env, new_stack):
    # Two races at once, on two numbers, so one lucky interleaving cannot make the test pass.
    races = {
        world.number_id: [("racer-a", world.instance_b_arn), ("racer-b", world.tdg_arn)],
        world.other_number_id: [("racer-c", world.tdg_arn), ("racer-d", world.instance_b_arn)],
    }
    contenders = [
        (new_stack(name), props(world, PhoneNumberId=number_id, TargetArn=target))
        for number_id, racers in races.items()
        for name, target in racers
    ]
    start = threading.Barrier(len(contenders))

    def create(contender):
        racer, declared = contender
        start.wait()
        return racer.create("MainLine", declared)

    with ThreadPoolExecutor(max_workers=len(contenders)) as pool:
        responses = list(pool.map(create, contenders))

    assert [response.count for response in responses] == [1, 1, 1, 1]
    for race in (slice(0, 2), slice(2, 4)):
        results = list(zip(contenders[race], responses[race], strict=True))
        winners = [(racer, declared, r) for (racer, declared), r in results if r.ok]
        losers = [(racer, declared, r) for (racer, declared), r in results if not r.ok]
        assert len(winners) == 1, [r.reason for _, r in results]
        (winner, won_with, won), (loser, lost_with, lost) = winners[0], losers[0]
        assert winner.stack_id in lost.reason
        # Lost to the winner's record while its Create still runs, or after it succeeded.
        said = ("was taken by", "already assigned")
        assert any(words in lost.reason for words in said)
        summary = describe(connect, won.physical_id)
        assert summary["PhoneNumberId"] == won_with["PhoneNumberId"]
        assert summary["TargetArn"] == won_with["TargetArn"]
        assert summary["PhoneNumberStatus"]["Status"] == "CLAIMED"
        tags = provider_tags(connect, won.physical_id)
        assert tags["PhoneNumberAssignment:StackId"] == winner.stack_id

        # The loser's rollback must take nothing from the winner.
        rollback = loser.send("Delete", "MainLine", lost_with, physical_id=lost.physical_id)
        assert rollback.ok, rollback.reason
        assert describe(connect, won.physical_id)["TargetArn"] == won_with["TargetArn"]
        assert provider_tags(connect, won.physical_id) == tags

    assert len(aws_env.control.moves()) == 2
