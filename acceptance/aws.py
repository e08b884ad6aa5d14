"""The scenario's real backend: the built provider deployed with ``sam deploy`` under a unique stack name,
and a consumer stack created, updated and deleted through CloudFormation with boto3.

Every stack is followed by its stack ID (a deleted stack still answers by ID, never by name), and every
stack operation carries a ClientRequestToken: CloudFormation stamps that token on every event the
operation causes, so a wait ends on *this* operation's final stack event, never on the status an earlier
operation left (a fresh UPDATE_ROLLBACK_COMPLETE looks final to a status waiter that polls at once).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from acceptance.scenario import Outcome

ROOT = Path(__file__).resolve().parent.parent
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
LOGICAL_ID = "MainLine"
# CloudFormation's own deadline for one request to the provider: its 900 s Lambda timeout plus a minute.
# Without it CloudFormation waits an hour for a provider that crashed before answering.
SERVICE_TIMEOUT = 960
# The longest stack operation is two provider requests in a row (an update and its rollback, or a
# replacement's create and its cleanup delete), plus CloudFormation's own work: every wait outlasts it.
OPERATION_BUDGET = 2 * SERVICE_TIMEOUT + 600
POLL_SECONDS = 10
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
                "ServiceTimeout": SERVICE_TIMEOUT,
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
GONE = (None, "DELETE_COMPLETE")
# Fails on its own a second after it starts: the probe of a deletion after a failed creation.
FAILING_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "NeverSignalled": {
            "Type": "AWS::CloudFormation::WaitCondition",
            "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "1"},
        },
    },
}


def is_settled(status: str | None) -> bool:
    """No operation in flight. REVIEW_IN_PROGRESS is a change set nobody executed: nothing runs."""
    return status is None or not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS"


class OperationTimedOut(RuntimeError):
    pass


class CloudFormationBackend:
    def __init__(
        self,
        region: str,
        *,
        arch: str = "x86_64",
        prefix: str = "pna-acceptance",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: float = OPERATION_BUDGET,
    ) -> None:
        self.region = region
        self.arch = arch
        suffix = uuid.uuid4().hex[:8]
        self.provider_stack = f"{prefix}-provider-{suffix}"
        self.consumer_stack = f"{prefix}-consumer-{suffix}"
        self.provider_stack_id: str | None = None
        self._consumer_stack_id: str | None = None
        self.sleep = sleep
        self.clock = clock
        self.budget = budget
        config = Config(retries={"mode": "standard"})
        self.cloudformation: Any = boto3.client("cloudformation", region_name=region, config=config)
        self.connect: Any = boto3.client("connect", region_name=region, config=config)
        # Another client (its own connection pool) for the probes' second reader.
        self.observer: Any = boto3.client("connect", region_name=region, config=config)
        self.dynamodb: Any = boto3.client("dynamodb", region_name=region, config=config)
        self.service_quotas: Any = boto3.client("service-quotas", region_name=region, config=config)
        self._config = config
        self.service_token = ""

    @property
    def consumer_stack_id(self) -> str | None:
        return self._consumer_stack_id

    def connect_in(self, region: str) -> Any:
        """A Connect client in another Region (a traffic distribution group's replica), built alike."""
        return boto3.client("connect", region_name=region, config=self._config)

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
        stack = self.cloudformation.describe_stacks(StackName=self.provider_stack)["Stacks"][0]
        self.provider_stack_id = stack["StackId"]
        self.service_token = next(
            o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "ServiceToken"
        )

    def remove_provider(self) -> None:
        """Delete the provider stack, but never while the consumer stack exists: it holds the ServiceToken
        as a plain parameter (no import), so CloudFormation would not stop the delete, and the consumer's
        next delete or rollback would call a function that is gone."""
        if self.consumer_exists():
            raise RuntimeError(
                f"the consumer stack {self._consumer_stack_id} still exists "
                f"({self._status(self._require_consumer())}): the provider {self.provider_stack} stays"
            )
        stack = self.provider_stack_id or self._find(self.provider_stack)
        if stack is None:
            return
        self.provider_stack_id = stack
        status = self._settle(stack)
        if status in GONE:
            return
        token = self._token()
        self.cloudformation.delete_stack(StackName=stack, ClientRequestToken=token)
        final = self._wait(stack, token)
        if final != "DELETE_COMPLETE":
            raise RuntimeError(
                f"deleting the provider stack ended {final}: {self._failure_reason(stack, token)}"
            )

    # ---- the consumer ------------------------------------------------------------------------------

    def consumer_exists(self) -> bool:
        stack = self._consumer()
        return stack is not None and self._status(stack) not in GONE

    def settle_consumer(self) -> str | None:
        """Wait until no operation runs on the consumer stack (after Ctrl-C or a time-out, one may)."""
        stack = self._consumer()
        return None if stack is None else self._settle(stack)

    def _consumer(self) -> str | None:
        # A Ctrl-C can land between CreateStack's acceptance and its answer: then only the name finds it.
        if self._consumer_stack_id is None:
            self._consumer_stack_id = self._find(self.consumer_stack)
        return self._consumer_stack_id

    def create_consumer(self, properties: dict[str, str]) -> Outcome:
        token = self._token()
        created = self.cloudformation.create_stack(
            StackName=self.consumer_stack,
            TemplateBody=json.dumps(CONSUMER_TEMPLATE),
            Parameters=self._parameters(properties),
            OnFailure="DELETE",
            ClientRequestToken=token,
            Tags=[{"Key": "purpose", "Value": "phone-number-assignment-acceptance"}],
        )
        self._consumer_stack_id = created["StackId"]
        final = self._wait(self._consumer_stack_id, token)
        if final == "CREATE_COMPLETE":
            return Outcome("COMPLETE")
        # With OnFailure=DELETE the stack is gone by now: its events are read by stack ID.
        return Outcome("FAILED", f"{final}: {self._failure_reason(self._consumer_stack_id, token)}")

    def update_consumer(self, properties: dict[str, str]) -> Outcome:
        stack = self._require_consumer()
        token = self._token()
        self.cloudformation.update_stack(
            StackName=stack,
            TemplateBody=json.dumps(CONSUMER_TEMPLATE),
            Parameters=self._parameters(properties),
            ClientRequestToken=token,
        )
        final = self._wait(stack, token)
        if final == "UPDATE_COMPLETE":
            return Outcome("COMPLETE")
        state = "ROLLED_BACK" if final == "UPDATE_ROLLBACK_COMPLETE" else "FAILED"
        return Outcome(state, f"{final}: {self._failure_reason(stack, token)}")

    def delete_consumer(self) -> Outcome:
        stack = self._require_consumer()
        if self._settle(stack) in GONE:
            return Outcome("COMPLETE")
        token = self._token()
        self.cloudformation.delete_stack(StackName=stack, ClientRequestToken=token)
        final = self._wait(stack, token)
        if final == "DELETE_COMPLETE":
            return Outcome("COMPLETE")
        return Outcome("FAILED", f"{final}: {self._failure_reason(stack, token)}")

    def fail_a_creation(self) -> str | None:
        """A stack of one AWS::CloudFormation::WaitCondition that times out after 1 s (no resource of any
        other service, nothing billed), created with OnFailure=DELETE; returns once it is deleted."""
        created = self.cloudformation.create_stack(
            StackName=f"{self.consumer_stack}-onfailure",
            TemplateBody=json.dumps(FAILING_TEMPLATE),
            OnFailure="DELETE",
            Tags=[{"Key": "purpose", "Value": "phone-number-assignment-acceptance"}],
        )
        stack_id = created["StackId"]
        deadline = self.clock() + self.budget
        while self._status(stack_id) not in GONE:
            if self.clock() > deadline:
                raise OperationTimedOut(f"{stack_id} was not deleted within {self.budget:.0f} s")
            self.sleep(POLL_SECONDS)
        return stack_id

    def cleanup_commands(self) -> list[str]:
        """The commands that would remove what is left, in order (the consumer before the provider)."""
        commands = []
        for stack in (self._consumer(), self.provider_stack_id or self._find(self.provider_stack)):
            if stack is not None and self._status(stack) not in GONE:
                commands.append(
                    shlex.join(
                        [
                            "aws",
                            "cloudformation",
                            "delete-stack",
                            "--region",
                            self.region,
                            "--stack-name",
                            stack,
                        ]
                    )
                )
        return commands

    # ---- helpers -----------------------------------------------------------------------------------

    def _require_consumer(self) -> str:
        if self._consumer_stack_id is None:
            raise RuntimeError("no consumer stack was created")
        return self._consumer_stack_id

    @staticmethod
    def _token() -> str:
        return f"pna-acceptance-{uuid.uuid4()}"

    def _parameters(self, properties: dict[str, str]) -> list[dict[str, str]]:
        values = {"ServiceToken": self.service_token, **properties}
        return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]

    def _status(self, stack: str) -> str | None:
        try:
            return self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError as exc:
            if "does not exist" in exc.response["Error"].get("Message", ""):
                return None
            raise

    def _find(self, name: str) -> str | None:
        try:
            return self.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
        except ClientError as exc:
            if "does not exist" in exc.response["Error"].get("Message", ""):
                return None
            raise

    def _settle(self, stack: str) -> str | None:
        deadline = self.clock() + self.budget
        while True:
            status = self._status(stack)
            if is_settled(status):
                return status
            if self.clock() > deadline:
                raise OperationTimedOut(f"{stack} is still {status} after {self.budget:.0f} s")
            self.sleep(POLL_SECONDS)

    def _wait(self, stack: str, token: str) -> str:
        """The final stack status of the operation that carried ``token``: read from its own stack event,
        so an earlier operation's final status is never mistaken for it."""
        deadline = self.clock() + self.budget
        while True:
            self.sleep(POLL_SECONDS)  # not at once: the operation has only just been accepted
            for event in self.cloudformation.describe_stack_events(StackName=stack)["StackEvents"]:
                if (
                    event.get("ClientRequestToken") == token
                    and event.get("ResourceType") == "AWS::CloudFormation::Stack"
                ):
                    if is_settled(event["ResourceStatus"]):
                        return event["ResourceStatus"]
                    break  # the newest event of this operation: still running
            if self.clock() > deadline:
                raise OperationTimedOut(
                    f"{stack}: the operation {token} did not end within {self.budget:.0f} s"
                )

    def _failure_reason(self, stack: str, token: str) -> str:
        paginator = self.cloudformation.get_paginator("describe_stack_events")
        reasons = [
            event.get("ResourceStatusReason", "")
            for page in paginator.paginate(StackName=stack)
            for event in page["StackEvents"]
            if event.get("ClientRequestToken") == token
            and event.get("LogicalResourceId") == LOGICAL_ID
            and event["ResourceStatus"].endswith("FAILED")
        ]
        return reasons[-1] if reasons else "no resource failure event"  # events come newest first
