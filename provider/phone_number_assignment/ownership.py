"""Taking, keeping and handing over ownership of a phone number, through the ownership record (records.py).

Each change of owner is one conditional write: "create if the number has no record" for a fresh number,
"replace if the record is still the version I read" for everything else. Two contenders can read the same
record, but only one write succeeds; the other reads again and sees who won. Nothing here waits for writes
to become visible or depends on how fast a call returns, so throttling and slow networks can delay a
request but never make it refuse.

Who may take a number that has a record:
- its owner, again (a retry, an in-place update, a later request after a failed one);
- anyone, when the record is a CANCELLED tombstone (except the Create it cancelled);
- another stack, once CloudFormation says the owner's stack resource no longer holds it (stacks.py);
- another logical ID of the same stack, as a rename, when the owner's request succeeded earlier and the
  stack is being updated; the old owner is kept as the record's predecessor, to hand back if the update
  rolls back.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from . import stacks
from .connect import PhoneNumberState
from .errors import CreationCancelled, DuplicateAssignment, OwnershipConflict
from .records import OwnershipRecords, Predecessor, Record, State
from .tags import PREVIOUS_TARGET_TAG, Owner
from .telemetry import logger

# The only stack status in which another resource of the same stack may take a number over (a rename). In a
# stack create, or any other operation, two resources declaring one number are duplicates.
RENAME_STACK_STATUS = "UPDATE_IN_PROGRESS"


def acquire(
    records: OwnershipRecords,
    state: PhoneNumberState,
    owner: Owner,
    target_arn: str,
    *,
    requested_at: float,
    cloudformation: Callable[[], Any],
    settle: Callable[[PhoneNumberState], PhoneNumberState] = lambda state: state,
) -> tuple[Record, PhoneNumberState]:
    """Make ``owner`` the number's owner, or raise naming who holds it.

    Returns the record this request holds (a number taken fresh or from another owner is PENDING until the
    request succeeds; one the owner already held keeps its record) and the number's state as last read.
    ``requested_at`` is when CloudFormation sent the request: a tombstone written after it cancels it.
    ``settle`` waits out an operation in flight on the number: only a number about to be taken needs it
    (where it settles is its restore target), so a refusal never waits for someone else's move.
    """
    while True:
        stored = records.get(state.arn)
        record = stored or _record_from_tags(state)
        if record is None or _free_for(record, owner, requested_at):
            state = settle(state)
            taken = _write(records, stored, _new_record(state, owner, target_arn))
            if taken is not None:
                return taken, state
            continue
        if record.owner == owner:
            if record.state is State.CANCELLED:
                raise cancelled(state, record)
            # Tags saying this resource owns the number without a record (the table was lost, or a release
            # stopped half-way): adopt what the tags say.
            if stored is None and not records.create(record):
                continue
            return record, state
        renamed = _take_over(state, record, owner, target_arn, cloudformation)
        if renamed is None:  # the owner is stale: taken as a fresh number
            state = settle(state)
        taken = _write(records, stored, renamed or _new_record(state, owner, target_arn))
        if taken is not None:
            return taken, state


def _free_for(record: Record, owner: Owner, requested_at: float) -> bool:
    """A tombstone leaves the number free, except to the request it cancelled (sent before it was written)."""
    if record.state is not State.CANCELLED:
        return False
    return record.owner != owner or (record.cancelled_at or 0) < requested_at


def _new_record(state: PhoneNumberState, owner: Owner, target_arn: str) -> Record:
    return Record(state.arn, owner, State.PENDING, target_arn, previous_target_arn=state.target_arn)


def _write(records: OwnershipRecords, stored: Record | None, new: Record) -> Record | None:
    """Write ``new`` in place of ``stored`` (none: the number has no record); None if someone wrote first."""
    if stored is None:
        return new if records.create(new) else None
    new = dataclasses.replace(new, version=stored.version + 1)
    return new if records.replace(stored, new) else None


def _take_over(
    state: PhoneNumberState,
    record: Record,
    owner: Owner,
    target_arn: str,
    cloudformation: Callable[[], Any],
) -> Record | None:
    """Whether ``owner`` may take the number from another owner: None when that owner is stale (the number
    is taken as a fresh one), the rename's record when it is the same stack's renamed resource; otherwise
    raise why not."""
    holder = record.owner
    if not stacks.still_holds(holder, state, cloudformation):
        logger.info(
            "The recorded owner's stack resource no longer holds the number; taking it",
            extra={"stale_stack_id": holder.stack_id, "stale_logical_id": holder.logical_id},
        )
        return None
    if holder.stack_id != owner.stack_id:
        raise conflict(state, record)
    if record.settled and record.predecessor is None:
        status = stacks.stack_status(owner.stack_id, cloudformation)
        if status == RENAME_STACK_STATUS:
            logger.info(
                "Rename: taking the number over from another logical ID", extra={"from": holder.logical_id}
            )
            return Record(
                state.arn,
                owner,
                State.PENDING,
                target_arn,
                # Restore returns where the number was before this stack took it, not where the old
                # resource put it.
                previous_target_arn=record.previous_target_arn,
                predecessor=Predecessor(
                    holder, record.target_arn, record.previous_target_arn, record.contact_flow_arn
                ),
            )
    raise DuplicateAssignment(
        f"Phone number {state.label} is already declared by {holder.logical_id} in this stack"
        f"{' (its request has not finished)' if not record.settled else ''}. A number can belong to one "
        f"assignment at a time: remove {owner.logical_id} or {holder.logical_id} from the template. (To move "
        "the number to a new logical ID, rename the resource in a stack update.)"
    )


def conflict(state: PhoneNumberState, record: Record) -> OwnershipConflict:
    holder = record.owner
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


def cancelled(state: PhoneNumberState, record: Record) -> CreationCancelled:
    when = datetime.datetime.fromtimestamp(record.cancelled_at or 0, datetime.UTC)
    return CreationCancelled(
        f"CloudFormation cancelled this Create of {state.label} and sent its Delete at {when:%H:%M:%S} UTC; "
        "nothing more was changed, and what it had changed is being put back."
    )


def _record_from_tags(state: PhoneNumberState) -> Record | None:
    """An owner the tags name when there is no record (see tags.py)."""
    owner = Owner.from_tags(state.tags)
    if owner is None:
        return None
    previous = state.tags.get(PREVIOUS_TARGET_TAG) or state.target_arn
    return Record(state.arn, owner, State.ASSIGNED, state.target_arn, previous_target_arn=previous)


def advance(records: OwnershipRecords, number: PhoneNumberState, record: Record, **changes: Any) -> Record:
    """Write the record this request holds with ``changes``, if nobody changed it since.

    The fence before every step that changes the number: a Delete that cancelled this request has replaced
    the record with a tombstone, and then nothing more may be done (CreationCancelled). A write by the same
    owner (Lambda delivering the same request twice, both running) is built on, not refused.
    """
    while True:
        new = record.next(**changes)
        if records.replace(record, new):
            return new
        record = current(records, number, record)


def current(records: OwnershipRecords, number: PhoneNumberState, record: Record) -> Record:
    """The record as it is now, still held by ``record``'s owner (a second delivery of the same request may
    have written it since); raise if a Delete cancelled the request (CreationCancelled) or someone else
    holds it."""
    now = records.get(number.arn)
    if now is None or now.owner != record.owner:
        raise OwnershipConflict(
            f"The ownership record of {number.label} was changed by "
            f"{now.owner.describe() if now else 'someone'} while this request held it; nothing more was "
            "changed. Retry the stack operation."
        )
    if now.state is State.CANCELLED:
        raise cancelled(number, now)
    return now
