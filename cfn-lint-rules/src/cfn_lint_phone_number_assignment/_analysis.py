"""What the Custom::PhoneNumberAssignment rules know about a template: its assignments and the values their
properties resolve to. The rule classes live in rules.py.

Values are resolved as far as a template allows without deploying it. A literal stays itself. Pseudo
parameters become placeholder tokens (they are always the stack's own). The ARN of an AWS::Connect resource
declared in the same template (Fn::GetAtt, or ${Resource.Attribute} in Fn::Sub) becomes an ARN with a
made-up ID derived from its logical ID: two references to the same resource resolve alike and to no other
resource. A parameter becomes a made-up ID of its own: good enough to tell that two properties name the same
parameter, never checked for shape. Anything else (imports, mappings cfn-lint could not resolve, other
functions) is unknown, and no rule judges it.
"""

from __future__ import annotations

import difflib
import functools
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import UnknownRegionError
from botocore.session import get_session
from botocore.utils import ArnParser, InvalidArnException

from . import schema

ARN_PROPERTIES = ("PhoneNumberId", "TargetArn", "ContactFlowArn")
ALLOWED = frozenset((*schema.REQUIRED, *schema.OPTIONAL, *schema.CLOUDFORMATION_PROPERTIES))
# What a declaration may set, as the provider lists it: ServiceTimeout too (ServiceToken is checked apart).
DECLARED = (*schema.REQUIRED, *schema.OPTIONAL, schema.SERVICE_TIMEOUT)

# Placeholders for pseudo parameters: no colon (they sit inside ARNs) and nothing a real ARN contains.
PARTITION = "\u27e6AWS.Partition\u27e7"
REGION = "\u27e6AWS.Region\u27e7"
ACCOUNT = "\u27e6AWS.AccountId\u27e7"
PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
PSEUDO_SPELLING = {token: "${" + name + "}" for name, token in PSEUDO.items()}

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_arn_parser = ArnParser()
_NAMESPACE = uuid.UUID("6f1c2b7e-3a51-4c1e-9d55-2f4be1c1a3d0")


@dataclass(frozen=True)
class Value:
    """One thing a property can evaluate to.

    ``text`` is the value with placeholders for what only deploying reveals; ``checkable`` is False when a
    parameter supplied part of it (its shape is the parameter's business).
    """

    text: str
    checkable: bool = True


@dataclass
class Assignment:
    logical_id: str
    resource: Mapping[str, Any]
    properties: Mapping[str, Any] | None

    @property
    def path(self) -> list[Any]:
        return ["Resources", self.logical_id]

    @property
    def properties_path(self) -> list[Any]:
        return [*self.path, "Properties"]

    @property
    def condition(self) -> str | None:
        condition = self.resource.get("Condition")
        return condition if isinstance(condition, str) else None


