"""Parsing and validating a Custom::PhoneNumberAssignment's properties.

Everything here runs before any Connect call, so an invalid declaration fails with a Reason that names the
property and what is allowed, and changes nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.utils import ArnParser, InvalidArnException

from .errors import InvalidProperties, quote
from .schema import (
    CLOUDFORMATION_PROPERTIES,
    CONTACT_FLOW_RESOURCE,
    DESCRIPTIONS,
    INSTANCE_RESOURCE,
    ON_DELETE_RESTORE,
    ON_DELETE_RETAIN,
    OPTIONAL,
    PHONE_NUMBER_RESOURCE,
    REQUIRED,
    SERVICE_TIMEOUT,
    TRAFFIC_DISTRIBUTION_GROUP_RESOURCE,
    UUID_PATTERN,
)

_arn_parser = ArnParser()


class OnDelete(StrEnum):
    RETAIN = ON_DELETE_RETAIN
    RESTORE = ON_DELETE_RESTORE


@dataclass(frozen=True)
class Scope:
    """Where the provider runs: ARNs it accepts must be in this partition and Region."""

    partition: str
    region: str
    account: str

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:connect:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Target:
    arn: str
    kind: str  # "instance" or "traffic-distribution-group"
    id: str

    @property
    def is_instance(self) -> bool:
        return self.kind == "instance"


@dataclass(frozen=True)
class ContactFlow:
    arn: str
    instance_id: str
    id: str


@dataclass(frozen=True)
class AssignmentProperties:
    phone_number_arn: str
    phone_number_id: str
    target: Target
    on_delete: OnDelete = OnDelete.RETAIN
    contact_flow: ContactFlow | None = None


ALLOWED = frozenset((*REQUIRED, *OPTIONAL, *CLOUDFORMATION_PROPERTIES))
# What a declaration may set: ServiceTimeout too (CloudFormation's own, but written among the properties);
# not ServiceToken, which CloudFormation requires before the provider sees anything.
DECLARABLE = (*REQUIRED, *OPTIONAL, SERVICE_TIMEOUT)
ALLOWED_LIST = ", ".join(DECLARABLE)


def parse_properties(properties: Any, scope: Scope) -> AssignmentProperties:
    """Validate ResourceProperties and normalise them; raise InvalidProperties naming every problem found
    (one sentence each), so that one failed deploy shows all there is to fix."""
    parsed, reasons = check_properties(properties, scope)
    if parsed is None:
        raise InvalidProperties(" ".join(reasons))
    return parsed


def check_properties(properties: Any, scope: Scope) -> tuple[AssignmentProperties | None, list[str]]:
    """(the parsed properties, []) or (None, every Reason): the provider's parse, which ``make plan`` runs
    on each declaration before a deploy. Each check that does not depend on another runs, so the list holds
    every problem the provider would report, not only the first."""
    if not isinstance(properties, Mapping):
        return None, [f"ResourceProperties must be a map with {ALLOWED_LIST}; got {quote(properties)}."]
    reasons = [_unknown(name) for name in properties if name not in ALLOWED]
    reasons += [
        f"Property {name} is required ({_describe(name)})." for name in REQUIRED if name not in properties
    ]
    values: dict[str, str] = {}
    for name in (*REQUIRED, *OPTIONAL):
        if name in properties:
            value = _collected(reasons, _string, properties, name)
            if value is not None:
                values[name] = value

    phone_number = target = contact_flow = None
    if "PhoneNumberId" in values:
        phone_number = _collected(reasons, _phone_number, values["PhoneNumberId"], scope)
    if "TargetArn" in values:
        target = _collected(reasons, _target, values["TargetArn"], scope)
    on_delete = _collected(reasons, _on_delete, values.get("OnDelete", OnDelete.RETAIN.value))
    if values.get("ContactFlowArn"):
        contact_flow = _collected(reasons, _contact_flow, values["ContactFlowArn"], target, scope)
    if reasons or phone_number is None or target is None or on_delete is None:
        return None, reasons
    return AssignmentProperties(*phone_number, target, on_delete, contact_flow), []


def _collected(reasons: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, or None with its Reason added to ``reasons``."""
    try:
        return check(*args)
    except InvalidProperties as error:
        reasons.append(error.reason)
        return None


def phone_number_arn_of(value: str, scope: Scope) -> str | None:
    """The phone-number ARN a PhoneNumberId or physical ID names, or None if it names none."""
    try:
        return _phone_number(value, scope)[0]
    except InvalidProperties:
        return None


def _unknown(name: Any) -> str:
    hint = difflib.get_close_matches(str(name), DECLARABLE, n=1, cutoff=0.6)
    suggestion = f" Did you mean {hint[0]}?" if hint else ""
    return f"Unknown property {quote(name, 60)}.{suggestion} Allowed properties: {ALLOWED_LIST}."


def _string(properties: Mapping[str, Any], name: str) -> str:
    value = properties[name]
    if not isinstance(value, str):
        raise InvalidProperties(
            f"Property {name} must be a string ({_describe(name)}); got {quote(value, 60)}."
        )
    return value.strip()


