"""The scenarios: small stack operations, scripted as CloudFormation runs them.

Each scenario sets the stage (``setup``: numbers on instance A routed to A's flow; any earlier deployment
runs on the default schedule, unexplored) and then runs the operation under test as CloudFormation's actor
(``script``), whose "at any time" points (``World.any_time``) let a sibling resource fail, or Lambda deliver
an event again, between any two calls of the provider. Instances A, B and C each have a flow; a declaration
``world.declare("N1", "B")`` puts number N1 on B routed to B's flow.

How CloudFormation sequences the requests (User Guide, "Custom resources", "Stack status codes", and the
stack-update behaviours): a failed resource cancels the ones still in progress and rolls the operation back;
a stack creation's rollback Deletes every resource (a made-up physical ID for one that never answered), or
with OnFailure=DELETE the stack is deleted instead; an update's rollback sends the old properties again (an
Update, OldResourceProperties the cancelled ones) and, in the clean-up, Deletes the physical resources a
replacement created; an update that completes Deletes a replaced resource's old physical ID and a renamed
resource's old logical ID in the clean-up; a nested stack whose parent's creation fails is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .world import Request, Resource, Stack, World


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    script: Callable[[World], None]
    numbers: tuple[str, ...] = ("N1",)
    # A scenario about continuations makes a move outlast the function's timeout, so that the request must
    # hand itself over to a later invocation (None: the simulation's defaults).
    function_timeout: float | None = None
    move_seconds: float | None = None
    # Lambda delivers every continuation twice (World.continuations_twice).
    continuations_twice: bool = False
    # The provider's poll steps for this scenario (world.PROVIDER_TIMING's names), over the simulation's.
    provider_timing: tuple[tuple[str, float], ...] = ()

    def setup(self, world: World) -> None:
        world.seed(self.numbers)
        if self.function_timeout is not None:
            world.function_timeout = self.function_timeout
        if self.move_seconds is not None:
            world.control.configure(move_seconds=self.move_seconds)
        world.continuations_twice = self.continuations_twice
        if self.provider_timing:
            from phone_number_assignment import waiting

            # world.provider_environment sets the simulation's timing again at the start of every run.
            for name, value in self.provider_timing:
                setattr(waiting, name, value)


SIBLING_FAILS = "a sibling resource fails"


def _staged(world: World) -> None:
    """The scenario's earlier deployments are done: explore from here."""
    world.scheduler.exploring = True


def _stage(world: World) -> None:
    world.scheduler.exploring = False


# ---- CloudFormation's stack operations ------------------------------------------------------------------


def create_stack(
    world: World,
    stack: Stack,
    resources: dict[str, dict[str, Any]],
    *,
    fails: bool,
    on_failure: str = "ROLLBACK",
) -> bool:
    """Create ``stack``; with ``fails``, a sibling resource fails at some point. True if it completed."""
    sent = {logical_id: stack.create(logical_id, properties) for logical_id, properties in resources.items()}
    if fails:
        world.any_time(SIBLING_FAILS)
        roll_back_create(world, stack, sent, on_failure=on_failure)
        return False
    stack.wait(*sent.values())
    if all(request.ok for request in sent.values()):
        stack.set_status("CREATE_COMPLETE")
        return True
    roll_back_create(world, stack, sent, on_failure=on_failure)
    return False


def roll_back_create(
    world: World, stack: Stack, sent: dict[str, Request], *, on_failure: str = "ROLLBACK"
) -> None:
    if on_failure == "DELETE":
        # As CloudFormation records it (and stacks.rolling_back reads it): the stack's own CREATE_FAILED,
        # then its deletion (local_aws.stack's fail_creation plays the same).
        stack.deleted_by_failure = True
        stack.set_status("CREATE_FAILED")
        stack.set_status("DELETE_IN_PROGRESS")
    else:
        stack.set_status("ROLLBACK_IN_PROGRESS")
    deletes = []
    for logical_id, request in sent.items():
        answer = request.answer()
        if answer is None:
            deletes.append(stack.cancelled_delete(request))
        else:
            deletes.append(
                stack.delete(
                    logical_id,
                    physical_id=answer["PhysicalResourceId"],
                    properties=_declared(request),
                )
            )
    stack.wait(*deletes)
    stack.set_status("DELETE_COMPLETE" if on_failure == "DELETE" else "ROLLBACK_COMPLETE")


