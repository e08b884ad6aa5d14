"""``python -m local_aws.simulation`` (``make simulate``): explore every scenario, print what was found.

Each scenario is explored exhaustively up to ``--bound`` deviations from its default schedule (without
faults), then along ``--walks`` seeded random walks with faults (throttling; the transient faults the
provider retries, a 503 with its code, a 502 page with none, a connection reset before and after the call
was served; a slow call; an invocation dying) at any call of Connect, DynamoDB or CloudFormation. Prints one
line per scenario and exploration, each failing schedule once per distinct set of violations (with its
replayable ``Schedule``), and the totals. Exit status 0 whatever was found (the known violations are
recorded as expected failures in tests/simulation/), 2 if the simulation itself broke.

Replay one schedule: ``python -m local_aws.simulation --replay "Schedule('cancelled-create', ((0, 'cfn: a
sibling resource fails'),))"`` prints its violations and every step it took.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .explore import Exploration, Schedule, Simulation
from .mutations import MUTATIONS, apply
from .scenarios import SCENARIOS
from .scheduler import FAULTS

PROVIDER = Path(__file__).resolve().parents[2] / "provider"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.simulation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--bound", type=int, default=2, help="deviations explored exhaustively (default 2)")
    parser.add_argument("--walks", type=int, default=25, help="seeded random walks with faults per scenario")
    parser.add_argument("--seed", type=int, default=0, help="first seed of the walks")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit per scenario and exploration")
    parser.add_argument("--replay", help="a Schedule(...) as printed, to run once and show step by step")
    parser.add_argument(
        "--mutate", choices=sorted(MUTATIONS), help="explore a provider with this fence removed"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROVIDER))
    if args.mutate:
        apply(args.mutate)
        _print(f"Mutation {args.mutate}: {MUTATIONS[args.mutate].what}")

    from local_aws.cloudformation import ResponseReceiver, trusting
    from local_aws.connect.control import LocalControl
    from local_aws.connect.server import start_emulator

    with start_emulator() as emulator, ResponseReceiver() as receiver, trusting(receiver):
        if args.replay:
            schedule = eval(args.replay, {"Schedule": Schedule})  # noqa: S307 - the user's own schedule
            simulation = Simulation(emulator.endpoint_url, receiver, LocalControl())
            with simulation.session():
                result = simulation.run(schedule)
            _print(result.report())
            _print("Steps:")
            for at, step in result.trace:
                _print(f"  t={at:8.2f}  {step}")
            return 0
        totals = {"schedules": 0, "violations": 0}
        started = time.monotonic()
        simulation = Simulation(emulator.endpoint_url, receiver, LocalControl())
        with simulation.session():
            for name in args.scenario or list(SCENARIOS):
                exhaustive = simulation.exhaustive(name, args.bound, seconds=args.seconds)
                _show(exhaustive, f"exhaustive, bound {args.bound}", totals)
                if args.walks:
                    seeds = range(args.seed, args.seed + args.walks)
                    walks = simulation.random_walks(name, seeds, faults=FAULTS, seconds=args.seconds)
                    _show(walks, f"{args.walks} random walks with faults ({', '.join(FAULTS)})", totals)
        _print(
            f"\n{totals['schedules']} schedules explored, {totals['violations']} with violations "
            f"({time.monotonic() - started:.0f} s)"
        )
    return 0


def _print(*args: object) -> None:
    # The provider's metrics go to stdout, which the simulation silences while it runs (world.py).
    print(*args, file=sys.__stdout__)


def _show(exploration: Exploration, how: str, totals: dict[str, int]) -> None:
    totals["schedules"] += exploration.runs
    totals["violations"] += len(exploration.failing)
    _print(f"{exploration.summary()} [{how}]")
    shown: set[tuple[str, ...]] = set()
    for result in exploration.failing:
        kinds = tuple(sorted(v.split(":", 1)[0] for v in result.violations))
        if kinds in shown:
            continue
        shown.add(kinds)
        _print("  " + result.report().replace("\n", "\n  "))


if __name__ == "__main__":
    sys.exit(main())
