"""Create, Update and Delete of a Custom::PhoneNumberAssignment.

Every Create and Update converges on the declared state: describe the number, acquire it for this resource,
move it only if it is not already CLAIMED on the target, wait until Connect says it is, then associate the
declared contact flow. Delete never releases a number: it retains it where it is, or restores it to the
target it had before this stack took it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import ownership
from .client_token import client_token
from .connect import NumberBusy, PhoneNumbers, PhoneNumberState, TargetMissing
from .errors import InvalidRequest, MoveFailed, ProviderError, RestoreTargetGone
from .ownership import CONTACT_FLOW_TAG, PREVIOUS_TARGET_TAG, Owner
from .properties import AssignmentProperties, OnDelete, Scope, parse_properties, phone_number_arn_of
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

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)


@dataclass(frozen=True)
class Outcome:
    """What CloudFormation receives on success."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


def create(request: Request, numbers: PhoneNumbers) -> Outcome:
    return _assign(request, numbers, parse_properties(request.properties, request.scope))


def update(request: Request, numbers: PhoneNumbers) -> Outcome:
    """In place when the number is the same (after normalising ID vs ARN); otherwise a replacement.

    For a replacement this acts as Create on the new number and returns its ARN; CloudFormation then sends
    Delete for the old physical ID. Rollbacks arrive here as ordinary updates.
    """
    properties = parse_properties(request.properties, request.scope)
    if phone_number_arn_of(request.physical_id, request.scope) != properties.phone_number_arn:
        logger.info(
            "Phone number changed: replacement", extra={"new_phone_number": properties.phone_number_arn}
        )
    return _assign(request, numbers, properties)


def delete(request: Request, numbers: PhoneNumbers) -> Outcome:
    done = Outcome(request.physical_id)
    arn = phone_number_arn_of(request.physical_id, request.scope)
    if arn is None:
        # Not a phone-number ARN: a Create that failed before it touched any number.
        logger.info("Physical ID names no phone number; nothing to delete")
        return done
    state = numbers.describe(arn)
    if state is None:
        logger.info("Phone number no longer exists; nothing to delete")
        return done
    state = numbers.settle(state)
    if not ownership.owns(state.tags, request.owner):
        logger.info("Phone number is not owned by this resource; left alone")
        return done
    if _on_delete(request.properties) is OnDelete.RESTORE:
        state = _restore(request, numbers, state)
    state = numbers.untag(state, ownership.provider_tag_keys(state.tags))
    logger.info("Released ownership of the phone number", extra={"target": state.target_arn})
    return done


def _assign(request: Request, numbers: PhoneNumbers, properties: AssignmentProperties) -> Outcome:
    state = numbers.settle(numbers.describe_existing(properties.phone_number_arn))
    state = ownership.acquire(numbers, state, request.owner)
    # From here the number carries our tags: a failure must keep its ARN as the physical ID, so that the
    # rollback's Delete finds it and undoes what was done.
    try:
        state = _move(request, numbers, state, properties.target.arn)
        state = _converge_contact_flow(numbers, state, properties)
    except ProviderError as error:
        error.physical_id = error.physical_id or state.arn
        raise
    return Outcome(state.arn, _data(state, properties))


def _move(
    request: Request,
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    target_arn: str,
    *,
    target_missing: Callable[[PhoneNumberState, str, str], ProviderError] | None = None,
) -> PhoneNumberState:
    """Bring the number to ``target_arn`` and wait until Connect shows it CLAIMED there.

    ``target_missing`` builds the error for a target Connect says does not exist; by default it blames
    TargetArn.
    """
    token = client_token(
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        request_id=request.request_id,
        phone_number_arn=state.arn,
        target_arn=target_arn,
    )
    while not state.is_claimed_on(target_arn):
        state = numbers.settle(state, physical_id=state.arn)
        if state.is_claimed_on(target_arn):
            break
        state = _drop_own_contact_flow(numbers, state)
        try:
            numbers.start_move(state, target_arn, token)
        except NumberBusy:
            logger.info("Phone number busy with another operation; waiting for it to settle")
            state = numbers.describe_existing(state.arn, physical_id=state.arn)
            continue
        except TargetMissing as missing:
            raise (target_missing or _declared_target_missing)(state, target_arn, str(missing)) from None
        state = _wait_for_move(numbers, state, target_arn)
    return state


