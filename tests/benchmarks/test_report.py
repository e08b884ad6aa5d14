"""The throughput rows: each operation the run made, per assignment, beside its quota's share of the ideal."""

from __future__ import annotations

import pytest

from benchmarks import report, stats
from benchmarks.throughput import ThroughputResult


def result(makespan: float) -> ThroughputResult:
    quotas = {stats.DESCRIBE: (2.0, 5), stats.UPDATE: (2.0, 5), "TagResource": (2.0, 5)}
    calls = {
        stats.DESCRIBE: stats.CallCounts(ok=60, throttled=7, other_errors=0),
        stats.UPDATE: stats.CallCounts(ok=20, throttled=0, other_errors=0),
        "TagResource": stats.CallCounts(ok=68, throttled=12, other_errors=2),
        "ListInstances": stats.CallCounts(ok=3, throttled=0, other_errors=0),
    }
    admitted = {op: counts.admitted for op, counts in calls.items()}
    return ThroughputResult(
        resources=20,
        move_seconds=2.0,
        makespan=makespan,
        bound=stats.quota_bound(admitted, quotas, move_seconds=2.0),
        quotas=quotas,
        succeeded=20,
        failures=[],
        calls=calls,
        retry_logs=4,
        retry_pause_seconds=6.0,
        first_responses=[],
    )


def test_throughput_rows_report_each_operation_per_assignment_and_the_binding_one():
    r = result(makespan=40.0)
    assert (r.bound.operation, r.ideal) == ("TagResource", pytest.approx(32.5))
    rows = {row.metric.strip(): row for row in report.throughput_rows([r])}
    makespan = rows["makespan, N=20 (20/20 SUCCESS)"]
    assert makespan.measured == "40.0 s = 1.23x ideal"
    assert makespan.ideal == "32.5 s (quota-bound by TagResource)"
    assert makespan.verdict == "PASS"
    assert rows["TagResource"].measured == "3.50 per assignment (70 admitted, 12 throttled, 2 errors)"
    assert rows["TagResource"].ideal.endswith("<- binds")
    assert rows[stats.DESCRIBE].measured == "3.00 per assignment (60 admitted, 7 throttled)"
    assert rows[stats.DESCRIBE].ideal.startswith("27.5 s at 2/s burst 5; used ")
    assert "binds" not in rows[stats.DESCRIBE].ideal
    assert rows["ListInstances"].ideal == "no quota"
    # Heaviest operation first.
    metrics = [row.metric.strip() for row in report.throughput_rows([r])]
    assert metrics[1:5] == ["TagResource", stats.DESCRIBE, stats.UPDATE, "ListInstances"]


def test_a_run_beyond_the_target_ratio_is_a_miss():
    assert report.throughput_rows([result(makespan=45.0)])[0].verdict == "MISS"
