"""What ships: the function as `make build` packages it, run the way `sam local invoke` runs it.

The built template is read as SAM reads it, and the function runs under SAM CLI's Runtime Interface Emulator
with awslambdaric (local_aws.lambda_runtime), on Python 3.13 when this machine has one. `make test` builds
first; run alone, the fixture runs `make build` itself (a no-op while its inputs are unchanged). ARCH (default
x86_64) is the architecture being tested.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import artifact, invoke, lambda_runtime
from local_aws.cloudformation import ResponseReceiver

# Lambda's runtime runs in a subprocess, on the real clock: these start first (tests/conftest.py).
pytestmark = pytest.mark.real_time

ROOT = Path(__file__).resolve().parents[2]
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
CODE_DIR = ROOT / ".aws-sam" / "build" / "ProviderFunction"
ARCH = os.environ.get("ARCH", "x86_64")
OTHER_ARCH = {"x86_64": "arm64", "arm64": "x86_64"}[ARCH]
EVENTS = ROOT / "samples" / "events"


@pytest.fixture(scope="module")
def built(built_function) -> Path:
    return built_function


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
    return invoke.main(argv, out=out), out.getvalue()


def test_built_function_serves_create_update_delete_and_rejects_invalid_without_writing_to_it(
    built, emulator_url
):
    before = artifact.snapshot(built)
    # One environment for all four (a run costs a cold start); the invalid request is expected to succeed
    # here, to show that an answer other than EXPECT fails the run and says so.
    code, text = invoke_built(
        emulator_url,
        "--event", str(EVENTS / "create.json"), "--expect", "SUCCESS",
        "--event", str(EVENTS / "update.json"), "--expect", "SUCCESS",
        "--event", str(EVENTS / "invalid.json"), "--expect", "SUCCESS",
        "--event", str(EVENTS / "delete.json"), "--expect", "SUCCESS",
    )  # fmt: skip
    assert code == 1, text
    assert text.count("OK: expected SUCCESS, got SUCCESS") == 3
    assert text.count("UNEXPECTED: expected SUCCESS, got FAILED") == 1
    assert "Reason:             Unknown property" in text
    assert f"CodeUri {os.path.relpath(built)}" in text
    # Run by Lambda's own pieces: the emulator frames each invocation, one warm environment for the four.
    assert "Runs under aws-lambda-rie-" in text
    assert text.count("START RequestId: ") == text.count("REPORT RequestId: ") == 4
    assert text.count("Init Duration") <= 1
    # The emulator's ARN for every function; the samples live in its account (invoke.emulator_credentials).
    assert '"function_arn":"arn:aws:lambda:us-east-1:012345678912:function:ProviderFunction"' in text
    if lambda_runtime.find_runtime_python() is None:
        assert "the artifact, built for Lambda's python3.13, runs on Python 3.1" in text
    else:
        assert "Python 3.13" in text
        assert "no Python 3.13 found" not in text
    assert artifact.snapshot(built) == before, "running the function wrote into the artifact"


def test_expect_is_one_status_for_all_events_or_one_per_event():
    args = ["--docker", "never"]
    assert invoke.parse_args([*args, "-e", "a", "-e", "b", "--expect", "FAILED"]).expect == ["FAILED"] * 2
    assert invoke.parse_args([*args, "-e", "a"]).expect == ["SUCCESS"]
    both = invoke.parse_args([*args, "-e", "a", "--expect", "FAILED", "-e", "b", "--expect", "SUCCESS"])
    assert both.expect == ["FAILED", "SUCCESS"]
    with pytest.raises(SystemExit):
        invoke.parse_args(
            [*args, "-e", "a", "-e", "b", "-e", "c", "--expect", "FAILED", "--expect", "FAILED"]
        )


def test_built_artifact_is_complete_and_fits_the_runtime(built):
    assert artifact.problems(built, ARCH) == []
    assert not artifact.source_problems(built), "the build left out or changed a provider file"
    assert (built / "phone_number_assignment" / "app.py").is_file()
    assert not list(built.glob("awslambdaric*")), "the runtime client is a dev dependency, not the artifact's"
    # Tracing is Lambda's own (Tracing: Active): no X-Ray SDK, and with it went the one compiled dependency.
    assert not list(built.glob("aws_xray_sdk*"))
    assert [str(p.relative_to(built)) for p in built.rglob("*.so")] == [], "the package is pure Python"


def test_the_runtime_client_in_the_artifact_is_caught(tmp_path):
    code_dir = tmp_path / "ProviderFunction"
    (code_dir / "awslambdaric").mkdir(parents=True)
    (code_dir / "awslambdaric-4.2.2.dist-info").mkdir()
    (code_dir / "runtime_client.cpython-313-x86_64-linux-gnu.so").write_bytes(b"")
    found = artifact.dev_only_problems(code_dir)
    assert "awslambdaric: a development dependency (the local runtime client) is in the artifact" in found
    assert (
        "runtime_client.cpython-313-x86_64-linux-gnu.so: awslambdaric's extension is in the artifact" in found
    )


def function_env(function: invoke.FunctionConfig, home: Path, **overrides: str) -> dict[str, str]:
    resolved = invoke.resolve_environment(function, {}, shell_env={})
    return invoke.sandbox_environment(function, {**resolved, **overrides}, home=str(home))


def test_a_dependency_missing_from_the_artifact_is_the_runtimes_import_error(built, tmp_path):
    """The runtime must not find in this venv what the artifact lacks (the venv has crhelper too); and an
    import error is the runtime client's answer at once, not a hang."""
    broken = tmp_path / "build"
    (broken / "ProviderFunction").mkdir(parents=True)
    shutil.copy2(built.parent / "template.yaml", broken / "template.yaml")
    for entry in built.iterdir():
        if entry.name != "crhelper":
            (broken / "ProviderFunction" / entry.name).symlink_to(entry)
    assert artifact.requirement_problems(broken / "ProviderFunction") == []  # its dist-info is still there
    function = invoke.read_function(broken / "template.yaml")
    log = io.StringIO()
    with invoke.lambda_runtime(
        function, function_env(function, tmp_path), lambda_runtime.choose_python(), log=log
    ) as rt:
        invocation = rt.invoke({})
    assert not invocation.ok
    assert invocation.error["errorType"] == "Runtime.ImportModuleError"
    assert invocation.error["errorMessage"] == (
        "Unable to import module 'phone_number_assignment.app': No module named 'crhelper'"
    )
    assert "[ERROR] Runtime.ImportModuleError" in log.getvalue()