def update_stack(world: World, stack: Stack, changes: dict[str, dict[str, Any]], *, fails: bool) -> bool:
    """Update resources of ``stack`` in place or by replacement; with ``fails``, a sibling fails at some
    point. True if the update completed."""
    stack.set_status("UPDATE_IN_PROGRESS")
    before = {logical_id: stack.resources[logical_id] for logical_id in changes}
    sent = {logical_id: stack.update(logical_id, properties) for logical_id, properties in changes.items()}
    if fails:
        world.any_time(SIBLING_FAILS)
    else:
        stack.wait(*sent.values())
    if fails or not all(request.ok for request in sent.values()):
        roll_back_update(world, stack, before, sent)
        return False
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    replaced = [
        stack.delete(logical_id, physical_id=old.physical_id, properties=old.properties)
        for logical_id, old in before.items()
        if stack.resources[logical_id].physical_id != old.physical_id
    ]
    stack.wait(*replaced)
    stack.set_status("UPDATE_COMPLETE")
    return True


def roll_back_update(
    world: World, stack: Stack, before: dict[str, Resource], sent: dict[str, Request]
) -> None:
    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
    rollbacks, created = [], []
    for logical_id, request in sent.items():
        old = before[logical_id]
        answer = request.answer()
        stack.resources[logical_id] = old
        if (
            answer is not None
            and answer["Status"] == "SUCCESS"
            and answer["PhysicalResourceId"] != old.physical_id
        ):
            # A replacement that succeeded: CloudFormation goes back to the old physical resource and deletes
            # the new one in the clean-up.
            created.append((logical_id, answer["PhysicalResourceId"], _declared(request)))
            continue
        rollbacks.append(
            stack.send(
                "Update",
                logical_id,
                old.properties,
                physical_id=old.physical_id,
                old_properties=_declared(request),
            )
        )
    stack.wait(*rollbacks)
    stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    deletes = [
        stack.delete(logical_id, physical_id=physical_id, properties=properties)
        for logical_id, physical_id, properties in created
    ]
    stack.wait(*deletes)
    stack.set_status("UPDATE_ROLLBACK_COMPLETE")


def rename(world: World, stack: Stack, old: str, new: str, *, fails: bool) -> bool:
    """A new logical ID for the same declaration (the number stays): Create the new one, Delete the old one
    in the clean-up; a rollback Deletes the new one and sends nothing for the old one."""
    stack.set_status("UPDATE_IN_PROGRESS")
    properties = stack.resources[old].properties
    created = stack.create(new, properties)
    if fails:
        world.any_time(SIBLING_FAILS)
    else:
        stack.wait(created)
    if fails or not created.ok:
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
        answer = created.answer()
        undo = (
            stack.cancelled_delete(created)
            if answer is None
            else stack.delete(new, physical_id=answer["PhysicalResourceId"], properties=properties)
        )
        stack.wait(undo)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE")
        return False
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stack.wait(stack.delete(old))
    stack.set_status("UPDATE_COMPLETE")
    return True


def delete_stack(world: World, stack: Stack) -> None:
    stack.set_status("DELETE_IN_PROGRESS")
    stack.wait(*[stack.delete(logical_id) for logical_id in list(stack.resources)])
    stack.set_status("DELETE_COMPLETE")


def _declared(request: Request) -> dict[str, Any]:
    return {k: v for k, v in request.event["ResourceProperties"].items() if k != "ServiceToken"}


def _deployed(world: World, name: str, resources: dict[str, dict[str, Any]]) -> Stack:
    stack = world.stack(name)
    assert create_stack(world, stack, resources, fails=False), f"{name} could not be deployed"
    return stack


def _again_at_any_time(world: World, request: Request, *, after_deadline: bool = False) -> None:
    """Lambda delivers ``request`` again at a point of the schedule's choosing (at-least-once delivery)."""
    world.scheduler.spawn(
        "lambda",
        lambda: world.redeliver(request, after_deadline=after_deadline),
        kind="lambda",
        patient=True,
        step=f"delivers {request.name} again" + (" past its deadline" if after_deadline else ""),
    )


# ---- the scenarios -------------------------------------------------------------------------------------

# A function timeout that leaves the provider 3.5 s of budget (app.RESPONSE_RESERVE_SECONDS is 18 s): enough
# to start a move (waiting.MIN_SECONDS_TO_START_A_MOVE is 3 s), not to see a 5 s move through, so the request
# hands over mid-wait and its continuation sees the move land. Every continuation's own wake is a choice of
# the schedule (world.CONTINUATION_WAKES). Polled once a second (the provider's own step): a handful of looks
# per invocation, each one more point where CloudFormation may act.
CONTINUED_FUNCTION_TIMEOUT_SECONDS = 21.5
CONTINUED_MOVE_SECONDS = 5.0
CONTINUED_TIMING = (("FIRST_POLL_SECONDS", 1.0), ("POLL_SECONDS", 1.0))


