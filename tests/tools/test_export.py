"""make export: the numbers on a target, read through the emulator, printed as a template that deploys as a
no-op and that the rules, cfn-lint and sam validate --lint accept; in its default style (Fn::ForEach, a
TargetArn parameter and one parameter per flow) the same template migrates the numbers when deployed with
other parameters."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from cfnlint.core import get_rules, run_checks
from cfnlint.decode import decode
from samcli.commands.validate.validate import _lint as sam_validate_lint

from local_aws.connect.native import deploy_native_number_stack
from phone_number_assignment.tags import LOGICAL_ID_TAG, STACK_TAG
from tests.conftest import ACCOUNT, REGION, describe
from tools import export

ROOT = Path(__file__).resolve().parents[2]
READS = {
    "ListPhoneNumbersV2",
    "DescribePhoneNumber",
    "ListFlowAssociations",
    "DescribeTrafficDistributionGroup",
    "DescribeStackResources",
    "DescribeStackResource",
}


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


class Estate:
    """Instance A holds two adoptable numbers (one routed to a flow), one another stack owns, and lists one
    of its traffic distribution group's; instance B holds one more, and a flow of its own."""

    def __init__(self) -> None:
        self.instance_a, self.instance_b, self.tdg, self.flow = (str(uuid.uuid4()) for _ in range(4))
        self.flow_b = str(uuid.uuid4())
        self.routed, self.plain, self.owned, self.on_tdg, self.on_b = (str(uuid.uuid4()) for _ in range(5))

    def seed(self) -> dict:
        a, b = self.instance_a, self.instance_b
        return {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": a, "alias": "alpha"}, {"id": b, "alias": "bravo"}],
            "traffic_distribution_groups": [{"id": self.tdg, "name": "tdg", "instance_id": a}],
            "contact_flows": [
                {"id": self.flow, "instance_id": a, "name": "Main menu"},
                {"id": self.flow_b, "instance_id": b, "name": "B main menu"},
            ],
            "phone_numbers": [
                {
                    "id": self.routed,
                    "phone_number": "+15555550100",
                    "target": a,
                    "contact_flow_id": self.flow,
                },
                {"id": self.plain, "phone_number": "+15555550101", "target": a},
                {
                    "id": self.owned,
                    "phone_number": "+15555550102",
                    "target": a,
                    "tags": {
                        STACK_TAG: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
                        LOGICAL_ID_TAG: "L",
                    },
                },
                {
                    "id": self.on_tdg,
                    "phone_number": "+15555550103",
                    "target": self.tdg,
                    "contact_flow_id": self.flow,
                },
                {"id": self.on_b, "phone_number": "+15555550104", "target": b},
            ],
        }

    @property
    def instance_a_arn(self) -> str:
        return arn(f"instance/{self.instance_a}")

    @property
    def tdg_arn(self) -> str:
        return arn(f"traffic-distribution-group/{self.tdg}")

    @property
    def flow_arn(self) -> str:
        return f"{self.instance_a_arn}/contact-flow/{self.flow}"

    @property
    def instance_b_arn(self) -> str:
        return arn(f"instance/{self.instance_b}")

    @property
    def flow_b_arn(self) -> str:
        return f"{self.instance_b_arn}/contact-flow/{self.flow_b}"


@pytest.fixture
def estate(aws_env) -> Estate:
    seeded = Estate()
    aws_env.control.seed(seeded.seed())
    return seeded


