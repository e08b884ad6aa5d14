"""What `make build` ships for DriftCheckFunction (drift_check/Makefile): the tools' code and pins, Powertools
pinned as everywhere else, and nothing it needs from outside the artifact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)\s*$")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            found |= pins(path.parent / line[3:].strip())
        match = PIN.match(line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_the_drift_check_pins_are_the_tools_and_powertools_as_constraints_pin_them():
    drift, constraints = pins(ROOT / "drift_check/requirements.txt"), pins(ROOT / "constraints.txt")

    assert pins(ROOT / "tools/requirements.txt").items() <= drift.items()  # make status's boto3, exactly
    assert "aws-lambda-powertools" in drift
    assert {name: constraints.get(name) for name in drift} == drift
    # No X-Ray SDK, no crhelper: the provider's runtime is not the drift check's.
    assert not {"aws-xray-sdk", "crhelper", "wrapt"} & set(drift)


def test_the_built_drift_check_imports_from_its_artifact_alone(built_function):
    code = built_function.parent / "DriftCheckFunction"
    assert (code / "drift_check" / "app.py").read_text() == (ROOT / "drift_check/app.py").read_text()
    assert (code / "tools" / "status.py").read_text() == (ROOT / "tools/status.py").read_text()
    assert not list(code.rglob("__pycache__"))

    # -S -I: no site-packages, PYTHONPATH or working directory: the standard library and the artifact only.
    # -B: no bytecode written into the artifact, so the check above holds on the next run of a warm build.
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-B",
            "-S",
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import drift_check.app as app; "
            "print(app.status.__file__); print(app.Metrics.__module__)",
            str(code),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    status_file, _ = done.stdout.splitlines()
    assert Path(status_file).is_relative_to(code)
