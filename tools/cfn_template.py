"""Read a CloudFormation template and resolve its Custom::PhoneNumberAssignment declarations
(``make plan TEMPLATE=``).

``make plan`` runs in the operators' environment (tools/requirements.txt: boto3 and PyYAML): no cfn-lint and
so no AWS::LanguageExtensions transform. Templates are read as cfn-lint reads them: JSON, or YAML through
PyYAML's safe loader with a constructor for the short intrinsic tags (``!Ref``, ``!Sub``...); anchors and
aliases, which CloudFormation refuses, are refused here too. It then resolves, for the properties the plan
needs (PhoneNumberId, TargetArn, ContactFlowArn, OnDelete; the names of the others, which the provider's
parser judges): Parameters (defaults and overrides, CommaDelimitedList, AllowedValues and AllowedPattern
checked as CloudFormation checks them), pseudo parameters, Ref, Fn::Sub, Fn::FindInMap (with the
DefaultValue of the language extensions), Fn::If with Conditions (Fn::Equals/Not/And/Or),
Fn::Join/Select/Split, a resource's Condition, and Fn::ForEach (over a literal list or a list parameter,
nested loops included, ``${Id}``/``&{Id}`` in keys, ``Ref: Id`` and ``${Id}``/``&{Id}`` in strings). A
value it cannot know before the deploy (Ref or Fn::GetAtt of a resource, Fn::ImportValue, ...) is reported
as unresolvable for that resource, never guessed. tests/tools/test_cfn_template.py reads the repository's
templates with it and with cfn-lint's reader and compares.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import yaml

# ---- reading --------------------------------------------------------------------------------------------


class TemplateError(Exception):
    """The template cannot be read (its line is in the message)."""


SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub",
            "FindInMap",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Join",
            "Select",
            "Split",
            "ImportValue",
            "Base64",
            "GetAZs",
            "Cidr",
            "GetAtt",
            "Length",
            "ToJsonString",
            "Transform",
        )
    },
}


def load(text: str) -> dict[str, Any]:
    """The template as a dict: JSON, or YAML read as cfn-lint reads it (PyYAML's safe loader, the short
    intrinsic tags turned into their long form, ``!GetAtt A.B`` into ``[A, B]``), refusing what
    CloudFormation refuses (anchors and aliases, duplicate keys) and tags it does not know."""
    if text.lstrip().startswith("{"):
        # JSON as JSON: PyYAML refuses some valid JSON (tabs for indentation).
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise TemplateError(f"not valid JSON: {error}") from None
    else:
        try:
            document = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader, plus the short tags
        except yaml.YAMLError as error:
            raise TemplateError(f"not valid YAML: {error}") from None
    if document is None:
        raise TemplateError("the template is empty")
    if not isinstance(document, dict):
        raise TemplateError("the template is not a mapping")
    return document


class _TemplateLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise TemplateError(
                f"line {event.start_mark.line + 1}: anchors and aliases are not accepted by CloudFormation"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise TemplateError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _short_tag(loader: _TemplateLoader, suffix: str, node: Any) -> dict[str, Any]:
    if suffix not in SHORT_TAGS:
        raise TemplateError(f"line {node.start_mark.line + 1}: unknown tag !{suffix}")
    name = SHORT_TAGS[suffix]
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _short_tag)
# Mappings through this loader's own construct_mapping (duplicate keys refused), whatever another library
# registers on yaml.SafeLoader in the same process: SAM CLI replaces SafeLoader's mapping constructor with
# one that never calls construct_mapping (samcli/yamlhelper.py), and a subclass inherits that unless it has
# its own.
_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, yaml.SafeLoader.construct_yaml_map
)


class Unresolvable(Exception):
    """A value known only when CloudFormation deploys the template (or not given): the message says which."""


RESOURCE_TYPE = "Custom::PhoneNumberAssignment"
WANTED = ("PhoneNumberId", "TargetArn", "ContactFlowArn", "OnDelete")
NO_VALUE = object()


@dataclass
class Declared:
    logical_id: str
    properties: dict[str, Any]  # the WANTED properties resolved (absent when not declared)
    unresolved: str | None = None  # why a property could not be resolved
    # Every property name declared, for the provider's parser to judge (an unknown one is refused).
    names: tuple[str, ...] = ()


def _check_allowed(name: str, spec: Mapping[str, Any], value: Any, *, given: bool) -> None:
    """CloudFormation refuses a stack operation whose parameter value is outside the parameter's
    AllowedValues or does not match all of its AllowedPattern (each item of a list parameter) before it
    changes anything: so does the plan, naming the value and what is allowed."""
    where = "PARAMS gives" if given else "its Default is"
    allowed = spec.get("AllowedValues")
    pattern = spec.get("AllowedPattern")
    for item in value if isinstance(value, list) else [value]:
        if isinstance(allowed, list) and str(item) not in [str(v) for v in allowed]:
            raise TemplateError(
                f"parameter {name}: {where} {item!r}, not one of its AllowedValues "
                f"({', '.join(str(v) for v in allowed)}); CloudFormation would refuse the deployment"
            )
        if isinstance(pattern, str) and re.fullmatch(pattern, str(item)) is None:
            raise TemplateError(
                f"parameter {name}: {where} {item!r}, which does not match its AllowedPattern {pattern!r}; "
                "CloudFormation would refuse the deployment"
            )


@functools.cache
def partition_of(region: str) -> str:
    """The Region's partition, as botocore's endpoint data says (aws, aws-cn, aws-us-gov, ...)."""
    return boto3.session.Session().get_partition_for_region(region)


class Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        overrides: Mapping[str, str],
        region: str,
        account: Callable[[], str],
        stack_name: str | None,
    ) -> None:
        self.template = template
        self.region = region
        self._account = account
        self.stack_name = stack_name
        parameters = template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(parameters))
        if unknown:
            raise TemplateError(
                f"PARAMS names parameters the template does not declare: {', '.join(unknown)}"
            )
        self.parameters: dict[str, Any] = {}
        self.missing: set[str] = set()
        for name, spec in parameters.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                self.missing.add(name)
                continue
            kind = str(spec.get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                value: Any = (
                    [part.strip() for part in str(raw).split(",")] if isinstance(raw, str) else list(raw)
                )
            else:
                value = str(raw) if not isinstance(raw, str) else raw
            _check_allowed(name, spec, value, given=name in overrides)
            self.parameters[name] = value
        self.conditions: dict[str, bool] = {}
        self.resources = template.get("Resources") or {}

    def account(self) -> str:
        return self._account()

    def pseudo(self, name: str) -> Any:
        if name == "AWS::Region":
            return self.region
        if name == "AWS::Partition":
            return partition_of(self.region)
        if name == "AWS::URLSuffix":
            return "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        if name == "AWS::AccountId":
            return self.account()
        if name == "AWS::StackName":
            if self.stack_name:
                return self.stack_name
            raise Unresolvable("AWS::StackName needs STACK=")
        if name == "AWS::NoValue":
            return NO_VALUE
        raise Unresolvable(f"{name} is known only when the stack is deployed")

    def ref(self, name: str, variables: Mapping[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.missing:
            raise Unresolvable(f'parameter {name} has no Default: give it in PARAMS="{name}=..."')
        if name in self.resources or any(key.startswith("Fn::ForEach::") for key in self.resources):
            raise Unresolvable(f"Ref {name} names a resource: known only after it is deployed")
        raise Unresolvable(f"Ref {name} names nothing in the template")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise Unresolvable(f"condition {name} is not declared")
            self.conditions[name] = bool(self._condition_value(conditions[name]))
        return self.conditions[name]

    def _condition_value(self, node: Any) -> Any:
        if isinstance(node, Mapping) and len(node) == 1 and "Condition" in node:
            return self.condition(str(node["Condition"]))
        return self.value(node, {})

    def value(self, node: Any, variables: Mapping[str, Any]) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item, variables) for item in node) if v is not NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1:
            return {k: self.value(v, variables) for k, v in node.items()}
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return self.ref(str(arg), variables)
        if fn == "Fn::Sub":
            return self.sub(arg, variables)
        if fn == "Fn::FindInMap":
            return self.find_in_map(arg, variables)
        if fn == "Fn::If":
            name, if_true, if_false = arg
            return self.value(if_true if self.condition(str(name)) else if_false, variables)
        if fn == "Fn::Equals":
            first, second = (self.value(a, variables) for a in arg)
            return str(first) == str(second)
        if fn == "Fn::Not":
            return not self._condition_value(arg[0])
        if fn == "Fn::And":
            return all(self._condition_value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self._condition_value(a) for a in arg)
        if fn == "Condition":
            return self.condition(str(arg))
        if fn == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(v) for v in self.value(items, variables))
        if fn == "Fn::Select":
            index, items = arg
            resolved = self.value(items, variables)
            return resolved[int(self.value(index, variables))]
        if fn == "Fn::Split":
            separator, text = arg
            return str(self.value(text, variables)).split(str(separator))
        if fn.startswith("Fn::") or fn == "Condition":
            raise Unresolvable(f"{fn} is known only when the stack is deployed")
        return {fn: self.value(arg, variables)}

    def sub(self, arg: Any, variables: Mapping[str, Any]) -> str:
        if isinstance(arg, list):
            text, extra = arg[0], {k: self.value(v, variables) for k, v in (arg[1] or {}).items()}
        else:
            text, extra = arg, {}
        scope = {**variables, **extra}

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if "." in name and not name.startswith("AWS::"):
                raise Unresolvable(f"${{{name}}} is an attribute of a resource: known only after deploy")
            value = self.ref(name, scope)
            if isinstance(value, list):
                raise Unresolvable(f"${{{name}}} is a list")
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, str(text))

    def find_in_map(self, arg: list[Any], variables: Mapping[str, Any]) -> Any:
        default = NO_VALUE
        if len(arg) == 4 and isinstance(arg[3], Mapping) and "DefaultValue" in arg[3]:
            default = self.value(arg[3]["DefaultValue"], variables)
        name, first, second = (str(self.value(a, variables)) for a in arg[:3])
        mapping = (self.template.get("Mappings") or {}).get(name)
        if mapping is None:
            raise Unresolvable(f"Fn::FindInMap: no mapping {name}")
        try:
            return mapping[first][second]
        except (KeyError, TypeError):
            if default is not NO_VALUE:
                return default
            raise Unresolvable(f"Fn::FindInMap: {name} has no {first}/{second}") from None

    # ---- the resources ----------------------------------------------------------------------------------

    def declarations(self) -> list[Declared]:
        """Every Custom::PhoneNumberAssignment the template declares under its parameters, loops expanded."""
        found: list[Declared] = []
        for key, body in self.expand(self.resources, {}).items():
            if not isinstance(body, Mapping) or body.get("Type") != RESOURCE_TYPE:
                continue
            try:
                if "Condition" in body and not self.condition(str(body["Condition"])):
                    continue
            except Unresolvable as why:
                found.append(Declared(key, {}, str(why)))
                continue
            properties = body.get("Properties") or {}
            resolved: dict[str, Any] = {}
            unresolved = None
            for name in WANTED:
                if name not in properties:
                    continue
                try:
                    value = self.value(properties[name], {})
                except Unresolvable as why:
                    unresolved = f"{name}: {why}"
                    break
                except (ValueError, TypeError, IndexError) as why:
                    unresolved = f"{name}: cannot be resolved ({why})"
                    break
                if value is NO_VALUE:
                    continue
                if not isinstance(value, (str, int)):
                    unresolved = f"{name}: resolves to {type(value).__name__}, not a string"
                    break
                resolved[name] = str(value)
            names = tuple(str(name) for name in properties) if isinstance(properties, Mapping) else ()
            found.append(Declared(key, resolved, unresolved, names))
        return found

    def expand(self, section: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, body in section.items():
            if not key.startswith("Fn::ForEach::"):
                out[key] = body
                continue
            if not isinstance(body, list) or len(body) != 3 or not isinstance(body[2], Mapping):
                raise TemplateError(f"{key}: Fn::ForEach takes [Identifier, Collection, {{OutputKey: ...}}]")
            identifier, collection, fragment = body
            try:
                items = self.value(collection, variables)
            except Unresolvable as why:
                raise TemplateError(f"{key}: its collection cannot be resolved ({why})") from None
            if not isinstance(items, list):
                raise TemplateError(f"{key}: its collection is not a list")
            for item in items:
                text = str(item)
                scope = {**variables, str(identifier): text}
                substituted = _substitute(fragment, str(identifier), text)
                for inner_key, inner_body in self.expand(substituted, scope).items():
                    if inner_key in out:
                        raise TemplateError(f"{key}: makes logical ID {inner_key} twice")
                    out[inner_key] = inner_body
        return out


def _substitute(node: Any, identifier: str, value: str) -> Any:
    """The loop's body for one item: ``Ref: Identifier`` becomes the value, and ``${Identifier}`` and
    ``&{Identifier}`` (the value's letters and digits only) are replaced in keys and strings."""
    alnum = re.sub(r"[^A-Za-z0-9]", "", value)

    def text(s: str) -> str:
        return s.replace("${" + identifier + "}", value).replace("&{" + identifier + "}", alnum)

    if isinstance(node, str):
        return text(node)
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, Mapping):
        if len(node) == 1 and node.get("Ref") == identifier:
            return value
        return {text(k): _substitute(v, identifier, value) for k, v in node.items()}
    return node
