"""Security properties, as tests: secrets stay out of logs, least privilege holds, input is only ever data.

* The ResponseURL is a presigned URL: whoever reads it can answer CloudFormation for the stack. No log line
  may carry it (or its signature), at the shipped log level or at DEBUG.
* The function's IAM policy grants exactly the Connect actions the code calls, each on the ARNs it touches
  (test_iam_policy.py checks the policy against AWS's published authorization data).
* Property values never run, and never act as format strings: they come back quoted in Reasons only.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from local_aws.cloudformation import build_event, invoke_handler, response_problems
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import captured_logs, props
from tests.reliability.iam_policy import (
    arn_pattern_matches,
    as_list,
    resolve,
    role_statements,
    translated_template,
)

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "provider" / "phone_number_assignment"
# The pseudo parameters of the emulator's account and Region, where the lifecycle below runs.
HERE = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


# ---- the ResponseURL never reaches a log -----------------------------------------------------------------


def _secrets_of(url: str) -> list[str]:
    """Every form in which a log line could carry the presigned URL or what makes it usable."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return [
        url,
        unquote(url),
        parts.query,
        parts.path,
        unquote(parts.path),
        query["X-Amz-Signature"][0],
        query["X-Amz-Credential"][0],
        json.dumps(url)[1:-1],
    ]


@pytest.fixture(params=["shipped", "DEBUG"])
def log_level(request):
    """The template's default LogLevel (POWERTOOLS_LOG_LEVEL=INFO), or DEBUG everywhere it can be set."""
    from phone_number_assignment.telemetry import logger

    if request.param == "shipped":
        yield "INFO"
        return
    root = logging.getLogger()
    before = (logger.log_level, root.level)
    logger.setLevel("DEBUG")
    root.setLevel(logging.DEBUG)
    yield "DEBUG"
    logger.setLevel(before[0])
    root.setLevel(before[1])


def test_no_log_line_carries_the_response_url(log_level, stack, world, aws_env, receiver, capfd):
    urls = []

    def remember(*args, **kwargs):
        urls.append(url := receiver.url_for(*args, **kwargs))
        return url

    def send(request_type, properties, **fields):
        event = build_event(
            request_type,
            properties=properties,
            response_url=remember,
            stack_id=stack.stack_id,
            logical_id="MainLine",
            **fields,
        )
        return stack.deliver(event)

    with captured_logs() as logs:
        # Success, with a move and a contact flow; the answer needs a retry on the way.
        receiver.set_behaviour("error", times=1)
        declared = props(world, ContactFlowArn=world.flow_b_arn)
        created = send("Create", declared)
        assert created.ok, created.reason
        deleted = send("Delete", declared, physical_id=created.physical_id)
        assert deleted.ok, deleted.reason
        # Failures: invalid properties, a denied Connect call.
        assert send("Create", props(world, OnDelete="Sometimes")).status == "FAILED"
        aws_env.control.inject_error("UpdatePhoneNumber", "AccessDeniedException", count=1)
        assert send("Create", props(world, TargetArn=world.tdg_arn)).status == "FAILED"
        # A malformed event, logged as such.
        event = build_event("Create", properties=props(world), response_url=remember, stack_id=stack.stack_id)
        del event["StackId"]
        invoke_handler(stack.handler, event, timeout_seconds=10)
        # An answer that cannot be delivered at all.
        receiver.set_behaviour("refuse")
        lost = build_event(
            "Delete", properties={}, response_url=remember, physical_id="MainLine-unassigned-0"
        )
        invoke_handler(stack.handler, lost, timeout_seconds=3)
        receiver.set_behaviour("accept")

    printed = capfd.readouterr()
    everything = "\n".join([logs.text(), printed.out, printed.err])
    assert "Response sent to CloudFormation" in everything, "the capture saw nothing"
    assert "Could not deliver the response" in everything, "the failure path was not exercised"
    if log_level == "DEBUG":
        # Really at DEBUG: the provider's own DEBUG lines are there (nothing resets the level mid-way).
        assert "Waiting before the next look" in everything, "no DEBUG line was logged"
    leaked = [secret for url in urls for secret in _secrets_of(url) if secret in everything]
    assert leaked == []


# ---- least privilege -------------------------------------------------------------------------------------


