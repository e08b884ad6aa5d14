"""Create, Update and Delete of a Custom::PhoneNumberAssignment.

Every Create and Update converges on the declared state: describe the number, acquire it for this resource,
move it only if it is not already on the target, wait until Connect says it is, then associate the declared
contact flow. Delete never releases a number: it retains it where it is, or restores it to the target it
had before this stack took it.

Failure paths are designed with CloudFormation's next request in mind. Once the properties parse, a failed
Create or Update answers with the declared number's ARN (``failure_physical_id``), so the rollback reaches
the number. A number taken by a Create or replacement that did not succeed has an unsettled ownership
record (PENDING or MOVING, records.py), and a Delete sent while the stack rolls back is a rollback: either
way the Delete, or the rollback Update whose OldResourceProperties name the number, puts it back where it
was (or hands it back to the logical ID it was renamed from) and releases it, whatever OnDelete says.

Requests of one resource act in the order CloudFormation sent them (ownership.py): each stamps the record
before it changes anything and looks again before every change, so a request CloudFormation no longer waits
for (a cancelled Create, an Update being rolled back, a late delivery) stops, and a move of its that landed
late is put where the newer request wants the number. docs/reliability.md has the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import ownership, stacks, tags
from .client_token import client_token
from .connect import PhoneNumbers, PhoneNumberState
from .errors import (
    ConnectBusy,
    ConnectNotFound,
    InternalError,
    InvalidProperties,
    InvalidRequest,
    MoveFailed,
    Overtaken,
    OwnerNotChecked,
    OwnershipConflict,
    ProviderError,
    RestoreTargetGone,
    TargetNotActive,
    quote,
)
from .properties import AssignmentProperties, OnDelete, Scope, parse_properties, phone_number_arn_of
from .records import OwnershipRecords, Predecessor, Record, State
from .tags import CONTACT_FLOW_TAG, PREVIOUS_CONTACT_FLOW_TAG, PREVIOUS_TARGET_TAG, Owner
from .telemetry import logger, metrics


@dataclass(frozen=True)
class Request:
    """The parts of a CloudFormation custom-resource event the lifecycle uses."""

    request_type: str
    stack_id: str
    logical_id: str
    request_id: str
    scope: Scope
    properties: Mapping[str, Any] = field(default_factory=dict)
    physical_id: str = ""
    old_properties: Mapping[str, Any] = field(default_factory=dict)
    # When CloudFormation sent the request (wall clock, the ResponseURL's signing time): the order of this
    # resource's requests (ownership.py).
    requested_at: float = field(default_factory=time.time)
    # Whether requested_at was read from the request (False: the time it arrived, for a Delete only).
    signed: bool = True

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)

    @property
    def requester(self) -> ownership.Requester:
        return ownership.Requester(self.owner, self.request_id, self.requested_at, self.request_type)


@dataclass(frozen=True)
class Outcome:
    """What CloudFormation receives on success."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Services:
    """The AWS clients one request uses. CloudFormation is only asked about other owners (and created on
    first use: most requests never need it)."""

    numbers: PhoneNumbers
    records: OwnershipRecords
    cloudformation: Callable[[], Any]


def failure_physical_id(request: Request) -> str | None:
    """The physical ID a failed request answers with, or None for CloudFormation's own fallback.

    A Create or Update whose properties parse answers with the declared number's ARN, whatever step failed
    (the watchdog's answer included): CloudFormation's rollback then sends its Delete or Update for that
    number, and the ownership record tells it what to undo. Delete keeps the ID it was given.
    """
    if request.request_type == "Delete":
        return request.physical_id or None
    return _declared_number(request.properties, request.scope)


def create(request: Request, services: Services) -> Outcome:
    return _guarded(_assign, request, services, parse_properties(request.properties, request.scope))


