"""`make demo`: the provider's whole CloudFormation lifecycle, on this machine, with no AWS account.

Starts the Connect emulator and a local CloudFormation response receiver, creates two Connect instances and
claims a number on the first, then drives the real provider handler through Create, Update, a request that
fails validation, and Delete with OnDelete: Restore, printing what CloudFormation would receive each time.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local_aws.cloudformation import ResponseReceiver, trusting
from local_aws.connect.server import start_emulator
from local_aws.stack import LocalCustomResourceStack, Response

PROVIDER_CODE_URI = Path(__file__).resolve().parents[1] / "provider"
REGION = "us-east-1"
MOVE_SECONDS = 2.0


def main() -> int:
    with ExitStack() as running:
        emulator = running.enter_context(start_emulator())
        receiver = running.enter_context(ResponseReceiver())
        running.enter_context(trusting(receiver))
        _point_boto3_at(emulator.endpoint_url)
        emulator.control.configure(move_seconds=MOVE_SECONDS)
        print(
            f"The provider's handler runs in this process, from {os.path.relpath(PROVIDER_CODE_URI)}/ with a "
            "Lambda-like context, for speed; `make invoke` runs the built function under Lambda's runtime "
            "emulator instead."
        )
        print(f"Connect emulator on {emulator.endpoint_url}")
        print(f"CloudFormation responses received on {receiver.endpoint}")
        print(f"Each move takes {MOVE_SECONDS:.0f} s in the emulator, like a (fast) real one.\n")

        connect = boto3.client("connect", region_name=REGION, config=Config(retries={"mode": "standard"}))
        primary = _instance(connect, "contact-center-primary")
        secondary = _instance(connect, "contact-center-secondary")
        routing = connect.create_traffic_distribution_group(Name="global-routing", InstanceId=primary["Id"])
        number = _claimed_number(connect, primary["Arn"])
        print(f"Claimed {number['PhoneNumber']} on {primary['Arn']}\n")

        # Imported the way Lambda does (CodeUri on the path), once the environment points at the emulator.
        sys.path.insert(0, str(PROVIDER_CODE_URI))
        from phone_number_assignment.app import handler

        stack = LocalCustomResourceStack(handler, receiver, stack_name="demo-consumer", timeout_seconds=900)
        declared = {
            "PhoneNumberId": number["PhoneNumberId"],
            "TargetArn": secondary["Arn"],
            "OnDelete": "Restore",
        }
        steps = [
            ("Create: move the number to the secondary instance", lambda: stack.create("MainLine", declared)),
            (
                "Update: move it to a traffic distribution group (in place, same physical ID)",
                lambda: stack.update("MainLine", {**declared, "TargetArn": routing["Arn"]}),
            ),
            (
                "Update with a misspelt property: rejected before any change",
                lambda: stack.update("MainLine", {**declared, "TargetARN": declared.pop("TargetArn")}),
            ),
            ("Delete with OnDelete: Restore: back where it came from", lambda: stack.delete("MainLine")),
        ]
        expected = ["SUCCESS", "SUCCESS", "FAILED", "SUCCESS"]
        outcomes = []
        for (title, step), want in zip(steps, expected, strict=True):
            response = step()
            outcomes.append(response.status == want)
            _show(title, response, connect, number["PhoneNumberArn"])

        ok = all(outcomes)
        print(
            "Demo finished: every step answered as expected."
            if ok
            else "Demo finished with unexpected answers."
        )
        return 0 if ok else 1


def _point_boto3_at(endpoint_url: str) -> None:
    # moto serves DynamoDB (the ownership records) and CloudFormation on the emulator's port too.
    for service in ("CONNECT", "DYNAMODB", "CLOUDFORMATION", "LAMBDA"):
        os.environ[f"AWS_ENDPOINT_URL_{service}"] = endpoint_url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # the demo prints its own story
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def _instance(connect: Any, alias: str) -> dict[str, str]:
    return connect.create_instance(
        IdentityManagementType="CONNECT_MANAGED",
        InstanceAlias=alias,
        InboundCallsEnabled=True,
        OutboundCallsEnabled=True,
    )


def _claimed_number(connect: Any, target_arn: str) -> dict[str, str]:
    available = connect.search_available_phone_numbers(
        TargetArn=target_arn, PhoneNumberCountryCode="US", PhoneNumberType="DID", MaxResults=1
    )["AvailableNumbersList"][0]["PhoneNumber"]
    claimed = connect.claim_phone_number(TargetArn=target_arn, PhoneNumber=available)
    while True:
        summary = connect.describe_phone_number(PhoneNumberId=claimed["PhoneNumberId"])[
            "ClaimedPhoneNumberSummary"
        ]
        if summary["PhoneNumberStatus"]["Status"] == "CLAIMED":
            return summary
        time.sleep(0.25)


def _show(title: str, response: Response, connect: Any, number_arn: str) -> None:
    summary = connect.describe_phone_number(PhoneNumberId=number_arn)["ClaimedPhoneNumberSummary"]
    print(f"== {title}")
    print(f"   CloudFormation receives: {response.status} after {response.seconds:.1f} s")
    print(f"   PhysicalResourceId:      {response.physical_id}")
    if response.reason:
        print(f"   Reason:                  {response.reason}")
    for key, value in response.data.items():
        print(f"   Data.{key + ':':<22}{value or '-'}")
    print(f"   The number is now {summary['PhoneNumberStatus']['Status']} on {summary['TargetArn']}\n")


if __name__ == "__main__":
    sys.exit(main())
