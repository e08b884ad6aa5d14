"""Polling a move while the quota is contended: fewer Describes that only find the move still running."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from botocore.exceptions import ClientError

from phone_number_assignment import waiting
from phone_number_assignment.connect import PhoneNumbers, PhoneNumberState
from phone_number_assignment.waiting import Budget

ARN = "arn:aws:connect:us-east-1:123456789012:phone-number/11111111-1111-4111-8111-111111111111"
SOURCE = "arn:aws:connect:us-east-1:123456789012:instance/22222222-2222-4222-8222-222222222222"
TARGET = "arn:aws:connect:us-east-1:123456789012:instance/33333333-3333-4333-8333-333333333333"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class FakeConnect:
    """DescribePhoneNumber: IN_PROGRESS until ``done_at`` on the fake clock, then CLAIMED on the target.

    ``throttle_first`` Describes fail with ThrottlingException; ``retried`` says every success needed
    botocore retries (ResponseMetadata.RetryAttempts).
    """

    def __init__(
        self, clock: Clock, done_at: float, *, throttle_first: int = 0, retried: bool = False
    ) -> None:
        self.clock, self.done_at = clock, done_at
        self.throttle_first, self.retried = throttle_first, retried
        self.describes: list[float] = []

    def describe_phone_number(self, PhoneNumberId: str) -> dict:
        self.describes.append(self.clock.now)
        if self.throttle_first > 0:
            self.throttle_first -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribePhoneNumber"
            )
        done = self.clock.now >= self.done_at
        return {
            "ResponseMetadata": {"RetryAttempts": 2 if self.retried else 0},
            "ClaimedPhoneNumberSummary": {
                "PhoneNumberArn": ARN,
                "PhoneNumberId": ARN.rsplit("/", 1)[1],
                "PhoneNumber": "+15555550100",
                "TargetArn": TARGET,
                "PhoneNumberStatus": {"Status": "CLAIMED" if done else "IN_PROGRESS"},
            },
        }


def numbers(client: FakeConnect, clock: Clock) -> PhoneNumbers:
    budget = Budget(900, clock=clock)
    return PhoneNumbers(client, budget, sleep=clock.sleep, clock=clock, rng=random.Random(7))


BEFORE = PhoneNumberState(ARN, ARN.rsplit("/", 1)[1], "+15555550100", SOURCE, "CLAIMED", "")


def test_uncontended_moves_are_polled_about_once_a_second():
    clock = Clock()
    client = FakeConnect(clock, done_at=5.0)

    state = numbers(client, clock).wait_for_move(BEFORE, TARGET)

    assert state.is_claimed_on(TARGET)
    assert clock.pauses[0] == waiting.FIRST_POLL_SECONDS
    assert all(pause <= waiting.POLL_SECONDS * (1 + waiting.POLL_JITTER) for pause in clock.pauses)
    assert len(client.describes) >= 4


def test_after_throttling_polls_are_spaced_out():
    clock = Clock()
    client = FakeConnect(clock, done_at=7.0, throttle_first=1)
    phone_numbers = numbers(client, clock)
    phone_numbers.describe(ARN)  # the read before the move: throttled on the way
    waited_from = clock.now

    state = phone_numbers.wait_for_move(BEFORE, TARGET)

    assert state.is_claimed_on(TARGET)
    polls = [t for t in client.describes if t > waited_from]
    assert polls[0] - waited_from >= waiting.CONTENDED_POLL_SECONDS
    assert all(b - a >= waiting.CONTENDED_POLL_SECONDS for a, b in itertools.pairwise(polls))


def test_polls_wait_the_pause_the_read_needed_then_ease_off(monkeypatch):
    # Pauses as long as shipped (the suite's conftest shortens them), well above the poll interval.
    monkeypatch.setattr(waiting, "THROTTLE_FIRST_SECONDS", 5.0)
    monkeypatch.setattr(waiting, "THROTTLE_CAP_SECONDS", 30.0)
    clock = Clock()
    client = FakeConnect(clock, done_at=1000.0, throttle_first=2)
    phone_numbers = numbers(client, clock)
    phone_numbers.describe(ARN)  # throttled twice: the second pause was the longer step
    second_step = min(waiting.THROTTLE_CAP_SECONDS, waiting.THROTTLE_FIRST_SECONDS * waiting.THROTTLE_GROWTH)
    clock.now += waiting.CONTENTION_SECONDS  # nothing throttled since
    waited_from = clock.now
    client.done_at = clock.now + waiting.FAST_POLL_SECONDS - 2  # within the one-second phase

    phone_numbers.wait_for_move(BEFORE, TARGET)

    polls = [t for t in client.describes if t > waited_from]
    # The first poll waits out the crowd the read met, even though nothing was throttled for a while ...
    assert polls[0] - waited_from >= second_step * waiting.LEARNED_POLL_SHARE[0]
    # ... and each poll that gets through eases off one step, back to the usual schedule.
    first_step = waiting.THROTTLE_FIRST_SECONDS
    assert polls[1] - polls[0] <= max(
        first_step * waiting.LEARNED_POLL_SHARE[1], waiting.CONTENDED_POLL_SECONDS
    )
    assert polls[-1] - polls[-2] <= waiting.POLL_SECONDS * (1 + waiting.POLL_JITTER)


class SlowConnect(FakeConnect):
    """Each Describe takes ``latency`` seconds of the fake clock, as a real call does."""

    def __init__(self, clock: Clock, done_at: float, latency: float) -> None:
        super().__init__(clock, done_at)
        self.latency = latency

    def describe_phone_number(self, PhoneNumberId: str) -> dict:
        response = super().describe_phone_number(PhoneNumberId)
        self.clock.now += self.latency
        return response


@pytest.mark.parametrize("move_seconds", [2.0, 5.0, 20.0, 7.3])
def test_polls_keep_to_a_one_second_grid_whatever_the_calls_latency(move_seconds):
    clock = Clock()
    client = SlowConnect(clock, done_at=move_seconds, latency=0.08)

    numbers(client, clock).wait_for_move(BEFORE, TARGET)

    # Poll k is sent between FIRST + (k-1) s and a jitter later: the calls' latency does not add up.
    for k, sent in enumerate(client.describes):
        grid = waiting.FIRST_POLL_SECONDS + k * waiting.POLL_SECONDS
        assert grid <= sent <= grid + waiting.POLL_JITTER * waiting.POLL_SECONDS + 1e-9
    # One Describe per grid point during the move (one a second, as shipped), plus the one that sees it
    # CLAIMED ...
    during = math.floor((move_seconds - waiting.FIRST_POLL_SECONDS) / waiting.POLL_SECONDS) + 1
    assert len(client.describes) <= during + 1
    # ... which comes within a second of completion.
    assert client.describes[-1] - move_seconds < waiting.POLL_SECONDS * (1 + waiting.POLL_JITTER)