@dataclass
class Analysis:
    """One template, seen by every rule."""

    cfn: Any
    assignments: list[Assignment] = field(default_factory=list)
    # Made-up ID -> how a message names it ("parameter InstanceArn", "ContactCenter (in this template)").
    synthetic: dict[str, str] = field(default_factory=dict)
    parameter_ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, cfn: Any) -> Analysis:
        analysis = cls(cfn)
        for logical_id, resource in cfn.get_resources([schema.RESOURCE_TYPE]).items():
            properties = resource.get("Properties")
            analysis.assignments.append(
                Assignment(logical_id, resource, properties if isinstance(properties, Mapping) else None)
            )
        return analysis

    # ---- resolving values ---------------------------------------------------------------------------------

    def values(self, node: Any, depth: int = 0) -> list[Value | None]:
        """Every value ``node`` can take (Fn::If has two); None stands for one this analysis cannot know."""
        if depth > 10:
            return [None]
        if isinstance(node, str):
            return [Value(str(node))]
        if not isinstance(node, Mapping) or len(node) != 1:
            return [None]
        [(function, argument)] = node.items()
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::GetAtt":
            return [self._get_att(argument, depth)]
        if function == "Fn::Sub":
            return [self._sub(argument, depth)]
        if function == "Fn::Join":
            return [self._join(argument, depth)]
        if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            return [*self.values(argument[1], depth + 1), *self.values(argument[2], depth + 1)]
        return [None]

    def single_value(self, node: Any) -> Value | None:
        values = self.values(node)
        return values[0] if len(values) == 1 else None

    def _ref(self, name: Any) -> list[Value | None]:
        if name == "AWS::NoValue":
            return []
        if name in PSEUDO:
            return [Value(PSEUDO[name])]
        if isinstance(name, str) and name in self.parameters:
            return [Value(self.parameter_id(name), checkable=False)]
        return [None]

    @property
    def parameters(self) -> Mapping[str, Any]:
        parameters = self.cfn.template.get("Parameters")
        return parameters if isinstance(parameters, Mapping) else {}

    def parameter_id(self, name: str) -> str:
        made_up = self._made_up("parameter", name, f"parameter {name}")
        self.parameter_ids.add(made_up)
        return made_up

    def _made_up(self, kind: str, name: str, display: str) -> str:
        made_up = str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))
        self.synthetic[made_up] = display
        return made_up

    def _get_att(self, argument: Any, depth: int) -> Value | None:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        logical_id, attribute = argument
        if not isinstance(logical_id, str) or not isinstance(attribute, str):
            return None
        return self.resource_attribute(logical_id, attribute, depth)

    def resource_attribute(self, logical_id: str, attribute: str, depth: int = 0) -> Value | None:
        resource = self.cfn.template.get("Resources", {}).get(logical_id)
        if not isinstance(resource, Mapping):
            return None
        kind = resource.get("Type")
        prefix = f"arn:{PARTITION}:connect:{REGION}:{ACCOUNT}:"
        if kind == "AWS::Connect::Instance" and attribute == "Arn":
            made_up = self._made_up("instance", logical_id, f"{logical_id} (in this template)")
            return Value(f"{prefix}instance/{made_up}")
        if kind == "AWS::Connect::TrafficDistributionGroup" and attribute == "TrafficDistributionGroupArn":
            made_up = self._made_up("tdg", logical_id, f"{logical_id} (in this template)")
            return Value(f"{prefix}traffic-distribution-group/{made_up}")
        if kind == "AWS::Connect::PhoneNumber" and attribute == "PhoneNumberArn":
            made_up = self._made_up("number", logical_id, f"{logical_id} (in this template)")
            return Value(f"{prefix}phone-number/{made_up}")
        if kind == "AWS::Connect::ContactFlow" and attribute == "ContactFlowArn":
            return self._contact_flow(logical_id, resource, depth)
        return None

    def _contact_flow(self, logical_id: str, resource: Mapping[str, Any], depth: int) -> Value | None:
        properties = resource.get("Properties")
        if not isinstance(properties, Mapping):
            return None
        instance = self.values(properties.get("InstanceArn"), depth + 1)
        if len(instance) != 1 or instance[0] is None:
            return None
        instance_key = self.instance_key(instance[0])
        if instance_key is None:
            return None
        made_up = self._made_up("flow", logical_id, f"{logical_id} (in this template)")
        prefix = f"arn:{PARTITION}:connect:{REGION}:{ACCOUNT}:"
        return Value(f"{prefix}instance/{instance_key}/contact-flow/{made_up}", instance[0].checkable)

    def _sub(self, argument: Any, depth: int) -> Value | None:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], Mapping):
            argument, variables = argument
        if not isinstance(argument, str):
            return None
        pieces: list[str] = []
        checkable = True
        position = 0
        for match in SUB_VARIABLE.finditer(argument):
            pieces.append(argument[position : match.start()])
            position = match.end()
            name = match[1]
            if name.startswith("!"):  # ${!Literal} is written as ${Literal}
                pieces.append("${" + name[1:] + "}")
                continue
            if name in variables:
                value = self.single_value(variables[name]) if depth < 10 else None
            elif name in PSEUDO or name in self.parameters:
                [value] = self._ref(name)
            elif "." in name:
                value = self._get_att(name, depth + 1)
            else:
                value = None
            if value is None:
                return None
            pieces.append(value.text)
            checkable = checkable and value.checkable
        pieces.append(argument[position:])
        return Value("".join(pieces), checkable)

    def _join(self, argument: Any, depth: int) -> Value | None:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            return None
        delimiter, parts = argument
        if not isinstance(parts, list):
            return None
        values = [self.single_value(part) if depth < 10 else None for part in parts]
        if any(value is None for value in values):
            return None
        return Value(delimiter.join(v.text for v in values), all(v.checkable for v in values))  # type: ignore[union-attr]

    # ---- reading resolved values ------------------------------------------------------------------------

    def instance_key(self, value: Value) -> str | None:
        """Which instance ``value`` names: its ID, a template resource's made-up ID, or a parameter's."""
        if value.text in self.parameter_ids:
            return value.text
        resource = connect_resource(value.text)
        if resource is None:
            return None
        match = schema.INSTANCE_RESOURCE.fullmatch(resource)
        return match["id"].lower() if match else None

    def flow_instance_key(self, value: Value) -> str | None:
        resource = connect_resource(value.text)
        match = schema.CONTACT_FLOW_RESOURCE.fullmatch(resource or "")
        return match["instance_id"].lower() if match else None

    def number_key(self, value: Value) -> str | None:
        """The phone number's ID as the provider normalises it (ID and ARN of one number are one number)."""
        if value.text in self.parameter_ids or schema.UUID_PATTERN.fullmatch(value.text):
            return value.text.lower()
        resource = connect_resource(value.text)
        match = schema.PHONE_NUMBER_RESOURCE.fullmatch(resource or "")
        return match["id"].lower() if match else None

    def is_parameter_key(self, key: str) -> bool:
        return key in self.parameter_ids

    def show(self, value: Value | str) -> str:
        """A value as the template's author wrote it: placeholders back to their names."""
        text = value.text if isinstance(value, Value) else value
        for token, spelling in PSEUDO_SPELLING.items():
            text = text.replace(token, spelling)
        for made_up, display in self.synthetic.items():
            text = text.replace(made_up, f"<{display}>")
        return repr(text) if len(text) <= 120 else repr(text[:117] + "...")

    def name(self, key: str) -> str:
        return self.synthetic.get(key, key)

    def can_coexist(self, first: Assignment, second: Assignment) -> bool:
        """False only when the resources' Conditions can never both be true."""
        conditions = {c: {True} for c in (first.condition, second.condition) if c}
        if len(conditions) < 2:
            return True
        try:
            return any(True for _ in self.cfn.conditions.build_scenarios(conditions))
        except Exception:  # noqa: BLE001 - cfn-lint's solver; when it cannot tell, assume they can
            return True


