"""The provider's error taxonomy.

Every failure CloudFormation can see is a ``ProviderError`` whose message is the Reason a person reads in the
stack events, so each one says what went wrong and what to do. Botocore error codes are mapped to this
taxonomy in exactly one place, ``from_client_error``.
"""

from __future__ import annotations

import http.client

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

# Service messages and user values are cut to this, so a huge value cannot crowd our own sentence out of a
# Reason (which the responder bounds as a whole, keeping its start).
MAX_QUOTED_CHARS = 120


def quote(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """Render a user- or service-supplied value for a Reason: repr-escaped, bounded in length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        return f"{text[:limit]!r}... ({len(text)} characters)"
    return repr(text)


class ProviderError(Exception):
    """A failure reported to CloudFormation as FAILED with ``reason`` as the Reason.

    Which physical ID goes with it is decided once for the whole request (lifecycle.failure_physical_id), not
    per error: once the properties parse, the declared number's ARN, so the rollback can find the number.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidProperties(ProviderError):
    """The resource's properties are not usable; nothing was called that changes anything."""


class OwnershipConflict(ProviderError):
    """Another stack's assignment owns this phone number."""


class DuplicateAssignment(OwnershipConflict):
    """Another resource of the same stack declares (and holds) this phone number."""


class OwnerNotChecked(OwnershipConflict):
    """Another stack resource is recorded as the owner and CloudFormation could not be asked whether it still
    holds the number: the provider does not take a number on a guess."""


class Overtaken(ProviderError):
    """CloudFormation sent a newer request for the same resource (the Delete that cancels a Create, the
    rollback of an Update, a later stack operation): this older one may change nothing more."""


class OwnershipTableLost(ProviderError):
    """The ownership table is gone while numbers still carry owners' tags: it is not silently re-created."""


class UndoInProgress(ProviderError):
    """The number is being put back by an earlier Delete of the same resource that has not finished."""


class StackStatusUnknown(ProviderError):
    """The provider could not read the stack's status, and what to do depends on it (a rollback undoes,
    a deletion honours OnDelete): it does not guess in the direction that moves a number."""


class ManagedByAnotherStack(ProviderError):
    """A native AWS::Connect::PhoneNumber of another stack manages the number (or that could not be ruled
    out): deleting that stack would release it."""


class NoRoomForTags(ProviderError):
    """The number has too many tags of its own for the provider's to fit within Connect's limit."""


class TargetNotActive(ProviderError):
    """The target traffic distribution group exists but is not ACTIVE."""


class TooLittleTime(ProviderError):
    """Lambda's timeout or the resource's ServiceTimeout leaves no time to do the work within."""


class DeadlineOutOfReach(TooLittleTime):
    """The quota's queue reaches past CloudFormation's deadline: no invocation can take the turn in time."""


class InternalError(ProviderError):
    """A bug: an exception the provider did not expect. The Reason points at the logs."""


class PhoneNumberNotFound(ProviderError):
    """The phone number does not exist (or is not visible) in this account and Region."""


class MoveFailed(ProviderError):
    """Connect accepted the move, then reported it FAILED."""


class MoveStillInProgress(ProviderError):
    """The time budget ran out before the move finished."""


class MoveOutcomeNotSeen(MoveStillInProgress):
    """The time budget ran out while Describe still showed the FAILED an earlier operation left: this move's
    own outcome was never seen, and it may still land (so it is no MoveFailed: the record stays MOVING)."""


class RestoreTargetGone(ProviderError):
    """OnDelete: Restore cannot move the number back because its previous target no longer exists."""


class AccessDenied(ProviderError):
    """The provider's role lacks a Connect permission."""


class InvalidRequest(ProviderError):
    """Connect rejected a parameter (InvalidParameterException, or a target that does not exist)."""


class ServiceUnavailable(ProviderError):
    """Throttling or internal errors persisted until the time budget ran out."""


class QuotaExceeded(ProviderError):
    """Connect refused a call because a quota or limit was reached: waiting does not lift it."""


class IdempotencyConflict(ProviderError):
    """Connect saw this request's ClientToken with other parameters."""


class ConnectAnswer(Exception):
    """An error answer from Connect that a caller handles itself rather than fail with (see ``answer_of``)."""


class ConnectNotFound(ConnectAnswer):
    """ResourceNotFoundException: the number, target or flow named does not exist (or is not usable)."""


class ConnectBusy(ConnectAnswer):
    """ResourceInUseException: another operation on the number is in flight."""


class ConnectFlowNotPublished(ConnectAnswer):
    """ContactFlowNotPublishedException (DescribeContactFlow): the flow has not been published."""


class UnusableContactFlow(InvalidProperties):
    """ContactFlowArn names a flow a phone number cannot route to: found out before anything changes."""


# What is worth trying again after a pause is what botocore's standard retry mode retries: its checkers are
# asked about each error (botocore/retries/standard.py), so the lists stay botocore's. Transient: HTTP 500,
# 502, 503 and 504 whatever the body (a load balancer's error page has no error code), RequestTimeout,
# RequestTimeoutException, PriorRequestNotComplete (with any status), and connection errors and timeouts.
# Throttling: the throttling codes of every AWS service. tests/provider/test_errors.py pins what they answer
# today, so that a botocore upgrade that changes it is seen.
_TRANSIENT = TransientRetryableChecker()
_THROTTLED = ThrottledRetryableChecker()
# Codes retried beyond botocore's lists, each for a reason of its own. DynamoDB's write conflicts: botocore
# retries ReplicatedWriteConflictException only through the operation's model (its "retryable" trait), which
# this check is not given, and TransactionConflictException not at all, though another writer's transaction
# ending is all it waits for. InternalServiceException (Connect's) and InternalServerError (DynamoDB's) are
# modelled at 500 and so transient by status already; named so that the codes alone say so too.
RETRYABLE_CODES = frozenset(
    {
        "InternalServiceException",
        "InternalServerError",
        "TransactionConflictException",
        "ReplicatedWriteConflictException",
    }
)
# Connect's refusals for a quota or limit reached ("The allowed limit for the resource has been exceeded",
# "The service quota has been exceeded"): not a rate, so no pause lifts them within an invocation, and
# retrying for the whole budget only delays the answer. Retried for DynamoDB, where LimitExceededException
# means too many control-plane operations at once.
QUOTA_CODES = {"connect": frozenset({"LimitExceededException", "ServiceQuotaExceededException"})}
# DynamoDB's answers the ownership record handles itself (records.py).
CONDITION_FAILED_CODE = "ConditionalCheckFailedException"
SERVICE_NAMES = {"connect": "Connect", "dynamodb": "DynamoDB", "cloudformation": "CloudFormation"}
IN_USE_CODE = "ResourceInUseException"
NOT_FOUND_CODE = "ResourceNotFoundException"
_ANSWERS: dict[str, type[ConnectAnswer]] = {
    NOT_FOUND_CODE: ConnectNotFound,
    IN_USE_CODE: ConnectBusy,
    "ContactFlowNotPublishedException": ConnectFlowNotPublished,
}


def answer_of(error: ClientError) -> type[ConnectAnswer] | None:
    """Which answer a caller may handle this error as, if any."""
    return _ANSWERS.get(error_code(error))


def is_retryable(error: ClientError, service: str = "") -> bool:
    """Whether a pause may make the call succeed: a transient fault or throttling, never a quota reached
    (botocore counts LimitExceededException as throttling; for Connect it is a quota, QUOTA_CODES)."""
    code = error_code(error)
    if code in QUOTA_CODES.get(service, ()):
        return False
    return code in RETRYABLE_CODES or is_throttling(error) or is_transient(error)


def is_throttling(error: ClientError) -> bool:
    """A throttled call, as botocore's standard mode tells one (ThrottledRetryableChecker)."""
    return bool(_THROTTLED.is_retryable(_retry_context(error)))


def is_transient(error: Exception) -> bool:
    """A transient fault, as botocore's standard mode tells one (TransientRetryableChecker): a ClientError
    with a transient status or code, or a connection error or timeout that got no answer at all."""
    return bool(_TRANSIENT.is_retryable(_retry_context(error)))


def is_transient_status(status: int) -> bool:
    """An HTTP answer worth sending the request again for, whatever its body (the response PUT's)."""
    return bool(_TRANSIENT.is_retryable(RetryContext(attempt_number=1, http_response=_response(status))))


def _response(status: int) -> AWSResponse:
    # The checkers read the status from botocore's HTTP response, which a ClientError no longer carries.
    return AWSResponse("", status, {}, None)


def _retry_context(error: Exception) -> RetryContext:
    if not isinstance(error, ClientError):
        return RetryContext(attempt_number=1, caught_exception=error)
    status = http_status(error)
    response = _response(status) if status else None
    return RetryContext(attempt_number=1, parsed_response=error.response, http_response=response)


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def fault_of(error: ClientError) -> str:
    """The error as a Reason names it: its code and status, or, for an answer with no error code (botocore
    then takes the status for the code), the status and what it means."""
    code, status = error_code(error), http_status(error)
    if code and code != str(status):
        return f"{code} (HTTP {status})" if status else code
    meaning = http.client.responses.get(status, "")
    said = f"HTTP {status} {meaning}" if meaning else f"HTTP {status}"
    return f"{said} with no error code (a load balancer's or proxy's page)"


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "") or str(error)


