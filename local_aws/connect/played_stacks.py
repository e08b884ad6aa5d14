"""What CloudFormation says about the stacks the local CloudFormation stand-in plays (local_aws.stack).

The provider asks CloudFormation which stack resource holds a number (DescribeStackResources by physical
ID; ListStackResources when that answer is cut at 100), whether the stack resource recorded as a number's
owner still holds it (DescribeStackResource), whether its own stack is being updated (DescribeStacks:
renames) and whether a Delete undoes a failed operation (DescribeStacks of the stack and its ancestors, by
ParentId; DescribeStackEvents: a deletion after a failed creation, OnFailure=DELETE). Those stacks
are played by ``local_aws.stack.CustomResourceStack``, which sends the events; moto never saw them. So the
stand-in tells the emulator what real CloudFormation would know (each resource's status and physical ID, the
stack's status) through the control API, and moto's CloudFormation answers from that for those stacks, in
the shapes and with the errors real CloudFormation uses. Stacks moto created itself (native numbers) are
answered by moto as before.

The record hangs off moto's CloudFormation backend, so moto's own reset forgets it.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from moto.cloudformation import models as cfn_models
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.core.responses import ActionResult

from .runtime import runtime

# "Only the first 100 resources will be returned" (DescribeStackResources, CloudFormation API reference).
DESCRIBED_RESOURCES_LIMIT = 100
# ListStackResources and DescribeStackEvents page with NextToken; their page size is not documented. The
# emulator pages at this size, so a caller that reads only the first page misses what a stack of more has.
PAGE_SIZE = 100
STACK_TYPE = "AWS::CloudFormation::Stack"

_lock = threading.Lock()


@dataclass
class PlayedResource:
    logical_resource_id: str
    physical_resource_id: str
    resource_status: str
    cf_resource_type: str = "Custom::PhoneNumberAssignment"


@dataclass
class PlayedEvent:
    """One stack event, with the attribute names moto's serializer reads (DescribeStackEvents' StackEvent)."""

    stack_id: str
    stack_name: str
    logical_resource_id: str
    physical_resource_id: str
    resource_type: str
    resource_status: str
    timestamp: datetime.datetime
    event_id: str
    resource_status_reason: str | None = None


@dataclass
class PlayedStack:
    """Attribute names are those moto's serializer reads from its own Stack."""

    stack_id: str
    name: str
    status: str
    resources: dict[str, PlayedResource] = field(default_factory=dict)
    creation_time: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    output_map: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    timeout_in_mins: int | None = None
    enable_termination_protection: bool = False
    # When the stack's latest update started (DescribeStacks' LastUpdatedTime: "only returned if the stack
    # has been updated at least once"); the provider tells a rename from a duplicate of the same update by it.
    last_updated_time: datetime.datetime | None = None
    # A nested stack's parent and root (DescribeStacks' ParentId and RootId; neither for a root stack).
    parent_id: str | None = None
    root_id: str | None = None
    # Every status change of the stack and its resources, oldest first (DescribeStackEvents answers newest
    # first).
    events: list[PlayedEvent] = field(default_factory=list)

    def record_event(self, logical_id: str, physical_id: str, resource_type: str, status: str) -> None:
        self.events.append(
            PlayedEvent(
                self.stack_id,
                self.name,
                logical_id,
                physical_id,
                resource_type,
                status,
                _now(),
                f"{logical_id}-{status}-{len(self.events)}",
            )
        )

    @property
    def stack_resources(self) -> list[PlayedResource]:
        return list(self.resources.values())


def _played(backend: Any) -> dict[str, PlayedStack]:
    if not hasattr(backend, "played_stacks"):
        backend.played_stacks = {}
    return backend.played_stacks


def _backend_of(stack_id: str) -> Any:
    # arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
    parts = stack_id.split(":")
    return cfn_models.cloudformation_backends[parts[4]][parts[3]]


