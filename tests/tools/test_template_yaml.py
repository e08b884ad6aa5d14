"""tools/template_yaml.py writes the templates of make export without PyYAML: whatever it writes, a YAML
reader (PyYAML, as cfn-lint and SAM CLI read templates) reads back as the same document."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tools import template_yaml

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
# Strings that look like other YAML types, or like CloudFormation's own keys and values.
tricky = st.sampled_from(
    [
        "yes",
        "No",
        "ON",
        "off",
        "null",
        "~",
        "true",
        "1",
        "0x1F",
        "1e3",
        "-",
        ":",
        "a: b",
        "#c",
        "- x",
        "*a",
        "&a",
        "!Ref",
        "Fn::ForEach::Loop",
        "Number${Digits}",
        "arn:aws:connect:us-east-1:1:instance/x",
        "+15555550100",
        "2026-12-07",
        "12:30",
        "",
        " lead",
        "trail ",
        "multi\nline",
        "tab\there",
        'quote"',
        "back\\slash",
        "<<",
    ]
)
scalars = st.one_of(text, tricky, st.integers(), st.booleans(), st.none())
keys = st.one_of(text, tricky)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=5))
def test_what_it_writes_reads_back_as_the_same_document(document):
    assert yaml.safe_load(template_yaml.dump(document)) == document


def test_plain_where_nothing_else_can_be_read_quoted_otherwise():
    assert template_yaml.scalar("Custom::PhoneNumberAssignment") == "Custom::PhoneNumberAssignment"
    assert (
        template_yaml.scalar("arn:aws:connect:us-east-1:1:instance/x")
        == "arn:aws:connect:us-east-1:1:instance/x"
    )
    assert template_yaml.scalar("15555550100") == '"15555550100"'
    assert template_yaml.scalar("Yes") == '"Yes"'
    assert template_yaml.scalar("${ProviderStackName}-ServiceToken") == '"${ProviderStackName}-ServiceToken"'
