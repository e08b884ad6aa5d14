"""The benchmark's arithmetic on tiny synthetic inputs: no emulator, no clocks."""

from __future__ import annotations

import math

import pytest

from benchmarks import stats

ARN = "arn:aws:connect:us-east-1:123456789012:phone-number/n1"
OTHER = "arn:aws:connect:us-east-1:123456789012:phone-number/n2"


def describe(number: str, at: float, status: int = 200, error: str | None = None) -> dict:
    return {
        "operation": stats.DESCRIBE,
        "time": at,
        "params": {"PhoneNumberId": number},
        "status": status,
        "error": error,
    }


def move(arn: str, number_id: str, started: float, completes: float) -> dict:
    return {
        "phone_number_id": number_id,
        "phone_number_arn": arn,
        "from_target": "a",
        "to_target": "b",
        "started_at": started,
        "completes_at": completes,
        "outcome": "CLAIMED",
    }


DEFAULT = {op: (2.0, 5) for op in (stats.DESCRIBE, stats.UPDATE, "TagResource", "UntagResource")}


def test_bucket_seconds_starts_full_then_refills():
    assert stats.bucket_seconds(5, per_second=2, burst=5) == 0
    assert stats.bucket_seconds(65, per_second=2, burst=5) == pytest.approx(30.0)


def test_quota_bound_is_the_slowest_bucket_and_names_it():
    # 20 assignments: 60 Describes, 20 Updates, 50 tag writes, 10 untags, 40 calls with no quota.
    admitted = {stats.DESCRIBE: 60, stats.UPDATE: 20, "TagResource": 50, "UntagResource": 10, "Other": 40}
    bound = stats.quota_bound(admitted, DEFAULT, move_seconds=2)
    assert bound.operation == stats.DESCRIBE
    assert bound.seconds == pytest.approx(27.5)
    assert bound.per_operation == pytest.approx(
        {stats.DESCRIBE: 27.5, stats.UPDATE: 9.5, "TagResource": 22.5, "UntagResource": 2.5}
    )


def test_tag_writes_can_be_the_binding_operation():
    admitted = {stats.DESCRIBE: 60, stats.UPDATE: 20, "TagResource": 70}
    bound = stats.quota_bound(admitted, DEFAULT, move_seconds=2)
    assert (bound.operation, bound.seconds) == ("TagResource", pytest.approx(32.5))


def test_the_last_update_is_followed_by_a_whole_move():
    bound = stats.quota_bound({stats.UPDATE: 25, stats.DESCRIBE: 30}, DEFAULT, move_seconds=4)
    assert bound.per_operation[stats.UPDATE] == pytest.approx(14.0)
    assert (bound.operation, bound.seconds) == (stats.UPDATE, pytest.approx(14.0))


def test_quota_bound_never_goes_below_the_move_itself():
    bound = stats.quota_bound({stats.DESCRIBE: 3}, DEFAULT, move_seconds=5)
    assert bound.seconds == 5
    assert stats.quota_bound({}, DEFAULT, move_seconds=5) == stats.QuotaBound(5, None, {})


def test_operations_without_a_quota_cost_nothing():
    assert stats.quota_bound({"ListInstances": 1000}, DEFAULT).seconds == 0