def play(
    stack_id: str,
    *,
    stack_status: str | None = None,
    logical_id: str | None = None,
    resource_status: str | None = None,
    physical_id: str | None = None,
    resource_type: str | None = None,
    parent_id: str | None = None,
) -> None:
    """Record what CloudFormation knows about a played stack (and its parent stack, for a nested one), or one
    of its resources (a Custom::PhoneNumberAssignment unless ``resource_type`` says otherwise). Each change
    of a status is also a stack event, as CloudFormation records one."""
    with _lock:
        stacks = _played(_backend_of(stack_id))
        name = stack_id.split("/")[1]
        stack = stacks.get(stack_id)
        if stack is None:
            stack = stacks[stack_id] = PlayedStack(
                stack_id, name, stack_status or "CREATE_IN_PROGRESS", creation_time=_now()
            )
            stack.record_event(name, stack_id, STACK_TYPE, stack.status)
        if parent_id:
            parent = stacks.get(parent_id)
            stack.parent_id = parent_id
            # "For nested stacks--stacks created as resources for another stack--the stack ID of the
            # top-level stack to which the nested stack ultimately belongs" (Stack.RootId).
            stack.root_id = (parent.root_id if parent is not None else None) or parent_id
        if stack_status:
            if stack_status == "UPDATE_IN_PROGRESS" and stack.status != stack_status:
                stack.last_updated_time = _now()
            if stack.status != stack_status:
                stack.record_event(name, stack_id, STACK_TYPE, stack_status)
            stack.status = stack_status
        if logical_id is not None:
            resource = stack.resources.get(logical_id)
            if resource is None:
                resource = stack.resources[logical_id] = PlayedResource(logical_id, "", "CREATE_IN_PROGRESS")
                changed = True
            else:
                changed = bool(resource_status) and resource.resource_status != resource_status
            if resource_status:
                resource.resource_status = resource_status
            if physical_id is not None:
                resource.physical_resource_id = physical_id
            if resource_type is not None:
                resource.cf_resource_type = resource_type
            if changed:
                stack.record_event(
                    logical_id,
                    resource.physical_resource_id,
                    resource.cf_resource_type,
                    resource.resource_status,
                )


def _stack_holding(backend: Any, physical_id: str) -> Any:
    """The stack CloudFormation names for a physical ID, or None.

    The API reference says the answer is "the associated resources of the stack that the resource belongs
    to", for running stacks and deleted ones (90 days). Which stack it names when several resources share
    the physical ID is not documented (one is shown: cloudformation-coverage-roadmap issue 998). The
    harsher reading for a caller looking for a native AWS::Connect::PhoneNumber is taken: stacks the local
    stand-in plays (this provider's custom resources) before moto's own (native numbers), running stacks
    before deleted ones.
    """
    candidates = [
        *_played(backend).values(),
        *backend.stacks.values(),
        *backend.deleted_stacks.values(),
    ]
    for stack in candidates:
        for resource in stack.stack_resources:
            if getattr(resource, "physical_resource_id", None) == physical_id:
                return stack
    return None


def describe_stack_resources(response: Any) -> ActionResult:
    """DescribeStackResources as the API reference describes it: StackName or PhysicalResourceId, not both
    (ValidationError) and not neither; LogicalResourceId filters; at most the first 100 resources. A
    physical ID no stack resource has: ValidationError "Stack for <id> does not exist" (the message is
    inferred, docs/reliability.md; the provider reads only the code and "does not exist")."""
    backend = response.cloudformation_backend
    stack_name = response._get_param("StackName")
    physical_id = response._get_param("PhysicalResourceId")
    logical_id = response._get_param("LogicalResourceId")
    if stack_name and physical_id:
        raise ValidationError(stack_name, "You cannot specify both StackName and PhysicalResourceId")
    if not stack_name and not physical_id:
        raise ValidationError("", "Either StackName or PhysicalResourceId must be specified")
    with _lock:
        if physical_id:
            stack = _stack_holding(backend, physical_id)
            if stack is None:
                raise ValidationError(physical_id, f"Stack for {physical_id} does not exist")
            resources = list(stack.stack_resources)
        else:
            stack = _played(backend).get(stack_name)
            if stack is not None:
                resources = stack.stack_resources
            else:
                stack, resources = backend.describe_stack_resources(stack_name, None)
            resources = list(resources)
    if logical_id is not None:
        resources = [r for r in resources if getattr(r, "logical_resource_id", None) == logical_id]
    # Looked up at call time: native.py installs a DTO that reports each deleted resource's own status.
    dto = cfn_responses.StackResourceDTO
    return ActionResult({"StackResources": [dto(stack, r) for r in resources[:DESCRIBED_RESOURCES_LIMIT]]})


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    end = start + PAGE_SIZE
    return items[start:end], (str(end) if end < len(items) else None)


