"""Bad input, fuzzed: properties and whole events CloudFormation might (or never would) send.

Every request with somewhere to answer gets exactly one response, under CloudFormation's 4096-byte limit,
with a Reason that names the problem; nothing invalid ever changes a number (no mutating Connect call at
all); and the Delete of an invalid resource always succeeds, so a stack with a bad declaration can always be
rolled back and deleted.

Hypothesis runs derandomized with no example database, so CI sees the same examples on every run.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_aws.cloudformation import MAX_RESPONSE_BYTES, build_event, invoke_handler
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import mutating, one_response, operations

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UUID_CHARS = frozenset("0123456789abcdefABCDEF-")
PROPERTY_NAMES = ("PhoneNumberId", "TargetArn", "OnDelete", "ContactFlowArn")
ALLOWED_NAMES = {*PROPERTY_NAMES, "ServiceToken", "ServiceTimeout"}
MISSING = object()

wrong_types = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
huge = st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=3), st.integers(2_000, 20_000))
junk_text = st.one_of(st.text(max_size=60), huge, st.text(st.characters(min_codepoint=0x80), min_size=1))


def _not_an_id(value: str) -> bool:
    stripped = value.strip()
    return not stripped.startswith("arn:") and not (len(stripped) == 36 and set(stripped) <= UUID_CHARS)


def _connect_arn(partition: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:connect:{region}:{account}:{resource}"


other_service_arns = st.one_of(
    st.sampled_from(
        [
            "arn:aws:s3:::phone-numbers",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:connect",
            f"arn:aws:iam::{ACCOUNT}:role/connect",
            f"arn:aws:sns:{REGION}:{ACCOUNT}:phone-number",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/connect/instance",
        ]
    ),
    st.builds(
        lambda service, resource: f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}",
        st.sampled_from(["chime", "sms-voice", "lex", "ec2"]),
        st.uuids().map(lambda u: f"phone-number/{u}"),
    ),
)
# Same resource shapes, elsewhere: other partitions, other Regions of this partition.
elsewhere = st.sampled_from(
    [("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1"), ("aws", "eu-west-2"), ("aws", "us-west-2")]
)


def _foreign(kind: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda where, resource_id: _connect_arn(*where, ACCOUNT, f"{kind}/{resource_id}"),
        elsewhere,
        st.uuids(),
    )


def invalid_declarations(world: Any) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """A declaration with exactly one thing wrong, and what its Reason must mention."""
    valid = {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn, "OnDelete": "Retain"}
    here = f"arn:aws:connect:{REGION}:{ACCOUNT}"
    elsewhere_account = f"arn:aws:connect:{REGION}:210987654321"

    def changed(name: str, value: Any, **more: Any) -> dict[str, Any]:
        declared = {**valid, **more}
        if value is MISSING:
            declared.pop(name)
        else:
            declared[name] = value
        return declared

    def one(name: str, values: st.SearchStrategy[Any], expect: str | None = None, **more: Any):
        return values.map(lambda value: (changed(name, value, **more), expect or name))

    return st.one_of(
        one("PhoneNumberId", st.just(MISSING)),
        one("TargetArn", st.just(MISSING)),
        st.sampled_from(PROPERTY_NAMES).flatmap(lambda name: one(name, wrong_types)),
        one("PhoneNumberId", junk_text.filter(_not_an_id)),
        one("PhoneNumberId", st.one_of(other_service_arns, _foreign("phone-number"))),
        one("PhoneNumberId", st.uuids().map(lambda u: f"{here}:instance/{u}")),
        # Well-formed, but another account's: refused before any call, saying so (not an IAM Reason).
        one(
            "PhoneNumberId",
            st.uuids().map(lambda u: f"{elsewhere_account}:phone-number/{u}"),
            "that number is in another account",
        ),
        one("TargetArn", junk_text),
        one(
            "TargetArn",
            st.one_of(other_service_arns, _foreign("instance"), _foreign("traffic-distribution-group")),
        ),
        one(
            "TargetArn",
            st.sampled_from(["phone-number", "queue", "user"]).map(lambda kind: f"{here}:{kind}/x"),
        ),
        one("TargetArn", st.uuids().map(str)),
        one("OnDelete", junk_text.filter(lambda v: v.strip() not in ("Retain", "Restore"))),
        one("ContactFlowArn", junk_text.filter(lambda v: v.strip() != "")),
        one("ContactFlowArn", st.just(world.flow_a_arn)),
        one("ContactFlowArn", st.just(world.flow_b_arn), TargetArn=world.tdg_arn),
        one("ContactFlowArn", st.one_of(other_service_arns, _foreign("instance"))),
        st.tuples(
            st.text(min_size=1, max_size=300).filter(lambda k: k not in ALLOWED_NAMES), wrong_types
        ).map(lambda item: ({**valid, item[0]: item[1]}, "Unknown property")),
    )


def _raw_size(receiver, request_id: str) -> int:
    accepted = [a for a in receiver.attempts(request_id) if a.outcome == "accepted"]
    return len(accepted[0].raw_body)


def _deliver(stack, control, event):
    """Send ``event`` and return (its one response, the mutating Connect calls it caused)."""
    before = len(control.calls())
    response = stack.deliver(event)
    return response, mutating(operations(control, before))


def _event(stack, request_type: str, properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    event = build_event(
        request_type,
        properties={},
        response_url=stack.receiver.url_for,
        stack_id=stack.stack_id,
        logical_id="MainLine",
        **fields,
    )
    # build_event stringifies like CloudFormation does; the fuzz wants the wrong types to arrive as they are.
    event["ResourceProperties"] = {"ServiceToken": event["ServiceToken"], **properties}
    return event


@FUZZ
@given(data=st.data(), request_type=st.sampled_from(["Create", "Update"]))
def test_invalid_declarations_fail_cleanly_and_change_nothing(
    data, request_type, stack, world, aws_env, receiver
):
    properties, expect = data.draw(invalid_declarations(world))
    fields = {}
    if request_type == "Update":
        fields = {"physical_id": world.number_arn, "old_properties": {"PhoneNumberId": world.number_id}}
    event = _event(stack, request_type, properties, **fields)

    response, changes = _deliver(stack, aws_env.control, event)

    assert response.status == "FAILED"
    assert response.count == 1
    assert expect in response.reason
    assert changes == []
    assert _raw_size(receiver, event["RequestId"]) <= MAX_RESPONSE_BYTES


physical_ids = st.one_of(
    st.sampled_from(["unassigned", "world-number", "unknown-number", "elsewhere"]),
    st.text(min_size=1, max_size=200),
)


@FUZZ
@given(data=st.data(), physical=physical_ids)
def test_delete_of_an_invalid_resource_always_succeeds(data, physical, stack, world, aws_env, receiver):
    properties, _ = data.draw(invalid_declarations(world))
    physical_id = {
        "unassigned": "MainLine-unassigned-0123456789ab",
        # A number this resource never owned: Delete must leave it alone.
        "world-number": world.number_arn,
        "unknown-number": f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/{uuid.uuid4()}",
        "elsewhere": f"arn:aws:connect:eu-west-2:{ACCOUNT}:phone-number/{world.number_id}",
    }.get(physical, physical)
    event = _event(stack, "Delete", properties, physical_id=physical_id)

    response, changes = _deliver(stack, aws_env.control, event)

    assert response.status == "SUCCESS", response.reason
    assert response.count == 1
    assert response.physical_id == physical_id
    assert changes == []
    assert _raw_size(receiver, event["RequestId"]) <= MAX_RESPONSE_BYTES


# Keys that identify the request: broken, they make an event CloudFormation never sends, which must still
# get one plain FAILED. ResponseURL stays intact here; without one, see test_event_with_nowhere_to_answer_*.
IDENTITY_KEYS = ("RequestType", "StackId", "RequestId", "LogicalResourceId", "PhysicalResourceId")
OTHER_KEYS = ("ResourceProperties", "OldResourceProperties", "ServiceToken", "ResourceType")
event_changes = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(OTHER_KEYS), st.one_of(st.just(MISSING), wrong_types, junk_text)),
        # An empty PhysicalResourceId is left to the explicit cases below (a known gap).
        st.tuples(st.sampled_from(IDENTITY_KEYS), st.one_of(st.just(MISSING), wrong_types)),
        st.tuples(st.sampled_from(IDENTITY_KEYS[:-1]), st.just("")),
        st.tuples(st.just("RequestType"), st.text(max_size=20)),
        st.tuples(
            st.text(min_size=1, max_size=40).filter(
                lambda k: k not in (*IDENTITY_KEYS, *OTHER_KEYS, "ResponseURL")
            ),
            st.one_of(wrong_types, junk_text),
        ),
    ),
    min_size=1,
    max_size=4,
)


def _identity_broken(event: dict[str, Any]) -> bool:
    for key in ("RequestType", "StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str) or not event[key]:
            return True
    if event["RequestType"] not in ("Create", "Update", "Delete"):
        return True
    return event["RequestType"] != "Create" and not (
        isinstance(event.get("PhysicalResourceId"), str) and event["PhysicalResourceId"]
    )


@FUZZ
@given(data=st.data(), request_type=st.sampled_from(["Create", "Update", "Delete"]), changes=event_changes)
def test_malformed_events_get_exactly_one_answer(
    data, request_type, changes, stack, world, aws_env, receiver
):
    properties, _ = data.draw(invalid_declarations(world))
    fields = {}
    if request_type != "Create":
        fields["physical_id"] = world.number_arn
    if request_type == "Update":
        fields["old_properties"] = {"PhoneNumberId": world.number_id}
    event = _event(stack, request_type, properties, **fields)
    # The response URL names the request, whatever happens to the event's own RequestId.
    request_id = event["RequestId"]
    for key, value in changes:
        if value is MISSING:
            event.pop(key, None)
        else:
            event[key] = value
    broken = _identity_broken(event)
    before = len(aws_env.control.calls())

    invocation = invoke_handler(stack.handler, event, timeout_seconds=10)

    assert invocation.error is None
    assert not invocation.timed_out
    assert mutating(operations(aws_env.control, before)) == []
    body = one_response(receiver, request_id)
    assert _raw_size(receiver, request_id) <= MAX_RESPONSE_BYTES
    assert body["PhysicalResourceId"]
    if broken:
        assert body["Status"] == "FAILED"
        assert "Malformed" in body["Reason"]
    elif event["RequestType"] == "Delete":
        assert body["Status"] == "SUCCESS", body["Reason"]
    else:
        assert body["Status"] == "FAILED"
        assert re.search(r"propert|phone number", body["Reason"], re.IGNORECASE), body["Reason"]


def _identity_cases():
    cases = []
    for key in ("StackId", "RequestId", "LogicalResourceId", "RequestType"):
        cases.append(pytest.param("Create", key, MISSING, id=f"{key}-missing"))
        cases.append(pytest.param("Create", key, 12345, id=f"{key}-number"))
    cases.append(pytest.param("Create", "RequestType", "Replace", id="RequestType-unknown"))
    cases.append(pytest.param("Delete", "PhysicalResourceId", 12345, id="Delete-PhysicalResourceId-number"))
    cases.append(pytest.param("Update", "PhysicalResourceId", MISSING, id="Update-PhysicalResourceId-none"))
    for request_type in ("Update", "Delete"):
        name = f"{request_type}-PhysicalResourceId-empty"
        cases.append(pytest.param(request_type, "PhysicalResourceId", "", id=name))
    return cases


@pytest.mark.parametrize(("request_type", "key", "value"), _identity_cases())
def test_event_without_usable_identity_still_gets_one_clear_answer(
    request_type, key, value, stack, world, aws_env, receiver
):
    fields = {}
    if request_type != "Create":
        fields["physical_id"] = world.number_arn
    if request_type == "Update":
        fields["old_properties"] = {"PhoneNumberId": world.number_id}
    event = _event(
        stack, request_type, {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn}, **fields
    )
    request_id = event["RequestId"]
    if value is MISSING:
        del event[key]
    else:
        event[key] = value
    before = len(aws_env.control.calls())

    invocation = invoke_handler(stack.handler, event, timeout_seconds=10)

    assert invocation.error is None
    assert mutating(operations(aws_env.control, before)) == []
    bodies = receiver.responses(request_id)
    assert len(bodies) == 1
    assert bodies[0]["PhysicalResourceId"]
    assert bodies[0]["Status"] == "FAILED"
    assert key in bodies[0]["Reason"]


@pytest.mark.parametrize(
    "event_shape",
    [
        pytest.param(
            lambda event: {k: v for k, v in event.items() if k != "ResponseURL"}, id="no-ResponseURL"
        ),
        pytest.param(lambda event: {**event, "ResponseURL": None}, id="null-ResponseURL"),
        pytest.param(lambda event: [event], id="event-is-a-list"),
        pytest.param(lambda event: json.dumps(event), id="event-is-a-string"),
    ],
)
def test_event_with_nowhere_to_answer_neither_crashes_nor_acts(event_shape, stack, world, aws_env, receiver):
    event = _event(stack, "Create", {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn})
    before = len(aws_env.control.calls())

    invocation = invoke_handler(stack.handler, event_shape(event), timeout_seconds=10)

    assert invocation.error is None
    assert not invocation.timed_out
    assert mutating(operations(aws_env.control, before)) == []
    assert receiver.attempts(event["RequestId"]) == []
