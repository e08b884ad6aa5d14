"""The scenario's real backend: the built provider deployed with ``sam deploy`` under a unique stack name,
and a consumer stack created, updated and deleted through CloudFormation with boto3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from acceptance.scenario import Outcome

ROOT = Path(__file__).resolve().parent.parent
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
LOGICAL_ID = "MainLine"
# The consumer: samples/stack.yaml's resource, with the ServiceToken passed in rather than imported, so
# the acceptance provider's unique stack name does not have to be the documented one.
CONSUMER_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "ServiceToken": {"Type": "String"},
        "PhoneNumberId": {"Type": "String"},
        "TargetArn": {"Type": "String"},
        "OnDelete": {"Type": "String", "Default": "Retain"},
        "ContactFlowArn": {"Type": "String", "Default": ""},
    },
    "Conditions": {"HasContactFlow": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ContactFlowArn"}, ""]}]}},
    "Resources": {
        LOGICAL_ID: {
            "Type": "Custom::PhoneNumberAssignment",
            "Properties": {
                "ServiceToken": {"Ref": "ServiceToken"},
                "PhoneNumberId": {"Ref": "PhoneNumberId"},
                "TargetArn": {"Ref": "TargetArn"},
                "OnDelete": {"Ref": "OnDelete"},
                "ContactFlowArn": {
                    "Fn::If": ["HasContactFlow", {"Ref": "ContactFlowArn"}, {"Ref": "AWS::NoValue"}]
                },
            },
        }
    },
}
WAITER = {"Delay": 10, "MaxAttempts": 120}  # 20 minutes: a move may take minutes


class CloudFormationBackend:
    def __init__(self, region: str, *, arch: str = "x86_64", prefix: str = "pna-acceptance") -> None:
        self.region = region
        self.arch = arch
        suffix = uuid.uuid4().hex[:8]
        self.provider_stack = f"{prefix}-provider-{suffix}"
        self.consumer_stack = f"{prefix}-consumer-{suffix}"
        config = Config(retries={"mode": "standard"})
        self.cloudformation = boto3.client("cloudformation", region_name=region, config=config)
        self.connect: Any = boto3.client("connect", region_name=region, config=config)
        self.service_token = ""

    # ---- the provider ------------------------------------------------------------------------------

    def deploy_provider(self) -> None:
        subprocess.run(  # noqa: S603 - sam from this venv, arguments built here
            [
                str(Path(sys.executable).parent / "sam"),
                "deploy",
                "--template-file", str(BUILT_TEMPLATE),
                "--stack-name", self.provider_stack,
                "--region", self.region,
                "--resolve-s3",
                "--capabilities", "CAPABILITY_IAM",
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides", f"Architecture={self.arch}", "LogRetentionInDays=1",
                "--tags", "purpose=phone-number-assignment-acceptance",
            ],
            check=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
            timeout=1200,
        )  # fmt: skip
        outputs = self.cloudformation.describe_stacks(StackName=self.provider_stack)["Stacks"][0]["Outputs"]
        self.service_token = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ServiceToken")

    def remove_provider(self) -> None:
        self._delete_stack(self.provider_stack)

    # ---- the consumer ------------------------------------------------------------------------------

    def consumer_exists(self) -> bool:
        return self._status(self.consumer_stack) not in (None, "DELETE_COMPLETE")

    def create_consumer(self, properties: dict[str, str]) -> Outcome:
        self.cloudformation.create_stack(
            StackName=self.consumer_stack,
            TemplateBody=json.dumps(CONSUMER_TEMPLATE),
            Parameters=self._parameters(properties),
            OnFailure="DELETE",
        )
        try:
            self.cloudformation.get_waiter("stack_create_complete").wait(
                StackName=self.consumer_stack, WaiterConfig=WAITER
            )
        except WaiterError:
            return Outcome("FAILED", self._failure_reason())
        return Outcome("COMPLETE")

    def update_consumer(self, properties: dict[str, str]) -> Outcome:
        self.cloudformation.update_stack(
            StackName=self.consumer_stack,
            TemplateBody=json.dumps(CONSUMER_TEMPLATE),
            Parameters=self._parameters(properties),
        )
        try:
            self.cloudformation.get_waiter("stack_update_complete").wait(
                StackName=self.consumer_stack, WaiterConfig=WAITER
            )
        except WaiterError:
            status = self._status(self.consumer_stack)
            state = "ROLLED_BACK" if status == "UPDATE_ROLLBACK_COMPLETE" else "FAILED"
            return Outcome(state, f"{status}: {self._failure_reason()}")
        return Outcome("COMPLETE")

    def delete_consumer(self) -> Outcome:
        try:
            self._delete_stack(self.consumer_stack)
        except WaiterError:
            return Outcome("FAILED", self._failure_reason())
        return Outcome("COMPLETE")

    # ---- helpers -----------------------------------------------------------------------------------

    def _parameters(self, properties: dict[str, str]) -> list[dict[str, str]]:
        values = {"ServiceToken": self.service_token, **properties}
        return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]

    def _status(self, stack: str) -> str | None:
        try:
            return self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise

    def _failure_reason(self) -> str:
        events = self.cloudformation.describe_stack_events(StackName=self.consumer_stack)["StackEvents"]
        reasons = [
            e.get("ResourceStatusReason", "")
            for e in events
            if e.get("LogicalResourceId") == LOGICAL_ID and e["ResourceStatus"].endswith("FAILED")
        ]
        return reasons[0] if reasons else "no resource failure event"

    def _delete_stack(self, stack: str) -> None:
        if self._status(stack) is None:
            return
        self.cloudformation.delete_stack(StackName=stack)
        self.cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=WAITER)
