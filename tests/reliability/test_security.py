"""Security properties, as tests: secrets stay out of logs, least privilege holds, input is only ever data.

* The ResponseURL is a presigned URL: whoever reads it can answer CloudFormation for the stack. No log line
  may carry it (or its signature), at the shipped log level or at DEBUG.
* The function's IAM policy grants exactly the Connect actions the code calls, on this account and Region.
* Property values never run, and never act as format strings: they come back quoted in Reasons only.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import cfnlint.decode
import pytest

from local_aws.cloudformation import build_event, invoke_handler, response_problems
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import captured_logs, props

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "provider" / "phone_number_assignment"


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


def _policy_statements():
    template, problems = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    assert not problems
    statements = []
    for resource in template["Resources"].values():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, str):
                # A managed policy by name: none may grant Connect (their contents are not in the template).
                assert "connect" not in policy.lower(), policy
                continue
            statements.extend(policy.get("Statement", []))
    return statements


def _connect_grants(statements):
    actions, resources = set(), []
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        granted = {action for action in listed if action.lower().startswith("connect:")}
        if granted:
            actions |= granted
            scoped = statement["Resource"]
            resources.extend(scoped if isinstance(scoped, list) else [scoped])
    return actions, resources


def _operations_in_source() -> set[str]:
    """The Connect operations the code calls (connect.py makes every Connect call)."""
    return set(re.findall(r"_call\(\s*\"([A-Za-z]+)\"", (PROVIDER / "connect.py").read_text()))


def test_the_only_cloudformation_grant_is_the_read_the_code_makes():
    source = "\n".join(path.read_text() for path in PROVIDER.glob("*.py"))
    called = set(re.findall(r"cloudformation\.([a-z_]+)\(", source)) | set(
        re.findall(r"cloudformation\(\)\.([a-z_]+)\(", source)
    )
    granted = [
        statement
        for statement in _policy_statements()
        if any(str(action).startswith("cloudformation:") for action in statement["Action"])
    ]

    assert called == {"describe_stack_resource", "describe_stacks"}
    [statement] = granted
    assert statement["Action"] == ["cloudformation:DescribeStackResource", "cloudformation:DescribeStacks"]
    assert statement["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*/*"}
    ]


def test_policy_grants_exactly_the_connect_actions_the_code_calls(stack, new_stack, world, aws_env):
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
    assert stack.delete("MainLine").ok
    observed = {call["operation"] for call in aws_env.control.calls()}

    actions, resources = _connect_grants(_policy_statements())

    assert {f"connect:{operation}" for operation in observed} == actions
    # Paths the lifecycle above may not reach are still covered by the policy.
    assert {f"connect:{operation}" for operation in _operations_in_source()} == actions
    assert observed <= _operations_in_source()

    prefix = "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:"
    patterns = []
    for resource in resources:
        assert set(resource) == {"Fn::Sub"}, resource
        assert resource["Fn::Sub"].startswith(prefix), resource
        tail = resource["Fn::Sub"][len(prefix) :]
        assert tail not in ("", "*"), resource
        patterns.append(f"arn:aws:connect:{REGION}:{ACCOUNT}:{tail}")
    # ...and scoped wide enough for every ARN the provider really passed.
    passed = {
        value
        for call in aws_env.control.calls()
        for key, value in call["params"].items()
        if key in ("PhoneNumberId", "TargetArn", "resourceArn") and str(value).startswith("arn:")
    }
    assert passed
    assert [arn for arn in passed if not any(fnmatch.fnmatchcase(arn, p) for p in patterns)] == []


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
