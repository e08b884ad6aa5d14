"""The crhelper responder: exactly one answer per request, even for events CloudFormation would never send."""

from __future__ import annotations

import pytest

from local_aws.cloudformation import build_event, invoke_handler


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
