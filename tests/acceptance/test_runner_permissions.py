"""The runner policy CONTRIBUTING.md "Acceptance" points at is what the commands call
(acceptance/permissions.py derives it from the code, SAM CLI's code and the CloudFormation resource schemas),
and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

from acceptance import permissions

ROOT = Path(__file__).resolve().parents[2]


def actions_of(policy: dict) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_the_committed_policy_is_the_derived_one():
    committed = json.loads(permissions.POLICY_FILE.read_text())
    assert committed == permissions.policy(), "regenerate: .venv/bin/python -m acceptance.permissions"


def test_the_contributing_guide_points_at_the_policy_and_lists_no_other():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    assert "acceptance/runner-policy.json" in guide
    assert "python -m acceptance.permissions" in guide


def test_the_template_resources_bring_their_handler_permissions():
    types = permissions.provider_resource_types()
    assert types == {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        # The provider's permission to invoke itself (a continuation), a policy apart from its role.
        "AWS::IAM::Policy",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Logs::LogGroup",
        # The failed-requests queue and the alarms; the drift check's schedule and the dashboard, which a
        # deployment with the defaults (the acceptance run's) does not create.
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
        "AWS::CloudWatch::Dashboard",
    }
    derived = actions_of(permissions.policy())
    # One per resource the provider stack creates and deletes, as CloudFormation's schemas list them.
    assert {
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
        "lambda:TagResource",
        "iam:CreateRole",
        "iam:PassRole",
        "iam:TagRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:TagResource",
        "logs:DeleteLogGroup",
        "s3:GetObject",
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
    } <= derived
    # Options the template does not use are not granted.
    assert not [a for a in derived if a.split(":")[0] in ("kms", "ec2", "elasticfilesystem", "firehose")]


def test_sam_deploys_own_calls_are_derived_from_sam_clis_code():
    cloudformation, s3 = permissions.sam_deploy_actions()
    assert {
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:GetTemplateSummary",
    } <= cloudformation
    assert {"s3:PutObject", "s3:GetObject"} <= s3


def test_the_scenarios_calls_are_attributed_to_the_right_service():
    actions = permissions.scenario_actions()
    assert "dynamodb:GetItem" in actions
    assert "servicequotas:ListServiceQuotas" in actions
    assert "connect:ListFlowAssociations" in actions  # reached through a paginator
    # tag_resource is called on Connect only: the same method name on another client is not granted.
    assert "dynamodb:TagResource" not in actions
    assert "servicequotas:TagResource" not in actions
    # The scenario only reads the ownership table.
    assert not [a for a in actions if a.startswith("dynamodb:") and a != "dynamodb:GetItem"]


def test_the_native_number_probe_may_read_any_stack_and_nothing_more():
    # DescribeStackResources by a number's ARN names whichever stack holds it: not only the run's own.
    statements = {s["Sid"]: s for s in permissions.policy()["Statement"]}
    assert statements["ReadAnyStack"]["Action"] == ["cloudformation:DescribeStackResources"]
    assert statements["ReadAnyStack"]["Resource"] == "arn:aws:cloudformation:*:*:stack/*/*"
    assert "cloudformation:DescribeStackResources" not in statements["AcceptanceStacks"]["Action"]
    actions = permissions.scenario_actions()
    # The probes' Connect reads (the replica Region's go through the same operations).
    assert {
        "connect:BatchGetFlowAssociation",
        "connect:ListPhoneNumbersV2",
        "connect:GetTrafficDistribution",
        "connect:DescribeTrafficDistributionGroup",
    } <= actions
