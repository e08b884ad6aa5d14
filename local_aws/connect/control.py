"""Test-side control of the emulator: timing, rate limits, faults, logs and seeding.

``LocalControl()`` acts on the emulator in this process (``mock_aws`` or a server thread here).
``HttpControl(endpoint_url)`` makes the same calls on a server-mode emulator through its control
endpoint, which lives under moto's own prefix:

    POST {endpoint_url}/moto-api/connect-emulator/<method>
    body: JSON object of the method's keyword arguments
    200 -> {"result": <return value>}; 400 -> {"error": "<message>", "type": "<exception class>"}

e.g. ``curl -X POST localhost:4599/moto-api/connect-emulator/configure -d '{"move_seconds": 0.2}'``.
Data is reset with moto's own ``POST /moto-api/reset``; ``reset()`` here resets the knobs and logs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from . import dynamodb, faults, lambda_async, played_stacks
from .exceptions import ConnectError
from .models import TDG_RESOURCE, parse_arn, phone_number_backends, validate_tdg_status
from .runtime import EMULATOR_LOCK, runtime

CONTROL_PREFIX = "/moto-api/connect-emulator/"
EMPTY_FLOW_CONTENT = json.dumps({"Version": "2019-10-30", "StartAction": "", "Actions": []})
CONTROL_METHODS = frozenset(
    {
        "configure",
        "set_rate_limit",
        "use_default_quotas",
        "rate_limits",
        "set_traffic_distribution_group_status",
        "inject_error",
        "inject_dynamodb_error",
        "inject_fault",
        "faults_met",
        "service_calls",
        "fail_next_move",
        "calls",
        "moves",
        "reset",
        "seed",
        "play_stack",
        "inject_cloudformation_error",
        "set_phone_number_quota",
        "take_invocations",
        "refuse_invocations",
    }
)


class LocalControl:
    def configure(
        self,
        *,
        move_seconds: float | None = None,
        stale_seconds: float | None = None,
        tag_visibility_seconds: float | None = None,
        latency_seconds: float | None = None,
        failed_stale_seconds: float | None = None,
        throttling_error: str | None = None,
        omit_instance_id: bool | None = None,
    ) -> None:
        """Timing of later moves and tag writes; None leaves a knob as it is, reset() restores the defaults.

        ``failed_stale_seconds``: after an UpdatePhoneNumber on a number whose status is FAILED, Describe (and
        ListPhoneNumbersV2) keep showing that FAILED, on its old target with its message, for this long, even
        past the end of the new move (default 0: only the ordinary ``stale_seconds`` window, which a move's
        length caps).
        ``throttling_error``: what a rate limit answers, ThrottlingException (default) or
        TooManyRequestsException.
        ``omit_instance_id``: DescribePhoneNumber and ListPhoneNumbersV2 leave out InstanceId (the API
        reference says "Required: No"; default False).

        ``tag_visibility_seconds``: a TagResource/UntagResource accepted at t shows in DescribePhoneNumber's
        Tags and ListTagsForResource from t + this on, to every reader, in acceptance order (default 0).
        ``latency_seconds``: every Connect call answers this long after it was served (default 0).
        """
        runtime.configure(
            latency_seconds=latency_seconds,
            move_seconds=move_seconds,
            stale_seconds=stale_seconds,
            tag_visibility_seconds=tag_visibility_seconds,
            failed_stale_seconds=failed_stale_seconds,
            throttling_error=throttling_error,
            omit_instance_id=omit_instance_id,
        )

    def set_rate_limit(self, operation: str, per_second: float | None, burst: int | None = None) -> None:
        runtime.set_rate_limit(operation, per_second, burst)

    def on_move_settled(self, callback: Callable[[str], None]) -> None:
        """In this process only: ``callback(phone_number_arn)`` when a claim or move completes.

        Called at the first read that shows the completion, before that read answers (so before any caller
        can learn of it), under the emulator's lock: keep it short. reset() forgets it. Tests use it to move
        a clock on at that moment (local_aws.clock.VirtualClock.advance).
        """
        with EMULATOR_LOCK:
            runtime.settled_observers.append(callback)

    def use_clock(self, clock: Any | None) -> None:
        """In this process only: the service's time comes from ``clock`` (a local_aws.clock.VirtualClock, to
        share one clock with the provider and Lambda's deadline), or from the real clock again with None.

        Moves, stale windows, tag visibility, quotas and latency all follow it. reset() keeps it.
        """
        runtime.use_clock(clock)

    def use_default_quotas(self) -> None:
        """Limit every operation in runtime.DEFAULT_QUOTAS to Connect's default rate and burst."""
        runtime.use_default_quotas()

    def rate_limits(self) -> dict[str, list[float]]:
        """The limits in force: operation -> [per_second, burst]."""
        return {op: [rate, burst] for op, (rate, burst) in runtime.rate_limits_in_force().items()}

    def set_traffic_distribution_group_status(
        self, tdg: str, status: str, account_id: str | None = None, region: str | None = None
    ) -> None:
        """Pin a traffic distribution group (ID or ARN) to a Connect TrafficDistributionGroupStatus value.

        The account and Region default to the ARN's, else moto's default account and us-east-1.
        """
        validate_tdg_status(status)
        if tdg.startswith("arn:"):
            arn_region, arn_account, _ = parse_arn(tdg)
            account_id, region = account_id or arn_account, region or arn_region
        with EMULATOR_LOCK:
            backend = phone_number_backends[account_id or DEFAULT_ACCOUNT_ID][region or "us-east-1"]
            try:
                group = backend.get_traffic_distribution_group(tdg)
            except ConnectError as error:
                raise ValueError(error.message) from None
            group.pinned_status = status

    def set_phone_number_quota(
        self,
        quota: int | None,
        *,
        instance_id: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
    ) -> None:
        """The quota "Phone numbers per instance" (default 5, a new account's): for the account and Region,
        or for one instance (ID or ARN) only; None for an instance drops its own value. A move onto an
        instance (or one of its groups) already holding that many numbers is accepted and ends FAILED.
        Seeding ignores it: a world may start over quota. Moto's reset restores the default."""
        if quota is not None and quota < 0:
            raise ValueError("quota must not be negative")
        if quota is None and instance_id is None:
            raise ValueError("the account's quota needs a value; None only drops one instance's own")
        with EMULATOR_LOCK:
            backend = phone_number_backends[account_id or DEFAULT_ACCOUNT_ID][region or "us-east-1"]
            if instance_id is None:
                backend.phone_numbers_per_instance = int(quota)  # type: ignore[arg-type]
                return
            try:
                instance = backend.get_instance(instance_id)
            except ConnectError as error:
                raise ValueError(error.message) from None
            if quota is None:
                backend.instance_phone_number_quotas.pop(instance.id, None)
            else:
                backend.instance_phone_number_quotas[instance.id] = int(quota)

    def inject_error(self, operation: str, code: str, *, count: int = 1, message: str | None = None) -> None:
        runtime.inject_error(operation, code, count=count, message=message)

    def fail_next_move(self, message: str, *, count: int = 1) -> None:
        runtime.fail_next_move(message, count=count)

    def inject_dynamodb_error(
        self,
        operation: str,
        code: str | None,
        *,
        count: int = 1,
        message: str | None = None,
        latency_seconds: float = 0.0,
    ) -> None:
        """The next ``count`` DynamoDB ``operation`` calls (e.g. UpdateItem) answer ``code`` (None: they
        succeed), each after ``latency_seconds`` of the emulator's clock."""
        dynamodb.inject(operation, code, count=count, message=message, latency_seconds=latency_seconds)

    def inject_fault(
        self,
        service: str,
        operation: str,
        fault: str,
        *,
        status: int | None = None,
        count: int = 1,
        served: bool = False,
    ) -> None:
        """The next ``count`` calls of ``operation`` of ``service`` (connect, dynamodb or cloudformation)
        meet a transient fault instead of the service (local_aws/connect/faults.py): ``fault`` is an error
        code (InternalFailure, ServiceUnavailable, RequestTimeout, RequestTimeoutException,
        PriorRequestNotComplete; ``status`` overrides its own), "page" (a load balancer's page with no error
        code, HTTP 502 unless ``status`` says 500, 503 or 504), or "connection-reset" (the connection is
        dropped without an answer; ``served=True``: after the operation was served)."""
        faults.inject(service, operation, fault, status=status, count=count, served=served)

    def faults_met(self) -> list[dict[str, Any]]:
        """Every injected transient fault a call met, in order: service, operation, fault (its code, the
        page's status, or "connection-reset"), served."""
        with EMULATOR_LOCK:
            return [dict(met) for met in runtime.faults_met]

    def inject_cloudformation_error(
        self, action: str, code: str, *, count: int = 1, message: str | None = None
    ) -> None:
        """The next ``count`` calls of a CloudFormation read (DescribeStacks, DescribeStackEvents, ...)
        answer ``code`` (Throttling: CloudFormation's rate limit)."""
        played_stacks.inject(action, code, count=count, message=message)

    def service_calls(self) -> dict[str, int]:
        """DynamoDB and CloudFormation calls served since the last reset, by "service:Operation" (Connect's
        are in ``calls()``)."""
        with EMULATOR_LOCK:
            return dict(runtime.service_calls)

    def calls(self) -> list[dict[str, Any]]:
        return runtime.calls()

    def moves(self) -> list[dict[str, Any]]:
        return runtime.moves()

    def reset(self) -> None:
        runtime.reset()
        played_stacks.forget_injections()
        lambda_async.reset()

    def take_invocations(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """Lambda's asynchronous invocations queued since (lambda_async.py), taken off the queue: each
        {"function": name or ARN, "payload": the event}."""
        return lambda_async.take(request_id)

    def refuse_invocations(
        self, count: int, code: str = "TooManyRequestsException", status: int = 429
    ) -> None:
        """Lambda refuses the next ``count`` invocations (lambda_async.refuse)."""
        lambda_async.refuse(count, code, status)

    def seed(self, world: dict[str, Any]) -> dict[str, Any]:
        return seed_world(world)

    def play_stack(
        self,
        stack_id: str,
        *,
        stack_status: str | None = None,
        logical_id: str | None = None,
        resource_status: str | None = None,
        physical_id: str | None = None,
        resource_type: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        """What CloudFormation knows about a stack the local stand-in plays (played_stacks.py): the stack's
        status (and parent stack, for a nested one) and/or one resource's status, physical ID and type
        (Custom::PhoneNumberAssignment unless given), as DescribeStacks/DescribeStackResource(s),
        ListStackResources and DescribeStackEvents say."""
        played_stacks.play(
            stack_id,
            stack_status=stack_status,
            logical_id=logical_id,
            resource_status=resource_status,
            physical_id=physical_id,
            resource_type=resource_type,
            parent_id=parent_id,
        )


def seed_world(world: dict[str, Any]) -> dict[str, Any]:
    """Create resources with the world's fixed IDs; numbers are CLAIMED at once. Returns their ARNs.

    Re-seeding the same world is harmless: existing resources with those IDs are replaced.
    """
    account_id = world.get("account_id", DEFAULT_ACCOUNT_ID)
    region = world.get("region", "us-east-1")
    arns: dict[str, dict[str, str]] = {
        "instances": {},
        "traffic_distribution_groups": {},
        "contact_flows": {},
        "phone_numbers": {},
    }
    with EMULATOR_LOCK:
        backend = phone_number_backends[account_id][region]
        for spec in world.get("instances", []):
            instance = backend.seed_instance(spec["id"], spec.get("alias"))
            arns["instances"][instance.id] = instance.arn
        for spec in world.get("traffic_distribution_groups", []):
            tdg = backend.create_traffic_distribution_group(
                name=spec.get("name", spec["id"]),
                instance_id=spec["instance_id"],
                description=spec.get("description"),
                tags=spec.get("tags"),
                tdg_id=spec["id"],
                status=spec.get("status", "ACTIVE"),
            )
            arns["traffic_distribution_groups"][tdg.id] = tdg.arn
        for spec in world.get("contact_flows", []):
            flow = backend.create_contact_flow(
                instance_id=spec["instance_id"],
                name=spec.get("name", spec["id"]),
                flow_type=spec.get("type", "CONTACT_FLOW"),
                content=spec.get("content", EMPTY_FLOW_CONTENT),
                description=spec.get("description"),
                tags=spec.get("tags"),
                flow_id=spec["id"],
                status=spec.get("status"),
                state=spec.get("state"),
            )
            arns["contact_flows"][flow.id] = flow.arn
        for spec in world.get("phone_numbers", []):
            target_ref = spec["target"]
            if target_ref.startswith("arn:"):
                is_tdg = bool(TDG_RESOURCE.match(parse_arn(target_ref)[2]))
            else:
                is_tdg = target_ref in backend.traffic_distribution_groups
            # Seeding sets up any state: a number may sit on a group that is not ACTIVE, carry aws: tags.
            if is_tdg:
                tdg_arn = backend.get_traffic_distribution_group(target_ref).arn
                target = backend.resolve_target(tdg_arn, None, require_active=False)
            else:
                target = backend.resolve_target(None, target_ref)
            number = backend.claim_phone_number(
                spec["phone_number"],
                target,
                spec.get("description"),
                spec.get("tags"),
                phone_number_id=spec["id"],
                claimed_immediately=True,
            )
            if spec.get("contact_flow_id"):
                backend.associate_contact_flow(number, target.instance_id, spec["contact_flow_id"])
            arns["phone_numbers"][number.id] = number.arn
    return arns


class HttpControl:
    def __init__(self, endpoint_url: str, *, timeout: float = 10.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, **kwargs: Any) -> Any:
        if not self.endpoint_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint_url must be http(s): {self.endpoint_url}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            f"{self.endpoint_url}{CONTROL_PREFIX}{method}",
            data=json.dumps(kwargs).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read())
            except ValueError:
                raise RuntimeError(f"{method} failed with HTTP {error.code}") from error
            if detail.get("type") == "ValueError":
                raise ValueError(detail.get("error")) from None
            raise RuntimeError(f"{method} failed: {detail.get('type')}: {detail.get('error')}") from None

    def configure(
        self,
        *,
        move_seconds: float | None = None,
        stale_seconds: float | None = None,
        tag_visibility_seconds: float | None = None,
        latency_seconds: float | None = None,
        failed_stale_seconds: float | None = None,
        throttling_error: str | None = None,
        omit_instance_id: bool | None = None,
    ) -> None:
        self._call(
            "configure",
            latency_seconds=latency_seconds,
            move_seconds=move_seconds,
            stale_seconds=stale_seconds,
            tag_visibility_seconds=tag_visibility_seconds,
            failed_stale_seconds=failed_stale_seconds,
            throttling_error=throttling_error,
            omit_instance_id=omit_instance_id,
        )

    def set_rate_limit(self, operation: str, per_second: float | None, burst: int | None = None) -> None:
        self._call("set_rate_limit", operation=operation, per_second=per_second, burst=burst)

    def use_default_quotas(self) -> None:
        self._call("use_default_quotas")

    def rate_limits(self) -> dict[str, list[float]]:
        return self._call("rate_limits")

    def set_traffic_distribution_group_status(
        self, tdg: str, status: str, account_id: str | None = None, region: str | None = None
    ) -> None:
        self._call(
            "set_traffic_distribution_group_status",
            tdg=tdg,
            status=status,
            account_id=account_id,
            region=region,
        )

    def set_phone_number_quota(
        self,
        quota: int | None,
        *,
        instance_id: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
    ) -> None:
        self._call(
            "set_phone_number_quota",
            quota=quota,
            instance_id=instance_id,
            account_id=account_id,
            region=region,
        )

    def inject_error(self, operation: str, code: str, *, count: int = 1, message: str | None = None) -> None:
        self._call("inject_error", operation=operation, code=code, count=count, message=message)

    def fail_next_move(self, message: str, *, count: int = 1) -> None:
        self._call("fail_next_move", message=message, count=count)

    def inject_dynamodb_error(
        self,
        operation: str,
        code: str | None,
        *,
        count: int = 1,
        message: str | None = None,
        latency_seconds: float = 0.0,
    ) -> None:
        self._call(
            "inject_dynamodb_error",
            operation=operation,
            code=code,
            count=count,
            message=message,
            latency_seconds=latency_seconds,
        )

    def inject_fault(
        self,
        service: str,
        operation: str,
        fault: str,
        *,
        status: int | None = None,
        count: int = 1,
        served: bool = False,
    ) -> None:
        self._call(
            "inject_fault",
            service=service,
            operation=operation,
            fault=fault,
            status=status,
            count=count,
            served=served,
        )

    def faults_met(self) -> list[dict[str, Any]]:
        return self._call("faults_met")

    def inject_cloudformation_error(
        self, action: str, code: str, *, count: int = 1, message: str | None = None
    ) -> None:
        self._call("inject_cloudformation_error", action=action, code=code, count=count, message=message)

    def service_calls(self) -> dict[str, int]:
        return self._call("service_calls")

    def calls(self) -> list[dict[str, Any]]:
        return self._call("calls")

    def moves(self) -> list[dict[str, Any]]:
        return self._call("moves")

    def reset(self) -> None:
        self._call("reset")

    def take_invocations(self, request_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("take_invocations", request_id=request_id)

    def refuse_invocations(
        self, count: int, code: str = "TooManyRequestsException", status: int = 429
    ) -> None:
        self._call("refuse_invocations", count=count, code=code, status=status)

    def seed(self, world: dict[str, Any]) -> dict[str, Any]:
        return self._call("seed", world=world)

    def play_stack(
        self,
        stack_id: str,
        *,
        stack_status: str | None = None,
        logical_id: str | None = None,
        resource_status: str | None = None,
        physical_id: str | None = None,
        resource_type: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self._call(
            "play_stack",
            stack_id=stack_id,
            stack_status=stack_status,
            logical_id=logical_id,
            resource_status=resource_status,
            physical_id=physical_id,
            resource_type=resource_type,
            parent_id=parent_id,
        )


def control_endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """Serves HttpControl: runs the named LocalControl method in the server process."""
    json_headers = {"Content-Type": "application/json"}
    method = request.path[len(CONTROL_PREFIX) :] if request.path.startswith(CONTROL_PREFIX) else ""
    if request.method != "POST" or method not in CONTROL_METHODS:
        return 404, json_headers, json.dumps({"error": f"No control method {method!r}", "type": "NotFound"})
    try:
        kwargs = json.loads(request.data or b"{}")
        result = getattr(LocalControl(), method)(**kwargs)
    except (ValueError, TypeError, KeyError) as error:
        return 400, json_headers, json.dumps({"error": str(error), "type": type(error).__name__})
    except Exception as error:  # noqa: BLE001 - e.g. a seed naming a missing instance: report, don't 500 blindly
        return 400, json_headers, json.dumps({"error": str(error), "type": type(error).__name__})
    return 200, json_headers, json.dumps({"result": result})


CONTROL_URL_PATHS = {
    "{0}/moto-api/connect-emulator/(?P<control_method>[a-z_]+)$": control_endpoint,
}
