"""One simulated run: the provider's real handler, the Connect emulator, CloudFormation's side, the checks.

``World`` wires the pieces together for one schedule: a fresh set of Connect instances, flows and numbers in
the emulator (new IDs each run, so runs never see each other's records), the provider's own clients
(clients.py, the one place it makes them) with a yield point before every call, the handler built on the
simulated clock (app.make_handler), and the HTTPS receiver standing in for CloudFormation's response URLs.
``Stack`` is CloudFormation's memory of one stack (its status, each resource's physical ID and last applied
properties) and the requests it sends; scenarios (scenarios.py) script stack operations with it, and mark
where CloudFormation may act "at any time" (a sibling resource failing, a repeated delivery).

After the run, ``violations`` checks the invariants of docs/reliability.md's "Simulation" section against
what CloudFormation, Connect and the ownership table say.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from local_aws.cloudformation import build_event
from local_aws.lambda_context import LambdaContext

from .scheduler import Actor, Scheduler

ACCOUNT = "123456789012"
REGION = "us-east-1"
# The function's Timeout in the simulation: long enough for any scenario's work, short enough that a request
# throttled without end reaches its budget in a few hundred steps. A scenario about continuations shrinks it
# (Scenario.function_timeout) so that its request must hand over.
FUNCTION_TIMEOUT_SECONDS = 60.0
# When Lambda runs a continuation the provider queued with its asynchronous Invoke: a choice of the schedule
# (the first is the default). Lambda's queue usually hands the event on within a second, but says no more
# than "Lambda places the event in a queue" (Developer Guide, "Asynchronous invocation"): so also a few
# seconds later, late (yet before CloudFormation's deadline), or only once a newer request of the same
# resource has stamped it (late, if none does): the continuation then starts overtaken.
CONTINUATION_AT_ONCE = "at once"
CONTINUATION_AFTER_A_WHILE = "after 5 s"
CONTINUATION_LATE = "late"
CONTINUATION_AFTER_NEWER = "after a newer request's stamp"
CONTINUATION_WAKES = (
    CONTINUATION_AT_ONCE,
    CONTINUATION_AFTER_A_WHILE,
    CONTINUATION_LATE,
    CONTINUATION_AFTER_NEWER,
)
CONTINUATION_DELAY_SECONDS = 5.0
# The simulation's bound on a request's continuations: every scenario's work fits in four invocations (a
# rollback's Delete, the longest, waits out the cancelled request's move in one or two, then makes its own;
# the schedules explored need three hops at most), so a request still handing over at its fifth is waiting for
# something that does not come, and would hold its stack until CloudFormation's deadline (an hour of
# continuations, thousands of steps): reported, and not run further.
MAX_HOPS = 4
# How long before CloudFormation's deadline a late continuation runs: time for a short invocation to answer.
LATE_CONTINUATION_LEAD_SECONDS = 120.0
# CloudFormation's wait for a custom resource without ServiceTimeout (User Guide, "Custom resources").
SERVICE_TIMEOUT_SECONDS = 3600.0
# Lambda retries an asynchronous invocation that failed (an error, a timeout) twice, the first after about a
# minute, the second after about two more (Lambda Developer Guide, "Asynchronous invocation").
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
# The emulator's timing for simulated runs, and the provider's poll and backoff steps: fixed here (not left
# to whoever imports the provider), so a schedule recorded by `make simulate` replays the same under pytest.
MOVE_SECONDS = 0.6
STALE_SECONDS = 0.2
PROVIDER_TIMING = {
    "FIRST_POLL_SECONDS": 0.3,
    "POLL_SECONDS": 0.3,
    "THROTTLE_FIRST_SECONDS": 0.2,
    "THROTTLE_CAP_SECONDS": 1.0,
}
NAMESPACE = uuid.UUID("0b8f1a52-6a3e-4d0e-9a59-5c0f6f0d2e11")


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


@dataclass
class Places:
    """Instances, a flow in each, and numbers on instance A routed to its flow: fresh IDs for every run."""

    instances: dict[str, str] = field(default_factory=dict)  # name -> id
    flows: dict[str, str] = field(default_factory=dict)  # instance name -> flow id
    numbers: dict[str, str] = field(default_factory=dict)  # name -> id

    def instance_arn(self, name: str) -> str:
        return arn(f"instance/{self.instances[name]}")

    def flow_arn(self, name: str) -> str:
        return arn(f"instance/{self.instances[name]}/contact-flow/{self.flows[name]}")

    def number_arn(self, name: str) -> str:
        return arn(f"phone-number/{self.numbers[name]}")

    def number_name(self, number: str) -> str | None:
        for name, number_id in self.numbers.items():
            if number in (number_id, self.number_arn(name)):
                return name
        return None


@dataclass
class Request:
    """One request CloudFormation sent, and what it knows of its answers."""

    stack: Stack
    event: dict[str, Any]
    sent_at: float  # the simulated monotonic clock
    rollback: bool
    deliveries: int = 0
    # Of the deliveries, how many were continuations the provider queued (not CloudFormation's event).
    continued: int = 0
    dead: int = 0
    # Whether CloudFormation has taken in its answer (or its deadline).
    settled: bool = False
    # The how-manieth request of this type for this resource (a rollback Update after an Update is the 2nd).
    ordinal: int = 1

    @property
    def request_id(self) -> str:
        return self.event["RequestId"]

    @property
    def name(self) -> str:
        again = f" ({self.ordinal})" if self.ordinal > 1 else ""
        return f"{self.event['RequestType']}{again} {self.stack.name}.{self.event['LogicalResourceId']}"

    @property
    def deadline(self) -> float:
        return self.sent_at + SERVICE_TIMEOUT_SECONDS

    def answers(self) -> list[dict[str, Any]]:
        return self.stack.world.receiver.responses(self.request_id)

    def answer(self) -> dict[str, Any] | None:
        found = self.answers()
        return found[0] if found else None

    @property
    def ok(self) -> bool:
        answer = self.answer()
        return answer is not None and answer["Status"] == "SUCCESS"


@dataclass
class Call:
    """One AWS call the provider made, in the order the schedule let them run: who made it, what, and
    whether it was answered without an error (None: no answer came, the connection reset or it died)."""

    index: int
    actor: str
    service: str
    operation: str
    params: dict[str, Any]
    ok: bool | None = None

    def key(self, attribute: str) -> str:
        """The DynamoDB item this call reads or writes (its key ``attribute``), if any."""
        item = self.params.get("Item") or self.params.get("Key") or {}
        return str((item.get(attribute) or {}).get("S", ""))


DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


@dataclass
class Continuation:
    """A continuation the provider queued (Lambda's asynchronous Invoke), and how it ran."""

    request: Request
    actor: str
    event: dict[str, Any]
    # Where, in World.calls, its invocation started (None: never started), and whether its request had
    # been answered by then.
    started_at_call: int | None = None
    answered_at_start: bool = False


@dataclass
class Resource:
    physical_id: str
    properties: dict[str, Any]


class Stack:
    """What CloudFormation knows of one stack, told to the emulator as it changes (played_stacks.py)."""

    def __init__(self, world: World, name: str, parent: Stack | None = None) -> None:
        self.world = world
        self.name = name
        self.parent = parent
        self.stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{uuid.uuid4()}"
        self.resources: dict[str, Resource] = {}
        self.latest: dict[str, str] = {}
        self.status = ""
        self.deleted_by_failure = False
        self.set_status("CREATE_IN_PROGRESS")

    def set_status(self, status: str) -> None:
        self.status = status
        extra = {}
        if self.parent is not None and "parent_id" in _play_stack_parameters(self.world.control):
            # Where the emulator models nested stacks (ParentId/RootId), the child says whose it is.
            extra["parent_id"] = self.parent.stack_id
        self.world.control.play_stack(self.stack_id, stack_status=status, **extra)
        self.world.note(f"{self.name} is {status}")

    def play(self, logical_id: str, status: str, physical_id: str | None = None) -> None:
        self.world.control.play_stack(
            self.stack_id, logical_id=logical_id, resource_status=status, physical_id=physical_id
        )

    @property
    def rolling_back(self) -> bool:
        """Whether a Delete sent now undoes a failed operation, whatever this stack's own status says: its own
        rollback, or an ancestor's (a nested stack deleted by its parent's rollback)."""
        if "ROLLBACK" in self.status or (self.status == "DELETE_IN_PROGRESS" and self.deleted_by_failure):
            return True
        return self.parent is not None and self.parent.rolling_back

    def send(
        self,
        request_type: str,
        logical_id: str,
        properties: dict[str, Any],
        *,
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> Request:
        world = self.world
        event = build_event(
            request_type,
            properties=properties,
            response_url=world.receiver.url_for,
            logical_id=logical_id,
            stack_id=self.stack_id,
            physical_id=physical_id,
            old_properties=old_properties,
            request_id=world.next_id(),
            sent_at=world.clock.time(),
        )
        ordinal = 1 + sum(
            1
            for r in world.requests
            if r.stack is self
            and r.event["RequestType"] == request_type
            and r.event["LogicalResourceId"] == logical_id
        )
        request = Request(self, event, world.clock.monotonic(), rollback=self.rolling_back, ordinal=ordinal)
        self.latest[logical_id] = request.request_id
        world.requests.append(request)
        self.play(logical_id, f"{request_type.upper()}_IN_PROGRESS")
        world.deliver(request)
        return request

    def create(self, logical_id: str, properties: dict[str, Any]) -> Request:
        return self.send("Create", logical_id, properties)

    def update(self, logical_id: str, properties: dict[str, Any]) -> Request:
        current = self.resources[logical_id]
        return self.send(
            "Update",
            logical_id,
            properties,
            physical_id=current.physical_id,
            old_properties=current.properties,
        )

    def delete(
        self, logical_id: str, *, physical_id: str | None = None, properties: dict[str, Any] | None = None
    ) -> Request:
        current = self.resources.get(logical_id)
        return self.send(
            "Delete",
            logical_id,
            properties if properties is not None else (current.properties if current else {}),
            physical_id=physical_id or (current.physical_id if current else None),
        )

    def cancelled_delete(self, request: Request) -> Request:
        """CloudFormation gave up on ``request`` (a Create that never answered): the rollback's Delete carries
        a physical ID CloudFormation makes up."""
        logical_id = request.event["LogicalResourceId"]
        self.play(logical_id, "CREATE_FAILED")
        made_up = f"{self.name}-{logical_id}-{self.world.next_id()[:12].upper()}"
        properties = {k: v for k, v in request.event["ResourceProperties"].items() if k != "ServiceToken"}
        return self.send("Delete", logical_id, properties, physical_id=made_up)

    def wait(self, *requests: Request) -> None:
        """CloudFormation waits for each answer, or its deadline (ServiceTimeout)."""
        pending = [r for r in requests if r.answer() is None]
        if pending:
            self.world.scheduler.yield_point(
                f"waits for {', '.join(r.name for r in pending)}",
                condition=lambda: all(r.answer() is not None for r in pending),
                deadline=max(r.deadline for r in pending),
            )
        for request in requests:
            self.settle(request)

    def settle(self, request: Request) -> None:
        """Record an answer as CloudFormation does: only the latest request of a resource counts."""
        logical_id = request.event["LogicalResourceId"]
        answer = request.answer()
        if request.settled or self.latest.get(logical_id) != request.request_id:
            return
        request.settled = True
        if answer is None:
            self.play(logical_id, f"{request.event['RequestType'].upper()}_FAILED")
            return
        request_type = request.event["RequestType"]
        status = "COMPLETE" if answer["Status"] == "SUCCESS" else "FAILED"
        self.play(logical_id, f"{request_type.upper()}_{status}", answer["PhysicalResourceId"])
        if answer["Status"] != "SUCCESS":
            if request.rollback:
                self.world.stuck.append(
                    f"{request.name} answered FAILED during a rollback: {answer['Reason']}"
                )
            return
        if request_type == "Delete":
            current = self.resources.get(logical_id)
            # A replacement's clean-up deletes the other physical resource: the logical ID stays.
            if current is None or current.physical_id == request.event["PhysicalResourceId"]:
                self.resources.pop(logical_id, None)
            self.world.deleted(self, request)
        else:
            properties = {k: v for k, v in request.event["ResourceProperties"].items() if k != "ServiceToken"}
            self.resources[logical_id] = Resource(answer["PhysicalResourceId"], properties)


# scheduler.TRANSIENT_FAULTS -> inject_fault's (fault, status, served).
_TRANSIENT: dict[str, tuple[str, int | None, bool]] = {
    "5xx": ("ServiceUnavailable", None, False),
    "5xx-page": ("page", 502, False),
    "reset": ("connection-reset", None, False),
    "reset-after-serving": ("connection-reset", None, True),
}


def _play_stack_parameters(control: Any) -> set[str]:
    import inspect

    return set(inspect.signature(control.play_stack).parameters)


class World:
    """Everything one schedule runs against (see the module docstring)."""

    def __init__(
        self, scheduler: Scheduler, receiver: Any, control: Any, handler: Callable[..., Any]
    ) -> None:
        self.scheduler = scheduler
        self.clock = scheduler.clock
        self.receiver = receiver
        self.control = control
        self.handler = handler
        self.places = Places()
        self.requests: list[Request] = []
        self.stacks: list[Stack] = []
        self.stuck: list[str] = []
        self.errors: list[str] = []
        self.log: list[tuple[float, str]] = []
        # Where each number rests when no resource holds it: where it started, or where a deliberate Delete
        # with OnDelete: Retain left it (the assignment it had then stays).
        self.rests: dict[str, tuple[str, str]] = {}
        self._ids = 0
        # Request IDs are unique across runs (the receiver keeps every answer), and named by their order.
        self._salt = str(uuid.uuid4())
        self._deadlines: dict[str, float] = {}
        self._delivery: dict[str, Request] = {}
        # Each invocation's event (CloudFormation's, or a continuation's): Lambda retries the one that died.
        self._events: dict[str, dict[str, Any]] = {}
        self.function_timeout = FUNCTION_TIMEOUT_SECONDS
        # Lambda delivers each continuation twice (at least once: "Asynchronous invocation"), the second at
        # any time the schedule chooses.
        self.continuations_twice = False
        self.continuations: list[Continuation] = []
        # Requests that handed over more than MAX_HOPS times (their further continuations are not run).
        self.endless: list[str] = []
        self.calls: list[Call] = []
        self._open_calls: dict[str, Call] = {}
        scheduler.on_death = self._died
        scheduler.on_time = self._time_passed
        scheduler.on_fault = self.apply_fault
        scheduler.on_step = self._take_in_answers
        scheduler.on_call = self.called
        scheduler.on_answer = self.answered

    # ---- setup -----------------------------------------------------------------------------------

    def seed(
        self, numbers: tuple[str, ...] = ("N1",), instances: tuple[str, ...] = ("A", "B", "C")
    ) -> Places:
        places = self.places
        for name in instances:
            places.instances[name] = str(uuid.uuid4())
            places.flows[name] = str(uuid.uuid4())
        for name in numbers:
            places.numbers[name] = str(uuid.uuid4())
        self.control.seed(
            {
                "account_id": ACCOUNT,
                "region": REGION,
                "instances": [{"id": places.instances[n], "alias": f"sim-{n.lower()}"} for n in instances],
                "contact_flows": [
                    {"id": places.flows[n], "instance_id": places.instances[n], "name": f"{n} main"}
                    for n in instances
                ],
                "phone_numbers": [
                    {
                        "id": places.numbers[name],
                        # E.164 numbers are unique among claimed ones: one per run and name.
                        "phone_number": f"+1555{int(places.numbers[name][:8], 16) % 10**7:07d}",
                        "target": places.instances["A"],
                        "contact_flow_id": places.flows["A"],
                    }
                    for name in numbers
                ],
            }
        )
        for name in numbers:
            self.rests[name] = (places.instance_arn("A"), places.flow_arn("A"))
        return places

    def declare(self, number: str, target: str, *, on_delete: str = "Retain") -> dict[str, Any]:
        """A resource's properties: ``number`` on instance ``target``, routed to that instance's flow."""
        return {
            "PhoneNumberId": self.places.numbers[number],
            "TargetArn": self.places.instance_arn(target),
            "ContactFlowArn": self.places.flow_arn(target),
            "OnDelete": on_delete,
        }

    def stack(self, name: str, parent: Stack | None = None) -> Stack:
        stack = Stack(self, name, parent)
        self.stacks.append(stack)
        return stack

    @property
    def invocations(self) -> dict[str, Request]:
        """Every invocation so far (its actor's name) and the request it ran."""
        return dict(self._delivery)

    def next_id(self) -> str:
        self._ids += 1
        return str(uuid.uuid5(NAMESPACE, f"{self._salt}/{self._ids}"))

    def note(self, what: str) -> None:
        self.log.append((self.clock.monotonic(), what))

    # ---- CloudFormation's "at any time" --------------------------------------------------------------

    def any_time(self, what: str) -> None:
        """A point where CloudFormation may act now, or after any later call or wait: a patient yield."""
        self.scheduler.yield_point(what, patient=True)

    def redeliver(self, request: Request, *, after_deadline: bool = False) -> None:
        """Lambda delivers ``request`` once more (at-least-once), now or, with ``after_deadline``, once
        CloudFormation has stopped waiting for it."""
        wake = request.deadline + 1 if after_deadline else None
        self._spawn_delivery(request, wake=wake)

    # ---- Lambda -----------------------------------------------------------------------------------

    def deliver(self, request: Request) -> None:
        self._spawn_delivery(request)

    def _spawn_delivery(
        self,
        request: Request,
        *,
        wake: float | None = None,
        event: dict[str, Any] | None = None,
        continuation: Continuation | None = None,
        patient: bool = False,
        step: str = "start",
        variants: tuple[str, ...] = (),
    ) -> Actor:
        """An invocation of the handler with ``event`` (CloudFormation's by default). A continuation's
        invocation may first wait as the schedule chose (``variants``: CONTINUATION_WAKES)."""
        request.deliveries += 1
        if event is not None and "Continuation" in event:
            request.continued += 1
        name = f"{request.name}#{request.deliveries}"
        footprint = frozenset(self._numbers_of(request.event))
        event = json.loads(json.dumps(event if event is not None else request.event))

        def invoke() -> None:
            actor = self.scheduler.current()
            assert actor is not None
            self._await_turn(request, actor.chosen if variants else None)
            started = self.clock.monotonic()
            if continuation is not None:
                continuation.started_at_call = len(self.calls)
                continuation.answered_at_start = request.answer() is not None
            self._deadlines[name] = started + self.function_timeout
            context = LambdaContext(
                timeout_seconds=self.function_timeout, region=REGION, clock=self.clock.monotonic
            )
            try:
                self.handler(event, context)
            finally:
                self._deadlines.pop(name, None)
                # Lambda runs whatever this invocation queued, however it ended.
                self._continue(request)

        actor = self.scheduler.spawn(
            name,
            invoke,
            wake=wake,
            footprint=footprint or None,
            patient=patient,
            step=step,
            variants=variants,
        )
        self._delivery[name] = request
        self._events[name] = event
        if continuation is not None:
            continuation.actor = name
        return actor

    def _await_turn(self, request: Request, wake: str | None) -> None:
        """Wait as the schedule chose before a continuation's invocation starts (CONTINUATION_WAKES)."""
        late = request.deadline - LATE_CONTINUATION_LEAD_SECONDS
        if wake == CONTINUATION_AFTER_A_WHILE:
            self.clock.sleep(CONTINUATION_DELAY_SECONDS)
        elif wake == CONTINUATION_LATE:
            self.clock.sleep(max(0.0, late - self.clock.monotonic()))
        elif wake == CONTINUATION_AFTER_NEWER:
            self.scheduler.yield_point(
                f"waits for a request newer than {request.name} to stamp",
                condition=lambda: self.newer_stamp(request) is not None,
                deadline=late,
            )

    def newer_stamp(self, request: Request) -> int | None:
        """Where (an index of ``calls``) a request of ``request``'s resource that CloudFormation sent after
        it first wrote the resource's stamp (records.resource_key); None if none has."""
        from phone_number_assignment.records import KEY, resource_key
        from phone_number_assignment.tags import Owner

        logical_id = request.event["LogicalResourceId"]
        key = resource_key("aws", REGION, ACCOUNT, Owner(request.stack.stack_id, logical_id))
        later = self.requests[self.requests.index(request) + 1 :]
        newer = {
            r.request_id
            for r in later
            if r.stack is request.stack and r.event["LogicalResourceId"] == logical_id
        }
        actors = {name for name, r in self._delivery.items() if r.request_id in newer}
        for call in self.calls:
            if (
                call.actor in actors
                and call.ok
                and call.operation in DYNAMODB_WRITES
                and call.key(KEY) == key
            ):
                return call.index
        return None

    def _continue(self, request: Request) -> None:
        """Run each continuation the provider queued for ``request`` (Lambda's asynchronous Invoke) as an
        invocation of its own, when the schedule chooses; twice, with ``continuations_twice``."""
        for queued in self.control.take_invocations(request.request_id):
            event = queued["payload"]
            hop = (event.get("Continuation") or {}).get("Hop", 0)
            if hop > MAX_HOPS:
                self.endless.append(f"{request.name} handed over {hop} times")
                continue
            continuation = Continuation(request, "", event)
            self.continuations.append(continuation)
            self._spawn_delivery(
                request,
                event=event,
                continuation=continuation,
                step=f"continues (hop {hop})",
                variants=CONTINUATION_WAKES,
            )
            if self.continuations_twice:
                again = Continuation(request, "", event)
                self.continuations.append(again)
                # As _again_at_any_time: a patient actor, so it may come before, during or after the first.
                self._spawn_delivery(
                    request,
                    event=event,
                    continuation=again,
                    patient=True,
                    step=f"continues again (hop {hop})",
                )

    # ---- the calls the provider makes (for the checks) ---------------------------------------------

    def called(self, service: str, operation: str, params: dict[str, Any]) -> None:
        actor = self.scheduler.current()
        if actor is None:
            return
        call = Call(len(self.calls), actor.name, service, operation, params)
        self.calls.append(call)
        self._open_calls[actor.name] = call

    def answered(self, ok: bool) -> None:
        actor = self.scheduler.current()
        call = self._open_calls.pop(actor.name, None) if actor is not None else None
        if call is not None:
            call.ok = ok

    def _numbers_of(self, event: dict[str, Any]) -> set[str]:
        found = set()
        for key in ("ResourceProperties", "OldResourceProperties"):
            number = (event.get(key) or {}).get("PhoneNumberId")
            if isinstance(number, str):
                found.add(number.rsplit("/", 1)[-1])
        physical = event.get("PhysicalResourceId") or ""
        if ":phone-number/" in physical:
            found.add(physical.rsplit("/", 1)[-1])
        return found

    def _died(self, actor: Actor) -> None:
        """An invocation stopped (a crash chosen by the schedule, or Lambda's timeout): Lambda retries it."""
        request = self._delivery.get(actor.group)
        self._deadlines.pop(actor.group, None)
        if request is None:
            return
        request.dead += 1
        self.note(f"{actor.group} died")
        if request.dead <= len(LAMBDA_RETRY_DELAYS):
            # Lambda retries the event that died: CloudFormation's, or the continuation's.
            event = self._events.get(actor.group)
            continuation = None
            if event is not None and "Continuation" in event:
                continuation = Continuation(request, "", event)
                self.continuations.append(continuation)
            self._spawn_delivery(
                request,
                wake=self.clock.monotonic() + LAMBDA_RETRY_DELAYS[request.dead - 1],
                event=event,
                continuation=continuation,
            )

    def _time_passed(self, now: float) -> None:
        for group, deadline in list(self._deadlines.items()):
            if now > deadline:
                self.scheduler.kill_group(group)
                actor = next(a for a in self.scheduler.actors if a.name == group)
                self.scheduler.deaths.append(actor)
                self._died(actor)

    def _take_in_answers(self) -> None:
        """CloudFormation takes in an answer as it arrives (a resource's status changes then), not only when
        the scenario next waits for it."""
        for request in self.requests:
            if not request.settled and request.answer() is not None:
                request.stack.settle(request)

    # ---- faults -----------------------------------------------------------------------------------

    def apply_fault(self, actor: Actor, step: str, fault: str) -> None:
        """Make the emulator answer the call ``step`` ("service:Operation") with ``fault``: only this call,
        because nothing else runs until it is made. Throttling is each service's own error; the transient
        faults go through the emulator's ``inject_fault`` (local_aws/connect/faults.py), as AWS's front ends
        answer them, so the faults explored are the ones the provider retries (errors.is_transient)."""
        service, operation = step.split(":", 1)
        if fault == "slow":
            return
        if fault in _TRANSIENT:
            name, status, served = _TRANSIENT[fault]
            self.control.inject_fault(service, operation, name, status=status, served=served)
        elif service == "connect":
            self.control.inject_error(operation, "ThrottlingException")
        elif service == "dynamodb":
            self.control.inject_dynamodb_error(operation, "ThrottlingException")
        elif service == "cloudformation":
            self.control.inject_cloudformation_error(operation, "Throttling")

    # ---- Delete bookkeeping for the oracle ----------------------------------------------------------

    def deleted(self, stack: Stack, request: Request) -> None:
        """A Delete CloudFormation counts as done: a deliberate one with Retain leaves the number assigned
        where it is (that is where it rests from now on); a rollback's, or Restore, puts it back."""
        properties = request.event["ResourceProperties"]
        number = self.places.number_name(str(properties.get("PhoneNumberId", "")))
        if number is None or request.rollback or properties.get("OnDelete", "Retain") != "Retain":
            return
        physical = request.event.get("PhysicalResourceId", "")
        if ":phone-number/" not in physical:
            return  # a made-up physical ID: the Create never answered, so nothing was assigned
        self.rests[number] = (
            properties["TargetArn"],
            properties.get("ContactFlowArn", self.rests[number][1]),
        )


# ---- the environment a simulation runs in ------------------------------------------------------------


@contextlib.contextmanager
def provider_environment(endpoint_url: str) -> Iterator[Any]:
    """Point the provider's clients at the emulator, fix its timing and randomness, quiet its logs, and
    hook its clients' calls as yield points; yields ``install(scheduler)``, which hooks one run's scheduler.

    Everything is put back on exit. The provider is imported here: local_aws stands for AWS and does not
    need it otherwise.
    """
    from phone_number_assignment import clients, retries, waiting
    from phone_number_assignment.telemetry import logger as provider_logger

    saved_env = {key: os.environ.get(key) for key in _ENVIRONMENT}
    os.environ.update(_ENVIRONMENT)
    for key, value in (
        ("AWS_ENDPOINT_URL_CONNECT", endpoint_url),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint_url),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint_url),
        ("AWS_ENDPOINT_URL_LAMBDA", endpoint_url),
    ):
        saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value
    saved_timing = {name: getattr(waiting, name) for name in PROVIDER_TIMING}
    for name, value in PROVIDER_TIMING.items():
        setattr(waiting, name, value)
    saved_random = retries.random
    seeds = _SeededRandom()
    retries.random = seeds  # type: ignore[assignment]
    saved_level = provider_logger.log_level
    provider_logger.setLevel("CRITICAL")
    factories = (
        clients.connect_client,
        clients.cloudformation_client,
        clients.dynamodb_client,
        clients.lambda_client,
    )
    for factory in (*factories, clients.pace_client):
        factory.cache_clear()
    hooked: dict[str, Any] = {}

    def install(scheduler: Scheduler) -> None:
        seeds.reset()
        # Again at every run: a test fixture may have set its own timing since the session began.
        for name, value in PROVIDER_TIMING.items():
            setattr(waiting, name, value)
        hooked["scheduler"] = scheduler

    def provide_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["simulation_params"] = json.loads(json.dumps(params, default=str))

    def before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
        scheduler = hooked.get("scheduler")
        if scheduler is not None:
            service = model.service_model.endpoint_prefix
            scheduler.yield_point(f"{service}:{model.name}")
            if scheduler.on_call is not None:
                scheduler.on_call(service, model.name, context.get("simulation_params") or {})

    def after_call(http_response: Any, **_: Any) -> None:
        scheduler = hooked.get("scheduler")
        if scheduler is not None and scheduler.on_answer is not None:
            scheduler.on_answer(http_response.status_code < 300)

    for factory in factories:
        events = factory(REGION).meta.events
        events.register("provide-client-params.*.*", provide_params)
        events.register("before-call.*.*", before_call)
        events.register("after-call.*.*", after_call)
    try:
        with contextlib.redirect_stdout(_Discard()), warnings.catch_warnings():
            # Powertools warns of an invocation that published no metric (one killed mid-way, say).
            warnings.simplefilter("ignore", UserWarning)
            yield install
    finally:
        for factory in (*factories, clients.pace_client):
            factory.cache_clear()
        provider_logger.setLevel(saved_level)
        retries.random = saved_random  # type: ignore[assignment]
        for name, value in saved_timing.items():
            setattr(waiting, name, value)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # One pace per account lives in the ownership table; each of its writes would be one more yield point
    # that commutes with everything the rule is about. Paced alone, as before the shared pace.
    "SHARED_PACE": "Off",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


class _SeededRandom:
    """Stands in for the ``random`` module where the provider makes its jitter generators (retries.py): each
    generator seeded from a counter reset at every run, so a schedule's pauses are the same in each replay."""

    def __init__(self) -> None:
        self._count = 0

    def reset(self) -> None:
        self._count = 0

    def Random(self, *args: Any) -> random.Random:
        self._count += 1
        return random.Random(self._count)


class _Discard:
    """Powertools' metrics print to stdout; a simulated run has thousands of invocations."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
