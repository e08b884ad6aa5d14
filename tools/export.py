"""``make export TARGET=<instance or traffic distribution group ARN>``: adopt what already exists.

Lists the phone numbers claimed to the target (ListPhoneNumbersV2, paginated), reads each one
(DescribePhoneNumber: status and ownership tags) and their contact flows (ListFlowAssociations in the
instance, or in a traffic distribution group's home instance found with DescribeTrafficDistributionGroup),
then prints a ready-to-deploy template declaring exactly that state: one
Custom::PhoneNumberAssignment per number, OnDelete: Retain. Deploying it moves nothing (every number is
already CLAIMED on its target); it puts the numbers under the stack (the provider's ownership tags).

A number a live native AWS::Connect::PhoneNumber holds is left out and named on standard error: the provider
refuses to take it (stacks.refuse_if_managed_elsewhere, CloudFormation asked by the number's ARN), so the
template would fail on it.

Read-only: no other Connect operation is called, and CloudFormation is only read (DescribeStackResources,
DescribeStackResource). The clients are boto3's defaults (profile, credentials, AWS_ENDPOINT_URL) in the
target ARN's Region, with the tools' Config (tools/endpoints.py) and botocore's adaptive retry mode, which
slows down on throttling: DescribePhoneNumber's default quota is 2 requests per second.

Runs on the developer's machine, never in the Lambda: it lives outside provider/ and is not shipped.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

# Both modules import the standard library only: this tool runs with boto3 and PyYAML alone
# (tools/requirements.txt).
from phone_number_assignment import schema, stacks
from phone_number_assignment.errors import ManagedByAnotherStack, error_code, says_stack_or_resource_missing
from phone_number_assignment.tags import LOGICAL_ID_TAG, STACK_TAG
from tools import endpoints
from tools.targets import NumberState, Target, UsageError, parse_target

READ_ONLY_NOTICE = (
    "make export is read-only: it calls only ListPhoneNumbersV2, DescribePhoneNumber, ListFlowAssociations, "
    "DescribeTrafficDistributionGroup and cloudformation:DescribeStackResource(s), and changes nothing."
)
# CloudFormation's quota of resources per stack ("Understand CloudFormation quotas").
RESOURCES_PER_STACK = 500
DEFAULT_PROVIDER_STACK = "phone-number-assignment"
# How long CloudFormation waits for each resource's answer (its default is an hour, also when the answer is
# lost; cfn-lint rule WPNA109): a little more than the provider function's 900 s timeout, before which it
# answers.
SERVICE_TIMEOUT = 960
# The Sub form keeps the template free of a literal partition, Region and account: cfn-lint and the rules
# accept it whatever Region they lint for, and in another account or Region the IDs name nothing, so a
# deployment there fails at the first Describe without changing anything.
ARN_PREFIX = "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:"


@dataclass(frozen=True)
class Number:
    id: str
    arn: str
    phone_number: str
    contact_flow_arn: str | None = None

    @property
    def logical_id(self) -> str:
        digits = "".join(c for c in self.phone_number if c.isdigit())
        return f"Number{digits}" if digits else f"Number{self.id.replace('-', '')}"


@dataclass
class Export:
    target: Target
    numbers: list[Number] = field(default_factory=list)
    # One line each for stderr: numbers left out and why, things the template does not declare.
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@functools.cache
def _session() -> Any:
    return boto3.session.Session()


def connect_client(target: Target) -> Any:
    return endpoints.client(_session(), "connect", target.region)


def cloudformation_client(target: Target) -> Any:
    return endpoints.client(_session(), "cloudformation", target.region)


def collect(client: Any, target: Target, prefix: str | None = None, cloudformation: Any = None) -> Export:
    """``cloudformation``: asked whether a native AWS::Connect::PhoneNumber holds each number (None: not
    asked, for callers that only render)."""
    export = Export(target)
    flows = _flows(client, target, export)
    listing: dict[str, Any] = {"TargetArn": target.arn}
    if prefix:
        listing["PhoneNumberPrefix"] = prefix
    for page in client.get_paginator("list_phone_numbers_v2").paginate(**listing):
        for summary in page.get("ListPhoneNumbersSummaryList", []):
            number = _adoptable(client, target, summary, export, cloudformation)
            if number is not None:
                export.numbers.append(
                    Number(number.id, number.arn, number.phone_number, flows.get(number.id))
                )
    export.numbers.sort(key=lambda n: (n.phone_number, n.id))
    return export


def _same_arn(first: str, second: str) -> bool:
    # Connect reports lower-case IDs; a user may have typed them in upper case.
    return first.lower() == second.lower()


def _adoptable(
    client: Any, target: Target, summary: Mapping[str, Any], export: Export, cloudformation: Any = None
) -> Number | None:
    """The listed number if a stack can adopt it as it is; otherwise None, with the reason in ``export``."""
    label = summary.get("PhoneNumber") or summary["PhoneNumberId"]
    listed_target = summary.get("TargetArn", "")
    if not _same_arn(listed_target, target.arn):
        # ListPhoneNumbersV2 on an instance also lists the numbers of its traffic distribution groups.
        export.skipped.append(
            f"skipped {label}: it is claimed to {listed_target}, not to the target; export that target for it"
        )
        return None
    described = client.describe_phone_number(PhoneNumberId=summary["PhoneNumberArn"])[
        "ClaimedPhoneNumberSummary"
    ]
    status = described.get("PhoneNumberStatus", {}).get("Status")
    if status != "CLAIMED" or not _same_arn(described.get("TargetArn", ""), target.arn):
        export.skipped.append(
            f"skipped {label}: it is {status} on {described.get('TargetArn')} (an operation is under way or "
            "failed); export again once it is CLAIMED"
        )
        return None
    tags = described.get("Tags") or {}
    if STACK_TAG in tags:
        export.skipped.append(
            f"skipped {label}: already assigned by {tags.get(LOGICAL_ID_TAG, '?')} in stack {tags[STACK_TAG]}"
        )
        return None
    if cloudformation is not None:
        reads = _NotedReads(cloudformation)
        state = NumberState(
            described["PhoneNumberArn"],
            described["PhoneNumberId"].lower(),
            described.get("PhoneNumber", ""),
            tags,
        )
        try:
            # The provider's own rule: a number a native AWS::Connect::PhoneNumber may still hold is not taken
            # (deleting that stack would release it). Declaring it would make the template refuse on deploy.
            stacks.refuse_if_managed_elsewhere(state, "", lambda: reads)  # type: ignore[arg-type]
        except ManagedByAnotherStack as refused:
            if reads.failure is None:
                export.skipped.append(f"skipped {label}: the provider would refuse it: {refused.reason}")
                return None
            # Your credentials could not ask, which says nothing of the provider's role: declared, and said.
            export.notes.append(
                f"note: {label}: whether a native AWS::Connect::PhoneNumber holds it is unknown "
                f"({reads.failure}: needs cloudformation:DescribeStackResources); it is declared, and the "
                "provider refuses it, changing nothing, if one does (make plan checks it before a deploy)"
            )
    # A number another stack's Create is taking right now has an ownership record but no tags yet; deploying
    # the export then fails on it with the provider's own "was taken by" Reason, changing nothing.
    return Number(
        described["PhoneNumberId"].lower(), described["PhoneNumberArn"], described.get("PhoneNumber", "")
    )


class _NotedReads:
    """A CloudFormation client that notes whether a read failed (as opposed to answering, "does not exist"
    included): what stacks.refuse_if_managed_elsewhere could not ask is not what it found."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failure: str | None = None

    def list_stack_resource_pages(self, **params: Any) -> Iterator[dict[str, Any]]:
        """The paged read the provider's stacks module asks for, with botocore's own paginator: for a
        stack whose DescribeStackResources answer stops at 100 resources."""
        with self._noting():
            yield from self._client.get_paginator("list_stack_resources").paginate(**params)

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)

        def noted(**params: Any) -> Any:
            with self._noting():
                return call(**params)

        return noted

    @contextlib.contextmanager
    def _noting(self) -> Iterator[None]:
        """Note a read that failed, and let it go on failing."""
        try:
            yield
        except ClientError as error:
            if not says_stack_or_resource_missing(error):
                self.failure = error_code(error)
            raise
        except BotoCoreError as error:
            self.failure = type(error).__name__
            raise


