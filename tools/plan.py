"""``make plan``: what a deployment would do to each phone number, before it is deployed.

CloudFormation's change sets show that a Custom::PhoneNumberAssignment will be added, modified or removed,
never what that means for the number. This tool reads, per number the deployment declares:

- where it is now (DescribePhoneNumber: target and status) and where it will go (the declared TargetArn);
- its owner now (the ownership record in the DynamoDB table ``PhoneNumberAssignment-Ownership``: StackId,
  LogicalResourceId, State; RELEASED means nobody) and after (the deployed stack's logical ID);
- whether the target has room: the numbers on the target's instance (ListPhoneNumbersV2 filtered by its
  TargetArn), plus those this deployment moves there, against the quota "Phone numbers per instance"
  (Service Quotas, or Connect's default 5 when it cannot be read: an estimate, and said so);
- the flow it will route to (the declared ContactFlowArn) and the one it routes to now (ListFlowAssociations);
- what the provider would refuse: another stack's ownership (a record ASSIGNED, PENDING, MOVING or UNDOING
  by a stack resource CloudFormation still holds: DescribeStackResource), a native AWS::Connect::PhoneNumber
  holding it (DescribeStackResources by the number's ARN), a flow that is not a published, active inbound
  flow of the target's instance (DescribeContactFlow), a target or number that does not exist.

Two sources of declarations:
- ``CHANGE_SET=<name> STACK=<stack>``: DescribeChangeSet with IncludePropertyValues, whose ResourceChange
  carries BeforeContext and AfterContext, JSON strings holding the resource's resolved ``Properties``;
- ``TEMPLATE=<file> PARAMS="Key=Value ..." [STACK=<stack>]``: the template resolved here
  (tools/cfn_template.py: parameters, conditions, mappings, Fn::Sub, Fn::ForEach); STACK names the stack it
  will be deployed to (its numbers are then its own, not another stack's).

Read-only: the calls are ListPhoneNumbersV2, DescribePhoneNumber, ListFlowAssociations, DescribeContactFlow,
DescribeInstance, DescribeTrafficDistributionGroup, dynamodb:GetItem, cloudformation:DescribeChangeSet,
DescribeStacks, DescribeStackResource(s), servicequotas:ListServiceQuotas/GetServiceQuota and (for a template
using AWS::AccountId) sts:GetCallerIdentity. Exit status as make status: 0 nothing would be refused, 3
something would, 1 some part could not be checked, 2 usage. Runs with boto3 and PyYAML alone (.venv-tools).

Before anything is read for it, each declaration goes through the provider's own parser
(properties.check_properties) with the deployment's partition, Region and account: every Reason the provider
would give is reported (``invalid-properties``). A parameter outside its AllowedValues and a STACK= that does
not exist are usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import io
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from botocore.utils import ArnParser, InvalidArnException

from phone_number_assignment import schema
from phone_number_assignment.errors import says_stack_or_resource_missing
from phone_number_assignment.properties import Scope, check_properties
from phone_number_assignment.tags import Owner
from tools import cfn_template, endpoints
from tools.export import Target, UsageError, parse_target
from tools.status import (
    ASSIGNED,
    EXIT_CLEAN,
    EXIT_FLAGGED,
    EXIT_UNCHECKED,
    EXIT_USAGE,
    MARKERS,
    RELEASED,
    UNDOING,
    CloudFormationCheck,
    NumberView,
    Status,
    _error_code,
    _error_message,
    _fill,
    _flows,
    _instance_of,
    _resource,
    _session,
    owner_json,
    owner_label,
    read_record,
    stack_name,
)

READ_ONLY_NOTICE = (
    "make plan is read-only: it calls only Describe*/List*/Get* operations (Connect, DynamoDB GetItem, "
    "CloudFormation, Service Quotas) and changes nothing."
)
OUTPUT_VERSION = 1
# "Phone numbers per instance" (Amazon Connect Administrator Guide, "Connect Customer service quotas"): 5 by
# default in a new account, adjustable. Its quota code is not documented there, so it is found by name.
QUOTA_NAME = "Phone numbers per instance"
DEFAULT_QUOTA = 5
# What CloudFormation writes in a change set for a value it will know only while deploying.
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"
CHANGE_SET_READY = "CREATE_COMPLETE"


# ---- what the deployment declares -----------------------------------------------------------------------


@dataclass
class Declaration:
    logical_id: str
    action: str  # Add, Modify, Remove, Import, Dynamic (a change set's), or Declare (a template's)
    properties: dict[str, str] = field(default_factory=dict)
    unresolved: str | None = None
    replacing: str | None = None  # a Modify's number before the change, when it changes
    # Every property name declared (ServiceToken and any the provider refuses included).
    names: tuple[str, ...] = ()

    @property
    def removes(self) -> bool:
        return self.action == "Remove"


def _context_names(context: str | None) -> tuple[str, ...]:
    try:
        return tuple(str(name) for name in (json.loads(context or "{}") or {}).get("Properties") or {})
    except (ValueError, AttributeError):
        return ()


def _context_properties(context: str | None) -> tuple[dict[str, str], str | None]:
    """The resolved properties from a BeforeContext/AfterContext JSON string."""
    if not context:
        return {}, "the change set carries no property values (IncludePropertyValues)"
    try:
        properties = (json.loads(context) or {}).get("Properties") or {}
    except (ValueError, AttributeError):
        return {}, "the change set's property values are not JSON"
    resolved: dict[str, str] = {}
    for name in cfn_template.WANTED:
        if name not in properties:
            continue
        value = properties[name]
        if (
            not isinstance(value, (str, int))
            or KNOWN_AFTER_APPLY in str(value)
            or "{{changeSet:" in str(value)
        ):
            return resolved, f"{name} is known only while the change set executes ({value!r})"
        resolved[name] = str(value)
    return resolved, None


def declarations_from_change_set(answer_pages: list[Mapping[str, Any]]) -> list[Declaration]:
    """The Custom::PhoneNumberAssignment changes of DescribeChangeSet's pages (IncludePropertyValues)."""
    found = []
    for page in answer_pages:
        for change in page.get("Changes") or []:
            resource = change.get("ResourceChange") or {}
            if (
                change.get("Type", "Resource") != "Resource"
                or resource.get("ResourceType") != schema.RESOURCE_TYPE
            ):
                continue
            action = resource.get("Action", "Dynamic")
            logical_id = resource.get("LogicalResourceId", "?")
            if action == "Remove":
                properties, why = _context_properties(resource.get("BeforeContext"))
                if not properties.get("PhoneNumberId") and resource.get("PhysicalResourceId"):
                    # The provider answers with the number's ARN as the physical ID.
                    properties["PhoneNumberId"] = resource["PhysicalResourceId"]
                    why = None
                found.append(Declaration(logical_id, action, properties, why))
                continue
            properties, why = _context_properties(resource.get("AfterContext"))
            names = _context_names(resource.get("AfterContext"))
            declaration = Declaration(logical_id, action, properties, why, names=names)
            before, _ = _context_properties(resource.get("BeforeContext"))
            old, new = before.get("PhoneNumberId"), properties.get("PhoneNumberId")
            if action == "Modify" and old and new and _number_id(old) != _number_id(new):
                declaration.replacing = old
            found.append(declaration)
    return found


