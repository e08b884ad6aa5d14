"""``make status [TARGET=<ARN> | NUMBER=<ID, ARN or E.164>] [FORMAT=json|csv]``: who owns what, and drift.

The operator's view, read-only. For every phone number in the Region (or listed on TARGET, or the one NUMBER)
it shows where the number is (its target ARN), its status (DescribePhoneNumber's PhoneNumberStatus), its
owner (stack and logical ID) from the ownership record (the DynamoDB table
``PhoneNumberAssignment-Ownership``: one Scan, or one GetItem for NUMBER) and from the number's
``PhoneNumberAssignment:*`` tags, whether CloudFormation still holds that owner (DescribeStackResource),
pending markers, cancelled tombstones, renames in progress, the stack of a native
``AWS::Connect::PhoneNumber`` (CloudFormation's ``aws:cloudformation:*`` tags) and the number's contact flow
(ListFlowAssociations). Stale owners and stuck markers are flagged with the one command that clears each;
this tool runs none of them.

Drift is judged against the owner's ASSIGNED record, which holds the TargetArn and ContactFlowArn of the
owner's last successful request: CloudFormation's drift detection does not cover custom resources, and no
CloudFormation API returns a custom resource's resolved properties (DescribeStackResource returns its status,
physical ID and Metadata only), so the record is the declaration that can be read. The exit status says
whether anything is flagged (EXIT_*), so that it can run on a schedule.

Calls, all reads: connect:ListPhoneNumbersV2 (for NUMBER in E.164 form, filtered by PhoneNumberPrefix),
connect:DescribePhoneNumber (one per number), connect:ListFlowAssociations (one listing per instance),
connect:DescribeTrafficDistributionGroup (only for a number whose listing names no instance), dynamodb:Scan
(dynamodb:GetItem for NUMBER), cloudformation:DescribeStackResource (once per stack resource named),
DescribeStacks (for a resource whose physical ID is now another number: is the replacement committed?),
DescribeStackResources (by the number's ARN: does a native resource hold it?) and DescribeStackEvents (for a
recorded owner that no longer holds the number: did its clean-up Delete fail?). Clients
are boto3's defaults (profile, credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_* variables) in TARGET's or
NUMBER's Region, or the configured Region, with the tools' Config (tools/endpoints.py: short timeouts, a fast
failure where nothing answers) and botocore's adaptive retry mode: every Connect operation's default quota
is 2 requests per second, so reading many numbers takes time, and a progress line on standard error says how
far it got.

Runs on the operator's machine, never in the Lambda: it lives outside provider/ and is not shipped. It needs
boto3 and PyYAML alone (tools/requirements.txt, installed by the Makefile into .venv-tools); the provider's
rules it judges by (records, tags, stacks) are imported, not copied.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TextIO

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from botocore.utils import ArnParser, InvalidArnException

# The provider's own rules, imported rather than re-typed (they import the standard library and boto3 only):
# the ownership table, its record's states, the tags it writes, and stacks.still_holds, "does CloudFormation
# still hold this stack resource", replacement-not-committed rule included.
from phone_number_assignment import pace, schema, stacks
from phone_number_assignment.errors import (
    OwnerNotChecked,
    ProviderError,
    error_code,
    says_stack_or_resource_missing,
)
from phone_number_assignment.records import OWNERSHIP_TABLE, UNSETTLED, State, is_request_key, is_resource_key
from phone_number_assignment.tags import TAG_PREFIX, Owner
from tools import endpoints
from tools.targets import NumberState, Target, UsageError, parse_target

TABLE_NAME = OWNERSHIP_TABLE
NATIVE_STACK_ID_TAG = stacks.STACK_ID_TAG
NATIVE_LOGICAL_ID_TAG = stacks.LOGICAL_ID_TAG
RELEASED_BY_STACK = stacks.RELEASED_BY_STACK
NATIVE_RESOURCE_TYPE = stacks.NATIVE_RESOURCE_TYPE
PENDING, MOVING, ASSIGNED, CANCELLED = State.PENDING, State.MOVING, State.ASSIGNED, State.CANCELLED
UNDOING, RELEASED = State.UNDOING, State.RELEASED
MARKERS = tuple(sorted(state.value for state in UNSETTLED))
# No Lambda invocation outlives Lambda's maximum timeout (900 s). A marker or tombstone younger than that may
# still belong to a running request (a cancelled Create keeps running after CloudFormation moved on), so it is
# never offered for deletion before then.
REQUEST_LIFETIME = timedelta(minutes=15)
PROGRESS_EVERY = 10

READ_ONLY_NOTICE = (
    "make status is read-only: it calls only ListPhoneNumbersV2, DescribePhoneNumber, ListFlowAssociations, "
    "DescribeTrafficDistributionGroup, dynamodb:Scan or GetItem and cloudformation:DescribeStackResource(s) "
    "and DescribeStacks."
)
TABLE_MISSING = "no ownership records yet (table not created)"
OUTPUT_VERSION = 1

# The exit status, for a schedule: clean, some part could not be read (so it cannot say "clean"), the
# command line was wrong (argparse's own 2), something is flagged.
EXIT_CLEAN, EXIT_UNCHECKED, EXIT_USAGE, EXIT_FLAGGED = 0, 1, 2, 3
# E.164: a '+', a country code that does not start with 0, at most 15 digits in all (ITU-T E.164).
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


# ---- what CloudFormation says -----------------------------------------------------------------------------


def stack_name(stack_id: str) -> str:
    """The name in a stack ID (arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>)."""
    parts = stack_id.split(":", 5)[-1].split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "stack" else stack_id


def owner_label(owner: Owner | None) -> str:
    if owner is None:
        return "?"
    return f"{owner.logical_id or '?'} in stack {stack_name(owner.stack_id)}"


def owner_json(owner: Owner) -> dict[str, str]:
    return {
        "stackId": owner.stack_id,
        "stackName": stack_name(owner.stack_id),
        "logicalResourceId": owner.logical_id,
    }


@dataclass(frozen=True)
class Holding:
    """Whether the owner's stack resource still holds the number: True, False (stale) or None (unknown)."""

    holds: bool | None
    resource_status: str | None
    detail: str

    @property
    def in_progress(self) -> bool:
        return bool(self.resource_status and self.resource_status.endswith("_IN_PROGRESS"))

    def as_json(self) -> dict[str, Any]:
        return {"holds": self.holds, "resourceStatus": self.resource_status, "detail": self.detail}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


