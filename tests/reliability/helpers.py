"""What CloudFormation received and what Connect was asked to do, for the reliability tests."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import ACCOUNT, REGION, World, describe

# Anything else the provider calls changes a number (or its tags or routing).
READ_ONLY_PREFIXES = ("Describe", "List", "Search", "Get")


def props(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid declaration moving the world's number to instance B, with ``overrides`` applied."""
    declared = {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn}
    declared.update(overrides)
    return {key: value for key, value in declared.items() if value is not None}


def operations(control: Any, since: int = 0) -> list[tuple[str, str | None]]:
    """(operation, error code) of every call the emulator served, in order, from index ``since`` on."""
    return [(call["operation"], call["error"]) for call in control.calls()[since:]]


def mutating(calls: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [call for call in calls if not call[0].startswith(READ_ONLY_PREFIXES)]


def errors_of(control: Any, operation: str) -> list[str | None]:
    return [error for name, error in operations(control) if name == operation]


def state_of(connect: Any, arn: str) -> dict[str, Any]:
    summary = describe(connect, arn)
    return {
        "target": summary["TargetArn"],
        "status": summary["PhoneNumberStatus"]["Status"],
        "tags": summary.get("Tags", {}),
    }


def provider_tags(connect: Any, arn: str) -> dict[str, str]:
    return {
        k: v
        for k, v in describe(connect, arn).get("Tags", {}).items()
        if k.startswith("PhoneNumberAssignment:")
    }


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds (a test arranging a race), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


@functools.cache
def _observing_dynamodb(endpoint_url: str) -> Any:
    # One per worker and endpoint: tests read records many times, and a client costs about 10 ms of CPU to
    # make. It only reads, in legacy retry mode (no retry quota), so it carries nothing from test to test.
    import boto3

    return boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)


def ownership_record(endpoint_url: str, arn: str) -> dict[str, Any] | None:
    """The number's item in the provider's ownership table (strongly consistent), or None."""
    from phone_number_assignment.records import KEY, OWNERSHIP_TABLE

    dynamodb = _observing_dynamodb(endpoint_url)
    try:
        item = dynamodb.get_item(TableName=OWNERSHIP_TABLE, Key={KEY: {"S": arn}}, ConsistentRead=True)
    except dynamodb.exceptions.ResourceNotFoundException:
        return None
    found = item.get("Item")
    return {name: next(iter(value.values())) for name, value in found.items()} if found else None


def released(endpoint_url: str, arn: str) -> bool:
    """Whether nobody holds the number: no record, or one that says RELEASED (records are never deleted)."""
    record = ownership_record(endpoint_url, arn)
    return record is None or record["State"] == "RELEASED"


def seed_numbers(control: Any, count: int, instance_id: str, *, prefix: str = "+1555200") -> list[str]:
    """``count`` more numbers CLAIMED on ``instance_id``; returns their IDs."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "phone_numbers": [
                {"id": number_id, "phone_number": f"{prefix}{index:04d}", "target": instance_id}
                for index, number_id in enumerate(ids)
            ],
        }
    )
    return ids


def one_response(receiver: Any, request_id: str) -> dict[str, Any]:
    """The single response CloudFormation received for ``request_id``; fails on none or several."""
    bodies = receiver.responses(request_id)
    assert len(bodies) == 1, f"expected exactly one response for {request_id}, got {len(bodies)}: {bodies}"
    return bodies[0]


@dataclass
class CapturedLogs:
    """What the provider logged: Powertools' JSON lines as printed, and every stdlib record in full."""

    printed: io.StringIO = field(default_factory=io.StringIO)
    records: list[logging.LogRecord] = field(default_factory=list)

    def lines(self) -> list[str]:
        return self.printed.getvalue().splitlines()

    def text(self) -> str:
        """Everything, including each record's arguments, extra keys and traceback, as one string."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        rendered = [self.printed.getvalue()]
        for record in self.records:
            rendered.append(formatter.format(record))
            rendered.append(repr(vars(record)))
        return "\n".join(rendered)


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        self._into.append(record)


@contextlib.contextmanager
def captured_logs(level: str | None = None) -> Iterator[CapturedLogs]:
    """Capture the provider's logs as Lambda would ship them, at ``level`` (LogLevel) if given.

    Powertools prints JSON through its own handler (to stdout, bound when the module was imported, so pytest's
    capture may not see it): its stream is swapped. crhelper, botocore and Powertools records also reach the
    root logger, where a handler keeps them whole.
    """
    from phone_number_assignment.telemetry import logger as powertools_logger

    shipped_level = powertools_logger.log_level
    if level is not None:
        powertools_logger.setLevel(level)
    captured = CapturedLogs()
    handlers = [h for h in powertools_logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [handler.setStream(captured.printed) for handler in handlers]
    keep = _Keep(captured.records)
    root = logging.getLogger()
    root.addHandler(keep)
    try:
        yield captured
    finally:
        powertools_logger.setLevel(shipped_level)
        root.removeHandler(keep)
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)
