"""The provider's own retry loop and its pacing (waiting.Pacing): deterministic, on an injected clock and
random generator, never the wall clock."""

from __future__ import annotations

import heapq
import importlib.util
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


def test_a_connection_failure_past_the_budget_is_a_clear_failure_not_a_trace():
    clock = Clock()
    failure = EndpointConnectionError(endpoint_url="https://connect.example")
    client = Scripted(failure, failure)

    with pytest.raises(
        ServiceUnavailable, match=r"Could not reach Connect describing .*EndpointConnectionError"
    ):
        phone_numbers(client, clock, seconds=0.0).describe(ARN)

    assert client.calls == 1


# --- The policy across concurrent invocations ------------------------------------------------------------
# A stack's resources are separate invocations (Lambda containers) that only see their own answers. This
# plays a hundred of them, each with its own Pacing as the provider makes it, against one token bucket per
# operation, on a simulated clock: the fresh assignment's calls (read, move, polls until the move is done,
# owner tags at the end). The shipped constants are used (the suite's conftest shortens them for the
# emulator tests), from a private copy of the module.


def shipped_waiting():
    spec = importlib.util.spec_from_file_location("shipped_waiting", waiting.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Bucket:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second, self.capacity, self.tokens, self.at = per_second, burst, float(burst), 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def play(invocations: int, per_second: float, burst: int, *, move_seconds: float = 2.0, seed: int = 0):
    """Returns (makespan, throttled, accepted) for ``invocations`` fresh assignments at once."""
    module = shipped_waiting()
    now = [0.0]
    buckets = {
        op: Bucket(per_second, burst) for op in ("DescribePhoneNumber", "UpdatePhoneNumber", "TagResource")
    }
    pacings = [module.Pacing(lambda: now[0], random.Random(seed * 1000 + i)) for i in range(invocations)]
    steps = ["read"] * invocations
    moved_at: list[float | None] = [None] * invocations
    polls: list = [None] * invocations
    queue = [(0.0, i) for i in range(invocations)]
    heapq.heapify(queue)
    throttled = accepted = 0
    finished = 0.0
    operation = {"read": "DescribePhoneNumber", "update": "UpdatePhoneNumber", "poll": "DescribePhoneNumber"}
    while queue:
        now[0], i = heapq.heappop(queue)
        op = operation.get(steps[i], "TagResource")
        pacing = pacings[i]
        if not buckets[op].take(now[0]):
            throttled += 1
            heapq.heappush(queue, (now[0] + pacing.throttle_delay(op), i))
            continue
        accepted += 1
        pacing.succeeded(op)
        if steps[i] == "read":
            steps[i] = "update"
            heapq.heappush(queue, (now[0], i))
        elif steps[i] == "update":
            steps[i], moved_at[i] = "poll", now[0]
            polls[i] = pacing.move_poll_delays()
            heapq.heappush(queue, (now[0] + next(polls[i]), i))
        elif steps[i] == "poll":
            if now[0] >= moved_at[i] + move_seconds:
                steps[i] = "tag"
                heapq.heappush(queue, (now[0], i))
            else:
                heapq.heappush(queue, (now[0] + next(polls[i]), i))
        else:
            finished = max(finished, now[0])
    return finished, throttled, accepted


@pytest.mark.parametrize(("per_second", "burst"), [(2.0, 5), (1.5, 2)])
@pytest.mark.parametrize("invocations", [20, 100])
def test_concurrent_invocations_throttle_no_more_than_they_get_through(invocations, per_second, burst):
    floor = (2 * invocations - burst) / per_second
    for seed in range(3):
        makespan, throttled, accepted = play(invocations, per_second, burst, seed=seed)
        assert accepted >= 4 * invocations  # read, move, at least one poll, tags: nothing skipped
        assert throttled <= accepted
        # Backing off costs time, but not without bound: at most a few of the longest pauses beyond the
        # floor (the read's, the poll's, and the tail's, when the last invocations wait out pauses nobody
        # contends with any more). The bench measures the real figures.
        module = shipped_waiting()
        assert makespan <= floor + 3 * module.THROTTLE_CAP_SECONDS * (1 + module.THROTTLE_JITTER)


def test_without_growing_pauses_the_crowd_throttles_far_more_than_it_gets_through(monkeypatch):
    # The test above fails for a policy that does not learn: a fixed pause (growth 1) at N=100.
    original = shipped_waiting

    def fixed():
        module = original()
        module.THROTTLE_GROWTH = 1.0
        return module

    monkeypatch.setitem(globals(), "shipped_waiting", fixed)
    _, throttled, accepted = play(100, 2.0, 5)
    assert throttled > accepted


# ---- Describe's lag, across the invocations of one request (connect.PhoneNumbers.describe_after_lag) -------


def lagged(clock: Clock, *, since: float | None = None) -> tuple[PhoneNumbers, Scripted]:
    client = Scripted()
    numbers = phone_numbers(client, clock)
    numbers.wall_clock = clock
    if since is not None:
        numbers.lag_since = {ARN: since}  # as a continuation's marker carries it
    return numbers, client


def test_the_lag_is_waited_from_the_read_that_decided_to_wait():
    clock = Clock()
    numbers, client = lagged(clock)
    state = numbers.describe(ARN)

    numbers.describe_after_lag(state)

    assert clock.pauses == [waiting.STALE_STATUS_GRACE_SECONDS]
    assert client.calls == 2
    assert numbers.lag_since == {ARN: 0.0}  # what a hand-over carries to the next invocation


def test_a_continuation_whose_first_read_came_after_the_lag_does_not_wait_it_again():
    clock = Clock()
    clock.now = 100.0
    numbers, client = lagged(clock, since=100.0 - waiting.STALE_STATUS_GRACE_SECONDS - 1)
    state = numbers.describe(ARN)

    assert numbers.describe_after_lag(state) is state

    assert clock.pauses == []
    assert client.calls == 1  # no second Describe turn, which a long queue may not fit in this invocation


def test_a_continuation_started_within_the_lag_waits_only_what_is_left():
    clock = Clock()
    clock.now = 100.0
    numbers, client = lagged(clock, since=98.0)
    state = numbers.describe(ARN)

    numbers.describe_after_lag(state)

    assert clock.pauses == [pytest.approx(waiting.STALE_STATUS_GRACE_SECONDS - 2.0)]
    assert client.calls == 2