def _flows(client: Any, target: Target, export: Export) -> dict[str, str]:
    """Phone-number ID -> the ARN of the contact flow it is associated with in the target's instance.

    For a traffic distribution group that is the group's home instance, where the provider associates the
    flows of numbers on the group too.
    """
    flows: dict[str, str] = {}
    try:
        instance_arn = target.arn
        if not target.is_instance:
            group = client.describe_traffic_distribution_group(TrafficDistributionGroupId=target.arn)
            instance_arn = group["TrafficDistributionGroup"]["InstanceArn"]
        pages = client.get_paginator("list_flow_associations").paginate(
            InstanceId=instance_arn.rsplit("/", 1)[-1], ResourceType="VOICE_PHONE_NUMBER"
        )
        for page in pages:
            for association in page.get("FlowAssociationSummaryList", []):
                number_id = association["ResourceId"].rsplit("/", 1)[-1].lower()
                flow = association["FlowId"]
                if not flow.startswith("arn:"):
                    flow = f"{instance_arn}/contact-flow/{flow}"
                flows[number_id] = flow
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        export.notes.append(
            f"note: contact flows could not be read ({code}: connect:{error.operation_name}); the template "
            "declares no ContactFlowArn, and deploying it leaves the numbers' flow associations as they are"
        )
        return {}
    return flows


