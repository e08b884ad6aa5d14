"""Checks on what ``sam build`` produced: would this directory run on Lambda's python3.13 for ARCH?

    python -m local_aws.artifact [--arch x86_64|arm64] [.aws-sam/build/ProviderFunction]

Running the function proves the pure-Python part of the package (a missing module, a file left out), but
not a compiled part on a machine without the runtime's Python: a CPython 3.13 extension does not load in
3.11, and a package with a pure-Python fallback would fall back silently, so a wheel for the wrong platform
would go unnoticed. The package is pure Python today (its one compiled dependency, wrapt, left with the
X-Ray SDK), and a dependency that brings one back is caught here: the wheels are checked by their tags, with
``packaging`` (pip's own tag logic), against the tags Lambda's interpreter accepts; ``make build`` runs this
after every build.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CODE_DIR = REPO_ROOT / ".aws-sam" / "build" / "ProviderFunction"
SOURCE_PACKAGE = REPO_ROOT / "provider" / "phone_number_assignment"
REQUIREMENTS = REPO_ROOT / "provider" / "requirements.txt"
RUNTIME_VERSION = (3, 13)
# Lambda's python3.13 runs on Amazon Linux 2023, whose glibc is 2.34.
RUNTIME_GLIBC_MINOR = 34
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


def runtime_tags(arch: str) -> set[Tag]:
    """Every wheel tag CPython 3.13 on Lambda (Linux, glibc 2.34, ``arch``) can install."""
    machine = MACHINES[arch]
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(RUNTIME_GLIBC_MINOR, 16, -1)]
    # The legacy aliases pip still writes: manylinux2014 = 2_17 (both architectures), 2010/1 (x86_64 only).
    platforms.append(f"manylinux2014_{machine}")
    if machine == "x86_64":
        platforms += [
            "manylinux_2_12_x86_64",
            "manylinux2010_x86_64",
            "manylinux_2_5_x86_64",
            "manylinux1_x86_64",
        ]
    platforms.append(f"linux_{machine}")
    tags = set(cpython_tags(RUNTIME_VERSION, platforms=platforms))
    tags |= set(compatible_tags(RUNTIME_VERSION, "cp313", platforms=platforms))
    return tags


def extension_suffixes(arch: str) -> tuple[str, ...]:
    machine = MACHINES[arch]
    return (f".cpython-313-{machine}-linux-gnu.so", ".abi3.so")


def wheel_problems(code_dir: Path, arch: str) -> list[str]:
    """Distributions whose wheel tags, or extension modules whose file names, do not fit the runtime."""
    accepted = runtime_tags(arch)
    problems = []
    for wheel_file in sorted(code_dir.glob("*.dist-info/WHEEL")):
        lines = wheel_file.read_text().splitlines()
        tags = {tag for line in lines if line.startswith("Tag:") for tag in parse_tag(line[4:].strip())}
        if not tags & accepted:
            shown = ", ".join(sorted(str(t) for t in tags)) or "none"
            problems.append(
                f"{wheel_file.parent.name}: wheel tags {shown} do not run on Lambda python3.13 {arch}"
            )
    suffixes = extension_suffixes(arch)
    for extension in sorted(code_dir.rglob("*.so")):
        if not extension.name.endswith(suffixes):
            problems.append(
                f"{extension.relative_to(code_dir)}: extension module not built for CPython 3.13 on {arch}"
            )
    return problems


def requirement_problems(code_dir: Path, requirements: Path = REQUIREMENTS) -> list[str]:
    """Pinned requirements missing from the artifact, or present at another version."""
    installed = {}
    for metadata in code_dir.glob("*.dist-info/METADATA"):
        fields = dict(line.split(": ", 1) for line in metadata.read_text().splitlines()[:10] if ": " in line)
        installed[canonicalize_name(fields["Name"])] = fields["Version"]
    problems = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        version = installed.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name}: pinned in {requirements.name} but not in the artifact")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(
                f"{requirement.name}: artifact has {version}, {requirements.name} pins {requirement}"
            )
    return problems


def source_problems(code_dir: Path, source: Path = SOURCE_PACKAGE) -> list[str]:
    """Provider files absent from the artifact or different there."""
    problems = []
    for path in sorted(source.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(source.parent)
        shipped = code_dir / relative
        if not shipped.is_file():
            problems.append(f"{relative}: not in the artifact")
        elif shipped.read_bytes() != path.read_bytes():
            problems.append(f"{relative}: differs from the source (stale build?)")
    return problems


def bytecode_problems(code_dir: Path) -> list[str]:
    """.pyc files the runtime would not use: written by another Python (a local run, a wrong compile)."""
    tag = f"cpython-{RUNTIME_VERSION[0]}{RUNTIME_VERSION[1]}"
    return [
        f"{pyc.relative_to(code_dir)}: bytecode of another Python"
        for pyc in sorted(code_dir.rglob("*.pyc"))
        if pyc.name.split(".")[-2] != tag
    ]


def dev_only_problems(code_dir: Path) -> list[str]:
    """The local runtime client in the artifact: awslambdaric runs the function on this machine only (Lambda's
    runtime has its own), so a copy in the zip would be dead weight, or shadow the runtime's."""
    found = [
        f"{entry.name}: a development dependency (the local runtime client) is in the artifact"
        for entry in sorted(code_dir.glob("awslambdaric*"))
        if entry.is_dir() and not entry.name.endswith(".dist-info")
    ]
    found += [
        f"{extension.name}: awslambdaric's extension is in the artifact"
        for extension in sorted(code_dir.glob("runtime_client.*"))
    ]
    if not found and any(code_dir.glob("awslambdaric-*.dist-info")):
        found.append("awslambdaric: its metadata is in the artifact")
    return found


def problems(code_dir: Path, arch: str) -> list[str]:
    return (
        wheel_problems(code_dir, arch)
        + requirement_problems(code_dir)
        + source_problems(code_dir)
        + bytecode_problems(code_dir)
        + dev_only_problems(code_dir)
    )


def snapshot(code_dir: Path) -> dict[str, str]:
    """Every file in the tree with its SHA-256: equal snapshots mean nothing was written or changed."""
    result = {}
    for root, dirs, files in os.walk(code_dir):
        dirs.sort()
        for name in files:
            path = Path(root, name)
            result[path.relative_to(code_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
        result.update({Path(root, d).relative_to(code_dir).as_posix() + "/": "" for d in dirs})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.artifact", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("code_dir", nargs="?", type=Path, default=DEFAULT_CODE_DIR)
    parser.add_argument("--arch", choices=sorted(MACHINES), default=os.environ.get("ARCH", "x86_64"))
    args = parser.parse_args(argv)
    if not args.code_dir.is_dir():
        print(f"{args.code_dir} does not exist: run make build first")
        return 2
    found = problems(args.code_dir, args.arch)
    for problem in found:
        print(f"artifact: {problem}")
    if not found:
        wheels = len(list(args.code_dir.glob("*.dist-info")))
        print(
            f"artifact: {wheels} distributions fit Lambda python3.13 {args.arch}; provider package complete; "
            "no development-only runtime client (awslambdaric)"
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
