"""What CloudFormation says about the stacks the local CloudFormation stand-in plays (local_aws.stack).

The provider asks CloudFormation which stack resource holds a number (DescribeStackResources by physical
ID), whether the stack resource recorded as a number's owner still holds it (DescribeStackResource) and
whether its own stack is being updated (DescribeStacks: renames). Those stacks
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
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

from .runtime import runtime

# "Only the first 100 resources will be returned" (DescribeStackResources, CloudFormation API reference).
DESCRIBED_RESOURCES_LIMIT = 100

_lock = threading.Lock()


@dataclass
class PlayedResource:
    logical_resource_id: str
    physical_resource_id: str
    resource_status: str
    cf_resource_type: str = "Custom::PhoneNumberAssignment"


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
) -> None:
    """Record what CloudFormation knows about a played stack, or one of its resources (a
    Custom::PhoneNumberAssignment unless ``resource_type`` says otherwise)."""
    with _lock:
        stacks = _played(_backend_of(stack_id))
        name = stack_id.split("/")[1]
        stack = stacks.setdefault(
            stack_id, PlayedStack(stack_id, name, stack_status or "CREATE_IN_PROGRESS", creation_time=_now())
        )
        if stack_status:
            if stack_status == "UPDATE_IN_PROGRESS" and stack.status != stack_status:
                stack.last_updated_time = _now()
            stack.status = stack_status
        if logical_id is not None:
            resource = stack.resources.setdefault(
                logical_id, PlayedResource(logical_id, "", "CREATE_IN_PROGRESS")
            )
            if resource_status:
                resource.resource_status = resource_status
            if physical_id is not None:
                resource.physical_resource_id = physical_id
            if resource_type is not None:
                resource.cf_resource_type = resource_type


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


def _now() -> datetime.datetime:
    """The service's time: the emulator's clock (a VirtualClock in tests), which the provider shares."""
    return datetime.datetime.fromtimestamp(runtime.clock.time(), datetime.UTC)


def _counted(action: str, method: Any) -> Any:
    def counted(self: Any) -> Any:
        runtime.count_call("cloudformation", action)
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
    # Each CloudFormation read the provider makes, counted (runtime.service_calls): one call of the API is
    # one call of its response method.
    for action in ("DescribeStackResources", "DescribeStackResource", "DescribeStacks"):
        name = xform_name(action)
        original = getattr(cfn_responses.CloudFormationResponse, name)
        setattr(cfn_responses.CloudFormationResponse, name, _counted(action, original))
