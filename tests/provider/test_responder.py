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
