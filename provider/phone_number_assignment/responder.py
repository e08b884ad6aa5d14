"""crhelper's CfnResource, with the defaults this provider cannot ship with replaced.

crhelper gives us the plain ``(event, context) -> physical_id`` handlers and its timeout watchdog. What it
does not give us, and this class adds:

* exactly one response per invocation: the watchdog thread and the handler can both try to answer; the first
  wins, the other is dropped (crhelper would send both);
* a bounded response PUT: crhelper retries a refused or hanging ResponseURL forever (5 tries, sleep, repeat),
  which keeps the Lambda running to its timeout; here each attempt has a socket timeout, a transient fault
  (botocore's transient statuses, a connection refused or reset) is retried with a doubling backoff, and
  all attempts end before the invocation does;
* the ResponseURL never reaches a log: crhelper logs it at DEBUG; the sender here never logs it at all;
* handlers return a lifecycle Outcome (physical ID and Data together), and are given to the constructor, so
  a responder lives for one invocation and no request's state can leak into the next;
* a ProviderError's physical ID and Reason reach CloudFormation as they are, and any other exception becomes
  a Reason without a stack trace;
* a fallback physical ID for failed Creates that cannot crash on an unusual StackId;
* no Lambda, EventBridge and CloudWatch Logs clients at start-up: crhelper builds them for its polling mode,
  which this provider does not use (it waits within one invocation). They cost cold-start time and, with no
  Region configured, make crhelper's init fail, which turns every later request into a FAILED.
"""

from __future__ import annotations

import copy
import functools
import http.client
import json
import os
import random
import ssl
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crhelper import CfnResource
from crhelper.resource_helper import FAILED

from .errors import ProviderError, is_transient_status, quote
from .lifecycle import Outcome
from .telemetry import logger
from .waiting import SYSTEM_CLOCK, Clock

# A lifecycle operation: (event, context) -> Outcome, crhelper's handler shape with Data returned alongside.
Handler = Callable[[dict[str, Any], Any], Outcome]
# (event, context) -> the physical ID any failure of the request answers with, or None to fall back.
FailurePhysicalId = Callable[[dict[str, Any], Any], "str | None"]

# CloudFormation rejects a response body over 4096 bytes.
MAX_RESPONSE_BYTES = 4096
# Long enough for our Reasons, which quote ARNs; short enough to read in the console's stack events.
MAX_REASON_CHARS = 1000
RESPONSE_ATTEMPT_TIMEOUT_SECONDS = 10.0
# A PUT that meets a transient fault (errors.is_transient_status: 500, 502, 503, 504, as botocore's standard
# mode; or a connection refused, reset or timed out) is sent again while the sending window lasts, after a
# pause that starts at this and doubles up to the cap, each jittered down by up to half so that the
# providers of one stack answering at once do not retry in step.
RESPONSE_RETRY_PAUSE_SECONDS = 0.5
RESPONSE_RETRY_PAUSE_CAP_SECONDS = 4.0
# Stop sending this long before Lambda stops the invocation, so a send is never cut in half.
RESPONSE_SAFETY_SECONDS = 0.5
# crhelper arms its watchdog 0.5 s before Lambda's deadline, when the send window above has already closed;
# it fires this long before instead, which leaves it a send window and stays after the provider's own answer
# (which starts at least app.RESPONSE_SEND_SECONDS before the deadline).
WATCHDOG_LEAD_SECONDS = 2.0


# Every reliance on crhelper 2.0.12's internals is here; tests/provider/test_responder.py fails if an upgrade
# changes any of it. CRHELPER_STATE is exactly the instance state CfnResource.__init__ sets, with this
# provider's values. Differences from crhelper's defaults: INFO logging, because its default DEBUG logs the
# whole event, ResponseURL included; no sleep on delete, because the 120 s sleep exists so crhelper's log
# lines reach CloudWatch before a stack deletes its log group, and the stacks using this provider never
# delete the provider's log group; no polling, and so no Lambda, EventBridge and CloudWatch Logs clients.
CRHELPER_STATE: dict[str, Any] = {
    "_sleep_on_delete": 0,
    "_create_func": None,
    "_update_func": None,
    "_delete_func": None,
    "_poll_create_func": None,
    "_poll_update_func": None,
    "_poll_delete_func": None,
    "_timer": None,
    "_init_failed": None,
    "_json_logging": False,
    "_log_level": "INFO",
    "_boto_level": "WARNING",
    "_send_response": False,
    "_polling_interval": 2,
    "Status": "",
    "Reason": "",
    "PhysicalResourceId": "",
    "StackId": "",
    "RequestId": "",
    "LogicalResourceId": "",
    "Data": {},
    "NoEcho": False,
    "_event": {},
    "_context": None,
    "_response_url": "",
    "_sam_local": None,
    "_region": None,
    "_ssl_verify": None,
}
# The CfnResource methods replaced below; crhelper's __call__ and _crhelper_init call them (and its
# _cfn_response calls _send), which is all of crhelper this provider still runs.
CRHELPER_HOOKS = ("_log_setup", "_wrap_function", "_set_timeout", "_timeout", "_send", "generate_physical_id")
CRHELPER_DISPATCH = ("__call__", "_crhelper_init", "_cfn_response", "_get_func")


