"""The crhelper responder: exactly one answer per request, even for events CloudFormation would never send."""

from __future__ import annotations

import json

import pytest

from local_aws.cloudformation import MAX_RESPONSE_BYTES, build_event, invoke_handler
from phone_number_assignment import responder


def event_for(receiver, **overrides) -> tuple[dict, str]:
    """A Create event with ``overrides`` applied (None removes a key), and the request ID its URL carries."""
    event = build_event(
        "Create", properties={"PhoneNumberId": "x", "TargetArn": "y"}, response_url=receiver.url_for
    )
    url_request_id = event["RequestId"]
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}, url_request_id


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"RequestType": "Destroy"}, "RequestType must be Create, Update or Delete"),
        ({"RequestId": None}, "RequestId is missing"),
        ({"StackId": 42}, "StackId is missing or not a string"),
        ({"LogicalResourceId": ""}, "LogicalResourceId is missing"),
        ({"RequestType": "Delete"}, "needs a PhysicalResourceId"),
    ],
)
def test_a_malformed_event_gets_one_failed_answer_naming_the_problem(
    handler, receiver, aws_env, overrides, named
):
    event, url_request_id = event_for(receiver, **overrides)

    invocation = invoke_handler(handler, event, timeout_seconds=10)

    assert invocation.ok, invocation.error
    [attempt] = receiver.attempts(url_request_id)
    assert attempt.body["Status"] == "FAILED"
    assert named in attempt.body["Reason"]
    assert aws_env.control.calls() == []


@pytest.mark.parametrize("event", [None, [], "Create", {"RequestType": "Create"}])
def test_an_event_without_a_response_url_ends_quietly(handler, aws_env, event):
    invocation = invoke_handler(handler, event, timeout_seconds=10)

    assert invocation.ok, invocation.error
    assert aws_env.control.calls() == []


# ---- what the responder relies on inside crhelper ---------------------------------------------------------


def test_crhelper_state_is_exactly_what_its_constructor_sets(monkeypatch):
    import inspect

    from crhelper import CfnResource

    from phone_number_assignment import responder

    # sam-local mode skips the polling clients, so the real constructor runs here without AWS.
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    real = CfnResource(log_level="INFO")

    assert set(vars(real)) == set(responder.CRHELPER_STATE)
    for name in (*responder.CRHELPER_HOOKS, *responder.CRHELPER_DISPATCH):
        assert callable(getattr(CfnResource, name, None)), f"crhelper no longer has {name}"
    # The dispatch this provider still gets from crhelper: __call__ -> _crhelper_init -> _wrap_function, and
    # _cfn_response -> _send.
    call = inspect.getsource(CfnResource.__call__)
    assert "_crhelper_init(event, context)" in call
    assert "_cfn_response(event)" in call
    assert "_log_setup(event, context)" in call
    init = inspect.getsource(CfnResource._crhelper_init)
    assert "self._set_timeout()" in init
    assert "self._wrap_function(self._get_func())" in init
    assert "self._send()" in inspect.getsource(CfnResource._cfn_response)


def test_a_request_leaves_the_processes_logging_as_it_found_it(handler, receiver, aws_env):
    import logging

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.DEBUG)
    try:
        event, _ = event_for(receiver, RequestType="Delete", PhysicalResourceId="MainLine-unassigned-1")
        assert invoke_handler(handler, event, timeout_seconds=10).ok
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


def test_an_event_id_longer_than_any_cloudformation_sends_is_refused_and_the_answer_still_fits(
    handler, receiver, aws_env
):
    event, url_request_id = event_for(receiver, StackId="arn:" + "s" * 2100)

    invocation = invoke_handler(handler, event, timeout_seconds=10)

    assert invocation.ok, invocation.error
    [attempt] = receiver.attempts(url_request_id)
    assert attempt.body["Status"] == "FAILED"
    assert "StackId is 2104 characters long" in attempt.body["Reason"]
    assert len(attempt.raw_body) <= MAX_RESPONSE_BYTES
    assert aws_env.control.calls() == []


