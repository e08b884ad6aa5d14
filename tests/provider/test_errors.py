"""The Reason's advice for a FAILED move (Connect's message for a full target is not documented), and which
errors are worth retrying: botocore's standard mode decides, and these pin what it answers today."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from phone_number_assignment.errors import (
    IdempotencyConflict,
    InvalidRequest,
    ProviderError,
    ServiceUnavailable,
    from_client_error,
    full_target_advice,
    is_retryable,
    is_throttling,
    is_transient,
    is_transient_status,
)


@pytest.mark.parametrize(
    "message",
    [
        "The TargetArn arn:aws:connect:us-east-1:123456789012:instance/i has reached its limit of total "
        "claimed numbers",
        "Phone number quota exceeded for this instance",
    ],
)
def test_a_message_that_speaks_of_a_limit_is_read_as_a_full_target(message):
    advice = full_target_advice(message)

    assert advice.startswith("The target holds as many phone numbers as its quota allows")
    assert 'quota "Phone numbers per instance"' in advice
    assert "Service Quotas console" in advice


@pytest.mark.parametrize("message", ["", "Internal failure"])
def test_any_other_message_gets_the_quota_as_a_possible_cause(message):
    advice = full_target_advice(message)

    assert advice.startswith("If the target holds as many phone numbers as its quota allows")
    assert "Service Quotas console" in advice


# ---- what is worth retrying: botocore's standard mode decides ---------------------------------------------


def client_error(code: str, status: int, operation: str = "UpdatePhoneNumber") -> ClientError:
    """A ClientError as botocore raises it (for an answer with no code, it takes the status for the code)."""
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
        ("502", 502),  # a load balancer's page: no code
        ("504", 504),
        ("503", 503),
        ("RequestTimeout", 400),
        ("RequestTimeoutException", 408),
        ("PriorRequestNotComplete", 400),
        ("InternalServiceException", 500),  # Connect's own
        ("InternalServerError", 500),  # DynamoDB's own
    ],
)
@pytest.mark.parametrize("service", ["connect", "dynamodb", "cloudformation"])
def test_every_transient_fault_botocore_retries_is_retried_by_every_service(code, status, service):
    error = client_error(code, status)

    assert is_retryable(error, service)
    assert not is_throttling(error) or code == "PriorRequestNotComplete"  # botocore counts it as both


@pytest.mark.parametrize(
    ("code", "status", "service"),
    [
        ("ThrottlingException", 429, "connect"),
        ("TooManyRequestsException", 429, "connect"),
        ("Throttling", 400, "cloudformation"),
        ("ProvisionedThroughputExceededException", 400, "dynamodb"),
        ("LimitExceededException", 400, "dynamodb"),  # too many table operations at once
    ],
)
def test_throttling_is_retried_and_paced_as_throttling(code, status, service):
    error = client_error(code, status)

    assert is_retryable(error, service)
    assert is_throttling(error)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("LimitExceededException", 429),  # botocore's throttling list has it; for Connect it is a quota
        ("ServiceQuotaExceededException", 402),
        ("InvalidParameterException", 400),
        ("InvalidRequestException", 400),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("501", 501),  # not implemented: no pause changes that
    ],
)
def test_a_quota_or_validation_error_is_not_retried(code, status):
    assert not is_retryable(client_error(code, status), "connect")


def test_connection_errors_are_transient_and_other_client_side_errors_are_not():
    assert is_transient(ConnectionClosedError(endpoint_url="https://connect.example"))
    assert is_transient(ReadTimeoutError(endpoint_url="https://connect.example"))
    assert is_transient(EndpointConnectionError(endpoint_url="https://connect.example"))
    assert not is_transient(ParamValidationError(report="PhoneNumberId is missing"))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_the_response_puts_transient_statuses_are_botocores(status):
    assert is_transient_status(status)


@pytest.mark.parametrize("status", [200, 400, 403, 404, 501])
def test_other_statuses_end_the_response_put(status):
    assert not is_transient_status(status)


@pytest.mark.parametrize(
    ("code", "status", "said"),
    [
        (
            "ServiceUnavailable",
            503,
            "Connect kept answering ServiceUnavailable (HTTP 503) to connect:UpdatePhoneNumber",
        ),
        (
            "502",
            502,
            "HTTP 502 Bad Gateway with no error code (a load balancer's or proxy's page) to connect:",
        ),
        (
            "RequestTimeout",
            400,
            "Connect kept answering RequestTimeout (HTTP 400) to connect:UpdatePhoneNumber",
        ),
    ],
)
def test_a_transient_fault_past_the_budget_names_the_call_and_the_fault(code, status, said):
    reason = from_client_error(
        client_error(code, status), subject="moving +15555550100", service="connect"
    ).reason

    assert said in reason
    assert "time budget ran out" in reason
    assert "raise the API quota" not in reason  # not a throttle: no quota to raise


def _reason_for(code: str, status: int = 400) -> ProviderError:
    return from_client_error(client_error(code, status), subject="moving +15555550100", service="connect")


def test_a_missing_resource_is_an_invalid_request_quoting_connect():
    error = _reason_for("ResourceNotFoundException", 404)

    assert type(error) is InvalidRequest
    assert error.reason.startswith("Not found moving +15555550100: Connect said")


def test_a_reused_client_token_asks_for_a_retry_of_the_stack_operation():
    error = _reason_for("IdempotencyException")

    assert type(error) is IdempotencyConflict
    assert "ClientToken moving +15555550100 as already used with other parameters" in error.reason
    assert error.reason.endswith("retry the stack operation.")


def test_a_number_busy_past_the_budget_is_unavailable_and_says_to_wait_for_the_other_operation():
    error = _reason_for("ResourceInUseException", 409)

    assert type(error) is ServiceUnavailable
    assert "stayed busy with another operation moving +15555550100" in error.reason


def test_an_unknown_error_is_a_plain_provider_error_naming_its_code():
    error = _reason_for("SomethingNewException", 400)

    assert type(error) is ProviderError
    assert error.reason.startswith("Connect failed moving +15555550100: SomethingNewException")
