"""Create, Update and Delete of a Custom::PhoneNumberAssignment.

Every Create and Update converges on the declared state: describe the number, acquire it for this resource,
move it only if it is not already on the target, wait until Connect says it is, then associate the declared
contact flow. Delete never releases a number: it retains it where it is, or restores it to the target it
had before this stack took it.

Failure paths are designed with CloudFormation's next request in mind. Once the properties parse, a failed
Create or Update answers with the declared number's ARN (``failure_physical_id``), so the rollback reaches
the number. A number taken by a Create or replacement that did not succeed carries the pending marker
(PENDING_TAG): the rollback's Delete, or the rollback Update whose OldResourceProperties name it,
puts it back where it was and removes this stack's tags, whatever OnDelete says.
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
    ProviderError,
    RestoreTargetGone,
    TargetNotActive,
    quote,
)
from .properties import AssignmentProperties, OnDelete, Scope, parse_properties, phone_number_arn_of
from .tags import CONTACT_FLOW_TAG, PENDING_TAG, PREVIOUS_TARGET_TAG, Owner
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

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)


@dataclass(frozen=True)
class Outcome:
    """What CloudFormation receives on success."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Services:
    """The AWS clients one request uses. CloudFormation is only asked about numbers another stack tagged."""

    numbers: PhoneNumbers
    cloudformation: Callable[[], Any]


def failure_physical_id(request: Request) -> str | None:
    """The physical ID a failed request answers with, or None for CloudFormation's own fallback.

    A Create or Update whose properties parse answers with the declared number's ARN, whatever step failed
    (the watchdog's answer included): CloudFormation's rollback then sends its Delete or Update for that
    number, and the pending marker tells it what to undo. Delete keeps the ID it was given.
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
    done = Outcome(request.physical_id)
    numbers = services.numbers
    owner = request.owner
    arn = phone_number_arn_of(request.physical_id, request.scope)
    # A physical ID that names no number belongs to a Create that never answered with one (CloudFormation
    # timed it out, or the invocation died): only a number that Create took and left pending is undone.
    only_if_pending = arn is None
    arn = arn or _declared_number(request.properties, request.scope)
    if arn is None:
        logger.info("Physical ID names no phone number; nothing to delete")
        return done
    state = numbers.describe(arn)
    if state is None:
        logger.info("Phone number no longer exists; nothing to delete")
        return done
    pending = tags.is_pending(state.tags, owner)
    if not tags.owns(state.tags, owner) or (only_if_pending and not pending):
        # A claim this resource's failed Create left mid-way is its own to withdraw; nothing else is.
        numbers.untag(state, _left_behind(state, owner))
        logger.info("Phone number is not owned by this resource; left alone")
        return done
    _give_up(
        request, numbers, state, restore=_on_delete(request.properties, request.scope) is OnDelete.RESTORE
    )
    return done


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
    numbers = services.numbers
    owner = request.owner
    state = numbers.describe_existing(properties.phone_number_arn)
    holder = Owner.from_tags(state.tags)
    if holder is not None and holder.stack_id != owner.stack_id:
        raise ownership.conflict(state, holder)  # at once: no waiting for a move that is not ours
    _check_target(numbers, properties)
    owned_before = tags.owns(state.tags, owner)
    if not owned_before:
        stacks.refuse_if_managed_elsewhere(state, owner.stack_id, services.cloudformation)
    target_arn = properties.target.arn
    try:
        state = ownership.acquire(numbers, numbers.settle(state), owner, target_arn)
        try:
            state = _move(request, numbers, state, target_arn)
        except ConnectNotFound as missing:
            raise _group_not_active(
                numbers, state, target_arn, if_deleted="choose another TargetArn."
            ) or InvalidRequest(
                f"Target {target_arn} was not found when moving {state.label}: Connect said "
                f"{quote(str(missing))}. Check TargetArn."
            ) from None
        state = _converge_contact_flow(numbers, state, properties)
        state = ownership.confirm(numbers, state, owner)
    except Exception:
        if not owned_before:
            _undo_untouched_claim(numbers, properties.phone_number_arn, owner)
        raise
    return Outcome(state.arn, _data(state, properties))


def _check_target(numbers: PhoneNumbers, properties: AssignmentProperties) -> None:
    """What Connect can tell about the target before anything changes: a group's state and home instance."""
    flow = properties.contact_flow
    if properties.target.is_instance or flow is None:
        return
    group = numbers.describe_traffic_distribution_group(properties.target.arn)
    if group is None:
        raise InvalidRequest(
            f"Traffic distribution group {properties.target.arn} was not found. Check TargetArn."
        )
    if group.instance_id != flow.instance_id:
        raise InvalidProperties(
            f"Property ContactFlowArn names a flow in instance {flow.instance_id}, but traffic distribution "
            f"group {properties.target.id} belongs to instance {group.instance_id}; a number on a group is "
            "associated with a flow of the group's own instance."
        )


