"""The printed table: each figure beside the ideal it is compared to, and PASS/MISS per target."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import stats
from .artifact import BOTO3_ONLY, Artifact
from .coldstart import RATIO_TARGET, ColdStartResult, Samples
from .harness import REPO
from .throughput import (
    DESCRIBES_ALLOWANCE,
    DESCRIBES_PER_SECOND_TARGET,
    FLOOR_DESCRIBES_PER_ASSIGNMENT,
    FLOOR_TARGET_RATIO,
    LAG_TARGET_SECONDS,
    THROTTLED_SHARE_TARGET,
    LagResult,
    ThroughputResult,
)

MB = 1_000_000


@dataclass(frozen=True)
class Row:
    metric: str
    measured: str
    ideal: str
    target: str
    verdict: str = ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" (+ uncommitted changes)" if dirty else "")


def header(mode: str, child_python: str | None) -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"make bench ({mode})  revision {git_revision()}",
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}, "
        f"load average at start {load}",
        f"python: benchmark {platform.python_version()} ({sys.executable}); "
        f"cold-start samples {child_python or 'n/a'}",
    ]


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def lag_rows(results: Sequence[LagResult]) -> list[Row]:
    rows = []
    for result in results:
        s = result.summary
        failed = f", {len(result.failures)} FAILED" if result.failures else ""
        rows.append(
            Row(
                f"lag, {s.move_seconds:g} s moves (n={s.moves}{failed})",
                f"median {_s(s.median_lag)}, max {_s(s.max_lag)}",
                "0 s (answer the instant Connect shows CLAIMED)",
                f"median <= {LAG_TARGET_SECONDS:g} s",
                stats.verdict(result.lag_met),
            )
        )
        rows.append(
            Row(
                f"  Describes per assignment, {s.move_seconds:g} s move",
                f"max {s.describes_per_assignment_max:g}, median {s.describes_per_assignment:g} "
                f"({s.describes_per_move:g} during the move)",
                f"{FLOOR_DESCRIBES_PER_ASSIGNMENT} (read, then see it CLAIMED)",
                f"<= {result.describes_allowed:g} ({DESCRIBES_PER_SECOND_TARGET:g}/s of move + "
                f"{DESCRIBES_ALLOWANCE})",
                stats.verdict(result.describes_met),
            )
        )
    return rows


def _throughput_headline(r: ThroughputResult) -> Row:
    """The makespan beside the floor no provider can beat (not beside our own call counts)."""
    p = r.profile
    target = r.floor_target
    return Row(
        f"makespan, {p.name} N={r.resources}",
        f"{r.makespan:.1f} s = {r.floor_ratio:.2f}x floor",
        f"floor {r.floor:.1f} s ({FLOOR_DESCRIBES_PER_ASSIGNMENT * r.resources} Describes at "
        f"{p.per_second:g}/s, burst {p.burst})",
        "" if target is None else f"<= {target:g}x floor",
        "" if r.floor_met is None else stats.verdict(r.floor_met),
    )


def beyond_invocation_rows(results: Sequence[ThroughputResult], allowance: float) -> list[Row]:
    """Section 5: N numbers whose floor is longer than one invocation's budget (the function's timeout
    shrunk). Targets: 0 FAILED, makespan <= 1.3x the floor + one hand-over, throttled <= 0.5 x accepted."""
    rows = []
    for r in results:
        target = FLOOR_TARGET_RATIO * r.floor + allowance
        rows.append(
            Row(
                f"makespan, N={r.resources}, timeout {r.timeout_seconds:g} s",
                f"{r.makespan:.1f} s = {r.floor_ratio:.2f}x floor",
                f"floor {r.floor:.1f} s; {r.continuations} hand-overs",
                f"<= {FLOOR_TARGET_RATIO:g}x floor + {allowance:g} s = {target:.1f} s",
                # A run with failures ends early: its makespan says nothing about the pace.
                stats.verdict(r.failed == 0 and r.makespan <= target),
            )
        )
        rows.append(_failed_row(r))
        rows.append(_throttled_row(r))
    return rows


def _failed_row(r: ThroughputResult) -> Row:
    return Row("  FAILED", f"{r.failed} of {r.resources}", "0", "0 FAILED", stats.verdict(r.failed == 0))


def _throttled_row(r: ThroughputResult) -> Row:
    ratio = r.throttled / r.accepted if r.accepted else float("inf")
    return Row(
        "  throttled / accepted (all operations)",
        f"{r.throttled} / {r.accepted} = {ratio:.2f}",
        "0 throttled",
        f"throttled <= {THROTTLED_SHARE_TARGET:g} x accepted",
        stats.verdict(r.throttling_met),
    )


def throughput_rows(results: Sequence[ThroughputResult]) -> list[Row]:
    rows = []
    for r in results:
        rows.append(_throughput_headline(r))
        rows.append(_failed_row(r))
        describes = r.calls.get(stats.DESCRIBE, stats.CallCounts(0, 0, 0)).admitted
        rows.append(
            Row(
                "  Describes per assignment",
                f"{describes / r.resources:.2f} ({describes} admitted)",
                f"{FLOOR_DESCRIBES_PER_ASSIGNMENT} (floor)",
                "",
            )
        )
        rows.append(_throttled_row(r))
        bound = r.bound
        rows.append(
            Row(
                "  secondary: vs the calls we made",
                f"{r.ratio:.2f}x the {r.ideal:.1f} s they need",
                f"quota-bound by {bound.operation or 'nothing'}",
                "",
            )
        )
        # Heaviest first: the operation that binds the quota is usually on top.
        for operation in sorted(r.calls, key=lambda op: (-r.calls[op].admitted, op)):
            counts = r.calls[operation]
            limited = operation in r.quotas
            other = f", {counts.other_errors} errors" if counts.other_errors else ""
            measured = (
                f"{r.per_assignment(operation):.2f} per assignment ({counts.admitted} admitted, "
                f"{counts.throttled} throttled{other})"
            )
            if limited:
                per_second, burst = r.quotas[operation]
                binding = " <- binds" if operation == bound.operation else ""
                ideal = (
                    f"{bound.per_operation[operation]:.1f} s at {per_second:g}/s burst {burst}; "
                    f"used {r.utilisation(operation):.0%}{binding}"
                )
            else:
                ideal = "no quota"
            rows.append(Row(f"    {operation}", measured, ideal, ""))
        for operation in sorted(r.service_calls, key=lambda op: (-r.service_calls[op], op)):
            count = r.service_calls[operation]
            rows.append(
                Row(
                    f"    {operation}",
                    f"{count / r.resources:.2f} per assignment ({count})",
                    "no Connect quota",
                    "",
                )
            )
        rows.append(
            Row(
                "  provider retry pauses after throttling",
                f"{r.retry_logs} pauses, {r.retry_pause_seconds:.0f} s in total",
                "",
                "",
            )
        )
        if r.pace is not None:
            p = r.pace
            rows.append(
                Row(
                    "  shared pace",
                    f"{p.turns} turns, {p.writes} writes, {p.waited_seconds:.0f} s waited, "
                    f"{p.failures} failures",
                    "",
                    "",
                )
            )
    return rows


def _cold_row(result: ColdStartResult, samples: Samples) -> Row:
    ratio = result.ratio(samples)
    return Row(
        f"cold start, {samples.label}",
        f"{samples.median:.0f} ms = {ratio:.2f}x floor (import {stats.median(samples.imports):.0f} + "
        f"request {stats.median(samples.requests):.0f}); {result.init_ratio(samples):.2f}x init floor",
        f"{result.request_floor:.0f} ms floor",
        f"<= {RATIO_TARGET:g}x",
        stats.verdict(ratio <= RATIO_TARGET),
    )


def cold_start_rows(result: ColdStartResult) -> list[Row]:
    floor = result.floor
    bytecode = "package shipped with .pyc" if result.compiled else "no .pyc shipped: compiled at every start"
    return [
        Row(
            "init floor: import boto3 + one Connect client",
            f"{result.init_floor:.0f} ms (median of {len(floor.imports)}; {bytecode})",
            "",
            "",
        ),
        Row(
            "floor: init floor + DynamoDB client, 4 Connect calls, 1 conditional write, PUT",
            f"{result.request_floor:.0f} ms (calls and PUT: {stats.median(floor.requests):.0f} ms)",
            "same calls with bare boto3/http.client",
            "",
        ),
        _cold_row(result, result.local),
        _cold_row(result, result.traced),
        Row(
            "  X-Ray segments the function itself sent (traced samples)",
            f"{result.xray_datagrams} UDP datagrams to the daemon address",
            "0: Lambda records the traced invocation itself; the function carries no X-Ray SDK",
            "",
            stats.verdict(result.xray_datagrams == 0),
        ),
        *baseline_rows(result),
    ]


def baseline_rows(result: ColdStartResult) -> list[Row]:
    """The --baseline-code-dir build, sampled in the same rounds, and what this build saves against it."""
    if result.baseline_local is None or result.baseline_traced is None:
        return []
    rows = [_cold_row(result, result.baseline_local), _cold_row(result, result.baseline_traced)]
    for ours, theirs in ((result.local, result.baseline_local), (result.traced, result.baseline_traced)):
        rows.append(
            Row(
                f"  this build against the baseline, {ours.label}",
                f"{ours.median - theirs.median:+.0f} ms median ({ours.median:.0f} vs {theirs.median:.0f}); "
                f"import {stats.median(ours.imports) - stats.median(theirs.imports):+.0f} ms",
                "",
                "",
            )
        )
    rows.append(
        Row(
            "  X-Ray segments the baseline sent (traced samples)",
            f"{result.baseline_xray_datagrams} UDP datagrams",
            "",
            "",
        )
    )
    return rows


def artifact_rows(artifact: Artifact, top: int = 8) -> list[Row]:
    rows = [
        Row(
            f"artifact ({artifact.method})",
            f"{artifact.unpacked_bytes / MB:.1f} MB unpacked, {artifact.zipped_bytes / MB:.1f} MB zipped",
            "Lambda limits: 250 MB unpacked, 50 MB zipped upload",
            "",
        )
    ]
    unpacked = {name: sizes[0] for name, sizes in artifact.packages.items()}
    ranked = stats.largest(unpacked, top)
    shown = {name for name, _ in ranked}
    others_zipped = sum(z for name, (_, z) in artifact.packages.items() if name not in shown)
    for name, size in ranked:
        zipped = artifact.packages[name][1] if name in artifact.packages else others_zipped
        rows.append(Row(f"  {name}", f"{size / MB:.2f} MB, {zipped / MB:.2f} MB zipped", "", ""))
    extra_unpacked, extra_zipped = artifact.sizes(BOTO3_ONLY)
    botocore_unpacked, botocore_zipped = artifact.sizes(("botocore",))
    rows.append(
        Row(
            "  cost of shipping boto3 (boto3 + s3transfer)",
            f"{extra_unpacked / MB:.2f} MB unpacked, {extra_zipped / MB:.2f} MB zipped",
            f"with botocore ({botocore_unpacked / MB:.1f} MB / {botocore_zipped / MB:.1f} MB): the pinned "
            "pair instead of the runtime's",
            "",
        )
    )
    return rows


def render(lines: Sequence[str], sections: Sequence[tuple[str, Sequence[Row]]], notes: Sequence[str]) -> str:
    out = [*lines, ""]
    all_rows = [row for _, rows in sections for row in rows]
    widths = [
        max([len(h), *(len(getattr(r, f)) for r in all_rows)])
        for h, f in (("metric", "metric"), ("measured", "measured"), ("ideal / reference", "ideal"))
    ]
    target_width = max([len("target"), *(len(r.target) for r in all_rows)])

    def line(metric: str, measured: str, ideal: str, target: str, verdict: str) -> str:
        return (
            f"{metric:<{widths[0]}} | {measured:<{widths[1]}} | {ideal:<{widths[2]}} | "
            f"{target:<{target_width}} | {verdict}"
        ).rstrip()

    for title, rows in sections:
        if not rows:
            continue
        out.append(title)
        out.append(line("metric", "measured", "ideal / reference", "target", "verdict"))
        out.append("-" * (sum(widths) + target_width + 20))
        out.extend(line(r.metric, r.measured, r.ideal, r.target, r.verdict) for r in rows)
        out.append("")
    verdicts = [r.verdict for r in all_rows if r.verdict]
    out.append(f"targets: {verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS")
    out.extend(notes)
    return "\n".join(out)
