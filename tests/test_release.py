"""What a release depends on: one version, publishable metadata, the documented export, clean samples."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from botocore.loaders import Loader
from samcli.vendor.serverlessrepo.application_metadata import ApplicationMetadata
from samcli.vendor.serverlessrepo.parser import get_app_metadata, parse_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
# AKIA/ASIA... access key IDs: the shapes secret scanners (and people) treat as leaked credentials.
ACCESS_KEY_SHAPE = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])")


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def sar_metadata() -> ApplicationMetadata:
    # The parser sam publish itself uses (SAM CLI's vendored serverlessrepo).
    return get_app_metadata(parse_template(TEMPLATE.read_text()))


def test_one_version_number_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+", version())
    assert sar_metadata().semantic_version == version()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert released[0] == version(), "CHANGELOG.md's latest release is not the project's version"


def test_make_publish_publishes_that_version():
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "publish", "BUCKET=example-bucket"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert (
        "sam package --template-file .aws-sam/build/template.yaml --s3-bucket example-bucket" in done.stdout
    )
    assert f"sam publish --template .aws-sam/packaged.yaml --semantic-version {version()}" in done.stdout


def test_make_publish_says_what_it_needs_without_building():
    done = subprocess.run(
        ["make", "--no-print-directory", "publish", "BUCKET="],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "make publish needs BUCKET=" in done.stdout
    assert "sam build" not in done.stdout


def test_serverless_repo_metadata_is_complete_and_within_sar_limits():
    metadata = sar_metadata()
    # What sam publish requires to create the application and then a version of it.
    metadata.validate(["author", "description", "name"])
    metadata.validate(["semantic_version"])
    assert metadata.spdx_license_id == "Apache-2.0"
    assert (ROOT / metadata.license_url).is_file()
    assert (ROOT / metadata.readme_url).is_file()
    assert metadata.source_code_url.startswith("https://")
    assert len(metadata.description) <= 256
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", metadata.name)
    assert 0 < len(metadata.labels) <= 10
    assert all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in metadata.labels)


# ---- what the Serverless Application Repository accepts ------------------------------------------------

# AWS::ServerlessRepo::Application key -> the member of CreateApplication in botocore's serverlessrepo model.
SAR_FIELDS = {
    "Name": "Name",
    "Description": "Description",
    "Author": "Author",
    "SpdxLicenseId": "SpdxLicenseId",
    "LicenseUrl": "LicenseUrl",
    "ReadmeUrl": "ReadmeUrl",
    "Labels": "Labels",
    "HomePageUrl": "HomePageUrl",
    "SemanticVersion": "SemanticVersion",
    "SourceCodeUrl": "SourceCodeUrl",
}
# https://semver.org/'s own regular expression for a version.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def serverlessrepo_constraints() -> dict[str, dict]:
    """The constraints botocore's serverlessrepo model states for CreateApplication's members. The model
    has them in prose ("Minimum length=1. Maximum length=127. Pattern ..."), not as shape traits."""
    model = Loader().load_service_model("serverlessrepo", "service-2")
    members = model["shapes"]["CreateApplicationRequest"]["members"]
    constraints = {}
    for name, member in members.items():
        doc = re.sub(r"<[^>]+>", "", member.get("documentation", ""))
        found: dict = {"required": name in model["shapes"]["CreateApplicationRequest"]["required"]}
        if m := re.search(r"Minimum length=(\d+)", doc):
            found["min"] = int(m[1])
        if m := re.search(r"Maximum length=(\d+)", doc):
            found["max"] = int(m[1])
        if m := re.search(r'Pattern:? "([^"]+)"', doc):
            found["pattern"] = m[1].encode().decode("unicode_escape")
        if m := re.search(r"Maximum number of labels: (\d+)", doc):
            found["max_items"] = int(m[1])
        if m := re.search(r"Maximum size (\d+) MB", doc):
            found["max_bytes"] = int(m[1]) * 1024 * 1024
        constraints[name] = found
    return constraints


def test_the_constraints_read_from_the_model_are_the_ones_it_documents():
    # If botocore rewords a documentation string, the parser must not silently check less.
    constraints = serverlessrepo_constraints()
    assert constraints["Author"] == {
        "required": True,
        "min": 1,
        "max": 127,
        "pattern": "^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$",
    }
    assert constraints["Name"] == {"required": True, "min": 1, "max": 140, "pattern": "[a-zA-Z0-9\\-]+"}
    assert constraints["Description"] == {"required": True, "min": 1, "max": 256}
    assert constraints["Labels"]["max_items"] == 10
    assert constraints["Labels"]["pattern"] == "^[a-zA-Z0-9+\\-_:\\/@]+$"
    assert constraints["ReadmeUrl"]["max_bytes"] == constraints["LicenseUrl"]["max_bytes"] == 5 * 1024 * 1024


@pytest.mark.parametrize("key", sorted(SAR_FIELDS))
def test_every_serverless_repo_field_meets_the_serverlessrepo_models_constraints(key):
    metadata = parse_template(TEMPLATE.read_text())["Metadata"]["AWS::ServerlessRepo::Application"]
    rules = serverlessrepo_constraints()[SAR_FIELDS[key]]
    assert key in metadata or not rules["required"]
    value = metadata[key]
    values = value if isinstance(value, list) else [value]
    if "max_items" in rules:
        assert 0 < len(values) <= rules["max_items"]
    for one in values:
        assert isinstance(one, str)
        assert rules.get("min", 1) <= len(one) <= rules.get("max", 10**6), (key, one)
        if "pattern" in rules:
            assert re.fullmatch(rules["pattern"], one), f"{key} {one!r} does not match {rules['pattern']}"
        if "max_bytes" in rules:  # a local file that sam package uploads
            assert (ROOT / one).is_file()
            assert (ROOT / one).stat().st_size <= rules["max_bytes"]
    if key == "SemanticVersion":
        assert SEMVER.fullmatch(value)
    if key in ("HomePageUrl", "SourceCodeUrl"):
        assert value.startswith("https://")


def test_the_old_author_would_have_been_refused():
    pattern = serverlessrepo_constraints()["Author"]["pattern"]
    assert not re.fullmatch(pattern, "phone-number-assignment maintainers")
    assert not re.fullmatch(pattern, "double--hyphen")


# The Serverless Application Repository's "List of Supported AWS Resources" (its Developer Guide,
# https://docs.aws.amazon.com/serverlessrepo/latest/devguide/list-supported-resources.html; here the
# types this template could plausibly use, as listed in awsdocs/aws-serverlessrepo-developer-guide@83c2822).
# The list names resource types only: SAR also validates AWS::Serverless::Function's properties against
# its own schema, which has lagged SAM's (README "Publish").
SAR_SUPPORTED_TYPES = frozenset(
    {
        "AWS::Serverless::Function",
        "AWS::Serverless::Application",
        "AWS::Serverless::LayerVersion",
        "AWS::Lambda::Function",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Events::Rule",
    }
)


def test_the_template_and_what_sam_makes_of_it_use_only_types_the_repository_supports(monkeypatch):
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = parse_template(TEMPLATE.read_text())
    declared = {resource["Type"] for resource in template["Resources"].values()}
    # What sam package leaves in CodeUri, so SAM's own translator accepts the template offline.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    generated = {r["Type"] for r in transform(template, {}, NoManagedPolicies())["Resources"].values()}
    assert "AWS::Lambda::EventInvokeConfig" in generated  # EventInvokeConfig is a resource of its own
    # The drift check's schedule (SAM's Schedule event; EventBridge Scheduler's type is not on the list).
    assert {"AWS::Events::Rule", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"} <= generated
    assert declared | generated <= SAR_SUPPORTED_TYPES, (declared | generated) - SAR_SUPPORTED_TYPES


def test_licence_is_the_apache_2_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 190  # the whole text, not a reference to it


def test_default_stack_name_makes_the_documented_import_value_true():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    stack_name = config["default"]["global"]["parameters"]["stack_name"]

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_scalar(node)}

    Loader.add_multi_constructor("!", tagged)
    template = yaml.load(TEMPLATE.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    export = template["Outputs"]["ServiceToken"]["Export"]["Name"]["Sub"]
    assert export.replace("${AWS::StackName}", stack_name) == "phone-number-assignment-ServiceToken"
    assert "!ImportValue phone-number-assignment-ServiceToken" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(ROOT) for p in (ROOT / "samples").rglob("*") if p.is_file())
)
def test_samples_carry_nothing_shaped_like_an_access_key(path):
    assert not ACCESS_KEY_SHAPE.search((ROOT / path).read_text()), f"{path} has an access-key-shaped string"


def test_the_access_key_pattern_matches_what_it_must():
    assert ACCESS_KEY_SHAPE.search("X-Amz-Credential=AKIAC37F966DE3426CEF%2F20261126")
    assert ACCESS_KEY_SHAPE.search('"ASIABENCHMARKBENCH00"')
    assert not ACCESS_KEY_SHAPE.search("X-Amz-Credential=LOCAL-EXAMPLE-CREDENTIAL%2F20261126")


def test_one_default_architecture_everywhere():
    make_default = re.search(r"^ARCH \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1]
    defaults = {"Makefile ARCH (what make build and make publish build)": make_default}
    for path in [TEMPLATE, *sorted((ROOT / "samples").glob("*.yaml"))]:
        template = parse_template(path.read_text())
        parameter = template.get("Parameters", {}).get("Architecture")
        if parameter:
            defaults[str(path.relative_to(ROOT))] = parameter.get("Default")
        for resource in template.get("Resources", {}).values():
            if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Application":
                continue
            # A nested application takes the published default unless a sample overrides it.
            passed = resource.get("Properties", {}).get("Parameters", {}).get("Architecture")
            if isinstance(passed, str):
                defaults[f"{path.relative_to(ROOT)} passes"] = passed
    assert set(defaults.values()) == {"x86_64"}, defaults