def test_an_answer_over_cloudformations_size_limit_is_shrunk_by_its_reason(handler, receiver, aws_env):
    # Non-ASCII IDs grow sixfold in the JSON answer (\u00e9), so echoing them leaves too little room for the
    # Reason, which is cut at its end: it starts with what went wrong.
    event, url_request_id = event_for(receiver, RequestType="é" * 40, LogicalResourceId="é" * 520)

    invocation = invoke_handler(handler, event, timeout_seconds=10)

    assert invocation.ok, invocation.error
    [attempt] = receiver.attempts(url_request_id)
    assert len(attempt.raw_body) <= MAX_RESPONSE_BYTES
    assert attempt.body["Status"] == "FAILED"
    assert attempt.body["LogicalResourceId"] == "é" * 520
    reason = attempt.body["Reason"]
    assert reason.startswith("Malformed custom-resource event: RequestType must be")
    assert reason.endswith(" (truncated)")


def test_a_reason_over_the_limit_keeps_its_start_and_says_it_was_cut():
    fits = "r" * responder.MAX_REASON_CHARS
    assert responder._bounded(fits) == fits

    cut = responder._bounded("Phone number x could not move: " + "detail " * 300)

    assert len(cut) == responder.MAX_REASON_CHARS
    assert cut.startswith("Phone number x could not move: detail")
    assert cut.endswith(" (truncated)")


def answer(**overrides):
    body = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "arn:aws:connect:us-east-1:123456789012:phone-number/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u",
        "RequestId": "r",
        "LogicalResourceId": "MainLine",
        "Reason": "",
        "Data": {"PhoneNumberArn": "arn:aws:connect:us-east-1:123456789012:phone-number/x"},
        "NoEcho": False,
    }
    return body | overrides


def test_an_answer_within_the_limit_is_sent_as_it_is():
    body = answer()
    assert json.loads(responder._fit(body)) == body


def test_an_oversized_answer_drops_its_data_before_cutting_its_reason():
    body = answer(Status="FAILED", Reason="Connect said no.", Data={"Blob": "x" * MAX_RESPONSE_BYTES})

    sent = json.loads(responder._fit(body))

    assert sent == {**body, "Data": {}}


@pytest.mark.parametrize(
    "filler",
    [
        "x",
        # JSON escapes these in 6 and 12 bytes: the cut must be measured, not computed from the excess.
        "é",
        "\U0001f4de",
    ],
)
def test_an_oversized_reason_is_cut_from_its_end_to_fit(filler):
    reason = "Connect could not move the number: " + filler * 4000
    body = answer(Status="FAILED", Reason=reason, Data={})

    payload = responder._fit(body)

    assert len(payload) <= MAX_RESPONSE_BYTES
    sent = json.loads(payload)
    assert sent["Reason"].startswith("Connect could not move the number: " + filler)
    assert sent["Reason"].endswith(" (truncated)")
    assert {**sent, "Reason": reason} == body


def test_an_unexpected_exception_before_the_lifecycle_starts_is_one_plain_failed(
    monkeypatch, handler, receiver, aws_env
):
    from phone_number_assignment import lifecycle

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that must not reach CloudFormation")

    monkeypatch.setattr(lifecycle, "parse_properties", broken)
    event, url_request_id = event_for(receiver)

    assert invoke_handler(handler, event, timeout_seconds=60).ok

    [attempt] = receiver.attempts(url_request_id)
    assert attempt.body["Status"] == "FAILED"
    assert "Internal error in the PhoneNumberAssignment provider" in attempt.body["Reason"]
    assert "internal detail" not in attempt.body["Reason"]
    assert "Traceback" not in attempt.body["Reason"]


def test_the_tls_context_is_made_once_per_trust_configuration(monkeypatch, receiver):
    # Parsing the CA bundle costs about 20 ms per context: a warm container reuses it, and a changed
    # SSL_CERT_FILE (how a local receiver is trusted) gets a context of its own.
    monkeypatch.setenv("SSL_CERT_FILE", receiver.trust_bundle())
    first = responder._tls_context()
    assert responder._tls_context() is first

    monkeypatch.setenv("SSL_CERT_FILE", receiver.cert_file)
    other = responder._tls_context()
    assert other is not first
    assert other.cert_store_stats()["x509_ca"] == 1  # only the receiver's CA, read from the new variable