def update(request: Request, services: Services) -> Outcome:
    """In place when the number is the same (after normalising ID vs ARN); otherwise a replacement.

    For a replacement this acts as Create on the new number and returns its ARN; CloudFormation then sends
    Delete for the old physical ID. Rollbacks arrive here as ordinary updates; the rollback of a failed
    replacement also gives up the replacement's number (see ``_abandon_failed_replacement``).
    """
    properties = parse_properties(request.properties, request.scope)
    if phone_number_arn_of(request.physical_id, request.scope) != properties.phone_number_arn:
        logger.info(
            "Phone number changed: replacement", extra={"new_phone_number": properties.phone_number_arn}
        )
    outcome = _guarded(_assign, request, services, properties)
    _abandon_failed_replacement(request, services, properties)
    return outcome


def delete(request: Request, services: Services) -> Outcome:
    """Give the number up: where it goes is decided by why CloudFormation deletes the resource.

    - A physical ID that names no number was made up by CloudFormation for a Create that never answered
      (cancelled because another resource failed, timed out, or its invocation died). That Create may still
      be running: the record is stamped with this Delete (which fences it out), and whatever it did to the
      declared number is undone.
    - A Create or replacement that never succeeded (PENDING, MOVING), and any resource deleted while the
      stack rolls an operation back (DescribeStacks): undone, whatever OnDelete says: a stack operation that
      rolls back leaves every number where it was.
    - Otherwise a deliberate deletion: OnDelete (Restore puts the number back, Retain leaves it).
    A Delete older than the last request of the resource that wrote the record changes nothing.
    """
    done = Outcome(request.physical_id)
    requester = request.requester
    owner = requester.owner
    arn = phone_number_arn_of(request.physical_id, request.scope)
    cancelling = arn is None
    arn = arn or _declared_number(request.properties, request.scope)
    if arn is None:
        logger.info("Physical ID names no phone number; nothing to delete")
        return done
    numbers, records = services.numbers, services.records
    while True:
        record = records.get(arn)
        if record is not None and ownership.newer_than(record, requester):
            logger.info(
                "A newer request of this resource has acted on the number since this Delete was sent; "
                "nothing changed",
                extra={"newer_request_type": record.request_type},
            )
            return done
        state = numbers.describe(arn)
        if state is None:
            logger.info("Phone number no longer exists; nothing to delete")
            if record is not None and record.owner == owner and not record.released:
                _mark_released(records, state_stub(arn), record, requester)
            return done
        if record is None or record.released:
            if cancelling and (record is None or record.owner == owner):
                # Nothing taken yet: the record, stamped with this Delete, refuses the Create it cancels.
                stamped = Record(arn, owner, State.RELEASED, "", state.target_arn, **requester.stamp())
                if not ownership.write_over(records, record, stamped):
                    continue
                logger.info("Cancelled a Create that had not taken the number yet")
            elif record is None and tags.owns(state.tags, owner):
                # No record but this resource's tags (the table was lost): release by what the tags say.
                _release_by_tags(request, services, state)
                return done
            _untag_own(numbers, state, owner)
            return done
        if record.owner == owner:
            try:
                _give_up(request, services, state, record, cancelling=cancelling)
            except OwnershipConflict:
                continue  # the record changed under this Delete (a Create it cancels, still writing): again
            return done
        if record.predecessor is not None and record.predecessor.owner == owner:
            # A rename went through: the new logical ID holds the number; this old one only lets go. Best
            # effort: a stale predecessor is harmless (it is only handed back while CloudFormation says the
            # old resource still holds the number), and failing this Delete would fail the clean-up.
            try:
                ownership.advance(records, state, record, _unchanged_stamp(record), predecessor=None)
            except ProviderError as error:
                logger.warning("Could not clear the renamed resource", extra={"reason": error.reason})
            logger.info(
                "Renamed: the number now belongs to the new logical ID", extra={"to": record.owner.logical_id}
            )
            return done
        logger.info("Phone number is not owned by this resource; left alone")
        return done


def state_stub(arn: str) -> PhoneNumberState:
    """A number Connect no longer knows, for naming it in a Reason."""
    return PhoneNumberState(arn, arn.rsplit("/", 1)[-1], "", "", "", "")


