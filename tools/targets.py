"""What the tools share without reading anything: a Connect target given on the command line, and the
number fields the provider's stacks module reads. Kept apart from export.py, status.py and plan.py so that
each imports only the calls it makes (tests/reliability/test_iam_policy.py scans the modules status imports
for the drift check's role)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.utils import ArnParser, InvalidArnException

from phone_number_assignment import schema


class UsageError(Exception):
    """The command line names no valid target: nothing was called."""


@dataclass(frozen=True)
class Target:
    arn: str
    kind: str  # "instance" or "traffic-distribution-group"
    id: str
    region: str

    @property
    def is_instance(self) -> bool:
        return self.kind == "instance"


@dataclass(frozen=True)
class NumberState:
    """What the provider's stacks module reads of a number (connect.PhoneNumberState's fields it uses)."""

    arn: str
    id: str
    phone_number: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.phone_number or self.arn


def parse_target(value: str) -> Target:
    try:
        arn = ArnParser().parse_arn(value) if value.startswith("arn:") else None
    except InvalidArnException:
        arn = None
    if arn is None or arn["service"] != "connect":
        raise UsageError(f"TARGET must be {schema.DESCRIPTIONS['TargetArn']}; got {value!r}.")
    for kind, pattern in (
        ("instance", schema.INSTANCE_RESOURCE),
        ("traffic-distribution-group", schema.TRAFFIC_DISTRIBUTION_GROUP_RESOURCE),
    ):
        match = pattern.fullmatch(arn["resource"])
        if match:
            target_id = match["id"].lower()
            normalised = f"arn:{arn['partition']}:connect:{arn['region']}:{arn['account']}:{kind}/{target_id}"
            return Target(normalised, kind, target_id, arn["region"])
    raise UsageError(f"TARGET must be {schema.DESCRIPTIONS['TargetArn']}; {value!r} names neither.")