def _declared_target_missing(state: PhoneNumberState, target_arn: str, message: str) -> ProviderError:
    return InvalidRequest(
        f"Target {target_arn} was not found when moving {state.label}: Connect said {message}. "
        "Check TargetArn.",
        physical_id=state.arn,
    )


def _wait_for_move(numbers: PhoneNumbers, before: PhoneNumberState, target_arn: str) -> PhoneNumberState:
    metrics.add_metric(name="MovesStarted", unit=MetricUnit.Count, value=1)
    started = time.monotonic()
    logger.info("Move started", extra={"from_target": before.target_arn, "to_target": target_arn})
    try:
        state = numbers.wait_for_move(before, target_arn, physical_id=before.arn)
    except MoveFailed:
        metrics.add_metric(name="MovesFailed", unit=MetricUnit.Count, value=1)
        raise
    seconds = time.monotonic() - started
    metrics.add_metric(name="MovesSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MoveDuration", unit=MetricUnit.Seconds, value=round(seconds, 3))
    logger.info("Move finished", extra={"target": target_arn, "seconds": round(seconds, 3)})
    return state


def _drop_own_contact_flow(numbers: PhoneNumbers, state: PhoneNumberState) -> PhoneNumberState:
    """Before a number leaves an instance, remove the flow association this provider made there."""
    if CONTACT_FLOW_TAG not in state.tags:
        return state
    instance_id = _instance_of_flow_on_current_target(state, state.tags[CONTACT_FLOW_TAG])
    if instance_id:
        numbers.disassociate_flow(state, instance_id)
    return numbers.untag(state, [CONTACT_FLOW_TAG])


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

    def restore_target_gone(state: PhoneNumberState, target_arn: str, message: str) -> ProviderError:
        return RestoreTargetGone(
            f"OnDelete is Restore, but the previous target {target_arn} no longer exists (Connect said "
            f"{message}); {state.phone_number or state.arn} was left on {state.target_arn}. To keep it "
            "there, set OnDelete to Retain (or DeletionPolicy: Retain) and delete again."
        )

    # The flow association this resource made goes with it, whether or not the number has to move.
    recorded_flow = state.tags.get(CONTACT_FLOW_TAG)
    state = _drop_own_contact_flow(numbers, state)
    try:
        return _move(request, numbers, state, previous, target_missing=restore_target_gone)
    except RestoreTargetGone:
        # The Delete fails and the resource stays: so does its routing.
        instance_id = _instance_of_flow_on_current_target(state, recorded_flow or "")
        if recorded_flow and instance_id:
            numbers.associate_flow(state, instance_id, recorded_flow.rsplit("/", 1)[-1], recorded_flow)
            numbers.tag(state, {CONTACT_FLOW_TAG: recorded_flow})
        raise


def _on_delete(properties: Mapping[str, Any]) -> OnDelete:
    """OnDelete as declared; anything unreadable means Retain, the choice that never moves a number."""
    value = properties.get("OnDelete") if isinstance(properties, Mapping) else None
    return OnDelete.RESTORE if value == OnDelete.RESTORE.value else OnDelete.RETAIN


def _instance_of_flow_on_current_target(state: PhoneNumberState, flow_arn: str) -> str | None:
    """The ID of ``flow_arn``'s instance if the number is on that instance now, else None."""
    _, found, rest = flow_arn.partition(":instance/")
    instance_id = rest.split("/", 1)[0] if found else ""
    return instance_id if instance_id and state.target_arn.endswith(f":instance/{instance_id}") else None


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
