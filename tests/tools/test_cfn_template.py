"""tools/cfn_template.py: make plan's template reader (PyYAML and a constructor for the short tags) reads the
repository's templates exactly as cfn-lint's reader does, and resolves the Custom::PhoneNumberAssignment
properties under parameters, conditions, mappings and Fn::ForEach, refusing what it cannot know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode_str

from tools import cfn_template
from tools.cfn_template import Resolver, TemplateError, load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    [
        ROOT / "template.yaml",
        *ROOT.glob("samples/*.yaml"),
        *ROOT.glob("tests/cfn_lint_rules/templates/*/*.yaml"),
    ]
)
ACCOUNT = "123456789012"
INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/11111111-1111-4111-8111-111111111111"


def plain(node):
    """cfn-lint's nodes (str/dict subclasses with positions) as plain Python."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if node is None or isinstance(node, (bool, int, float)):
        return node
    return str(node)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_repositorys_templates_read_as_cfn_lint_reads_them(path):
    text = path.read_text()
    theirs, matches = decode_str(text)
    assert theirs is not None, matches

    assert json.dumps(plain(load(text)), sort_keys=True) == json.dumps(plain(theirs), sort_keys=True)


def test_json_templates_are_read_too():
    assert load('{"Resources": {"A": {"Type": "T"}}}') == {"Resources": {"A": {"Type": "T"}}}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("A: &anchor 1\nB: *anchor\n", "anchors and aliases"),
        ("A: !Bogus x\n", "unknown tag !Bogus"),
        ("A: 1\nA: 2\n", "duplicate key"),
        ("A:\n  B: 1\n   C: 2\n", "line 3"),
        ("", "empty"),
    ],
)
def test_what_it_cannot_read_is_refused_with_its_line(text, says):
    with pytest.raises(TemplateError, match=says):
        load(text)


def resolve(text: str, overrides: dict[str, str] | None = None) -> dict[str, cfn_template.Declared]:
    resolver = Resolver(load(text), overrides or {}, "us-east-1", lambda: ACCOUNT, "numbers")
    return {d.logical_id: d for d in resolver.declarations()}


RESOURCE = "Type: Custom::PhoneNumberAssignment"


def test_foreach_over_a_literal_list_and_a_nested_loop_makes_every_logical_id():
    text = f"""
Mappings:
  Numbers:
    a1: {{Id: 0b9f2c54-6a1e-4d3b-9c7f-1e2d3a4b5c60}}
    b2: {{Id: 1c8e3d65-7b2f-4e4c-8d6a-2f3e4b5c6d71}}
Resources:
  Fn::ForEach::Outer:
    - Site
    - [East, West]
    - Fn::ForEach::Inner:
        - Key
        - [a1, b2]
        - ${{Site}}Number&{{Key}}:
            {RESOURCE}
            Properties:
              PhoneNumberId: !FindInMap [Numbers, !Ref Key, Id]
              TargetArn: !Sub "{INSTANCE}"
              OnDelete: !If [IsEast, Restore, Retain]
Conditions:
  IsEast: !Equals [East, East]
"""
    found = resolve(text)

    assert sorted(found) == ["EastNumbera1", "EastNumberb2", "WestNumbera1", "WestNumberb2"]
    assert found["WestNumberb2"].properties == {
        "PhoneNumberId": "1c8e3d65-7b2f-4e4c-8d6a-2f3e4b5c6d71",
        "TargetArn": INSTANCE,
        "OnDelete": "Restore",
    }


