"""The claim protocol under the real service's limits: every operation at its default quota, and tag writes
that become visible only after a delay. Never two owners; when the delay is longer than the protocol allows
for, every contender refuses rather than two winning (docs/reliability.md, "Assumptions")."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from phone_number_assignment import ownership
from phone_number_assignment.tags import CLAIM_TAG_PREFIX, STACK_TAG
from tests.reliability.helpers import props, provider_tags, seed_numbers, state_of

pytestmark = pytest.mark.real_claim_timing


def race(contenders):
    """Create every (stack, logical ID, properties) at the same moment; their responses in order."""
    start = threading.Barrier(len(contenders))

    def create(contender):
        racer, logical_id, declared = contender
        start.wait()
        return racer.create(logical_id, declared, timeout_seconds=300)

    with ThreadPoolExecutor(max_workers=len(contenders)) as pool:
        return list(pool.map(create, contenders))


def owners_in_tags(connect, arn) -> str | None:
    return provider_tags(connect, arn).get(STACK_TAG)


def test_stacks_racing_under_default_quotas_and_a_tag_delay_end_with_one_owner_each(
    world, connect, aws_env, new_stack
):
    numbers = seed_numbers(aws_env.control, 2, world.instance_a)
    aws_env.control.use_default_quotas()
    # A second of lag: longer than the claim's own settle time, within what the protocol measures and allows.
    aws_env.control.configure(tag_visibility_seconds=1.0)
    contenders = [
        (new_stack(f"racer-{number_index}-{index}"), "Line", props(world, PhoneNumberId=number_id))
        for number_index, number_id in enumerate(numbers)
        for index in range(3)
    ]

    responses = race(contenders)

    aws_env.control.reset()  # quotas off and the lag gone: what follows only observes
    time.sleep(1.1)
    for number_index, number_id in enumerate(numbers):
        results = list(
            zip(
                contenders[number_index * 3 : number_index * 3 + 3],
                responses[number_index * 3 : number_index * 3 + 3],
                strict=True,
            )
        )
        winners = [racer for (racer, _, _), response in results if response.ok]
        assert len(winners) <= 1, [response.reason for _, response in results]
        arn = f"arn:aws:connect:us-east-1:123456789012:phone-number/{number_id}"
        if winners:
            assert owners_in_tags(connect, arn) == winners[0].stack_id
            assert state_of(connect, arn)["target"] == world.instance_b_arn
        else:
            assert owners_in_tags(connect, arn) is None
        assert [key for key in provider_tags(connect, arn) if key.startswith(CLAIM_TAG_PREFIX)] == []
    # The protocol refuses only when it must: with this delay somebody wins each number.
    assert sum(response.ok for response in responses) == 2


def test_resources_of_one_stack_declaring_one_number_never_both_win(world, connect, aws_env, new_stack):
    # The same number twice in one template (cfn-lint's E9107 catches it before deploy): claims are per
    # logical ID, so the two resources race like two stacks do.
    one = new_stack("one-stack")
    aws_env.control.configure(tag_visibility_seconds=0.5)

    responses = race([(one, "LineA", props(world)), (one, "LineB", props(world))])

    assert sum(response.ok for response in responses) == 1, [response.reason for response in responses]


def test_a_tag_delay_beyond_the_bound_makes_every_contender_refuse(world, connect, aws_env, new_stack):
    aws_env.control.configure(tag_visibility_seconds=ownership.CLAIM_VISIBILITY_BOUND_SECONDS + 1)
    contenders = [(new_stack(f"racer-{index}"), "Line", props(world)) for index in range(2)]

    responses = race(contenders)

    assert [response.status for response in responses] == ["FAILED", "FAILED"]
    assert all("was not visible" in response.reason for response in responses)
    assert aws_env.control.moves() == []
    aws_env.control.configure(tag_visibility_seconds=0)
    time.sleep(ownership.CLAIM_VISIBILITY_BOUND_SECONDS + 1.5)  # let the withdrawals land
    assert provider_tags(connect, world.number_arn) == {}
