"""Lambda's asynchronous Invoke, as the provider meets it when it hands a request to its next invocation.

The provider invokes its own function with ``InvocationType=Event`` (provider continuation.py). Lambda
answers 202 with an empty body once the event is queued ("Asynchronous invocation": "Lambda places the
event in a queue and returns a success response without additional information"), then runs the function
with it in a new invocation: a fresh execution environment's timeout, the event as sent. Here the event is
queued in the emulator's process and the local CloudFormation stand-in (local_aws.stack) or the benchmark
takes it from the queue (``LocalControl().take_invocations()``) and runs the handler with it, as Lambda's
queue would.

Never kinder than Lambda: an asynchronous payload is refused over 1 MB (Invoke API reference: "For
asynchronous invocations, the maximum payload size is 1 MB"; read as 1,000,000 bytes, the smaller) with
Lambda's RequestEntityTooLargeException and 413, and a synchronous or DryRun invocation is refused (the
provider never makes one; moto's own would start Docker). A queued event is delivered once here; Lambda
"occasionally" delivers one more than once "even if no error occurs" (same page), which the provider's
answer marker handles (tests/provider/test_continuation.py delivers one twice).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

import moto.awslambda.urls as moto_lambda_urls

ASYNC_PAYLOAD_LIMIT_BYTES = 1_000_000
_lock = threading.Lock()
_queue: list[dict[str, Any]] = []
# Invocations to refuse next, as Lambda refuses them: (HTTP status, error code), one per invocation.
_refusals: list[tuple[int, str]] = []


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"Type": "User", "message": message})


def invoke(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    with _lock:
        refusal = _refusals.pop(0) if _refusals else None
    if refusal is not None:
        return _error(refusal[0], refusal[1], "Injected by the emulator (refuse_invocations)")
    kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if kind != "Event":
        return _error(
            400,
            "InvalidParameterValueException",
            f"The emulator only runs asynchronous invocations, not {kind}",
        )
    body = getattr(request, "data", None)
    if body is None:
        body = getattr(request, "body", b"") or b""
    if isinstance(body, str):
        body = body.encode()
    if len(body) > ASYNC_PAYLOAD_LIMIT_BYTES:
        return _error(
            413,
            "RequestEntityTooLargeException",
            f"{len(body)} byte payload is too large for the Event invocation type (limit "
            f"{ASYNC_PAYLOAD_LIMIT_BYTES} bytes)",
        )
    path = urllib.parse.urlsplit(full_url).path
    function = urllib.parse.unquote(path.split("/functions/", 1)[-1].rsplit("/invocations", 1)[0])
    with _lock:
        _queue.append({"function": function, "payload": json.loads(body or b"{}")})
    return 202, {"x-amzn-RequestId": "local"}, ""


def take(request_id: str | None = None) -> list[dict[str, Any]]:
    """Queued invocations (all, or those whose event has RequestId ``request_id``), removed from the queue."""
    with _lock:
        taken = [
            item for item in _queue if request_id is None or item["payload"].get("RequestId") == request_id
        ]
        _queue[:] = [item for item in _queue if item not in taken]
    return taken


def refuse(count: int, code: str = "TooManyRequestsException", status: int = 429) -> None:
    """Refuse the next ``count`` invocations with Lambda's ``code`` (429 TooManyRequestsException: the
    function's concurrency or the account's invocation rate; 500 ServiceException)."""
    with _lock:
        _refusals.extend([(status, code)] * count)


def reset() -> None:
    with _lock:
        _queue.clear()
        _refusals.clear()


def install() -> None:
    for pattern in list(moto_lambda_urls.url_paths):
        if pattern.endswith("/invocations/?$"):
            moto_lambda_urls.url_paths[pattern] = invoke