def test_sub_resolves_parameters_and_pseudo_parameters_and_keeps_escaped_names():
    text = f"""
Parameters:
  Instance: {{Type: String, Default: 11111111-1111-4111-8111-111111111111}}
Resources:
  Line:
    {RESOURCE}
    Properties:
      PhoneNumberId: !Sub
        - "arn:${{AWS::Partition}}:connect:${{AWS::Region}}:${{AWS::AccountId}}:phone-number/${{N}}"
        - {{N: 0b9f2c54-6a1e-4d3b-9c7f-1e2d3a4b5c60}}
      TargetArn: !Sub "arn:aws:connect:${{AWS::Region}}:${{AWS::AccountId}}:instance/${{Instance}}"
      ContactFlowArn: !Sub "${{!Literal}}"
"""
    declared = resolve(text, {"Instance": "22222222-2222-4222-8222-222222222222"})["Line"]

    assert declared.unresolved is None
    assert declared.properties["PhoneNumberId"] == (
        "arn:aws:connect:us-east-1:123456789012:phone-number/0b9f2c54-6a1e-4d3b-9c7f-1e2d3a4b5c60"
    )
    assert declared.properties["TargetArn"].endswith(":instance/22222222-2222-4222-8222-222222222222")
    assert declared.properties["ContactFlowArn"] == "${Literal}"


def test_find_in_map_default_value_and_a_resource_condition():
    text = f"""
Parameters:
  Site: {{Type: String, Default: north}}
Conditions:
  Wanted: !Not [!Equals [!Ref Site, south]]
Mappings:
  Targets:
    east: {{Arn: x}}
Resources:
  Line:
    {RESOURCE}
    Condition: Wanted
    Properties:
      PhoneNumberId: n
      TargetArn: !FindInMap [Targets, !Ref Site, Arn, {{DefaultValue: {INSTANCE}}}]
"""
    assert resolve(text)["Line"].properties["TargetArn"] == INSTANCE
    assert resolve(text, {"Site": "south"}) == {}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("!GetAtt Instance.Arn", "Fn::GetAtt is known only when the stack is deployed"),
        ("!Ref Instance", "Ref Instance names a resource"),
        ("!ImportValue shared-instance", "Fn::ImportValue is known only"),
        ("!Ref NoDefault", 'parameter NoDefault has no Default: give it in PARAMS="NoDefault=..."'),
        ('!Sub "${Instance.Arn}"', "an attribute of a resource"),
        ("!FindInMap [Nowhere, a, b]", "no mapping Nowhere"),
    ],
)
def test_what_is_known_only_at_deploy_time_is_unresolved_not_guessed(value, says):
    text = f"""
Parameters:
  NoDefault: {{Type: String}}
Resources:
  Instance: {{Type: AWS::Connect::Instance}}
  Line:
    {RESOURCE}
    Properties:
      PhoneNumberId: n
      TargetArn: {value}
"""
    declared = resolve(text)["Line"]
    assert declared.unresolved is not None
    assert declared.unresolved.startswith("TargetArn: ")
    assert says in declared.unresolved


def test_overrides_of_undeclared_parameters_are_refused():
    with pytest.raises(TemplateError, match="does not declare: Typo"):
        Resolver(load("Resources: {}\n"), {"Typo": "1"}, "us-east-1", lambda: ACCOUNT, None)


def test_a_loop_over_a_value_known_only_at_deploy_time_is_refused():
    text = f"""
Resources:
  Fn::ForEach::Numbers:
    - Id
    - !GetAtt Something.Ids
    - N&{{Id}}:
        {RESOURCE}
"""
    with pytest.raises(TemplateError, match="its collection cannot be resolved"):
        resolve(text)


def test_duplicate_keys_are_refused_whatever_another_library_registers_on_safeloader(monkeypatch):
    # SAM CLI (samcli/yamlhelper.py), loaded in the same process by the test suite, swaps SafeLoader's mapping
    # constructor for one that never calls construct_mapping: the reader must not inherit it.
    def plain_mapping(loader, node):
        return {loader.construct_object(key): loader.construct_object(value) for key, value in node.value}

    constructors = {**yaml.SafeLoader.yaml_constructors, "tag:yaml.org,2002:map": plain_mapping}
    monkeypatch.setattr(yaml.SafeLoader, "yaml_constructors", constructors)

    with pytest.raises(TemplateError, match="duplicate key"):
        load("A: 1\nA: 2\n")
