"""The ownership record: who holds a phone number, kept where a write can be made conditional.

Tags on a number are last-writer-wins, so two stacks writing them at once can both believe they won, and any
protocol built on them rests on how fast writes become visible. A DynamoDB item per number can be written
with a condition that DynamoDB checks atomically ("only if it does not exist", "only if its Version is still
the one I read"), and a strongly consistent read returns every write acknowledged before it (both are
documented guarantees; docs/reliability.md). Every provider deployment in an account and Region uses the one
table named OWNERSHIP_TABLE, so ownership holds across deployments (nested from the Serverless Application
Repository, rolled out by StackSets, or deployed twice by hand). The provider creates the table the first
time it needs to write one (with deletion protection and point-in-time recovery), unless the deployment
says the table is created by its own template; it is never deleted.

A record is never deleted either: a number given up is RELEASED, and its Version only grows. Each record
also says which request of its owner wrote it last (RequestId) and when CloudFormation sent that request
(RequestedAt, the ResponseURL's signing time): that is how an older request of the same resource (cancelled,
superseded, or delivered again late) knows it has been overtaken (ownership.py).

The tags on the number (tags.py) stay the record people see in the console; this record decides.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from . import retries
from .errors import (
    ProviderError,
    is_condition_failed,
    is_table_being_created,
    is_table_missing,
)
from .tags import SCHEMA_VERSION, Owner
from .waiting import Budget

# Standard logging, not Powertools: the tools import this module with boto3 alone; in the Lambda,
# telemetry.py hands these loggers Powertools' handler and format.
logger = logging.getLogger(__name__)

OWNERSHIP_TABLE = "PhoneNumberAssignment-Ownership"
KEY = "PhoneNumberArn"
# The answer marker of a request continued in a later invocation (continuation.py) is an item of this
# table too, keyed by a phone-number ARN no number has (phone-number/request-<id>): kept here, with the
# table's other keys, so that make status can leave it out without importing what makes the calls.
REQUEST_ID_PREFIX = "request-"
_REQUEST_NAMESPACE = uuid.UUID("0f7e2d8c-3b6a-4f1e-9c5d-2a8b7e6f4d31")


def request_key(
    partition: str, region: str, account: str, stack_id: str, logical_id: str, request_id: str
) -> str:
    """The marker item of one CloudFormation request: a phone-number ARN of this account no number has."""
    name = str(uuid.uuid5(_REQUEST_NAMESPACE, "\n".join((stack_id, logical_id, request_id))))
    return f"arn:{partition}:connect:{region}:{account}:phone-number/{REQUEST_ID_PREFIX}{name}"


def is_request_key(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(REQUEST_ID_PREFIX)


# How often to look at a table being created (it takes seconds, once per account and Region).
TABLE_POLL_SECONDS = 1.0


class State(enum.StrEnum):
    # Taken by a Create or replacement that has not succeeded; no move started by it yet.
    PENDING = "PENDING"
    # That request may have started a move: undoing it means looking where the number went.
    MOVING = "MOVING"
    # The request that took the number succeeded.
    ASSIGNED = "ASSIGNED"
    # A Delete (or a rollback's Delete) is putting the number back: still held by the owner, so nobody
    # else takes it mid-undo, and any older request of the owner is fenced out.
    UNDOING = "UNDOING"
    # Nobody holds the number. The record stays, so that a request of the last owner sent before the
    # release (a cancelled Create, a late delivery) still finds it was overtaken.
    RELEASED = "RELEASED"
    # Written by versions before RELEASED existed (a cancelling Delete's tombstone); read as RELEASED.
    CANCELLED = "CANCELLED"


UNSETTLED = frozenset({State.PENDING, State.MOVING, State.UNDOING})


@dataclass(frozen=True)
class Predecessor:
    """The same stack's previous owner while a rename (a new logical ID taking the number over) is in
    progress: what to hand back if the stack operation rolls back."""

    owner: Owner
    target_arn: str
    previous_target_arn: str
    contact_flow_arn: str = ""


@dataclass(frozen=True)
class Record:
    phone_number_arn: str
    owner: Owner
    state: State
    target_arn: str
    previous_target_arn: str
    contact_flow_arn: str = ""
    predecessor: Predecessor | None = None
    version: int = 0
    # The request of ``owner`` that wrote this record last, and when CloudFormation sent it (wall-clock
    # seconds, the ResponseURL's signing time): the order of the owner's requests.
    requested_at: float = 0.0
    request_id: str = ""
    request_type: str = ""
    # Where the number was routed before this stack took it (its contact flow there), for putting it back.
    previous_contact_flow_arn: str = ""

    @property
    def settled(self) -> bool:
        return self.state not in UNSETTLED

    @property
    def released(self) -> bool:
        return self.state in (State.RELEASED, State.CANCELLED)

    def next(self, **changes: Any) -> Record:
        """The record as the next write leaves it."""
        return replace(self, version=self.version + 1, **changes)

    def to_item(self, now: float) -> dict[str, Any]:
        item: dict[str, Any] = {
            KEY: {"S": self.phone_number_arn},
            "SchemaVersion": {"N": str(SCHEMA_VERSION)},
            "Version": {"N": str(self.version)},
            "StackId": {"S": self.owner.stack_id},
            "LogicalResourceId": {"S": self.owner.logical_id},
            "State": {"S": self.state.value},
            "TargetArn": {"S": self.target_arn},
            "PreviousTargetArn": {"S": self.previous_target_arn},
            "UpdatedAt": {"S": _iso(now)},
        }
        if self.contact_flow_arn:
            item["ContactFlowArn"] = {"S": self.contact_flow_arn}
        if self.predecessor is not None:
            predecessor = {
                "StackId": {"S": self.predecessor.owner.stack_id},
                "LogicalResourceId": {"S": self.predecessor.owner.logical_id},
                "TargetArn": {"S": self.predecessor.target_arn},
                "PreviousTargetArn": {"S": self.predecessor.previous_target_arn},
            }
            if self.predecessor.contact_flow_arn:
                predecessor["ContactFlowArn"] = {"S": self.predecessor.contact_flow_arn}
            item["Predecessor"] = {"M": predecessor}
        if self.requested_at:
            item["RequestedAt"] = {"S": _iso(self.requested_at)}
        if self.request_id:
            item["RequestId"] = {"S": self.request_id}
        if self.request_type:
            item["RequestType"] = {"S": self.request_type}
        if self.previous_contact_flow_arn:
            item["PreviousContactFlowArn"] = {"S": self.previous_contact_flow_arn}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Record:
        def text(attributes: Mapping[str, Any], name: str) -> str:
            return (attributes.get(name) or {}).get("S", "")

        predecessor = None
        if "Predecessor" in item:
            fields = item["Predecessor"]["M"]
            predecessor = Predecessor(
                owner=Owner(text(fields, "StackId"), text(fields, "LogicalResourceId")),
                target_arn=text(fields, "TargetArn"),
                previous_target_arn=text(fields, "PreviousTargetArn"),
                contact_flow_arn=text(fields, "ContactFlowArn"),
            )
        # A tombstone of an earlier version kept its Delete's signing time as CancelledAt.
        requested_at = text(item, "RequestedAt") or text(item, "CancelledAt")
        return cls(
            phone_number_arn=text(item, KEY),
            owner=Owner(text(item, "StackId"), text(item, "LogicalResourceId")),
            state=State(text(item, "State")),
            target_arn=text(item, "TargetArn"),
            previous_target_arn=text(item, "PreviousTargetArn"),
            contact_flow_arn=text(item, "ContactFlowArn"),
            predecessor=predecessor,
            version=int(item["Version"]["N"]),
            requested_at=datetime.datetime.fromisoformat(requested_at).timestamp() if requested_at else 0.0,
            request_id=text(item, "RequestId"),
            request_type=text(item, "RequestType") or ("Delete" if text(item, "CancelledAt") else ""),
            previous_contact_flow_arn=text(item, "PreviousContactFlowArn"),
        )


# A resource's stamp lives in the same table under a key no number has, in the phone-number ARN space the
# function's policy allows (dynamodb:LeadingKeys), like the shared pace's items (pace.py).
RESOURCE_ID_PREFIX = "resource-"


def resource_key(partition: str, region: str, account: str, owner: Owner) -> str:
    """The key of ``owner``'s stamp: a digest, since a stack ID and logical ID can be longer than an ID."""
    digest = hashlib.sha256(f"{owner.stack_id}#{owner.logical_id}".encode()).hexdigest()[:40]
    return f"arn:{partition}:connect:{region}:{account}:phone-number/{RESOURCE_ID_PREFIX}{digest}"