def _unchanged_stamp(record: Record) -> ownership.Requester:
    """Write a record without restamping it (a change made on behalf of its owner's last request)."""
    return ownership.Requester(record.owner, record.request_id, record.requested_at, record.request_type)


def _give_up(
    request: Request, services: Services, state: PhoneNumberState, record: Record, *, cancelling: bool
) -> None:
    """This resource's Delete of a number it holds in ``record``: undo, restore, or let go (see delete)."""
    if record.predecessor is not None and _predecessor_holds(services, state, record.predecessor):
        # A rename rolled back: the old logical ID gets the number back, as it declares it.
        _hand_back(request, services, state, record)
        return
    # UNDOING: a put-back this Delete started and did not finish (it continues in a later invocation, or
    # its invocation died): it goes on putting back, whatever OnDelete says.
    put_back = cancelling or record.state in (State.PENDING, State.MOVING, State.UNDOING)
    if not put_back:
        put_back = _puts_back_held_number(request, services)
    if not put_back:
        _untag_own(services.numbers, state, request.owner)
        _mark_released(services.records, state, record, request.requester)
        logger.info("Released ownership of the phone number", extra={"target": state.target_arn})
        return
    _put_back(request, services, state, record)


def _put_back(request: Request, services: Services, state: PhoneNumberState, record: Record) -> None:
    """Put the number where it was before this resource took it, routed as it was; then release it.

    The record says UNDOING first: the fence against any older request of this resource (a cancelled
    Create, a superseded Update still retrying its move), and nobody else's to take until this is over. If
    putting it back fails, the record goes back to the state it had (still this resource's, stamped with
    this Delete), so the stack operation that retries or follows the Reason's advice finds it as it was.
    """
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
            state = _to(request, services, state, previous, may_be_moving=may_be_moving, record=record)
            state = _drop_own_contact_flow(numbers, state)
            if record.previous_contact_flow_arn:
                _associate_recorded(numbers, state, record.previous_contact_flow_arn)
    except Overtaken:
        raise
    except Exception:
        try:
            ownership.advance(records, state, record, requester, state=before)
        except ProviderError as error:
            logger.warning("Could not return the record to its state", extra={"reason": error.reason})
        raise
    _untag_own(numbers, state, request.owner)
    _mark_released(records, state, record, requester)
    logger.info("Put the number back where it was", extra={"target": state.target_arn})


def _mark_released(
    records: OwnershipRecords, state: PhoneNumberState, record: Record, requester: ownership.Requester
) -> None:
    """The record says nobody holds the number (it is never deleted: its stamp still orders requests)."""
    ownership.advance(records, state, record, requester, state=State.RELEASED, predecessor=None)


def _hand_back(request: Request, services: Services, state: PhoneNumberState, record: Record) -> None:
    """A rename rolled back: the number goes where the old logical ID declares it, and is its again."""
    numbers, records = services.numbers, services.records
    predecessor = record.predecessor
    assert predecessor is not None
    state = numbers.settle(state)
    state = _to(
        request,
        services,
        state,
        predecessor.target_arn,
        may_be_moving=record.state is not State.PENDING,
        record=record,
    )
    handed = _hand_back_record(records, record)
    state = _write_tags(
        numbers,
        state,
        predecessor.owner,
        predecessor.previous_target_arn,
        predecessor.contact_flow_arn,
        record.previous_contact_flow_arn,
    )
    if predecessor.contact_flow_arn:
        _associate_recorded(numbers, state, predecessor.contact_flow_arn)
    logger.info(
        "Handed the number back to the renamed resource",
        extra={"to": predecessor.owner.logical_id, "handed": handed is not None},
    )


def _release_by_tags(request: Request, services: Services, state: PhoneNumberState) -> None:
    """Delete of a number whose only record is this resource's tags (the table was lost)."""
    numbers = services.numbers
    restore = _puts_back_held_number(request, services)
    previous = state.tags.get(PREVIOUS_TARGET_TAG, "")
    if restore and previous:
        state = numbers.settle(state)
        state = (
            _drop_own_contact_flow(numbers, state)
            if state.rests_on(previous)
            else _restore_to(request, services, state, previous)
        )
        if state.tags.get(PREVIOUS_CONTACT_FLOW_TAG):
            _associate_recorded(numbers, state, state.tags[PREVIOUS_CONTACT_FLOW_TAG])
    _untag_own(numbers, state, request.owner)
    logger.info("Released ownership of the phone number by its tags", extra={"target": state.target_arn})


