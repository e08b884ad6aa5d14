"""The scenario's local backend: the Connect emulator, and ``local_aws.stack.LocalCustomResourceStack`` as
CloudFormation.

LocalCustomResourceStack sends one request per call; what CloudFormation does around a request is added
here, the way CloudFormation does it: a failed update is rolled back with an Update carrying the old
properties, and an update that returns a new physical ID (a replacement) is followed by a Delete of the old
resource. Stack operations here end before the call returns, so there is never one in flight to wait for.
"""

from __future__ import annotations

from typing import Any

import boto3

from acceptance.scenario import Outcome
from local_aws.stack import LocalCustomResourceStack

LOGICAL_ID = "MainLine"


class LocalBackend:
    def __init__(self, stack: LocalCustomResourceStack, connect: Any) -> None:
        self.stack = stack
        self.connect = connect
        self.region = stack.region
        endpoint = connect.meta.endpoint_url
        # A second connection, as a reader other than the writer; moto serves every service on one port.
        self.observer = boto3.client("connect", region_name=self.region, endpoint_url=endpoint)
        self.dynamodb = boto3.client("dynamodb", region_name=self.region, endpoint_url=endpoint)
        self.service_quotas = None  # moto does not serve ListServiceQuotas: the probe says it is unprobed
        # moto's CloudFormation, which knows the native AWS::Connect::PhoneNumber stacks made on the emulator.
        self.cloudformation = boto3.client("cloudformation", region_name=self.region, endpoint_url=endpoint)
        self.provider_deployed = False
        self.created = False

    @property
    def consumer_stack_id(self) -> str | None:
        return self.stack.stack_id if self.created else None

    def connect_in(self, region: str) -> Any:
        # The emulator keeps each Region apart, as Connect does: another Region's client sees only what
        # was made there.
        return boto3.client("connect", region_name=region, endpoint_url=self.connect.meta.endpoint_url)

    def deploy_provider(self) -> None:
        self.provider_deployed = True  # the handler is already importable in this process

    def remove_provider(self) -> None:
        if self.consumer_exists():
            raise RuntimeError("the consumer stack still exists: the provider stays")
        self.provider_deployed = False

    def consumer_exists(self) -> bool:
        return LOGICAL_ID in self.stack.resources

    def settle_consumer(self) -> str | None:
        return "CREATE_COMPLETE" if self.consumer_exists() else None

    def fail_a_creation(self) -> str | None:
        """The local CloudFormation stand-in plays a stack of no number created with OnFailure=DELETE whose
        creation fails (LocalCustomResourceStack.fail_creation); its events are what the emulator records."""
        failing = LocalCustomResourceStack(
            self.stack.handler,
            self.stack.receiver,
            stack_name=f"{self.stack.stack_id.split('/')[1]}-onfailure",
            region=self.region,
            account_id=self.stack.stack_id.split(":")[4],
            control=self.stack.control,
            clock=self.stack.clock,
        )
        failing.fail_creation(on_failure="DELETE")
        return failing.stack_id

    def cleanup_commands(self) -> list[str]:
        return [f"(local) delete {LOGICAL_ID} of {self.stack.stack_id}"] if self.consumer_exists() else []

    def create_consumer(self, properties: dict[str, str]) -> Outcome:
        self.created = True
        response = self.stack.create(LOGICAL_ID, _without_empty(properties))
        if response.ok:
            return Outcome("COMPLETE")
        return Outcome("FAILED", response.reason)

    def update_consumer(self, properties: dict[str, str]) -> Outcome:
        before = self.stack.resources[LOGICAL_ID]
        response = self.stack.update(LOGICAL_ID, _without_empty(properties))
        if not response.ok:
            rollback = self.stack.send(
                "Update",
                LOGICAL_ID,
                before.properties,
                physical_id=before.physical_id,
                old_properties=_without_empty(properties),
            )
            state = "ROLLED_BACK" if rollback.ok else "FAILED"
            return Outcome(state, response.reason if rollback.ok else rollback.reason)
        if response.physical_id != before.physical_id:
            # Replacement: CloudFormation deletes the old resource in the cleanup phase.
            cleanup = self.stack.send("Delete", LOGICAL_ID, before.properties, physical_id=before.physical_id)
            if not cleanup.ok:
                return Outcome("FAILED", cleanup.reason)
        return Outcome("COMPLETE")

    def delete_consumer(self) -> Outcome:
        response = self.stack.delete(LOGICAL_ID)
        return Outcome("COMPLETE") if response.ok else Outcome("FAILED", response.reason)


def _without_empty(properties: dict[str, str]) -> dict[str, str]:
    # The consumer template drops an empty ContactFlowArn with AWS::NoValue; so does this stand-in.
    return {key: value for key, value in properties.items() if value != ""}