def _number_id(value: str) -> str:
    return value.rsplit("/", 1)[-1].lower()


def read_change_set(cloudformation: Any, stack: str, name: str) -> tuple[str, list[Declaration]]:
    """(stack ID, declarations) of a change set: every page of DescribeChangeSet, with property values."""
    pages: list[Mapping[str, Any]] = []
    paginator = cloudformation.get_paginator("describe_change_set")
    for page in paginator.paginate(ChangeSetName=name, StackName=stack, IncludePropertyValues=True):
        status = page.get("Status")
        if status != CHANGE_SET_READY:
            raise NotChecked(
                f"change set {name} is {status}"
                + (f": {page.get('StatusReason')}" if page.get("StatusReason") else "")
                + (
                    "; wait until it is CREATE_COMPLETE"
                    if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS")
                    else ""
                )
            )
        pages.append(page)
    return str(pages[0].get("StackId") or stack), declarations_from_change_set(pages)


class NotChecked(Exception):
    """Nothing could be planned: the message says why (exit status 1)."""


# ---- one number's plan ----------------------------------------------------------------------------------


@dataclass
class Refusal:
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class NumberPlan:
    declaration: Declaration
    view: NumberView | None = None
    owner_now: Owner | None = None
    owner_state: str | None = None
    owner_holding: str | None = None
    owner_after: Owner | None = None
    target_after: str | None = None
    flow_after: str | None = None
    room: dict[str, Any] | None = None
    refusals: list[Refusal] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.view is not None and self.view.phone_number:
            return self.view.phone_number
        return self.declaration.properties.get("PhoneNumberId", "?")

    def refuse(self, code: str, message: str) -> None:
        self.refusals.append(Refusal(code, message))

    def verdict(self) -> str:
        if self.refusals:
            return "refused"
        return "unchecked" if self.unchecked else "ok"

    def as_json(self) -> dict[str, Any]:
        view = self.view
        return {
            "logicalResourceId": self.declaration.logical_id,
            "action": self.declaration.action,
            "declared": self.declaration.properties,
            "phoneNumber": view.phone_number if view else None,
            "phoneNumberArn": view.arn if view else None,
            "now": None
            if view is None
            else {
                "targetArn": view.target_arn,
                "status": view.status,
                "contactFlowArn": view.contact_flow_arn,
                "owner": None
                if self.owner_now is None
                else {
                    **owner_json(self.owner_now),
                    "state": self.owner_state,
                    "cloudFormation": self.owner_holding,
                },
                "record": view.record,
            },
            "after": {
                "targetArn": self.target_after,
                "contactFlowArn": self.flow_after,
                "owner": None if self.owner_after is None else owner_json(self.owner_after),
            },
            "room": self.room,
            "verdict": self.verdict(),
            "refusals": [r.as_json() for r in self.refusals],
            "unchecked": self.unchecked,
            "notes": self.notes,
        }


