"""One warm Lambda container serving requests of different stacks and Regions in turn.

The handler module, its Connect clients and its logger outlive each request. Nothing of one request (its
physical ID, Data, Reason, log keys) may reach the response or the log lines of the next, and a request whose
ARNs belong to another Region than the function's fails clearly instead of acting on the wrong Region.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import boto3

from local_aws.stack import LocalCustomResourceStack
from tests.conftest import ACCOUNT, describe
from tests.reliability.helpers import captured_logs, mutating, operations, props

# Connect runs in London, not in Ireland.
OTHER_REGION = "eu-west-2"


def _other_region_world(control):
    instance_a, instance_b, number_id = (str(uuid.uuid4()) for _ in range(3))
    control.seed(
        {
            "account_id": ACCOUNT,
            "region": OTHER_REGION,
            "instances": [{"id": instance_a, "alias": "eu-a"}, {"id": instance_b, "alias": "eu-b"}],
            "phone_numbers": [{"id": number_id, "phone_number": "+442055501234", "target": instance_a}],
        }
    )
    prefix = f"arn:aws:connect:{OTHER_REGION}:{ACCOUNT}"
    return number_id, f"{prefix}:phone-number/{number_id}", f"{prefix}:instance/{instance_b}"


def _remembered(response) -> set[str]:
    values = {response.physical_id, response.event["StackId"], *response.data.values()}
    if response.reason:
        values.add(response.reason)
    return {value for value in values if value}


def _log_lines_of(request_id: str, printed: list[str]) -> list[str]:
    lines = []
    for line in printed:
        with contextlib.suppress(ValueError):
            if json.loads(line).get("correlation_id") == request_id:
                lines.append(line)
    return lines


def _leaks(earlier, later, log_lines) -> list[str]:
    """Values of an earlier request in a later one's response or log lines, though not in its event."""
    request = json.dumps(later.event)
    seen = json.dumps(later.body) + "\n".join(log_lines)
    return sorted(value for value in _remembered(earlier) if value not in request and value in seen)


def test_warm_container_serves_stacks_and_regions_without_leaks(handler, receiver, world, connect, aws_env):
    home = LocalCustomResourceStack(handler, receiver, stack_name="home-stack", timeout_seconds=60)
    abroad = LocalCustomResourceStack(
        handler, receiver, stack_name="abroad-stack", region=OTHER_REGION, timeout_seconds=60
    )
    eu_number_id, eu_number_arn, eu_target_arn = _other_region_world(aws_env.control)
    history = []

    with captured_logs() as logs:
        created = home.create("MainLine", props(world, ContactFlowArn=world.flow_b_arn))
        assert created.ok, created.reason
        history.append(created)

        # A function in eu-west-2 handed us-east-1 ARNs: it must refuse, not act in either Region.
        calls_before = len(aws_env.control.calls())
        misdirected = abroad.create("MainLine", props(world, PhoneNumberId=world.other_number_arn))
        assert (misdirected.status, misdirected.count) == ("FAILED", 1)
        assert f"arn:aws:connect:{OTHER_REGION}:" in misdirected.reason
        assert "Region" in misdirected.reason
        assert mutating(operations(aws_env.control, calls_before)) == []
        assert misdirected.data == {}
        history.append(misdirected)

        served_abroad = abroad.create("MainLine", {"PhoneNumberId": eu_number_id, "TargetArn": eu_target_arn})
        assert served_abroad.ok, served_abroad.reason
        assert served_abroad.physical_id == eu_number_arn
        assert served_abroad.data["TargetArn"] == eu_target_arn
        history.append(served_abroad)

        released_abroad = abroad.delete("MainLine")
        assert released_abroad.ok, released_abroad.reason
        history.append(released_abroad)

        invalid_at_home = home.create(
            "Spare", props(world, PhoneNumberId=world.other_number_id, OnDelete="retain")
        )
        assert invalid_at_home.status == "FAILED"
        assert invalid_at_home.data == {}
        history.append(invalid_at_home)

        released_at_home = home.delete("MainLine")
        assert released_at_home.ok, released_at_home.reason
        history.append(released_at_home)

    for index, later in enumerate(history[1:], start=1):
        lines = _log_lines_of(later.event["RequestId"], logs.lines())
        assert lines, "no log lines captured for the request"
        for earlier in history[:index]:
            assert _leaks(earlier, later, lines) == [], (earlier.event, later.event)
    # Each Region's numbers ended where their own requests put them.
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn
    assert describe(connect, world.other_number_arn)["TargetArn"] == world.instance_a_arn
    eu = boto3.client("connect", region_name=OTHER_REGION, endpoint_url=aws_env.endpoint_url)
    assert describe(eu, eu_number_arn)["TargetArn"] == eu_target_arn
