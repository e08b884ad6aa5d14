"""Read a CloudFormation template and resolve its Custom::PhoneNumberAssignment declarations, with the
standard library alone (``make plan TEMPLATE=``).

``make plan`` runs in the operators' boto3-only environment (tools/requirements.txt): no PyYAML, no cfn-lint
and so no AWS::LanguageExtensions transform. This module reads what CloudFormation templates are written
in: JSON, and the YAML templates people write (block mappings and sequences, plain, quoted and block
scalars, flow ``[...]``/``{...}`` collections, the short intrinsic tags ``!Ref``, ``!Sub``...); anchors and
aliases, which CloudFormation templates do not use, are refused. It then resolves, for the four properties
the plan needs (PhoneNumberId, TargetArn, ContactFlowArn, OnDelete): Parameters (defaults and overrides,
CommaDelimitedList), pseudo parameters, Ref, Fn::Sub, Fn::FindInMap (with the DefaultValue of the language
extensions), Fn::If with Conditions (Fn::Equals/Not/And/Or), Fn::Join/Select/Split, a resource's Condition,
and Fn::ForEach (over a literal list or a list parameter, nested loops included, ``${Id}``/``&{Id}`` in
keys, ``Ref: Id`` and ``${Id}``/``&{Id}`` in strings). A value it cannot know before the deploy (Ref or
Fn::GetAtt of a resource, Fn::ImportValue, ...) is reported as unresolvable for that resource, never
guessed. tests/tools/test_cfn_template.py reads the repository's templates with it and with cfn-lint's
reader and compares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
    """The template as a dict (JSON, or the YAML subset above)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise TemplateError(f"not valid JSON: {error}") from None
    else:
        document = _Yaml(text).document()
    if not isinstance(document, dict):
        raise TemplateError("the template is not a mapping")
    return document


_KEY = re.compile(r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"#\s][^#]*?)\s*:(?:\s+|$)(?P<rest>.*)$""")
_INT = re.compile(r"[-+]?[0-9]+")


