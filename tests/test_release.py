"""What a release depends on: one version, publishable metadata, the documented export, clean samples."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
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

    Loader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: loader.construct_scalar(node)})
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