def _guarded(
    operation: Callable[[Request, Services, AssignmentProperties], Outcome],
    request: Request,
    services: Services,
    properties: AssignmentProperties,
) -> Outcome:
    """Run ``operation``; an exception nobody expected becomes a Reason that points at the logs."""
    try:
        return operation(request, services, properties)
    except ProviderError:
        raise
    except Exception as error:
        logger.exception("Unexpected error in the provider")
        raise InternalError(
            f"Internal error in the PhoneNumberAssignment provider (request {request.request_id}); its "
            "CloudWatch logs have the details. Retry the stack operation; the rollback puts back anything "
            f"this request changed on {properties.phone_number_arn}."
        ) from error


def _assign(request: Request, services: Services, properties: AssignmentProperties) -> Outcome:
    numbers, records = services.numbers, services.records
    requester = request.requester
    owner = requester.owner
    state = numbers.describe_existing(properties.phone_number_arn)
    _check_target(numbers, properties)
    tags.require_room(
        state.tags,
        owner,
        properties.contact_flow.arn if properties.contact_flow else "",
        number=state.label,
    )
    if not tags.owns(state.tags, owner):
        stacks.refuse_if_managed_elsewhere(state, owner.stack_id, services.cloudformation)
    target_arn = properties.target.arn
    flow_arn = properties.contact_flow.arn if properties.contact_flow else ""
    record, state = ownership.acquire(
        records,
        state,
        requester,
        target_arn,
        cloudformation=services.cloudformation,
        settle=numbers.settle,
        routed_flow=numbers.routed_flow,
    )
    try:
        try:
            state, record = _move(request, services, state, target_arn, record)
        except ConnectNotFound as missing:
            raise _group_not_active(
                numbers, state, target_arn, if_deleted="choose another TargetArn."
            ) or InvalidRequest(
                f"Target {target_arn} was not found when moving {state.label}: Connect said "
                f"{quote(str(missing))}. Check TargetArn."
            ) from None
        # Before anything more is changed: a newer request of this resource may have come meanwhile.
        record = ownership.current(records, state, record, requester)
        state = _converge_contact_flow(numbers, state, properties)
        state = _write_tags(
            numbers, state, owner, record.previous_target_arn, flow_arn, record.previous_contact_flow_arn
        )
        record = ownership.advance(
            records,
            state,
            record,
            requester,
            state=State.ASSIGNED,
            target_arn=target_arn,
            contact_flow_arn=flow_arn,
        )
    except Overtaken:
        _yield_to_newer(request, services, state.arn)
        raise
    except MoveFailed:
        # Connect says the number stayed where it was: nothing to put back.
        _undo_untouched(services, properties.phone_number_arn, requester, moved=False)
        raise
    except Exception:
        _undo_untouched(services, properties.phone_number_arn, requester)
        raise
    return Outcome(state.arn, _data(state, record, properties))


def _yield_to_newer(request: Request, services: Services, arn: str) -> None:
    """This request was overtaken. If a move it started may have landed after the newer request looked, the
    number goes where the newer request wants it (where it was, if that one gave it up); tags this request
    wrote go too. Best effort: the Reason CloudFormation no longer waits for is not what matters here."""
    numbers, records = services.numbers, services.records
    try:
        state = numbers.describe(arn)
        if state is None:
            return
        record = records.get(arn)
        if arn in numbers.moves_started and record is not None and record.owner == request.owner:
            if record.state is State.UNDOING:
                return  # the newer Delete is still at work, and looks for a move that may have landed
            state = numbers.settle(state)
            wanted = record.previous_target_arn if record.released else record.target_arn
            if wanted and not state.rests_on(wanted):
                logger.info(
                    "A move of this overtaken request landed; putting the number where the newer "
                    "request wants it",
                    extra={"target": wanted},
                )
                state = _restore_to(request, services, state, wanted)
                flow = record.previous_contact_flow_arn if record.released else record.contact_flow_arn
                if flow:
                    _associate_recorded(numbers, state, flow)
        if record is None or record.released:
            _untag_own(numbers, state, request.owner)
    except ProviderError as error:
        logger.warning("Could not put back what the overtaken request did", extra={"reason": error.reason})


