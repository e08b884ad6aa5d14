"""Whether another stack's native AWS::Connect::PhoneNumber still manages a number.

CloudFormation tags what it creates with ``aws:cloudformation:stack-id`` and ``logical-id``. A number
claimed by a native AWS::Connect::PhoneNumber keeps those tags, and deleting that stack *releases* the
number (up to 180 days before it can be claimed again). So a number with another stack's tags is only taken
once that stack no longer holds the resource; when that cannot be checked, it is not taken at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .connect import PhoneNumberState
from .errors import (
    ManagedByAnotherStack,
    error_code,
    error_message,
    quote,
    says_stack_or_resource_missing,
)
from .telemetry import logger

STACK_ID_TAG = "aws:cloudformation:stack-id"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
# A resource in one of these states is no longer held by its stack (DELETE_SKIPPED: DeletionPolicy Retain).
RELEASED_BY_STACK = frozenset({"DELETE_COMPLETE", "DELETE_SKIPPED"})


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
        detail = cloudformation().describe_stack_resource(StackName=stack_id, LogicalResourceId=logical_id)
    except ClientError as error:
        if says_stack_or_resource_missing(error):
            logger.info(
                "The stack that created the number no longer holds it; taking it",
                extra={"native_stack_id": stack_id, "native_logical_id": logical_id},
            )
            return
        said = f"CloudFormation said {error_code(error)}: {quote(error_message(error))}"
        raise _unchecked(state, stack_id, logical_id, said) from None
    except BotoCoreError as error:
        said = f"{type(error).__name__}: {quote(str(error))}"
        raise _unchecked(state, stack_id, logical_id, said) from None
    resource = detail.get("StackResourceDetail") or {}
    status = resource.get("ResourceStatus", "")
    physical_id = resource.get("PhysicalResourceId", "")
    if status in RELEASED_BY_STACK or (physical_id and not _names(physical_id, state)):
        logger.info(
            "The stack that created the number no longer manages it; taking it",
            extra={"native_stack_id": stack_id, "native_logical_id": logical_id, "native_status": status},
        )
        return
    raise ManagedByAnotherStack(
        f"Phone number {state.label} is managed by {resource.get('ResourceType') or 'a resource'} "
        f"{logical_id} of stack {stack_id} ({status or 'status unknown'}); deleting that stack would release "
        f"the number. {how_to_hand_over}"
    )


def _names(physical_id: str, state: PhoneNumberState) -> bool:
    """Whether a native resource's physical ID (the number's ARN; its ID is accepted too) is this number."""
    return physical_id in (state.arn, state.id)


def _unchecked(state: PhoneNumberState, stack_id: str, logical_id: str, why: str) -> ManagedByAnotherStack:
    return ManagedByAnotherStack(
        f"Phone number {state.label} carries the CloudFormation tags of {logical_id or 'a resource'} in "
        f"stack {stack_id}, and the provider could not check whether that stack still manages it ({why}). "
        "It is not taken: if that stack still holds it, deleting that stack would release the number. "
        "Check that the provider's role may call cloudformation:DescribeStackResource, then retry."
    )