def is_condition_failed(error: ClientError) -> bool:
    """DynamoDB refused a conditional write: the record is not what the writer read."""
    return error_code(error) == CONDITION_FAILED_CODE


def is_table_missing(error: ClientError) -> bool:
    """DynamoDB's answer for a table that does not exist (yet)."""
    return error_code(error) == NOT_FOUND_CODE


def is_table_being_created(error: ClientError) -> bool:
    """CreateTable's answer when the table exists or is being created (by another provider, say)."""
    return error_code(error) == IN_USE_CODE


def from_client_error(error: ClientError, *, subject: str, service: str = "connect") -> ProviderError:
    """Translate a botocore ClientError from a call to ``service`` into the taxonomy.

    ``subject`` names what the call was about (for example "moving +15555550100 to arn:..."), so the Reason
    reads as a sentence a person can act on.
    """
    code = error_code(error)
    message = quote(error_message(error))
    action = f"{service}:{error.operation_name}"
    said = f"{SERVICE_NAMES.get(service, service)} said {message}"
    if code in ("AccessDeniedException", "AccessDenied"):
        return AccessDenied(
            f"Access denied {subject}: the provider's role needs {action} on this resource ({said})."
        )
    if code == NOT_FOUND_CODE:
        return InvalidRequest(f"Not found {subject}: {said}.")
    if code in ("InvalidParameterException", "InvalidRequestException", "ValidationException"):
        return InvalidRequest(f"Invalid request {subject}: {said}.")
    if code in QUOTA_CODES.get(service, ()):
        return QuotaExceeded(
            f"{SERVICE_NAMES.get(service, service)} refused {subject} with {code}: a quota or limit of the "
            f"account or instance is reached ({said}). Nothing was retried, as waiting does not lift it: "
            "raise the quota (Service Quotas, service Amazon Connect) or free what counts against it, then "
            "retry the stack operation."
        )
    if code == "IdempotencyException":
        return IdempotencyConflict(
            f"Connect rejected the ClientToken {subject} as already used with other parameters "
            f"({message}); retry the stack operation."
        )
    if is_throttling(error) or code in RETRYABLE_CODES or is_transient(error):
        advice = " or raise the API quota" if is_throttling(error) else ""
        return ServiceUnavailable(
            f"{SERVICE_NAMES.get(service, service)} kept answering {fault_of(error)} to {action} {subject} "
            f"until the provider's time budget ran out; retry the stack operation later{advice}."
        )
    if code == IN_USE_CODE:
        return ServiceUnavailable(
            f"The phone number stayed busy with another operation {subject} until the time budget ran out; "
            "retry the stack operation once it has finished."
        )
    return ProviderError(
        f"{SERVICE_NAMES.get(service, service)} failed {subject}: {code or 'error'} {message}."
    )