def _portable(arn: str) -> dict[str, str]:
    resource = arn.split(":", 5)[5]
    return {"Fn::Sub": ARN_PREFIX + resource}


def _service_token() -> dict[str, Any]:
    return {"Fn::ImportValue": {"Fn::Sub": "${ProviderStackName}-ServiceToken"}}


def _provider_stack_parameter(provider_stack_name: str) -> dict[str, Any]:
    return {
        "Type": "String",
        "Default": provider_stack_name,
        "Description": "Name of the stack deployed from template.yaml (exports <name>-ServiceToken).",
    }


def _description(export: Export) -> str:
    count = len(export.numbers)
    return (
        f"Adopts the {count} phone number{'s' if count != 1 else ''} claimed to {export.target.kind} "
        f"{export.target.id} (written by make export). Deploying it moves nothing: it puts the numbers under "
        "this stack."
    )


def render(export: Export, provider_stack_name: str = DEFAULT_PROVIDER_STACK, style: str = "foreach") -> str:
    """The template, as YAML, declaring every exported number where it is now."""
    if style == "resources":
        return render_resources(export, provider_stack_name)
    return render_foreach(export, provider_stack_name)


def render_resources(export: Export, provider_stack_name: str = DEFAULT_PROVIDER_STACK) -> str:
    """One resource per number, with literal IDs (``STYLE=resources``): to edit numbers one by one."""
    target = export.target
    resources: dict[str, Any] = {}
    for number in export.numbers:
        properties: dict[str, Any] = {
            schema.SERVICE_TOKEN: _service_token(),
            "PhoneNumberId": number.id,
            "TargetArn": _portable(target.arn),
            "OnDelete": schema.ON_DELETE_RETAIN,
            "ServiceTimeout": SERVICE_TIMEOUT,
        }
        if number.contact_flow_arn:
            properties["ContactFlowArn"] = _portable(number.contact_flow_arn)
        resources[number.logical_id] = {
            "Type": schema.RESOURCE_TYPE,
            "Metadata": {"PhoneNumber": number.phone_number},
            "Properties": properties,
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": _description(export),
        "Parameters": {"ProviderStackName": _provider_stack_parameter(provider_stack_name)},
        "Resources": resources,
    }
    header = (
        f"# Written by `make export TARGET={target.arn} STYLE=resources` (read-only).\n"
        "# OnDelete: Retain everywhere: deleting this stack later leaves every number where it is.\n"
    )
    return header + _yaml(template)


