"""The provider's own retry loop and its pacing (waiting.Pacing): deterministic, on an injected clock and
random generator, never the wall clock."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from phone_number_assignment import waiting
from phone_number_assignment.connect import PhoneNumbers
from phone_number_assignment.errors import ServiceUnavailable
from phone_number_assignment.waiting import Budget, Pacing

ARN = "arn:aws:connect:us-east-1:123456789012:phone-number/11111111-1111-4111-8111-111111111111"
DESCRIBE = "DescribePhoneNumber"


class Midpoint(random.Random):
    """uniform(a, b) is always the midpoint: jitter's centre, so each pause is exactly its step."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def step(level: int) -> float:
    return min(
        waiting.THROTTLE_CAP_SECONDS, waiting.THROTTLE_FIRST_SECONDS * waiting.THROTTLE_GROWTH ** (level - 1)
    )


def test_each_throttle_of_an_operation_pauses_a_step_longer_up_to_the_cap():
    pacing = Pacing(Clock(), Midpoint())
    pauses = [pacing.throttle_delay(DESCRIBE) for _ in range(5)]
    assert pauses == [step(level) for level in range(1, 6)]
    assert pauses[1] == pytest.approx(pauses[0] * waiting.THROTTLE_GROWTH)
    assert pauses[-1] == waiting.THROTTLE_CAP_SECONDS
    assert pacing.contended()


def test_backoff_is_per_operation_like_connects_quotas():
    pacing = Pacing(Clock(), Midpoint())
    pacing.throttle_delay("TagResource")
    pacing.throttle_delay("TagResource")
    assert pacing.throttle_delay(DESCRIBE) == step(1)


def test_each_success_eases_off_one_step():
    pacing = Pacing(Clock(), Midpoint())
    for _ in range(3):
        pacing.throttle_delay(DESCRIBE)
    pacing.succeeded(DESCRIBE)
    # Level 3 came down to 2: the next throttle pauses step 3 again, not step 4.
    assert pacing.throttle_delay(DESCRIBE) == step(3)
    for _ in range(5):
        pacing.succeeded(DESCRIBE)
    assert pacing.throttle_delay(DESCRIBE) == step(1)


def test_throttle_pauses_are_jittered_around_their_step():
    pacing = Pacing(Clock(), random.Random(3))
    pauses = []
    for _ in range(200):
        pauses.append(pacing.throttle_delay(DESCRIBE))
        pacing.succeeded(DESCRIBE)  # back to level 0: every pause is the first step's
    low, high = (step(1) * (1 - waiting.THROTTLE_JITTER), step(1) * (1 + waiting.THROTTLE_JITTER))
    assert all(low <= pause <= high for pause in pauses)
    assert len({round(pause, 6) for pause in pauses}) > 100  # spread, so the crowd does not come back at once


def test_error_pauses_are_full_jitter_on_a_short_capped_exponential():
    pacing = Pacing(Clock(), random.Random(5))
    for attempt in range(1, 10):
        limit = min(waiting.RETRY_CAP_SECONDS, waiting.RETRY_BASE_SECONDS * 2**attempt)
        assert all(0 <= pacing.error_delay(attempt) <= limit for _ in range(50))
    assert not pacing.contended()  # an internal error is not a crowded quota


class Scripted:
    """A Connect client whose DescribePhoneNumber raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def describe_phone_number(self, PhoneNumberId: str) -> dict:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {
            "ClaimedPhoneNumberSummary": {
                "PhoneNumberArn": ARN,
                "PhoneNumberId": ARN.rsplit("/", 1)[1],
                "TargetArn": "arn:aws:connect:us-east-1:123456789012:instance/x",
                "PhoneNumberStatus": {"Status": "CLAIMED"},
            }
        }


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, DESCRIBE)


def phone_numbers(client: Scripted, clock: Clock, seconds: float = 900) -> PhoneNumbers:
    return PhoneNumbers(client, Budget(seconds, clock=clock), sleep=clock.sleep, clock=clock, rng=Midpoint())


def test_the_call_loop_backs_off_throttling_by_steps_and_internal_errors_briefly():
    clock = Clock()
    client = Scripted(
        client_error("ThrottlingException"),
        client_error("ThrottlingException"),
        client_error("InternalServiceException"),
    )

    assert phone_numbers(client, clock).describe(ARN) is not None

    assert client.calls == 4
    # Midpoint jitter: the throttle steps exactly; the internal error half its first full-jitter window.
    assert clock.pauses == [
        step(1),
        step(2),
        min(waiting.RETRY_CAP_SECONDS, waiting.RETRY_BASE_SECONDS * 2) / 2,
    ]


def test_connection_failures_are_retried_by_the_loop_since_botocore_does_not():
    clock = Clock()
    client = Scripted(EndpointConnectionError(endpoint_url="https://connect.example"))

    assert phone_numbers(client, clock).describe(ARN) is not None

    assert client.calls == 2
    assert len(clock.pauses) == 1
    assert clock.pauses[0] <= waiting.RETRY_BASE_SECONDS * 2


def test_a_throttle_pause_that_would_outlast_the_budget_is_not_taken():
    clock = Clock()
    client = Scripted(client_error("ThrottlingException"))

    with pytest.raises(ServiceUnavailable):
        phone_numbers(client, clock, seconds=step(1) / 2).describe(ARN)

    assert (client.calls, clock.pauses) == (1, [])


def test_a_connection_failure_past_the_budget_is_raised_as_it_came():
    clock = Clock()
    failure = EndpointConnectionError(endpoint_url="https://connect.example")
    client = Scripted(failure, failure)

    with pytest.raises(EndpointConnectionError):
        phone_numbers(client, clock, seconds=0.0).describe(ARN)

    assert client.calls == 1