class _RememberedReads:
    """CloudFormation's read-only answers, each asked once per run (many numbers name one stack), with what
    it raised raised again: the client stacks.still_holds asks through."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._answers: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[bool, Any]] = {}

    def _ask(self, operation: str, **params: Any) -> dict[str, Any]:
        key = (operation, tuple(sorted(params.items())))
        if key not in self._answers:
            try:
                self._answers[key] = (True, getattr(self._client, operation)(**params))
            except (ClientError, BotoCoreError) as error:
                self._answers[key] = (False, error)
        answered, answer = self._answers[key]
        if not answered:
            raise answer
        return answer

    def describe_stack_resource(self, **params: Any) -> dict[str, Any]:
        return self._ask("describe_stack_resource", **params)

    def describe_stack_resources(self, **params: Any) -> dict[str, Any]:
        return self._ask("describe_stack_resources", **params)

    def describe_stacks(self, **params: Any) -> dict[str, Any]:
        return self._ask("describe_stacks", **params)

    def get_paginator(self, operation_name: str) -> Any:
        return self._client.get_paginator(operation_name)  # pages are read once each: nothing to remember


class CloudFormationCheck:
    """Whether CloudFormation still holds a stack resource, judged by the provider's own rule
    (stacks.still_holds), each DescribeStackResource and DescribeStacks asked once."""

    def __init__(self, client: Any) -> None:
        self._client = _RememberedReads(client)
        self._events = client  # paged, and asked at most once per flagged number: not remembered

    def native_holder(self, number_arn: str, number_id: str) -> tuple[Owner, Holding] | None:
        """The AWS::Connect::PhoneNumber CloudFormation names for the number's ARN (DescribeStackResources by
        physical ID, filtered as the provider filters it), or None when no such resource has it."""
        try:
            answer = self._client.describe_stack_resources(PhysicalResourceId=number_arn)
        except ClientError as error:
            if _error_code(error) == "ValidationError" and "does not exist" in _error_message(error):
                return None
            code = _error_code(error) or type(error).__name__
            if code in ("AccessDenied", "AccessDeniedException"):
                return Owner("?", "?"), Holding(
                    None, None, "unknown (needs cloudformation:DescribeStackResources)"
                )
            return Owner("?", "?"), Holding(None, None, f"unknown (DescribeStackResources: {code})")
        except BotoCoreError as error:
            return Owner("?", "?"), Holding(
                None, None, f"unknown (DescribeStackResources: {type(error).__name__})"
            )
        resources = answer.get("StackResources") or []
        holders = [
            r
            for r in resources
            if (r.get("PhysicalResourceId") or "").lower() in (number_arn.lower(), number_id.lower())
        ]
        if not holders and len(resources) >= stacks.DESCRIBED_RESOURCES_LIMIT:
            # The answer stops at the first 100 resources: the rest are read as the provider reads them.
            try:
                holders = stacks.holders_beyond_the_first_100(
                    NumberState(number_arn, number_id),  # type: ignore[arg-type]
                    resources[0],
                    lambda: self._client,
                )
            except ProviderError:
                stack = resources[0].get("StackName") or resources[0].get("StackId") or "its stack"
                return Owner("?", "?"), Holding(
                    None,
                    None,
                    f"unknown ({stack} has more than 100 resources; needs cloudformation:ListStackResources "
                    "and cloudformation:DescribeStacks)",
                )
        natives = [r for r in holders if r.get("ResourceType") == NATIVE_RESOURCE_TYPE]
        if not natives:
            return None
        natives.sort(key=lambda r: r.get("ResourceStatus") in RELEASED_BY_STACK)
        status = natives[0].get("ResourceStatus") or None
        owner = Owner(natives[0].get("StackId") or "", natives[0].get("LogicalResourceId") or "")
        if status in RELEASED_BY_STACK:
            return owner, Holding(False, status, f"stale: {status}")
        return owner, Holding(True, status, f"holds ({status or 'status unknown'})")

    def failed_clean_up_delete(self, owner: Owner, number_arn: str) -> str | None:
        """The clean-up phase (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS or
        UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS) in which the owner's stack recorded DELETE_FAILED for
        this number (DescribeStackEvents, newest first): CloudFormation skips a Delete that keeps failing
        there and completes the stack, so nothing will send it again. None when its events show no such
        failure (or cannot be read)."""
        failed = False
        try:
            pages = self._events.get_paginator("describe_stack_events").paginate(StackName=owner.stack_id)
            for page in pages:
                for event in page.get("StackEvents") or []:
                    own = event.get("PhysicalResourceId") == owner.stack_id
                    if not failed:
                        failed = (
                            event.get("LogicalResourceId") == owner.logical_id
                            and (event.get("PhysicalResourceId") or "").lower() == number_arn.lower()
                            and event.get("ResourceStatus") == "DELETE_FAILED"
                        )
                    elif own and str(event.get("ResourceStatus", "")).endswith("_CLEANUP_IN_PROGRESS"):
                        return str(event["ResourceStatus"])
                    elif own:
                        return None
        except (ClientError, BotoCoreError):
            return None
        return None

    def holding(self, owner: Owner, number_arn: str, number_id: str) -> Holding:
        if not owner.stack_id or not owner.logical_id:
            return Holding(False, None, "stale: the record names no stack resource")
        try:
            holds = stacks.still_holds(owner, NumberState(number_arn, number_id), lambda: self._client)  # type: ignore[arg-type]
        except OwnerNotChecked:
            holds = None
        try:
            answer = self._client.describe_stack_resource(
                StackName=owner.stack_id, LogicalResourceId=owner.logical_id
            )
            resource = answer.get("StackResourceDetail") or {}
        except ClientError as error:
            if says_stack_or_resource_missing(error):
                return Holding(False, None, "stale: the stack or its logical ID no longer exists")
            return _unknown("DescribeStackResource", error_code(error))
        except BotoCoreError as error:
            return _unknown("DescribeStackResource", type(error).__name__)
        status = resource.get("ResourceStatus") or None
        physical_id = resource.get("PhysicalResourceId") or ""
        # A custom resource's physical ID is the number's ARN (the provider answers with it); a native
        # AWS::Connect::PhoneNumber's too. A Create still in progress has none yet.
        replaced = bool(physical_id) and physical_id.lower() not in (number_arn.lower(), number_id.lower())
        if holds is None:
            # still_holds could not read the stack's status, which decides a replacement.
            return _unknown("DescribeStacks", self._stack_error(owner.stack_id))
        if not holds:
            if status in RELEASED_BY_STACK:
                return Holding(False, status, f"stale: {status}")
            if replaced:
                return Holding(False, status, f"stale: its physical ID is {physical_id}, not this number")
            return Holding(False, status, "stale: the stack no longer exists")
        if replaced:
            # The update that replaced it can still roll back to this number
            # (stacks.REPLACEMENT_NOT_COMMITTED).
            return Holding(True, status, f"holds (replacement not committed: {physical_id} is the new one)")
        return Holding(True, status, f"holds ({status or 'status unknown'})")

    def _stack_error(self, stack_id: str) -> str:
        try:
            self._client.describe_stacks(StackName=stack_id)
        except ClientError as error:
            return error_code(error)
        except BotoCoreError as error:
            return type(error).__name__
        return "no answer"


def _unknown(operation: str, code: str) -> Holding:
    if code in ("AccessDenied", "AccessDeniedException"):
        return Holding(None, None, f"unknown (needs cloudformation:{operation})")
    return Holding(None, None, f"unknown ({operation}: {code})")


# ---- one number ------------------------------------------------------------------------------------------


@dataclass
class Flag:
    code: str
    message: str
    commands: list[str] = field(default_factory=list)
    advice: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "advice": self.advice, "commands": self.commands}


@dataclass
class NumberView:
    arn: str
    id: str
    phone_number: str = ""
    target_arn: str | None = None
    instance_id: str | None = None
    status: str = "UNKNOWN"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] | None = None
    owner: Owner | None = None
    owner_source: str | None = None
    holding: Holding | None = None
    rename: dict[str, Any] | None = None
    native: dict[str, Any] | None = None
    contact_flow_arn: str | None = None
    # Whether ListFlowAssociations answered for the number's instance: a missing association then means none.
    flows_known: bool = False
    flags: list[Flag] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.phone_number or self.id

    @property
    def marker(self) -> str | None:
        state = (self.record or {}).get("State")
        return state if state in (*MARKERS, CANCELLED) else None

    @property
    def provider_tags(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if k.startswith(TAG_PREFIX)}

    @property
    def tag_owner(self) -> Owner | None:
        return Owner.from_tags(self.tags)

    def as_json(self) -> dict[str, Any]:
        return {
            "phoneNumber": self.phone_number or None,
            "phoneNumberId": self.id,
            "phoneNumberArn": self.arn,
            "targetArn": self.target_arn,
            "status": self.status,
            "statusMessage": self.status_message,
            "owner": None if self.owner is None else {**owner_json(self.owner), "source": self.owner_source},
            "cloudFormation": None if self.holding is None else self.holding.as_json(),
            "marker": self.marker,
            "record": self.record,
            "tags": self.provider_tags,
            "rename": self.rename,
            "nativeStack": self.native,
            "contactFlowArn": self.contact_flow_arn,
            "flags": [flag.as_json() for flag in self.flags],
        }


@dataclass
class Status:
    region: str
    target: Target | None
    number: str | None = None
    table_state: str = "present"  # present | missing | unreadable
    table_message: str | None = None
    numbers: list[NumberView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        owned = [n for n in self.numbers if n.owner is not None]
        return {
            "numbers": len(self.numbers),
            "owned": len(owned),
            "stale": sum(1 for n in owned if n.holding is not None and n.holding.holds is False),
            "pending": sum(1 for n in self.numbers if n.marker in MARKERS),
            "flagged": sum(1 for n in self.numbers if n.flags),
        }

    def unchecked(self) -> list[str]:
        """What could not be read, so that "nothing flagged" cannot be read as "clean"."""
        reasons = []
        if self.table_state == "unreadable" and self.table_message:
            reasons.append(self.table_message)
        reasons.extend(self.notes)
        unknown = [n for n in self.numbers if n.holding is not None and n.holding.holds is None]
        if unknown:
            reasons.append(
                f"whether CloudFormation still holds the owner of {len(unknown)} number"
                f"{'s' if len(unknown) != 1 else ''} ({unknown[0].holding.detail})"  # type: ignore[union-attr]
            )
        return reasons

    def exit_status(self) -> int:
        if any(n.flags for n in self.numbers):
            return EXIT_FLAGGED
        return EXIT_UNCHECKED if self.unchecked() else EXIT_CLEAN

    def as_json(self) -> dict[str, Any]:
        return {
            "version": OUTPUT_VERSION,
            "region": self.region,
            "target": None if self.target is None else self.target.arn,
            "number": self.number,
            "ownershipTable": {"name": TABLE_NAME, "state": self.table_state, "message": self.table_message},
            "numbers": [number.as_json() for number in self.numbers],
            "notes": self.notes,
            "unchecked": self.unchecked(),
            "summary": self.summary(),
        }


# ---- the commands that clear a flag ----------------------------------------------------------------------


def _json_arg(value: Any) -> str:
    return shlex.quote(json.dumps(value, separators=(",", ":")))


def release_record_command(record: Mapping[str, Any], region: str) -> str:
    """``aws dynamodb update-item`` marking exactly this record RELEASED, as a provider write would (Version
    + 1), conditioned on the Version read (every provider write increments it) and on the owner and State
    seen, so it changes nothing that changed since. The record is kept, not deleted: its RequestId and
    RequestedAt still refuse a late delivery of the old owner's requests (the provider's order rule,
    ownership.py), which a deleted record would let take the number again."""
    key = {"PhoneNumberArn": {"S": record["PhoneNumberArn"]}}
    names = {"#v": "Version", "#st": "State", "#sid": "StackId", "#lid": "LogicalResourceId"}
    values = {
        ":v": {"N": str(record.get("Version", 0))},
        ":st": {"S": str(record.get("State", ""))},
        ":sid": {"S": str(record.get("StackId", ""))},
        ":lid": {"S": str(record.get("LogicalResourceId", ""))},
        ":released": {"S": RELEASED},
        ":one": {"N": "1"},
    }
    return (
        f"aws dynamodb update-item --region {region} --table-name {TABLE_NAME} --key {_json_arg(key)} "
        "--update-expression 'SET #st = :released, #v = #v + :one' "
        "--condition-expression '#v = :v AND #st = :st AND #sid = :sid AND #lid = :lid' "
        f"--expression-attribute-names {_json_arg(names)} --expression-attribute-values {_json_arg(values)}"
    )


def clear_predecessor_command(record: Mapping[str, Any], region: str) -> str:
    """``aws dynamodb update-item`` removing a left-over Predecessor, as a provider write would (Version + 1,
    conditioned on the Version read)."""
    key = {"PhoneNumberArn": {"S": record["PhoneNumberArn"]}}
    names = {"#p": "Predecessor", "#v": "Version"}
    values = {":v": {"N": str(record.get("Version", 0))}, ":one": {"N": "1"}}
    return (
        f"aws dynamodb update-item --region {region} --table-name {TABLE_NAME} --key {_json_arg(key)} "
        "--update-expression 'REMOVE #p SET #v = #v + :one' --condition-expression '#v = :v' "
        f"--expression-attribute-names {_json_arg(names)} --expression-attribute-values {_json_arg(values)}"
    )


def put_back_commands(record: Mapping[str, Any], number_arn: str, region: str) -> list[str]:
    """``aws connect`` moving the number back to its record's PreviousTargetArn and associating the flow
    it had there, as the provider puts a number back (a move drops the flow)."""
    previous = str(record.get("PreviousTargetArn") or "<where it was>")
    commands = [
        f"aws connect update-phone-number --region {region} --phone-number-id {number_arn} "
        f"--target-arn {previous}"
    ]
    flow = str(record.get("PreviousContactFlowArn") or "")
    instance = flow.split(":instance/", 1)[1].split("/", 1)[0] if ":instance/" in flow else ""
    if instance:
        commands.append(
            f"aws connect associate-phone-number-contact-flow --region {region} --phone-number-id "
            f"{number_arn} --instance-id {instance} --contact-flow-id {flow.rsplit('/', 1)[-1]}"
        )
    return commands


def untag_command(number: NumberView, region: str) -> str:
    """``aws connect untag-resource`` of the provider's own keys on the number, never anyone else's tags."""
    keys = " ".join(shlex.quote(key) for key in sorted(number.provider_tags))
    return f"aws connect untag-resource --region {region} --resource-arn {number.arn} --tag-keys {keys}"


# ---- reading ---------------------------------------------------------------------------------------------


@functools.cache
def _session() -> Any:
    # One per process, as in the provider (clients.py): a new Session loads botocore's models again (about
    # 0.15 s of CPU each), which the tests, running the tool many times in one process, would pay every run.
    return boto3.session.Session()


@dataclass
class Clients:
    connect: Any
    dynamodb: Any
    cloudformation: Any

    @classmethod
    def for_region(cls, region: str) -> Clients:
        return cls(
            *(
                endpoints.client(_session(), service, region)
                for service in ("connect", "dynamodb", "cloudformation")
            )
        )


def _plain(value: Any) -> Any:
    """A deserialized DynamoDB value as JSON-friendly Python (numbers are Decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(v) for v in value]
    return value