class CloudFormationResponder(CfnResource):
    def __init__(
        self,
        *,
        create: Handler,
        update: Handler,
        delete: Handler,
        failure_physical_id: FailurePhysicalId | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        # Deliberately not calling CfnResource.__init__ (see the module docstring): the state it would set,
        # minus the polling clients, comes from CRHELPER_STATE.
        for name, value in CRHELPER_STATE.items():
            setattr(self, name, copy.copy(value))
        self._create_func, self._update_func, self._delete_func = create, update, delete
        self._answer_lock = threading.Lock()
        self._answered = False
        self._failure_physical_id = failure_physical_id or (lambda event, context: None)
        self._clock = clock

    def __call__(self, event: Any, context: Any) -> None:
        with self._answer_lock:
            self._answered = False
        problem = malformed(event)
        if problem is None:
            super().__call__(event, context)
            return
        # crhelper indexes into the event before any handler runs and would answer with a KeyError's text;
        # an event CloudFormation would never send gets a plain Reason instead, if it says where to send one.
        logger.error("Malformed custom-resource event", extra={"problem": problem})
        if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
            self._context = context
            self._response_url = event["ResponseURL"]
            self.StackId, self.RequestId, self.LogicalResourceId = (
                str(event.get(key, ""))[:MAX_ECHOED_CHARS]
                for key in ("StackId", "RequestId", "LogicalResourceId")
            )
            self.PhysicalResourceId = str(event.get("PhysicalResourceId") or "") or self.generate_physical_id(
                event
            )
            self._send(FAILED, f"Malformed custom-resource event: {problem}.")

    def _log_setup(self, event: Any, context: Any) -> None:
        # crhelper's version resets the root logger's level on every request (log_helper.setup), which would
        # undo the stack's LogLevel; Powertools configures logging once, in telemetry.py.
        pass

    def generate_physical_id(self, event: dict[str, Any]) -> str:
        # crhelper's version indexes into StackId and crashes on an unusual one. Never a phone-number ARN, so
        # a Delete of a Create that failed before touching a number is a no-op.
        logical_id = str(event.get("LogicalResourceId", "Resource"))[:64]
        return f"{logical_id}-unassigned-{uuid.uuid4().hex[:12]}"

    def _wrap_function(self, func: Any) -> None:
        # Decided before the work starts, so that the watchdog's answer carries it too.
        self.PhysicalResourceId = self._failure_physical_id(self._event, self._context) or ""
        try:
            outcome = func(self._event, self._context)
            self.PhysicalResourceId, self.Data = outcome.physical_id, outcome.data
        except ProviderError as error:
            logger.warning("Request failed", extra={"reason": error.reason})
            self.Status, self.Reason = FAILED, error.reason
        except Exception:
            logger.exception("Unexpected error in the provider")
            self.Status = FAILED
            self.Reason = (
                f"Internal error in the PhoneNumberAssignment provider (request {self.RequestId}); "
                "its CloudWatch logs have the details. Retry the stack operation."
            )

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000
        self._timer = self._clock.timer(max(remaining / 2, remaining - WATCHDOG_LEAD_SECONDS), self._timeout)
        self._timer.start()

    def _timeout(self) -> None:
        logger.error("Invocation about to time out before the provider answered")
        # CloudFormation rejects a response without a PhysicalResourceId; the handler has not set one yet.
        if not self.PhysicalResourceId:
            self.PhysicalResourceId = self._event.get("PhysicalResourceId") or self.generate_physical_id(
                self._event
            )
        self._send(
            FAILED,
            "The provider ran out of Lambda time before it could finish; the phone number may still be "
            "moving. Retry the stack operation.",
        )

    def _send(self, status: str | None = None, reason: str = "") -> None:
        # Replaces crhelper's _send, which cuts a Reason over 256 characters down to its last 240 and so
        # loses the start of the sentence, where ours say what went wrong.
        with self._answer_lock:
            if self._answered:
                logger.warning("A response was already sent for this request; not sending another")
                return
            self._answered = True
        body = {
            "Status": status or self.Status,
            "PhysicalResourceId": str(self.PhysicalResourceId),
            "StackId": self.StackId,
            "RequestId": self.RequestId,
            "LogicalResourceId": self.LogicalResourceId,
            "Reason": _bounded(str(reason if status else self.Reason)),
            "Data": self.Data,
            "NoEcho": self.NoEcho,
        }
        self._put_response(self._response_url, body)

    def _put_response(self, response_url: str, body: dict[str, Any]) -> None:
        payload = _fit(body)
        deadline = self._clock.monotonic() + self._sending_window()
        split = urlsplit(response_url)
        path = urlunsplit(("", "", split.path, split.query, ""))
        attempt = 0
        while True:
            attempt += 1
            timeout = min(RESPONSE_ATTEMPT_TIMEOUT_SECONDS, deadline - self._clock.monotonic())
            if timeout <= 0:
                break
            try:
                connection = http.client.HTTPSConnection(
                    split.netloc, timeout=timeout, context=_tls_context()
                )
                try:
                    connection.request(
                        "PUT",
                        path,
                        body=payload,
                        headers={"content-type": "", "content-length": str(len(payload))},
                    )
                    http_status = connection.getresponse().status
                finally:
                    connection.close()
                if not is_transient_status(http_status):
                    logger.info(
                        "Response sent to CloudFormation",
                        extra={
                            "status": body.get("Status"),
                            "reason": body.get("Reason"),
                            "http_status": http_status,
                        },
                    )
                    return
                failure = f"HTTP {http_status}"
            except (OSError, http.client.HTTPException) as error:
                failure = type(error).__name__
            logger.warning("Sending the response failed", extra={"attempt": attempt, "failure": failure})
            pause = min(RESPONSE_RETRY_PAUSE_SECONDS * 2 ** (attempt - 1), RESPONSE_RETRY_PAUSE_CAP_SECONDS)
            pause = min(pause * random.uniform(0.5, 1.0), deadline - self._clock.monotonic())
            if pause <= 0:
                break
            self._clock.sleep(pause)
        logger.error(
            "Could not deliver the response to CloudFormation",
            extra={"status": body.get("Status"), "reason": body.get("Reason"), "attempts": attempt},
        )

    def _sending_window(self) -> float:
        remaining = self._context.get_remaining_time_in_millis() / 1000 if self._context else 30.0
        return max(0.0, remaining - RESPONSE_SAFETY_SECONDS)


def _tls_context() -> ssl.SSLContext:
    """The context every response PUT verifies with, made once per trust configuration.

    ssl.create_default_context() parses the whole CA bundle each time (about 20 ms of CPU with the system
    bundle), which every invocation of a warm container would pay again. It honours SSL_CERT_FILE and
    SSL_CERT_DIR, which is how a local receiver is trusted, so the cached context is per their values.
    """
    return _tls_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # The arguments are the cache key only: create_default_context reads the same variables itself.
    return ssl.create_default_context()


REQUIRED_EVENT_STRINGS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
# A real event's IDs are far shorter; a response must still fit in 4096 bytes when echoing a malformed one.
MAX_ECHOED_CHARS = 600


def malformed(event: Any) -> str | None:
    """What makes ``event`` something CloudFormation would never send, or None if it looks like one."""
    if not isinstance(event, dict):
        return f"expected a JSON object, got {type(event).__name__}"
    for key in REQUIRED_EVENT_STRINGS:
        if not isinstance(event.get(key), str) or not event[key]:
            return f"{key} is missing or not a string"
        if len(event[key]) > 2048:
            return f"{key} is {len(event[key])} characters long"
    if event["RequestType"] not in ("Create", "Update", "Delete"):
        return f"RequestType must be Create, Update or Delete, not {quote(event['RequestType'], 40)}"
    if event["RequestType"] != "Create" and not (
        isinstance(event.get("PhysicalResourceId"), str) and event["PhysicalResourceId"]
    ):
        return f"a {event['RequestType']} event needs a PhysicalResourceId string"
    return None


def _bounded(reason: str) -> str:
    if len(reason) <= MAX_REASON_CHARS:
        return reason
    return reason[: MAX_REASON_CHARS - 12] + " (truncated)"


def _fit(body: dict[str, Any]) -> bytes:
    """The JSON body, shrunk to CloudFormation's limit by dropping Data, then shortening the Reason."""
    payload = json.dumps(body).encode()
    if len(payload) > MAX_RESPONSE_BYTES and body.get("Data"):
        body = {**body, "Data": {}}
        payload = json.dumps(body).encode()
    if len(payload) <= MAX_RESPONSE_BYTES:
        return payload
    # The longest start of the Reason that fits. Measured, not computed: JSON escapes a character in 1 to 12
    # bytes, so the excess in bytes says little about how many characters to cut.
    reason = str(body.get("Reason", ""))

    def cut(length: int) -> bytes:
        return json.dumps({**body, "Reason": reason[:length] + " (truncated)"}).encode()

    fits, too_long = 0, len(reason)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        fits, too_long = (middle, too_long) if len(cut(middle)) <= MAX_RESPONSE_BYTES else (fits, middle)
    return cut(fits)
