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

What to do is decided by rule.py, from what the request has read (the record, the number, the stack); this
module reads what the rule asks for and executes the action it names (give_back.py for every action that
gives a number back; moves.py for the moves themselves), and on a conflict decides again.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from . import ownership, rule, stacks, tags
from .connect import PhoneNumbers, PhoneNumberState
from .errors import (
    ConnectNotFound,
    InternalError,
    InvalidProperties,
    InvalidRequest,
    MoveFailed,
    Overtaken,
    OwnershipConflict,
    ProviderError,
    quote,
)
from .give_back import give_back
from .moves import (
    converge_contact_flow,
    group_not_active,
    move,
    predecessor_holds,
    write_tags,
)
from .properties import AssignmentProperties, OnDelete, Scope, parse_properties, phone_number_arn_of
from .records import (
    Record,
    ResourceStamp,
    State,
)
from .request import Outcome, Request, Services, state_stub
from .telemetry import logger


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


def _stamp(request: Request, services: Services, properties: AssignmentProperties) -> ResourceStamp | None:
    """Stamp the resource with this Create or Update before anything changes (the fence every later step
    checks: ownership.confirm_stamp); a newer request's stamp stops it here. Returns the stamp it replaced."""
    previous, may_act = ownership.stamp_resource(services.records, request.requester)
    if not may_act:
        assert previous is not None
        raise ownership.overtaken(state_stub(properties.phone_number_arn), previous, request.requester)
    return previous


def update(request: Request, services: Services) -> Outcome:
    """In place when the number is the same (after normalising ID vs ARN); otherwise a replacement.

    For a replacement this acts as Create on the new number and returns its ARN; CloudFormation then sends
    Delete for the old physical ID. Rollbacks arrive here as ordinary updates; the rollback of a failed
    replacement also gives up the replacement's number (see ``_abandon_failed_replacement``).
    """
    properties = parse_properties(request.properties, request.scope)
    replaced = _stamp(request, services, properties)
    if phone_number_arn_of(request.physical_id, request.scope) != properties.phone_number_arn:
        logger.info(
            "Phone number changed: replacement", extra={"new_phone_number": properties.phone_number_arn}
        )
    outcome = _guarded(
        functools.partial(_assign, stamped=True, overtaken=replaced), request, services, properties
    )
    _abandon_failed_replacement(request, services, properties, replaced.request_id if replaced else "")
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
    arn = phone_number_arn_of(request.physical_id, request.scope)
    cancelling = arn is None
    arn = arn or _declared_number(request.properties, request.scope)
    if arn is None:
        logger.info("Physical ID names no phone number; nothing to delete")
        return done
    _numbers, records = services.numbers, services.records
    newer, may_act = ownership.stamp_resource(records, requester)
    if not may_act:
        logger.info(
            "A newer request of this resource was sent after this Delete; nothing changed",
            extra={"newer_request_type": newer.request_type if newer else ""},
        )
        return done
    while True:
        facts = rule.DeleteFacts(
            requester, records.get(arn), cancelling=cancelling, restore=_restore_on_delete(request)
        )
        state = state_stub(arn)
        action = rule.on_delete(facts)
        while isinstance(action, rule.Ask):
            facts, state = _delete_answer(request, services, facts, action, state)
            action = rule.on_delete(facts)
        try:
            give_back(action, request, services, state, facts.record)
        except OwnershipConflict:
            continue  # the record changed under this Delete (a Create it cancels, still writing): again
        return done


def _delete_answer(
    request: Request, services: Services, facts: rule.DeleteFacts, ask: rule.Ask, state: PhoneNumberState
) -> tuple[rule.DeleteFacts, PhoneNumberState]:
    """Read what ``rule.on_delete`` asks for."""
    if ask is rule.Ask.NUMBER:
        described = services.numbers.describe(state.arn)
        if described is None:
            return dataclasses.replace(facts, exists=False), state
        owns = tags.owns(described.tags, request.owner)
        return dataclasses.replace(facts, exists=True, tags_name_requester=owns), described
    if ask is rule.Ask.ROLLING_BACK:
        return dataclasses.replace(
            facts, rolling_back=stacks.rolling_back(request.stack_id, services.cloudformation)
        ), state
    assert facts.record is not None
    assert facts.record.predecessor is not None
    holds = predecessor_holds(services, state, facts.record.predecessor)
    return dataclasses.replace(facts, predecessor_holds=holds), state


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