def run_export(*argv: str) -> tuple[int, dict | None, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = export.main(list(argv), stdout=stdout, stderr=stderr)
    return status, yaml.safe_load(stdout.getvalue()) if stdout.getvalue() else None, stderr.getvalue()


PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


def sub(value: dict) -> str:
    """Fn::Sub of the pseudo parameters, as CloudFormation would resolve them in this account and Region."""
    text = value["Fn::Sub"]
    for name, resolved in PSEUDO_PARAMETERS.items():
        text = text.replace("${" + name + "}", resolved)
    return text


def expand(template: Mapping[str, Any], **overrides: str) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation would create from ``template`` with these parameter values: each
    Fn::ForEach loop expanded (its identifier substituted in the output key and for Ref), Ref, Fn::FindInMap
    and Fn::Sub resolved, Fn::ImportValue left as ("import", name). As the AWS::LanguageExtensions transform
    and CloudFormation document them (Fn::ForEach, Fn::FindInMap, Ref, Fn::Sub in the Template Reference)."""
    parameters = {
        name: overrides.pop(name, spec.get("Default")) for name, spec in template["Parameters"].items()
    }
    assert not overrides, f"no such parameters: {overrides}"
    mappings = template.get("Mappings", {})

    def resolve(node: Any, scope: dict[str, str]) -> Any:
        names = {**PSEUDO_PARAMETERS, **parameters, **scope}
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return names[argument]
            if function == "Fn::FindInMap":
                mapping, first, second = (resolve(part, scope) for part in argument)
                return mappings[mapping][first][second]
            if function == "Fn::Sub":
                text = argument
                for name, value in names.items():
                    text = text.replace("${" + name + "}", value)
                return text
            if function == "Fn::ImportValue":
                return ("import", resolve(argument, scope))
        if isinstance(node, dict):
            return {key: resolve(value, scope) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value, scope) for value in node]
        return node

    resources: dict[str, dict[str, Any]] = {}
    for key, node in template["Resources"].items():
        if not key.startswith("Fn::ForEach::"):
            resources[key] = resolve(node, {})
            continue
        identifier, collection, fragment = node
        for item in collection:
            for output_key, resource in fragment.items():
                logical_id = output_key.replace("${" + identifier + "}", item)
                assert logical_id not in resources, f"{logical_id} declared twice"
                resources[logical_id] = resolve(resource, {identifier: item})
    return resources


def deployable(resource: Mapping[str, Any]) -> dict[str, Any]:
    """An expanded resource's properties as the provider receives them (no ServiceToken)."""
    return {name: value for name, value in resource["Properties"].items() if name != "ServiceToken"}


@pytest.mark.parametrize("style", ["foreach", "resources"])
def test_export_declares_exactly_the_adoptable_numbers_on_an_instance_with_their_flows(estate, style):
    status, template, stderr = run_export(estate.instance_a_arn, "--style", style)

    assert status == 0, stderr
    resources = expand(template)
    assert set(resources) == {"Number15555550100", "Number15555550101"}
    routed = resources["Number15555550100"]
    assert routed["Type"] == "Custom::PhoneNumberAssignment"
    assert routed["Properties"] == {
        "ServiceToken": ("import", "phone-number-assignment-ServiceToken"),
        "PhoneNumberId": estate.routed,
        "TargetArn": estate.instance_a_arn,
        "OnDelete": "Retain",
        "ContactFlowArn": estate.flow_arn,
        "ServiceTimeout": 960,
    }
    assert "ContactFlowArn" not in resources["Number15555550101"]["Properties"]
    assert template["Parameters"]["ProviderStackName"]["Default"] == "phone-number-assignment"

    assert export.READ_ONLY_NOTICE in stderr
    assert "skipped +15555550102: already assigned by L in stack" in stderr
    assert f"skipped +15555550103: it is claimed to {estate.tdg_arn}" in stderr


def test_a_number_a_live_native_resource_holds_is_left_out_and_said_so(estate, aws_env):
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    _, held = deploy_native_number_stack(cloudformation, "native-live", estate.instance_a_arn, "+15555550110")
    retained_stack, released = deploy_native_number_stack(
        cloudformation, "native-retained", estate.instance_a_arn, "+15555550111", True
    )
    cloudformation.delete_stack(StackName=retained_stack)  # DeletionPolicy: Retain: the number stays claimed

    status, template, stderr = run_export(estate.instance_a_arn, "--style", "resources")

    assert status == 0, stderr
    resources = expand(template)
    # The provider would refuse the live native's number (deleting its stack would release it): left out.
    assert "Number15555550110" not in resources
    assert (
        "skipped +15555550110: the provider would refuse it: Phone number +15555550110 is managed by "
        "AWS::Connect::PhoneNumber NativeNumber of stack"
    ) in stderr
    # A native resource that no longer holds its number (DELETE_SKIPPED) does not stop the adoption.
    assert resources["Number15555550111"]["Properties"]["PhoneNumberId"] == released.rsplit("/", 1)[-1]
    assert held != released


def test_a_number_cloudformation_cannot_be_asked_about_is_declared_and_said_so(estate, aws_env):
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    connect = boto3.client("connect", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    target = export.parse_target(estate.instance_a_arn)

    with Stubber(cloudformation) as stub:
        for _ in range(2):  # the two adoptable numbers
            stub.add_client_error(
                "describe_stack_resources", service_error_code="AccessDenied", http_status_code=403
            )
        exported = export.collect(connect, target, cloudformation=cloudformation)

    # The operator's credentials could not ask; the provider's role may: nothing is left out on a guess.
    assert [n.phone_number for n in exported.numbers] == ["+15555550100", "+15555550101"]
    assert any(
        "+15555550100: whether a native AWS::Connect::PhoneNumber holds it is unknown (AccessDenied" in note
        for note in exported.notes
    )


def test_a_native_holder_beyond_the_first_100_resources_of_its_stack_is_found_too(estate, aws_env):
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    connect = boto3.client("connect", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/big/1"
    when = datetime(2026, 1, 1, tzinfo=UTC)
    shown = [
        {
            "StackId": stack_id,
            "StackName": "big",
            "LogicalResourceId": f"Other{i}",
            "PhysicalResourceId": f"other-{i}",
            "ResourceType": "AWS::SNS::Topic",
            "ResourceStatus": "CREATE_COMPLETE",
            "Timestamp": when,
        }
        for i in range(100)
    ]
    natives = [
        {
            "LogicalResourceId": f"Native{i}",
            "PhysicalResourceId": arn(f"phone-number/{number_id}"),
            "ResourceType": "AWS::Connect::PhoneNumber",
            "ResourceStatus": "CREATE_COMPLETE",
            "LastUpdatedTimestamp": when,
        }
        for i, number_id in enumerate((estate.routed, estate.plain))
    ]
    with Stubber(cloudformation) as stub:
        for _ in range(2):  # the two adoptable numbers
            stub.add_response("describe_stack_resources", {"StackResources": shown})
            stub.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "big",
                            "StackId": stack_id,
                            "CreationTime": when,
                            "StackStatus": "CREATE_COMPLETE",
                        }
                    ]
                },
            )
            stub.add_response("list_stack_resources", {"StackResourceSummaries": natives})
        exported = export.collect(
            connect, export.parse_target(estate.instance_a_arn), cloudformation=cloudformation
        )

    # DescribeStackResources shows only the first 100: the provider reads the rest, and so does the export.
    assert exported.numbers == []
    assert any("+15555550100: the provider would refuse it" in line for line in exported.skipped)


