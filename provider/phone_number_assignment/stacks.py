"""Whether a stack resource still holds a number, as CloudFormation says.

Two kinds of holder are asked about. A native AWS::Connect::PhoneNumber, of any stack (this one included):
deleting its stack, or replacing the resource, *releases* the number (up to 180 days before it can be
claimed again). CloudFormation is asked which stack resource has the number's ARN as its physical ID (the
native type's physical ID is the number's ARN): the native handler passes only the template's tags to
ClaimPhoneNumber and Connect refuses ``aws:`` tag keys, so such a number need carry no trace of its stack.
CloudFormation's ``aws:cloudformation:*`` tags stay a second signal, for numbers that carry them. And the
owner this provider recorded: CloudFormation sends no Delete for a custom resource with DeletionPolicy or
UpdateReplacePolicy Retain, so an owner can outlive its stack resource. Either is only passed over once
CloudFormation says the resource no longer holds the number; when that cannot be checked, the number is not
taken at all.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import (
    ManagedByAnotherStack,
    OwnerNotChecked,
    ProviderError,
    StackStatusUnknown,
    error_code,
    error_message,
    quote,
    says_stack_or_resource_missing,
)
from .tags import Owner

if TYPE_CHECKING:
    from .connect import PhoneNumberState

# Standard library logging, so that tools/ can import this module without Powertools; in the Lambda,
# Powertools' Logger formats these lines too.
logger = logging.getLogger(__name__)

STACK_ID_TAG = "aws:cloudformation:stack-id"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
# A resource in one of these states is no longer held by its stack (DELETE_SKIPPED: DeletionPolicy Retain).
RELEASED_BY_STACK = frozenset({"DELETE_COMPLETE", "DELETE_SKIPPED"})
# A replacement's old physical resource is only let go once the update can no longer roll back (the clean-up
# that follows UPDATE_COMPLETE_CLEANUP_IN_PROGRESS deletes it); until then a rollback returns to it.
REPLACEMENT_NOT_COMMITTED = frozenset(
    {
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    }
)
# The stack statuses in which CloudFormation sends Deletes to undo an operation that failed: the rollback of a
# stack's creation, of an update, and the update rollback's clean-up of resources the update added or
# replaced (CloudFormation User Guide, "Stack status codes"). A stack being deleted is rolled back too in the
# two cases below; every other Delete is a deliberate deletion.
ROLLING_BACK = frozenset(
    {
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
    }
)
# A nested stack's own status does not say it is being rolled back: CloudFormation *deletes* a nested stack
# its parent added in an operation that fails, so the child shows DELETE_IN_PROGRESS while an ancestor
# (ParentId, up to RootId) shows one of ROLLING_BACK. Likewise a stack created with OnFailure=DELETE
# (OnStackFailure=DELETE, `sam deploy --on-failure DELETE`) is deleted after its creation failed: its events
# show the stack's CREATE_FAILED right before its DELETE_IN_PROGRESS ("Stack status codes"; the sequence is
# inferred, docs/reliability.md's assumptions).
DELETING = "DELETE_IN_PROGRESS"
CREATION_FAILED = "CREATE_FAILED"
STACK_TYPE = "AWS::CloudFormation::Stack"
# Nesting deeper than this is taken for an answer that cannot be right (a loop of ParentIds): unanswered.
MAX_ANCESTORS = 20
NATIVE_RESOURCE_TYPE = "AWS::Connect::PhoneNumber"
# DescribeStackResources shows "only the first 100 resources" of a stack (CloudFormation API reference).
DESCRIBED_RESOURCES_LIMIT = 100


def refuse_if_managed_elsewhere(
    state: PhoneNumberState, own_stack_id: str, cloudformation: Callable[[], Any]
) -> None:
    """Raise ManagedByAnotherStack if a native AWS::Connect::PhoneNumber may still manage the number.

    One DescribeStackResources by physical ID; a second read (DescribeStackResource) only for a number whose
    ``aws:cloudformation:*`` tags name a resource that answer did not cover. ``cloudformation`` makes the
    client (creating it costs about 0.1 s of a cold start: callers ask only for numbers not already theirs).
    """
    native = _native_holder(state, cloudformation)
    if native is not None:
        if _status(native) not in RELEASED_BY_STACK:
            raise _managed(state, native, own_stack_id)
        logger.info(
            "The native resource that claimed the number no longer holds it",
            extra={"native_stack_id": native.get("StackId"), "native_status": _status(native)},
        )
    stack_id = state.tags.get(STACK_ID_TAG)
    logical_id = state.tags.get(LOGICAL_ID_TAG, "")
    if not stack_id:
        return
    if native is not None and (native.get("StackId"), native.get("LogicalResourceId")) == (
        stack_id,
        logical_id,
    ):
        return  # the same resource, answered for already
    try:
        resource = _stack_resource(Owner(stack_id, logical_id), cloudformation)
    except _Unanswered as unanswered:
        raise ManagedByAnotherStack(
            f"Phone number {state.label} carries the CloudFormation tags of {logical_id or 'a resource'} in "
            f"stack {stack_id}, and the provider could not check whether that stack still manages it "
            f"({unanswered}). It is not taken: if that stack still holds it, deleting that stack would "
            "release the number. Check that the provider's role may call "
            "cloudformation:DescribeStackResource, then retry."
        ) from None
    if not _holds(resource, state):
        logger.info(
            "The stack that created the number no longer manages it; taking it",
            extra={
                "native_stack_id": stack_id,
                "native_logical_id": logical_id,
                "native_status": _status(resource),
            },
        )
        return
    raise _managed(
        state, {**(resource or {}), "StackId": stack_id, "LogicalResourceId": logical_id}, own_stack_id
    )


def _managed(state: PhoneNumberState, resource: dict[str, Any], own_stack_id: str) -> ManagedByAnotherStack:
    stack_id = resource.get("StackId") or resource.get("StackName") or "unknown"
    logical_id = resource.get("LogicalResourceId") or "the resource"
    resource_type = resource.get("ResourceType") or "a resource"
    where = "this stack" if stack_id == own_stack_id else f"stack {stack_id}"
    status = _status(resource) or "status unknown"
    if stack_id == own_stack_id:
        advice = (
            f"Set the TargetArn of {logical_id} instead of declaring an assignment for its number, or "
            "hand the number over: set DeletionPolicy: RetainExceptOnCreate and UpdateReplacePolicy: "
            f"Retain on {logical_id}, deploy, remove it from the template and deploy again, then declare "
            "the assignment."
        )
    else:
        advice = (
            "To hand it over: in that stack set DeletionPolicy: RetainExceptOnCreate and "
            f"UpdateReplacePolicy: Retain on {logical_id}, deploy it, remove the resource from that stack "
            "and deploy again; then deploy this stack."
        )
    return ManagedByAnotherStack(
        f"Phone number {state.label} is managed by {resource_type} {logical_id} of {where} ({status}); "
        f"deleting that stack or replacing that resource would release the number, so it is not moved. "
        f"{advice}"
    )


def _native_holder(state: PhoneNumberState, cloudformation: Callable[[], Any]) -> dict[str, Any] | None:
    """The AWS::Connect::PhoneNumber CloudFormation names as holding the number's ARN, live or not; None
    when CloudFormation says no stack resource has it as its physical ID, or only other types do.

    DescribeStackResources(PhysicalResourceId=) answers with the resources of the stack "that the resource
    belongs to" (the first 100; running stacks and, for 90 days, deleted ones), so the answer is filtered on
    the physical ID here. No stack: ValidationError "... does not exist". When the answer is cut at 100 and
    the number is not among those shown, the stack named is read in full: a deleted stack's resources hold
    nothing (DescribeStacks by stack ID: DELETE_COMPLETE), otherwise ListStackResources is paged. Raises
    ManagedByAnotherStack when CloudFormation cannot be asked.
    """
    try:
        answer = cloudformation().describe_stack_resources(PhysicalResourceId=state.arn)
    except ClientError as error:
        if says_stack_or_resource_missing(error):
            return None
        said = f"CloudFormation said {error_code(error)}: {quote(error_message(error))}"
        raise _not_asked(state, said) from None
    except BotoCoreError as error:
        raise _not_asked(state, f"{type(error).__name__}: {quote(str(error))}") from None
    except ProviderError as error:  # throttled (or unreachable) until the time budget ran out
        raise _not_asked(state, error.reason) from None
    resources = answer.get("StackResources") or []
    holders = [r for r in resources if _names(r.get("PhysicalResourceId", ""), state)]
    if not holders and len(resources) >= DESCRIBED_RESOURCES_LIMIT:
        holders = holders_beyond_the_first_100(state, resources[0], cloudformation)
    natives = [r for r in holders if r.get("ResourceType") == NATIVE_RESOURCE_TYPE]
    # A live holder before one that no longer holds the number.
    natives.sort(key=lambda r: _status(r) in RELEASED_BY_STACK)
    return natives[0] if natives else None


def holders_beyond_the_first_100(
    state: PhoneNumberState, shown: dict[str, Any], cloudformation: Callable[[], Any]
) -> list[dict[str, Any]]:
    """The resources with the number's ARN in the whole stack DescribeStackResources named (its answer
    showed only the first 100), as DescribeStackResources would show them."""
    stack_id = shown.get("StackId") or shown.get("StackName") or ""
    try:
        if _read_stack(stack_id, cloudformation).get("StackStatus") == "DELETE_COMPLETE":
            logger.info("The stack named for the number is deleted: none of its resources holds it")
            return []
        found = []
        # By keyword, as boto3 names it: the tools pass clients that wrap every method with keywords only.
        listing = cloudformation().get_paginator(operation_name="list_stack_resources")
        for page in _pages(lambda: listing.paginate(StackName=stack_id)):
            for summary in page.get("StackResourceSummaries") or []:
                if _names(summary.get("PhysicalResourceId", ""), state):
                    found.append({**summary, "StackId": stack_id, "StackName": shown.get("StackName", "")})
        return found
    except _StackMissing:
        return []
    except _Unanswered as unanswered:
        raise ManagedByAnotherStack(
            f"CloudFormation names {stack_id or 'a stack'} as the stack holding phone number {state.label}; "
            f"it has more than {DESCRIBED_RESOURCES_LIMIT} resources, so the provider reads them all "
            f"with ListStackResources, and could not ({unanswered}). It is not taken: if an "
            f"{NATIVE_RESOURCE_TYPE} there holds it, deleting that stack would release it. Check that the "
            "provider's role may call cloudformation:ListStackResources and cloudformation:DescribeStacks, "
            "then retry."
        ) from None


def _not_asked(state: PhoneNumberState, unanswered: str) -> ManagedByAnotherStack:
    assigned = Owner.from_tags(state.tags)
    said = f" Its tags say {assigned.describe()} assigned it." if assigned is not None else ""
    return ManagedByAnotherStack(
        f"The provider could not ask CloudFormation which stack holds phone number {state.label} "
        f"({unanswered}).{said} It is not taken: if an {NATIVE_RESOURCE_TYPE} of some stack holds it, "
        "deleting that stack would release the number. Check that the provider's role may call "
        "cloudformation:DescribeStackResources (no stack named: it is asked by the number's ARN), then retry."
    )


def still_holds(owner: Owner, state: PhoneNumberState, cloudformation: Callable[[], Any]) -> bool:
    """Whether CloudFormation says ``owner``'s stack resource still holds the number.

    It no longer does when the stack or the logical ID is gone, the resource is DELETE_COMPLETE or
    DELETE_SKIPPED (DeletionPolicy: Retain: CloudFormation sends no Delete for it), or its physical ID names
    something else (UpdateReplacePolicy: Retain left this number behind) once the update that replaced it can
    no longer roll back: while the stack is still UPDATE_IN_PROGRESS (or rolling back), a rollback would
    return the resource to this number, so it still holds it. A resource still being created has no physical
    ID yet and holds the number. A nested stack's update commits only with its root's: while any ancestor
    can still roll back (one of REPLACEMENT_NOT_COMMITTED, the child itself waiting in
    UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), the replaced number is still held. Raises OwnerNotChecked when
    CloudFormation cannot be asked: a number is never taken on a guess.
    """
    try:
        resource = _stack_resource(owner, cloudformation)
        if resource is not None and _replaced(resource, state):
            return _may_still_roll_back(owner.stack_id, cloudformation)
    except _StackMissing:
        return False
    except _Unanswered as unanswered:
        raise OwnerNotChecked(
            f"Phone number {state.label} is recorded as assigned by {owner.describe()}, and the provider "
            f"could not ask CloudFormation whether that stack still holds it ({unanswered}). It is not "
            "taken. Check that the provider's role may call cloudformation:DescribeStackResource and "
            "cloudformation:DescribeStacks on that stack (and its parent stacks), then retry."
        ) from None
    return _holds(resource, state)


@dataclass(frozen=True)
class StackOperation:
    """The stack's status and when its current (or latest) operation started, as DescribeStacks says."""

    status: str
    # LastUpdatedTime (set when an update starts), else CreationTime; epoch seconds, 0 when unknown.
    started_at: float = 0.0