def cancelled_create(world: World) -> None:
    stack = world.stack("S")
    create_stack(world, stack, {"A": world.declare("N1", "B")}, fails=True)


def cancelled_create_after_handover(world: World) -> None:
    # Another stack held N1 and let it go with Retain: its RELEASED record stays (issue 31, point 1).
    _stage(world)
    other = _deployed(world, "T", {"X": world.declare("N1", "C")})
    delete_stack(world, other)
    _staged(world)
    create_stack(world, world.stack("S"), {"A": world.declare("N1", "B")}, fails=True)


def update_rolled_back(world: World) -> None:
    _stage(world)
    stack = _deployed(world, "S", {"A": world.declare("N1", "B")})
    _staged(world)
    update_stack(world, stack, {"A": world.declare("N1", "C")}, fails=True)


def replacement_rolled_back(world: World) -> None:
    _stage(world)
    stack = _deployed(world, "S", {"A": world.declare("N1", "B")})
    _staged(world)
    update_stack(world, stack, {"A": world.declare("N2", "B")}, fails=True)


def replacement(world: World) -> None:
    _stage(world)
    stack = _deployed(world, "S", {"A": world.declare("N1", "B")})
    _staged(world)
    update_stack(world, stack, {"A": world.declare("N2", "C")}, fails=False)


def rename_rolled_back(world: World) -> None:
    _stage(world)
    stack = _deployed(world, "S", {"A": world.declare("N1", "B")})
    _staged(world)
    rename(world, stack, "A", "A2", fails=True)


def two_stacks(world: World) -> None:
    # Two stacks created at once declare the same number: one wins, the other fails and rolls back.
    first, second = world.stack("S"), world.stack("T")
    a = first.create("A", world.declare("N1", "B"))
    x = second.create("X", world.declare("N1", "C"))
    for stack, request, logical_id in ((first, a, "A"), (second, x, "X")):
        stack.wait(request)
        if request.ok:
            stack.set_status("CREATE_COMPLETE")
        else:
            roll_back_create(world, stack, {logical_id: request})


def nested_stack_rolled_back(world: World) -> None:
    # The parent's creation fails after (or while) its child stack creates the assignment: CloudFormation
    # deletes the child; the child's own status is DELETE_IN_PROGRESS (issue 31, point 2).
    parent = world.stack("P")
    child = world.stack("P-child", parent=parent)
    created = child.create("A", world.declare("N1", "B"))
    world.any_time("a resource of the parent fails")
    parent.set_status("ROLLBACK_IN_PROGRESS")
    if created.answer() is None:
        roll_back_create(world, child, {"A": created})
    else:
        child.wait(created)
        child.set_status("CREATE_COMPLETE" if created.ok else "CREATE_FAILED")
        child.set_status("DELETE_IN_PROGRESS")
        child.wait(
            child.delete(
                "A", physical_id=created.answer()["PhysicalResourceId"], properties=_declared(created)
            )
        )
        child.set_status("DELETE_COMPLETE")
    parent.set_status("ROLLBACK_COMPLETE")


def deleted_after_failed_create(world: World) -> None:
    # sam deploy --on-failure DELETE: a failed creation deletes the stack instead of rolling it back.
    create_stack(world, world.stack("S"), {"A": world.declare("N1", "B")}, fails=True, on_failure="DELETE")


def late_delivery(world: World) -> None:
    # The Create is delivered again at any point, also after the stack was deleted (OnDelete: Restore).
    stack = world.stack("S")
    created = stack.create("A", world.declare("N1", "B", on_delete="Restore"))
    _again_at_any_time(world, created)
    stack.wait(created)
    stack.set_status("CREATE_COMPLETE")
    delete_stack(world, stack)


def delivery_past_deadline(world: World) -> None:
    # Lambda delivers the Create again after CloudFormation stopped waiting for it, once the stack is gone.
    stack = world.stack("S")
    created = stack.create("A", world.declare("N1", "B", on_delete="Restore"))
    _again_at_any_time(world, created, after_deadline=True)
    stack.wait(created)
    stack.set_status("CREATE_COMPLETE")
    delete_stack(world, stack)


def update_then_delete(world: World) -> None:
    # Three requests of one resource: Create, an in-place Update, Delete (Restore), each awaited.
    stack = world.stack("S")
    assert create_stack(world, stack, {"A": world.declare("N1", "B", on_delete="Restore")}, fails=False)
    update_stack(world, stack, {"A": world.declare("N1", "C", on_delete="Restore")}, fails=False)
    delete_stack(world, stack)


