"""Bringing a number to a target and watching the move through; its tags and its routing (the flow
association) on the way. The executors of the lifecycle and of giving a number back share these."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from . import ownership, rule, stacks, tags
from .client_token import client_token
from .connect import PhoneNumbers, PhoneNumberState
from .errors import (
    ConnectBusy,
    ConnectNotFound,
    MoveFailed,
    OwnerNotChecked,
    ProviderError,
    RestoreTargetGone,
    TargetNotActive,
    quote,
)
from .properties import AssignmentProperties
from .records import (
    Predecessor,
    Record,
    State,
)
from .request import Request, Services
from .tags import CONTACT_FLOW_TAG, Owner
from .telemetry import logger, metrics


def bring_back(
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
    return restore_to(request, services, state, target_arn, record=record)


def move(
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
    services: Services, state: PhoneNumberState, record: Record | None, requester: rule.Requester
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


def group_not_active(
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
        associate_recorded(numbers, state, flow_arn)
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


def converge_contact_flow(
    numbers: PhoneNumbers, state: PhoneNumberState, properties: AssignmentProperties
) -> PhoneNumberState:
    """Associate the declared flow. Associated on every Create and Update (not only when the declaration
    changed), so an update also repairs an association someone changed by hand. A flow no longer declared is
    no longer managed (its tag goes, in write_tags), but calls keep routing where they route."""
    flow = properties.contact_flow
    if flow is not None:
        numbers.associate_flow(state, flow.instance_id, flow.id, flow.arn)
    return state


def associate_recorded(numbers: PhoneNumbers, state: PhoneNumberState, flow_arn: str) -> None:
    """Associate a flow the provider recorded, if the number is in that flow's instance."""
    instance_id = instance_of(flow_arn)
    if state.instance_id != instance_id:
        logger.warning(
            "The recorded flow is not in the number's instance; not associated",
            extra={"flow": flow_arn, "number_instance": state.instance_id},
        )
    else:
        numbers.associate_flow(state, instance_id, flow_arn.rsplit("/", 1)[-1], flow_arn)


def restore_to(
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
        state, _ = move(request, services, state, previous, record, putting_back=True)
        return state
    except ConnectNotFound as missing:
        raise group_not_active(
            numbers,
            state,
            previous,
            if_deleted="set OnDelete to Retain (or DeletionPolicy: RetainExceptOnCreate) to keep the number "
            "where it is, and delete again.",
        ) or RestoreTargetGone(
            f"OnDelete is Restore, but the previous target {previous} no longer exists (Connect said "
            f"{quote(str(missing))}); {state.phone_number or state.arn} was left on {state.target_arn}. To "
            "keep it there, set OnDelete to Retain (or DeletionPolicy: RetainExceptOnCreate) and delete "
            "again."
        ) from None


def drop_own_contact_flow(numbers: PhoneNumbers, state: PhoneNumberState) -> PhoneNumberState:
    """Not moving: the flow association this resource made goes explicitly."""
    flow_arn = state.tags.get(CONTACT_FLOW_TAG)
    if not flow_arn:
        return state
    instance_id = instance_of(flow_arn)
    if instance_id and state.instance_id == instance_id:
        numbers.disassociate_flow(state, instance_id)
    return numbers.untag(state, [CONTACT_FLOW_TAG])


def write_tags(
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


def untag_own(numbers: PhoneNumbers, state: PhoneNumberState | None, owner: Owner) -> None:
    """Remove the provider's tags if they name ``owner``; tags naming anyone else stay."""
    if state is not None and tags.owns(state.tags, owner):
        numbers.untag(state, tags.provider_tag_keys(state.tags))


def instance_of(flow_arn: str) -> str:
    """The instance ID in a contact-flow ARN."""
    _, found, rest = flow_arn.partition(":instance/")
    return rest.split("/", 1)[0] if found else ""


def predecessor_holds(services: Services, state: PhoneNumberState, predecessor: Predecessor) -> bool:
    """Whether the rename's old resource still declares the number (the stack operation rolled back). When
    CloudFormation cannot be asked, it is assumed to: handing the number back moves it least."""
    try:
        return stacks.still_holds(predecessor.owner, state, services.cloudformation)
    except OwnerNotChecked:
        return True