def test_the_emulator_ends_a_function_past_its_timeout_after_the_watchdog_answered(built, tmp_path):
    """An endpoint that accepts connections and never answers holds the Delete's first call; the
    provider's watchdog answers CloudFormation before the deadline, then the emulator ends the invocation."""
    function = invoke.read_function(BUILT_TEMPLATE)
    event = json.loads((EVENTS / "delete.json").read_text())
    log = io.StringIO()
    with socket.socket() as black_hole, ResponseReceiver() as receiver:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        event["ResponseURL"] = receiver.url_for(
            event["StackId"], event["RequestId"], logical_id=event["LogicalResourceId"]
        )
        env = function_env(
            function,
            tmp_path,
            # The Delete's first call reads the ownership record; Connect's would hang the same way.
            AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{black_hole.getsockname()[1]}",
            AWS_ENDPOINT_URL_CONNECT=f"http://127.0.0.1:{black_hole.getsockname()[1]}",
            SSL_CERT_FILE=receiver.trust_bundle(),
            AWS_LAMBDA_FUNCTION_TIMEOUT="3",  # the emulator's deadline (the template's 900 s, shortened)
        )
        with invoke.lambda_runtime(function, env, lambda_runtime.choose_python(), log=log) as runtime:
            invocation = runtime.invoke(event)
            # Read as soon as the emulator gave up: the answer had to be in by then.
            answered = receiver.responses(event["RequestId"])
    assert invocation.timed_out, log.getvalue()
    assert invocation.body == b"Task timed out after 3.00 seconds"
    assert len(answered) == 1, log.getvalue()
    assert answered[0]["Status"] == "FAILED"
    assert answered[0]["Reason"].startswith("The provider ran out of Lambda time before it could finish")
    assert answered[0]["PhysicalResourceId"] == event["PhysicalResourceId"]
    assert "Invocation about to time out before the provider answered" in log.getvalue()


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
    """wrapt as pip installs it for the given target, into ``target``: a compiled package for the checks
    to catch (the artifact has none since the X-Ray SDK left; the dev environment pins wrapt, for moto)."""
    version = next(
        line.split("==")[1].strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
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
