"""Play CloudFormation for one stack against the real provider handler.

``LocalCustomResourceStack`` remembers what CloudFormation remembers (each resource's physical ID and last
applied properties), builds the events CloudFormation would send, calls the handler in this process the way
Lambda does (local_aws.cloudformation.invoke_handler), and returns the one response the handler PUT. The demo,
the benchmarks and the tests all drive the provider through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local_aws.clock import REAL_CLOCK
from local_aws.cloudformation import (
    ResponseReceiver,
    build_event,
    invoke_handler,
    response_problems,
    stack_arn,
)

# How long after the hand-over Lambda starts the next invocation: an asynchronous event typically starts
# within a fraction of a second (measured in AWS: docs/performance.md, "Past one invocation"); the
# stand-in takes this, on its clock.
CONTINUATION_DELAY_SECONDS = 0.5


@dataclass(frozen=True)
class Response:
    """What CloudFormation received for one request."""

    status: str
    physical_id: str
    reason: str
    data: dict[str, Any]
    body: dict[str, Any]
    seconds: float
    event: dict[str, Any] = field(repr=False)
    count: int = 1

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"


class ResponseProblem(AssertionError):
    """The handler's response is one CloudFormation would reject, or not exactly one response arrived."""


@dataclass
class Resource:
    physical_id: str
    properties: dict[str, Any]


# The status CloudFormation shows for a resource while a request runs, and after it answered.
_IN_PROGRESS = {
    "Create": "CREATE_IN_PROGRESS",
    "Update": "UPDATE_IN_PROGRESS",
    "Delete": "DELETE_IN_PROGRESS",
}
_ANSWERED = {
    ("Create", "SUCCESS"): "CREATE_COMPLETE",
    ("Create", "FAILED"): "CREATE_FAILED",
    ("Update", "SUCCESS"): "UPDATE_COMPLETE",
    ("Update", "FAILED"): "UPDATE_FAILED",
    ("Delete", "SUCCESS"): "DELETE_COMPLETE",
    ("Delete", "FAILED"): "DELETE_FAILED",
}