def _write_tags(
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    owner: Owner,
    previous_target_arn: str,
    flow_arn: str,
    previous_flow_arn: str = "",
) -> PhoneNumberState:
    """Make the provider's tags on the number say ``owner`` (one TagResource, and one UntagResource only for
    a tag no longer wanted); no call when they already do."""
    wanted = tags.owner_tags(owner, previous_target_arn, flow_arn, previous_flow_arn)
    changed = {key: value for key, value in wanted.items() if state.tags.get(key) != value}
    if changed:
        state = numbers.tag(state, changed)
    stale = [key for key in tags.provider_tag_keys(state.tags) if key not in wanted]
    return numbers.untag(state, stale)


def _untag_own(numbers: PhoneNumbers, state: PhoneNumberState | None, owner: Owner) -> None:
    """Remove the provider's tags if they name ``owner``; tags naming anyone else stay."""
    if state is not None and tags.owns(state.tags, owner):
        numbers.untag(state, tags.provider_tag_keys(state.tags))


def _check_target(numbers: PhoneNumbers, properties: AssignmentProperties) -> None:
    """What Connect can tell about the target before anything changes: a group's state and home instance,
    and that the declared flow is one a number can route calls to."""
    flow = properties.contact_flow
    if flow is None:
        return
    if not properties.target.is_instance:
        group = numbers.describe_traffic_distribution_group(properties.target.arn)
        if group is None:
            raise InvalidRequest(
                f"Traffic distribution group {properties.target.arn} was not found. Check TargetArn."
            )
        if group.instance_id != flow.instance_id:
            raise InvalidProperties(
                f"Property ContactFlowArn names a flow in instance {flow.instance_id}, but traffic "
                f"distribution group {properties.target.id} belongs to instance {group.instance_id}; a "
                "number on a group is associated with a flow of the group's own instance."
            )
    numbers.require_inbound_flow(flow.instance_id, flow.id, flow.arn)


def _undo_untouched(
    services: Services, arn: str, requester: ownership.Requester, *, moved: bool = True
) -> None:
    """After a failure, give up a number this request holds in a record it never moved: nothing to put back.

    A number whose move may have started (MOVING) keeps its record, unless Connect said the move failed
    (``moved`` False): right after the call Describe may still show it where it was, and the rollback puts
    it back. A rename's old owner gets its record back. Best effort: if this fails too, the rollback's
    Delete (or Update) does it.
    """
    untouched = {State.PENDING} if moved else {State.PENDING, State.MOVING}
    try:
        record = services.records.get(arn)
        if (
            record is None
            or record.owner != requester.owner
            or record.state not in untouched
            or ownership.fenced_out(record, requester)
        ):
            return
        if record.predecessor is not None:
            _hand_back_record(services.records, record)
        else:
            _mark_released(services.records, state_stub(arn), record, requester)
        logger.info("Failed before moving the number: gave it up again")
    except Exception:  # the original failure is what CloudFormation must hear about
        logger.warning("Could not give up the number after the failure; the rollback will", exc_info=True)


def _hand_back_record(records: OwnershipRecords, record: Record) -> Record | None:
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


