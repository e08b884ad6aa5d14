"""cfn-lint rules for Custom::PhoneNumberAssignment: catch a wrong declaration before a stack operation does.

Use: ``cfn-lint -a cfn_lint_phone_number_assignment.rules template.yaml`` (or ``append_rules:
[cfn_lint_phone_number_assignment.rules]`` in .cfnlintrc): cfn-lint imports this module and runs every
CloudFormationLintRule subclass in it. cfn-lint maps every Custom::* type to one generic schema, so without
these rules a misspelt property, a malformed ARN or a number declared twice only shows up when CloudFormation
reaches the resource. The property names, allowed values and ARN shapes come from schema.py, a copy of the
provider's own (tests/cfn_lint_rules keep the two equal). Why the IDs are EPNAnnn/WPNAnnn: the package's
README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import _analysis as support
from . import schema

TYPE = schema.RESOURCE_TYPE


class UnknownProperty(CloudFormationLintRule):
    id = "EPNA101"
    shortdesc = f"{TYPE}: unknown property"
    description = f"Every property of a {TYPE} must be one the provider knows; it rejects anything else."
    tags: ClassVar[list[str]] = ["resources", "custom", "phone-number-assignment"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        allowed = ", ".join(support.DECLARED)
        for assignment in support.Analysis.of(cfn).assignments:
            for name in assignment.properties or {}:
                if name in support.ALLOWED:
                    continue
                closest = support.closest_property(str(name))
                fix = f"Did you mean {closest}?" if closest else f"Remove it; allowed: {allowed}."
                matches.append(
                    RuleMatch(
                        [*assignment.properties_path, name],
                        f"{assignment.logical_id}: unknown property {name!r} of {TYPE}. {fix}",
                    )
                )
        return matches


class MissingProperty(CloudFormationLintRule):
    id = "EPNA102"
    shortdesc = f"{TYPE}: missing required property"
    description = f"A {TYPE} needs ServiceToken, PhoneNumberId and TargetArn."
    tags = UnknownProperty.tags

    FIXES: ClassVar[dict[str, str]] = {
        schema.SERVICE_TOKEN: "the provider's function ARN, e.g. "
        "!ImportValue phone-number-assignment-ServiceToken (the provider stack's export)",
        **schema.DESCRIPTIONS,
    }

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for assignment in support.Analysis.of(cfn).assignments:
            present = assignment.properties or {}
            for name in (schema.SERVICE_TOKEN, *schema.REQUIRED):
                if name not in present:
                    path = (
                        assignment.properties_path if "Properties" in assignment.resource else assignment.path
                    )
                    matches.append(
                        RuleMatch(
                            path,
                            f"{assignment.logical_id}: {TYPE} requires {name}. "
                            f"Add {name}: {self.FIXES[name]}.",
                        )
                    )
        return matches


def _not_a_string(node: Any) -> bool:
    """True for a literal that is not a string: a number, a list, a map that is no intrinsic function."""
    if isinstance(node, str):
        return False
    return not (
        isinstance(node, dict) and len(node) == 1 and str(next(iter(node))).startswith(("Fn::", "Ref"))
    )


class OnDeleteValue(CloudFormationLintRule):
    id = "EPNA103"
    shortdesc = f"{TYPE}: OnDelete must be Retain or Restore"
    description = (
        "OnDelete is Retain (leave the number where it is) or Restore (move it back); case-sensitive."
    )
    tags = UnknownProperty.tags

    def match(self, cfn: Any) -> list[RuleMatch]:
        analysis = support.Analysis.of(cfn)
        matches = []
        for assignment in analysis.assignments:
            properties = assignment.properties or {}
            if "OnDelete" not in properties:
                continue
            node = properties["OnDelete"]
            path = [*assignment.properties_path, "OnDelete"]
            if _not_a_string(node):
                matches.append(RuleMatch(path, self._message(assignment.logical_id, node)))
                continue
            if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in analysis.parameters:
                matches.extend(self._parameter(analysis, node["Ref"]))
                continue
            for value in analysis.values(node):
                if value is not None and value.checkable and value.text not in schema.ON_DELETE_VALUES:
                    matches.append(RuleMatch(path, self._message(assignment.logical_id, value.text)))
        return matches

    def _parameter(self, analysis: Any, name: str) -> list[RuleMatch]:
        """OnDelete from a parameter: every value the parameter allows must be valid, and its default."""
        parameter = analysis.parameters[name]
        if not isinstance(parameter, dict):
            return []
        matches = []
        default = parameter.get("Default")
        if isinstance(default, str) and default not in schema.ON_DELETE_VALUES:
            matches.append(
                RuleMatch(["Parameters", name, "Default"], self._message(f"parameter {name}", default))
            )
        allowed = parameter.get("AllowedValues")
        for index, value in enumerate(allowed if isinstance(allowed, list) else []):
            if str(value) not in schema.ON_DELETE_VALUES:
                matches.append(
                    RuleMatch(
                        ["Parameters", name, "AllowedValues", index],
                        self._message(f"parameter {name}'s AllowedValues", value),
                    )
                )
        return matches

    @staticmethod
    def _message(where: str, value: Any) -> str:
        choices = " or ".join(schema.ON_DELETE_VALUES)
        same_but_case = [
            c for c in schema.ON_DELETE_VALUES if isinstance(value, str) and c.lower() == value.lower()
        ]
        fix = f"Write {same_but_case[0]} (values are case-sensitive)." if same_but_case else f"Use {choices}."
        return f"{where}: OnDelete must be {choices}; got {value!r}. {fix}"


class ValueShape(CloudFormationLintRule):
    id = "EPNA104"
    shortdesc = f"{TYPE}: PhoneNumberId, TargetArn or ContactFlowArn of the wrong shape"
    description = (
        "PhoneNumberId is a phone number's ID (UUID) or phone-number ARN; TargetArn a Connect instance or "
        "traffic distribution group ARN; ContactFlowArn a contact-flow ARN."
    )
    tags = UnknownProperty.tags

    def match(self, cfn: Any) -> list[RuleMatch]:
        analysis = support.Analysis.of(cfn)
        matches = []
        for assignment in analysis.assignments:
            properties = assignment.properties or {}
            for name in support.ARN_PROPERTIES:
                if name not in properties:
                    continue
                path = [*assignment.properties_path, name]
                node = properties[name]
                where = f"{assignment.logical_id}: {name}"
                if _not_a_string(node):
                    matches.append(
                        RuleMatch(
                            path, f"{where} must be a string, {schema.DESCRIPTIONS[name]}; got {node!r}."
                        )
                    )
                    continue
                for value in analysis.values(node):
                    if value is None or not value.checkable:
                        continue
                    problem = self._problem(name, value.text)
                    if problem:
                        matches.append(RuleMatch(path, f"{where} is {analysis.show(value)}: it {problem}."))
        return matches

    @staticmethod
    def _problem(name: str, text: str) -> str | None:
        """What is wrong with ``text`` as property ``name``, with the fix; None if nothing is."""
        expected = f"must be {schema.DESCRIPTIONS[name]}"
        if name == "PhoneNumberId" and schema.UUID_PATTERN.fullmatch(text):
            return None
        if name == "ContactFlowArn" and text == "":
            return None  # the provider reads an empty ContactFlowArn as none
        if name == "PhoneNumberId" and text.lstrip("+").isdigit():
            return (
                f"{expected}, not the number itself: use its ID from `aws connect list-phone-numbers-v2` "
                "(or `make export` for all numbers of a target)"
            )
        parts = support.parse_arn(text)
        if parts is None:
            return f"{expected} (arn:<partition>:connect:<region>:<account>:...)"
        if parts["service"] != "connect" or not support.is_account(parts["account"]):
            return f"{expected}: this is not an Amazon Connect ARN"
        resource = parts["resource"]
        wanted = {
            "PhoneNumberId": (schema.PHONE_NUMBER_RESOURCE,),
            "TargetArn": (schema.INSTANCE_RESOURCE, schema.TRAFFIC_DISTRIBUTION_GROUP_RESOURCE),
            "ContactFlowArn": (schema.CONTACT_FLOW_RESOURCE,),
        }[name]
        if any(pattern.fullmatch(resource) for pattern in wanted):
            return None
        return f"{expected}, but this ARN names {_kind_of(resource)}"


def _kind_of(resource: str) -> str:
    for pattern, kind in (
        (schema.PHONE_NUMBER_RESOURCE, "a phone number"),
        (schema.CONTACT_FLOW_RESOURCE, "a contact flow"),
        (schema.INSTANCE_RESOURCE, "an instance"),
        (schema.TRAFFIC_DISTRIBUTION_GROUP_RESOURCE, "a traffic distribution group"),
    ):
        if pattern.fullmatch(resource):
            return kind
    return f"{resource.split('/', 1)[0]!r} (or an ID that is not a UUID)"


class PartitionAndRegion(CloudFormationLintRule):
    id = "EPNA105"
    shortdesc = f"{TYPE}: an ARN whose partition or Region cannot be the stack's"
    description = (
        "The provider accepts only ARNs in its own partition and Region, which are the stack's (a custom "
        "resource's function is in the stack's Region): a literal ARN elsewhere can never work."
    )
    tags = UnknownProperty.tags

    FIX = "Write the ARN with !Sub and ${AWS::Partition}/${AWS::Region}"

    def match(self, cfn: Any) -> list[RuleMatch]:
        regions = list(cfn.regions)
        partitions = {support.partition_of(region) for region in regions}
        matches = []
        first_region: tuple[str, str] | None = None  # (region, where) of the first literal Region
        for path, where, parts in self._literal_arns(support.Analysis.of(cfn)):
            partition, region = parts["partition"], parts["region"]
            problem = self._problem(partition, region, regions, partitions)
            if problem is None and region != support.REGION:
                if first_region is None:
                    first_region = (region, where)
                elif region != first_region[0]:
                    problem = (
                        f"names Region {region}, but {first_region[1]} names {first_region[0]}: a stack "
                        "deploys in one Region and the provider manages only that Region's numbers"
                    )
            if problem:
                matches.append(RuleMatch(path, f"{where} {problem}. {self.FIX}."))
        return matches

    @staticmethod
    def _literal_arns(analysis: Any) -> Iterator[tuple[list[Any], str, dict[str, str]]]:
        """(path, description, ARN parts) of every ARN the assignments spell out, in document order."""
        for assignment in analysis.assignments:
            properties = assignment.properties or {}
            for name in (schema.SERVICE_TOKEN, *support.ARN_PROPERTIES):
                for value in analysis.values(properties[name]) if name in properties else []:
                    parts = support.parse_arn(value.text) if value is not None and value.checkable else None
                    # An ARN without a Region (S3, IAM) is EPNA104's: it is no Connect ARN at all.
                    if parts is not None and parts["region"]:
                        yield [*assignment.properties_path, name], f"{assignment.logical_id}: {name}", parts

    @staticmethod
    def _problem(partition: str, region: str, regions: list[str], partitions: set[str | None]) -> str | None:
        linted = ", ".join(regions)
        if region == support.REGION:
            if partition != support.PARTITION and partition not in partitions:
                return f"names partition {partition!r}, which is not the partition of {linted}"
            return None
        region_partition = support.partition_of(region)
        if region_partition is None:
            return f"names {region!r}, which is not an AWS Region"
        if partition != support.PARTITION and partition != region_partition:
            return (
                f"names partition {partition!r} with Region {region}, which is in partition "
                f"{region_partition!r}"
            )
        if region not in regions:
            return (
                f"names Region {region}, but the template is linted for {linted}; the provider manages only "
                f"numbers in the stack's own Region (lint with --regions {region} if the stack deploys there)"
            )
        return None


class ContactFlowInstance(CloudFormationLintRule):
    id = "EPNA106"
    shortdesc = f"{TYPE}: ContactFlowArn in another instance than TargetArn"
    description = (
        "When TargetArn is an instance, the contact flow must be one of that instance's flows. Checked when "
        "both resolve: literals, Fn::GetAtt of AWS::Connect::Instance / AWS::Connect::ContactFlow, Fn::Sub."
    )
    tags = UnknownProperty.tags

    def match(self, cfn: Any) -> list[RuleMatch]:
        analysis = support.Analysis.of(cfn)
        matches = []
        for assignment in analysis.assignments:
            properties = assignment.properties or {}
            if "ContactFlowArn" not in properties or "TargetArn" not in properties:
                continue
            problem = self._problem(analysis, properties["ContactFlowArn"], properties["TargetArn"])
            if problem:
                matches.append(
                    RuleMatch(
                        [*assignment.properties_path, "ContactFlowArn"], f"{assignment.logical_id}: {problem}"
                    )
                )
        return matches

    @staticmethod
    def _problem(analysis: Any, flow_node: Any, target_node: Any) -> str | None:
        for flow in analysis.values(flow_node):
            flow_instance = analysis.flow_instance_key(flow) if flow is not None else None
            if flow_instance is None or analysis.is_parameter_key(flow_instance):
                continue
            for target in analysis.values(target_node):
                # Only an instance target is checked: which flows go with a traffic distribution group is the
                # provider's business (it may accept flows of the group's home instance).
                target_instance = analysis.instance_key(target) if target is not None else None
                if target_instance is None or analysis.is_parameter_key(target_instance):
                    continue
                if target_instance != flow_instance:
                    return (
                        f"ContactFlowArn is a flow of instance {analysis.name(flow_instance)}, but TargetArn "
                        f"is instance {analysis.name(target_instance)}. Use a flow of the target instance "
                        "(e.g. !GetAtt <flow>.ContactFlowArn of a flow whose InstanceArn is the TargetArn)."
                    )
        return None


class DuplicateNumber(CloudFormationLintRule):
    id = "EPNA107"
    shortdesc = f"{TYPE}: one phone number declared by two resources"
    description = (
        "Two resources of one stack that declare the same number: the provider lets one of them take it and "
        "fails the other, so the stack operation fails and rolls back. Same literal, same parameter, or the "
        "ID and the ARN of one number; Fn::ForEach expansions included."
    )
    tags = UnknownProperty.tags

    def match(self, cfn: Any) -> list[RuleMatch]:
        analysis = support.Analysis.of(cfn)
        matches = []
        seen: dict[str, list[Any]] = {}
        for assignment in analysis.assignments:
            node = (assignment.properties or {}).get("PhoneNumberId")
            value = analysis.single_value(node) if node is not None else None
            key = analysis.number_key(value) if value is not None else None
            if key is None:
                continue
            earlier = [other for other in seen.get(key, []) if analysis.can_coexist(other, assignment)]
            if earlier:
                how = (
                    f"parameter {analysis.name(key).removeprefix('parameter ')}"
                    if analysis.is_parameter_key(key)
                    else f"phone number {analysis.name(key)}"
                )
                matches.append(
                    RuleMatch(
                        [*assignment.properties_path, "PhoneNumberId"],
                        f"{assignment.logical_id} declares the same {how} as {earlier[0].logical_id}: the "
                        "provider lets one of them take it and fails the other ('already declared by ... in "
                        "this stack'), so the stack operation would fail and roll back. Declare each number "
                        "once (to rename a resource, change its logical ID in a single update).",
                    )
                )
            seen.setdefault(key, []).append(assignment)
        return matches


class UnknownAttribute(CloudFormationLintRule):
    id = "EPNA108"
    shortdesc = f"{TYPE}: Fn::GetAtt of an attribute the resource does not return"
    description = f"A {TYPE} returns {', '.join(schema.RETURN_ATTRIBUTES)}; Ref is the number's ARN."
    tags = UnknownProperty.tags

    # What other resources call these attributes (AWS::Connect::PhoneNumber's Arn, ...).
    USUAL_NAMES: ClassVar[dict[str, str]] = {
        "arn": "PhoneNumberArn",
        "id": "PhoneNumberId",
        "address": "PhoneNumber",
        "e164": "PhoneNumber",
    }

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources", {})
        matches = []
        for path, logical_id, attribute in support.get_att_references(cfn):
            resource = resources.get(logical_id)
            if not isinstance(resource, dict) or resource.get("Type") != TYPE:
                continue
            if attribute in schema.RETURN_ATTRIBUTES:
                continue
            closest = [a for a in schema.RETURN_ATTRIBUTES if a.lower() == attribute.lower()]
            if not closest and attribute.lower() in self.USUAL_NAMES:
                closest = [self.USUAL_NAMES[attribute.lower()]]
            closest = closest or support.difflib.get_close_matches(attribute, schema.RETURN_ATTRIBUTES, n=1)
            fix = f"Did you mean {closest[0]}?" if closest else "Use one of those."
            matches.append(
                RuleMatch(
                    path,
                    f"{logical_id} ({TYPE}) has no attribute {attribute!r}; it returns "
                    f"{', '.join(schema.RETURN_ATTRIBUTES)}. {fix}",
                )
            )
        return matches


class ServiceTimeoutMissing(CloudFormationLintRule):
    id = "WPNA109"
    shortdesc = f"{TYPE}: no ServiceTimeout"
    description = (
        "Without ServiceTimeout CloudFormation waits 3600 s (its default) for an answer that was lost before "
        "it fails the resource; set it (1-3600 s) to bound that wait."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
        "aws-resource-cloudformation-customresource.html#cfn-cloudformation-customresource-servicetimeout"
    )
    tags = UnknownProperty.tags

    # The provider's function (template.yaml) times out after 900 s and answers before then.
    SUGGESTED = 960

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for assignment in support.Analysis.of(cfn).assignments:
            # No Properties at all is EPNA102's finding (ServiceToken and the rest are missing too).
            if assignment.properties is None or "ServiceTimeout" in assignment.properties:
                continue
            matches.append(
                RuleMatch(
                    assignment.properties_path,
                    f"{assignment.logical_id}: no ServiceTimeout, so if the provider's answer is lost "
                    "CloudFormation waits an hour (its default) before it fails the resource. Add "
                    f"ServiceTimeout: seconds from 1 to 3600, e.g. {self.SUGGESTED} (the provider's function "
                    "times out after 900 s and answers before then).",
                )
            )
        return matches


class RetainOnCreate(CloudFormationLintRule):
    id = "WPNA110"
    shortdesc = f"{TYPE}: DeletionPolicy: Retain keeps a failed creation's number moved"
    description = (
        "CloudFormation sends no Delete for a resource with DeletionPolicy: Retain, not even when the stack "
        "operation that created it rolls back, so the number stays where that failed deployment moved it. "
        "RetainExceptOnCreate retains the resource like Retain, except when its creation rolls back."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"
    )
    tags = UnknownProperty.tags

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for assignment in support.Analysis.of(cfn).assignments:
            if assignment.resource.get("DeletionPolicy") != "Retain":
                continue
            matches.append(
                RuleMatch(
                    [*assignment.path, "DeletionPolicy"],
                    f"{assignment.logical_id}: DeletionPolicy: Retain, so if the stack operation that "
                    "creates it rolls back CloudFormation sends no Delete and the number stays where the "
                    "failed deployment moved it. Use DeletionPolicy: RetainExceptOnCreate (the number goes "
                    "back when its creation rolls back; retained otherwise, as for a hand-over), or leave "
                    "DeletionPolicy out: OnDelete: Retain (the default) already keeps the number where it "
                    "is on a deliberate deletion.",
                )
            )
        return matches
