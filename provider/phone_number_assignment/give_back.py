"""Giving a number back: the executors of rule.py's actions that put a number back where it was, hand it to
a rename's old logical ID, or let it go. One vocabulary for every path that gives a number up: a Delete, a
rollback Update of a replacement, an overtaken or failed Create or Update."""

from __future__ import annotations

from collections.abc import Callable

from . import ownership, rule
from .connect import PhoneNumberState
from .errors import (
    Overtaken,
    ProviderError,
)
from .moves import (
    associate_recorded,
    bring_back,
    drop_own_contact_flow,
    restore_to,
    untag_own,
    write_tags,
)
from .records import (
    OwnershipRecords,
    Record,
    State,
)
from .request import Request, Services
from .tags import PREVIOUS_CONTACT_FLOW_TAG, PREVIOUS_TARGET_TAG
from .telemetry import logger


def give_back(
    action: rule.Action,
    request: Request,
    services: Services,
    state: PhoneNumberState,
    record: Record | None,
) -> None:
    """Execute one of the rule's actions that give a number back (or leave it alone)."""
    EXECUTORS.get(action, nothing)(request, services, state, record)


def let_go(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    """The number stays where it is: this resource's tags go and the record says RELEASED."""
    assert record is not None
    untag(request, services, state, record)
    release(request, services, state, record)
    logger.info("Released ownership of the phone number", extra={"target": state.target_arn})


def release(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    """The record says nobody holds the number (it is never deleted: its stamp still orders requests)."""
    assert record is not None
    _released(services.records, state, record, request.requester)


def untag(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    """Remove the provider's tags if they name this resource; tags naming anyone else stay."""
    untag_own(services.numbers, state, request.owner)


def nothing(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    logger.info("Nothing of this resource's to give back; left alone")


def forget_predecessor(
    request: Request, services: Services, state: PhoneNumberState, record: Record | None
) -> None:
    """A rename went through: the new logical ID holds the number; the old one only lets go. Best effort: a
    stale predecessor is harmless (it is only handed back while CloudFormation says the old resource still
    holds the number), and failing this Delete would fail the clean-up."""
    assert record is not None
    try:
        ownership.advance(services.records, state, record, _unchanged_stamp(record), predecessor=None)
    except ProviderError as error:
        logger.warning("Could not clear the renamed resource", extra={"reason": error.reason})
    logger.info(
        "Renamed: the number now belongs to the new logical ID", extra={"to": record.owner.logical_id}
    )


def put_back(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    """Put the number where it was before this resource took it, routed as it was; then release it.

    The record says UNDOING first: the fence against any older request of this resource (a cancelled
    Create, a superseded Update still retrying its move), and nobody else's to take until this is over. If
    putting it back fails, the record goes back to the state it had (still this resource's, stamped with
    this Delete), so the stack operation that retries or follows the Reason's advice finds it as it was.
    """
    assert record is not None
    numbers, records = services.numbers, services.records
    requester = request.requester
    # A PENDING record started no move: its request writes MOVING (a fenced write) before UpdatePhoneNumber.
    may_be_moving = record.state is not State.PENDING
    before = record.state if record.state is not State.UNDOING else State.ASSIGNED
    record = ownership.advance(records, state, record, requester, state=State.UNDOING)
    try:
        state = numbers.settle(state)
        previous = record.previous_target_arn
        if not previous:
            logger.warning("No previous target recorded on the number; leaving it where it is")
        else:
            state = bring_back(request, services, state, previous, may_be_moving=may_be_moving, record=record)
            state = drop_own_contact_flow(numbers, state)
            if record.previous_contact_flow_arn:
                associate_recorded(numbers, state, record.previous_contact_flow_arn)
    except Overtaken:
        raise
    except Exception:
        try:
            ownership.advance(records, state, record, requester, state=before)
        except ProviderError as error:
            logger.warning("Could not return the record to its state", extra={"reason": error.reason})
        raise
    untag_own(numbers, state, request.owner)
    _released(records, state, record, requester)
    logger.info("Put the number back where it was", extra={"target": state.target_arn})


def _released(
    records: OwnershipRecords, state: PhoneNumberState, record: Record, requester: rule.Requester
) -> None:
    """The record says nobody holds the number (it is never deleted: its stamp still orders requests)."""
    ownership.advance(records, state, record, requester, state=State.RELEASED, predecessor=None)


def hand_back(request: Request, services: Services, state: PhoneNumberState, record: Record | None) -> None:
    """A rename rolled back: the number goes where the old logical ID declares it, and is its again."""
    numbers, records = services.numbers, services.records
    predecessor = record.predecessor
    assert predecessor is not None
    state = numbers.settle(state)
    state = bring_back(
        request,
        services,
        state,
        predecessor.target_arn,
        may_be_moving=record.state is not State.PENDING,
        record=record,
    )
    handed = _handed_back(records, record)
    state = write_tags(
        numbers,
        state,
        predecessor.owner,
        predecessor.previous_target_arn,
        predecessor.contact_flow_arn,
        record.previous_contact_flow_arn,
    )
    if predecessor.contact_flow_arn:
        associate_recorded(numbers, state, predecessor.contact_flow_arn)
    logger.info(
        "Handed the number back to the renamed resource",
        extra={"to": predecessor.owner.logical_id, "handed": handed is not None},
    )


def put_back_by_tags(
    request: Request, services: Services, state: PhoneNumberState, record: Record | None
) -> None:
    _by_tags(request, services, state, put_back=True)


def let_go_by_tags(
    request: Request, services: Services, state: PhoneNumberState, record: Record | None
) -> None:
    _by_tags(request, services, state, put_back=False)


def _by_tags(request: Request, services: Services, state: PhoneNumberState, *, put_back: bool) -> None:
    """Delete of a number whose only record is this resource's tags (the table was lost)."""
    numbers = services.numbers
    previous = state.tags.get(PREVIOUS_TARGET_TAG, "")
    if put_back and previous:
        state = numbers.settle(state)
        state = (
            drop_own_contact_flow(numbers, state)
            if state.rests_on(previous)
            else restore_to(request, services, state, previous)
        )
        if state.tags.get(PREVIOUS_CONTACT_FLOW_TAG):
            associate_recorded(numbers, state, state.tags[PREVIOUS_CONTACT_FLOW_TAG])
    untag_own(numbers, state, request.owner)
    logger.info("Released ownership of the phone number by its tags", extra={"target": state.target_arn})


def follow_newer(
    request: Request, services: Services, state: PhoneNumberState, record: Record | None
) -> None:
    """A move of an overtaken request may have landed after the newer request looked: the number goes where
    the newer request wants it (where it was, if that one gave it up); tags this request wrote go too."""
    numbers = services.numbers
    state = numbers.settle(state)
    wanted = record.previous_target_arn if record.released else record.target_arn
    if wanted and not state.rests_on(wanted):
        logger.info(
            "A move of this overtaken request landed; putting the number where the newer request wants it",
            extra={"target": wanted},
        )
        state = restore_to(request, services, state, wanted)
        flow = record.previous_contact_flow_arn if record.released else record.contact_flow_arn
        if flow:
            associate_recorded(numbers, state, flow)
    if record.released:
        untag_own(numbers, state, request.owner)


def hand_back_record(
    request: Request, services: Services, state: PhoneNumberState, record: Record | None
) -> None:
    """Nothing was moved: the rename's old owner holds the number again."""
    assert record is not None
    _handed_back(services.records, record)


def _handed_back(records: OwnershipRecords, record: Record) -> Record | None:
    """The rename's old owner holds the number again, as it did before the rename; None if the record
    changed meanwhile."""
    predecessor = record.predecessor
    assert predecessor is not None
    back = Record(
        record.phone_number_arn,
        predecessor.owner,
        State.ASSIGNED,
        predecessor.target_arn,
        predecessor.previous_target_arn,
        predecessor.contact_flow_arn,
        version=record.version + 1,
        previous_contact_flow_arn=record.previous_contact_flow_arn,
    )
    return back if records.replace(record, back) else None


def _unchanged_stamp(record: Record) -> rule.Requester:
    """Write a record without restamping it (a change made on behalf of its owner's last request)."""
    return rule.Requester(record.owner, record.request_id, record.requested_at, record.request_type)


Executor = Callable[[Request, Services, PhoneNumberState, "Record | None"], None]

# One executor per action that gives a number back or leaves it alone (rule.Action).
EXECUTORS: dict[rule.Action, Executor] = {
    rule.Action.PUT_BACK: put_back,
    rule.Action.HAND_BACK: hand_back,
    rule.Action.LET_GO: let_go,
    rule.Action.RELEASE: release,
    rule.Action.HAND_BACK_RECORD: hand_back_record,
    rule.Action.PUT_BACK_BY_TAGS: put_back_by_tags,
    rule.Action.LET_GO_BY_TAGS: let_go_by_tags,
    rule.Action.UNTAG: untag,
    rule.Action.FORGET_PREDECESSOR: forget_predecessor,
    rule.Action.FOLLOW_NEWER: follow_newer,
    rule.Action.NOTHING: nothing,
    rule.Action.STOP: nothing,
}
