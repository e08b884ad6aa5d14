"""A local stand-in for the CloudFormation side of the custom-resource protocol.

CloudFormation does two things a provider can observe: it invokes the function with an event, and it
waits for one JSON document PUT to a presigned S3 URL. ``build_event`` produces the former byte-for-byte
in shape; ``ResponseReceiver`` plays the presigned URL over real HTTPS (so the provider's unmodified
``ssl.create_default_context()`` path is exercised) and can misbehave on demand for reliability tests.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import http.server
import json
import os
import secrets
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from local_aws.clock import REAL_CLOCK
from local_aws.lambda_context import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LambdaContext

if TYPE_CHECKING:
    import trustme

RESOURCE_TYPE = "Custom::PhoneNumberAssignment"
DEFAULT_STACK_NAME = "phone-number-consumer"
DEFAULT_SERVICE_TOKEN = (
    f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:function:"
    "phone-number-assignment-ProviderFunction-Q7X2K9PLM4TZ"
)
# CloudFormation rejects a response document larger than this ("Response object is too long").
MAX_RESPONSE_BYTES = 4096
REQUEST_TYPES = ("Create", "Update", "Delete")
BEHAVIOURS = ("accept", "refuse", "hang", "error", "page", "reset")
# What S3 answers a PUT with at these statuses (its error codes); "page" answers with no code at all.
S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}
_PAGE_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}
CLOSE_GRACE_SECONDS = 2.0


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


def stringify_properties(value: Any) -> Any:
    """Apply CloudFormation's property coercion: every scalar reaches the provider as a string.

    A template's ``Port: 443`` or ``Enabled: true`` arrives as ``"443"`` / ``"true"``; providers that
    compare against ints or bools work in unit tests and break in a real stack, so the stand-in coerces.
    ``None`` keys are dropped because CloudFormation never sends a null property (AWS::NoValue removes it).
    """
    if isinstance(value, Mapping):
        return {str(k): stringify_properties(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [stringify_properties(v) for v in value if v is not None]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stack_arn(
    stack_name: str = DEFAULT_STACK_NAME,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_uuid: str | None = None,
) -> str:
    return f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid or uuid.uuid4()}"


def _region_of(stack_id: str) -> str:
    parts = stack_id.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else DEFAULT_REGION


def presigned_style_url(
    base: str,
    stack_id: str,
    logical_id: str,
    request_id: str,
    *,
    signature: str | None = None,
    signed_at: float | None = None,
) -> str:
    """A URL shaped like CloudFormation's presigned S3 response URL, rooted at ``base``.

    The object key is ``<quoted stack ARN>|<logical id>|<request id>`` with the stack ARN's slashes left
    literal, and the SigV4 query-string parameters follow in the order CloudFormation emits them, so
    code that parses or re-encodes the URL meets the same string it would in AWS. ``signed_at`` (epoch
    seconds, default now) is the X-Amz-Date, which the provider reads as the time of the request.
    """
    now = dt.datetime.fromtimestamp(signed_at, dt.UTC) if signed_at is not None else dt.datetime.now(dt.UTC)
    region = _region_of(stack_id)
    key = quote(f"{stack_id}|{logical_id}|{request_id}", safe="/")
    # Not shaped like an access key ID (AKIA…/ASIA…), so secret scanners and people are not alarmed.
    credential = quote(f"LOCAL-{secrets.token_hex(8).upper()}/{now:%Y%m%d}/{region}/s3/aws4_request", safe="")
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={now:%Y%m%dT%H%M%SZ}&X-Amz-SignedHeaders=host"
        f"&X-Amz-Expires=7199&X-Amz-Credential={credential}"
        f"&X-Amz-Signature={signature or secrets.token_hex(32)}"
    )
    return f"{base.rstrip('/')}/{key}?{query}"


def placeholder_response_url(stack_id: str, logical_id: str, request_id: str) -> str:
    """A realistic but unreachable-by-design ResponseURL for sample events."""
    region = _region_of(stack_id).replace("-", "")
    base = f"https://cloudformation-custom-resource-response-{region}.s3.amazonaws.com"
    return presigned_style_url(base, stack_id, logical_id, request_id)


ResponseUrl = str | Callable[..., str]


def build_event(
    request_type: str,
    *,
    properties: Mapping[str, Any],
    response_url: ResponseUrl,
    logical_id: str = "MainLine",
    stack_id: str | None = None,
    physical_id: str | None = None,
    old_properties: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    resource_type: str = RESOURCE_TYPE,
    service_token: str = DEFAULT_SERVICE_TOKEN,
    service_timeout: int | None = None,
    sent_at: float | None = None,
) -> dict[str, Any]:
    """The event CloudFormation sends a Lambda-backed custom resource.

    ``response_url`` may be a string or a callable ``(stack_id, request_id, logical_id=...) -> str`` such
    as ``ResponseReceiver.url_for``, because the URL embeds IDs this function generates.
    ``service_timeout`` becomes ResourceProperties.ServiceTimeout, as when the template sets it.
    ``sent_at`` (epoch seconds) is when CloudFormation sent it, passed to a callable ``response_url`` as
    ``signed_at`` (on a VirtualClock, the clock's time rather than the wall's).
    """
    if request_type not in REQUEST_TYPES:
        raise ValueError(f"request_type must be one of {REQUEST_TYPES}, not {request_type!r}")
    if request_type != "Create" and not physical_id:
        raise ValueError(f"a {request_type} event needs physical_id (CloudFormation always sends it)")
    if request_type == "Update" and old_properties is None:
        raise ValueError("an Update event needs old_properties (CloudFormation always sends them)")
    if "ServiceToken" in properties:
        raise ValueError("pass service_token=, not properties['ServiceToken']")

    stack_id = stack_id or stack_arn()
    request_id = request_id or str(uuid.uuid4())
    url = response_url
    if callable(response_url):
        signed = {"signed_at": sent_at} if sent_at is not None else {}
        url = response_url(stack_id, request_id, logical_id=logical_id, **signed)

    def resource_properties(props: Mapping[str, Any]) -> dict[str, Any]:
        # ServiceToken is itself a resource property, so CloudFormation repeats it inside the map.
        merged: dict[str, Any] = {"ServiceToken": service_token}
        if service_timeout is not None:
            merged["ServiceTimeout"] = service_timeout
        merged.update(copy.deepcopy(dict(props)))
        return stringify_properties(merged)

    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": url,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    event["ResourceType"] = resource_type
    event["ResourceProperties"] = resource_properties(properties)
    if request_type == "Update":
        assert old_properties is not None
        event["OldResourceProperties"] = resource_properties(old_properties)
    return event


def response_problems(
    event: Mapping[str, Any], body: Mapping[str, Any], *, raw_size: int | None = None
) -> list[str]:
    """What CloudFormation would reject in ``body`` as the answer to ``event`` (empty list: acceptable)."""
    problems = []
    if body.get("Status") not in ("SUCCESS", "FAILED"):
        problems.append(f"Status must be SUCCESS or FAILED, not {body.get('Status')!r}")
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if body.get(key) != event.get(key):
            problems.append(f"{key} {body.get(key)!r} does not match the request's {event.get(key)!r}")
    physical = body.get("PhysicalResourceId")
    if not isinstance(physical, str) or not physical:
        problems.append("PhysicalResourceId must be a non-empty string")
    elif len(physical.encode()) > 1024:
        problems.append("PhysicalResourceId is longer than 1 KB")
    if "Data" in body and not isinstance(body["Data"], Mapping):
        problems.append("Data must be a JSON object")
    size = raw_size if raw_size is not None else len(json.dumps(body).encode())
    if size > MAX_RESPONSE_BYTES:
        problems.append(f"response is {size} bytes; CloudFormation accepts at most {MAX_RESPONSE_BYTES}")
    return problems


# --------------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------------


def _certificate_authority(directory: str, hostnames: list[str]) -> tuple[str, trustme.LeafCert]:
    """A throwaway CA, written to ``directory`` as the file to trust, and a server certificate it signs.

    trustme's CA + leaf pair pass Python 3.13's VERIFY_X509_STRICT (CA basic constraints and key usage,
    authority and subject key identifiers), which a single self-signed leaf would not.
    """
    # Imported here: cryptography takes about 0.1 s to import, and most users of this module (events,
    # samples, the benchmarks' cold start) never start a receiver.
    import trustme

    authority = trustme.CA(organization_name="local_aws CloudFormation test CA")
    ca_file = os.path.join(directory, "receiver-ca.pem")
    authority.cert_pem.write_to_path(ca_file)
    return ca_file, authority.issue_cert(*hostnames)


# --------------------------------------------------------------------------------------------------
# Response receiver
# --------------------------------------------------------------------------------------------------


class ResponseNeverArrived(TimeoutError):
    """The provider did not PUT an accepted response for a request in time (CloudFormation would hang)."""


@dataclass(frozen=True)
class Attempt:
    """One HTTP request that reached the receiver, whatever the receiver then did with it."""

    request_id: str | None
    method: str
    target: str
    headers: dict[str, str]
    raw_body: bytes
    body: dict[str, Any] | None
    outcome: str  # "accepted", "error", "hung", "reset", "forbidden", "bad-request"
    status: int | None
    received_at: float


class _Server(http.server.ThreadingHTTPServer):
    # Non-daemon handler threads are tracked and joined by server_close(), which is what lets close()
    # promise that no thread outlives the receiver.
    daemon_threads = False
    block_on_close = True
    # 50 providers answering at once must not overflow the listen backlog (the default is 5).
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address, receiver: ResponseReceiver):
        self.receiver = receiver
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        self.receiver._serve_connection(request, client_address, self)

    def shutdown_request(self, request):
        # _serve_connection owns the socket (TLS wrapping detaches the original object).
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request, client_address):
        # A client dropping mid-request is routine in fault tests; don't spray tracebacks on stderr.
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"
    sys_version = ""
    server: _Server

    def log_message(self, format, *args):
        pass

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("x-amz-request-id", secrets.token_hex(8).upper())
        self.send_header("x-amz-id-2", secrets.token_urlsafe(48))
        if status == 200:
            self.send_header("ETag", f'"{secrets.token_hex(16)}"')
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.close_connection = True

    def _s3_error(self, status: int, code: str, message: str) -> None:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
        ).encode()
        self._reply(status, xml)

    def do_PUT(self):
        self.server.receiver._on_request(self)

    def do_GET(self):
        self.server.receiver._on_request(self)

    do_POST = do_HEAD = do_DELETE = do_GET


class ResponseReceiver:
    """HTTPS endpoint standing in for CloudFormation's presigned response URLs.

    Use as a context manager. ``behaviour`` (thread-safe, settable at any time) decides what happens to
    the next requests: "accept" answers 200 and records the response, "error" answers S3's 500
    InternalError (or, ``status=503``, its SlowDown), "page" a proxy's error page with no error code (502
    unless ``status`` says 500, 503 or 504), "hang" reads the request and never answers (the connection is
    dropped after ``hang_seconds`` or when the receiver closes, whichever is first), "reset" reads the
    request and resets the connection without an answer, "refuse" resets every connection before TLS.
    ``set_behaviour(mode, times=n)`` applies a mode to the next n requests only, then reverts to "accept"
    (e.g. two 500s then success).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        advertised_host: str | None = None,
        extra_hostnames: tuple[str, ...] = (),
        hang_seconds: float = 30.0,
        connection_timeout: float = 10.0,
    ) -> None:
        self._bind = (host, port)
        self._advertised_host = advertised_host or ("127.0.0.1" if host in ("0.0.0.0", "") else host)  # noqa: S104
        hostnames = ["127.0.0.1", "localhost", self._advertised_host, *extra_hostnames]
        self._hostnames = list(dict.fromkeys(hostnames))
        self._hang_seconds = hang_seconds
        self._connection_timeout = connection_timeout
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        # When an attempt arrived (Attempt.received_at) is read from this clock: a test sharing a
        # local_aws.clock.VirtualClock with the provider and the emulator sets it here too.
        self.clock: Any = REAL_CLOCK
        self._behaviour = "accept"
        self._behaviour_times: int | None = None
        self._behaviour_status: int | None = None
        self._attempts: list[Attempt] = []
        self._signatures: dict[str, set[str]] = {}
        self._connections: set[socket.socket] = set()
        self._refused = 0
        self._tls_failures = 0
        self._tmpdir: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.cert_file = ""
        self.port = 0

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ResponseReceiver:
        if self._server is not None:
            return self
        self._tmpdir = tempfile.mkdtemp(prefix="cfn-receiver-")
        self.cert_file, server_certificate = _certificate_authority(self._tmpdir, self._hostnames)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_certificate.configure_cert(self._tls)
        self._server = _Server(self._bind, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"cfn-receiver-{self.port}"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._closing.set()  # wakes hanging handlers
        self._server.shutdown()  # no new connections
        # Handlers record a response before answering it, so whoever wait_for() woke may close us while
        # that 200 is still being written: give in-flight answers a moment before cutting connections.
        with self._changed:
            self._changed.wait_for(lambda: not self._connections, CLOSE_GRACE_SECONDS)
            live = list(self._connections)
        for conn in live:
            # Unblocks handler threads stuck reading from a client that never sends its request.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins every handler thread
        assert self._thread is not None
        self._thread.join()
        self._server = None
        with self._changed:
            self._changed.notify_all()
        if self._tmpdir:
            for name in os.listdir(self._tmpdir):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self._tmpdir, name))
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)

    stop = close

    def __enter__(self) -> ResponseReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- configuration ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"https://{self._advertised_host}:{self.port}"

    @property
    def behaviour(self) -> str:
        with self._lock:
            return self._behaviour

    @behaviour.setter
    def behaviour(self, mode: str) -> None:
        self.set_behaviour(mode)

    def set_behaviour(self, mode: str, *, times: int | None = None, status: int | None = None) -> None:
        """``status``: of an "error" (S3's, 500 or 503; 500 by default) or a "page" (500, 502, 503 or 504;
        502 by default)."""
        if mode not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, not {mode!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        allowed = {"error": tuple(S3_ERRORS), "page": tuple(_PAGE_REASONS)}.get(mode, ())
        if status is not None and status not in allowed:
            raise ValueError(f"a {mode!r} behaviour takes no status {status} (allowed: {allowed or 'none'})")
        with self._lock:
            self._behaviour = mode
            self._behaviour_times = times
            self._behaviour_status = status or {"error": 500, "page": 502}.get(mode)

    def _take_behaviour(self) -> tuple[str, int | None]:
        with self._lock:
            mode, status = self._behaviour, self._behaviour_status
            if self._behaviour_times is not None:
                self._behaviour_times -= 1
                if self._behaviour_times <= 0:
                    self._behaviour, self._behaviour_times = "accept", None
            return mode, status

    def url_for(
        self, stack_id: str, request_id: str, logical_id: str = "MainLine", signed_at: float | None = None
    ) -> str:
        """A presigned-S3-style URL on this receiver; only this exact URL is accepted for the request."""
        if self._server is None:
            raise RuntimeError("start the receiver (use it as a context manager) before asking for URLs")
        signature = secrets.token_hex(32)
        with self._lock:
            self._signatures.setdefault(request_id, set()).add(signature)
        return presigned_style_url(
            self.endpoint, stack_id, logical_id, request_id, signature=signature, signed_at=signed_at
        )

    # ---- observations -----------------------------------------------------------------------------

    def attempts(self, request_id: str | None = None) -> list[Attempt]:
        """Every request that got as far as HTTP (optionally only those for ``request_id``)."""
        with self._lock:
            return [a for a in self._attempts if request_id is None or a.request_id == request_id]

    def responses(self, request_id: str) -> list[dict[str, Any]]:
        """Every response body S3 would have stored for the request, in arrival order."""
        return [a.body for a in self.attempts(request_id) if a.outcome == "accepted" and a.body is not None]

    @property
    def refused_connections(self) -> int:
        with self._lock:
            return self._refused

    @property
    def tls_failures(self) -> int:
        """Connections whose TLS handshake failed (typically: the client did not trust ``cert_file``)."""
        with self._lock:
            return self._tls_failures

    def wait_for(self, request_id: str, timeout: float) -> dict[str, Any]:
        """The first accepted response for ``request_id``; ResponseNeverArrived after ``timeout`` seconds."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: self._server is None or self._first_accepted(request_id) is not None, timeout
            )
            body = self._first_accepted(request_id)
            if body is not None:
                return body
            seen = [a for a in self._attempts if a.request_id == request_id]
        outcomes = ", ".join(f"{a.outcome} ({a.status or 'no answer'})" for a in seen) or "none"
        why = "the receiver was closed" if arrived else f"none arrived within {timeout:g}s"
        raise ResponseNeverArrived(
            f"no accepted CloudFormation response for request {request_id}: {why}. "
            f"Attempts for this request: {outcomes}; behaviour is {self._behaviour!r}; "
            f"connections refused: {self._refused}; TLS handshakes failed: {self._tls_failures}."
        )

    def _first_accepted(self, request_id: str) -> dict[str, Any] | None:
        for a in self._attempts:
            if a.request_id == request_id and a.outcome == "accepted" and a.body is not None:
                return a.body
        return None

    # ---- server side ------------------------------------------------------------------------------

    def _serve_connection(self, sock: socket.socket, client_address, server: _Server) -> None:
        if self._take_refusal():
            # RST rather than FIN: the client sees "connection reset", as with a dropped route.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return
        sock.settimeout(self._connection_timeout)
        self._track(sock, True)
        try:
            try:
                tls = self._tls.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError):
                with self._lock:
                    self._tls_failures += 1
                return
            self._track(tls, True)
            self._track(sock, False)
            try:
                _Handler(tls, client_address, server)
            except (OSError, ssl.SSLError):
                pass
            finally:
                self._track(tls, False)
                with contextlib.suppress(OSError):
                    tls.close()
        finally:
            self._track(sock, False)
            with contextlib.suppress(OSError):
                sock.close()

    def _take_refusal(self) -> bool:
        with self._lock:
            if self._behaviour != "refuse":
                return False
            self._refused += 1
            if self._behaviour_times is not None:
                self._behaviour_times -= 1
                if self._behaviour_times <= 0:
                    self._behaviour, self._behaviour_times = "accept", None
            return True

    def _track(self, conn: socket.socket, live: bool) -> None:
        with self._changed:
            if live:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._changed.notify_all()

    def _on_request(self, handler: _Handler) -> None:
        target = handler.path
        request_id, signature = self._parse_target(target)
        length = handler.headers.get("Content-Length")
        raw = b""
        if length is not None:
            try:
                raw = handler.rfile.read(int(length))
            except ValueError:
                raw = b""
        mode, status = self._take_behaviour()
        body: dict[str, Any] | None = None
        with contextlib.suppress(ValueError):
            parsed = json.loads(raw.decode()) if raw else None
            body = parsed if isinstance(parsed, dict) else None

        def record(outcome: str, status: int | None) -> None:
            attempt = Attempt(
                request_id=request_id,
                method=handler.command,
                target=target,
                headers={k.lower(): v for k, v in handler.headers.items()},
                raw_body=raw,
                body=body,
                outcome=outcome,
                status=status,
                received_at=self.clock.time(),
            )
            with self._changed:
                self._attempts.append(attempt)
                self._changed.notify_all()

        with self._lock:
            known = signature is not None and signature in self._signatures.get(request_id or "", ())
        if handler.command != "PUT" or not known:
            # A presigned PUT URL is valid for exactly one method and one spelling of the URL; S3 answers
            # anything else (re-encoded path, edited query, GET) with 403 SignatureDoesNotMatch.
            record("forbidden", 403)
            handler._s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
            return
        if length is None:
            record("bad-request", 411)
            handler._s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            return
        if mode == "error":
            assert status is not None
            record("error", status)
            handler._s3_error(status, *S3_ERRORS[status])
            return
        if mode == "page":
            assert status is not None
            record("error", status)
            reason = _PAGE_REASONS[status]
            page = f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            page += f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
            handler._reply(status, page.encode(), content_type="text/html")
            return
        if mode == "reset":
            record("reset", None)
            # Linger 0: closing the connection (which _serve_connection does next) resets it, unanswered.
            with contextlib.suppress(OSError):
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            return
        if mode == "hang":
            record("hung", None)
            self._closing.wait(self._hang_seconds)
            handler.close_connection = True
            return
        record("accepted", 200)
        handler._reply(200)

    @staticmethod
    def _parse_target(target: str) -> tuple[str | None, str | None]:
        parts = urlsplit(target)
        key = unquote(parts.path.lstrip("/"))
        pieces = key.split("|")
        request_id = pieces[-1] if len(pieces) == 3 else None
        signature = None
        for pair in parts.query.split("&"):
            name, _, value = pair.partition("=")
            if name == "X-Amz-Signature":
                signature = value
        return request_id, signature

    # ---- trust ------------------------------------------------------------------------------------

    def trust_bundle(self) -> str:
        """A CA bundle with this receiver's CA plus the system's, for SSL_CERT_FILE.

        SSL_CERT_FILE replaces OpenSSL's default CA file rather than adding to it, so pointing it at our
        CA alone would make every other HTTPS peer of the process untrusted.
        """
        if self._tmpdir is None:
            raise RuntimeError("start the receiver before asking for its trust bundle")
        bundle = os.path.join(self._tmpdir, "trust-bundle.pem")
        if not os.path.exists(bundle):
            parts = [open(self.cert_file, "rb").read()]  # noqa: SIM115
            system = ssl.get_default_verify_paths().openssl_cafile
            if system and os.path.exists(system):
                with open(system, "rb") as f:
                    parts.append(f.read())
            tmp = bundle + ".tmp"
            with open(tmp, "wb") as f:
                f.write(b"\n".join(parts))
            os.replace(tmp, bundle)
        return bundle


_trust_lock = threading.Lock()


@contextlib.contextmanager
def trusting(receiver: ResponseReceiver) -> Iterator[str]:
    """Make ``ssl.create_default_context()`` in this process (and children) trust the receiver.

    Uses the standard SSL_CERT_FILE variable, which OpenSSL reads each time a default context loads its
    verify paths, so the provider needs no test-only SSL switch. os.environ is process-wide: nest or
    overlap only with the same receiver.
    """
    bundle = receiver.trust_bundle()
    with _trust_lock:
        previous = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = bundle
    try:
        yield bundle
    finally:
        with _trust_lock:
            if previous is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = previous


# --------------------------------------------------------------------------------------------------
# In-process invocation
# --------------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    context: LambdaContext
    result: Any = None
    error: BaseException | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


class MarshalError(TypeError):
    """The handler returned something Lambda could not serialise (Runtime.MarshalError)."""


def invoke_handler(
    handler: Callable[[dict, Any], Any],
    event: Mapping[str, Any],
    *,
    timeout_seconds: float,
    function_name: str = "ProviderFunction",
    memory_limit_in_mb: int = 512,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    clock: Callable[[], float] | None = None,
) -> Invocation:
    """Call ``handler`` the way Lambda does: a JSON-decoded copy of the event, a counting-down context.

    The call runs on a separate thread so the timeout is enforced: after ``timeout_seconds`` this returns
    with ``timed_out=True``. ``clock`` (default time.monotonic; a local_aws.clock.VirtualClock to skip
    time) is Lambda's: the context counts down on it and the timeout is measured on it. A thread cannot be
    killed, so an overrunning handler keeps running (as a daemon thread) in the background;
    local_aws.invoke runs the function under Lambda's runtime emulator, which ends it, when that matters.
    """
    payload = json.loads(json.dumps(event))  # Lambda hands the handler freshly decoded JSON, never our dict
    clock = clock or time.monotonic
    context = LambdaContext(
        function_name=function_name,
        timeout_seconds=timeout_seconds,
        memory_limit_in_mb=memory_limit_in_mb,
        region=region,
        account_id=account_id,
        clock=clock,
    )
    deadline = clock() + timeout_seconds
    invocation = Invocation(context=context)

    ended_at: list[float] = []

    def run() -> None:
        try:
            result = handler(payload, context)
            try:
                invocation.result = json.loads(json.dumps(result))
            except (TypeError, ValueError) as exc:
                invocation.error = MarshalError(f"Unable to marshal response: {exc}")
        except BaseException as exc:  # noqa: BLE001 - Lambda reports whatever escaped, SystemExit included
            invocation.error = exc
        finally:
            ended_at.append(clock())

    name = f"lambda-{function_name}-{context.aws_request_id}"
    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    # In slices, because the clock may be advanced: the deadline is on Lambda's clock, not the wall's.
    while thread.is_alive() and (left := deadline - clock()) > 0:
        thread.join(min(left, 0.05))
    # A handler that ended past the deadline (a skipping clock can get there between two looks) would have
    # been stopped at it.
    if thread.is_alive() or (ended_at and ended_at[0] > deadline):
        invocation.timed_out = True
    return invocation


# --------------------------------------------------------------------------------------------------
# Command line: a receiver for a function running elsewhere (e.g. sam local invoke in Docker)
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m local_aws.cloudformation receive --event E --out E2``: serve one response URL.

    Writes a copy of the event whose ResponseURL points at a receiver reachable as ``--advertise``, copies
    the CA to trust where the function can read it, waits for the response and prints it.
    """
    import argparse
    import shutil
    import sys

    parser = argparse.ArgumentParser(prog="python -m local_aws.cloudformation")
    sub = parser.add_subparsers(dest="command", required=True)
    receive = sub.add_parser("receive", help="receive the response to one event")
    receive.add_argument("--event", required=True, help="event JSON to rewrite")
    receive.add_argument("--out", required=True, help="where to write the rewritten event")
    receive.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 for containers)")
    receive.add_argument("--port", type=int, default=0)
    receive.add_argument("--advertise", help="host name the function uses, e.g. host.docker.internal")
    receive.add_argument("--copy-cert-to", help="directory to copy the CA into, as receiver-ca.pem")
    receive.add_argument("--timeout", type=float, default=960.0, help="seconds to wait for the response")
    args = parser.parse_args(argv)

    with open(args.event) as f:
        event = json.load(f)
    extra = (args.advertise,) if args.advertise else ()
    with ResponseReceiver(
        host=args.host, port=args.port, advertised_host=args.advertise, extra_hostnames=extra
    ) as r:
        event["ResponseURL"] = r.url_for(event["StackId"], event["RequestId"], event["LogicalResourceId"])
        with open(args.out, "w") as f:
            json.dump(event, f, indent=2)
        print(f"Receiver: {r.endpoint} (CA: {r.cert_file})")
        if args.copy_cert_to:
            target = os.path.join(args.copy_cert_to, "receiver-ca.pem")
            shutil.copyfile(r.cert_file, target)
            print(f"CA copied to {target}")
        print(f"Event with the rewritten ResponseURL: {args.out}")
        print(f"Waiting up to {args.timeout:g}s for the response to {event['RequestId']} ...", flush=True)
        try:
            body = r.wait_for(event["RequestId"], timeout=args.timeout)
        except ResponseNeverArrived as exc:
            print(exc, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        print(json.dumps(body, indent=2))
        problems = response_problems(event, body)
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