@dataclass
class Plan:
    region: str
    source: dict[str, Any]
    stack_id: str | None
    numbers: list[NumberPlan] = field(default_factory=list)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        verdicts = [n.verdict() for n in self.numbers]
        return {
            "numbers": len(self.numbers),
            "moves": sum(
                1
                for n in self.numbers
                if n.view and n.target_after and (n.view.target_arn or "").lower() != n.target_after.lower()
            ),
            "refused": verdicts.count("refused"),
            "unchecked": verdicts.count("unchecked"),
        }

    def exit_status(self) -> int:
        summary = self.summary()
        if summary["refused"]:
            return EXIT_FLAGGED
        return EXIT_UNCHECKED if summary["unchecked"] else EXIT_CLEAN

    def as_json(self) -> dict[str, Any]:
        return {
            "version": OUTPUT_VERSION,
            "region": self.region,
            "source": self.source,
            "stackId": self.stack_id,
            "numbers": [n.as_json() for n in self.numbers],
            "targets": self.targets,
            "notes": self.notes,
            "summary": self.summary(),
        }


# ---- reading the world ----------------------------------------------------------------------------------


@dataclass
class Clients:
    connect: Any
    dynamodb: Any
    cloudformation: Any
    quotas: Any
    sts: Any

    @classmethod
    def for_region(cls, region: str) -> Clients:
        connect, dynamodb, cloudformation, sts = (
            endpoints.client(_session(), service, region)
            for service in ("connect", "dynamodb", "cloudformation", "sts")
        )
        # The quota is optional (without it the default is assumed, and said): one attempt, no retries, so
        # that an unreachable or refusing Service Quotas costs no waiting.
        quotas = _session().client(
            "service-quotas",
            region_name=region,
            config=endpoints.config(mode="standard", total_max_attempts=1),
        )
        return cls(connect, dynamodb, cloudformation, quotas, sts)


