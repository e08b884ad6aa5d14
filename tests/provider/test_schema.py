"""schema.py is the one contract the provider and the cfn-lint rules share: it must stay loadable without the
provider's dependencies, and must describe what the provider really accepts and returns."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from phone_number_assignment import schema
from phone_number_assignment.errors import InvalidProperties
from phone_number_assignment.properties import OnDelete, Scope, parse_properties

SCHEMA_FILE = Path(schema.__file__)
SCOPE = Scope("aws", "us-east-1", "123456789012")
INSTANCE_ARN = "arn:aws:connect:us-east-1:123456789012:instance/8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846"
NUMBER_ID = "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"


def test_schema_imports_only_the_standard_library():
    """cfn-lint loads the file by path, outside the provider's package and environment."""
    tree = ast.parse(SCHEMA_FILE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "schema.py must not import relatively"
            imported.add((node.module or "").split(".")[0])
    assert imported, "the AST walk found no imports at all: the check itself is broken"
    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_on_delete_values_are_the_schemas():
    assert tuple(choice.value for choice in OnDelete) == schema.ON_DELETE_VALUES


def test_the_provider_accepts_exactly_the_schemas_property_names():
    everything = {"PhoneNumberId": NUMBER_ID, "TargetArn": INSTANCE_ARN, "OnDelete": "Retain"}
    everything |= {"ContactFlowArn": "", "ServiceToken": "token", "ServiceTimeout": "60"}
    assert set(everything) == {*schema.REQUIRED, *schema.OPTIONAL, *schema.CLOUDFORMATION_PROPERTIES}
    parse_properties(everything, SCOPE)
    for name in schema.REQUIRED:
        with pytest.raises(InvalidProperties, match=f"Property {name} is required"):
            parse_properties({k: v for k, v in everything.items() if k != name}, SCOPE)


def test_return_attributes_are_what_a_create_returns(stack, world):
    response = stack.create("MainLine", {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn})
    assert response.ok, response.reason
    assert tuple(response.data) == schema.RETURN_ATTRIBUTES
