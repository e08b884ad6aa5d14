"""The simulation with requests that outlive their invocation (issue 33): the invocation hands the request
over (Lambda's asynchronous Invoke of the function, continuation.py), the world runs each queued
continuation as an invocation of its own when the schedule chooses (at once, 5 s later, late, or after a
newer request of the resource), and the checks hold every invocation of a request to the rule
(docs/reliability.md, "Simulation": continuations).

Bounded to a handful of schedules (each one run is about a third of a second); `make simulate` explores
the three scenarios further.
"""

from __future__ import annotations

import dataclasses

import pytest

from local_aws.simulation.explore import Schedule
from local_aws.simulation.world import World

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SIBLING_FAILS = "cfn: a sibling resource fails"
CONTINUES = "Create S.A#2: continues (hop 1)"
# The open choice where the Create's continuation is about to start, the move it started still running.
CONTINUATION_STARTS = 26

# The rollback's Delete before, during and after the continued Create's invocations: (schedule, where the
# Delete's first step comes relative to the continuation's calls).
CANCELLED = {
    # CloudFormation gives up on the Create while its continuation waits in Lambda's queue, and the Delete
    # runs first.
    "delete-before-the-continuation": (
        Schedule(
            "create-continued-cancelled",
            ((CONTINUATION_STARTS, SIBLING_FAILS), (CONTINUATION_STARTS + 1, "Delete S.A#1: start")),
        ),
        "before",
    ),
    # Lambda holds the continuation until the rollback's Delete has stamped the resource.
    "continuation-held-for-the-newer-delete": (
        Schedule(
            "create-continued-cancelled",
            (
                (CONTINUATION_STARTS, f"{CONTINUES} [after a newer request's stamp]"),
                (CONTINUATION_STARTS + 1, SIBLING_FAILS),
            ),
        ),
        "before",
    ),
    # The continuation starts first; the Delete stamps while it waits for the move.
    "delete-during-the-continuation": (
        Schedule("create-continued-cancelled", ((CONTINUATION_STARTS, SIBLING_FAILS),)),
        "during",
    ),
    # The default: the sibling fails once the continued Create has answered.
    "delete-after-the-continuation": (Schedule("create-continued-cancelled"), "after"),
}


def _steps(result) -> list[str]:
    return [step for _, step in result.trace]


def test_a_create_that_outlasts_its_invocation_finishes_in_its_continuation(simulation):
    result = simulation.run(Schedule("create-continued"))
    assert result.violations == [], result.report()
    world = simulation.last_world
    (request,) = world.requests
    assert "Create S.A#1: lambda:Invoke" in _steps(result)
    assert request.continued == len(world.continuations) == 1
    assert world.continuations[0].started_at_call is not None
    assert [answer["Status"] for answer in request.answers()] == ["SUCCESS"]


def test_a_continuation_lambda_runs_late_still_answers_before_the_deadline(simulation):
    # (make simulate explores the other wakes: 5 s later, and held for a newer request's stamp.)
    result = simulation.run(Schedule("create-continued", ((0, f"{CONTINUES} [late]"),)))
    assert not result.diverged
    assert result.violations == [], result.report()
    (request,) = simulation.last_world.requests
    # The continuation's first call (the step it starts at is chosen before its wait).
    started = next(at for at, step in result.trace if step.startswith("Create S.A#2: dynamodb:"))
    assert request.deadline - 600 < started < request.deadline
    assert [answer["Status"] for answer in request.answers()] == ["SUCCESS"]


@pytest.mark.parametrize(("schedule", "delete_comes"), CANCELLED.values(), ids=CANCELLED.keys())
def test_a_continued_create_cancelled_at_any_point_is_rolled_back(simulation, schedule, delete_comes):
    result = simulation.run(schedule)
    assert not result.diverged
    assert result.violations == [], result.report()
    steps = _steps(result)
    delete = steps.index("Delete S.A#1: start")
    calls = [i for i, step in enumerate(steps) if step.startswith("Create S.A#2: ") and ":" in step[14:]]
    where = "before" if delete < calls[0] else "after" if delete > calls[-1] else "during"
    assert where == delete_comes