@pytest.fixture
def statements():
    """The statements of the function's role as SAM deploys them."""
    return role_statements(translated_template())


def _grants(statements, service: str) -> dict[str, list[str]]:
    """service:Action -> the ARN patterns granted to it, in the tests' account and Region."""
    grants: dict[str, list[str]] = {}
    for raw in statements:
        statement = resolve(raw, HERE)
        for action in as_list(statement["Action"]):
            if action.startswith(f"{service}:"):
                grants.setdefault(action, []).extend(as_list(statement["Resource"]))
    return grants


def _operations_in_source() -> set[str]:
    """The Connect operations the code calls (connect.py makes every Connect call)."""
    return set(re.findall(r"_call\(\s*\"([A-Za-z]+)\"", (PROVIDER / "connect.py").read_text()))


def test_the_only_cloudformation_grants_are_the_stack_reads_the_code_makes(statements):
    source = "\n".join(path.read_text() for path in PROVIDER.glob("*.py"))
    called = set(re.findall(r"cloudformation\.([a-z_]+)\(", source)) | set(
        re.findall(r"cloudformation\(\)\.([a-z_]+)\(", source)
    )
    # The paged reads (stack_reads.py) are one API operation each.
    paged = {
        "list_stack_resource_pages": "list_stack_resources",
        "stack_event_pages": "describe_stack_events",
    }
    called = {paged.get(name, name) for name in called}
    granted = [s for s in statements if any(a.startswith("cloudformation:") for a in as_list(s["Action"]))]

    # DescribeStackResources: which stack resource has the number's ARN as physical ID (a native
    # AWS::Connect::PhoneNumber), and ListStackResources past its first 100; DescribeStackResource: does an
    # owner's stack resource still hold the number; DescribeStacks: is a same-stack takeover a rename in an
    # update, is the stack or an ancestor rolling back; DescribeStackEvents: is a deletion the one that
    # follows a failed creation (OnFailure=DELETE).
    assert called == {
        "describe_stack_resource",
        "describe_stack_resources",
        "describe_stacks",
        "describe_stack_events",
        "list_stack_resources",
    }
    [statement] = granted
    assert sorted(as_list(statement["Action"])) == [
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "cloudformation:DescribeStackResources",
        "cloudformation:DescribeStacks",
        "cloudformation:ListStackResources",
    ]
    assert as_list(statement["Resource"]) == [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*/*"}
    ]
    assert "Condition" not in statement


def _authorized_arns(call: dict) -> list[str]:
    """The ARNs IAM authorizes a Connect call on (Service Authorization Reference), from its parameters."""
    params = call["params"]
    arns = [
        value
        for key, value in params.items()
        if key in ("PhoneNumberId", "TargetArn", "resourceArn", "TrafficDistributionGroupId")
    ]
    if call["operation"] == "BatchGetFlowAssociation":
        arns.extend(params["ResourceIds"])  # authorized on the phone numbers (phone-number/*)
    if call["operation"] in ("AssociatePhoneNumberContactFlow", "DescribeContactFlow"):
        instance = params["InstanceId"]
        if not instance.startswith("arn:"):
            instance = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{instance}"
        arns.append(f"{instance}/contact-flow/{params['ContactFlowId']}")
    return arns


def test_policy_grants_each_connect_call_exactly_what_it_needs(statements, stack, new_stack, world, aws_env):
    # A lifecycle through every path that calls Connect: claim, move, contact flow on and off, a move away
    # from a flow, an ownership conflict, and a Restore that moves the number back.
    restore_with_flow = props(world, OnDelete="Restore", ContactFlowArn=world.flow_b_arn)
    assert stack.create("MainLine", restore_with_flow).ok
    assert not new_stack("rival").create("Rival", props(world, TargetArn=world.tdg_arn)).ok
    on_group = props(world, OnDelete="Restore", TargetArn=world.tdg_arn, ContactFlowArn=world.flow_a_arn)
    assert stack.update("MainLine", on_group).ok
    # Back home with a flow there: the Restore does not move it, so it removes the association itself.
    home = props(world, OnDelete="Restore", TargetArn=world.instance_a_arn, ContactFlowArn=world.flow_a_arn)
    assert stack.update("MainLine", home).ok
    # The ownership record's key passes the statement's dynamodb:LeadingKeys condition.
    _assert_ownership_keys_are_phone_numbers(statements, aws_env)
    assert stack.delete("MainLine").ok
    calls = aws_env.control.calls()
    observed = {call["operation"] for call in calls}

    grants = _grants(statements, "connect")

    assert {f"connect:{operation}" for operation in observed} == set(grants)
    # Paths the lifecycle above may not reach are still covered by the policy.
    assert {f"connect:{operation}" for operation in _operations_in_source()} == set(grants)
    # Each call is allowed on every ARN it touches by its own action's grant, not another action's.
    denied = [
        (call["operation"], arn)
        for call in calls
        for arn in _authorized_arns(call)
        if not any(arn_pattern_matches(pattern, arn) for pattern in grants[f"connect:{call['operation']}"])
    ]
    assert denied == []
    assert {call["operation"] for call in calls if _authorized_arns(call)} == observed
    # ...and every tag key the provider wrote or removed passes the tagging statement's condition.
    [tagging] = [s for s in statements if "connect:TagResource" in as_list(s["Action"])]
    patterns = as_list(tagging["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"])
    keys = [
        key
        for call in calls
        if call["operation"] in ("TagResource", "UntagResource")
        for key in (call["params"].get("tags") or {}).keys() | set(call["params"].get("tagKeys") or [])
    ]
    assert keys
    assert [key for key in keys if not any(arn_pattern_matches(p, key) for p in patterns)] == []


def _assert_ownership_keys_are_phone_numbers(statements, aws_env):
    """The records' keys pass the statement's dynamodb:LeadingKeys condition."""
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    [records] = [resolve(s, HERE) for s in statements if "dynamodb:PutItem" in as_list(s["Action"])]
    patterns = as_list(records["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
    items = dynamodb.scan(TableName="PhoneNumberAssignment-Ownership", ConsistentRead=True)["Items"]
    assert items
    keys = [item["PhoneNumberArn"]["S"] for item in items]
    assert [key for key in keys if not any(arn_pattern_matches(p, key) for p in patterns)] == []


# ---- property values are data ----------------------------------------------------------------------------


def _hostile_values(canary: Path) -> list[str]:
    return [
        f"$(touch {canary})",
        f"`touch {canary}`; touch {canary} && touch {canary} | touch {canary}",
        "{0.__class__.__mro__}",
        "{__import__('os').system('id')}",
        "%s%s%s%n%(asctime)s",
        "${AWS::AccountId}{{resolve:ssm:/secret}}",
        '\x00\r\n{"Status": "SUCCESS"}',
        "</Message><Status>SUCCESS</Status>",
    ]


@pytest.mark.parametrize("name", ["PhoneNumberId", "TargetArn", "OnDelete", "ContactFlowArn", "Unknown"])
def test_property_values_come_back_only_quoted(name, stack, world, aws_env, receiver, tmp_path, capfd):
    canary = tmp_path / "executed"
    for value in _hostile_values(canary):
        declared = props(world)
        if name == "Unknown":
            declared[value] = "x"
        else:
            declared[name] = value
        with captured_logs() as logs:
            response = stack.create("MainLine", declared)

        assert (response.status, response.count) == ("FAILED", 1)
        assert response_problems(response.event, response.body) == []
        # repr() is how Reasons quote a value: it appears escaped inside quotes, never evaluated.
        assert repr(value)[1:16] in response.reason, (value, response.reason)
        for evaluated in ("<class", "mappingproxy", "uid="):
            assert evaluated not in response.reason
        assert not canary.exists()
        for line in logs.lines():
            json.loads(line)
        assert "Logging error" not in capfd.readouterr().err
    assert aws_env.control.moves() == []


def test_a_deployment_with_its_own_table_gets_no_permission_to_create_one():
    external = {
        action
        for statement in role_statements(translated_template(), {"OwnershipTable": "External"})
        for action in as_list(statement["Action"])
    }
    default = {
        action
        for statement in role_statements(translated_template())
        for action in as_list(statement["Action"])
    }

    assert {"dynamodb:CreateTable", "dynamodb:UpdateContinuousBackups"} <= default
    assert not {action for action in external if action.startswith("dynamodb:") and "Table" in action}
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= external
