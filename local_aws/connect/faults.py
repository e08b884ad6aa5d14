"""Transient faults any operation of the services the provider calls (Connect, DynamoDB, CloudFormation) can
answer with: the brown-outs botocore's standard retry mode retries (botocore/retries/standard.py,
TransientRetryableChecker), answered as AWS's front ends answer them.

* An error with a code, in the service's protocol: InternalFailure (500) and ServiceUnavailable (503) are the
  common errors of every AWS query and JSON API ("Common Errors" in the Amazon Connect, AWS CloudFormation and
  Amazon DynamoDB API references), RequestTimeout, RequestTimeoutException and PriorRequestNotComplete the
  other codes botocore retries (at the status a test gives; 400 by default, the harsher reading: a client
  that only looked at statuses would not retry them).
* A page with no error code: a load balancer's or proxy's 502 or 504 (the HTML Elastic Load Balancing
  answers with, "HTTP 502: Bad gateway" in its troubleshooting guide), which botocore parses to the status
  alone.
* A dropped connection: the request is read and the connection reset without an answer (on the emulator's
  server); in process, under ``mock_aws``, botocore's ConnectionClosedError is raised where the answer would
  have come from, which is what botocore raises for a dropped connection on the wire.

``inject(service, operation, fault, count=...)`` queues one; each service's dispatch takes them in order
(``take``) before it serves the operation, which is then not served at all (a dropped connection included:
the harsher reading of a reset, a request that may or may not have arrived, is the other one a test can
choose with ``served=True``: served, then the answer lost).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import moto.cloudformation.urls as moto_cloudformation_urls
from botocore.exceptions import ConnectionClosedError
from moto.cloudformation.responses import CloudFormationResponse

from .runtime import EMULATOR_LOCK, runtime

SERVICES = ("connect", "dynamodb", "cloudformation")
# Codes with a status of their own; the rest of botocore's transient codes default to 400.
CODED_FAULTS = {
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "RequestTimeout": 400,
    "RequestTimeoutException": 400,
    "PriorRequestNotComplete": 400,
}
PAGE_STATUSES = (500, 502, 503, 504)
CONNECTION_RESET = "connection-reset"
# Elastic Load Balancing's own error page (the body it sends with a 502 or 504 it generates).
_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


@dataclass
class TransientFault:
    status: int | None  # None: the connection is dropped
    code: str | None  # None: a page with no error code
    served: bool  # the operation is served before the answer is lost (a dropped connection only)
    remaining: int


def parse(fault: str, status: int | None = None) -> tuple[int | None, str | None]:
    """``fault``: an error code of CODED_FAULTS, "page" (a 502 unless ``status`` says which), or
    CONNECTION_RESET. ValueError for anything else."""
    if fault == CONNECTION_RESET:
        if status is not None:
            raise ValueError("a dropped connection has no status")
        return None, None
    if fault == "page":
        status = 502 if status is None else status
        if status not in PAGE_STATUSES:
            raise ValueError(f"a page with no error code is one of HTTP {PAGE_STATUSES}, not {status}")
        return status, None
    if fault not in CODED_FAULTS:
        raise ValueError(f"fault must be one of {sorted(CODED_FAULTS)}, 'page' or {CONNECTION_RESET!r}")
    status = CODED_FAULTS[fault] if status is None else status
    if not 400 <= status <= 599:
        raise ValueError(f"an error's status is 4xx or 5xx, not {status}")
    return status, fault


def inject(
    service: str,
    operation: str,
    fault: str,
    *,
    status: int | None = None,
    count: int = 1,
    served: bool = False,
) -> None:
    if service not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}")
    if count < 1:
        raise ValueError("count must be at least 1")
    answer_status, code = parse(fault, status)
    if served and answer_status is not None:
        raise ValueError("served=True is for a dropped connection: an error answer means nothing was done")
    with EMULATOR_LOCK:
        runtime.transient_faults.setdefault((service, operation), deque()).append(
            TransientFault(answer_status, code, served, count)
        )


def take(service: str, operation: str) -> TransientFault | None:
    with EMULATOR_LOCK:
        queue = runtime.transient_faults.get((service, operation))
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            queue.popleft()
        runtime.faults_met.append(
            {"service": service, "operation": operation, "fault": name(fault), "served": fault.served}
        )
        return fault


def name(fault: TransientFault) -> str:
    """How the log names a fault: its code, the page's status, or CONNECTION_RESET."""
    if fault.status is None:
        return CONNECTION_RESET
    return fault.code or str(fault.status)


def answer(service: str, fault: TransientFault, request: Any) -> tuple[int, dict[str, str], str]:
    """The response for ``fault`` (status, headers, body). A dropped connection is dropped here: on a server
    what is returned is then written to nobody; in process, botocore's error is raised instead."""
    if fault.status is None:
        drop(request)
        return 500, {}, ""
    if fault.code is None:
        page = _PAGE.format(status=fault.status, reason=_REASONS[fault.status])
        return fault.status, {"Content-Type": "text/html", "Server": "awselb/2.0"}, page
    message = f"Injected {fault.code}"
    if service == "cloudformation":
        body = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<Error><Type>Receiver</Type><Code>{fault.code}</Code><Message>{message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        )
        return fault.status, {"Content-Type": "text/xml"}, body
    if service == "dynamodb":
        body = json.dumps({"__type": f"com.amazon.coral.service#{fault.code}", "message": message})
        return fault.status, {"Content-Type": "application/x-amz-json-1.0"}, body
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": fault.code}
    return fault.status, headers, json.dumps({"message": message})


def drop(request: Any) -> None:
    """Reset the connection ``request`` came on, without an answer (the server's handler then finds it
    gone and writes nothing); in process, where there is no connection, raise botocore's own error for a
    connection closed without an answer."""
    environ = getattr(request, "environ", None) or {}
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionClosedError(endpoint_url=str(getattr(request, "url", "")))
    with contextlib.suppress(OSError):
        # Linger 0: the close that follows resets the connection instead of ending it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)


def serving(service: str, operation: str, request: Any, serve: Any) -> tuple[int, dict[str, str], str]:
    """``serve()``'s answer, unless a fault is queued for the operation: then the fault's (after serving it,
    for a connection dropped once the request was served)."""
    fault = take(service, operation) if operation else None
    if fault is None:
        return serve()
    if fault.served:
        serve()
    return answer(service, fault, request)


def _cloudformation_action(request: Any) -> str:
    # A Query API: the operation is the Action parameter, in the form-encoded body (or the query string).
    # get_data caches the body, which moto's own form parsing then reads again.
    action = getattr(request, "args", {}).get("Action")
    if action:
        return str(action)
    data = request.get_data(cache=True) if hasattr(request, "get_data") else getattr(request, "body", b"")
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return (parse_qs(data or "").get("Action") or [""])[0]


def _cloudformation_dispatch(dispatch: Any) -> Any:
    def serve(request: Any, full_url: str, headers: Any) -> Any:
        action = _cloudformation_action(request)
        return serving("cloudformation", action, request, lambda: dispatch(request, full_url, headers))

    serve.__wrapped__ = dispatch  # type: ignore[attr-defined]
    return serve


def install() -> None:
    """Put CloudFormation's dispatch behind the faults (Connect's and DynamoDB's take theirs in their own
    dispatch: responses.py, dynamodb.py). Once per process, before the first request builds its routes."""
    for path, dispatch in list(moto_cloudformation_urls.url_paths.items()):
        if dispatch == CloudFormationResponse.dispatch:  # a bound classmethod: made anew each time
            moto_cloudformation_urls.url_paths[path] = _cloudformation_dispatch(dispatch)