def create_continued(world: World) -> None:
    # The Create hands over mid-wait and finishes in its continuation.
    create_stack(world, world.stack("S"), {"A": world.declare("N1", "B")}, fails=False)


def create_continued_delivered_again(world: World) -> None:
    # Lambda delivers CloudFormation's event again at any point (at-least-once), while the first delivery's
    # continuation may still run.
    stack = world.stack("S")
    created = stack.create("A", world.declare("N1", "B", on_delete="Restore"))
    _again_at_any_time(world, created)
    stack.wait(created)
    if not created.ok:
        # The first answer counts: a FAILED one rolls the creation back.
        roll_back_create(world, stack, {"A": created})
        return
    stack.set_status("CREATE_COMPLETE")
    delete_stack(world, stack)


def update_continued_rolled_back(world: World) -> None:
    # An in-place Update that hands over, cancelled by a sibling's failure at any point: its rollback Update
    # may come before, between or after its invocations.
    _stage(world)
    stack = _deployed(world, "S", {"A": world.declare("N1", "B")})
    _staged(world)
    update_stack(world, stack, {"A": world.declare("N1", "C")}, fails=True)


_CONTINUED: dict[str, Any] = {
    "function_timeout": CONTINUED_FUNCTION_TIMEOUT_SECONDS,
    "move_seconds": CONTINUED_MOVE_SECONDS,
    "provider_timing": CONTINUED_TIMING,
}

_ALL = (
    Scenario(
        "cancelled-create",
        "A Create cancelled by a sibling's failure, rolled back by a Delete",
        cancelled_create,
    ),
    Scenario(
        "cancelled-create-after-handover",
        "As cancelled-create, on a number another stack held and let go (its RELEASED record stays)",
        cancelled_create_after_handover,
    ),
    Scenario(
        "update-rolled-back",
        "An in-place Update cancelled by a sibling's failure, rolled back",
        update_rolled_back,
    ),
    Scenario(
        "replacement-rolled-back",
        "A replacement (another number) cancelled by a sibling's failure, rolled back",
        replacement_rolled_back,
        numbers=("N1", "N2"),
    ),
    Scenario(
        "replacement",
        "A replacement that completes; the old number is let go (Retain)",
        replacement,
        numbers=("N1", "N2"),
    ),
    Scenario(
        "rename-rolled-back", "A rename (new logical ID) cancelled by a sibling's failure", rename_rolled_back
    ),
    Scenario("two-stacks", "Two stacks created at once declare one number", two_stacks),
    Scenario(
        "nested-stack-rolled-back",
        "A nested stack deleted by its parent's rollback (its own status: DELETE_IN_PROGRESS)",
        nested_stack_rolled_back,
    ),
    Scenario(
        "deleted-after-failed-create",
        "A stack created with OnFailure=DELETE whose creation fails",
        deleted_after_failed_create,
    ),
    Scenario(
        "late-delivery", "A Create delivered again at any point, the stack deleted (Restore)", late_delivery
    ),
    Scenario(
        "delivery-past-deadline",
        "A Create delivered again after CloudFormation's deadline, the stack deleted (Restore)",
        delivery_past_deadline,
    ),
    Scenario(
        "update-then-delete", "Create, in-place Update, Delete (Restore) of one resource", update_then_delete
    ),
)
_ALL += (
    Scenario(
        "create-continued",
        "A Create whose move outlasts its invocation: it hands over and finishes in its continuation",
        create_continued,
        **_CONTINUED,
    ),
    Scenario(
        "create-continued-cancelled",
        "As create-continued, cancelled by a sibling's failure at any point: the rollback's Delete may come "
        "before, between or after its invocations",
        cancelled_create,
        **_CONTINUED,
    ),
    Scenario(
        "continued-delivered-twice",
        "As create-continued, Lambda delivering the continuation twice (the second at any time)",
        create_continued,
        continuations_twice=True,
        **_CONTINUED,
    ),
    Scenario(
        "create-continued-delivered-again",
        "As create-continued, CloudFormation's event delivered again at any point; the stack deleted "
        "(Restore)",
        create_continued_delivered_again,
        **_CONTINUED,
    ),
    Scenario(
        "update-continued-rolled-back",
        "An in-place Update that hands over, cancelled by a sibling's failure at any point, rolled back",
        update_continued_rolled_back,
        **_CONTINUED,
    ),
)
SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL}