def test_the_per_resource_style_writes_literal_ids_portable_arns_and_the_e164_number(estate):
    status, template, stderr = run_export(estate.instance_a_arn, "--style", "resources")

    assert status == 0, stderr
    assert "Transform" not in template
    routed = template["Resources"]["Number15555550100"]
    assert routed["Metadata"] == {"PhoneNumber": "+15555550100"}
    properties = routed["Properties"]
    assert properties["PhoneNumberId"] == estate.routed
    assert properties["TargetArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:"
        f"instance/{estate.instance_a}"
    }
    assert sub(properties["ContactFlowArn"]) == estate.flow_arn
    assert properties["ServiceToken"] == {"Fn::ImportValue": {"Fn::Sub": "${ProviderStackName}-ServiceToken"}}


def test_the_default_style_loops_over_the_numbers_with_the_target_and_each_flow_as_parameters(estate):
    stdout, stderr_stream = io.StringIO(), io.StringIO()
    assert export.main([estate.instance_a_arn], stdout=stdout, stderr=stderr_stream) == 0
    template = yaml.safe_load(stdout.getvalue())
    header = [line for line in stdout.getvalue().splitlines() if line.startswith("#")]
    assert "# Numbers in NumbersWithoutFlow have no flow now, and get none there either." in header
    assert template["Transform"] == "AWS::LanguageExtensions"
    flow_parameter = "Flow" + estate.flow.replace("-", "")[:8].capitalize()
    assert set(template["Parameters"]) == {"ProviderStackName", "TargetArn", flow_parameter}
    assert template["Parameters"]["TargetArn"]["Default"] == estate.instance_a_arn
    # The flow mapping: one parameter per flow in use, defaulting to that flow.
    assert template["Parameters"][flow_parameter]["Default"] == estate.flow_arn
    assert "1 number now routed to" in template["Parameters"][flow_parameter]["Description"]
    routed_loop = f"{flow_parameter}Numbers"
    assert set(template["Resources"]) == {f"Fn::ForEach::{routed_loop}", "Fn::ForEach::NumbersWithoutFlow"}
    identifier, collection, fragment = template["Resources"][f"Fn::ForEach::{routed_loop}"]
    assert (identifier, collection) == ("Digits", ["15555550100"])
    properties = fragment["Number${Digits}"]["Properties"]
    assert properties["TargetArn"] == {"Ref": "TargetArn"}
    assert properties["ContactFlowArn"] == {"Ref": flow_parameter}
    assert properties["PhoneNumberId"] == {"Fn::FindInMap": [routed_loop, {"Ref": "Digits"}, "PhoneNumberId"]}
    assert template["Mappings"][routed_loop] == {
        "15555550100": {"PhoneNumberId": estate.routed, "PhoneNumber": "+15555550100"}
    }
    _, collection, fragment = template["Resources"]["Fn::ForEach::NumbersWithoutFlow"]
    assert collection == ["15555550101"]
    assert "ContactFlowArn" not in fragment["Number${Digits}"]["Properties"]