def is_resource_key(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(RESOURCE_ID_PREFIX)


def properties_digest(properties: Mapping[str, Any] | None) -> str:
    """A short fingerprint of a request's ResourceProperties (or OldResourceProperties): two requests
    declaring the same thing have the same one, whatever the order of the keys."""
    if not properties:
        return ""
    text = json.dumps(properties, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ResourceStamp:
    """The last request of one resource (stack ID + logical ID) that may act, whatever number it names.

    Every request writes it (conditionally) before it changes anything, and every fence reads it: unlike a
    number's record it does not depend on which numbers the resource ever held, so a cancelled Create or
    Update is stopped on a number that carries another stack's record, or none.
    """

    key: str
    owner: Owner
    request_id: str
    request_type: str
    requested_at: float
    # Fingerprints of the request's ResourceProperties and OldResourceProperties, and of the
    # ResourceProperties of the stamp this one replaced: they order an Update and its rollback sent in the
    # same second (ownership.stamp_is_newer).
    properties: str = ""
    old_properties: str = ""
    follows: str = ""
    # The request whose stamp this one replaced: what a rollback Update rolls back.
    replaced_request_id: str = ""
    version: int = 0

    def to_item(self, now: float) -> dict[str, Any]:
        item: dict[str, Any] = {
            KEY: {"S": self.key},
            "SchemaVersion": {"N": str(SCHEMA_VERSION)},
            "Version": {"N": str(self.version)},
            "StackId": {"S": self.owner.stack_id},
            "LogicalResourceId": {"S": self.owner.logical_id},
            "RequestId": {"S": self.request_id},
            "RequestType": {"S": self.request_type},
            "RequestedAt": {"S": _iso(self.requested_at)},
            "UpdatedAt": {"S": _iso(now)},
        }
        for name, value in (
            ("Properties", self.properties),
            ("OldProperties", self.old_properties),
            ("Follows", self.follows),
            ("ReplacedRequestId", self.replaced_request_id),
        ):
            if value:
                item[name] = {"S": value}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ResourceStamp:
        def text(name: str) -> str:
            return (item.get(name) or {}).get("S", "")

        requested_at = text("RequestedAt")
        return cls(
            key=text(KEY),
            owner=Owner(text("StackId"), text("LogicalResourceId")),
            request_id=text("RequestId"),
            request_type=text("RequestType"),
            requested_at=datetime.datetime.fromisoformat(requested_at).timestamp() if requested_at else 0.0,
            properties=text("Properties"),
            old_properties=text("OldProperties"),
            follows=text("Follows"),
            replaced_request_id=text("ReplacedRequestId"),
            version=int(item["Version"]["N"]),
        )


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="milliseconds")


class OwnershipRecords(retries.BudgetedClient):
    """Reads and conditional writes of the ownership table, bounded by one invocation's Budget."""

    service = "dynamodb"

    def __init__(
        self,
        client: Any,
        budget: Budget,
        *,
        wall_clock: Callable[[], float] = time.time,
        create_table: bool = True,
        **timing: Any,
    ) -> None:
        super().__init__(client, budget, **timing)
        self._wall_clock = wall_clock
        # False where the table is created by its own template (samples/ownership-table.yaml) and the
        # function is not allowed to create it (template.yaml's OwnershipTable parameter).
        self._may_create_table = create_table
        # Whether a read found no table: with owners' tags on the number, the table was lost (ownership.py).
        self.table_missing = False

    def now(self) -> float:
        return self._wall_clock()

    def get(self, phone_number_arn: str) -> Record | None:
        """The number's record, as of every write acknowledged so far (a strongly consistent read)."""
        try:
            response = self._call(
                "GetItem",
                f"reading the ownership record of {phone_number_arn}",
                Key={KEY: {"S": phone_number_arn}},
                ConsistentRead=True,
            )
        except _TableMissing:
            self.table_missing = True
            return None
        item = response.get("Item")
        return Record.from_item(item) if item else None

    def get_stamp(self, key: str) -> ResourceStamp | None:
        """A resource's stamp (resource_key), as of every write acknowledged so far."""
        try:
            response = self._call(
                "GetItem", "reading a resource's request stamp", Key={KEY: {"S": key}}, ConsistentRead=True
            )
        except _TableMissing:
            return None
        item = response.get("Item")
        return ResourceStamp.from_item(item) if item else None

    def write_stamp(self, stored: ResourceStamp | None, new: ResourceStamp) -> bool:
        """Write ``new`` if the stamp is still ``stored`` (none: there is no stamp); False if it changed."""
        if stored is None:
            return self._put(new, "attribute_not_exists(#key)", {"#key": KEY}, {})
        return self._put(
            replace(new, version=stored.version + 1),
            "#version = :version",
            {"#version": "Version"},
            {":version": {"N": str(stored.version)}},
        )

    def create(self, record: Record) -> bool:
        """Write ``record`` if the number has none; False if it has one (someone else's, or an older one)."""
        return self._put(record, "attribute_not_exists(#key)", {"#key": KEY}, {})

    def replace(self, current: Record, new: Record) -> bool:
        """Write ``new`` over ``current`` only if the record is still ``current``; False if it changed."""
        return self._put(
            new,
            "#version = :version",
            {"#version": "Version"},
            {":version": {"N": str(current.version)}},
        )

    def _put(
        self,
        record: Record | ResourceStamp,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        params: dict[str, Any] = {
            "Item": record.to_item(self.now()),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            params["ExpressionAttributeValues"] = values
        subject = (
            f"writing the ownership record of {record.phone_number_arn}"
            if isinstance(record, Record)
            else "writing a resource's request stamp"
        )
        while True:
            try:
                self._call("PutItem", subject, **params)
            except _ConditionFailed:
                return False
            except _TableMissing:
                if not self._may_create_table:
                    raise ProviderError(
                        f"The ownership table {OWNERSHIP_TABLE} does not exist in this account and Region, "
                        "and this deployment of the provider does not create it (OwnershipTable: External). "
                        "Deploy samples/ownership-table.yaml (or restore the table from its backup), then "
                        "retry; nothing was changed."
                    ) from None
                self._create_table()
                continue
            return True

    def _create_table(self) -> None:
        """Create the shared table (the first write in an account and Region) and wait until it is ACTIVE.

        It is created with deletion protection, and point-in-time recovery is turned on once it is ACTIVE:
        losing it would forget who owns every number (and the order of their requests). boto3's
        ``table_exists`` waiter does this wait too, but on its own schedule (20 s between looks, up to 25
        looks): this one looks every second and stops when the invocation's budget does.
        """
        logger.info("Creating the ownership table", extra={"table": OWNERSHIP_TABLE})
        try:
            self._call(
                "CreateTable",
                f"creating the ownership table {OWNERSHIP_TABLE}",
                TableName=OWNERSHIP_TABLE,
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                DeletionProtectionEnabled=True,
            )
        except _TableBeingCreated:
            logger.info("Another invocation is creating the ownership table")
        while True:
            try:
                status = self._call(
                    "DescribeTable",
                    f"waiting for the ownership table {OWNERSHIP_TABLE}",
                    TableName=OWNERSHIP_TABLE,
                )["Table"]["TableStatus"]
            except _TableMissing:
                status = "CREATING"  # not visible yet
            if status == "ACTIVE":
                self._turn_on_backups()
                return
            self._pause(TABLE_POLL_SECONDS, f"the ownership table {OWNERSHIP_TABLE} to be created")

    def _turn_on_backups(self) -> None:
        """Point-in-time recovery (35 days of restorable history). Best effort: the ownership write that
        needed the table matters more, and the warning says what to do."""
        try:
            self._call(
                "UpdateContinuousBackups",
                f"turning on point-in-time recovery of {OWNERSHIP_TABLE}",
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        except ProviderError as error:
            logger.warning(
                "Could not turn on point-in-time recovery of the ownership table; turn it on by hand",
                extra={"reason": error.reason},
            )

    def _pause(self, delay: float, waiting_for: str) -> None:
        remaining = self.budget.remaining()
        if remaining <= delay:
            self.budget.hand_over(waiting_for)
            raise ProviderError(
                f"Gave up after {self.budget.seconds:.0f} s waiting for {waiting_for}; nothing was "
                "assigned. Retry the stack operation."
            )
        self._sleep(delay)

    def _call(self, operation: str, subject: str, **params: Any) -> dict[str, Any]:
        """One DynamoDB call through the provider's retry loop (retries.py); the answers this store handles
        itself (a failed condition, a missing table) come back as its own exceptions."""

        def own_answer(error: ClientError) -> Exception | None:
            if is_condition_failed(error):
                return _ConditionFailed()
            if is_table_missing(error):
                return _TableMissing()
            if operation == "CreateTable" and is_table_being_created(error):
                return _TableBeingCreated()
            return None

        params.setdefault("TableName", OWNERSHIP_TABLE)
        return self._retried(operation, subject, params, own_answer)


class _ConditionFailed(Exception):
    pass


class _TableMissing(Exception):
    pass


class _TableBeingCreated(Exception):
    pass
