"""One CloudFormation request as the lifecycle sees it, what it answers, and the clients it uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import rule
from .connect import PhoneNumbers, PhoneNumberState
from .properties import Scope
from .records import (
    OwnershipRecords,
    properties_digest,
    resource_key,
)
from .tags import Owner


@dataclass(frozen=True)
class Request:
    """The parts of a CloudFormation custom-resource event the lifecycle uses."""

    request_type: str
    stack_id: str
    logical_id: str
    request_id: str
    scope: Scope
    properties: Mapping[str, Any] = field(default_factory=dict)
    physical_id: str = ""
    old_properties: Mapping[str, Any] = field(default_factory=dict)
    # When CloudFormation sent the request (wall clock, the ResponseURL's signing time): the order of this
    # resource's requests (ownership.py).
    requested_at: float = field(default_factory=time.time)
    # Whether requested_at was read from the request (False: the time it arrived, for a Delete only).
    signed: bool = True
    # False while an overtaken request puts back what it did on behalf of the newer one: the resource's
    # stamp (the newer request's) does not stop that.
    fenced: bool = True

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)

    @property
    def requester(self) -> rule.Requester:
        scope = self.scope
        return rule.Requester(
            self.owner,
            self.request_id,
            self.requested_at,
            self.request_type,
            resource_key=resource_key(scope.partition, scope.region, scope.account, self.owner)
            if self.fenced
            else "",
            properties=properties_digest(self.properties),
            old_properties=properties_digest(self.old_properties),
        )


@dataclass(frozen=True)
class Outcome:
    """What CloudFormation receives on success."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Services:
    """The AWS clients one request uses. CloudFormation is only asked about other owners (and created on
    first use: most requests never need it)."""

    numbers: PhoneNumbers
    records: OwnershipRecords
    cloudformation: Callable[[], Any]


def state_stub(arn: str) -> PhoneNumberState:
    """A number Connect no longer knows, for naming it in a Reason."""
    return PhoneNumberState(arn, arn.rsplit("/", 1)[-1], "", "", "", "")
