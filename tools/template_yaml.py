"""Just enough YAML to write a CloudFormation template, with the standard library alone.

``make export`` runs in the operators' boto3-only environment (tools/requirements.txt), where PyYAML is not
installed. A template is a tree of mappings, lists, strings, integers and booleans. Each string is written
plain when no YAML reader can take it for anything else, and otherwise double-quoted as JSON quotes it
(JSON's escapes are YAML's too, YAML 1.2 section 7.3.1), with the characters YAML would read differently
escaped (_QUOTED_UNSAFE). tests/tools/test_template_yaml.py reads what it writes back with PyYAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# A plain scalar starting with a letter, without spaces, '#', quotes, flow indicators ({}[],) or a final ':'
# is a string to every YAML reader; the words below are booleans or null to YAML 1.1 readers (PyYAML, hence
# cfn-lint and SAM CLI), whatever their case.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.:/+@-]*(?<!:)")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return _QUOTED_UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False))


# Left raw by json.dumps(ensure_ascii=False), but not YAML's printable characters (YAML 1.1, 5.1), or line
# breaks a double-quoted scalar would fold (NEL, LS, PS), or a byte-order mark. Escaped as YAML code points:
# JSON's surrogate pairs for characters beyond U+FFFF are not valid YAML escapes.
_QUOTED_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple)) or not value


def _leaf(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return scalar(value)


def _lines(value: Mapping[str, Any] | Sequence[Any]) -> list[str]:
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_leaf(item):
                lines.append(f"{scalar(key)}: {_leaf(item)}")
            else:
                lines.append(f"{scalar(key)}:")
                lines.extend("  " + line for line in _lines(item))
        return lines
    for item in value:
        if _is_leaf(item):
            lines.append(f"- {_leaf(item)}")
        else:
            first, *rest = _lines(item)
            lines.append(f"- {first}")
            lines.extend("  " + line for line in rest)
    return lines


def dump(document: Mapping[str, Any]) -> str:
    """``document`` as block-style YAML, in its own key order."""
    return "\n".join(_lines(document)) + "\n"