class World:
    """Answers cached per target, instance and flow: one deployment names few of them."""

    def __init__(self, clients: Clients, plan: Plan) -> None:
        self.clients = clients
        self.plan = plan
        self._targets: dict[str, tuple[str | None, str | None]] = {}
        self._counts: dict[str, int | None] = {}
        self._flows: dict[str, tuple[bool, dict[str, str]]] = {}
        self._quota_code: str | bool | None = False  # False: not looked up yet
        self._account_quota: int | None = None
        self._quota_note: str | None = None

    def target(self, target: Target) -> tuple[str | None, str | None]:
        """(home instance ID, None) of an existing target, or (None, why it is refused/unknown)."""
        if target.arn not in self._targets:
            connect = self.clients.connect
            try:
                if target.is_instance:
                    connect.describe_instance(InstanceId=target.id)
                    self._targets[target.arn] = (target.id, None)
                else:
                    group = connect.describe_traffic_distribution_group(
                        TrafficDistributionGroupId=target.arn
                    )["TrafficDistributionGroup"]
                    status = group.get("Status")
                    home = str(group.get("InstanceArn", "")).rsplit("/", 1)[-1].lower() or None
                    if status != "ACTIVE":
                        self._targets[target.arn] = (None, f"refused:its status is {status}, not ACTIVE")
                    else:
                        self._targets[target.arn] = (home, None)
            except ClientError as error:
                if _error_code(error) == "ResourceNotFoundException":
                    self._targets[target.arn] = (None, "refused:it does not exist in this account and Region")
                else:
                    self._targets[target.arn] = (
                        None,
                        f"unknown:{_error_code(error)} ({error.operation_name})",
                    )
        return self._targets[target.arn]

    def count(self, instance_id: str, arn_prefix: str) -> int | None:
        """Numbers on the instance now (its traffic distribution groups' included: ListPhoneNumbersV2 on an
        instance lists them too)."""
        if instance_id not in self._counts:
            try:
                total = 0
                paginator = self.clients.connect.get_paginator("list_phone_numbers_v2")
                for page in paginator.paginate(TargetArn=f"{arn_prefix}:instance/{instance_id}"):
                    total += len(page.get("ListPhoneNumbersSummaryList", []))
                self._counts[instance_id] = total
            except ClientError as error:
                self.plan.notes.append(f"numbers on instance {instance_id} unknown ({_error_code(error)})")
                self._counts[instance_id] = None
        return self._counts[instance_id]

    def quota(self, instance_arn: str) -> tuple[int, str]:
        """(quota, where it came from): the instance's applied value, the account's, or the default 5."""
        if self._quota_code is False:
            self._quota_code = None
            try:
                paginator = self.clients.quotas.get_paginator("list_service_quotas")
                for page in paginator.paginate(ServiceCode="connect"):
                    for quota in page.get("Quotas", []):
                        if quota.get("QuotaName") == QUOTA_NAME:
                            self._quota_code = quota.get("QuotaCode")
                            self._account_quota = int(quota["Value"]) if "Value" in quota else None
            except (ClientError, BotoCoreError) as error:
                code = _error_code(error) if isinstance(error, ClientError) else type(error).__name__
                self._quota_note = (
                    f'the quota "{QUOTA_NAME}" could not be read from Service Quotas ({code}): assumed to be '
                    f"Connect's default, {DEFAULT_QUOTA}"
                )
                self.plan.notes.append(self._quota_note)
        if self._quota_code:
            try:
                answer = self.clients.quotas.get_service_quota(
                    ServiceCode="connect", QuotaCode=self._quota_code, ContextId=instance_arn
                )
                return int(answer["Quota"]["Value"]), "Service Quotas (this instance)"
            except (ClientError, BotoCoreError, KeyError, ValueError):
                if self._account_quota is not None:
                    return self._account_quota, "Service Quotas (account)"
        elif self._quota_note is None:
            self._quota_note = f'Service Quotas lists no "{QUOTA_NAME}": assumed {DEFAULT_QUOTA}'
            self.plan.notes.append(self._quota_note)
        return DEFAULT_QUOTA, "assumed: Connect's default"

    def flows(self, instance_id: str, arn_prefix: str) -> tuple[bool, dict[str, str]]:
        if instance_id not in self._flows:
            holder = Status(self.plan.region, None)
            read: set[str] = set()
            flows = _flows(self.clients.connect, [instance_id], arn_prefix, holder, read)
            self.plan.notes.extend(holder.notes)
            self._flows[instance_id] = (instance_id in read, flows)
        return self._flows[instance_id]

    def contact_flow(self, instance_id: str, flow_id: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            answer = self.clients.connect.describe_contact_flow(InstanceId=instance_id, ContactFlowId=flow_id)
            return answer.get("ContactFlow") or {}, None
        except ClientError as error:
            if _error_code(error) == "ResourceNotFoundException":
                return None, None
            return None, f"{_error_code(error)} (DescribeContactFlow)"


def _arn_prefix(arn: str) -> str:
    """``arn:<partition>:connect:<region>:<account>`` of a Connect ARN."""
    return ":".join(arn.split(":", 5)[:5])


def _phone_number_arn(value: str, region: str, account: str | None) -> str | None:
    if value.startswith("arn:"):
        return value.rsplit("/", 1)[0] + "/" + value.rsplit("/", 1)[-1].lower()
    if account:
        return (
            f"arn:{cfn_template.partition_of(region)}:connect:{region}:{account}:phone-number/{value.lower()}"
        )
    return None


# ---- judging --------------------------------------------------------------------------------------------


def plan_numbers(
    clients: Clients,
    plan: Plan,
    declarations: list[Declaration],
    stack: Owner | None,
    account: Callable[[], str] | None = None,
) -> None:
    """``stack``: the deployed stack (stack ID or name as stack_id; logical ID unused). ``account``: the
    deployment's account (the stack ID's, else STS's), for the provider's parser."""
    world = World(clients, plan)
    check = CloudFormationCheck(clients.cloudformation)
    scope, no_scope = _scope(clients, plan.region, stack, account)
    by_number: dict[str, list[NumberPlan]] = {}
    for declaration in declarations:
        number = NumberPlan(declaration)
        plan.numbers.append(number)
        if declaration.unresolved:
            number.unchecked.append(f"{declaration.logical_id}: {declaration.unresolved}")
            continue
        if not declaration.removes:
            if scope is None:
                number.unchecked.append(f"{declaration.logical_id}'s properties: {no_scope}")
                continue
            # The provider's own parser, before anything else: it refuses such a declaration changing nothing.
            _, reasons = check_properties(_as_sent(declaration), scope)
            for reason in reasons:
                number.refuse("invalid-properties", reason)
            if reasons:
                continue
        value = declaration.properties.get("PhoneNumberId", "")
        if not value:
            number.refuse("no-phone-number-id", f"{declaration.logical_id} declares no PhoneNumberId")
            continue
        _read_number(clients, world, number, value)
        if number.view is None:
            continue
        by_number.setdefault(number.view.arn.lower(), []).append(number)
        if declaration.removes:
            _judge_removal(number)
            continue
        if declaration.replacing:
            number.notes.append(
                f"replaces {declaration.replacing} in {declaration.logical_id}: CloudFormation then deletes "
                "the old physical ID, and that number's OnDelete applies to it"
            )
        _judge_owner(number, check, stack, plan)
        _judge_native(number, check)
        _judge_target_and_flow(world, number)
    for numbers in by_number.values():
        kept = [n for n in numbers if not n.declaration.removes]
        if len(kept) > 1:
            ids = ", ".join(n.declaration.logical_id for n in kept)
            for n in kept[1:]:
                n.refuse(
                    "declared-twice", f"{n.label} is declared by {ids}: a number belongs to one resource"
                )
    _judge_room(world, plan)


def _as_sent(declaration: Declaration) -> dict[str, str]:
    """The properties as CloudFormation would send them to the provider: the names declared (values of the
    ones the plan does not resolve stand in empty: the parser judges those by name), the resolved values."""
    # A resolved property missing from ``properties`` resolved to AWS::NoValue: CloudFormation drops it.
    others = [name for name in declaration.names if name not in cfn_template.WANTED]
    return {**dict.fromkeys(others, ""), **declaration.properties}


def _scope(
    clients: Clients, region: str, stack: Owner | None, account: Callable[[], str] | None
) -> tuple[Scope | None, str]:
    """Where the deployment's provider runs: its partition, Region and account (the one the provider's
    parser holds every ARN to); or None and why it could not be told."""
    partition = cfn_template.partition_of(region)
    if stack is not None and stack.stack_id.startswith("arn:"):
        return Scope(partition, region, stack.stack_id.split(":")[4]), ""
    try:
        found = account() if account is not None else clients.sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        code = _error_code(error) if isinstance(error, ClientError) else type(error).__name__
        return None, f"not checked: the account is unknown (sts:GetCallerIdentity: {code})"
    return Scope(partition, region, found), ""


def _read_number(clients: Clients, world: World, number: NumberPlan, value: str) -> None:
    try:
        described = clients.connect.describe_phone_number(PhoneNumberId=value)["ClaimedPhoneNumberSummary"]
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            number.refuse("number-not-found", f"phone number {value} is not in this account and Region")
        elif _error_code(error) in ("BadRequestException", "InvalidParameterException"):
            number.refuse("bad-phone-number-id", f"PhoneNumberId {value!r}: {_error_message(error)}")
        else:
            number.unchecked.append(f"DescribePhoneNumber {value}: {_error_code(error)}")
        return
    view = NumberView(described["PhoneNumberArn"], described["PhoneNumberId"].lower())
    _fill(view, described)
    holder = Status(world.plan.region, None)
    view.record = read_record(clients.dynamodb, view.arn, holder)
    if holder.table_state == "unreadable":
        number.unchecked.append(holder.table_message or "ownership record unreadable")
    elif holder.table_state == "missing":
        number.notes.append("no ownership table yet: nobody owns a number through this provider")
    instance = _instance_of(clients.connect, view, {})
    if instance:
        known, flows = world.flows(instance, _arn_prefix(view.arn))
        view.flows_known = known
        view.contact_flow_arn = flows.get(view.id)
    number.view = view


def _same_stack(owner: Owner, stack: Owner | None) -> bool:
    if stack is None:
        return False
    if stack.stack_id.startswith("arn:"):
        return owner.stack_id.lower() == stack.stack_id.lower()
    return stack_name(owner.stack_id) == stack.stack_id


def _judge_owner(number: NumberPlan, check: CloudFormationCheck, stack: Owner | None, plan: Plan) -> None:
    view = number.view
    assert view is not None
    declaration = number.declaration
    number.owner_after = Owner(stack.stack_id if stack else "(this stack)", declaration.logical_id)
    record = view.record or {}
    state = record.get("State")
    if not record or state not in (*MARKERS, ASSIGNED):
        if state == RELEASED:
            number.owner_state = RELEASED
        return
    owner = Owner(str(record.get("StackId", "")), str(record.get("LogicalResourceId", "")))
    number.owner_now, number.owner_state = owner, state
    if _same_stack(owner, stack) and owner.logical_id == declaration.logical_id:
        number.owner_holding = "this resource"
        if state == UNDOING:
            # ownership.acquire: an earlier Delete of this very resource is still putting it back.
            number.refuse(
                "being-put-back",
                f"an earlier Delete of {declaration.logical_id} is still putting {number.label} back "
                "(UNDOING): the provider refuses this request until that Delete has finished",
            )
        return
    if state == UNDOING:
        # ownership.acquire refuses a number being put back before asking CloudFormation about its owner:
        # whether or not that owner is still held, its Delete has not finished.
        number.refuse(
            "being-put-back",
            f"{owner_label(owner)} is putting {number.label} back (UNDOING): nobody may take it until that "
            "Delete ends",
        )
        return
    holding = check.holding(owner, view.arn, view.id)
    number.owner_holding = holding.detail
    if holding.holds is False:
        number.notes.append(
            f"recorded owner {owner_label(owner)} is stale ({holding.detail}): the provider takes it"
        )
        return
    if holding.holds is None:
        number.unchecked.append(f"whether {owner_label(owner)} still holds {number.label}: {holding.detail}")
        return
    if _same_stack(owner, stack):
        if state == ASSIGNED and not record.get("Predecessor"):
            number.notes.append(
                f"rename from {owner.logical_id}: accepted only if {owner.logical_id} assigned it in an "
                "earlier stack operation and this one removes it"
            )
            return
        number.refuse(
            "declared-twice",
            f"{number.label} is {state} by {owner.logical_id} in this stack, whose request has not settled",
        )
        return
    if stack is None:
        number.refuse(
            "owned-by-another-stack",
            f"{number.label} is {state} by {owner_label(owner)} "
            "(if this template is that stack's, give STACK=)",
        )
        return
    number.refuse(
        "owned-by-another-stack", f"{number.label} is {state} by {owner_label(owner)}, which still holds it"
    )


def _judge_native(number: NumberPlan, check: CloudFormationCheck) -> None:
    view = number.view
    assert view is not None
    found = check.native_holder(view.arn, view.id)
    if found is None:
        return
    native, holding = found
    if holding.holds:
        number.refuse(
            "native-resource",
            f"{number.label} is held by AWS::Connect::PhoneNumber {owner_label(native)} "
            f"({holding.resource_status})",
        )
    elif holding.holds is None:
        number.unchecked.append(f"native holder of {number.label}: {holding.detail}")


def _judge_target_and_flow(world: World, number: NumberPlan) -> None:
    view = number.view
    assert view is not None
    properties = number.declaration.properties
    raw_target = properties.get("TargetArn", "")
    try:
        target = parse_target(raw_target)
    except UsageError:
        number.refuse("bad-target", f"TargetArn {raw_target!r} is not {schema.DESCRIPTIONS['TargetArn']}")
        return
    number.target_after = target.arn
    home, why = world.target(target)
    if why:
        kind, _, text = why.partition(":")
        if kind == "refused":
            number.refuse(
                "target-not-found" if "exist" in text else "target-not-active", f"target {target.arn}: {text}"
            )
        else:
            number.unchecked.append(f"target {target.arn}: {text}")
        return
    assert home is not None
    flow = properties.get("ContactFlowArn")
    if flow:
        number.flow_after = flow
        _judge_flow(world, number, flow, home)
    elif view.contact_flow_arn and (view.target_arn or "").lower() != target.arn.lower():
        number.notes.append(
            "no ContactFlowArn: the move drops the number's flow (it routes to no flow after)"
        )
    elif view.contact_flow_arn:
        number.flow_after = view.contact_flow_arn
    if (view.target_arn or "").lower() != target.arn.lower():
        current_home = (view.instance_id or "").lower()
        if current_home != home:
            world.plan.targets.setdefault(
                home, {"instance": home, "incoming": [], "arnPrefix": _arn_prefix(target.arn)}
            )["incoming"].append(number)


def _judge_flow(world: World, number: NumberPlan, flow: str, home: str) -> None:
    try:
        arn = ArnParser().parse_arn(flow) if flow.startswith("arn:") else None
    except InvalidArnException:
        arn = None
    match = schema.CONTACT_FLOW_RESOURCE.fullmatch(arn["resource"]) if arn else None
    if match is None:
        number.refuse("bad-flow", f"ContactFlowArn {flow!r} is not {schema.DESCRIPTIONS['ContactFlowArn']}")
        return
    if match["instance_id"].lower() != home:
        number.refuse(
            "flow-elsewhere", f"ContactFlowArn {flow} is not a flow of the target's instance {home}"
        )
        return
    described, why = world.contact_flow(home, match["id"].lower())
    if why:
        number.unchecked.append(f"flow {flow}: {why}")
        return
    if described is None:
        number.refuse("flow-not-found", f"contact flow {flow} does not exist")
        return
    shape = (described.get("Type"), described.get("Status"), described.get("State"))
    if shape != ("CONTACT_FLOW", "PUBLISHED", "ACTIVE"):
        number.refuse(
            "flow-not-routable",
            f"contact flow {flow} is {'/'.join(str(s) for s in shape)}: a number routes only to a published, "
            "active inbound flow (CONTACT_FLOW/PUBLISHED/ACTIVE)",
        )


def _judge_removal(number: NumberPlan) -> None:
    view = number.view
    assert view is not None
    on_delete = number.declaration.properties.get("OnDelete", schema.ON_DELETE_RETAIN)
    record = view.record or {}
    if on_delete == schema.ON_DELETE_RESTORE and record.get("PreviousTargetArn"):
        number.target_after = str(record["PreviousTargetArn"])
        number.notes.append("OnDelete: Restore puts it back where it was before the stack took it")
    else:
        number.target_after = view.target_arn
        number.notes.append(f"OnDelete: {on_delete}: it stays where it is, owned by nobody")
    if record.get("StackId"):
        number.owner_now = Owner(str(record["StackId"]), str(record.get("LogicalResourceId", "")))
        number.owner_state = record.get("State")


def _judge_room(world: World, plan: Plan) -> None:
    for home, entry in plan.targets.items():
        incoming: list[NumberPlan] = entry.pop("incoming")
        prefix = entry.pop("arnPrefix")
        now = world.count(home, prefix)
        quota, source = world.quota(f"{prefix}:instance/{home}")
        entry.update({"numbersNow": now, "incoming": len(incoming), "quota": quota, "quotaSource": source})
        for number in incoming:
            number.room = {
                "instance": home,
                "numbersNow": now,
                "incoming": len(incoming),
                "quota": quota,
                "quotaSource": source,
                "estimate": True,
            }
            if now is None:
                number.unchecked.append(f"room on instance {home}: its numbers could not be listed")
            elif now + len(incoming) > quota:
                number.refuse(
                    "target-full",
                    f"instance {home} holds {now} numbers and this deployment moves {len(incoming)} there: "
                    f'more than its quota "{QUOTA_NAME}" ({quota}, {source}); the moves beyond it end FAILED',
                )


# ---- output ---------------------------------------------------------------------------------------------

COLUMNS = (
    "NUMBER",
    "RESOURCE",
    "ACTION",
    "NOW",
    "AFTER",
    "OWNER NOW",
    "OWNER AFTER",
    "ROOM",
    "FLOW",
    "VERDICT",
)


def _flow_label(flow: str | None) -> str:
    return flow.rsplit("/", 1)[-1][:8] if flow else "none"


def _row(number: NumberPlan) -> tuple[str, ...]:
    view = number.view
    now = f"{_resource(view.target_arn)} ({view.status})" if view else "-"
    owner_now = "-"
    if number.owner_holding == "this resource":
        owner_now = f"this resource ({number.owner_state})"
    elif number.owner_now is not None:
        owner_now = (
            f"{number.owner_now.logical_id} @ {stack_name(number.owner_now.stack_id)} ({number.owner_state})"
        )
    elif number.owner_state == RELEASED:
        owner_now = "nobody (RELEASED)"
    elif view is not None:
        owner_now = "nobody"
    if number.declaration.removes:
        owner_after = "nobody"
    elif number.owner_holding == "this resource":
        owner_after = "unchanged"
    elif number.owner_after is not None:
        owner_after = f"{number.owner_after.logical_id} @ {stack_name(number.owner_after.stack_id)}"
    else:
        owner_after = "-"
    room = "-"
    if number.room:
        r = number.room
        room = f"{r['numbersNow'] if r['numbersNow'] is not None else '?'}+{r['incoming']}/{r['quota']}"
        if r["quotaSource"].startswith("assumed"):
            room += "*"
    flow = "-"
    if view is not None:
        flow = f"{_flow_label(view.contact_flow_arn)} -> {_flow_label(number.flow_after)}"
    verdict = number.verdict()
    if number.refusals:
        verdict += ": " + ", ".join(r.code for r in number.refusals)
    return (
        number.label,
        number.declaration.logical_id,
        number.declaration.action,
        now,
        _resource(number.target_after),
        owner_now,
        owner_after,
        room,
        flow,
        verdict,
    )


def render_table(plan: Plan) -> str:
    lines = [f"Plan: {plan.source.get('describe')} in {plan.region}"]
    rows = [COLUMNS, *(_row(n) for n in plan.numbers)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if any(n.room and n.room["quotaSource"].startswith("assumed") for n in plan.numbers):
        lines.append(
            f"* ROOM is an estimate (numbers now + moving in / quota); * quota assumed {DEFAULT_QUOTA}"
        )
    else:
        lines.append("ROOM is an estimate: numbers now + moving in / quota")
    detail = [n for n in plan.numbers if n.refusals or n.unchecked or n.notes]
    if detail:
        lines.append("")
    for number in detail:
        for refusal in number.refusals:
            lines.append(
                f"- {number.label} ({number.declaration.logical_id}) REFUSED [{refusal.code}]: "
                f"{refusal.message}"
            )
        for why in number.unchecked:
            lines.append(f"- {number.label} ({number.declaration.logical_id}) NOT CHECKED: {why}")
        for note in number.notes:
            lines.append(f"- {number.label} ({number.declaration.logical_id}): {note}")
    for note in plan.notes:
        lines.append(f"note: {note}")
    s = plan.summary()
    lines.append("")
    lines.append(
        f"{s['numbers']} numbers, {s['moves']} moving, {s['refused']} would be refused, "
        f"{s['unchecked']} not checked"
    )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "logicalResourceId",
    "action",
    "phoneNumber",
    "phoneNumberArn",
    "status",
    "targetArnNow",
    "targetArnAfter",
    "ownerNow",
    "ownerState",
    "ownerAfter",
    "numbersOnTarget",
    "incoming",
    "quota",
    "quotaSource",
    "contactFlowArnNow",
    "contactFlowArnAfter",
    "verdict",
    "refusals",
)


def render_csv(plan: Plan) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number in plan.numbers:
        view, room = number.view, number.room or {}
        writer.writerow(
            (
                number.declaration.logical_id,
                number.declaration.action,
                view.phone_number if view else "",
                view.arn if view else "",
                view.status if view else "",
                (view.target_arn or "") if view else "",
                number.target_after or "",
                owner_label(number.owner_now) if number.owner_now else "",
                number.owner_state or "",
                ""
                if number.declaration.removes or not number.owner_after
                else owner_label(number.owner_after),
                room.get("numbersNow", ""),
                room.get("incoming", ""),
                room.get("quota", ""),
                room.get("quotaSource", ""),
                (view.contact_flow_arn or "") if view else "",
                number.flow_after or "",
                number.verdict(),
                ";".join(r.code for r in number.refusals),
            )
        )
    return out.getvalue()


def render_json(plan: Plan) -> str:
    return json.dumps(plan.as_json(), indent=2, default=str) + "\n"


# ---- the command ----------------------------------------------------------------------------------------


def parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise UsageError(f"PARAMS takes Key=Value pairs; got {value!r}")
        params[name] = text
    return params


def _stack(clients: Clients, stack: str | None, region: str) -> Owner | None:
    """The deployed stack, by its ID; a UsageError when CloudFormation knows no such stack (a misspelt
    STACK= would otherwise make every number the stack holds look like another stack's)."""
    if not stack:
        return None
    try:
        found = clients.cloudformation.describe_stacks(StackName=stack).get("Stacks") or []
    except ClientError as error:
        if not says_stack_or_resource_missing(error):
            raise
        found = []
    live = [s for s in found if s.get("StackStatus") != "DELETE_COMPLETE"]
    if not live:
        raise UsageError(
            f"STACK={stack}: no such stack in {region} (DescribeStacks). Check its name, Region and account; "
            "for a stack not created yet, leave STACK= out."
        )
    return Owner(live[0]["StackId"], "")


def _region_of(stack: str | None) -> str | None:
    if stack and stack.startswith("arn:"):
        return stack.split(":")[3]
    return None


def main(argv: list[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="make plan",
        description="What deploying a change set or a template would do to each phone number (read-only). "
        "Exit status: 0 nothing refused, 3 something would be refused, 1 could not check, 2 usage.",
    )
    parser.add_argument("--stack", help="the stack (name or ID) the change set or template is deployed to")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--change-set", help="a change set of --stack (DescribeChangeSet)")
    source.add_argument("--template", help="a template file (JSON or YAML)")
    parser.add_argument("--param", action="append", default=[], help="Key=Value, a parameter override")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    try:
        # argparse writes its usage errors (and --help) to sys.stderr/stdout: to ours here.
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        if args.change_set and not args.stack:
            raise UsageError("CHANGE_SET= needs STACK=<the stack's name or ID>")
        if args.change_set and args.param:
            raise UsageError("PARAMS= goes with TEMPLATE=; a change set has its parameters already")
        params = parse_params(args.param)
        template = None
        if args.template:
            try:
                text = Path(args.template).read_text()
            except OSError as error:
                raise UsageError(f"cannot read TEMPLATE {args.template}: {error.strerror}") from None
            try:
                template = cfn_template.load(text)
            except cfn_template.TemplateError as error:
                raise UsageError(f"{args.template}: {error}") from None
    except UsageError as error:
        print(f"make plan: {error}", file=stderr)
        return EXIT_USAGE
    region = _region_of(args.stack) or _session().region_name
    if not region:
        print(
            "make plan: no AWS Region configured: set AWS_DEFAULT_REGION (or a profile's region).",
            file=stderr,
        )
        return EXIT_UNCHECKED
    resolver = None
    account: Callable[[], str] | None = None
    if template is not None:
        # The account is asked for (STS) only if the template uses AWS::AccountId.
        reader: list[Clients] = []
        account = functools.cache(lambda: reader[0].sts.get_caller_identity()["Account"])
        deployed_stack_name = stack_name(args.stack) if args.stack else None
        try:
            resolver = cfn_template.Resolver(template, params, region, account, deployed_stack_name)
        except cfn_template.TemplateError as error:
            print(f"make plan: {args.template}: {error}", file=stderr)
            return EXIT_USAGE
    print(READ_ONLY_NOTICE, file=stderr)
    try:
        clients = Clients.for_region(region)
        if args.change_set:
            stack_id, declarations = read_change_set(clients.cloudformation, args.stack, args.change_set)
            stack: Owner | None = Owner(stack_id, "")
            described = f"change set {args.change_set} of stack {stack_name(stack_id)}"
            source_json: dict[str, Any] = {"changeSet": args.change_set, "stack": args.stack}
        else:
            assert resolver is not None
            reader.append(clients)
            stack = _stack(clients, args.stack, region)
            try:
                found = resolver.declarations()
            except cfn_template.TemplateError as error:
                # The template is readable, but its loops cannot be expanded before the deploy.
                print(f"make plan: {args.template}: {error}", file=stderr)
                return EXIT_UNCHECKED
            declarations = [
                Declaration(d.logical_id, "Declare", d.properties, d.unresolved, names=d.names) for d in found
            ]
            described = f"template {args.template}" + (
                f" deployed to stack {args.stack}" if args.stack else ""
            )
            source_json = {"template": args.template, "parameters": params, "stack": args.stack}
        source_json["describe"] = described
        plan = Plan(region, source_json, stack.stack_id if stack else None)
        if not declarations:
            plan.notes.append(
                f"no {schema.RESOURCE_TYPE} in the {'change set' if args.change_set else 'template'}"
            )
        plan_numbers(clients, plan, declarations, stack, account)
    except NotChecked as error:
        print(f"make plan: {error}", file=stderr)
        return EXIT_UNCHECKED
    except UsageError as error:
        print(f"make plan: {error}", file=stderr)
        return EXIT_USAGE
    except endpoints.Unreachable as error:
        print(f"make plan: {error}", file=stderr)
        return EXIT_UNCHECKED
    except ClientError as error:
        print(
            f"make plan: {error.operation_name} in {region} failed: {_error_code(error)}: "
            f"{_error_message(error)}",
            file=stderr,
        )
        return EXIT_UNCHECKED
    except (BotoCoreError, NoRegionError) as error:
        print(f"make plan: reading {region} failed: {error}", file=stderr)
        return EXIT_UNCHECKED
    except Exception as error:  # noqa: BLE001 - an operator's view ends in one line, never a traceback
        print(
            f"make plan: unexpected {type(error).__name__}: {error} (a bug: please report it with this line)",
            file=stderr,
        )
        return EXIT_UNCHECKED
    render = {"json": render_json, "csv": render_csv}.get(args.format, render_table)
    stdout.write(render(plan))
    code = plan.exit_status()
    summary = plan.summary()
    if code == EXIT_FLAGGED:
        print(f"make plan: {summary['refused']} would be refused (exit status {code}).", file=stderr)
    elif code == EXIT_UNCHECKED:
        print(f"make plan: {summary['unchecked']} could not be checked (exit status {code}).", file=stderr)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
