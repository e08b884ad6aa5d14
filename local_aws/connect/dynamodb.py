"""moto's DynamoDB as the provider meets it: one request at a time, with injected faults, calls counted.

DynamoDB applies each single-item write atomically, its condition included ("conditional writes": "the
write succeeds only if the condition is met ... atomically", DynamoDB Developer Guide, "Condition
expressions"; UpdateItem "edits an existing item's attributes, or adds a new item ... you can perform a
conditional update"). moto checks a condition and writes in Python, where two server threads can
interleave, so that two callers could both pass the same condition (a lost update, kinder in no way but
not AWS either): its requests are served one at a time here, as the service's per-item atomicity implies.

Tests and the benchmark make DynamoDB fail or slow down for one operation (``inject_dynamodb_error``),
with the codes DynamoDB has (botocore's service model), answered as the service answers them (``__type``
with the service's prefix): throttling (ProvisionedThroughputExceededException, ThrottlingException),
internal errors, and latency longer than a client's timeout.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto.dynamodb.urls as moto_dynamodb_urls
from botocore.loaders import Loader

from . import faults
from .runtime import EMULATOR_LOCK, runtime

# One at a time: see the module docstring. Apart from the Connect emulator's lock, so that a slow
# DynamoDB answer (injected latency) never holds up Connect.
DYNAMODB_LOCK = threading.RLock()
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


@functools.cache
def _error_status_codes() -> dict[str, int]:
    model = Loader().load_service_model("dynamodb", "service-2")
    codes = {
        name: shape["error"].get("httpStatusCode", 400) if "error" in shape else 400
        for name, shape in model["shapes"].items()
        if shape.get("exception")
    }
    # The service's own 500 is not modelled as a shape; botocore retries it by status.
    codes.setdefault("InternalServerError", 500)
    return codes


def status_code_for(code: str) -> int:
    try:
        return _error_status_codes()[code]
    except KeyError:
        raise ValueError(f"DynamoDB has no error called {code!r}") from None


@dataclass
class DynamoDbFault:
    code: str | None  # None: no error, only latency
    message: str
    remaining: int
    latency_seconds: float


def inject(
    operation: str,
    code: str | None,
    *,
    count: int = 1,
    message: str | None = None,
    latency_seconds: float = 0.0,
) -> None:
    if code is not None:
        status_code_for(code)
    if count < 1:
        raise ValueError("count must be at least 1")
    if latency_seconds < 0:
        raise ValueError("latency_seconds must not be negative")
    with EMULATOR_LOCK:
        runtime.dynamodb_faults.setdefault(operation, deque()).append(
            DynamoDbFault(code, message or f"Injected {code} for {operation}", count, latency_seconds)
        )


def _take_fault(operation: str) -> DynamoDbFault | None:
    runtime.count_call("dynamodb", operation)
    with EMULATOR_LOCK:
        queue = runtime.dynamodb_faults.get(operation)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            queue.popleft()
        return fault


def _serialised(dispatch: Callable[..., Any]) -> Callable[..., Any]:
    def serve(request: Any, full_url: str, headers: Any) -> Any:
        target = str(headers.get("X-Amz-Target", "") if headers is not None else "")
        operation = target.rsplit(".", 1)[-1]
        fault = _take_fault(operation) if operation else None
        if fault is not None:
            if fault.latency_seconds:
                runtime.clock.sleep(fault.latency_seconds)
            if fault.code is not None:
                body = json.dumps({"__type": ERROR_PREFIX + fault.code, "message": fault.message})
                return status_code_for(fault.code), {"Content-Type": "application/x-amz-json-1.0"}, body
        with DYNAMODB_LOCK:
            return faults.serving(
                "dynamodb", operation, request, lambda: dispatch(request, full_url, headers)
            )

    serve.__wrapped__ = dispatch  # type: ignore[attr-defined]
    return serve


def install() -> None:
    """Wrap moto's DynamoDB dispatch (once per process, before the first request builds its routes)."""
    for path, dispatch in list(moto_dynamodb_urls.url_paths.items()):
        if not hasattr(dispatch, "__wrapped__"):
            moto_dynamodb_urls.url_paths[path] = _serialised(dispatch)