# Fn::ForEach (AWS::LanguageExtensions): the identifier each loop substitutes into its logical IDs. A
# mapping holds at most 200 attributes ("Understand CloudFormation quotas"), so a loop covers 200 numbers.
LOOP_IDENTIFIER = "Digits"
NUMBERS_PER_LOOP = 200
NO_FLOW_LOOP = "NumbersWithoutFlow"


def flow_parameters(flow_arns: Iterable[str]) -> dict[str, str]:
    """Flow ARN -> the name of the parameter that maps it: ``Flow`` and the first 8 hex digits of the flow's
    ID (all 32 if two of the flows share those 8), stable from one export to the next."""
    ids = {arn: arn.rsplit("/", 1)[-1].replace("-", "").lower() for arn in sorted(set(flow_arns))}
    short = {arn: flow_id[:8] for arn, flow_id in ids.items()}
    if len(set(short.values())) < len(short):
        short = ids
    return {arn: f"Flow{suffix[:1].upper()}{suffix[1:]}" for arn, suffix in short.items()}


def render_foreach(export: Export, provider_stack_name: str = DEFAULT_PROVIDER_STACK) -> str:
    """A template a migration changes with parameters alone (the default style).

    ``TargetArn`` is one parameter for every number, and each contact flow the numbers use now is one
    parameter (``Flow<id>``) defaulting to that flow: the flow mapping of a migration. The numbers that
    share a flow are one ``Fn::ForEach`` loop over a mapping of their logical-ID digits to their IDs, so
    the logical IDs are the ones ``STYLE=resources`` writes (``Number<digits>``): switching styles renames
    nothing.
    """
    target = export.target
    by_flow: dict[str | None, list[Number]] = {}
    for number in export.numbers:
        by_flow.setdefault(number.contact_flow_arn, []).append(number)
    flows = flow_parameters(arn for arn in by_flow if arn)
    parameters: dict[str, Any] = {
        "ProviderStackName": _provider_stack_parameter(provider_stack_name),
        "TargetArn": {
            "Type": "String",
            "Default": target.arn,
            "Description": (
                f"Where every number of this stack is claimed: {schema.DESCRIPTIONS['TargetArn']}. "
                f"Exported from {target.arn}; set another to move them all."
            ),
        },
    }
    for arn, name in sorted(flows.items(), key=lambda item: item[1]):
        count = len(by_flow[arn])
        parameters[name] = {
            "Type": "String",
            "Default": arn,
            "Description": (
                f"Contact flow of the {count} number{'s' if count != 1 else ''} now routed to {arn}: "
                f"{schema.DESCRIPTIONS['ContactFlowArn']}. With another TargetArn, the flow that replaces "
                "this one there."
            ),
        }
    mappings: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    groups = sorted(by_flow.items(), key=lambda item: flows.get(item[0] or "", "~"))
    for arn, numbers in groups:
        base = f"{flows[arn]}Numbers" if arn else NO_FLOW_LOOP
        chunks = [numbers[i : i + NUMBERS_PER_LOOP] for i in range(0, len(numbers), NUMBERS_PER_LOOP)]
        for index, chunk in enumerate(chunks, start=1):
            loop = base if len(chunks) == 1 else f"{base}Part{index}"
            keys = [number.logical_id.removeprefix("Number") for number in chunk]
            mappings[loop] = {
                key: {"PhoneNumberId": number.id, "PhoneNumber": number.phone_number}
                for key, number in zip(keys, chunk, strict=True)
            }
            properties: dict[str, Any] = {
                schema.SERVICE_TOKEN: _service_token(),
                "PhoneNumberId": {"Fn::FindInMap": [loop, {"Ref": LOOP_IDENTIFIER}, "PhoneNumberId"]},
                "TargetArn": {"Ref": "TargetArn"},
                "OnDelete": schema.ON_DELETE_RETAIN,
                "ServiceTimeout": SERVICE_TIMEOUT,
            }
            if arn:
                properties["ContactFlowArn"] = {"Ref": flows[arn]}
            resources[f"Fn::ForEach::{loop}"] = [
                LOOP_IDENTIFIER,
                keys,
                {f"Number${{{LOOP_IDENTIFIER}}}": {"Type": schema.RESOURCE_TYPE, "Properties": properties}},
            ]
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::LanguageExtensions",
        "Description": _description(export),
        "Parameters": parameters,
        "Mappings": mappings,
        "Resources": resources,
    }
    overrides = " ".join(
        ["TargetArn=<new target ARN>", *(f"{name}=<flow ARN>" for name in sorted(flows.values()))]
    )
    header = (
        f"# Written by `make export TARGET={target.arn}` (read-only).\n"
        "# As written it declares every number where it is, routed to the flow it has: deploying it moves\n"
        "# nothing. To move them all, deploy it again with the new target and, for each flow parameter, the\n"
        "# flow that takes its place in the new target's instance:\n"
        f"#   --parameter-overrides {overrides}\n"
        + (
            f"# Numbers in {NO_FLOW_LOOP} have no flow now, and get none there either.\n"
            if None in by_flow
            else ""
        )
        + "# OnDelete: Retain everywhere: deleting this stack later leaves every number where it is.\n"
    )
    return header + _yaml(template)


