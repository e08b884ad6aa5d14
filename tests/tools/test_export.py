"""make export: the numbers on a target, read through the emulator, printed as a template that deploys as a
no-op and that the rules, cfn-lint and sam validate --lint accept."""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from cfnlint.core import get_rules, run_checks
from cfnlint.decode import decode
from samcli.commands.validate.validate import _lint as sam_validate_lint

from phone_number_assignment.tags import LOGICAL_ID_TAG, STACK_TAG
from tests.conftest import ACCOUNT, REGION, describe
from tools import export

ROOT = Path(__file__).resolve().parents[2]
READS = {
    "ListPhoneNumbersV2",
    "DescribePhoneNumber",
    "ListFlowAssociations",
    "DescribeTrafficDistributionGroup",
}


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


class Estate:
    """Instance A holds two adoptable numbers (one routed to a flow), one another stack owns, and lists one
    of its traffic distribution group's; instance B holds one more."""

    def __init__(self) -> None:
        self.instance_a, self.instance_b, self.tdg, self.flow = (str(uuid.uuid4()) for _ in range(4))
        self.routed, self.plain, self.owned, self.on_tdg, self.on_b = (str(uuid.uuid4()) for _ in range(5))

    def seed(self) -> dict:
        a, b = self.instance_a, self.instance_b
        return {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": a, "alias": "alpha"}, {"id": b, "alias": "bravo"}],
            "traffic_distribution_groups": [{"id": self.tdg, "name": "tdg", "instance_id": a}],
            "contact_flows": [{"id": self.flow, "instance_id": a, "name": "Main menu"}],
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


@pytest.fixture
def estate(aws_env) -> Estate:
    seeded = Estate()
    aws_env.control.seed(seeded.seed())
    return seeded


def run_export(*argv: str) -> tuple[int, dict | None, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = export.main(list(argv), stdout=stdout, stderr=stderr)
    return status, yaml.safe_load(stdout.getvalue()) if stdout.getvalue() else None, stderr.getvalue()


def sub(value: dict) -> str:
    """Fn::Sub of the pseudo parameters, as CloudFormation would resolve them in this account and Region."""
    text = value["Fn::Sub"]
    for name, resolved in (("AWS::Partition", "aws"), ("AWS::Region", REGION), ("AWS::AccountId", ACCOUNT)):
        text = text.replace("${" + name + "}", resolved)
    return text


def test_export_declares_exactly_the_adoptable_numbers_on_an_instance_with_their_flows(estate):
    status, template, stderr = run_export(estate.instance_a_arn)

    assert status == 0, stderr
    resources = template["Resources"]
    assert set(resources) == {"Number15555550100", "Number15555550101"}
    routed = resources["Number15555550100"]
    assert routed["Type"] == "Custom::PhoneNumberAssignment"
    assert routed["Metadata"] == {"PhoneNumber": "+15555550100"}
    properties = routed["Properties"]
    assert properties["PhoneNumberId"] == estate.routed
    assert sub(properties["TargetArn"]) == estate.instance_a_arn
    assert sub(properties["ContactFlowArn"]) == estate.flow_arn
    assert properties["OnDelete"] == "Retain"
    assert properties["ServiceToken"] == {"Fn::ImportValue": {"Fn::Sub": "${ProviderStackName}-ServiceToken"}}
    assert properties["ServiceTimeout"] == 960
    assert "ContactFlowArn" not in resources["Number15555550101"]["Properties"]
    assert template["Parameters"]["ProviderStackName"]["Default"] == "phone-number-assignment"

    assert export.READ_ONLY_NOTICE in stderr
    assert "skipped +15555550102: already assigned by L in stack" in stderr
    assert f"skipped +15555550103: it is claimed to {estate.tdg_arn}" in stderr


def test_export_only_reads(estate, aws_env):
    run_export(estate.instance_a_arn)
    run_export(estate.tdg_arn)

    operations = {call["operation"] for call in aws_env.control.calls()}
    assert "ListPhoneNumbersV2" in operations
    assert operations <= READS
    assert all(operation.startswith(("List", "Describe")) for operation in operations)


def test_export_of_a_traffic_distribution_group_declares_the_flows_of_its_home_instance(estate):
    status, template, stderr = run_export(estate.tdg_arn)

    assert status == 0, stderr
    [resource] = template["Resources"].values()
    assert resource["Properties"]["PhoneNumberId"] == estate.on_tdg
    assert sub(resource["Properties"]["TargetArn"]) == estate.tdg_arn
    assert sub(resource["Properties"]["ContactFlowArn"]) == estate.flow_arn


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
    ids = {r["Properties"]["PhoneNumberId"] for r in template["Resources"].values()}
    assert ids == {estate.routed, estate.plain, *more}
    listings = [c for c in aws_env.control.calls() if c["operation"] == "ListPhoneNumbersV2"]
    assert len(listings) >= 2, "15 numbers fit no single page of the emulator's 10"


def test_export_without_readable_flows_still_exports_and_says_so(estate, aws_env):
    aws_env.control.inject_error("ListFlowAssociations", "AccessDeniedException")
    status, template, stderr = run_export(estate.instance_a_arn)

    assert status == 0, stderr
    assert all("ContactFlowArn" not in r["Properties"] for r in template["Resources"].values())
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


def test_deploying_the_export_moves_nothing_and_puts_the_numbers_under_the_stack(
    estate, stack, aws_env, connect
):
    _, template, _ = run_export(estate.instance_a_arn)
    before = aws_env.control.calls()

    for logical_id, resource in template["Resources"].items():
        properties = {
            name: sub(value) if isinstance(value, dict) and "Fn::Sub" in value else value
            for name, value in resource["Properties"].items()
            if name != "ServiceToken"
        }
        response = stack.create(logical_id, properties)
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


def test_make_export_prints_only_a_template_the_rules_cfn_lint_and_sam_validate_accept(
    estate, tmp_path, monkeypatch
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
    assert set(yaml.safe_load(result.stdout)["Resources"]) == {"Number15555550100", "Number15555550101"}

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
