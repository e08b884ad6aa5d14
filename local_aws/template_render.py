"""What CloudFormation makes of a template's Custom::PhoneNumberAssignment resources, for one set of parameter
values: the properties each resource's requests carry (ServiceToken left out).

The local CloudFormation stand-in (local_aws.stack) sends requests; it does not read templates. The samples'
tests and ``make emulator-stack`` render a template here first: Parameters (Default, AllowedValues,
AllowedPattern), the AWS::LanguageExtensions transform's Fn::ForEach, Conditions, and the intrinsic functions
the samples use. Anything else is a TemplateError, never a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

NO_VALUE = object()


class TemplateError(ValueError):
    """The template or the parameter values cannot be rendered; the message says which part."""


class _TemplateLoader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: the short forms of the intrinsic functions (``!Ref x``, ``!GetAtt
    a.b``, ``!Sub ...``) become their long forms. JSON templates are YAML too."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A template file (YAML or JSON) as a dict, intrinsic functions in their long forms."""
    with open(path) as template:
        loaded = yaml.load(template, Loader=_TemplateLoader)  # noqa: S506 - SafeLoader plus the short forms
    if not isinstance(loaded, dict):
        raise TemplateError("not a template: its top level is not a map")
    return loaded


def render(
    template: Mapping[str, Any], *, partition: str = "aws", region: str, account: str, **values: str
) -> dict[str, dict[str, Any]]:
    """Each resource's properties as the provider receives them (ServiceToken left out), for these parameter
    values. As the Template Reference documents them: Fn::ForEach (the identifier replaces ``${x}`` and, with
    non-alphanumerics dropped, ``&{x}`` in the output key, and Ref x in the fragment), Conditions (Fn::Equals,
    Fn::Not, Fn::And, Fn::Or, Condition), Fn::If, Ref (parameters, pseudo parameters, AWS::NoValue),
    Fn::FindInMap (keys may be Ref or Fn::FindInMap), Fn::Sub of a string."""
    pseudo = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account}
    parameters = {}
    for name, spec in template.get("Parameters", {}).items():
        value = values.pop(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"parameter {name} has no default: give it ({spec.get('Description', '')})")
        value = str(value)
        if "AllowedValues" in spec and value not in spec["AllowedValues"]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
        if not re.fullmatch(spec.get("AllowedPattern", ".*"), value):
            raise TemplateError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
        parameters[name] = value
    if values:
        raise TemplateError(f"the template has no parameters {', '.join(sorted(values))}")
    mappings = template.get("Mappings", {})

    def condition(node: Any) -> bool:
        [(function, argument)] = node.items()
        if function == "Fn::Equals":
            left, right = (resolve(part, {}) for part in argument)
            return left == right
        if function == "Fn::Not":
            return not condition(argument[0])
        if function == "Fn::And":
            return all(condition(part) for part in argument)
        if function == "Fn::Or":
            return any(condition(part) for part in argument)
        if function == "Condition":
            return conditions[argument]
        raise TemplateError(f"condition function {function} is not rendered here")

    def resolve(node: Any, scope: dict[str, str]) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                if argument == "AWS::NoValue":
                    return NO_VALUE
                return {**pseudo, **parameters, **scope}[argument]
            if function == "Fn::If":
                name, when_true, when_false = argument
                return resolve(when_true if conditions[name] else when_false, scope)
            if function == "Fn::FindInMap":
                mapping, first, second = (resolve(part, scope) for part in argument)
                return mappings[mapping][first][second]
            if function == "Fn::Sub":
                if not isinstance(argument, str):
                    raise TemplateError("Fn::Sub with a variable map is not rendered here")
                text = argument
                for name, value in {**pseudo, **parameters, **scope}.items():
                    text = text.replace("${" + name + "}", value)
                return text
            if function == "Fn::ImportValue":
                return ("import", resolve(argument, scope))
        if isinstance(node, dict):
            resolved = {key: resolve(value, scope) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        if isinstance(node, list):
            return [resolve(value, scope) for value in node]
        return node

    conditions: dict[str, bool] = {}
    for name, node in template.get("Conditions", {}).items():
        conditions[name] = condition(node)

    fragments: list[tuple[str, Any, dict[str, str]]] = []
    for key, node in template["Resources"].items():
        if not key.startswith("Fn::ForEach::"):
            fragments.append((key, node, {}))
            continue
        identifier, collection, fragment = node
        for item in resolve(collection, {}):
            for output_key, resource in fragment.items():
                logical_id = output_key.replace("${" + identifier + "}", item).replace(
                    "&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", item)
                )
                fragments.append((logical_id, resource, {identifier: item}))

    resources: dict[str, dict[str, Any]] = {}
    for logical_id, resource, scope in fragments:
        if logical_id in resources:
            raise TemplateError(f"{logical_id} declared twice")
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue
        if resource["Type"] != "Custom::PhoneNumberAssignment":
            raise TemplateError(
                f"{logical_id} is a {resource['Type']}: only Custom::PhoneNumberAssignment is played"
            )
        properties = resolve(resource["Properties"], scope)
        token = properties.pop("ServiceToken", None)
        if not (isinstance(token, tuple) and token[0] == "import"):
            raise TemplateError(f"{logical_id}: ServiceToken is not the provider's export (Fn::ImportValue)")
        resources[logical_id] = properties
    return resources