def _describe(name: str) -> str:
    return DESCRIPTIONS[name]


def _parse_connect_arn(name: str, value: str, scope: Scope) -> str:
    """The ARN's resource part, once known to be a Connect ARN in the provider's partition and Region."""
    try:
        arn = _arn_parser.parse_arn(value)
    except InvalidArnException:
        raise InvalidProperties(
            f"Property {name} must be {_describe(name)}; got {quote(value, 80)}."
        ) from None
    if arn["service"] != "connect" or not re.fullmatch(r"\d{12}", arn["account"]):
        raise InvalidProperties(
            f"Property {name} must be {_describe(name)}; {quote(value, 80)} is not an Amazon Connect ARN."
        )
    if arn["partition"] != scope.partition or arn["region"] != scope.region:
        raise InvalidProperties(
            f"Property {name} must be in this provider's partition and Region "
            f"(arn:{scope.partition}:connect:{scope.region}:...); got {quote(value, 80)}. "
            "Deploy the provider in that Region to manage it."
        )
    return arn["resource"]


def _phone_number(value: str, scope: Scope) -> tuple[str, str]:
    if UUID_PATTERN.fullmatch(value):
        phone_number_id = value.lower()
        return scope.arn(f"phone-number/{phone_number_id}"), phone_number_id
    if not value.startswith("arn:"):
        raise InvalidProperties(
            f"Property PhoneNumberId must be {_describe('PhoneNumberId')}; got {quote(value, 80)}."
        )
    resource = _parse_connect_arn("PhoneNumberId", value, scope)
    match = PHONE_NUMBER_RESOURCE.fullmatch(resource)
    if not match:
        raise InvalidProperties(f"Property PhoneNumberId must name a phone number; got {quote(value, 80)}.")
    account = _arn_parser.parse_arn(value)["account"]
    if account != scope.account:
        # Said here, before any call: Connect would never be reached (the provider's role is granted this
        # account's numbers only), and an access-denied Reason would send people to IAM instead.
        raise InvalidProperties(
            f"Property PhoneNumberId names a number in account {account}, but the provider runs in account "
            f"{scope.account}: that number is in another account, and Connect moves a number only within "
            "its own account. Declare a number of this account, or deploy the provider (and the stack) in "
            f"account {account}."
        )
    phone_number_id = match["id"].lower()
    return _arn_like(value, f"phone-number/{phone_number_id}"), phone_number_id


def _arn_like(arn: str, resource: str) -> str:
    """``arn`` with its resource part replaced: keeps the caller's partition, Region and account."""
    parts = _arn_parser.parse_arn(arn)
    return f"arn:{parts['partition']}:connect:{parts['region']}:{parts['account']}:{resource}"


def _target(value: str, scope: Scope) -> Target:
    resource = _parse_connect_arn("TargetArn", value, scope)
    for kind, pattern in (
        ("instance", INSTANCE_RESOURCE),
        ("traffic-distribution-group", TRAFFIC_DISTRIBUTION_GROUP_RESOURCE),
    ):
        match = pattern.fullmatch(resource)
        if match:
            # Connect reports ARNs with lower-case IDs; normalising lets us compare with what it reports.
            target_id = match["id"].lower()
            return Target(arn=_arn_like(value, f"{kind}/{target_id}"), kind=kind, id=target_id)
    raise InvalidProperties(
        f"Property TargetArn must be {_describe('TargetArn')}; {quote(value, 80)} names neither."
    )


def _on_delete(value: str) -> OnDelete:
    for choice in OnDelete:
        if value == choice.value:
            return choice
    hint = next((c.value for c in OnDelete if c.value.lower() == value.lower()), None)
    suggestion = f" (values are case-sensitive: {hint})" if hint else ""
    raise InvalidProperties(
        f"Property OnDelete must be Retain or Restore; got {quote(value, 40)}{suggestion}."
    )


def _contact_flow(value: str, target: Target | None, scope: Scope) -> ContactFlow:
    resource = _parse_connect_arn("ContactFlowArn", value, scope)
    match = CONTACT_FLOW_RESOURCE.fullmatch(resource)
    if not match:
        raise InvalidProperties(
            f"Property ContactFlowArn must be {_describe('ContactFlowArn')}; got {quote(value, 80)}."
        )
    # A group's home instance is only known to Connect: lifecycle checks it before anything changes.
    # (Checked against the target only once TargetArn itself is valid.)
    if target is not None and target.is_instance and match["instance_id"].lower() != target.id:
        raise InvalidProperties(
            f"Property ContactFlowArn names a flow in instance {match['instance_id']}, but TargetArn is "
            f"instance {target.id}; the flow must belong to the target instance."
        )
    instance_id, flow_id = match["instance_id"].lower(), match["id"].lower()
    return ContactFlow(
        arn=_arn_like(value, f"instance/{instance_id}/contact-flow/{flow_id}"),
        instance_id=instance_id,
        id=flow_id,
    )
