"""The simulation through the real handler against the emulator: a bounded exploration, replays, and the
violations it finds in today's code, each recorded as the schedule that shows it (docs/reliability.md,
"Simulation").

``make simulate`` explores further (more deviations, random walks with faults); these stay within about ten
seconds of the suite's time.
"""

from __future__ import annotations

import pytest

from local_aws.simulation.explore import Schedule, Walk
from local_aws.simulation.scheduler import FAULTS

SIBLING_FAILS = "cfn: a sibling resource fails"

# (scenario, deviations explored exhaustively): the scenarios today's code passes, at the bound that keeps
# this file within its share of `make test`.
BOUNDED = [("cancelled-create", 1)]


@pytest.mark.parametrize(("scenario", "bound"), BOUNDED, ids=[s for s, _ in BOUNDED])
def test_every_schedule_up_to_the_bound_holds_the_invariants(simulation, scenario, bound):
    exploration = simulation.exhaustive(scenario, bound)
    assert exploration.complete
    # More than the default schedule: the scenario has choices worth exploring.
    assert exploration.runs > 1
    assert not exploration.failing, "\n".join(result.report() for result in exploration.failing[:3])


def test_a_schedule_replays_step_by_step_as_it_ran(simulation):
    schedule = Schedule("cancelled-create", ((3, SIBLING_FAILS),))
    first = simulation.run(schedule)
    again = simulation.run(schedule)
    assert not first.diverged
    assert [step for _, step in again.trace] == [step for _, step in first.trace]
    assert again.trace == first.trace  # the same virtual times too
    # The deviation happened where it says: CloudFormation acted before the Create had answered.
    steps = [step for _, step in first.trace]
    failed_at = steps.index(SIBLING_FAILS)
    assert any(step.startswith("Create S.A#1: ") for step in steps[failed_at + 1 :])
    assert first.violations == again.violations == []


def test_a_random_walk_with_faults_replays_from_its_printed_schedule(simulation):
    first = simulation.run(Schedule("cancelled-create", faults=FAULTS), Walk(seed=5, rate=0.3, limit=3))
    assert first.schedule.deviations, "the walk should have deviated"
    printed = first.schedule.script()
    again = simulation.run(eval(printed, {"Schedule": Schedule}))  # noqa: S307 - our own printout
    assert not again.diverged
    assert again.trace == first.trace
    assert again.violations == first.violations


@pytest.mark.parametrize(
    ("module", "rule", "schedule", "reported"),
    [
        # A Create delivered again after its Delete no longer sees the Delete's stamp as newer: it takes
        # the number back and leaves a record of a resource CloudFormation deleted.
        ("ownership", "newer_than", Schedule("late-delivery"), "stale owner"),
        # A rollback's Delete taken for a deliberate one: OnDelete: Retain keeps the number where the
        # rolled-back Create put it.
        ("stacks", "rolling_back", Schedule("cancelled-create"), "misplaced"),
    ],
    ids=["newer_than-always-false", "rolling_back-always-false"],
)
def test_a_rule_removed_is_reported(simulation, monkeypatch, module, rule, schedule, reported):
    import importlib

    assert simulation.run(schedule).violations == []
    monkeypatch.setattr(
        importlib.import_module(f"phone_number_assignment.{module}"), rule, lambda *a, **k: False
    )
    result = simulation.run(schedule)
    assert any(violation.startswith(reported) for violation in result.violations), result.report()


# The violations today's code has, each as the schedule that shows it. When a fix makes one pass, its
# xfail (strict) fails the suite: remove it from here and keep the schedule as a regression test.
KNOWN = [
    # Fixed (issue 31, point 2: stacks.rolling_back walks the ancestors); kept as a regression schedule.
    pytest.param(Schedule("nested-stack-rolled-back"), id="nested-stack-deleted-by-its-parents-rollback"),
    pytest.param(
        Schedule("deleted-after-failed-create"),
        id="stack-deleted-after-its-failed-create",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 31, point 2: OnFailure=DELETE deletes the stack (DELETE_IN_PROGRESS) instead of "
            "rolling back; the Delete is taken for a deliberate one and Retain keeps N1 moved",
        ),
    ),
    pytest.param(
        Schedule("replacement-rolled-back", ((15, SIBLING_FAILS),)),
        id="cancelled-replacement-that-succeeds-before-its-rollback-update",
        marks=pytest.mark.xfail(
            strict=True,
            reason="the cancelled replacement finishes (N2 ASSIGNED) before the rollback Update runs; "
            "_abandon_failed_replacement gives up only unsettled records, and no Delete comes for N2: "
            "stranded on B, owned by a resource CloudFormation does not hold",
        ),
    ),
    pytest.param(
        Schedule("update-rolled-back", ((2, SIBLING_FAILS),)),
        id="rollback-update-while-describe-lags-the-cancelled-move",
        marks=pytest.mark.xfail(
            strict=True,
            reason="the rollback Update comes right after the cancelled Update's UpdatePhoneNumber: Describe "
            "still shows N1 on B, so it associates the flow at once, Connect refuses (IN_PROGRESS), and "
            "the rollback answers FAILED: UPDATE_ROLLBACK_FAILED (a Delete waits out the lag, Update not)",
        ),
    ),
    pytest.param(
        Schedule("cancelled-create-after-handover", ((0, SIBLING_FAILS), (1, "Delete S.A#1: start"))),
        id="cancelling-delete-first-on-a-number-another-stack-released",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 31, point 1: the cancelling Delete runs first, finds T's RELEASED record, writes no"
            " stamp; the cancelled Create then takes N1 to B, ASSIGNED to a resource CloudFormation lacks",
        ),
    ),
    pytest.param(
        Schedule("update-rolled-back", ((0, SIBLING_FAILS), (1, "Update (2) S.A#1: start"))),
        id="rollback-update-stamping-before-the-cancelled-update-in-the-same-second",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 31, point 8: in the same second the one that stamps last is taken as newer; the "
            "rollback Update stamps first, so the cancelled Update moves N1 to C and the rollback is lost",
        ),
    ),
]


@pytest.mark.parametrize("schedule", KNOWN)
def test_known_violations(simulation, schedule):
    result = simulation.run(schedule)
    if result.diverged:
        # The code makes other calls now, so the recorded schedule no longer reaches the same point: the
        # scenario's every schedule within one deviation stands in for it (a fix still flips the xfail).
        exploration = simulation.exhaustive(schedule.scenario, 1)
        assert not exploration.failing, exploration.failing[0].report()
        return
    assert result.violations == [], result.report()
