"""The rules as users get them: a distribution of its own (cfn-lint-rules/), installed with pip and enabled
with `cfn-lint -a cfn_lint_phone_number_assignment.rules`, outside any checkout of this repository."""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from tests.cfn_lint_rules.test_rules import ALL_RULE_IDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cfn-lint-rules"
TEMPLATES = Path(__file__).resolve().parent / "templates"
BIN = Path(sys.executable).parent
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index")


def test_the_package_installs_alone_and_cfn_lint_loads_it_by_module_name(tmp_path):
    # A copy of the package folder alone: nothing of the rest of the repository (provider/) is needed.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    # Offline: flit_core (requirements-dev.txt) builds the wheel; cfn-lint and botocore are the venv's.
    installed = subprocess.run(  # noqa: S603 - our own package
        [*PIP_INSTALL, "--no-deps", "--no-build-isolation", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr

    [dist_info] = site.glob("cfn_lint_phone_number_assignment-*.dist-info")
    metadata = email.message_from_string((dist_info / "METADATA").read_text())
    assert metadata["Name"] == "cfn-lint-phone-number-assignment"
    assert any(r.startswith("cfn-lint") for r in metadata.get_all("Requires-Dist"))
    assert (site / "cfn_lint_phone_number_assignment" / "schema.py").is_file()

    # As a user runs it: another directory (no .cfnlintrc), the package found on the path, not in a checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": str(site),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    where = subprocess.run(
        [sys.executable, "-c", "import cfn_lint_phone_number_assignment as m; print(m.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    linted = subprocess.run(  # noqa: S603
        [
            str(BIN / "cfn-lint"),
            *("-a", "cfn_lint_phone_number_assignment.rules", "--"),
            *(str(TEMPLATES / "fail" / name) for name in ("service_timeout.yaml", "unknown_property.yaml")),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "WPNA109 MainLine: no ServiceTimeout" in linted.stdout, linted.stdout + linted.stderr
    assert "EPNA101 MainLine: unknown property 'Ondelete'" in linted.stdout
    # cfn-lint's exit status is a bit field: 2 for an error, 4 for a warning.
    assert linted.returncode == 2 | 4, linted.stdout + linted.stderr


def test_the_package_version_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    package = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    assert package["version"] == project["version"]
    assert package["requires-python"] == project["requires-python"]


def test_both_readmes_table_every_rule_and_no_old_id():
    for readme in (ROOT / "README.md", PACKAGE / "README.md"):
        text = readme.read_text()
        tabled = set(re.findall(r"^\| ([EW]PNA\d{3}) \|", text, re.MULTILINE))
        assert tabled == ALL_RULE_IDS, readme
        assert "cfn-lint -a cfn_lint_phone_number_assignment.rules" in text, readme
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        # The IDs the rules had before they were a package (E9101-E9108) collide with other rule packs.
        assert not re.search(r"\bE91\d\d\b", doc.read_text()), doc


def test_the_oldest_cfn_lint_declared_is_the_one_the_readme_states_and_make_cfn_lint_minimum_tests():
    """`make cfn-lint-minimum` (a scratch venv: too slow for make test) runs the rules' tests on exactly the
    declared minimum; this keeps the declaration, the README and that target on one version."""
    dependencies = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["dependencies"]
    [cfn_lint] = [Requirement(d) for d in dependencies if Requirement(d).name == "cfn-lint"]
    [minimum] = [specifier.version for specifier in cfn_lint.specifier if specifier.operator == ">="]
    assert f"cfn-lint {minimum} or later 1.x" in (PACKAGE / "README.md").read_text()
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", "cfn-lint-minimum"],  # noqa: S607 - our own Makefile
        cwd=ROOT,
        env={**os.environ, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f'"cfn-lint=={minimum}"' in planned.stdout
    assert "tests/cfn_lint_rules/test_rules.py" in planned.stdout