def _undo_untouched_claim(numbers: PhoneNumbers, arn: str, owner: Owner) -> None:
    """After a failure, drop the tags of a number this request took but never moved: nothing to put back.

    A number whose move Connect accepted keeps them (right after the call, Describe may still show it where
    it was): the rollback puts it back and then removes them. Best effort: if this fails too, the rollback's
    Delete (or Update) finds the pending marker and does it.
    """
    if arn in numbers.moves_started:
        return
    try:
        state = numbers.describe(arn)
        if state is None:
            return
        numbers.untag(state, _left_behind(state, owner))
        logger.info("Failed before moving the number: gave it up again")
    except Exception:  # the original failure is what CloudFormation must hear about
        logger.warning("Could not give up the number after the failure; the rollback will", exc_info=True)


def _left_behind(state: PhoneNumberState, owner: Owner) -> list[str]:
    """The tags a request of ``owner`` that never succeeded left: all of them if it got as far as owning the
    number (pending), else at most its claim."""
    if tags.is_pending(state.tags, owner):
        return tags.owned_tag_keys(state.tags, owner)
    claim = tags.claim_key(owner)
    return [claim] if claim in state.tags and not tags.owns(state.tags, owner) else []


def _abandon_failed_replacement(
    request: Request, services: Services, properties: AssignmentProperties
) -> None:
    """The rollback Update of a failed replacement: give up the number the replacement took.

    CloudFormation rolls a failed replacement back with an Update whose OldResourceProperties name the
    replacement's number, while its physical ID still names the original one; no Delete ever comes for the
    replacement's number. Only a number this resource took in a request that never succeeded (pending) is
    given up; a failure here is logged, not raised, so the rollback itself never fails on it.
    """
    old_arn = _declared_number(request.old_properties, request.scope)
    current_arn = phone_number_arn_of(request.physical_id, request.scope)
    if old_arn is None or old_arn in (current_arn, properties.phone_number_arn):
        return
    try:
        state = services.numbers.describe(old_arn)
        if state is None or not tags.is_pending(state.tags, request.owner):
            return
        logger.info("Giving up the failed replacement's number", extra={"abandoned": old_arn})
        _give_up(request, services.numbers, state, restore=True)
    except ProviderError as error:
        logger.warning("Could not give up the failed replacement's number", extra={"reason": error.reason})


def _give_up(request: Request, numbers: PhoneNumbers, state: PhoneNumberState, *, restore: bool) -> None:
    """Stop owning the number: back to where it was if ``restore`` or if its request never succeeded."""
    owner = request.owner
    pending = tags.is_pending(state.tags, owner)
    if restore or pending:
        state = numbers.settle(state)
        moving_to = state.tags.get(PENDING_TAG, "") if pending else ""
        if (
            moving_to
            and moving_to != state.target_arn
            and state.is_claimed_on(state.tags.get(PREVIOUS_TARGET_TAG, ""))
        ):
            # Right after a move is accepted, Describe can still show the number CLAIMED where it was: the
            # failed request may have started one. Look again once that window has passed.
            state = numbers.settle(numbers.describe_after_lag(state))
        state = _restore(request, numbers, state)
    state = numbers.untag(state, tags.owned_tag_keys(state.tags, owner))
    logger.info("Released ownership of the phone number", extra={"target": state.target_arn})


def _move(
    request: Request, numbers: PhoneNumbers, state: PhoneNumberState, target_arn: str
) -> PhoneNumberState:
    """Bring the number to ``target_arn`` and wait until Connect shows it CLAIMED there.

    The flow association stays as it is until Connect has accepted the move, so a refused move changes no
    routing, and it is put back if the move fails. Raises ConnectNotFound if Connect does not find the target.
    """
    token = client_token(
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        request_id=request.request_id,
        phone_number_arn=state.arn,
        target_arn=target_arn,
    )
    while not state.is_on(target_arn):
        state = numbers.settle(state)
        if state.is_on(target_arn):
            break
        try:
            numbers.start_move(state, target_arn, token)
        except ConnectBusy:
            logger.info("Phone number busy with another operation; waiting for it to settle")
            state = _where_it_settles(numbers, state)
            continue
        try:
            state = _wait_for_move(numbers, state, target_arn)
        except MoveFailed:
            _keep_routing(numbers, state)
            raise
    return state


