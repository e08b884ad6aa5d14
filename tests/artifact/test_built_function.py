"""What ships: the function as `make build` packages it, driven through the built template.

`make test` builds first; run alone, the fixture runs `make build` itself (a no-op while its inputs are
unchanged). ARCH (default x86_64) is the architecture being tested.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import artifact, invoke

ROOT = Path(__file__).resolve().parents[2]
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
CODE_DIR = ROOT / ".aws-sam" / "build" / "ProviderFunction"
ARCH = os.environ.get("ARCH", "x86_64")
OTHER_ARCH = {"x86_64": "arm64", "arm64": "x86_64"}[ARCH]
EVENTS = ROOT / "samples" / "events"


@pytest.fixture(scope="module")
def built() -> Path:
    done = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "build", f"ARCH={ARCH}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return CODE_DIR


@pytest.fixture
def emulator_url(aws_env) -> str:
    """The emulator make invoke would embed, seeded with the same world (the suite's, reset for this test)."""
    aws_env.control.seed(json.loads((ROOT / "samples" / "world.json").read_text()))
    return aws_env.endpoint_url


def invoke_built(endpoint_url: str, *arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    argv = [
        "--template",
        str(BUILT_TEMPLATE),
        "--docker",
        "never",
        "--endpoint-url",
        endpoint_url,
        *arguments,
    ]
    python = artifact.runtime_python()
    if python and ARCH == "x86_64":
        argv += ["--python", python]  # the runtime's version, when this machine has it
    return invoke.main(argv, out=out), out.getvalue()


def test_built_function_serves_create_update_delete_and_rejects_invalid_without_writing_to_it(
    built, emulator_url
):
    before = artifact.snapshot(built)
    code, text = invoke_built(
        emulator_url,
        "--event", str(EVENTS / "create.json"),
        "--event", str(EVENTS / "update.json"),
        "--event", str(EVENTS / "delete.json"),
    )  # fmt: skip
    assert code == 0, text
    assert text.count("OK: expected SUCCESS, got SUCCESS") == 3
    if artifact.runtime_python() is None:
        assert "the artifact's packages only" in text
    assert f"CodeUri {os.path.relpath(built)}" in text
    code, text = invoke_built(emulator_url, "--event", str(EVENTS / "invalid.json"), "--expect", "FAILED")
    assert code == 0, text
    assert "OK: expected FAILED, got FAILED" in text
    assert "Unknown property" in text
    assert artifact.snapshot(built) == before, "running the function wrote into the artifact"


def test_built_artifact_is_complete_and_fits_the_runtime(built):
    assert artifact.problems(built, ARCH) == []
    assert not artifact.source_problems(built), "the build left out or changed a provider file"
    assert (built / "phone_number_assignment" / "app.py").is_file()


def test_a_dependency_missing_from_the_artifact_fails_the_run(built, tmp_path):
    """The runner must not find in this venv what the artifact lacks (the venv has crhelper too)."""
    broken = tmp_path / "build"
    (broken / "ProviderFunction").mkdir(parents=True)
    shutil.copy2(built.parent / "template.yaml", broken / "template.yaml")
    for entry in built.iterdir():
        if entry.name != "crhelper":
            (broken / "ProviderFunction" / entry.name).symlink_to(entry)
    assert artifact.requirement_problems(broken / "ProviderFunction") == []  # its dist-info is still there
    function = invoke.read_function(broken / "template.yaml")
    env = invoke.runtime_environment(function, invoke.resolve_environment(function, {}), home=str(tmp_path))
    run = invoke.run_handler(function, {}, env, log=io.StringIO())
    assert not run.ok
    assert run.error["errorType"] == "Runtime.ImportModuleError"
    assert run.error["errorMessage"] == "No module named 'crhelper'"


def test_a_provider_file_left_out_is_reported(built, tmp_path):
    copy = tmp_path / "ProviderFunction"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns("__pycache__", "boto*"))
    (copy / "phone_number_assignment" / "ownership.py").unlink()
    (copy / "phone_number_assignment" / "lifecycle.py").write_text("# stale\n")
    found = artifact.source_problems(copy)
    assert "phone_number_assignment/ownership.py: not in the artifact" in found
    assert "phone_number_assignment/lifecycle.py: differs from the source (stale build?)" in found
    assert any(p.startswith("boto3: pinned") for p in artifact.requirement_problems(copy))


def pip_install_wrapt(target: Path, *platform_args: str) -> Path:
    """wrapt (the one compiled dependency) as pip installs it for the given target, into ``target``."""
    version = next(
        line.split("==")[1].strip()
        for line in (ROOT / "provider" / "requirements.txt").read_text().splitlines()
        if line.startswith("wrapt==")
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-compile", "--target", str(target), *platform_args, f"wrapt=={version}"],
        check=True,
        timeout=300,
        capture_output=True,
    )  # fmt: skip
    return target


def cross(arch: str) -> list[str]:
    platform = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}[arch]
    return [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        "3.13",
        "--platform",
        platform,
    ]


def test_a_wheel_for_the_other_architecture_is_caught(tmp_path):
    other = pip_install_wrapt(tmp_path / "other", *cross(OTHER_ARCH))
    found = artifact.wheel_problems(other, ARCH)
    assert any(p.startswith("wrapt-") and f"do not run on Lambda python3.13 {ARCH}" in p for p in found), (
        found
    )
    assert any("_wrappers.cpython-313-" in p and "extension module" in p for p in found), found
    assert artifact.wheel_problems(other, OTHER_ARCH) == []


def test_a_wheel_for_the_local_python_is_caught(tmp_path):
    """What a plain `pip install -t` (SAM's default builder, run by this Python) would ship."""
    import wrapt

    site = Path(wrapt.__file__).parent.parent
    local = tmp_path / "local"
    shutil.copytree(site / "wrapt", local / "wrapt")
    for info in site.glob("wrapt-*.dist-info"):
        shutil.copytree(info, local / info.name)
    found = artifact.wheel_problems(local, ARCH)
    assert any(p.startswith("wrapt-") for p in found), found


def test_bytecode_of_another_python_is_caught(built, tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(built / "phone_number_assignment", copy / "phone_number_assignment")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(copy)], check=True, timeout=60)  # noqa: S603
    found = artifact.bytecode_problems(copy)
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    if tag == "cpython-313":
        assert found == []
    else:
        assert f"phone_number_assignment/__pycache__/app.{tag}.pyc: bytecode of another Python" in found


@pytest.mark.skipif(
    artifact.runtime_python() is None or ARCH != "x86_64",
    reason="needs a python3.13 on an x86_64 machine (optional: the wheel-tag checks cover the rest)",
)
def test_compiled_extension_loads_in_the_runtimes_python(built):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import phone_number_assignment.app; "
        "import wrapt._wrappers; print(wrapt.__wrapt__.BaseObjectProxy is wrapt._wrappers.ObjectProxy)"
    )
    done = subprocess.run(  # noqa: S603
        [artifact.runtime_python(), "-I", "-B", "-S", "-c", code, str(built)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # the C extension, not wrapt's pure-Python fallback