def list_stack_resources(response: Any) -> ActionResult:
    """ListStackResources with each resource's own status (moto says CREATE_COMPLETE for every one), for
    played stacks and moto's own, paged with NextToken; a deleted stack by stack ID still answers (90
    days)."""
    backend = response.cloudformation_backend
    stack_name = response._get_param("StackName")
    with _lock:
        stack = _played(backend).get(stack_name)
        if stack is None:
            stack, resources = backend.list_stack_resources(stack_name)
        else:
            resources = stack.stack_resources
        dto = cfn_responses.StackResourceDTO
        summaries = [
            {
                "LogicalResourceId": described.logical_resource_id,
                "PhysicalResourceId": described.physical_resource_id or "",
                "ResourceType": described.resource_type,
                "ResourceStatus": getattr(resource, "resource_status", None) or described.resource_status,
                "LastUpdatedTimestamp": stack.creation_time,
            }
            for resource in resources
            for described in [dto(stack, resource)]
        ]
    page, next_token = _page(summaries, response._get_param("NextToken"))
    result: dict[str, Any] = {"StackResourceSummaries": page}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def describe_stack_events(response: Any) -> ActionResult:
    """DescribeStackEvents for played stacks: "in reverse chronological order", paged with NextToken."""
    backend = response.cloudformation_backend
    stack_name = response._get_param("StackName")
    with _lock:
        stack = _played(backend).get(stack_name)
        events = list(reversed(stack.events)) if stack is not None else None
    if events is None:
        return _original_describe_stack_events(response)
    page, next_token = _page(events, response._get_param("NextToken"))
    result: dict[str, Any] = {"StackEvents": page}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


_original_describe_stack_events: Any = None


def _now() -> datetime.datetime:
    """The service's time: the emulator's clock (a VirtualClock in tests), which the provider shares."""
    return datetime.datetime.fromtimestamp(runtime.clock.time(), datetime.UTC)


class InjectedError(CloudFormationError):
    """An answer a test asked for (inject): Throttling, as CloudFormation's Query API answers a rate limit."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# action -> [(code, message), ...]: the next calls of the action answer these, one each.
_injected: dict[str, list[tuple[str, str]]] = {}


def inject(action: str, code: str, *, count: int = 1, message: str | None = None) -> None:
    """The next ``count`` calls of a CloudFormation read (DescribeStacks, ...) answer ``code``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    with _lock:
        _injected.setdefault(action, []).extend([(code, message or "Rate exceeded")] * count)


def forget_injections() -> None:
    with _lock:
        _injected.clear()


def _counted(action: str, method: Any) -> Any:
    def counted(self: Any) -> Any:
        runtime.count_call("cloudformation", action)
        with _lock:
            pending = _injected.get(action)
            injected = pending.pop(0) if pending else None
        if injected is not None:
            raise InjectedError(*injected)
        return method(self)

    return counted


def install() -> None:
    """Make moto's CloudFormation answer DescribeStackResource(s) and DescribeStacks for played stacks, and
    DescribeStackResources by physical ID for every stack."""
    original_resource = cfn_models.CloudFormationBackend.describe_stack_resource
    original_stacks = cfn_models.CloudFormationBackend.describe_stacks

    def describe_stack_resource(self: Any, stack_name: str, logical_resource_id: str) -> Any:
        stack = _played(self).get(stack_name)
        if stack is None:
            return original_resource(self, stack_name, logical_resource_id)
        resource = stack.resources.get(logical_resource_id)
        if resource is None:
            raise ValidationError(
                stack_name, f"Resource {logical_resource_id} does not exist for stack {stack_name}"
            )
        return stack, resource

    def describe_stacks(self: Any, name_or_stack_id: str) -> Any:
        stack = _played(self).get(name_or_stack_id) if name_or_stack_id else None
        if stack is None:
            return original_stacks(self, name_or_stack_id)
        return [stack]

    cfn_models.CloudFormationBackend.describe_stack_resource = describe_stack_resource  # type: ignore[method-assign]
    cfn_models.CloudFormationBackend.describe_stacks = describe_stacks  # type: ignore[method-assign]
    cfn_responses.CloudFormationResponse.describe_stack_resources = describe_stack_resources  # type: ignore[method-assign]
    cfn_responses.CloudFormationResponse.list_stack_resources = list_stack_resources  # type: ignore[method-assign]
    global _original_describe_stack_events
    _original_describe_stack_events = cfn_responses.CloudFormationResponse.describe_stack_events
    cfn_responses.CloudFormationResponse.describe_stack_events = describe_stack_events  # type: ignore[method-assign]
    # Each CloudFormation read the provider makes, counted (runtime.service_calls): one call of the API is
    # one call of its response method.
    for action in (
        "DescribeStackResources",
        "DescribeStackResource",
        "DescribeStacks",
        "ListStackResources",
        "DescribeStackEvents",
    ):
        name = xform_name(action)
        original = getattr(cfn_responses.CloudFormationResponse, name)
        setattr(cfn_responses.CloudFormationResponse, name, _counted(action, original))