def _abandon_failed_replacement(
    request: Request, services: Services, properties: AssignmentProperties
) -> None:
    """The rollback Update of a failed replacement: give up the number the replacement took.

    CloudFormation rolls a failed replacement back with an Update whose OldResourceProperties name the
    replacement's number, while its physical ID still names the original one; no Delete ever comes for the
    replacement's number. Only a number this resource holds in a record of a request that never succeeded
    is given up; a failure here is logged, not raised, so the rollback itself never fails on it.
    """
    old_arn = _declared_number(request.old_properties, request.scope)
    current_arn = phone_number_arn_of(request.physical_id, request.scope)
    if old_arn is None or old_arn in (current_arn, properties.phone_number_arn):
        return
    try:
        record = services.records.get(old_arn)
        state = services.numbers.describe(old_arn)
        if state is None or record is None or record.owner != request.owner or record.settled:
            return
        if ownership.newer_than(record, request.requester):
            return
        logger.info("Giving up the failed replacement's number", extra={"abandoned": old_arn})
        if record.predecessor is not None and _predecessor_holds(services, state, record.predecessor):
            _hand_back(request, services, state, record)
        else:
            _put_back(request, services, state, record)
    except ProviderError as error:
        logger.warning("Could not give up the failed replacement's number", extra={"reason": error.reason})


def _to(
    request: Request,
    services: Services,
    state: PhoneNumberState,
    target_arn: str,
    *,
    may_be_moving: bool,
    record: Record | None = None,
) -> PhoneNumberState:
    """Bring the number back to ``target_arn``. A move the request being undone started may not show yet
    (Describe lags right after UpdatePhoneNumber): look again once that window has passed."""
    if not target_arn:
        return state
    numbers = services.numbers
    moving_to = record.target_arn if record is not None else ""
    # Seen resting there (CLAIMED, or FAILED: an earlier status) may be the lag, whichever status it shows.
    if may_be_moving and state.rests_on(target_arn) and moving_to and moving_to != target_arn:
        state = numbers.settle(numbers.describe_after_lag(state))
    if state.rests_on(target_arn):
        return state
    return _restore_to(request, services, state, target_arn, record=record)


def _predecessor_holds(services: Services, state: PhoneNumberState, predecessor: Predecessor) -> bool:
    """Whether the rename's old resource still declares the number (the stack operation rolled back). When
    CloudFormation cannot be asked, it is assumed to: handing the number back moves it least."""
    try:
        return stacks.still_holds(predecessor.owner, state, services.cloudformation)
    except OwnerNotChecked:
        return True


def _move(
    request: Request,
    services: Services,
    state: PhoneNumberState,
    target_arn: str,
    record: Record | None,
    *,
    putting_back: bool = False,
) -> tuple[PhoneNumberState, Record | None]:
    """Bring the number to ``target_arn`` and wait until Connect shows it CLAIMED there (or, when
    ``putting_back``, until it rests there: a FAILED there is back where it was).

    Right before a move is started, and before each retry of a throttled UpdatePhoneNumber, the ``record``
    this request holds is looked at again (the fence: a newer request of this resource has stamped it, and
    then no move is started); one not yet settled is written MOVING. The flow association stays as it is
    until Connect has accepted the move, so a refused move changes no routing, and it is put back if the
    move fails. Raises ConnectNotFound if Connect does not find the target.
    """
    numbers, records = services.numbers, services.records
    requester = request.requester
    token = client_token(
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        request_id=request.request_id,
        phone_number_arn=state.arn,
        target_arn=target_arn,
    )
    fence = None
    if record is not None:
        held = record

        def fence() -> None:
            ownership.current(records, state, held, requester)

    # Arrived: for an assignment only CLAIMED there (a FAILED number is moved again: FAILED is the last
    # operation's outcome, not a usable place); for a number put back, resting there (connect.rests_on).
    arrived = PhoneNumberState.rests_on if putting_back else PhoneNumberState.is_claimed_on
    while not arrived(state, target_arn):
        state = numbers.settle(state)
        if arrived(state, target_arn):
            break
        if record is not None:
            if record.state in (State.PENDING, State.MOVING):
                record = ownership.advance(records, state, record, requester, state=State.MOVING)
            else:
                record = ownership.current(records, state, record, requester)
        try:
            numbers.start_move(state, target_arn, token, fence=fence)
        except ConnectBusy:
            logger.info("Phone number busy with another operation; waiting for it to settle")
            state = numbers.settle(numbers.describe_existing(state.arn))
            record = _correct_restore_target(services, state, record, requester)
            continue
        try:
            state = _wait_for_move(numbers, state, target_arn)
        except MoveFailed:
            routed = state.tags.get(CONTACT_FLOW_TAG) or (record.previous_contact_flow_arn if record else "")
            _keep_routing(numbers, state, routed)
            raise
    return state, record