def _yaml(template: Mapping[str, Any]) -> str:
    """The template as block YAML in its own key order, read back the same by every YAML reader (PyYAML's
    safe dumper quotes a string that would read as something else: yes, 1e3, +1206...)."""
    return yaml.safe_dump(dict(template), sort_keys=False, allow_unicode=True, width=1000)


def _report(lines: Iterable[str], stream: TextIO) -> None:
    for line in lines:
        print(line, file=stream)


def main(argv: list[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="make export", description="Print a template that adopts the numbers on a Connect target."
    )
    parser.add_argument("target", help="ARN of the Connect instance or traffic distribution group")
    parser.add_argument("--prefix", help="only numbers starting with this prefix, e.g. +1206 (to split)")
    parser.add_argument("--provider-stack-name", default=DEFAULT_PROVIDER_STACK)
    parser.add_argument(
        "--style",
        choices=("foreach", "resources"),
        default="foreach",
        help="foreach (default): Fn::ForEach over the numbers, TargetArn and one Flow parameter per flow; "
        "resources: one resource per number with literal IDs",
    )
    args = parser.parse_args(argv)
    try:
        target = parse_target(args.target)
    except UsageError as error:
        print(f"make export: {error}", file=stderr)
        return 2
    print(READ_ONLY_NOTICE, file=stderr)
    try:
        export = collect(connect_client(target), target, args.prefix, cloudformation_client(target))
    except endpoints.Unreachable as error:
        print(f"make export: {error}", file=stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"make export: reading {target.arn} failed: {error}", file=stderr)
        return 1
    _report(export.notes + export.skipped, stderr)
    if not export.numbers:
        print(f"make export: no number on {target.arn} to adopt; no template written.", file=stderr)
        return 1
    if len(export.numbers) > RESOURCES_PER_STACK:
        print(
            f"warning: {len(export.numbers)} numbers, but a stack holds at most {RESOURCES_PER_STACK} "
            "resources: split the estate with PREFIX= (e.g. by area code) into several stacks.",
            file=stderr,
        )
    stdout.write(render(export, args.provider_stack_name, args.style))
    count = len(export.numbers)
    print(f"Exported {count} number{'s' if count != 1 else ''} on {target.arn}.", file=stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
