"""The claim protocol on the emulator, with its clocks injected: expired claims, slow claim writes.

Injected clocks and sleep keep these tests from waiting CLAIM_SETTLE_SECONDS for real, and let them place a
claim exactly either side of CLAIM_EXPIRY_SECONDS.
"""

from __future__ import annotations

import pytest

from phone_number_assignment import ownership
from phone_number_assignment.connect import PhoneNumbers
from phone_number_assignment.errors import ClaimInProgress, TagsNotVisible
from phone_number_assignment.tags import Owner, claim_key, owner_tags
from phone_number_assignment.waiting import Budget
from tests.conftest import describe

NOW = 1_800_000_000.0  # wall clock, seconds
OURS = Owner("arn:aws:cloudformation:us-east-1:123456789012:stack/ours/1", "MainLine")
DEAD = Owner("arn:aws:cloudformation:us-east-1:123456789012:stack/dead/2", "Line")


class Clocks:
    """A fixed wall clock, a monotonic clock each tag call can be made to take time on, and a sleep that
    only records."""

    def __init__(self, claim_write_seconds: list[float] | None = None) -> None:
        self.monotonic_now = 0.0
        self.slept: list[float] = []
        # How long each successive claim write takes, as the monotonic clock sees it.
        self._write_seconds = list(claim_write_seconds or [])
        self._reads = 0

    def wall_clock(self) -> float:
        return NOW

    def monotonic(self) -> float:
        # acquire() reads the monotonic clock just before and just after writing its claim.
        self._reads += 1
        if self._reads % 2 == 0 and self._write_seconds:
            self.monotonic_now += self._write_seconds.pop(0)
        return self.monotonic_now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def claim_tag(owner: Owner, written_at: float) -> dict[str, str]:
    return {claim_key(owner): f"{int(written_at * 1000)} {owner.stack_id} {owner.logical_id}"}


@pytest.fixture
def numbers(connect):
    return PhoneNumbers(connect, Budget(60))


def acquire(numbers, world, clocks):
    """Acquire as the lifecycle does, then confirm as a request that succeeded does."""
    state = numbers.describe_existing(world.number_arn)
    acquired = ownership.acquire(
        numbers,
        state,
        OURS,
        world.instance_b_arn,
        wall_clock=clocks.wall_clock,
        monotonic=clocks.monotonic,
        sleep=clocks.sleep,
    )
    return ownership.confirm(numbers, acquired, OURS, now=NOW)


def test_an_expired_claim_of_a_dead_invocation_does_not_block_and_is_cleared(numbers, connect, world):
    stale = claim_tag(DEAD, NOW - ownership.CLAIM_EXPIRY_SECONDS - 1)
    garbled = {claim_key(Owner("garbled", "")): "not-a-time garbled"}
    connect.tag_resource(resourceArn=world.number_arn, tags={**stale, **garbled})
    clocks = Clocks()

    acquired = acquire(numbers, world, clocks)

    expected = owner_tags(OURS, world.instance_a_arn)
    assert acquired.tags == expected
    assert describe(connect, world.number_arn).get("Tags", {}) == expected
    assert clocks.slept == [ownership.CLAIM_SETTLE_SECONDS]


def test_a_claim_just_inside_the_expiry_still_wins(numbers, connect, world):
    live = claim_tag(DEAD, NOW - ownership.CLAIM_EXPIRY_SECONDS + 1)
    connect.tag_resource(resourceArn=world.number_arn, tags=live)

    with pytest.raises(ClaimInProgress, match=f"being claimed by Line in stack {DEAD.stack_id}"):
        acquire(numbers, world, Clocks())

    # Ours was never written; the rival's claim stays for it to convert.
    assert describe(connect, world.number_arn).get("Tags", {}) == live


def test_a_claim_written_too_slowly_is_written_again_with_a_fresh_time(numbers, connect, aws_env, world):
    # The first write takes longer than the lease: a rival may not have seen it when it read the claims.
    clocks = Clocks(claim_write_seconds=[ownership.CLAIM_WRITE_LEASE_SECONDS + 0.5, 0.01])
    since = len(aws_env.control.calls())

    acquired = acquire(numbers, world, clocks)

    tag_calls = [
        call["operation"]
        for call in aws_env.control.calls()[since:]
        if call["operation"] in ("TagResource", "UntagResource")
    ]
    # Claim, claim again (same key, fresh time), then the owner tags (with the pending marker), then
    # confirming removes the marker and the claim.
    assert tag_calls == ["TagResource", "TagResource", "TagResource", "UntagResource"]
    # Only the second, fast claim was waited on.
    assert clocks.slept == [ownership.CLAIM_SETTLE_SECONDS]
    assert acquired.tags == owner_tags(OURS, world.instance_a_arn)
    assert describe(connect, world.number_arn).get("Tags", {}) == acquired.tags


class SteppingClocks:
    """A wall clock that reads ``values`` in turn (then the last one), and a monotonic clock that only moves
    when the code under test sleeps."""

    def __init__(self, values: list[float]) -> None:
        self._values = list(values)
        self.monotonic_now = 0.0

    def wall_clock(self) -> float:
        return self._values.pop(0) if len(self._values) > 1 else self._values[0]

    def monotonic(self) -> float:
        return self.monotonic_now

    def sleep(self, seconds: float) -> None:
        self.monotonic_now += seconds


def test_claim_writes_slower_than_the_lease_every_time_give_up_and_leave_nothing(numbers, connect, world):
    slow = ownership.CLAIM_WRITE_LEASE_SECONDS + 0.5
    clocks = Clocks(claim_write_seconds=[slow] * ownership.CLAIM_WRITE_ATTEMPTS)

    with pytest.raises(TagsNotVisible, match="tag writes in a row"):
        acquire(numbers, world, clocks)

    assert describe(connect, world.number_arn).get("Tags", {}) == {}


def test_a_claim_not_visible_within_the_bound_is_withdrawn_and_refused(numbers, connect, aws_env, world):
    aws_env.control.configure(tag_visibility_seconds=60)
    clocks = SteppingClocks([NOW])

    with pytest.raises(TagsNotVisible, match="was not visible"):
        acquire(numbers, world, clocks)

    # It looked until the bound, no longer.
    assert clocks.monotonic_now > ownership.CLAIM_VISIBILITY_BOUND_SECONDS
    assert clocks.monotonic_now <= (
        ownership.CLAIM_VISIBILITY_BOUND_SECONDS + ownership.CLAIM_VISIBILITY_POLL_SECONDS
    )
    writes = [
        c["operation"] for c in aws_env.control.calls() if c["operation"] in ("TagResource", "UntagResource")
    ]
    assert writes == ["TagResource", "UntagResource"]


def test_a_claim_too_old_to_convert_is_withdrawn_and_made_again(numbers, connect, aws_env, world):
    # The first round's check finds the claim written CLAIM_CONVERT_BY_SECONDS ago (a stalled invocation):
    # rivals may take it for dead, so it is withdrawn and a fresh one made.
    late = NOW + ownership.CLAIM_CONVERT_BY_SECONDS + 1
    clocks = SteppingClocks([NOW, NOW, NOW, late])

    acquired = acquire(numbers, world, clocks)

    writes = [
        c["operation"] for c in aws_env.control.calls() if c["operation"] in ("TagResource", "UntagResource")
    ]
    # Claim, withdraw, claim again, owner tags, confirm.
    assert writes == ["TagResource", "UntagResource", "TagResource", "TagResource", "UntagResource"]
    assert acquired.tags == owner_tags(OURS, world.instance_a_arn)