def _correct_restore_target(
    services: Services, state: PhoneNumberState, record: Record | None, requester: ownership.Requester
) -> Record | None:
    """Someone else's move was in flight when this request took the number: where it settled is the restore
    target (where it would be had this stack never taken it), not where Describe, lagging, showed it."""
    if record is None or record.state not in (State.PENDING, State.MOVING) or record.predecessor is not None:
        return record
    if state.arn in services.numbers.moves_started or record.previous_target_arn == state.target_arn:
        return record
    logger.info(
        "Restore target corrected", extra={"was": record.previous_target_arn, "now": state.target_arn}
    )
    return ownership.advance(services.records, state, record, requester, previous_target_arn=state.target_arn)


def _group_not_active(
    numbers: PhoneNumbers, state: PhoneNumberState, target_arn: str, *, if_deleted: str
) -> ProviderError | None:
    """Connect answers "not found" for a group that exists but is not ACTIVE: say so, if that is the case.

    ``if_deleted`` is the advice for a group on its way out.
    """
    if ":traffic-distribution-group/" not in target_arn:
        return None
    group = numbers.describe_traffic_distribution_group(target_arn)
    if group is None or group.is_active:
        return None
    return TargetNotActive(
        f"Traffic distribution group {target_arn} is {group.status}, and Connect only moves numbers to an "
        f"ACTIVE group; {state.label} stays on {state.target_arn}. "
        f"{_advice_for_group_status(group.status, if_deleted)}"
    )


def _advice_for_group_status(status: str, if_deleted: str) -> str:
    if status.endswith("IN_PROGRESS"):
        return "Retry the stack operation once the group is ACTIVE."
    if status in ("PENDING_DELETION", "DELETED"):
        return f"The group is being deleted: {if_deleted}"
    return "Fix the group (its status and reason are in the Connect console), then retry."


def _keep_routing(numbers: PhoneNumbers, before: PhoneNumberState, flow_arn: str) -> None:
    """After a failed move the number is where it was: make sure the flow it routed to (``flow_arn``: the
    one this provider associated, or the one it had before this stack took it) still answers calls.

    Whether a failed move drops the association is not documented (docs/reliability.md); associating the
    same flow again is harmless, so it is done whenever the provider knows one.
    """
    if not flow_arn:
        return
    state = numbers.describe(before.arn)
    if state is None:
        return
    try:
        _associate_recorded(numbers, state, flow_arn)
    except ProviderError as error:
        logger.warning("Could not re-associate the flow", extra={"reason": error.reason})


def _wait_for_move(numbers: PhoneNumbers, before: PhoneNumberState, target_arn: str) -> PhoneNumberState:
    metrics.add_metric(name="MovesStarted", unit=MetricUnit.Count, value=1)
    started = numbers.now()
    logger.info("Move started", extra={"from_target": before.target_arn, "to_target": target_arn})
    try:
        state = numbers.wait_for_move(before, target_arn)
    except MoveFailed:
        metrics.add_metric(name="MovesFailed", unit=MetricUnit.Count, value=1)
        raise
    seconds = numbers.now() - started
    metrics.add_metric(name="MovesSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MoveDuration", unit=MetricUnit.Seconds, value=round(seconds, 3))
    logger.info("Move finished", extra={"target": target_arn, "seconds": round(seconds, 3)})
    return state


def _converge_contact_flow(
    numbers: PhoneNumbers, state: PhoneNumberState, properties: AssignmentProperties
) -> PhoneNumberState:
    """Associate the declared flow. Associated on every Create and Update (not only when the declaration
    changed), so an update also repairs an association someone changed by hand. A flow no longer declared is
    no longer managed (its tag goes, in _write_tags), but calls keep routing where they route."""
    flow = properties.contact_flow
    if flow is not None:
        numbers.associate_flow(state, flow.instance_id, flow.id, flow.arn)
    return state