def stack_operation(stack_id: str, cloudformation: Callable[[], Any]) -> StackOperation:
    """The stack's operation; status "" when CloudFormation does not answer with one."""
    try:
        return _stack_operation(stack_id, cloudformation)
    except _Unanswered as error:
        logger.warning("Could not read the stack's status", extra={"error": str(error)[:300]})
        return StackOperation("")


def rolling_back(stack_id: str, cloudformation: Callable[[], Any]) -> bool:
    """Whether CloudFormation's Deletes for this stack undo an operation that failed (so they put numbers
    back, whatever OnDelete says): the stack rolling back; or the stack being deleted (DELETE_IN_PROGRESS)
    by an ancestor's rollback (a parent deletes the nested stacks it added in an operation that fails), or
    right after its own (or an ancestor's) creation failed (OnFailure=DELETE). The ancestors are read only
    for a stack being deleted: in any other status the stack's own says it all (a nested stack rolled back
    with its root shows a rollback status itself; one cleaning up a committed update is not rolling back).

    Raises StackStatusUnknown when CloudFormation cannot be asked: what a Delete does depends on it, and the
    provider does not guess in the direction that moves a number.
    """
    try:
        stack = _read_stack(stack_id, cloudformation)
        if _status_of(stack) != DELETING:
            return _status_of(stack) in ROLLING_BACK
        for ancestor in _lineage(stack_id, cloudformation, first=stack, stop=_undoing):
            status = _status_of(ancestor)
            if status in ROLLING_BACK:
                logger.info(
                    "An ancestor stack is rolling back: this Delete is part of its rollback",
                    extra={"ancestor_stack_id": ancestor.get("StackId"), "ancestor_status": status},
                )
                return True
            if status == DELETING and _deleted_after_failed_creation(ancestor, cloudformation):
                logger.info(
                    "The stack is being deleted because its creation failed: this Delete is a rollback",
                    extra={"deleted_stack_id": ancestor.get("StackId")},
                )
                return True
    except _StackMissing:
        # no stack is rolling back: not a request CloudFormation sent for a stack (a hand-made one)
        return False
    except _Unanswered as unanswered:
        raise StackStatusUnknown(
            f"The provider could not read the status of stack {stack_id} ({unanswered}), and needs it to "
            "tell a rollback (which puts the number back where it was) from a deletion (which honours "
            "OnDelete); nothing was changed. Check that the provider's role may call "
            "cloudformation:DescribeStacks and cloudformation:DescribeStackEvents on that stack and its "
            "parent stacks, then retry the operation."
        ) from None
    return False