def test_both_styles_declare_the_same_resources(estate):
    _, foreach, _ = run_export(estate.instance_a_arn)
    _, resources, _ = run_export(estate.instance_a_arn, "--style", "resources")

    expanded = {name: resource["Properties"] for name, resource in expand(resources).items()}
    assert {name: resource["Properties"] for name, resource in expand(foreach).items()} == expanded


def test_a_loop_holds_at_most_200_numbers_a_mappings_quota():
    """CloudFormation allows 200 attributes per mapping ("Understand CloudFormation quotas")."""
    target = export.parse_target(arn(f"instance/{uuid.uuid4()}"))
    flow = f"{target.arn}/contact-flow/{uuid.uuid4()}"
    numbers = [
        export.Number(str(uuid.uuid4()), "", f"+1555558{1000 + i}", flow if i % 10 else None)
        for i in range(450)
    ]
    template = yaml.safe_load(export.render(export.Export(target, numbers)))

    loops = {key.removeprefix("Fn::ForEach::"): value for key, value in template["Resources"].items()}
    flow_parameter = next(name for name in template["Parameters"] if name.startswith("Flow"))
    assert sorted(loops) == [
        f"{flow_parameter}NumbersPart1",
        f"{flow_parameter}NumbersPart2",
        f"{flow_parameter}NumbersPart3",
        "NumbersWithoutFlow",
    ]
    assert all(len(template["Mappings"][loop]) <= 200 for loop in loops)
    resources = expand(template)
    assert len(resources) == 450
    assert {r["Properties"]["PhoneNumberId"] for r in resources.values()} == {n.id for n in numbers}


def test_flow_parameters_are_named_by_the_flow_id_and_never_collide():
    instance = arn(f"instance/{uuid.uuid4()}")
    first = f"{instance}/contact-flow/abcdef01-0000-4000-8000-000000000001"
    second = f"{instance}/contact-flow/abcdef01-0000-4000-8000-000000000002"
    other = f"{instance}/contact-flow/12345678-0000-4000-8000-000000000003"

    assert export.flow_parameters([other, first]) == {other: "Flow12345678", first: "FlowAbcdef01"}
    named = export.flow_parameters([first, second, other])
    assert named[first] == "FlowAbcdef01000040008000000000000001"
    assert len(set(named.values())) == 3


