"""Whether a stack resource still holds a number, as CloudFormation says.

Two kinds of holder are asked about. A native AWS::Connect::PhoneNumber of another stack: CloudFormation
tags what it creates with ``aws:cloudformation:stack-id`` and ``logical-id``, and deleting that stack
*releases* the number (up to 180 days before it can be claimed again). And the owner this provider recorded:
CloudFormation sends no Delete for a custom resource with DeletionPolicy or UpdateReplacePolicy Retain, so
an owner can outlive its stack resource. Either is only passed over once CloudFormation says the resource
no longer holds the number; when that cannot be checked, the number is not taken at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import retries
from .connect import PhoneNumberState
from .errors import (
    ManagedByAnotherStack,
    OwnerNotChecked,
    ProviderError,
    StackStatusUnknown,
    error_code,
    error_message,
    is_retryable,
    quote,
    says_stack_or_resource_missing,
)
from .tags import Owner
from .telemetry import logger

STACK_ID_TAG = "aws:cloudformation:stack-id"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
# A resource in one of these states is no longer held by its stack (DELETE_SKIPPED: DeletionPolicy Retain).
RELEASED_BY_STACK = frozenset({"DELETE_COMPLETE", "DELETE_SKIPPED"})
# The stack statuses in which CloudFormation sends Deletes to undo an operation that failed: the rollback of a
# stack's creation, of an update, and the update rollback's clean-up of resources the update added or
# replaced (CloudFormation User Guide, "Stack status codes"). Every other Delete is a deliberate deletion.
ROLLING_BACK = frozenset(
    {
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
    }
)


def refuse_if_managed_elsewhere(
    state: PhoneNumberState, own_stack_id: str, cloudformation: Callable[[], Any]
) -> None:
    """Raise ManagedByAnotherStack if another stack's native resource may still manage the number.

    ``cloudformation`` makes the client: only numbers another stack tagged need one (creating it costs
    about 0.1 s of a cold start).
    """
    stack_id = state.tags.get(STACK_ID_TAG)
    logical_id = state.tags.get(LOGICAL_ID_TAG, "")
    if not stack_id or stack_id == own_stack_id:
        return
    how_to_hand_over = (
        f"To hand it over: in that stack set DeletionPolicy: Retain and UpdateReplacePolicy: Retain on "
        f"{logical_id or 'the resource'}, deploy it, remove the resource from that stack and deploy again; "
        "then deploy this stack."
    )
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
    raise ManagedByAnotherStack(
        f"Phone number {state.label} is managed by {resource.get('ResourceType') or 'a resource'} "
        f"{logical_id} of stack {stack_id} ({_status(resource) or 'status unknown'}); deleting that stack "
        f"would release the number. {how_to_hand_over}"
    )


def still_holds(owner: Owner, state: PhoneNumberState, cloudformation: Callable[[], Any]) -> bool:
    """Whether CloudFormation says ``owner``'s stack resource still holds the number.

    It no longer does when the stack or the logical ID is gone, the resource is DELETE_COMPLETE or
    DELETE_SKIPPED (DeletionPolicy: Retain: CloudFormation sends no Delete for it), or its physical ID names
    something else (UpdateReplacePolicy: Retain left this number behind). A resource still being created has
    no physical ID yet and holds the number. Raises OwnerNotChecked when CloudFormation cannot be asked: a
    number is never taken on a guess.
    """
    try:
        resource = _stack_resource(owner, cloudformation)
    except _Unanswered as unanswered:
        raise OwnerNotChecked(
            f"Phone number {state.label} is recorded as assigned by {owner.describe()}, and the provider "
            f"could not ask CloudFormation whether that stack still holds it ({unanswered}). It is not "
            "taken. Check that the provider's role may call cloudformation:DescribeStackResource on that "
            "stack, then retry."
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


def stack_status(stack_id: str, cloudformation: Callable[[], Any]) -> str:
    """The stack's status (UPDATE_IN_PROGRESS, ...); "" when CloudFormation does not answer with one."""
    return stack_operation(stack_id, cloudformation).status


def rolling_back(stack_id: str, cloudformation: Callable[[], Any]) -> bool:
    """Whether the stack is rolling an operation back (so its Deletes undo, whatever OnDelete says).

    Raises StackStatusUnknown when CloudFormation cannot be asked: what a Delete does depends on it, and the
    provider does not guess in the direction that moves a number.
    """
    try:
        operation = _stack_operation(stack_id, cloudformation)
    except _StackMissing:
        return (
            False  # no stack is rolling back: not a request CloudFormation sent for a stack (a hand-made one)
        )
    except _Unanswered as unanswered:
        raise StackStatusUnknown(
            f"The provider could not read the status of stack {stack_id} ({unanswered}), and needs it to "
            "tell a rollback (which puts the number back where it was) from a deletion (which honours "
            "OnDelete); nothing was changed. Check that the provider's role may call "
            "cloudformation:DescribeStacks on that stack, then retry the operation."
        ) from None
    return operation.status in ROLLING_BACK


def _stack_operation(stack_id: str, cloudformation: Callable[[], Any]) -> StackOperation:
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
    stack = stacks[0]
    started = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    return StackOperation(
        stack.get("StackStatus", ""), started.timestamp() if isinstance(started, datetime.datetime) else 0.0
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


class CloudFormationReads(retries.BudgetedClient):
    """The two reads this module makes, retried on throttling within the invocation's budget like every
    other call (retries.py): slowness must not turn "cannot tell" into a refusal while time is left. An
    error not worth retrying (a stack that does not exist, a denied call) comes back as botocore raised
    it, for the functions above to read."""

    service = "cloudformation"

    def describe_stack_resource(self, **params: Any) -> dict[str, Any]:
        return self._retried(
            "DescribeStackResource", f"asking CloudFormation about {params}", params, _as_raised
        )

    def describe_stacks(self, **params: Any) -> dict[str, Any]:
        return self._retried("DescribeStacks", f"reading stack {params}", params, _as_raised)


def _as_raised(error: ClientError) -> Exception | None:
    return None if is_retryable(error) else error


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
