"""The pins install on the oldest Python the project promises.

The promise lives in one place, pyproject.toml's requires-python; README says it and the Makefile checks it
before pip runs. A pinned package whose Requires-Python excludes that version makes pip give up on the
whole environment ("Cannot install policy_sentry because these package versions have conflicting
dependencies": soupsieve 3.0+ requires Python 3.11.5, Debian 12's python3 is 3.11.2). The check reads the
metadata of the distributions installed in this environment, which are the pinned ones (`make` reinstalls
whenever a requirements file changes), so it runs offline.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN_FILES = ("constraints.txt", "requirements-dev.txt", "provider/requirements.txt")
# "Python 3.11+", "Python 3.11 or later": how the docs state a minimum.
STATED_MINIMUM = re.compile(r"Python (\d+\.\d+(?:\.\d+)?)(?:\+| or later| or newer)")


def minimum_python() -> str:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*(\d+\.\d+(?:\.\d+)?)", requires)
    assert match, f"requires-python {requires!r} is not of the form '>=X.Y': the Makefile reads it so"
    return match[1]


def pins_of(name: str) -> dict[str, tuple[str, str]]:
    """Every `name==version` line of one pin file: canonical name -> (version, where)."""
    found: dict[str, tuple[str, str]] = {}
    for number, line in enumerate((ROOT / name).read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", f"{name}:{number}: {line!r} is not pinned with =="
        found[canonicalize_name(requirement.name)] = (specifier.version, f"{name}:{number}")
    return found


def pins() -> dict[str, tuple[str, str]]:
    """Every `name==version` line of the pin files: canonical name -> (version, where)."""
    found: dict[str, tuple[str, str]] = {}
    for name in PIN_FILES:
        found.update(pins_of(name))
    return found


PINS = pins()
# Where boto3 is pinned: the Lambda package, the dev lock, and make status/export/plan's own environment.
BOTO_PIN_FILES = ("provider/requirements.txt", "constraints.txt", "tools/requirements.txt")


def test_the_pin_files_pin_the_whole_environment():
    # constraints.txt is pip freeze of the environment: a few hundred lines, not a handful.
    assert len(PINS) > 100
    assert "soupsieve" in PINS


@pytest.mark.parametrize("name", sorted(PINS))
def test_every_pinned_package_admits_the_oldest_python_promised(name):
    version, where = PINS[name]
    distribution = importlib.metadata.distribution(name)
    assert distribution.version == version, (
        f"{name} {distribution.version} is installed, {where} pins {version}: the environment is stale "
        "(make venv reinstalls it)"
    )
    requires_python = distribution.metadata.get("Requires-Python")
    if requires_python is None:
        return  # declares no limit
    oldest = minimum_python()
    # ">=3.11" promises 3.11.0; every release from it on must be admitted, the first one included.
    assert SpecifierSet(requires_python).contains(Version(oldest), prereleases=True), (
        f"{where}: {name}=={version} requires Python {requires_python}, but pyproject.toml promises "
        f">={oldest}: pin a release that admits {oldest} (`pip download --no-deps --python-version {oldest} "
        f"--only-binary=:all: {name}` finds the newest), or raise requires-python (and README) to the real "
        "minimum"
    )


def test_the_pin_files_agree_on_every_package_they_share():
    versions: dict[str, set[tuple[str, str]]] = {}
    for name in (*PIN_FILES, "tools/requirements.txt"):
        for package, (version, where) in pins_of(name).items():
            versions.setdefault(package, set()).add((version, where))
    disagreeing = {p: sorted(v) for p, v in versions.items() if len({version for version, _ in v}) > 1}
    assert disagreeing == {}


@pytest.mark.parametrize("pin_file", BOTO_PIN_FILES)
def test_boto3_and_botocore_are_pinned_as_a_matched_pair(pin_file):
    """botocore exactly at the version the pinned boto3 release requires from (boto3 X requires
    botocore>=X',<next minor: the release they were made together), as its installed metadata says."""
    pinned = pins_of(pin_file)
    boto3_version, where = pinned["boto3"]
    botocore_version, _ = pinned["botocore"]
    assert importlib.metadata.version("boto3") == boto3_version, "the environment is stale (make venv)"
    [wanted] = [
        requirement
        for requirement in map(Requirement, importlib.metadata.requires("boto3") or [])
        if canonicalize_name(requirement.name) == "botocore" and requirement.marker is None
    ]
    [lowest] = [specifier.version for specifier in wanted.specifier if specifier.operator == ">="]
    assert botocore_version == lowest, (
        f"{where}: boto3=={boto3_version} requires {wanted}: pin botocore=={lowest}, the botocore of that "
        "boto3 release (or pin the boto3 release that requires botocore>={botocore_version})"
    )


def test_the_docs_state_the_minimum_that_pyproject_declares():
    oldest = minimum_python()
    stated = [
        (doc, version)
        for doc in ("README.md", "CONTRIBUTING.md")
        if (ROOT / doc).is_file()
        for version in STATED_MINIMUM.findall((ROOT / doc).read_text())
    ]
    assert stated, "README.md (or CONTRIBUTING.md) does not say which Python the project needs"
    assert {version for _, version in stated} == {oldest}, stated


def test_make_says_the_minimum_before_pip_runs(tmp_path):
    """An older interpreter stops at the version check, which names pyproject's minimum and that Python."""
    too_old = tmp_path / "python-too-old"
    too_old.write_text('#!/bin/sh\nif [ "$1" = -V ]; then echo "Python 3.10.12"; else exit 1; fi\n')
    too_old.chmod(0o755)
    venv = tmp_path / "venv"
    done = subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "venv", f"PYTHON={too_old}", f"VENV={venv}"],  # noqa: S607
        cwd=ROOT,
        env={**os.environ, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"Python {minimum_python()} or later is required" in done.stdout
    assert "is Python 3.10.12" in done.stdout
    assert "pip" not in done.stdout + done.stderr
    assert not venv.exists()