def _where_it_settles(numbers: PhoneNumbers, state: PhoneNumberState) -> PhoneNumberState:
    """Wait out someone else's operation on the number; fix the restore target it may have made stale.

    If the number was taken in this request while that operation was already accepted, Describe may have
    shown it where it was, so the recorded previous target is where it came from rather than where it
    settles: the restore target is the latter, where it would have been had this stack never taken it.
    """
    state = numbers.settle(numbers.describe_existing(state.arn))
    recorded = state.tags.get(PREVIOUS_TARGET_TAG)
    if PENDING_TAG in state.tags and state.arn not in numbers.moves_started and recorded != state.target_arn:
        logger.info("Restore target corrected", extra={"was": recorded, "now": state.target_arn})
        state = numbers.tag(state, {PREVIOUS_TARGET_TAG: state.target_arn})
    return state


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


def _keep_routing(numbers: PhoneNumbers, before: PhoneNumberState) -> None:
    """After a failed move the number is where it was: make sure its recorded flow still answers calls.

    Whether a failed move drops the association is not documented (docs/reliability.md); associating the
    same flow again is harmless, so it is done whenever the provider had recorded one.
    """
    flow_arn = before.tags.get(CONTACT_FLOW_TAG)
    if not flow_arn:
        return
    state = numbers.describe(before.arn)
    instance_id = _instance_of(flow_arn)
    if state is None or state.instance_id != instance_id:
        return
    try:
        numbers.associate_flow(state, instance_id, flow_arn.rsplit("/", 1)[-1], flow_arn)
    except ProviderError as error:
        logger.warning("Could not re-associate the flow", extra={"reason": error.reason})


def _wait_for_move(numbers: PhoneNumbers, before: PhoneNumberState, target_arn: str) -> PhoneNumberState:
    metrics.add_metric(name="MovesStarted", unit=MetricUnit.Count, value=1)
    started = time.monotonic()
    logger.info("Move started", extra={"from_target": before.target_arn, "to_target": target_arn})
    try:
        state = numbers.wait_for_move(before, target_arn)
    except MoveFailed:
        metrics.add_metric(name="MovesFailed", unit=MetricUnit.Count, value=1)
        raise
    seconds = time.monotonic() - started
    metrics.add_metric(name="MovesSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MoveDuration", unit=MetricUnit.Seconds, value=round(seconds, 3))
    logger.info("Move finished", extra={"target": target_arn, "seconds": round(seconds, 3)})
    return state


def _converge_contact_flow(
    numbers: PhoneNumbers, state: PhoneNumberState, properties: AssignmentProperties
) -> PhoneNumberState:
    flow = properties.contact_flow
    recorded = state.tags.get(CONTACT_FLOW_TAG)
    if flow is None:
        if recorded:
            # No longer declared: stop managing it, but leave calls routing where they route.
            state = numbers.untag(state, [CONTACT_FLOW_TAG])
        return state
    # Associated on every Create and Update (not only when the declaration changed), so an update also repairs
    # an association someone changed by hand.
    numbers.associate_flow(state, flow.instance_id, flow.id, flow.arn)
    if recorded != flow.arn:
        state = numbers.tag(state, {CONTACT_FLOW_TAG: flow.arn})
    return state


def _restore(request: Request, numbers: PhoneNumbers, state: PhoneNumberState) -> PhoneNumberState:
    previous = state.tags.get(PREVIOUS_TARGET_TAG)
    if not previous:
        logger.warning("No previous target recorded on the number; retaining it where it is")
        return state
    if state.is_on(previous):
        # Not moving: the flow association this resource made goes with it explicitly.
        return _drop_own_contact_flow(numbers, state)
    # Moving: the association stays until Connect accepts the move, so a refused or failed restore leaves the
    # number answering calls as before.
    try:
        return _move(request, numbers, state, previous)
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


def _on_delete(properties: Any, scope: Scope) -> OnDelete:
    """OnDelete as declared; a declaration that does not parse means Retain, which never moves a number."""
    declared = _parsed(properties, scope)
    return declared.on_delete if declared else OnDelete.RETAIN


def _declared_number(properties: Any, scope: Scope) -> str | None:
    """The number ARN of a declaration that parses; a request whose properties did not took no number."""
    declared = _parsed(properties, scope)
    return declared.phone_number_arn if declared else None


def _instance_of(flow_arn: str) -> str:
    """The instance ID in a contact-flow ARN."""
    _, found, rest = flow_arn.partition(":instance/")
    return rest.split("/", 1)[0] if found else ""


def _data(state: PhoneNumberState, properties: AssignmentProperties) -> dict[str, str]:
    """Return values for Fn::GetAtt; a few short strings, far under CloudFormation's 4096-byte response."""
    return {
        "PhoneNumberArn": state.arn,
        "PhoneNumberId": state.id,
        "PhoneNumber": state.phone_number,
        "TargetArn": state.target_arn,
        "PreviousTargetArn": state.tags.get(PREVIOUS_TARGET_TAG, ""),
        "ContactFlowArn": properties.contact_flow.arn if properties.contact_flow else "",
    }
