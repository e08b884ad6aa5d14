"""The documentation as a newcomer uses it: README stays a short page for users, every `make` command the docs
name exists, every relative link (and its #anchor) leads somewhere, the properties and return values the docs
table are the provider's own, and the CDK snippets in docs/cdk.md pass exactly those names (checked without
Node or the CDK: the Python snippet is parsed, the TypeScript one read)."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

from phone_number_assignment import schema

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted(
    [
        README,
        ROOT / "CONTRIBUTING.md",
        ROOT / "RELEASING.md",
        ROOT / "CHANGELOG.md",
        ROOT / "cfn-lint-rules" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
PROPERTIES = {*schema.REQUIRED, *schema.OPTIONAL}
# A Markdown link's target: [text](target), not an image's, and not inside inline code.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_of(text: str) -> str:
    """What a reader would type: fenced blocks, indented blocks and inline code spans."""
    blocks = [body for _, body in FENCE.findall(text)]
    indented = [line for line in text.splitlines() if line.startswith("    ")]
    spans = re.findall(r"`([^`\n]+)`", FENCE.sub("", text))
    return "\n".join([*blocks, *indented, *spans])


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces
    to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_the_readme_is_a_short_page_for_users():
    lines = README.read_text().splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines: move detail to docs/ or CONTRIBUTING.md"
    text = README.read_text()
    # CI runs `make test`: the README names it, and the first thing it shows is not the test suite.
    assert "make test" in text
    assert text.index("## Deploy the provider") < text.index("make test")


@pytest.fixture(scope="module")
def make_targets() -> set[str]:
    if shutil.which("make") is None:
        pytest.skip("no make on PATH")
    # `make help` only greps the Makefile: it installs nothing.
    listed = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return set(re.findall(r"^\s+make (\S+)", listed, re.MULTILINE))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_command_the_docs_name_is_in_make_help(doc, make_targets):
    named = set(re.findall(r"(?:^|[\s`(])make ([a-z][a-z-]*)", code_of(doc.read_text()), re.MULTILINE))
    assert named - make_targets == set(), f"{doc.name} names make targets that `make help` does not list"


def test_the_readme_names_the_commands_a_newcomer_runs(make_targets):
    named = set(re.findall(r"(?:^|[\s`(])make ([a-z][a-z-]*)", code_of(README.read_text()), re.MULTILINE))
    assert {"build", "deploy", "test", "status", "export", "demo"} <= named <= make_targets


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_its_anchor_to_a_heading(doc):
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", doc.read_text()))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert broken == [], f"{doc.relative_to(ROOT)}: {broken}"


def table_names(text: str, heading_row: str) -> set[str]:
    """The backticked names in the first column of the table whose header row starts with heading_row."""
    start = text.index(heading_row)
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return {name for row in rows for name in re.findall(r"`(\w+)`", row)}


def test_the_readme_tables_exactly_the_providers_properties_and_return_values():
    text = README.read_text()
    assert table_names(text, "| Property |") == PROPERTIES | {"ServiceTimeout"}
    assert table_names(text, "| Attribute |") == set(schema.RETURN_ATTRIBUTES)


def test_the_readmes_minimal_stack_declares_only_the_providers_properties():
    [snippet] = [body for language, body in FENCE.findall(README.read_text()) if language == "yaml"]
    template = cfn_yaml.loads(snippet)
    [(logical_id, resource)] = template["Resources"].items()
    assert resource["Type"] == schema.RESOURCE_TYPE
    declared = set(resource["Properties"])
    assert declared == PROPERTIES | set(schema.CLOUDFORMATION_PROPERTIES), logical_id
    export = "phone-number-assignment-ServiceToken"
    assert resource["Properties"]["ServiceToken"] == {"Fn::ImportValue": export}


CDK = ROOT / "docs" / "cdk.md"


def cdk_snippet(language: str) -> str:
    [snippet] = [body for found, body in FENCE.findall(CDK.read_text()) if found == language]
    return snippet


def test_the_cdk_python_snippet_parses_and_passes_exactly_the_providers_properties():
    tree = ast.parse(cdk_snippet("python"))
    [call] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CustomResource"
    ]
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    assert ast.literal_eval(keywords["resource_type"]) == schema.RESOURCE_TYPE
    token = keywords["service_token"]
    assert ast.unparse(token) == "Fn.import_value('phone-number-assignment-ServiceToken')"
    assert ast.unparse(keywords["service_timeout"]).startswith("Duration.seconds(")
    assert {ast.literal_eval(key) for key in keywords["properties"].keys} == PROPERTIES
    asked = {
        ast.literal_eval(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_att_string"
    }
    assert asked
    assert asked <= set(schema.RETURN_ATTRIBUTES)


def synthesized_from_the_python_snippet() -> dict:
    """The template `cdk synth` would write for the Python snippet: its flow and its CustomResource, with the
    snippet's own values (the instance ARN, the number, the flow's attribute, the timeout)."""
    tree = ast.parse(cdk_snippet("python"))
    [instance_arn] = [
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "instance_arn"
    ]
    [call] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CustomResource"
    ]
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}

    def value(node: ast.expr):
        if isinstance(node, ast.Name) and node.id == "instance_arn":
            return instance_arn
        if isinstance(node, ast.Attribute) and node.attr == "attr_contact_flow_arn":
            return {"Fn::GetAtt": ["MainMenu", "ContactFlowArn"]}
        return ast.literal_eval(node)

    properties = {
        ast.literal_eval(k): value(v)
        for k, v in zip(keywords["properties"].keys, keywords["properties"].values, strict=True)
    }
    [seconds] = keywords["service_timeout"].args
    return {
        "Resources": {
            "MainMenu": {
                "Type": "AWS::Connect::ContactFlow",
                "Properties": {"InstanceArn": instance_arn, "Name": "Main menu", "Type": "CONTACT_FLOW",
                               "Content": "{}"},
            },
            "MainLine": {
                "Type": ast.literal_eval(keywords["resource_type"]),
                "Properties": {
                    "ServiceToken": {"Fn::ImportValue": "phone-number-assignment-ServiceToken"},
                    "ServiceTimeout": str(ast.literal_eval(seconds)),
                    **properties,
                },
                "UpdateReplacePolicy": "Delete",
                "DeletionPolicy": "Delete",
            },
        },
        "Outputs": {"MainLineNumber": {"Value": {"Fn::GetAtt": ["MainLine", "PhoneNumber"]}}},
    }  # fmt: skip


def test_the_cdk_lint_command_passes_the_template_the_snippet_synthesizes(tmp_path):
    [command] = re.findall(r"`(cfn-lint -a [^`]*)`", CDK.read_text())
    (tmp_path / "cdk.out").mkdir()
    (tmp_path / "cdk.out" / "ContactCenterNumbers.template.json").write_text(
        json.dumps(synthesized_from_the_python_snippet())
    )
    argv = shlex.split(command)
    # The shell's glob, as a reader's shell expands it in the CDK app's directory.
    argv = [str(match) for word in argv for match in (sorted(tmp_path.glob(word)) if "*" in word else [word])]
    linted = subprocess.run(  # noqa: S603 - the documented command
        [str(Path(sys.executable).parent / argv[0]), *argv[1:]],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "cfn-lint-rules" / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_cdk_typescript_snippet_passes_exactly_the_providers_properties():
    code = cdk_snippet("typescript")
    # Balanced brackets: a cheap stand-in for a parser, which would need Node.
    for opening, closing in ("{}", "()", "[]"):
        assert code.count(opening) == code.count(closing), opening + closing
    construct = code[code.index("new CustomResource(") :]
    construct = construct[: construct.index("});")]
    assert "serviceToken: Fn.importValue('phone-number-assignment-ServiceToken')" in construct
    assert f"resourceType: '{schema.RESOURCE_TYPE}'" in construct
    assert "serviceTimeout: Duration.seconds(" in construct
    properties = construct[construct.index("properties: {") :]
    assert set(re.findall(r"^\s+(\w+):", properties, re.MULTILINE)) == PROPERTIES
    asked = set(re.findall(r"getAttString\('(\w+)'\)", code))
    assert asked
    assert asked <= set(schema.RETURN_ATTRIBUTES)


def test_the_changelogs_newest_version_is_the_projects_and_is_dated_or_says_it_is_not_published():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0][0] == "Unreleased"
    newest, rest = headings[1]
    assert newest == version
    assert re.fullmatch(r" - (\d{4}-\d{2}-\d{2}|not yet published)", rest), rest