class _Yaml:
    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str, int]] = []  # (indent, content without comment, line number)
        raw = text.splitlines()
        self.raw = raw
        for number, line in enumerate(raw, start=1):
            if "\t" in line[: len(line) - len(line.lstrip())]:
                raise TemplateError(f"line {number}: tabs in indentation")
            content = _strip_comment(line).rstrip()
            if not content.strip() or content.strip() in ("---", "..."):
                self.lines.append((-1, "", number))  # blank: kept for block scalars
                continue
            if content.lstrip().startswith("%"):
                continue
            indent = len(content) - len(content.lstrip())
            self.lines.append((indent, content.strip(), number))
        self.i = 0

    def document(self) -> Any:
        self._skip_blank()
        if self.i >= len(self.lines):
            raise TemplateError("the template is empty")
        value = self._block(self.lines[self.i][0])
        self._skip_blank()
        if self.i < len(self.lines):
            raise TemplateError(f"line {self.lines[self.i][2]}: unexpected indentation")
        return value

    def _skip_blank(self) -> None:
        while self.i < len(self.lines) and self.lines[self.i][0] < 0:
            self.i += 1

    def _block(self, indent: int) -> Any:
        self._skip_blank()
        first = self.lines[self.i][1]
        if first == "-" or first.startswith("- "):
            return self._sequence(indent)
        return self._mapping(indent)

    def _sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while True:
            self._skip_blank()
            if self.i >= len(self.lines):
                return items
            line_indent, content, number = self.lines[self.i]
            if line_indent < indent or not (content == "-" or content.startswith("- ")):
                if line_indent > indent:
                    raise TemplateError(f"line {number}: unexpected indentation")
                return items
            if line_indent > indent:
                raise TemplateError(f"line {number}: unexpected indentation")
            rest = content[1:].lstrip()
            if not rest:
                self.i += 1
                items.append(self._nested(indent, number))
                continue
            # "- key: value" or "- - item": the rest is a block starting at its own column.
            column = line_indent + len(content) - len(rest)
            if rest == "-" or rest.startswith("- ") or (_KEY.match(rest) and rest[0] not in "[{!&*|>"):
                self.lines[self.i] = (column, rest, number)
                items.append(self._block(column))
            else:
                self.i += 1
                items.append(self._inline(rest, number, indent))

    def _mapping(self, indent: int) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        while True:
            self._skip_blank()
            if self.i >= len(self.lines):
                return mapping
            line_indent, content, number = self.lines[self.i]
            if line_indent < indent:
                return mapping
            if line_indent > indent:
                raise TemplateError(f"line {number}: unexpected indentation")
            if content == "-" or content.startswith("- "):
                return mapping  # a sequence at the parent's indent ends this mapping
            match = _KEY.match(content)
            if not match:
                raise TemplateError(f"line {number}: expected 'key: value', got {content!r}")
            key = _scalar(match["key"], number)
            if not isinstance(key, str):
                key = str(key)
            if key in mapping:
                raise TemplateError(f"line {number}: duplicate key {key!r}")
            self.i += 1
            rest = match["rest"]
            if not rest:
                # "key:" then a deeper block, or a sequence at the same indent, or nothing (null).
                mapping[key] = self._nested(indent, number, same_indent_sequence=True)
            else:
                mapping[key] = self._inline(rest, number, indent)

    def _nested(self, indent: int, number: int, *, same_indent_sequence: bool = False) -> Any:
        self._skip_blank()
        if self.i >= len(self.lines):
            return None
        next_indent, content, _ = self.lines[self.i]
        if next_indent > indent:
            return self._block(next_indent)
        if same_indent_sequence and next_indent == indent and (content == "-" or content.startswith("- ")):
            return self._sequence(indent)
        return None

    def _inline(self, rest: str, number: int, indent: int) -> Any:
        if rest.startswith("!"):
            tag, _, value = rest.partition(" ")
            name = tag[1:]
            if name not in SHORT_TAGS:
                raise TemplateError(f"line {number}: unknown tag {tag}")
            value = value.strip()
            inner = self._inline(value, number, indent) if value else self._nested(indent, number)
            if name == "GetAtt" and isinstance(inner, str):
                inner = inner.split(".", 1)
            return {SHORT_TAGS[name]: inner}
        if rest[0] in "&*":
            raise TemplateError(f"line {number}: YAML anchors and aliases are not supported")
        if rest[0] in "|>":
            return self._block_scalar(rest, number, indent)
        if rest[0] in "[{":
            text = rest
            while _depth(text) > 0 and self.i < len(self.lines):
                # A flow collection continued on the next lines.
                text += " " + _strip_comment(self.raw[self.lines[self.i][2] - 1]).strip()
                self.i += 1
            parser = _Flow(text, number)
            value = parser.value()
            parser.end()
            return value
        return _scalar(rest, number)

    def _block_scalar(self, header: str, number: int, indent: int) -> str:
        folded = header[0] == ">"
        chomp = "+" if "+" in header else "-" if "-" in header else ""
        body: list[str] = []
        block_indent = None
        while self.i < len(self.lines):
            line_indent, _, line_number = self.lines[self.i]
            raw = self.raw[line_number - 1]
            if line_indent >= 0 and line_indent <= indent:
                break
            if line_indent < 0:
                body.append("")
            else:
                if block_indent is None:
                    block_indent = len(raw) - len(raw.lstrip())
                body.append(raw[block_indent:])
            self.i += 1
        while body and chomp != "+" and not body[-1]:
            body.pop()
        text = " ".join(body) if folded else "\n".join(body)
        return text if chomp == "-" else text + "\n"


def _depth(text: str) -> int:
    depth, quote = 0, ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


