"""Taking, keeping and handing over ownership of a phone number, through the ownership record (records.py).

Each change of owner is one conditional write: "create if the number has no record" for a fresh number,
"replace if the record is still the version I read" for everything else. Two contenders can read the same
record, but only one write succeeds; the other reads again and sees who won. Nothing here waits for writes
to become visible or depends on how fast a call returns, so throttling and slow networks can delay a
request but never make it refuse.

Who may take a number that has a record:
- its owner, again (a retry, an in-place update, a later request after a failed one), unless the record was
  written by a newer request of that owner (see below);
- anyone, when the record is RELEASED, except a request of the last owner sent before the release;
- another stack, once CloudFormation says the owner's stack resource no longer holds it (stacks.py);
- another logical ID of the same stack, as a rename, when the owner's request succeeded in an earlier stack
  operation and the stack is being updated; the old owner is kept as the record's predecessor, to hand back
  if the update rolls back.
A number being put back (UNDOING) is nobody else's until its Delete has finished.

The order of one resource's requests. CloudFormation does not wait for a request it has given up on (a
Create cancelled because another resource failed, an Update whose rollback has started), and Lambda may
deliver an event late or twice. Every request stamps the record with its RequestId and its signing time
(RequestedAt) before it changes anything, and looks at the record again before each change (the fence): a
request finding the record stamped by another request of its owner sent later (or in the same second, by a
Delete: CloudFormation sends a cancelling Delete after the Create it cancels) has been overtaken and stops
(``Overtaken``). Every request also stamps its resource (stack ID + logical ID: ``stamp_resource``) before
it changes anything, and every fence reads that stamp too (``confirm_stamp``), so the order holds whatever
record the number carries. In the same second an Update and its rollback are told apart by their
properties (``stamp_is_newer``); any other two Creates or Updates of one second by which stamps last.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from . import stacks
from .connect import PhoneNumberState
from .errors import DuplicateAssignment, Overtaken, OwnershipConflict, OwnershipTableLost, UndoInProgress
from .records import OWNERSHIP_TABLE, OwnershipRecords, Predecessor, Record, ResourceStamp, State
from .rule import (
    Action,
    Ask,
    Requester,
    TakeFacts,
    declared_before,
    fenced_out,
    on_stamp,
    on_take,
    stamped_since,
)
from .tags import PREVIOUS_CONTACT_FLOW_TAG, PREVIOUS_TARGET_TAG, Owner
from .telemetry import logger


def stamp_resource(records: OwnershipRecords, requester: Requester) -> tuple[ResourceStamp | None, bool]:
    """Stamp ``requester``'s resource with it before it changes anything: (the stamp found, whether this
    request may act). It may not when the stamp found is a newer request's; the same request delivered again
    builds on its own stamp."""
    while True:
        stored = records.get_stamp(requester.resource_key)
        action = on_stamp(stored, requester)
        if action is not Action.STAMP:
            return stored, action is Action.BUILD_ON
        stamp = ResourceStamp(
            requester.resource_key,
            requester.owner,
            requester.request_id,
            requester.request_type,
            requester.requested_at,
            properties=requester.properties,
            old_properties=requester.old_properties,
            follows=declared_before(stored, requester),
            replaced_request_id=stored.request_id if stored is not None else "",
        )
        if records.write_stamp(stored, stamp):
            return stored, True


def confirm_stamp(records: OwnershipRecords, number: PhoneNumberState, requester: Requester) -> None:
    """The fence on the resource: raise Overtaken if another request of ``requester``'s resource has stamped
    it since (a request only stamps over an older one, so any other stamp is a newer request's)."""
    if not requester.resource_key:
        return
    stamp = records.get_stamp(requester.resource_key)
    if stamped_since(stamp, requester):
        assert stamp is not None
        raise overtaken(number, stamp, requester)


def acquire(
    records: OwnershipRecords,
    state: PhoneNumberState,
    requester: Requester,
    target_arn: str,
    *,
    cloudformation: Callable[[], Any],
    settle: Callable[[PhoneNumberState], PhoneNumberState] = lambda state: state,
    routed_flow: Callable[[PhoneNumberState], str] = lambda state: "",
) -> tuple[Record, PhoneNumberState]:
    """Make ``requester``'s owner the number's owner, stamped with this request, or raise why not.

    Returns the record this request holds (a number taken fresh or from another owner is PENDING until the
    request succeeds; one the owner already held keeps its state) and the number's state as last read.
    ``settle`` waits out an operation in flight on the number: only a number about to be taken needs it
    (where it settles is its restore target), so a refusal never waits for someone else's move.
    ``routed_flow`` reads the flow the number routes to, kept as the flow to associate again when it is
    put back; only a number about to be taken needs it.
    """
    while True:
        stored = records.get(state.arn)
        facts = TakeFacts(
            requester,
            stored or _record_from_tags(state),
            recorded=stored is not None,
            table_missing=records.table_missing,
        )
        action = on_take(facts)
        while isinstance(action, Ask):
            facts = _answer(facts, action, state, cloudformation)
            action = on_take(facts)
        taken = _take(records, state, stored, facts, action, target_arn, settle, routed_flow)
        if taken is not None:
            return taken


def _answer(
    facts: TakeFacts, ask: Ask, state: PhoneNumberState, cloudformation: Callable[[], Any]
) -> TakeFacts:
    """What CloudFormation says, for ``on_take``'s question."""
    assert facts.record is not None
    if ask is Ask.HOLDER_HOLDS:
        holds = stacks.still_holds(facts.record.owner, state, cloudformation)
        if not holds:
            logger.info(
                "The recorded owner's stack resource no longer holds the number; taking it",
                extra={
                    "stale_stack_id": facts.record.owner.stack_id,
                    "stale_logical_id": facts.record.owner.logical_id,
                },
            )
        return dataclasses.replace(facts, holder_holds=holds)
    operation = stacks.stack_operation(facts.requester.owner.stack_id, cloudformation)
    return dataclasses.replace(
        facts,
        stack_status=operation.status,
        stack_started_at=operation.started_at,
        stack_rolling_back=operation.status in stacks.ROLLING_BACK,
    )


def _take(
    records: OwnershipRecords,
    state: PhoneNumberState,
    stored: Record | None,
    facts: TakeFacts,
    action: Action,
    target_arn: str,
    settle: Callable[[PhoneNumberState], PhoneNumberState],
    routed_flow: Callable[[PhoneNumberState], str],
) -> tuple[Record, PhoneNumberState] | None:
    """Execute ``on_take``'s action: the record this request holds and the state, None if someone wrote the
    record first (decide again), or raise why the number is not this request's."""
    record, requester = facts.record, facts.requester
    if action is Action.BUILD_ON:
        assert record is not None
        confirm_stamp(records, state, requester)
        return record, state
    if action in (Action.TAKE, Action.TAKE_OVER, Action.TAKE_BACK):
        if action is Action.TAKE:
            state = settle(state)
            new = _new_record(state, requester, target_arn, routed_flow(state))
        else:
            assert record is not None
            new = _renamed(state, record, requester, target_arn, back=action is Action.TAKE_BACK)
        taken = _write(records, stored, new)
    elif action is Action.ADOPT:
        assert record is not None
        adopted = dataclasses.replace(record, **requester.stamp())
        taken = adopted if records.create(adopted) else None
    elif action is Action.RESTAMP:
        assert record is not None
        stamped = record.next(**requester.stamp())
        taken = stamped if records.replace(record, stamped) else None
    else:
        assert record is not None
        raise _refusal(action, state, record, requester)
    if taken is None:
        return None
    return _confirmed(records, state, stored, taken, requester), state


def _refusal(action: Action, state: PhoneNumberState, record: Record, requester: Requester) -> Exception:
    if action is Action.TABLE_LOST:
        return table_lost(state, record)
    if action is Action.STOP:
        return overtaken(state, record, requester)
    if action is Action.WAIT_FOR_UNDO:
        return undo_in_progress(state, record)
    if action is Action.REFUSE_DUPLICATE:
        holder, owner = record.owner, requester.owner
        return DuplicateAssignment(
            f"Phone number {state.label} is already declared by {holder.logical_id} in this stack"
            f"{' (its request has not finished)' if not record.settled else ''}. A number can belong to one "
            f"assignment at a time: remove {owner.logical_id} or {holder.logical_id} from the template. (To "
            "move the number to a new logical ID, rename the resource in a stack update of its own.)"
        )
    return conflict(state, record)


def _renamed(
    state: PhoneNumberState, record: Record, requester: Requester, target_arn: str, *, back: bool
) -> Record:
    """The record of a rename (the old logical ID kept as predecessor, to hand back if the update rolls
    back), or of the old logical ID taking its number back while the update rolls back."""
    holder = record.owner
    if back:
        assert record.predecessor is not None
        logger.info("Rename rolled back: taking the number back", extra={"from": holder.logical_id})
        return Record(
            state.arn,
            requester.owner,
            State.PENDING,
            target_arn,
            previous_target_arn=record.predecessor.previous_target_arn,
            previous_contact_flow_arn=record.previous_contact_flow_arn,
            **requester.stamp(),
        )
    logger.info("Rename: taking the number over from another logical ID", extra={"from": holder.logical_id})
    return Record(
        state.arn,
        requester.owner,
        State.PENDING,
        target_arn,
        # Restore returns where the number was before this stack took it, not where the old resource put it.
        previous_target_arn=record.previous_target_arn,
        previous_contact_flow_arn=record.previous_contact_flow_arn,
        predecessor=Predecessor(
            holder, record.target_arn, record.previous_target_arn, record.contact_flow_arn
        ),
        **requester.stamp(),
    )


def _confirmed(
    records: OwnershipRecords,
    state: PhoneNumberState,
    stored: Record | None,
    taken: Record,
    requester: Requester,
) -> Record:
    """The record this request just wrote, once the resource's stamp says it still may act.

    A newer request of the resource that stamped it meanwhile may have looked at the number before this
    write and found nothing of this resource's there: the record goes back to what it was (a number with
    none gets a RELEASED one), so the request leaves no trace, and it stops.
    """
    try:
        confirm_stamp(records, state, requester)
    except Overtaken:
        if stored is not None:
            restored = dataclasses.replace(stored, version=taken.version + 1)
        else:
            restored = taken.next(state=State.RELEASED, predecessor=None)
        if not records.replace(taken, restored):
            logger.info("The newer request already took over the record")
        raise
    return taken


def _new_record(
    state: PhoneNumberState, requester: Requester, target_arn: str, previous_flow_arn: str
) -> Record:
    return Record(
        state.arn,
        requester.owner,
        State.PENDING,
        target_arn,
        previous_target_arn=state.target_arn,
        previous_contact_flow_arn=previous_flow_arn,
        **requester.stamp(),
    )


def _write(records: OwnershipRecords, stored: Record | None, new: Record) -> Record | None:
    """Write ``new`` in place of ``stored`` (none: the number has no record); None if someone wrote first."""
    if stored is None:
        return new if records.create(new) else None
    new = dataclasses.replace(new, version=stored.version + 1)
    return new if records.replace(stored, new) else None


def conflict(state: PhoneNumberState, record: Record) -> OwnershipConflict:
    holder = record.owner
    if record.state is State.UNDOING:
        return OwnershipConflict(
            f"Phone number {state.label} is being put back by {holder.describe()}, whose Delete has not "
            "finished. Retry once that stack operation has finished."
        )
    if not record.settled:
        return OwnershipConflict(
            f"Phone number {state.label} was taken by {holder.describe()} in a stack operation that has not "
            "succeeded (it may still be running, or its rollback has not reached the number yet). Retry once "
            "that stack operation has finished."
        )
    return OwnershipConflict(
        f"Phone number {state.label} is already assigned by {holder.describe()}. A number can belong to "
        "one stack's assignment at a time: remove it from that stack first (OnDelete: Retain keeps it where "
        "it is), or delete that stack."
    )


def table_lost(state: PhoneNumberState, record: Record) -> OwnershipTableLost:
    return OwnershipTableLost(
        f"The ownership table {OWNERSHIP_TABLE} does not exist, yet {state.label} carries the provider's "
        f"tags naming {record.owner.describe()}: the table was deleted, and creating it empty again would "
        "forget who owns every number. Restore it from its point-in-time backup (aws dynamodb "
        f"restore-table-to-point-in-time --source-table-name {OWNERSHIP_TABLE} ...; README, 'The ownership "
        "table'), then retry; nothing was changed."
    )


def undo_in_progress(state: PhoneNumberState, record: Record) -> UndoInProgress:
    return UndoInProgress(
        f"Phone number {state.label} is still being put back by an earlier Delete of "
        f"{record.owner.logical_id} (sent at {_clock_time(record.requested_at)} UTC) that has not finished; "
        "nothing was changed. Retry the stack operation once it has."
    )


def overtaken(state: PhoneNumberState, record: Record | ResourceStamp, requester: Requester) -> Overtaken:
    newer = record.request_type or "request"
    if requester.request_type == "Create" and record.request_type == "Delete":
        what = "cancelled this Create and sent its Delete"
    else:
        what = f"sent a newer {newer} for {requester.owner.logical_id}"
    return Overtaken(
        f"CloudFormation {what} at {_clock_time(record.requested_at)} UTC, after this "
        f"{requester.request_type} (sent at {_clock_time(requester.requested_at)} UTC): this request "
        f"changed nothing more on {state.label}, and the newer one decides where it goes."
    )


def _clock_time(seconds: float) -> str:
    return f"{datetime.datetime.fromtimestamp(seconds, datetime.UTC):%H:%M:%S}"


def _record_from_tags(state: PhoneNumberState) -> Record | None:
    """An owner the tags name when there is no record (see tags.py)."""
    owner = Owner.from_tags(state.tags)
    if owner is None:
        return None
    previous = state.tags.get(PREVIOUS_TARGET_TAG) or state.target_arn
    return Record(
        state.arn,
        owner,
        State.ASSIGNED,
        state.target_arn,
        previous_target_arn=previous,
        previous_contact_flow_arn=state.tags.get(PREVIOUS_CONTACT_FLOW_TAG, ""),
    )


def advance(
    records: OwnershipRecords,
    number: PhoneNumberState,
    record: Record,
    requester: Requester,
    **changes: Any,
) -> Record:
    """Write the record ``requester`` holds with ``changes``, if nobody changed it since.

    The fence before every step that changes the number: a newer request of the owner has stamped the
    record, and then nothing more may be done (Overtaken). A write by the same request (Lambda delivering
    it twice, both running) or by an older one of the same owner (a Create this Delete cancels, still
    writing) is built on, not refused.
    """
    while True:
        new = record.next(**requester.stamp(), **changes)
        if records.replace(record, new):
            # Checked after the write: a newer request that stamped the resource before it may have read the
            # record before it too; this request then stops, and puts back what it did (lifecycle.py).
            confirm_stamp(records, number, requester)
            return new
        record = current(records, number, record, requester)


def current(
    records: OwnershipRecords, number: PhoneNumberState, record: Record, requester: Requester
) -> Record:
    """The record as it is now, still held by ``requester``'s owner; raise if a newer request of the owner
    has stamped it (Overtaken) or someone else holds it."""
    now = records.get(number.arn)
    if now is not None and fenced_out(now, requester):
        raise overtaken(number, now, requester)
    confirm_stamp(records, number, requester)
    if now is None or now.owner != record.owner or (now.released and not requester.is_delete):
        raise OwnershipConflict(
            f"The ownership record of {number.label} was changed by "
            f"{now.owner.describe() if now else 'someone'} while this request held it; nothing more was "
            "changed. Retry the stack operation."
        )
    return now
