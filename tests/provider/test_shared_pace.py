"""The shared pace (pace.SharedPace): one schedule of Connect calls per account, Region and operation, kept in
the ownership table; learned from throttles; and, whatever happens to DynamoDB, never a reason to fail.

The schedule's own tests run against the emulator's DynamoDB on an injected clock; the handler's, with
several invocations at once under the emulator's default Connect quotas, on the real clock (they share a
quota: local_aws/clock.py says why).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

from phone_number_assignment import clients, pace, retries, waiting
from phone_number_assignment.pace import SharedPace, Turn
from phone_number_assignment.records import KEY, OWNERSHIP_TABLE
from phone_number_assignment.waiting import Budget, Pacing
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import captured_logs, props, seed_numbers, wait_until

DESCRIBE = "DescribePhoneNumber"
EPOCH = 1_800_000_000.0


class Clock:
    """Epoch seconds that move only when told (a sleep, or the test)."""

    def __init__(self) -> None:
        self.now = EPOCH
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def ownership_table(endpoint_url: str) -> None:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    client.create_table(
        TableName=OWNERSHIP_TABLE,
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def pace_item(endpoint_url: str, operation: str = DESCRIBE) -> dict:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    key = pace.pace_key("aws", REGION, ACCOUNT, operation)
    item = client.get_item(TableName=OWNERSHIP_TABLE, Key={KEY: {"S": key}}, ConsistentRead=True).get("Item")
    return {name: float(value["N"]) for name, value in (item or {}).items() if "N" in value}


def shared_pace(clock: Clock, client=None) -> SharedPace:
    return SharedPace(
        client or clients.pace_client(REGION),
        OWNERSHIP_TABLE,
        partition="aws",
        region=REGION,
        account=ACCOUNT,
        clock=clock,
        monotonic=clock,
    )


@pytest.fixture
def table(aws_env):
    ownership_table(aws_env.endpoint_url)
    return aws_env


def test_the_pace_items_keys_pass_the_functions_condition_on_leading_keys():
    # template.yaml's dynamodb:LeadingKeys condition:
    # arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:phone-number/*
    key = pace.pace_key("aws", REGION, ACCOUNT, DESCRIBE)
    assert key == f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/pace-DescribePhoneNumber"
    assert pace.is_pace_key(key)
    assert not pace.is_pace_key(f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/0b2c3d4e-1111-4111-8111-1")


def test_an_open_pace_lets_every_call_go_at_once_for_one_write_each_few_seconds(table):
    clock = Clock()
    shared = shared_pace(clock)

    turns = [shared.turn(DESCRIBE) for _ in range(5)]

    assert turns == [Turn(0.0, 0.0)] * 5
    # Two turns' writes found it open; the same invocation trusts that for a while (a move's polls).
    trusted_after = pace.OPEN_TURNS_TO_TRUST
    assert table.control.service_calls()["dynamodb:UpdateItem"] == trusted_after
    clock.now += pace.OPEN_TRUST_SECONDS
    assert shared.turn(DESCRIBE) == Turn(0.0, 0.0)
    assert table.control.service_calls()["dynamodb:UpdateItem"] == trusted_after + 1
    # Every invocation writes its own turns: the others learn the pace from the table.
    assert shared_pace(clock).turn(DESCRIBE) == Turn(0.0, 0.0)
    assert table.control.service_calls()["dynamodb:UpdateItem"] == trusted_after + 2


def test_a_crowd_that_found_the_pace_open_once_does_not_trust_it(table):
    # A stack's first crowd finds the pace open and its throttles close it at once: the calls it admitted
    # take their next turns from the table, not unpaced.
    clock = Clock()
    admitted, throttled = shared_pace(clock), shared_pace(clock)
    admitted.turn(DESCRIBE)
    throttled.throttled(DESCRIBE, throttled.turn(DESCRIBE))

    admitted.turn(DESCRIBE)  # at the closed pace: the burst
    assert admitted.turn(DESCRIBE).wait > 0


def test_a_throttle_ends_the_trust_in_an_open_pace(table):
    clock = Clock()
    shared, other = shared_pace(clock), shared_pace(clock)
    for _ in range(pace.OPEN_TURNS_TO_TRUST):
        shared.turn(DESCRIBE)  # open, trusted
    other.throttled(DESCRIBE, other.turn(DESCRIBE))  # another invocation closes it

    stale = shared.turn(DESCRIBE)  # still trusted: at most this call goes unpaced ...
    shared.throttled(DESCRIBE, stale)  # ... and its throttle ends the trust

    assert shared.turn(DESCRIBE).wait > 0


def test_the_first_throttle_sets_connects_default_pace_and_turns_queue_after_it(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))

    waits = [shared.turn(DESCRIBE).wait for _ in range(4)]

    interval = pace.DEFAULT_INTERVAL_SECONDS
    # The quota's bucket was empty at the throttle: the next call one interval later, then one per interval.
    assert waits == pytest.approx([interval, 2 * interval, 3 * interval, 4 * interval])
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(interval, abs=1e-6)


def test_calls_throttled_at_the_same_pace_slow_it_down_once(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))
    crowd = [shared.turn(DESCRIBE) for _ in range(3)]

    for turn in crowd:  # all three throttled at the pace they were given
        shared.throttled(DESCRIBE, turn)

    slower = pace.DEFAULT_INTERVAL_SECONDS * pace.THROTTLE_SLOWDOWN
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(slower, abs=1e-6)
    # A throttle at the new pace slows it again.
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(slower * pace.THROTTLE_SLOWDOWN)


def test_a_throttle_keeps_the_turns_already_given_and_queues_new_ones_after_them(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))
    given = [shared.turn(DESCRIBE) for _ in range(5)]

    shared.throttled(DESCRIBE, given[2])  # the pace was too fast after all
    after = shared.turn(DESCRIBE)

    slower = pace.DEFAULT_INTERVAL_SECONDS * pace.THROTTLE_SLOWDOWN
    assert after.interval == pytest.approx(slower, abs=1e-6)
    # Not booked over the turns already given (they still happen), but after the last of them, with a
    # pause for the quota's bucket to refill.
    assert after.wait >= given[-1].wait + slower


def test_callers_queued_without_throttles_speed_the_pace_up_a_step_at_a_time(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))  # slowed a step below the default
    clock.now += pace.QUIET_SECONDS  # no throttle since
    for _ in range(pace.BURST + 2):  # a queue builds up
        shared.turn(DESCRIBE)

    slowed = pace.DEFAULT_INTERVAL_SECONDS * pace.THROTTLE_SLOWDOWN
    quicker = slowed * pace.SPEEDUP
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(quicker, abs=1e-6)
    # At most one step per SPEEDUP_EVERY_SECONDS, however many callers wait.
    for _ in range(5):
        shared.turn(DESCRIBE)
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(quicker, abs=1e-6)
    clock.now += pace.SPEEDUP_EVERY_SECONDS
    shared.turn(DESCRIBE)
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(quicker * pace.SPEEDUP, abs=1e-6)


def test_speeding_up_stops_at_the_default_pace_for_a_while_after_a_throttle(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))  # open: closes at the default
    shared.throttled(DESCRIBE, shared.turn(DESCRIBE))  # and the default was slowed a step
    clock.now += pace.QUIET_SECONDS

    for _ in range(10):  # a queue past the burst, a speed-up every few seconds
        for _ in range(pace.BURST + 2):
            shared.turn(DESCRIBE)
        clock.now += pace.SPEEDUP_EVERY_SECONDS

    # Back to the default within seconds, no further: the documented quota is the likeliest.
    assert pace_item(table.endpoint_url)["Interval"] == pytest.approx(pace.DEFAULT_INTERVAL_SECONDS, abs=1e-6)
    # Long after the throttle the pace may probe past it (a quota raised meanwhile).
    clock.now += pace.PROBE_AFTER_SECONDS
    for _ in range(pace.BURST + 2):
        shared.turn(DESCRIBE)
    assert pace_item(table.endpoint_url)["Interval"] < pace.DEFAULT_INTERVAL_SECONDS


def test_each_operation_has_its_own_pace_like_connects_quotas(table):
    clock = Clock()
    shared = shared_pace(clock)
    shared.throttled("TagResource", shared.turn("TagResource"))

    assert shared.turn(DESCRIBE) == Turn(0.0, 0.0)
    assert shared.turn("TagResource").wait > 0


def test_invocations_asking_at_once_each_get_a_turn_of_their_own(table):
    # Every invocation of a stack asks at the same moment: each must get a different turn (DynamoDB applies
    # each conditional update atomically; the emulator serves its requests one at a time for that).
    clock = Clock()
    shared_pace(clock).throttled(DESCRIBE, Turn(0.0, 0.0))
    crowd = 16
    start = threading.Barrier(crowd)

    def ask(_: int) -> float:
        shared = shared_pace(clock, boto3.client("dynamodb", region_name=REGION))
        start.wait()
        return shared.turn(DESCRIBE).wait

    with ThreadPoolExecutor(max_workers=crowd) as pool:
        waits = sorted(pool.map(ask, range(crowd)))

    interval = pace.DEFAULT_INTERVAL_SECONDS
    assert waits == pytest.approx([interval * k for k in range(1, crowd + 1)])


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_a_failing_store_leaves_the_invocation_pacing_alone_for_a_while(table, code):
    clock = Clock()
    shared = shared_pace(clock)
    table.control.inject_dynamodb_error("UpdateItem", code)

    with captured_logs() as logs:
        assert shared.turn(DESCRIBE) is None
    assert any("Shared pace unavailable" in line for line in logs.lines())
    # No more writes while it is given up on ...
    calls = table.control.service_calls()["dynamodb:UpdateItem"]
    assert shared.turn(DESCRIBE) is None
    shared.throttled(DESCRIBE, Turn(0.0, 0.0))
    assert table.control.service_calls()["dynamodb:UpdateItem"] == calls
    # ... then it asks again.
    clock.now += pace.UNAVAILABLE_SECONDS
    assert shared.turn(DESCRIBE) == Turn(0.0, 0.0)


def test_a_missing_table_leaves_the_invocation_pacing_alone(aws_env):
    assert shared_pace(Clock()).turn(DESCRIBE) is None


def test_the_first_request_in_an_account_says_the_table_is_not_there_yet_not_that_something_is_missing(
    stack, world
):
    # No ownership table yet: the pace's first turn (before the DescribePhoneNumber) finds none.
    with captured_logs() as logs:
        response = stack.create("MainLine", props(world))

    assert response.ok, response.reason
    text = logs.text()
    assert (
        f"Shared pace not in use yet: the ownership table {OWNERSHIP_TABLE} does not exist until the "
        "provider records its first owner in this account and Region; pacing alone meanwhile"
    ) in text
    # Nothing that reads as a number Connect does not know.
    assert "ResourceNotFoundException" not in text
    assert "Shared pace unavailable" not in text


@pytest.mark.real_time
def test_a_store_slower_than_the_pace_timeout_is_given_up_on(table):
    # The emulator answers after longer than the pace client's read timeout (clients.PACE_CLIENT_CONFIG).
    latency = clients.PACE_TIMEOUT_SECONDS + 0.5
    table.control.inject_dynamodb_error("UpdateItem", None, latency_seconds=latency)
    clock = Clock()
    clock.now = time.time()

    assert shared_pace(clock).turn(DESCRIBE) is None
    # The write given up on still lands: let it, before the next test's table exists.
    wait_until(lambda: pace_item(table.endpoint_url).get("Tat"), timeout=latency + 5)


def test_a_turn_further_ahead_than_any_queue_could_be_starts_the_schedule_afresh(table):
    # A writer whose clock was far ahead (or a damaged item) must not hold every call back.
    clock = Clock()
    ahead = Clock()
    ahead.now = clock.now + 10 * pace.MAX_TURN_AHEAD_SECONDS
    shared_pace(ahead).throttled(DESCRIBE, shared_pace(ahead).turn(DESCRIBE))

    assert shared_pace(clock).turn(DESCRIBE).wait == 0.0
    assert pace_item(table.endpoint_url)["Tat"] <= clock.now + pace.BURST * pace.DEFAULT_INTERVAL_SECONDS


# The retry loop with a shared pace (retries.call), on fakes ---------------------------------------------


class FakePace:
    def __init__(self, waits: list[float]) -> None:
        self.waits = waits
        self.throttles: list[Turn | None] = []

    def turn(self, operation: str) -> Turn | None:
        return Turn(self.waits.pop(0) if self.waits else 0.0, 0.5)

    def throttled(self, operation: str, turn: Turn | None) -> None:
        self.throttles.append(turn)


def throttling_then_ok(throttles: int):
    answers = iter(range(throttles + 1))

    def method(**params):
        if next(answers) < throttles:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, DESCRIBE
            )
        return {"ok": True}

    return method


def call(method, fake: FakePace, clock: Clock, budget_seconds: float = 900):
    return retries.call(
        method,
        {},
        operation=DESCRIBE,
        subject="reading a number",
        service="connect",
        pacing=Pacing(clock, random.Random(7)),
        budget=Budget(budget_seconds, clock=clock),
        sleep=clock.sleep,
        pace=fake,
    )


def test_each_attempt_waits_its_turn_and_a_throttle_is_answered_by_the_next_turn():
    clock, fake = Clock(), FakePace([1.5, 2.0])

    assert call(throttling_then_ok(1), fake, clock) == {"ok": True}

    # The turns' waits only: no backoff of the invocation's own after the throttle.
    assert clock.pauses == [1.5, 0.0, 2.0]
    assert len(fake.throttles) == 1


def test_a_call_throttled_again_and_again_at_its_turns_backs_off_alone_too():
    clock, fake = Clock(), FakePace([])

    call(throttling_then_ok(retries.THROTTLES_BEFORE_PACING_ALONE), fake, clock)

    # The last of THROTTLES_BEFORE_PACING_ALONE throttles in a row takes the invocation's own stepped pause.
    *at_turns, alone = clock.pauses
    assert at_turns == [0.0] * (retries.THROTTLES_BEFORE_PACING_ALONE - 1)
    low = waiting.THROTTLE_FIRST_SECONDS * (1 - waiting.THROTTLE_JITTER)
    assert low <= alone <= waiting.THROTTLE_FIRST_SECONDS * (1 + waiting.THROTTLE_JITTER)
    assert len(fake.throttles) == retries.THROTTLES_BEFORE_PACING_ALONE


def test_a_turn_that_does_not_fit_the_budget_is_not_waited_for():
    clock, fake = Clock(), FakePace([100.0])

    assert call(throttling_then_ok(0), fake, clock, budget_seconds=50) == {"ok": True}
    assert clock.pauses == []


def test_a_request_overtaken_while_it_waited_for_its_turn_does_not_make_the_call():
    # The ownership fence (before_retry) runs after a long turn as after a retry's pause: a move whose
    # request was overtaken meanwhile must not start.
    clock, fake = Clock(), FakePace([retries.TURN_FENCE_SECONDS + 1])
    made: list[dict] = []

    class Overtaken(Exception):
        pass

    def fence() -> None:
        raise Overtaken

    with pytest.raises(Overtaken):
        retries.call(
            lambda **params: made.append(params) or {},
            {},
            operation="UpdatePhoneNumber",
            subject="moving a number",
            service="connect",
            pacing=Pacing(clock, random.Random(7)),
            budget=Budget(900, clock=clock),
            sleep=clock.sleep,
            before_retry=fence,
            pace=fake,
        )
    assert made == []
    assert clock.pauses == [retries.TURN_FENCE_SECONDS + 1]


# Through the handler, several invocations at once ------------------------------------------------------

RESOURCES = 8
TIMEOUT_SECONDS = 300


def create_all(stack, world, aws_env) -> list:
    number_ids = seed_numbers(aws_env.control, RESOURCES, world.instance_a)
    aws_env.control.set_phone_number_quota(RESOURCES, instance_id=world.instance_b)
    aws_env.control.use_default_quotas()
    start = threading.Barrier(RESOURCES)

    def create(index: int):
        start.wait()
        return stack.create(
            f"Line{index}", props(world, PhoneNumberId=number_ids[index]), timeout_seconds=TIMEOUT_SECONDS
        )

    with ThreadPoolExecutor(max_workers=RESOURCES) as pool:
        return list(pool.map(create, range(RESOURCES)))


def connect_calls(control) -> tuple[int, int]:
    """(throttled, accepted) over every Connect operation the emulator served."""
    calls = control.calls()
    throttled = sum(1 for c in calls if c["error"] == "ThrottlingException")
    return throttled, len(calls) - throttled


@pytest.mark.real_time
def test_concurrent_invocations_share_one_pace_under_the_default_quota(stack, world, aws_env):
    ownership_table(aws_env.endpoint_url)  # an account where the provider has run before

    with captured_logs() as logs:
        responses = create_all(stack, world, aws_env)

    assert [(r.event["LogicalResourceId"], r.reason) for r in responses if not r.ok] == []
    throttled, accepted = connect_calls(aws_env.control)
    assert throttled <= 0.5 * accepted
    # Every invocation took its turns on the one pace (one write per Connect call at least) ...
    assert aws_env.control.service_calls()["dynamodb:UpdateItem"] >= accepted
    assert not any("Shared pace unavailable" in line for line in logs.lines())
    # ... and the crowd's first throttles closed the Describe pace at Connect's default, or nothing was
    # throttled at all.
    if any(c["operation"] == DESCRIBE and c["error"] for c in aws_env.control.calls()):
        assert pace_item(aws_env.endpoint_url)["Interval"] >= pace.DEFAULT_INTERVAL_SECONDS * pace.SPEEDUP**10


@pytest.mark.real_time
def test_invocations_whose_shared_pace_is_throttled_pace_themselves_and_none_fails(stack, world, aws_env):
    ownership_table(aws_env.endpoint_url)
    aws_env.control.inject_dynamodb_error(
        "UpdateItem", "ProvisionedThroughputExceededException", count=10_000
    )

    with captured_logs() as logs:
        responses = create_all(stack, world, aws_env)

    assert [(r.event["LogicalResourceId"], r.reason) for r in responses if not r.ok] == []
    assert any("Shared pace unavailable" in line for line in logs.lines())
    throttled, accepted = connect_calls(aws_env.control)
    assert throttled <= accepted  # today's own backoff: its guarantee


@pytest.mark.real_time
def test_invocations_that_cannot_reach_the_shared_pace_pace_themselves_and_none_fails(
    stack, world, aws_env, monkeypatch
):
    from phone_number_assignment import app

    ownership_table(aws_env.endpoint_url)
    # Nothing listens on port 9 (discard) here: every pace write fails to connect.
    unreachable = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url="http://127.0.0.1:9", config=clients.PACE_CLIENT_CONFIG
    )
    monkeypatch.setattr(app, "pace_client", lambda region=None: unreachable)

    with captured_logs() as logs:
        responses = create_all(stack, world, aws_env)

    assert [(r.event["LogicalResourceId"], r.reason) for r in responses if not r.ok] == []
    assert any("Shared pace unavailable" in line for line in logs.lines())
    assert "dynamodb:UpdateItem" not in aws_env.control.service_calls()