def test_export_only_reads(estate, aws_env):
    run_export(estate.instance_a_arn)
    run_export(estate.tdg_arn)

    operations = {call["operation"] for call in aws_env.control.calls()}
    assert "ListPhoneNumbersV2" in operations
    assert operations <= READS
    assert all(operation.startswith(("List", "Describe")) for operation in operations)


@pytest.mark.parametrize("style", ["foreach", "resources"])
def test_export_of_a_traffic_distribution_group_declares_the_flows_of_its_home_instance(estate, style):
    status, template, stderr = run_export(estate.tdg_arn, "--style", style)

    assert status == 0, stderr
    [resource] = expand(template).values()
    assert "NumbersWithoutFlow" not in stderr + str(template)  # every number there has a flow
    assert resource["Properties"]["PhoneNumberId"] == estate.on_tdg
    assert resource["Properties"]["TargetArn"] == estate.tdg_arn
    assert resource["Properties"]["ContactFlowArn"] == estate.flow_arn


def test_export_reads_every_page(aws_env, estate):
    more = [str(uuid.uuid4()) for _ in range(11)]
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "phone_numbers": [
                {"id": number, "phone_number": f"+1555555{1000 + i}", "target": estate.instance_a}
                for i, number in enumerate(more)
            ],
        }
    )
    status, template, stderr = run_export(estate.instance_a_arn)

    assert status == 0, stderr
    ids = {r["Properties"]["PhoneNumberId"] for r in expand(template).values()}
    assert ids == {estate.routed, estate.plain, *more}
    listings = [c for c in aws_env.control.calls() if c["operation"] == "ListPhoneNumbersV2"]
    assert len(listings) >= 2, "15 numbers fit no single page of the emulator's 10"


def test_export_without_readable_flows_still_exports_and_says_so(estate, aws_env):
    aws_env.control.inject_error("ListFlowAssociations", "AccessDeniedException")
    status, template, stderr = run_export(estate.instance_a_arn)

    assert status == 0, stderr
    assert all("ContactFlowArn" not in r["Properties"] for r in expand(template).values())
    assert [name for name in template["Parameters"] if name.startswith("Flow")] == []
    assert "contact flows could not be read (AccessDeniedException" in stderr


@pytest.mark.parametrize(
    "target",
    ["not-an-arn", "arn:aws:s3:::bucket", arn("phone-number/e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93")],
)
def test_a_target_of_the_wrong_shape_is_refused_before_any_call(target, aws_env):
    status, template, stderr = run_export(target)

    assert status == 2
    assert template is None
    assert "TARGET must be the ARN of an Amazon Connect instance or traffic distribution group" in stderr
    assert aws_env.control.calls() == []


def test_a_target_without_adoptable_numbers_writes_no_template(estate):
    empty = arn(f"instance/{estate.instance_b}")
    status, template, stderr = run_export(empty.replace(estate.instance_b, str(uuid.uuid4())))
    assert status == 1
    assert template is None
    assert "make export:" in stderr


@pytest.mark.parametrize("style", ["foreach", "resources"])
def test_deploying_the_export_moves_nothing_and_puts_the_numbers_under_the_stack(
    estate, stack, aws_env, connect, style
):
    _, template, _ = run_export(estate.instance_a_arn, "--style", style)
    before = aws_env.control.calls()

    for logical_id, resource in expand(template).items():
        response = stack.create(logical_id, deployable(resource))
        assert response.ok, response.reason

    assert aws_env.control.moves() == []
    assert [c for c in aws_env.control.calls()[len(before) :] if c["operation"] == "UpdatePhoneNumber"] == []
    for number_id in (estate.routed, estate.plain):
        summary = describe(connect, arn(f"phone-number/{number_id}"))
        assert summary["TargetArn"] == estate.instance_a_arn
        assert summary["Tags"][STACK_TAG] == stack.stack_id
    associations = connect.list_flow_associations(
        InstanceId=estate.instance_a, ResourceType="VOICE_PHONE_NUMBER"
    )
    flows = {a["ResourceId"]: a["FlowId"] for a in associations["FlowAssociationSummaryList"]}
    # The routed number keeps its flow; the group's number, listed in its home instance, is left as it was.
    assert flows == {
        arn(f"phone-number/{estate.routed}"): estate.flow_arn,
        arn(f"phone-number/{estate.on_tdg}"): estate.flow_arn,
    }


