"""``make bench`` / ``python -m benchmarks [--quick]``: measure the provider against the Connect emulator.

Sections (each figure is printed beside the ideal it is compared to, measured in the same run):

1. completion lag: moves of 2, 5 and 20 s; how long after Connect shows CLAIMED CloudFormation hears,
   and how many DescribePhoneNumber calls the wait costs;
2. throughput: N concurrent assignments in one stack (N = 20, 50, 100) in two quota profiles, every
   Connect operation limited alike: "documented" (Connect's default, 2 requests/s, burst 5) and "busy"
   (1.5 requests/s, burst 2: other tools use the rest). Makespan against the floor no provider can beat
   (2 DescribePhoneNumber per fresh assignment at the Describe quota: (2N - burst) / rate), Describes per
   assignment, throttled against accepted calls, FAILED count; calls per assignment by operation;
3. cold start: importing the handler and serving a first Create in a fresh interpreter, against
   ``import boto3`` plus one Connect client;
4. artifact size: what ``sam build`` packages;
5. past one invocation: N assignments whose floor is longer than one invocation, with the function's
   timeout shrunk (``--beyond-timeout``, default 40 s; ``--beyond-sizes``, default 60) so that the run
   stands for about 1,700 numbers against the real 900 s; ``--continuations off`` shows the cliff before.

The full run spends most of its time in section 2, and that time is the quotas': the six runs' floors
add up to about 390 s. ``--profiles busy --sizes 50 --only throughput`` runs one of them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

from local_aws.connect.runtime import DEFAULT_QUOTAS

from . import artifact, coldstart, harness, report, throughput
from .throughput import PROFILES

FULL = {"lag_moves": 5, "durations": (2.0, 5.0, 20.0), "sizes": (20, 50, 100), "cold_samples": 5}
QUICK = {"lag_moves": 3, "durations": (2.0, 5.0, 20.0), "sizes": (20,), "cold_samples": 3}
SECTIONS = ("lag", "throughput", "coldstart", "artifact", "beyond")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer moves, N=20 only, fewer cold-start samples"
    )
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument("--sizes", help="comma-separated N for the throughput section, e.g. 20,50")
    parser.add_argument(
        "--profiles",
        help=f"comma-separated quota profiles for throughput ({', '.join(PROFILES)}; default: all)",
    )
    parser.add_argument(
        "--beyond-sizes", help="comma-separated N for the past-one-invocation section (default: 60)"
    )
    parser.add_argument(
        "--beyond-timeout",
        type=float,
        default=throughput.BEYOND_TIMEOUT_SECONDS,
        help="the function's timeout in the past-one-invocation section (seconds)",
    )
    parser.add_argument(
        "--continuations",
        choices=("on", "off"),
        default="on",
        help="past one invocation: off runs it as before continuations (the cliff)",
    )
    parser.add_argument(
        "--cold-samples", type=int, help="cold-start rounds (each: floor + 2 handler samples)"
    )
    parser.add_argument(
        "--invocations",
        choices=harness.INVOCATION_MODES,
        default="processes",
        help="run each invocation in a process of its own, as Lambda does (default), or as threads of "
        "one process (lighter on a small machine)",
    )
    parser.add_argument(
        "--code-dir",
        type=Path,
        help="measure this already built function directory instead of running sam build",
    )
    parser.add_argument(
        "--baseline-code-dir",
        type=Path,
        help="another built function directory (say an older revision's .aws-sam/build/ProviderFunction) "
        "whose cold start is sampled in the same rounds: before and after in one run",
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="cold start with the package's bytecode precompiled (as if the zip shipped .pyc files)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.sizes:
        plan["sizes"] = tuple(int(n) for n in args.sizes.split(","))
    if args.cold_samples:
        plan["cold_samples"] = args.cold_samples
    profiles = tuple(PROFILES.values())
    if args.profiles:
        unknown = sorted(set(args.profiles.split(",")) - set(PROFILES))
        if unknown:
            print(
                f"unknown profile(s) {', '.join(unknown)}; choose from {', '.join(PROFILES)}", file=sys.stderr
            )
            return 2
        profiles = tuple(PROFILES[name] for name in args.profiles.split(","))
    sections = set(args.only or SECTIONS)
    harness.invocation_mode = args.invocations
    # Concurrent invocations share one Metrics object in this process (one container each in Lambda), so
    # Powertools warns about flushes that found another invocation's metrics already flushed.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    began = time.monotonic()
    child_python = coldstart.find_python() if sections & {"coldstart", "artifact"} else None
    lines = report.header("quick" if args.quick else "full", child_python)
    notes: list[str] = []
    lag_results, throughput_results, cold, built = [], [], None, None
    beyond_results: list = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch, harness.local_aws() as aws:
        workdir = Path(scratch)
        if sections & {"artifact", "coldstart"}:
            built = (
                artifact.existing(args.code_dir, workdir)
                if args.code_dir
                else artifact.build(workdir, child_python)
            )
        if sections & {"lag", "throughput", "beyond"}:
            handler = harness.provider_handler()
            if "beyond" in sections:
                beyond_results = throughput.run_beyond_invocation(
                    aws,
                    handler,
                    tuple(int(n) for n in args.beyond_sizes.split(","))
                    if args.beyond_sizes
                    else throughput.BEYOND_SIZES,
                    args.beyond_timeout,
                    continuations=args.continuations == "on",
                )
            if "lag" in sections:
                lag_results = throughput.run_lags(aws, handler, plan["durations"], plan["lag_moves"])
            if "throughput" in sections:
                throughput_results = throughput.run_throughput(aws, handler, plan["sizes"], profiles)
        if "coldstart" in sections and built is not None:
            python = child_python or sys.executable
            if child_python is None:
                notes.append(f"note: no python3.13 found; cold-start samples ran on {sys.executable}")
            code_dir = built.code_dir
            if args.compiled:
                code_dir = coldstart.compiled_copy(code_dir, workdir / "compiled", python)
            # The build (provider/Makefile) ships bytecode; a --code-dir or fallback build may not.
            ships_bytecode = args.compiled or any(code_dir.glob("phone_number_assignment/__pycache__/*.pyc"))
            cold = coldstart.measure(
                aws,
                code_dir,
                python,
                plan["cold_samples"],
                compiled=ships_bytecode,
                baseline_dir=args.baseline_code_dir,
            )
            notes.extend(coldstart.notes(cold))
        for result in throughput_results:
            notes.extend(
                f"note: {result.profile.name} N={result.resources}: {failure}"
                for failure in result.failures[:5]
            )
        for result in beyond_results:
            notes.extend(f"note: past one invocation N={result.resources}: {f}" for f in result.failures[:5])
        for result in lag_results:
            notes.extend(f"note: lag {result.summary.move_seconds:g} s: {f}" for f in result.failures[:5])

    sections_out = [
        (
            "1. Completion lag (no quota; 2/5/20 s moves, concurrent on different numbers)",
            report.lag_rows(lag_results),
        ),
        (
            f"2. Throughput, N assignments in one stack ({', '.join(p.description for p in profiles)}; on "
            f"each of {len(DEFAULT_QUOTAS)} operations; {throughput.THROUGHPUT_MOVE_SECONDS:g} s moves)",
            report.throughput_rows(throughput_results),
        ),
        (
            "3. Cold start (fresh interpreter per sample, medians, timed inside the child)",
            report.cold_start_rows(cold) if cold else [],
        ),
        ("4. Artifact size", report.artifact_rows(built) if built and "artifact" in sections else []),
        (
            f"5. Past one invocation (function timeout {args.beyond_timeout:g} s, continuations "
            f"{args.continuations}; {throughput.DOCUMENTED.description}; "
            f"{throughput.THROUGHPUT_MOVE_SECONDS:g} s moves)",
            report.beyond_invocation_rows(beyond_results, throughput.continuation_allowance()),
        ),
    ]
    if throughput_results:
        notes.append(
            "note: floor = (2N - burst) / rate: the 2 DescribePhoneNumber calls any provider needs per fresh "
            "assignment (read the number; see it CLAIMED on the target) at the Describe quota. throttled = "
            "every ThrottlingException the emulator answered, accepted = every call its quotas admitted, all "
            "Connect operations (DynamoDB calls have no Connect quota and are not counted). Secondary: the "
            "least time the calls the emulator admitted need, max over operations of (admitted - burst) / "
            "rate (+ one move after the last UpdatePhoneNumber): it compares the provider with its own calls."
        )
    if sections & {"lag", "throughput", "beyond"} and args.invocations == "processes":
        notes.append(
            "note: each invocation runs the handler in a process of its own, as Lambda runs each concurrent "
            "request in an execution environment of its own (processes started, clients created and warmed "
            "before the clock starts); the emulator runs in a process of its own."
        )
    elif sections & {"lag", "throughput", "beyond"}:
        notes.append(
            "note: --invocations threads: the handler runs in this process, one thread and one Connect and "
            "pace client per invocation (one container each in Lambda; clients created and warmed before "
            "the clock starts); the emulator runs in a process of its own."
        )
    if cold:
        notes.append(
            "note: cold start = handler-module import + first Create, its deliberate waits (the first poll) "
            "left out; floor = import boto3 + one client, then a DynamoDB client and the least a safe Create "
            "needs (Describe, one conditional PutItem, Update, Describe, Tag) and the response PUT, made "
            "with bare boto3/http.client. 'init floor' = import boto3 + one client only."
        )
    notes.append(f"bench wall time: {time.monotonic() - began:.0f} s")
    print(report.render(lines, sections_out, notes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