# The Service Quotas name of the quota a full target has reached (Amazon Connect Administrator Guide, "Connect
# Customer service quotas": 5 by default in a new account, adjustable).
PHONE_NUMBER_QUOTA_NAME = "Phone numbers per instance"


def full_target_advice(message: str) -> str:
    """What a Reason for a FAILED move adds about the target being full.

    Connect's API reference names "the TargetArn ... has reached its limit of total claimed numbers" as a
    common reason for FAILED, but not the message it then shows: a message that speaks of a limit or quota
    is taken as that, any other one gets the advice as a possibility.
    """
    how = (
        f'the Amazon Connect quota "{PHONE_NUMBER_QUOTA_NAME}" (5 by default in a new account) can be raised '
        "in the Service Quotas console (Amazon Connect > "
        f"{PHONE_NUMBER_QUOTA_NAME} > Request increase at account level), or release numbers the target no "
        "longer needs; then retry the stack operation."
    )
    lowered = message.lower()
    if "limit" in lowered or "quota" in lowered:
        return f"The target holds as many phone numbers as its quota allows: {how}"
    return f"If the target holds as many phone numbers as its quota allows (a common cause of FAILED), {how}"


def unreachable(
    error: Exception, *, subject: str, service: str = "connect", operation: str = ""
) -> ProviderError:
    """A call that never got an answer (connection refused or reset, timed out) until the time budget ran
    out."""
    call = f" with {service}:{operation}" if operation else ""
    return ServiceUnavailable(
        f"Could not reach {SERVICE_NAMES.get(service, service)} {subject}{call} until the provider's time "
        f"budget ran out ({type(error).__name__}: {quote(str(error))}); retry the stack operation."
    )


def says_stack_or_resource_missing(error: ClientError) -> bool:
    """CloudFormation's answer to DescribeStackResource for a stack or logical ID that does not exist.

    It has no error code of its own: a ValidationError whose message says "does not exist" ("Stack with id X
    does not exist", "Resource X does not exist for stack Y").
    """
    return error_code(error) == "ValidationError" and "does not exist" in error_message(error)
