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


def test_ideal_makespan_is_the_slowest_bucket_plus_one_move():
    # 20 Creates need 60 Describes (3 each) and 20 Updates; the bucket starts with 2 and admits 2 a second.
    assert stats.quota_bound_seconds(20, per_second=2, burst=2) == pytest.approx(29.0)
    assert stats.ideal_makespan(20, move_seconds=2, per_second=2, burst=2) == pytest.approx(31.0)
    assert stats.ideal_makespan(100, move_seconds=2, per_second=2, burst=2) == pytest.approx(151.0)


def test_ideal_makespan_never_goes_below_the_move_itself():
    assert stats.ideal_makespan(0, move_seconds=5, per_second=2, burst=2) == 5
    assert stats.ideal_makespan(1, move_seconds=5, per_second=2, burst=2) == pytest.approx(5.5)


def test_ideal_makespan_follows_the_operation_that_needs_most_calls():
    calls = {stats.DESCRIBE: 1, stats.UPDATE: 4}
    assert stats.quota_bound_seconds(10, per_second=2, burst=2, calls_per_resource=calls) == 19


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
    assert by_arn[ARN].describes_per_second == pytest.approx(0.6)
    assert by_arn[OTHER].lag_seconds == pytest.approx(0.1)
    assert by_arn[OTHER].describes_in_window == 0


def test_moves_without_a_response_are_left_out():
    assert stats.move_lags([move(ARN, "n1", 0, 1)], [], {}) == []


def test_summary_takes_median_and_max():
    lags = [
        stats.MoveLag(ARN, 2.0, lag, describes, describes)
        for lag, describes in ((0.2, 2), (0.9, 2), (1.4, 3))
    ]
    summary = stats.summarise_lags(2.0, lags)
    assert summary.moves == 3
    assert summary.median_lag == pytest.approx(0.9)
    assert summary.max_lag == pytest.approx(1.4)
    assert summary.describes_per_move == 2
    assert summary.describes_per_second == pytest.approx(1.5)
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
    assert stats.count_calls(calls, stats.UPDATE).ok == 1


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