def connect_resource(text: str) -> str | None:
    """The resource part of a Connect ARN, or None if ``text`` is not one."""
    parts = parse_arn(text)
    if parts is None or parts["service"] != "connect":
        return None
    return parts["resource"]


def parse_arn(text: str) -> dict[str, str] | None:
    if not text.startswith("arn:"):
        return None
    try:
        return _arn_parser.parse_arn(text)
    except InvalidArnException:
        return None


def is_account(text: str) -> bool:
    return text == ACCOUNT or bool(schema.ACCOUNT_PATTERN.fullmatch(text))


@functools.cache
def partition_of(region: str) -> str | None:
    """The partition a Region belongs to, from botocore's endpoint data; None for no known partition."""
    try:
        return get_session().get_partition_for_region(region)
    except UnknownRegionError:
        return None


def closest_property(name: str) -> str | None:
    same_but_case = [known for known in DECLARED if known.lower() == name.lower()]
    if same_but_case:
        return same_but_case[0]
    hint = difflib.get_close_matches(name, DECLARED, n=1, cutoff=0.6)
    return hint[0] if hint else None


def get_att_references(cfn: Any) -> Iterator[tuple[list[Any], str, str]]:
    """(path, logical ID, attribute) of every Fn::GetAtt and ${Resource.Attribute} in the template."""
    for path in cfn.search_deep_keys("Fn::GetAtt", includeGlobals=False):
        argument = path[-1]
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            yield path[:-1], argument[0], argument[1]
    for path in cfn.search_deep_keys("Fn::Sub", includeGlobals=False):
        argument = path[-1]
        text = argument[0] if isinstance(argument, list) and argument else argument
        if not isinstance(text, str):
            continue
        variables = argument[1] if isinstance(argument, list) and len(argument) == 2 else {}
        for match in SUB_VARIABLE.finditer(text):
            name = match[1]
            if "." in name and not name.startswith("!") and name not in (variables or {}):
                logical_id, attribute = name.split(".", 1)
                yield path[:-1], logical_id, attribute