def read_records(client: Any, status: Status) -> dict[str, dict[str, Any]]:
    """Every ownership record, by lower-cased phone-number ARN: one consistent Scan, every page."""
    deserializer = TypeDeserializer()
    records: dict[str, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("scan").paginate(TableName=TABLE_NAME, ConsistentRead=True):
            for item in page.get("Items", []):
                record = _plain({k: deserializer.deserialize(v) for k, v in item.items()})
                key = str(record.get("PhoneNumberArn", ""))
                if pace.is_pace_key(key) or is_resource_key(key) or is_request_key(key):
                    # The shared pace's items, the resources' stamps and the answer markers of continued
                    # requests (continuation.py): not a number's record.
                    continue
                records[key.lower()] = record
    except ClientError as error:
        code = _error_code(error)
        if code == "ResourceNotFoundException":
            status.table_state, status.table_message = "missing", TABLE_MISSING
        elif code in ("AccessDenied", "AccessDeniedException"):
            status.table_state = "unreadable"
            status.table_message = "ownership records unknown (needs dynamodb:Scan on the table)"
        else:
            raise
    return records


def _list_numbers(client: Any, target: Target | None) -> list[dict[str, Any]]:
    listing: dict[str, Any] = {"TargetArn": target.arn} if target else {}
    summaries = []
    for page in client.get_paginator("list_phone_numbers_v2").paginate(**listing):
        summaries.extend(page.get("ListPhoneNumbersSummaryList", []))
    return summaries


def _relevant(record: Mapping[str, Any], target: Target | None) -> bool:
    """Without TARGET every record; with it, the records whose request moves a number to or from TARGET."""
    if target is None:
        return True
    arns = {str(record.get("TargetArn", "")).lower(), str(record.get("PreviousTargetArn", "")).lower()}
    return target.arn.lower() in arns


def _describe(client: Any, view: NumberView) -> None:
    try:
        described = client.describe_phone_number(PhoneNumberId=view.arn)["ClaimedPhoneNumberSummary"]
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            view.status = "NOT_FOUND"
            return
        raise
    _fill(view, described)


def _fill(view: NumberView, described: Mapping[str, Any]) -> None:
    view.phone_number = described.get("PhoneNumber", view.phone_number)
    view.target_arn = described.get("TargetArn")
    view.instance_id = described.get("InstanceId") or view.instance_id
    number_status = described.get("PhoneNumberStatus") or {}
    view.status = number_status.get("Status", "UNKNOWN")
    view.status_message = number_status.get("Message")
    view.tags = dict(described.get("Tags") or {})


def _instance_of(client: Any, view: NumberView, homes: dict[str, str | None]) -> str | None:
    """The instance whose flow associations name the number: its own, or its traffic distribution group's."""
    if view.instance_id:
        return view.instance_id
    target = (view.target_arn or "").lower()
    if ":instance/" in target:
        return target.rsplit("/", 1)[-1]
    if ":traffic-distribution-group/" in target:
        if target not in homes:
            try:
                group = client.describe_traffic_distribution_group(TrafficDistributionGroupId=view.target_arn)
                homes[target] = group["TrafficDistributionGroup"]["InstanceArn"].rsplit("/", 1)[-1]
            except ClientError:
                homes[target] = None
        return homes[target]
    return None


def _flows(
    client: Any, instance_ids: Iterable[str], arn_prefix: str, status: Status, read: set[str] | None = None
) -> dict[str, str]:
    """Phone-number ID -> contact flow ARN, from ListFlowAssociations in each instance; ``read`` collects
    the instances that answered.

    ``arn_prefix`` (``arn:<partition>:connect:<region>:<account>``) makes an ARN of a flow given by its ID.
    """
    flows: dict[str, str] = {}
    for instance_id in sorted(set(instance_ids)):
        try:
            # InstanceId is the instance's ID: the ARN is not accepted here.
            pages = client.get_paginator("list_flow_associations").paginate(
                InstanceId=instance_id, ResourceType="VOICE_PHONE_NUMBER"
            )
            for page in pages:
                for association in page.get("FlowAssociationSummaryList", []):
                    number_id = association["ResourceId"].rsplit("/", 1)[-1].lower()
                    flow = association["FlowId"]
                    if not flow.startswith("arn:"):
                        flow = f"{arn_prefix}:instance/{instance_id}/contact-flow/{flow}"
                    flows[number_id] = flow
            if read is not None:
                read.add(instance_id)
        except ClientError as error:
            status.notes.append(
                f"contact flows of instance {instance_id} unknown ({_error_code(error)}: needs "
                f"connect:{error.operation_name})"
            )
    return flows


def collect(
    clients: Clients, region: str, target: Target | None, progress: TextIO, now: datetime | None = None
) -> Status:
    status = Status(region, target)
    summaries = _list_numbers(clients.connect, target)
    records = read_records(clients.dynamodb, status)
    views: dict[str, NumberView] = {}
    for summary in summaries:
        arn = summary["PhoneNumberArn"]
        views[arn.lower()] = NumberView(
            arn,
            summary["PhoneNumberId"].lower(),
            summary.get("PhoneNumber", ""),
            instance_id=summary.get("InstanceId"),
        )
    for key, record in records.items():
        # A RELEASED record of a number not listed is nobody's and nothing to look at (records are kept).
        if key not in views and _relevant(record, target) and record.get("State") != RELEASED:
            arn = str(record.get("PhoneNumberArn", ""))
            views[key] = NumberView(arn, arn.rsplit("/", 1)[-1].lower())
    total = len(views)
    for count, view in enumerate(views.values(), start=1):
        _describe(clients.connect, view)
        view.record = records.get(view.arn.lower())
        if total >= PROGRESS_EVERY and (count % PROGRESS_EVERY == 0 or count == total):
            print(f"read {count}/{total} numbers…", file=progress, flush=True)
    homes: dict[str, str | None] = {}
    instances = {
        v.arn: _instance_of(clients.connect, v, homes) for v in views.values() if v.status != "NOT_FOUND"
    }
    _finish(clients, status, views, instances, region, now)
    return status


def _finish(
    clients: Clients,
    status: Status,
    views: Mapping[str, NumberView],
    instances: Mapping[str, str | None],
    region: str,
    now: datetime | None,
) -> None:
    """Flows, owners and flags of the numbers read."""
    arn_prefix = next(iter(views)).split(":phone-number/")[0] if views else ""
    read: set[str] = set()
    flows = _flows(clients.connect, (i for i in instances.values() if i), arn_prefix, status, read)
    check = CloudFormationCheck(clients.cloudformation)
    for view in views.values():
        view.contact_flow_arn = flows.get(view.id)
        view.flows_known = instances.get(view.arn) in read
        judge(view, check, region, now or datetime.now(UTC))
    status.numbers = sorted(views.values(), key=lambda v: (v.phone_number or "~", v.id))


# ---- one number (NUMBER=) --------------------------------------------------------------------------------


class NumberNotFound(Exception):
    """NUMBER names no number in this account and Region, and no ownership record."""


@dataclass(frozen=True)
class NumberQuery:
    value: str
    kind: str  # "arn", "id" or "e164"
    region: str | None = None


def parse_number(value: str) -> NumberQuery:
    """NUMBER=: the number's ID, its ARN or its E.164 form, checked before any call."""
    text = value.strip()
    if E164.fullmatch(text):
        return NumberQuery(text, "e164")
    if schema.UUID_PATTERN.fullmatch(text):
        return NumberQuery(text.lower(), "id")
    try:
        arn = ArnParser().parse_arn(text) if text.startswith("arn:") else None
    except InvalidArnException:
        arn = None
    if arn is not None and arn["service"] == "connect":
        match = schema.PHONE_NUMBER_RESOURCE.fullmatch(arn["resource"])
        if match:
            normalised = text.rsplit("/", 1)[0] + "/" + match["id"].lower()
            return NumberQuery(normalised, "arn", arn["region"])
    raise UsageError(
        "NUMBER must be a phone number's ID, its phone-number ARN or its E.164 form (+12065550100); "
        f"got {value!r}."
    )


def read_record(client: Any, arn: str, status: Status) -> dict[str, Any] | None:
    """The number's ownership record: one consistent GetItem, no Scan."""
    try:
        item = client.get_item(TableName=TABLE_NAME, Key={"PhoneNumberArn": {"S": arn}}, ConsistentRead=True)
    except ClientError as error:
        code = _error_code(error)
        if code == "ResourceNotFoundException":
            status.table_state, status.table_message = "missing", TABLE_MISSING
            return None
        if code in ("AccessDenied", "AccessDeniedException"):
            status.table_state = "unreadable"
            status.table_message = "ownership record unknown (needs dynamodb:GetItem on the table)"
            return None
        raise
    deserializer = TypeDeserializer()
    found = item.get("Item")
    return _plain({k: deserializer.deserialize(v) for k, v in found.items()}) if found else None


def _find(client: Any, query: NumberQuery, region: str) -> list[NumberView]:
    if query.kind == "e164":
        # PhoneNumberPrefix narrows the listing to this number (and any longer one it prefixes) server-side.
        views = {}
        for page in client.get_paginator("list_phone_numbers_v2").paginate(PhoneNumberPrefix=query.value):
            for summary in page.get("ListPhoneNumbersSummaryList", []):
                if summary.get("PhoneNumber") == query.value:
                    views[summary["PhoneNumberArn"].lower()] = NumberView(
                        summary["PhoneNumberArn"],
                        summary["PhoneNumberId"].lower(),
                        summary.get("PhoneNumber", ""),
                        instance_id=summary.get("InstanceId"),
                    )
        if not views:
            raise NumberNotFound(f"no phone number {query.value} is claimed in this account and {region}")
        return list(views.values())
    if query.kind == "arn":
        return [NumberView(query.value, query.value.rsplit("/", 1)[-1])]
    try:
        described = client.describe_phone_number(PhoneNumberId=query.value)["ClaimedPhoneNumberSummary"]
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            raise NumberNotFound(
                f"no phone number with ID {query.value} in this account and {region} (give its ARN to look "
                "for an ownership record of a released number)"
            ) from None
        raise
    view = NumberView(described["PhoneNumberArn"], described["PhoneNumberId"].lower())
    _fill(view, described)
    return [view]


def collect_one(
    clients: Clients, region: str, query: NumberQuery, progress: TextIO, now: datetime | None = None
) -> Status:
    """One number: DescribePhoneNumber (or a listing filtered to its E.164 form), its record by GetItem, the
    flow associations of its own instance, its owner's stack resource. Nothing else in the Region is read."""
    status = Status(region, None, number=query.value)
    views = {view.arn.lower(): view for view in _find(clients.connect, query, region)}
    for view in views.values():
        if view.status == "UNKNOWN":
            _describe(clients.connect, view)
        view.record = read_record(clients.dynamodb, view.arn, status)
    if all(view.status == "NOT_FOUND" and view.record is None for view in views.values()):
        raise NumberNotFound(
            f"no phone number {query.value} in this account and {region}, and no ownership record"
        )
    homes: dict[str, str | None] = {}
    instances = {
        v.arn: _instance_of(clients.connect, v, homes) for v in views.values() if v.status != "NOT_FOUND"
    }
    # The flow comes from ListFlowAssociations of the number's own instance (every page of that one
    # instance), as for the whole view. BatchGetFlowAssociation would name the number alone, but its model
    # documents ResourceIds only for SMS and WhatsApp numbers, so it is not relied on for a voice number.
    _finish(clients, status, views, instances, region, now)
    return status


# ---- judging ---------------------------------------------------------------------------------------------


def _age(record: Mapping[str, Any], field_name: str, now: datetime) -> timedelta | None:
    try:
        written = datetime.fromisoformat(str(record[field_name]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    return now - written


def _may_be_running(record: Mapping[str, Any], field_name: str, now: datetime) -> bool:
    age = _age(record, field_name, now)
    return age is not None and age < REQUEST_LIFETIME


def judge(view: NumberView, check: CloudFormationCheck, region: str, now: datetime) -> None:
    """Owner, CloudFormation's verdict and flags for one number, from its record and tags."""
    record = view.record
    state = (record or {}).get("State")
    tag_owner = view.tag_owner
    if record is not None and state in (*MARKERS, ASSIGNED):
        view.owner = Owner(str(record.get("StackId", "")), str(record.get("LogicalResourceId", "")))
        view.owner_source = "record"
    elif tag_owner is not None:
        view.owner, view.owner_source = tag_owner, "tags"
    if view.owner is not None:
        view.holding = check.holding(view.owner, view.arn, view.id)

    _native(view, check)

    if record is not None and view.status == "NOT_FOUND":
        view.flags.append(
            Flag(
                "record-without-number",
                f"an ownership record names {view.arn}, which is not in this account and Region (released?)",
                [release_record_command(record, region)],
            )
        )
        return

    if record is not None and state == CANCELLED:
        _tombstone(view, record, region, now)
    if record is not None and isinstance(record.get("Predecessor"), Mapping):
        _rename(view, record, check, region)

    if view.owner is not None and view.holding is not None and view.holding.holds is False:
        _stale(view, record, region, now, check)
    elif (
        state in MARKERS and view.holding is not None and view.holding.holds and not view.holding.in_progress
    ):
        view.flags.append(
            Flag(
                f"{state.lower()}-after-request",
                f"{state} marker of {owner_label(view.owner)}, whose request has ended "
                f"({view.holding.resource_status}) while CloudFormation still holds the number",
                advice=(
                    "Do not delete the record: the stack still declares the number. Update or roll back that "
                    "stack; the provider settles the marker on its next request for the resource."
                ),
            )
        )
    _tags_agreement(view, record, check, region)
    _drift(view, region)


def _flow_key(flow: str) -> tuple[str | None, str]:
    """(instance ID or None, flow ID) of a flow named by its ARN or by its ID alone, lower-cased."""
    resource = flow.split(":", 5)[5] if flow.startswith("arn:") and flow.count(":") >= 5 else flow
    match = schema.CONTACT_FLOW_RESOURCE.fullmatch(resource)
    if match:
        return match["instance_id"].lower(), match["id"].lower()
    return None, resource.rsplit("/", 1)[-1].lower()


def same_flow(declared: str, actual: str | None) -> bool:
    """Whether two flow identifiers name one flow: ARN or ID, in any case (an ID alone matches the flow of
    that ID in any instance: the listing it came from is the number's instance)."""
    if not actual:
        return False
    (declared_instance, declared_id), (actual_instance, actual_id) = _flow_key(declared), _flow_key(actual)
    if declared_id != actual_id:
        return False
    return declared_instance is None or actual_instance is None or declared_instance == actual_instance


def _drift(view: NumberView, region: str) -> None:
    """Where the number is and how it routes, against what its owner declared (the ASSIGNED record: the
    provider writes the declared TargetArn and ContactFlowArn there when a request succeeds)."""
    owner = owner_label(view.owner)
    if view.status == "FAILED":
        view.flags.append(
            Flag(
                "failed",
                f"Connect shows the number FAILED ({view.status_message or 'no message'}): the last "
                f"operation on it did not complete; it is on {view.target_arn or 'an unknown target'}",
                advice=(
                    f"Update the owning stack resource ({owner}) to apply its declaration again"
                    if view.owner is not None
                    else "No stack owns it: put it where it belongs (aws connect update-phone-number)"
                ),
            )
        )
    record = view.record
    if record is None or record.get("State") != ASSIGNED or view.status == "NOT_FOUND":
        return
    if view.owner_source != "record" or (view.holding is not None and view.holding.holds is False):
        return  # an owner CloudFormation no longer holds declares nothing: flagged stale already
    declared_target = str(record.get("TargetArn") or "")
    if declared_target and view.target_arn and declared_target.lower() != view.target_arn.lower():
        # The declared flow is in the declared target's instance: the number cannot route to it from
        # elsewhere, so the flow is not judged separately.
        declared_flow = str(record.get("ContactFlowArn") or "")
        move_back = (
            f"aws connect update-phone-number --region {region} --phone-number-id {view.arn} "
            f"--target-arn {declared_target}"
        )
        # A move leaves the number with no flow (Connect drops the association), so putting it back is two
        # steps: the move, then, once it has ended, the declared flow.
        if declared_flow:
            instance_id, flow_id = _flow_key(declared_flow)
            then = (
                "; once DescribePhoneNumber shows it CLAIMED there, route it to the declared "
                "flow (until then calls reach no flow): aws connect associate-phone-number-contact-flow "
                f"--region {region} --phone-number-id {view.arn} "
                f"--instance-id {instance_id or '<instance ID>'} --contact-flow-id {flow_id}"
            )
        else:
            then = f" ({owner} declares no ContactFlowArn: it arrives routed to no flow, as declared)"
        view.flags.append(
            Flag(
                "not-on-declared-target",
                f"{owner} declares TargetArn {declared_target}, but the number is on {view.target_arn} "
                "(moved outside the stack)",
                advice=(
                    f"The next update of {owner} moves it back to {declared_target}"
                    f"{' and routes it to its declared flow' if declared_flow else ''}. If it should "
                    f"stay (an emergency move), change that resource's TargetArn to {view.target_arn} first; "
                    f"to move it back now: {move_back}{then}"
                ),
            )
        )
        return
    declared_flow = str(record.get("ContactFlowArn") or "")
    if declared_flow and view.flows_known and not same_flow(declared_flow, view.contact_flow_arn):
        instance_id, flow_id = _flow_key(declared_flow)
        view.flags.append(
            Flag(
                "not-on-declared-flow",
                f"{owner} declares ContactFlowArn {declared_flow}, but the number routes to "
                f"{view.contact_flow_arn or 'no flow'} (changed outside the stack)",
                advice=(
                    f"The next update of {owner} associates the declared flow again. If the change "
                    "should stay, change that resource's ContactFlowArn first; to restore the declared flow "
                    f"now: aws connect associate-phone-number-contact-flow --region {region} "
                    f"--phone-number-id {view.arn} --instance-id {instance_id or '<instance ID>'} "
                    f"--contact-flow-id {flow_id}"
                ),
            )
        )


def _stale(
    view: NumberView,
    record: dict[str, Any] | None,
    region: str,
    now: datetime,
    check: CloudFormationCheck | None = None,
) -> None:
    owner = view.owner
    assert owner is not None
    assert view.holding is not None
    state = (record or {}).get("State")
    commands = []
    if view.owner_source == "record" and record is not None:
        commands.append(release_record_command(record, region))
    if view.tag_owner == owner:
        commands.append(untag_command(view, region))
    why = view.holding.detail.removeprefix("stale: ")
    if state in MARKERS:
        if _may_be_running(record or {}, "UpdatedAt", now):
            view.flags.append(
                Flag(
                    f"{state.lower()}-owner-gone",
                    f"{state} marker of {owner_label(owner)}, which CloudFormation no longer holds ({why}), "
                    f"written at {(record or {}).get('UpdatedAt')}: its request may still be running",
                    advice=f"Run make status again after {_after(record or {}, 'UpdatedAt')}.",
                )
            )
            return
        advice = None
        if state == MOVING:
            advice = (
                f"A move may have been started for that request. First wait for the move to finish "
                f"(DescribePhoneNumber shows it CLAIMED; now {view.status} on {view.target_arn}), then put "
                "the number where it belongs (to undo the move: aws connect update-phone-number "
                f"--region {region} --phone-number-id {view.arn} --target-arn "
                f"{(record or {}).get('PreviousTargetArn', '<where it was>')}); only then clear the marker:"
            )
        view.flags.append(
            Flag(
                f"stuck-{state.lower()}",
                f"{state} marker of {owner_label(owner)}, a request that never succeeded and that "
                f"CloudFormation no longer holds ({why})",
                commands,
                advice,
            )
        )
        return
    phase = None
    if view.owner_source == "record" and record is not None and state == ASSIGNED:
        phase = check.failed_clean_up_delete(owner, view.arn) if check is not None else None
    if phase is not None:
        rollback = phase.startswith("UPDATE_ROLLBACK")
        view.flags.append(
            Flag(
                "clean-up-delete-failed",
                f"the Delete CloudFormation sent {owner_label(owner)} for this number failed in {phase}, and "
                "CloudFormation skipped it (it does not retry a clean-up Delete for long): nothing will "
                f"send it again, and the number stays on {view.target_arn or '?'}",
                ([*put_back_commands(record or {}, view.arn, region)] if rollback else []) + commands,
                (
                    "The stack rolled back: put the number back where it was, routed as it was, then clear "
                    "the record and tags:"
                    if rollback
                    else "The update completed: with OnDelete: Retain (the default) clearing the record and "
                    "tags is all the Delete would have done; with OnDelete: Restore first move it back "
                    f"({put_back_commands(record or {}, view.arn, region)[0]}):"
                ),
            )
        )
        return
    view.flags.append(
        Flag(
            "stale-owner",
            f"owned by {owner_label(owner)}, which CloudFormation no longer holds ({why}); the provider lets "
            "another stack take the number",
            commands,
            "Clearing it only tidies the view and the console: no stack needs it.",
        )
    )


def _after(record: Mapping[str, Any], field_name: str) -> str:
    try:
        written = datetime.fromisoformat(str(record[field_name]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "a while"
    return (written + REQUEST_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tombstone(view: NumberView, record: dict[str, Any], region: str, now: datetime) -> None:
    owner = Owner(str(record.get("StackId", "")), str(record.get("LogicalResourceId", "")))
    if _may_be_running(record, "CancelledAt", now):
        return  # the cancelled Create may still be running: the tombstone is what stops it
    view.flags.append(
        Flag(
            "cancelled-tombstone",
            f"cancelled Create of {owner_label(owner)} (tombstone since {record.get('CancelledAt', '?')}); "
            "no request can still be running for it",
            [release_record_command(record, region)],
            "Harmless: it only tidies the table.",
        )
    )


def _rename(view: NumberView, record: dict[str, Any], check: CloudFormationCheck, region: str) -> None:
    predecessor = record["Predecessor"]
    old = Owner(str(predecessor.get("StackId", "")), str(predecessor.get("LogicalResourceId", "")))
    holding = check.holding(old, view.arn, view.id)
    view.rename = {"from": owner_json(old), "cloudFormation": holding.as_json()}
    if holding.holds is False:
        view.flags.append(
            Flag(
                "stale-predecessor",
                f"rename from {owner_label(old)} left behind: CloudFormation no longer holds the old "
                "resource "
                f"({holding.detail.removeprefix('stale: ')}), but the record still names it",
                [clear_predecessor_command(record, region)],
            )
        )


def _native(view: NumberView, check: CloudFormationCheck) -> None:
    stack_id = view.tags.get(NATIVE_STACK_ID_TAG)
    if not stack_id:
        # Numbers an AWS::Connect::PhoneNumber claimed carry no aws: tags (Connect refuses them): ask
        # CloudFormation which stack resource has the number's ARN as its physical ID.
        found = check.native_holder(view.arn, view.id)
        if found is not None:
            native, holding = found
            view.native = {**owner_json(native), "cloudFormation": holding.as_json()}
        return
    native = Owner(stack_id, view.tags.get(NATIVE_LOGICAL_ID_TAG, ""))
    holding = check.holding(native, view.arn, view.id)
    view.native = {**owner_json(native), "cloudFormation": holding.as_json()}


def _tags_agreement(
    view: NumberView, record: dict[str, Any] | None, check: CloudFormationCheck, region: str
) -> None:
    tag_owner = view.tag_owner
    state = (record or {}).get("State")
    if record is None or state not in (*MARKERS, ASSIGNED):
        # A tags-only owner CloudFormation no longer holds is flagged stale-owner already.
        stale = view.holding is not None and view.holding.holds is False
        if tag_owner is not None and view.owner_source == "tags" and not stale:
            view.flags.append(
                Flag(
                    "tags-without-record",
                    f"tagged as owned by {owner_label(tag_owner)} but no live ownership record names it "
                    "(table lost, or the record deleted); the provider treats the tagged stack resource "
                    "as the owner",
                )
            )
        return
    assert view.owner is not None
    if tag_owner is None:
        if state == ASSIGNED:
            view.flags.append(
                Flag(
                    "record-without-tags",
                    f"the record says {owner_label(view.owner)} owns it, but the number carries no "
                    "provider tags "
                    "(removed by hand, or the tag write did not happen); the record decides ownership",
                )
            )
        return
    predecessor = record.get("Predecessor")
    renamed_from = (
        Owner(str(predecessor.get("StackId", "")), str(predecessor.get("LogicalResourceId", "")))
        if isinstance(predecessor, Mapping)
        else None
    )
    # Tags are written once a request succeeded: until then (a marker) they still name the previous owner, and
    # during a rename the old logical ID; neither is a disagreement.
    if state == ASSIGNED and tag_owner not in (view.owner, renamed_from):
        holding = check.holding(tag_owner, view.arn, view.id)
        flag = Flag(
            "tags-disagree",
            f"the record says {owner_label(view.owner)} ({state}), the tags say {owner_label(tag_owner)}; "
            "the record decides",
        )
        if holding.holds is False:
            flag.advice = "The tags name a stack resource CloudFormation no longer holds: remove them."
            flag.commands.append(untag_command(view, region))
        view.flags.append(flag)


# ---- output ----------------------------------------------------------------------------------------------

COLUMNS = ("NUMBER", "STATUS", "TARGET", "OWNER", "CLOUDFORMATION", "CONTACT FLOW", "NOTES")


def _resource(arn: str | None) -> str:
    """The resource part of an ARN (instance/<id>, …): the Region and account are the same for every row."""
    if not arn:
        return "-"
    return arn.split(":", 5)[5] if arn.startswith("arn:") and arn.count(":") >= 5 else arn


def _row(view: NumberView) -> tuple[str, ...]:
    owner = "-"
    if view.owner is not None:
        owner = f"{view.owner.logical_id} @ {stack_name(view.owner.stack_id)}"
        if view.owner_source == "tags":
            owner += " (tags)"
    holding = view.holding.detail if view.holding is not None else "-"
    if holding.startswith("stale: its physical ID"):
        holding = "stale: another physical ID"  # the full ID is under "Needs attention"
    notes = []
    if view.marker:
        notes.append(view.marker)
    if view.rename:
        notes.append(f"rename from {view.rename['from']['logicalResourceId']}")
    if view.native:
        native = view.native
        verdict = {True: "holds", False: "stale", None: "unknown"}[native["cloudFormation"]["holds"]]
        notes.append(f"native {native['logicalResourceId']} @ {native['stackName']} ({verdict})")
    notes.extend(f"!{flag.code}" for flag in view.flags)
    return (
        view.label,
        view.status,
        _resource(view.target_arn),
        owner,
        holding,
        "/".join(view.contact_flow_arn.split("/")[-2:]) if view.contact_flow_arn else "-",
        ", ".join(notes) or "-",
    )


def render_table(status: Status) -> str:
    lines = []
    if status.number:
        scope = f"{status.number} in {status.region}"
    else:
        scope = status.target.arn if status.target else f"every number in {status.region}"
    lines.append(f"Phone numbers: {scope}")
    if status.table_message:
        lines.append(f"Ownership records: {status.table_message}")
    rows = [COLUMNS, *(_row(view) for view in status.numbers)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    flagged = [view for view in status.numbers if view.flags]
    if flagged:
        lines.append("")
        lines.append("Needs attention (nothing below has been run):")
        for view in flagged:
            for flag in view.flags:
                lines.append(f"- {view.label} ({view.arn}) [{flag.code}]: {flag.message}")
                if flag.advice:
                    lines.append(f"    {flag.advice}")
                for command in flag.commands:
                    lines.append(f"    $ {command}")
    for note in status.notes:
        lines.append(f"note: {note}")
    s = status.summary()
    lines.append("")
    lines.append(
        f"{s['numbers']} numbers, {s['owned']} owned, {s['stale']} stale, {s['pending']} pending "
        f"({s['flagged']} flagged)"
    )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "phoneNumber",
    "phoneNumberId",
    "phoneNumberArn",
    "status",
    "targetArn",
    "declaredTargetArn",
    "contactFlowArn",
    "declaredContactFlowArn",
    "ownerStackName",
    "ownerStackId",
    "ownerLogicalResourceId",
    "ownerSource",
    "cloudFormation",
    "marker",
    "flags",
)


def render_csv(status: Status) -> str:
    """One row per number, full ARNs, the flag codes joined by ';' (what needs attention: FORMAT=json)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for view in status.numbers:
        record = view.record or {}
        assigned = record.get("State") == ASSIGNED
        owner = view.owner
        writer.writerow(
            (
                view.phone_number,
                view.id,
                view.arn,
                view.status,
                view.target_arn or "",
                str(record.get("TargetArn") or "") if assigned else "",
                view.contact_flow_arn or "",
                str(record.get("ContactFlowArn") or "") if assigned else "",
                stack_name(owner.stack_id) if owner else "",
                owner.stack_id if owner else "",
                owner.logical_id if owner else "",
                view.owner_source or "",
                view.holding.detail if view.holding else "",
                view.marker or "",
                ";".join(flag.code for flag in view.flags),
            )
        )
    return out.getvalue()


def render_json(status: Status) -> str:
    return json.dumps(status.as_json(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="make status",
        description="Show every phone number, its owner, drift and anything stuck (read-only). Exit status: "
        "0 nothing flagged, 3 something flagged, 1 could not check (all or part), 2 usage.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--target", help="only numbers on this Connect instance or traffic distribution group")
    scope.add_argument("--number", help="only this number: its ID, its ARN or its E.164 form (+12065550100)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    args = parser.parse_args(argv)
    try:
        target = parse_target(args.target) if args.target else None
        query = parse_number(args.number) if args.number else None
    except UsageError as error:
        print(f"make status: {error}", file=stderr)
        return EXIT_USAGE
    region = (
        (target.region if target else None) or (query.region if query else None) or _session().region_name
    )
    if not region:
        print(
            "make status: no AWS Region configured: set AWS_DEFAULT_REGION (or a profile's region), or "
            "give TARGET=<ARN> or NUMBER=<ARN>.",
            file=stderr,
        )
        return EXIT_UNCHECKED
    print(READ_ONLY_NOTICE, file=stderr)
    try:
        clients = Clients.for_region(region)
        if query is not None:
            status = collect_one(clients, region, query, stderr)
        else:
            status = collect(clients, region, target, stderr)
    except NumberNotFound as error:
        print(f"make status: {error}.", file=stderr)
        return EXIT_UNCHECKED
    except endpoints.Unreachable as error:
        print(f"make status: {error}", file=stderr)
        return EXIT_UNCHECKED
    except ClientError as error:
        print(
            f"make status: {error.operation_name} in {region} failed: "
            f"{_error_code(error)}: {_error_message(error)}",
            file=stderr,
        )
        return EXIT_UNCHECKED
    except (BotoCoreError, NoRegionError) as error:
        print(f"make status: reading {region} failed: {error}", file=stderr)
        return EXIT_UNCHECKED
    except Exception as error:  # noqa: BLE001 - an operator's view ends in one line, never a traceback
        print(
            f"make status: unexpected {type(error).__name__} while reading {region}: {error} (a bug: please "
            "report it with this line)",
            file=stderr,
        )
        return EXIT_UNCHECKED
    render = {"json": render_json, "csv": render_csv}.get(args.format, render_table)
    stdout.write(render(status))
    code = status.exit_status()
    if code == EXIT_FLAGGED:
        print(f"make status: {status.summary()['flagged']} flagged (exit status {code}).", file=stderr)
    for reason in status.unchecked():
        print(f"make status: not checked: {reason}", file=stderr)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
