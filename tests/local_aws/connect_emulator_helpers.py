"""Helpers shared by the Connect emulator tests (imported by conftest and the test modules)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws.connect.runtime import runtime

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# botocore's "max_attempts" counts retries only (1 = one retry); "total_max_attempts" counts every try.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# Short enough to keep the suite fast; tests that observe a transition configure their own timing.
QUICK_MOVE_SECONDS = 0.05


@functools.cache
def _session() -> Any:
    """One boto3 Session for every test client. moto's mock_aws swaps boto3's default session for a new one,
    and a new session parses botocore's endpoint rules and the Connect model again: about 0.2 s per client,
    against a few milliseconds from a session that has them loaded. Clients stay one per call (no shared
    retry state); moto intercepts requests of any session created after it was imported."""
    return boto3.session.Session()


# A boto3 Session is not thread-safe, and some tests create clients from many threads at once.
_session_lock = threading.Lock()


@dataclass
class ConnectEmulator:
    mode: str
    control: Any  # LocalControl | HttpControl: identical methods
    endpoint_url: str | None

    def client(self, region: str = REGION, **config: Any) -> Any:
        kwargs: dict[str, Any] = {
            "region_name": region,
            "config": NO_RETRIES.merge(Config(**config)) if config else NO_RETRIES,
        }
        if self.endpoint_url:
            kwargs |= {
                "endpoint_url": self.endpoint_url,
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
            }
        with _session_lock:
            return _session().client("connect", **kwargs)


def create_instance(client: Any, alias: str | None = None) -> dict[str, str]:
    kwargs: dict[str, Any] = {
        "IdentityManagementType": "CONNECT_MANAGED",
        "InboundCallsEnabled": True,
        "OutboundCallsEnabled": True,
    }
    if alias:
        kwargs["InstanceAlias"] = alias
    created = client.create_instance(**kwargs)
    return {"Id": created["Id"], "Arn": created["Arn"]}


def wait_for(probe: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Poll until ``probe()`` returns something truthy, waiting on the emulator's clock (the ``clock``
    fixture's VirtualClock: a wait skips ahead, so a move or a lag takes no real time)."""
    clock = runtime.clock
    deadline = clock.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if clock.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        clock.sleep(interval)


def summary(client: Any, phone_number_id: str) -> dict[str, Any]:
    return client.describe_phone_number(PhoneNumberId=phone_number_id)["ClaimedPhoneNumberSummary"]


def wait_until_settled(client: Any, phone_number_id: str, target_arn: str | None = None) -> dict[str, Any]:
    """The summary once the number is no longer IN_PROGRESS (and on ``target_arn``, if given)."""

    def settled() -> dict[str, Any] | None:
        current = summary(client, phone_number_id)
        if current["PhoneNumberStatus"]["Status"] == "IN_PROGRESS":
            return None
        if target_arn is not None and current["TargetArn"] != target_arn:
            return None
        return current

    return wait_for(settled)


def claim_number(
    client: Any, target_arn: str, phone_number: str | None = None, **kwargs: Any
) -> dict[str, str]:
    """Claim a number and wait until it is CLAIMED."""
    if phone_number is None:
        available = client.search_available_phone_numbers(
            TargetArn=target_arn, PhoneNumberCountryCode="US", PhoneNumberType="DID"
        )["AvailableNumbersList"]
        phone_number = available[0]["PhoneNumber"]
    claimed = client.claim_phone_number(TargetArn=target_arn, PhoneNumber=phone_number, **kwargs)
    wait_until_settled(client, claimed["PhoneNumberId"], target_arn)
    return {"PhoneNumberId": claimed["PhoneNumberId"], "PhoneNumberArn": claimed["PhoneNumberArn"]}


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]