def _strip_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'" and (index == 0 or line[index - 1] in " \t:[{,-"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index]
    return line


def _scalar(text: str, number: int) -> Any:
    text = text.strip()
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise TemplateError(f"line {number}: unsupported double-quoted scalar {text}") from None
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise TemplateError(f"line {number}: unterminated quoted scalar")
        return text[1:-1].replace("''", "'")
    if text in ("null", "Null", "NULL", "~", ""):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    return text


class _Flow:
    """``[a, !Ref b, {k: v}]`` and ``{Ref: x}`` on one line."""

    def __init__(self, text: str, number: int) -> None:
        self.text, self.pos, self.number = text, 0, number

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def end(self) -> None:
        self._space()
        if self.pos != len(self.text):
            raise TemplateError(f"line {self.number}: unexpected text after a flow collection")

    def value(self) -> Any:
        self._space()
        char = self.text[self.pos : self.pos + 1]
        if char == "[":
            self.pos += 1
            items = []
            while True:
                self._space()
                if self.text[self.pos : self.pos + 1] == "]":
                    self.pos += 1
                    return items
                items.append(self.value())
                self._space()
                if self.text[self.pos : self.pos + 1] == ",":
                    self.pos += 1
                elif self.text[self.pos : self.pos + 1] != "]":
                    raise TemplateError(f"line {self.number}: expected ',' or ']'")
        if char == "{":
            self.pos += 1
            mapping: dict[str, Any] = {}
            while True:
                self._space()
                if self.text[self.pos : self.pos + 1] == "}":
                    self.pos += 1
                    return mapping
                key = self._atom(stop=":,}")
                self._space()
                if self.text[self.pos : self.pos + 1] != ":":
                    raise TemplateError(f"line {self.number}: expected ':' in a flow mapping")
                self.pos += 1
                mapping[str(key)] = self.value()
                self._space()
                if self.text[self.pos : self.pos + 1] == ",":
                    self.pos += 1
                elif self.text[self.pos : self.pos + 1] != "}":
                    raise TemplateError(f"line {self.number}: expected ',' or '}}'")
        if char == "!":
            end = self.pos
            while end < len(self.text) and self.text[end] not in " ,]}":
                end += 1
            name = self.text[self.pos + 1 : end]
            if name not in SHORT_TAGS:
                raise TemplateError(f"line {self.number}: unknown tag !{name}")
            self.pos = end
            inner = self.value()
            if name == "GetAtt" and isinstance(inner, str):
                inner = inner.split(".", 1)
            return {SHORT_TAGS[name]: inner}
        return self._atom(stop=",]}")

    def _atom(self, stop: str) -> Any:
        self._space()
        char = self.text[self.pos : self.pos + 1]
        if char in ("'", '"'):
            end = self.pos + 1
            while end < len(self.text):
                if self.text[end] == "\\" and char == '"':
                    end += 2
                    continue
                if self.text[end] == char:
                    if char == "'" and self.text[end + 1 : end + 2] == "'":
                        end += 2
                        continue
                    break
                end += 1
            token = self.text[self.pos : end + 1]
            self.pos = end + 1
            return _scalar(token, self.number)
        end = self.pos
        while end < len(self.text) and self.text[end] not in stop:
            # "a:b" is one plain scalar; ": " ends a flow mapping's key.
            if self.text[end] == ":" and ":" in stop and self.text[end + 1 : end + 2] not in (" ", ""):
                end += 1
                continue
            end += 1
        token = self.text[self.pos : end]
        self.pos = end
        return _scalar(token, self.number)


# ---- resolving ------------------------------------------------------------------------------------------


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


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


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
                self.parameters[name] = (
                    [part.strip() for part in str(raw).split(",")] if isinstance(raw, str) else list(raw)
                )
            else:
                self.parameters[name] = str(raw) if not isinstance(raw, str) else raw
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
            found.append(Declared(key, resolved, unresolved))
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