def _assign(
    request: Request,
    services: Services,
    properties: AssignmentProperties,
    *,
    stamped: bool = False,
    overtaken: ResourceStamp | None = None,
) -> Outcome:
    """Converge on the declaration. The resource is stamped (unless ``stamped`` already: an Update stamps
    before it looks at a replaced number; ``overtaken`` is the stamp it replaced) after the reads and before
    the first write."""
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
    if not stamped:
        overtaken = _stamp(request, services, properties)
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
    shown_arrived = state.is_claimed_on(target_arn)
    action = rule.before_converging(
        record,
        requester,
        overtaken,
        shown_arrived=shown_arrived,
        moved_it=state.arn in numbers.moves_started,
    )
    if action is rule.Action.WAIT_OUT_LAG:
        logger.info("A move of an earlier request may not show yet; reading the number again after the lag")
        state = numbers.settle(numbers.describe_after_lag(state))
    try:
        try:
            state, record = move(request, services, state, target_arn, record)
        except ConnectNotFound as missing:
            raise group_not_active(
                numbers, state, target_arn, if_deleted="choose another TargetArn."
            ) or InvalidRequest(
                f"Target {target_arn} was not found when moving {state.label}: Connect said "
                f"{quote(str(missing))}. Check TargetArn."
            ) from None
        # Before anything more is changed: a newer request of this resource may have come meanwhile.
        record = ownership.current(records, state, record, requester)
        state = converge_contact_flow(numbers, state, properties)
        state = write_tags(
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
        _undo_untouched(request, services, properties.phone_number_arn, moved=False)
        raise
    except Exception:
        _undo_untouched(request, services, properties.phone_number_arn)
        raise
    return Outcome(state.arn, _data(state, record, properties))


def _yield_to_newer(request: Request, services: Services, arn: str) -> None:
    """This request was overtaken: give back what it did as the rule says (rule.when_overtaken). Best effort:
    the Reason CloudFormation no longer waits for is not what matters here."""
    numbers, records = services.numbers, services.records
    try:
        state = numbers.describe(arn)
        if state is None:
            return
        record = records.get(arn)
        # An in-place Update is overtaken only by its rollback, which declares the same number.
        in_place = (
            request.request_type == "Update"
            and _declared_number(request.old_properties, request.scope) == arn
        )
        action = rule.when_overtaken(
            record, request.requester, moved=arn in numbers.moves_started, newer_declares_it=in_place
        )
        if action in (rule.Action.PUT_BACK, rule.Action.HAND_BACK):
            # The newer request stamped the resource and looked at the number before this request wrote its
            # record: it found nothing to undo, so this request puts back what it did, on its behalf.
            logger.info("Overtaken after taking the number; putting back what this request did")
            request = dataclasses.replace(request, fenced=False)
        give_back(action, request, services, state, record)
    except ProviderError as error:
        logger.warning("Could not put back what the overtaken request did", extra={"reason": error.reason})


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


def _undo_untouched(request: Request, services: Services, arn: str, *, moved: bool = True) -> None:
    """After a failure, give up a number this request holds in a record it never moved (rule.after_failure):
    a number whose move may have started keeps its record (right after the call Describe may still show it
    where it was), and the rollback puts it back. Best effort: if this fails too, the rollback's Delete (or
    Update) does it."""
    try:
        record = services.records.get(arn)
        action = rule.after_failure(record, request.requester, moved=moved)
        if action is not rule.Action.NOTHING:
            give_back(action, request, services, state_stub(arn), record)
            logger.info("Failed before moving the number: gave it up again")
    except Exception:  # the original failure is what CloudFormation must hear about
        logger.warning("Could not give up the number after the failure; the rollback will", exc_info=True)


def _abandon_failed_replacement(
    request: Request, services: Services, properties: AssignmentProperties, rolled_back: str
) -> None:
    """The rollback Update of a failed replacement: give up the number the replacement took.

    CloudFormation rolls a failed replacement back with an Update whose OldResourceProperties name the
    replacement's number, while its physical ID still names the original one; no Delete ever comes for the
    replacement's number. Only a number this resource holds in a record of a request that never succeeded,
    or of the request this rollback rolls back (``rolled_back``: the one whose stamp it replaced, which may
    have succeeded after CloudFormation stopped waiting), is given up; a failure here is logged, not raised,
    so the rollback itself never fails on it.
    """
    old_arn = _declared_number(request.old_properties, request.scope)
    current_arn = phone_number_arn_of(request.physical_id, request.scope)
    if old_arn is None or old_arn in (current_arn, properties.phone_number_arn):
        return
    try:
        record = services.records.get(old_arn)
        state = services.numbers.describe(old_arn)
        if state is None:
            return
        action = rule.on_rollback_update(record, request.requester, rolled_back=rolled_back)
        if action is rule.Ask.PREDECESSOR_HOLDS:
            assert record is not None
            assert record.predecessor is not None
            holds = predecessor_holds(services, state, record.predecessor)
            action = rule.on_rollback_update(
                record, request.requester, rolled_back=rolled_back, predecessor_holds=holds
            )
        assert isinstance(action, rule.Action)
        if action in (rule.Action.PUT_BACK, rule.Action.HAND_BACK):
            logger.info("Giving up the failed replacement's number", extra={"abandoned": old_arn})
            give_back(action, request, services, state, record)
    except ProviderError as error:
        logger.warning("Could not give up the failed replacement's number", extra={"reason": error.reason})


def _parsed(properties: Any, scope: Scope) -> AssignmentProperties | None:
    """The declaration, if it parses: one that does not was refused before it could change anything."""
    try:
        return parse_properties(properties, scope)
    except InvalidProperties:
        return None


def _restore_on_delete(request: Request) -> bool:
    """OnDelete as declared; a declaration that does not parse means Retain, which never moves a number."""
    declared = _parsed(request.properties, request.scope)
    return declared is not None and declared.on_delete is OnDelete.RESTORE


def _declared_number(properties: Any, scope: Scope) -> str | None:
    """The number ARN of a declaration that parses; a request whose properties did not took no number."""
    declared = _parsed(properties, scope)
    return declared.phone_number_arn if declared else None


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