def _undoing(stack: dict[str, Any]) -> bool:
    return _status_of(stack) in ROLLING_BACK


def _may_still_roll_back(stack_id: str, cloudformation: Callable[[], Any]) -> bool:
    """Whether the update that replaced a resource of this stack can still roll back: the stack, or any
    ancestor (a nested stack's update commits with its root's), in one of REPLACEMENT_NOT_COMMITTED."""
    return any(
        _status_of(stack) in REPLACEMENT_NOT_COMMITTED
        for stack in _lineage(
            stack_id, cloudformation, stop=lambda stack: _status_of(stack) in REPLACEMENT_NOT_COMMITTED
        )
    )


def _lineage(
    stack_id: str,
    cloudformation: Callable[[], Any],
    *,
    stop: Callable[[dict[str, Any]], bool],
    first: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """The stack (``first``, when already read), then its parent, up to its root (DescribeStacks' ParentId),
    each read when reached; a stack ``stop`` accepts ends the walk (the caller has its answer). Raises
    _StackMissing when the stack itself does not exist; an ancestor that no longer does ends the walk."""
    stack = first if first is not None else _read_stack(stack_id, cloudformation)
    seen = {stack_id}
    while True:
        yield stack
        parent_id = stack.get("ParentId")
        if stop(stack) or not parent_id:
            return
        if parent_id in seen or len(seen) > MAX_ANCESTORS:
            raise _Unanswered(f"DescribeStacks' ParentId of {stack_id} leads to a loop or a chain too long")
        seen.add(parent_id)
        try:
            stack = _read_stack(parent_id, cloudformation)
        except _StackMissing:
            return


def _deleted_after_failed_creation(stack: dict[str, Any], cloudformation: Callable[[], Any]) -> bool:
    """Whether the stack (DELETE_IN_PROGRESS, as DescribeStacks said) is being deleted right after its
    creation failed: the deletion OnFailure=DELETE makes. Its own events, newest first, are read back past
    this deletion and any earlier attempt at it (DELETE_*) to what the stack did before: CREATE_FAILED, or a
    CREATE_COMPLETE, UPDATE_COMPLETE, ... (a deliberate deletion). Events of its resources are passed over.
    A stack being deleted is never updated again, so the answer is kept for this container's later Deletes
    of the same stack (each would read up to a page of events per hundred resources deleted so far)."""
    stack_id = stack.get("StackId", "")
    known = _FAILED_CREATIONS.get(stack_id)
    if known is not None:
        return known
    verdict = False
    events = cloudformation().get_paginator(operation_name="describe_stack_events")  # newest first
    for page in _pages(lambda: events.paginate(StackName=stack_id)):
        before = next(
            (
                event.get("ResourceStatus", "")
                for event in page.get("StackEvents") or []
                if event.get("ResourceType") == STACK_TYPE
                and event.get("PhysicalResourceId") == stack_id
                and not event.get("ResourceStatus", "").startswith("DELETE_")
            ),
            None,
        )
        if before is not None:
            verdict = before == CREATION_FAILED
            break
    if len(_FAILED_CREATIONS) >= _REMEMBERED_DELETIONS:
        _FAILED_CREATIONS.pop(next(iter(_FAILED_CREATIONS)))
    _FAILED_CREATIONS[stack_id] = verdict
    return verdict


# Stack ID -> whether its deletion follows a failed creation (see _deleted_after_failed_creation).
_FAILED_CREATIONS: dict[str, bool] = {}
_REMEMBERED_DELETIONS = 64


def _pages(pages: Callable[[], Any]) -> Iterator[dict[str, Any]]:
    """A paginator's pages, CloudFormation's errors raised as _Unanswered."""
    try:
        yield from pages()
    except ClientError as error:
        raise _Unanswered(f"CloudFormation said {error_code(error)}: {quote(error_message(error))}") from None
    except BotoCoreError as error:
        raise _Unanswered(f"{type(error).__name__}: {quote(str(error))}") from None
    except ProviderError as error:
        raise _Unanswered(error.reason) from None


def _status_of(stack: dict[str, Any]) -> str:
    return stack.get("StackStatus", "")


def _read_stack(stack_id: str, cloudformation: Callable[[], Any]) -> dict[str, Any]:
    """DescribeStacks' answer for one stack. Raises _StackMissing or _Unanswered."""
    try:
        stacks = cloudformation().describe_stacks(StackName=stack_id).get("Stacks") or []
    except ClientError as error:
        if says_stack_or_resource_missing(error):
            raise _StackMissing(error_message(error)) from None
        raise _Unanswered(f"CloudFormation said {error_code(error)}: {quote(error_message(error))}") from None
    except BotoCoreError as error:
        raise _Unanswered(f"{type(error).__name__}: {quote(str(error))}") from None
    except ProviderError as error:
        raise _Unanswered(error.reason) from None
    if not stacks:
        raise _Unanswered("DescribeStacks named no stack")
    return stacks[0]


def _stack_operation(stack_id: str, cloudformation: Callable[[], Any]) -> StackOperation:
    stack = _read_stack(stack_id, cloudformation)
    started = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    return StackOperation(
        _status_of(stack), started.timestamp() if isinstance(started, datetime.datetime) else 0.0
    )


class _Unanswered(Exception):
    """CloudFormation could not be asked; the message says what it said."""


class _StackMissing(_Unanswered):
    """CloudFormation says the stack does not exist."""


def _stack_resource(owner: Owner, cloudformation: Callable[[], Any]) -> dict[str, Any] | None:
    """DescribeStackResource's detail, or None when the stack or the logical ID does not exist."""
    try:
        detail = cloudformation().describe_stack_resource(
            StackName=owner.stack_id, LogicalResourceId=owner.logical_id
        )
    except ClientError as error:
        if says_stack_or_resource_missing(error):
            return None
        raise _Unanswered(f"CloudFormation said {error_code(error)}: {quote(error_message(error))}") from None
    except BotoCoreError as error:
        raise _Unanswered(f"{type(error).__name__}: {quote(str(error))}") from None
    except ProviderError as error:  # throttled (or unreachable) until the time budget ran out
        raise _Unanswered(error.reason) from None
    return detail.get("StackResourceDetail") or {}


def _replaced(resource: dict[str, Any], state: PhoneNumberState) -> bool:
    """The resource is live but its physical ID now names another number (a replacement)."""
    physical_id = resource.get("PhysicalResourceId", "")
    return bool(physical_id) and not _names(physical_id, state) and _status(resource) not in RELEASED_BY_STACK


def _holds(resource: dict[str, Any] | None, state: PhoneNumberState) -> bool:
    if resource is None:
        return False
    physical_id = resource.get("PhysicalResourceId", "")
    return _status(resource) not in RELEASED_BY_STACK and not (physical_id and not _names(physical_id, state))


def _status(resource: dict[str, Any] | None) -> str:
    return (resource or {}).get("ResourceStatus", "")


def _names(physical_id: str, state: PhoneNumberState) -> bool:
    """Whether a resource's physical ID (the number's ARN; its ID is accepted too) is this number."""
    return physical_id in (state.arn, state.id)