def test_move_lags_pair_moves_with_responses_and_count_describes_in_the_window():
    moves = [move(ARN, "n1", 100.0, 105.0), move(OTHER, "n2", 100.0, 102.0)]
    calls = [
        describe(ARN, 99.0),  # before the move: not counted
        describe(ARN, 101.0),
        describe("n1", 102.5),  # by ID rather than ARN: same number
        describe(ARN, 104.0, 429, "ThrottlingException"),  # throttled calls are calls too
        describe(ARN, 105.2),  # after completion, before the response: total only
        describe(OTHER, 103.0),
        {"operation": "TagResource", "time": 101.5, "params": {"resourceArn": ARN}, "status": 200},
    ]
    lags = stats.move_lags(moves, calls, {ARN: 105.4, OTHER: 102.1})
    by_arn = {lag.phone_number_arn: lag for lag in lags}
    assert by_arn[ARN].lag_seconds == pytest.approx(0.4)
    assert by_arn[ARN].move_seconds == pytest.approx(5.0)
    assert by_arn[ARN].describes_in_window == 3
    assert by_arn[ARN].describes_total == 4
    # The whole request's: the read before the move too (the number is fresh in every run).
    assert by_arn[ARN].describes_in_request == 5
    assert by_arn[ARN].describes_per_second == pytest.approx(0.6)
    assert by_arn[OTHER].lag_seconds == pytest.approx(0.1)
    assert by_arn[OTHER].describes_in_window == 0


def test_moves_without_a_response_are_left_out():
    assert stats.move_lags([move(ARN, "n1", 0, 1)], [], {}) == []


def test_summary_takes_median_and_max():
    lags = [
        stats.MoveLag(ARN, 2.0, lag, describes, describes, describes + 1)
        for lag, describes in ((0.2, 2), (0.9, 2), (1.4, 3))
    ]
    summary = stats.summarise_lags(2.0, lags)
    assert summary.moves == 3
    assert summary.median_lag == pytest.approx(0.9)
    assert summary.max_lag == pytest.approx(1.4)
    assert summary.describes_per_move == 2
    assert summary.describes_per_second == pytest.approx(1.5)
    assert (summary.describes_per_assignment, summary.describes_per_assignment_max) == (3, 4)
    assert summary.meets(max_median_lag=1.0, max_describes_per_second=1.5)
    assert not summary.meets(max_median_lag=1.0, max_describes_per_second=1.0)


def test_empty_summary_is_nan_not_an_error():
    summary = stats.summarise_lags(2.0, [])
    assert math.isnan(summary.median_lag)
    assert math.isnan(summary.max_lag)


def test_count_calls_separates_throttling_from_other_errors():
    calls = [
        describe(ARN, 1),
        describe(ARN, 2, 429, "ThrottlingException"),
        describe(ARN, 3, 404, "ResourceNotFoundException"),
        {"operation": stats.UPDATE, "time": 4, "params": {}, "status": 200, "error": None},
    ]
    counts = stats.count_calls(calls, stats.DESCRIBE)
    assert (counts.ok, counts.throttled, counts.other_errors, counts.total) == (1, 1, 1, 3)
    # A call refused after the quota let it through took a token all the same.
    assert counts.admitted == 2
    assert stats.count_calls(calls, stats.UPDATE).ok == 1
    assert stats.count_calls(calls, "TagResource") == stats.CallCounts(0, 0, 0)
    by_operation = stats.count_calls_by_operation(calls)
    assert list(by_operation) == [stats.DESCRIBE, stats.UPDATE]
    assert by_operation[stats.UPDATE] == stats.CallCounts(1, 0, 0)


def test_quota_utilisation_counts_the_initial_burst():
    assert stats.quota_utilisation(62, 30, per_second=2, burst=2) == pytest.approx(1.0)
    assert stats.quota_utilisation(31, 30, per_second=2, burst=2) == pytest.approx(0.5)


def test_cold_start_ratio_uses_medians():
    assert stats.cold_start_ratio([600, 500, 5000], [400, 300, 500]) == pytest.approx(1.5)


def test_largest_keeps_the_biggest_and_sums_the_rest():
    sizes = {"botocore": 20, "boto3": 1, "wrapt": 3, "six": 1}
    assert stats.largest(sizes, 2) == [("botocore", 20), ("wrapt", 3), ("(2 others)", 2)]
    assert stats.largest({"a": 1}, 5) == [("a", 1)]


def test_verdict():
    assert stats.verdict(True) == "PASS"
    assert stats.verdict(False) == "MISS"