def test_the_export_deployed_with_a_new_target_and_flow_migrates_every_number(
    estate, stack, aws_env, connect
):
    """Blue/green: adopt on A as exported, then the same template with TargetArn=B and the flow parameter
    mapped to B's flow moves every number to B and routes it there; the number without a flow gets none."""
    _, template, _ = run_export(estate.instance_a_arn)
    for logical_id, resource in expand(template).items():
        assert stack.create(logical_id, deployable(resource)).ok

    [flow_parameter] = [name for name in template["Parameters"] if name.startswith("Flow")]
    migrated = expand(template, TargetArn=estate.instance_b_arn, **{flow_parameter: estate.flow_b_arn})
    for logical_id, resource in migrated.items():
        response = stack.update(logical_id, deployable(resource))
        assert response.ok, response.reason

    for number_id in (estate.routed, estate.plain):
        assert describe(connect, arn(f"phone-number/{number_id}"))["TargetArn"] == estate.instance_b_arn
    associations = connect.list_flow_associations(
        InstanceId=estate.instance_b, ResourceType="VOICE_PHONE_NUMBER"
    )["FlowAssociationSummaryList"]
    flows = {a["ResourceId"].rsplit("/", 1)[-1]: a["FlowId"].rsplit("/", 1)[-1] for a in associations}
    assert flows == {estate.routed: estate.flow_b}


CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def test_cfn_lint_with_the_projects_rules_accepts_the_export(estate, tmp_path):
    exported = []
    for style, target in (
        ("foreach", estate.instance_a_arn),
        ("foreach", estate.tdg_arn),
        ("resources", estate.instance_a_arn),
    ):
        stdout, stderr = io.StringIO(), io.StringIO()
        assert export.main([target, "--style", style], stdout=stdout, stderr=stderr) == 0, stderr.getvalue()
        exported.append(tmp_path / f"{style}-{len(exported)}.yaml")
        exported[-1].write_text(stdout.getvalue())

    # As README tells users to lint it (`make lint-template` runs this command), the three exports in one
    # run: cfn-lint fails if any of them has a finding and names the file (its start-up is most of its time).
    linted = subprocess.run(  # noqa: S603 - the venv's own cfn-lint
        [
            str(CFN_LINT),
            "--append-rules",
            "cfn_lint_phone_number_assignment.rules",
            "--",
            *map(str, exported),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.timeout(600)  # the first run makes .venv-tools
def test_make_export_prints_only_a_template_the_rules_cfn_lint_and_sam_validate_accept(
    estate, tmp_path, monkeypatch, tools_venv
):
    result = subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "export", f"TARGET={estate.instance_a_arn}"],  # noqa: S607
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert export.READ_ONLY_NOTICE in result.stderr
    exported = tmp_path / "adopted.yaml"
    exported.write_text(result.stdout)
    assert set(expand(yaml.safe_load(result.stdout))) == {"Number15555550100", "Number15555550101"}

    decoded, errors = decode(str(exported))
    assert not errors
    rules = get_rules(["cfn_lint_phone_number_assignment.rules"], [], [])
    assert [
        f"{m.rule.id}: {m.message}" for m in run_checks(str(exported), decoded, rules, ["us-east-1"])
    ] == []

    # SAM CLI's own `sam validate --lint` step, in-process (tests/cfn_lint_rules runs the command itself): it
    # raises on any finding, and reads .cfnlintrc, so the rules, from the working directory.
    monkeypatch.chdir(ROOT)
    sam_validate_lint(SimpleNamespace(region="us-east-1", debug=False), result.stdout, str(exported))