def test_a_continuation_delivered_twice_answers_once_and_the_late_copy_does_nothing(simulation):
    # The default: the second copy runs once the request was answered.
    late = simulation.run(Schedule("continued-delivered-twice"))
    assert late.violations == [], late.report()
    world = simulation.last_world
    assert [c.answered_at_start for c in world.continuations] == [False, True]
    # Both copies at once, neither having answered when it starts: the answer is claimed by one.
    both = simulation.run(
        Schedule("continued-delivered-twice", ((0, "Create S.A#3: continues again (hop 1)"),))
    )
    assert both.violations == [], both.report()
    world = simulation.last_world
    assert [c.answered_at_start for c in world.continuations] == [False, False]
    assert len(world.requests[0].answers()) == 1


def test_a_continuation_that_is_never_run_is_reported(simulation, monkeypatch):
    monkeypatch.setattr(World, "_continue", lambda self, request: None)
    result = simulation.run(Schedule("create-continued"))
    assert any(v.startswith("lost continuation: Create S.A's hop 1") for v in result.violations), (
        result.report()
    )
    assert any(v.startswith("no answer: Create S.A") for v in result.violations)


def _fresh_stamp(monkeypatch) -> None:
    """Mutation continuation-fresh-stamp: a continuation is stamped when it runs, not when CloudFormation
    sent the request it continues."""
    from phone_number_assignment import app, continuation

    real = app._request

    def fresh(event, context, clock=app.SYSTEM_CLOCK):
        request = real(event, context, clock)
        return dataclasses.replace(request, requested_at=clock.time()) if continuation.hop(event) else request

    monkeypatch.setattr(app, "_request", fresh)


def _no_answered_check(monkeypatch) -> None:
    from phone_number_assignment import continuation

    monkeypatch.setattr(continuation.Continuations, "answered", lambda self: False)


def _claim_answer_always(monkeypatch) -> None:
    from phone_number_assignment import continuation

    monkeypatch.setattr(continuation.Continuations, "claim_answer", lambda self, status: True)


@pytest.mark.parametrize(
    ("mutate", "schedule", "reported"),
    [
        # The continuation, newer than the rollback's Delete by its fresh stamp, stamps over it and goes on.
        (_fresh_stamp, CANCELLED["delete-before-the-continuation"][0], "overtaken continuation acted"),
        # The late copy of the continuation re-runs the answered request: Describe, and the flow again.
        (_no_answered_check, Schedule("continued-delivered-twice"), "answered continuation acted"),
        # Both copies answer.
        (
            _claim_answer_always,
            Schedule("continued-delivered-twice", ((0, "Create S.A#3: continues again (hop 1)"),)),
            "extra answer",
        ),
    ],
    ids=["continuation-fresh-stamp", "no-answered-check", "claim-answer-always"],
)
def test_a_continuation_rule_removed_is_reported(simulation, monkeypatch, mutate, schedule, reported):
    # Each schedule holds unmutated (above, or here).
    mutate(monkeypatch)
    result = simulation.run(schedule)
    assert any(violation.startswith(reported) for violation in result.violations), result.report()


# Violations the simulation finds in today's code, each as the schedule that shows it (strict: a fix flips
# it, and the schedule stays as a regression test).
KNOWN = [
    pytest.param(
        # Lambda delivers CloudFormation's event again while the first delivery's move runs; the second
        # delivery (never handed over) sees the move land and answers SUCCESS without the answer marker; the
        # first delivery's continuation, started later, finds no marker and runs the answered request again:
        # reads only (the stack's Delete has stamped the resource by then), and a second answer
        # CloudFormation ignores. docs/reliability.md, "Not guaranteed".
        Schedule("create-continued-delivered-again", ((17, "lambda: delivers Create S.A again"),)),
        id="continuation-of-a-request-a-duplicate-delivery-answered",
        marks=pytest.mark.xfail(
            strict=True, reason="the answer marker is written by handed-over requests only"
        ),
    ),
]


@pytest.mark.parametrize("schedule", KNOWN)
def test_known_violations(simulation, schedule):
    result = simulation.run(schedule)
    assert not result.diverged
    assert result.violations == [], result.report()