class LocalCustomResourceStack:
    """One stack's worth of CloudFormation.

    ``control``: the Connect emulator's control (LocalControl or HttpControl). When given, every status
    CloudFormation would show for this stack and its resources is told to the emulator, whose
    CloudFormation API then answers the provider's DescribeStackResource/DescribeStacks as real
    CloudFormation would (local_aws/connect/played_stacks.py).

    ``clock``: when CloudFormation sends each request (the ResponseURL's signing time) and Lambda's deadline
    are read from it; give the handler (app.make_handler) and the emulator (use_clock) the same one.

    ``parent``: the stack this one is nested in (an ``AWS::CloudFormation::Stack`` resource of it), which
    DescribeStacks then names as ParentId (and its root as RootId).
    """

    def __init__(
        self,
        handler: Callable[[dict, Any], Any],
        receiver: ResponseReceiver,
        *,
        stack_name: str = "phone-number-consumer",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        timeout_seconds: float = 60,
        control: Any = None,
        stack_status: str = "CREATE_IN_PROGRESS",
        clock: Any = REAL_CLOCK,
        parent: LocalCustomResourceStack | None = None,
        lambda_queue: Any = None,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.receiver = receiver
        self.stack_id = stack_arn(stack_name, region=region, account_id=account_id)
        self.region = region
        self.account_id = account_id
        self.timeout_seconds = timeout_seconds
        self.resources: dict[str, Resource] = {}
        # The latest request sent for each logical ID: an answer to an older one is one CloudFormation no
        # longer waits for (a cancelled Create or Update), and changes nothing it records.
        self._latest: dict[str, str] = {}
        self.control = control
        # Where Lambda's asynchronous invocations wait to run (the emulator's control: take_invocations):
        # ``control``'s unless given apart (the benchmark plays no stack statuses, but continues requests).
        self.lambda_queue = lambda_queue if lambda_queue is not None else control
        # Invocations the last request took: 1, plus one per continuation (deliver).
        self.invocations = 0
        self.parent = parent
        if control is not None and parent is not None:
            control.play_stack(self.stack_id, stack_status=stack_status, parent_id=parent.stack_id)
        self.set_status(stack_status)

    def set_status(self, stack_status: str) -> None:
        """The stack's status, as DescribeStacks shows it (UPDATE_IN_PROGRESS while a rename runs, say)."""
        self.stack_status = stack_status
        if self.control is not None:
            self.control.play_stack(self.stack_id, stack_status=stack_status)

    def play(self, logical_id: str, status: str, physical_id: str | None = None) -> None:
        """A resource's status and physical ID, as DescribeStackResource shows them."""
        if self.control is not None:
            self.control.play_stack(
                self.stack_id, logical_id=logical_id, resource_status=status, physical_id=physical_id
            )

    def retain(self, logical_id: str) -> None:
        """Remove a resource with DeletionPolicy: Retain: CloudFormation sends no Delete, and says
        DELETE_SKIPPED."""
        current = self.resources.pop(logical_id)
        self.play(logical_id, "DELETE_SKIPPED", current.physical_id)

    def delete_stack(self, *, retain: bool = False) -> None:
        """Delete the stack without Delete events (every resource retained, if ``retain``), as the end state
        of a stack whose resources are gone."""
        for logical_id in list(self.resources):
            if retain:
                self.retain(logical_id)
            else:
                self.play(logical_id, "DELETE_COMPLETE", self.resources.pop(logical_id).physical_id)
        self.set_status("DELETE_COMPLETE")

    def delete_every_resource(self) -> dict[str, Response]:
        """Delete the stack the way CloudFormation does: DELETE_IN_PROGRESS, a Delete for each resource (the
        last created first), then DELETE_COMPLETE if every one succeeded (DELETE_FAILED otherwise). The
        status the stack had before decides what CloudFormation records: after CREATE_FAILED this is the
        deletion OnFailure=DELETE makes (``fail_creation``); a nested stack is deleted this way by its
        parent's rollback too."""
        self.set_status("DELETE_IN_PROGRESS")
        responses = {logical_id: self.delete(logical_id) for logical_id in reversed(list(self.resources))}
        self.set_status(
            "DELETE_COMPLETE" if all(response.ok for response in responses.values()) else "DELETE_FAILED"
        )
        return responses

    def fail_creation(self, *, on_failure: str = "DELETE") -> dict[str, Response]:
        """Another resource failed to create. ``on_failure`` as CreateStack's OnFailure: DELETE (``sam
        deploy --on-failure DELETE``): the stack goes CREATE_FAILED and is deleted at once, each resource
        getting a Delete; ROLLBACK: ROLLBACK_IN_PROGRESS, then the Deletes."""
        if on_failure == "DELETE":
            self.set_status("CREATE_FAILED")
            return self.delete_every_resource()
        self.set_status("ROLLBACK_IN_PROGRESS")
        responses = {logical_id: self.delete(logical_id) for logical_id in reversed(list(self.resources))}
        self.set_status("ROLLBACK_COMPLETE")
        return responses

    def create(self, logical_id: str, properties: Mapping[str, Any], **options: Any) -> Response:
        response = self.send("Create", logical_id, properties, **options)
        if response.ok and self._still_waited_for(logical_id, response):
            self.resources[logical_id] = Resource(response.physical_id, dict(properties))
        return response

    def update(self, logical_id: str, properties: Mapping[str, Any], **options: Any) -> Response:
        """An Update with the recorded physical ID and old properties; records the new state on SUCCESS
        (unless CloudFormation stopped waiting for it meanwhile: cancel_update)."""
        current = self.resources[logical_id]
        response = self.send(
            "Update",
            logical_id,
            properties,
            physical_id=current.physical_id,
            old_properties=current.properties,
            **options,
        )
        if response.ok and self._still_waited_for(logical_id, response):
            self.resources[logical_id] = Resource(response.physical_id, dict(properties))
        return response

    def _still_waited_for(self, logical_id: str, response: Response) -> bool:
        return self._latest.get(logical_id) == response.event["RequestId"]

    def delete(self, logical_id: str, **options: Any) -> Response:
        current = self.resources[logical_id]
        response = self.send(
            "Delete", logical_id, current.properties, physical_id=current.physical_id, **options
        )
        if response.ok:
            del self.resources[logical_id]
        return response

    def send(
        self,
        request_type: str,
        logical_id: str,
        properties: Mapping[str, Any],
        *,
        physical_id: str | None = None,
        old_properties: Mapping[str, Any] | None = None,
        timeout_seconds: float | None = None,
        request_id: str | None = None,
    ) -> Response:
        """Send one request and return the single response the handler PUT for it."""
        event = build_event(
            request_type,
            properties=properties,
            response_url=self.receiver.url_for,
            logical_id=logical_id,
            stack_id=self.stack_id,
            physical_id=physical_id,
            old_properties=old_properties,
            request_id=request_id,
            sent_at=self.clock.time(),
        )
        self._latest[logical_id] = event["RequestId"]
        self.play(logical_id, _IN_PROGRESS[request_type])
        response = self.deliver(event, timeout_seconds=timeout_seconds)
        if self._latest.get(logical_id) == event["RequestId"]:
            self.play(logical_id, _ANSWERED[(request_type, response.status)], response.physical_id)
        return response

    def clean_up(self, logical_id: str, old_physical_id: str, old_properties: Mapping[str, Any]) -> Response:
        """The Delete CloudFormation sends in a clean-up phase (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the old
        physical resource of a replacement; UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: the new one of a
        replacement rolled back) for ``old_physical_id``. Its events name that physical ID; the resource
        itself keeps its current physical ID and status, whatever the Delete answers (CloudFormation skips a
        clean-up Delete that keeps failing)."""
        current = self.resources[logical_id]
        response = self.send("Delete", logical_id, old_properties, physical_id=old_physical_id)
        self.play(logical_id, "UPDATE_COMPLETE", current.physical_id)
        return response

    def cancel_create(self, logical_id: str, properties: Mapping[str, Any], **options: Any) -> Response:
        """Another resource failed while ``logical_id``'s Create still runs: CloudFormation marks the Create
        cancelled ("Resource creation cancelled"), starts rolling the stack's creation back and sends the
        Delete at once, with a physical ID it makes up (the Create never answered). An answer the Create
        sends later is ignored."""
        self.play(logical_id, "CREATE_FAILED")
        self.set_status("ROLLBACK_IN_PROGRESS")
        made_up = f"{self.stack_id.split('/')[1]}-{logical_id}-{uuid.uuid4().hex[:12].upper()}"
        response = self.send("Delete", logical_id, properties, physical_id=made_up, **options)
        if response.ok:
            self.resources.pop(logical_id, None)
        return response

    def cancel_update(
        self, logical_id: str, cancelled_properties: Mapping[str, Any], **options: Any
    ) -> Response:
        """Another resource failed while ``logical_id``'s Update to ``cancelled_properties`` still runs:
        CloudFormation starts rolling the update back and sends the rollback Update at once (the recorded
        properties again, the cancelled ones as OldResourceProperties, the recorded physical ID). An answer
        the cancelled Update sends later is ignored."""
        current = self.resources[logical_id]
        self.set_status("UPDATE_ROLLBACK_IN_PROGRESS")
        return self.send(
            "Update",
            logical_id,
            current.properties,
            physical_id=current.physical_id,
            old_properties=cancelled_properties,
            **options,
        )

    def deliver(self, event: dict[str, Any], *, timeout_seconds: float | None = None) -> Response:
        """Invoke the handler with ``event`` as Lambda would and collect its response.

        A request the handler hands to a later invocation of itself (Lambda's asynchronous Invoke, queued by
        the emulator: local_aws/connect/lambda_async.py) is run as Lambda runs it: a new invocation with the
        function's whole timeout, after CONTINUATION_DELAY_SECONDS, until one of them answers."""
        timeout = timeout_seconds or self.timeout_seconds
        started = self.clock.monotonic()
        invoke_handler(
            self.handler,
            event,
            timeout_seconds=timeout,
            region=self.region,
            account_id=self.account_id,  # the function's own ARN: the provider's account
            clock=self.clock,
        )
        self.invocations = 1
        while self.lambda_queue is not None:
            queued = self.lambda_queue.take_invocations(event["RequestId"])
            if not queued:
                break
            for invocation in queued:
                self.clock.sleep(CONTINUATION_DELAY_SECONDS)
                self.invocations += 1
                invoke_handler(
                    self.handler,
                    invocation["payload"],
                    timeout_seconds=timeout,
                    region=self.region,
                    account_id=self.account_id,
                    clock=self.clock,
                )
        body = self.receiver.wait_for(event["RequestId"], timeout=5)
        seconds = self.clock.monotonic() - started
        bodies = self.receiver.responses(event["RequestId"])
        problems = response_problems(event, body)
        if problems:
            raise ResponseProblem("; ".join(problems))
        return Response(
            status=body["Status"],
            physical_id=body["PhysicalResourceId"],
            reason=body.get("Reason", ""),
            data=body.get("Data") or {},
            body=body,
            seconds=seconds,
            event=event,
            count=len(bodies),
        )