def _associate_recorded(numbers: PhoneNumbers, state: PhoneNumberState, flow_arn: str) -> None:
    """Associate a flow the provider recorded, if the number is in that flow's instance."""
    instance_id = _instance_of(flow_arn)
    if state.instance_id == instance_id:
        numbers.associate_flow(state, instance_id, flow_arn.rsplit("/", 1)[-1], flow_arn)


def _restore_to(
    request: Request,
    services: Services,
    state: PhoneNumberState,
    previous: str,
    *,
    record: Record | None = None,
) -> PhoneNumberState:
    """Move the number back to ``previous``. The association stays until Connect accepts the move, so a
    refused or failed restore leaves the number answering calls as before."""
    numbers = services.numbers
    try:
        state, _ = _move(request, services, state, previous, record, putting_back=True)
        return state
    except ConnectNotFound as missing:
        raise _group_not_active(
            numbers,
            state,
            previous,
            if_deleted="set OnDelete to Retain (or DeletionPolicy: Retain) to keep the number where it is, "
            "and delete again.",
        ) or RestoreTargetGone(
            f"OnDelete is Restore, but the previous target {previous} no longer exists (Connect said "
            f"{quote(str(missing))}); {state.phone_number or state.arn} was left on {state.target_arn}. To "
            "keep it there, set OnDelete to Retain (or DeletionPolicy: Retain) and delete again."
        ) from None


def _drop_own_contact_flow(numbers: PhoneNumbers, state: PhoneNumberState) -> PhoneNumberState:
    """Not moving: the flow association this resource made goes explicitly."""
    flow_arn = state.tags.get(CONTACT_FLOW_TAG)
    if not flow_arn:
        return state
    instance_id = _instance_of(flow_arn)
    if instance_id and state.instance_id == instance_id:
        numbers.disassociate_flow(state, instance_id)
    return numbers.untag(state, [CONTACT_FLOW_TAG])


def _parsed(properties: Any, scope: Scope) -> AssignmentProperties | None:
    """The declaration, if it parses: one that does not was refused before it could change anything."""
    try:
        return parse_properties(properties, scope)
    except InvalidProperties:
        return None


def _puts_back_held_number(request: Request, services: Services) -> bool:
    """Whether the Delete of a number this resource holds after success puts it back: OnDelete: Restore, or
    a stack rolling back (DescribeStacks, read only when Retain would otherwise keep it)."""
    return _restore_on_delete(request) or stacks.rolling_back(request.stack_id, services.cloudformation)


def _restore_on_delete(request: Request) -> bool:
    """OnDelete as declared; a declaration that does not parse means Retain, which never moves a number."""
    declared = _parsed(request.properties, request.scope)
    return declared is not None and declared.on_delete is OnDelete.RESTORE


def _declared_number(properties: Any, scope: Scope) -> str | None:
    """The number ARN of a declaration that parses; a request whose properties did not took no number."""
    declared = _parsed(properties, scope)
    return declared.phone_number_arn if declared else None


def _instance_of(flow_arn: str) -> str:
    """The instance ID in a contact-flow ARN."""
    _, found, rest = flow_arn.partition(":instance/")
    return rest.split("/", 1)[0] if found else ""


def _data(state: PhoneNumberState, record: Record, properties: AssignmentProperties) -> dict[str, str]:
    """Return values for Fn::GetAtt; a few short strings, far under CloudFormation's 4096-byte response."""
    return {
        "PhoneNumberArn": state.arn,
        "PhoneNumberId": state.id,
        "PhoneNumber": state.phone_number,
        "TargetArn": state.target_arn,
        "PreviousTargetArn": record.previous_target_arn,
        "ContactFlowArn": properties.contact_flow.arn if properties.contact_flow else "",
        "PreviousContactFlowArn": record.previous_contact_flow_arn,
    }
