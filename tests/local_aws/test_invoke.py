"""The local invoke runner: the template read as SAM does, env-var precedence, Lambda's runtime."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from local_aws import invoke, lambda_runtime

# Lambda's runtime runs in a subprocess, on the real clock: these start first (tests/conftest.py).
pytestmark = pytest.mark.real_time

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

SYNTHETIC = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level:
    Type: String
    Default: WARNING
  NoDefault:
    Type: String
Globals:
  Function:
    Runtime: python3.11
    Timeout: {timeout}
    MemorySize: 256
    Environment:
      Variables:
        FROM_GLOBALS: g
        OVERRIDDEN: global
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: fake.app.handler
      Environment:
        Variables:
          OVERRIDDEN: resource
          LEVEL: !Ref Level
          NODEF: !Ref NoDefault
          SUB: !Sub "${{AWS::Region}}-${{Level}}"
          IMPORT: !ImportValue some-export
          FLAG: true
          SLEEP: "0"
"""

# Never run: the template tests only read the template.
FAKE_APP = """\
def handler(event, context):
    return {}
"""


@pytest.fixture
def project(tmp_path):
    """A template with Globals and intrinsics, and its (trivial) function."""

    def make(timeout: int = 30) -> Path:
        (tmp_path / "src" / "fake").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "fake" / "__init__.py").write_text("")
        (tmp_path / "src" / "fake" / "app.py").write_text(FAKE_APP)
        template = tmp_path / "template.yaml"
        template.write_text(SYNTHETIC.format(timeout=timeout))
        return template

    return make


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# ---- reading the template ----------------------------------------------------------------------------


def test_reads_the_provider_function_from_template_yaml():
    fn = invoke.read_function(TEMPLATE, "ProviderFunction")
    assert fn.handler == "phone_number_assignment.app.handler"
    assert Path(fn.code_uri) == ROOT / "provider"
    assert fn.runtime == "python3.13"
    assert fn.timeout == 900
    assert fn.memory == 512
    # !Ref LogLevel resolves to the parameter's default, as in sam local invoke.
    assert fn.variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert invoke.read_function(TEMPLATE).logical_id == "ProviderFunction"


def test_template_yaml_environment_is_what_sam_local_sets(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    env = invoke.resolve_environment(invoke.read_function(TEMPLATE), {}, shell_env={})
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ProviderFunction"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "900"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_HANDLER"] == "phone_number_assignment.app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("defaultkey", "defaultsecret")
    assert env["POWERTOOLS_SERVICE_NAME"] == "phone-number-assignment"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_globals_and_intrinsics_resolve_like_sam(project):
    fn = invoke.read_function(project(), "Fn")
    assert fn.code_uri.endswith("/src")
    assert (fn.runtime, fn.timeout, fn.memory) == ("python3.11", 30, 256)
    env = invoke.resolve_environment(fn, {}, shell_env={})
    assert env["FROM_GLOBALS"] == "g"
    assert env["OVERRIDDEN"] == "resource"
    assert env["LEVEL"] == "WARNING"
    assert env["SUB"] == "us-east-1-WARNING"
    # Unresolvable values: a parameter without a default stays its own name, an ImportValue becomes "".
    assert env["NODEF"] == "NoDefault"
    assert env["IMPORT"] == ""
    assert env["FLAG"] == "true"


def test_env_vars_precedence_function_over_parameters_over_shell_over_template(project):
    fn = invoke.read_function(project(), "Fn")
    shell = {"LEVEL": "from-shell", "OVERRIDDEN": "from-shell", "FROM_GLOBALS": "from-shell"}
    values = {
        "Parameters": {"LEVEL": "from-parameters", "OVERRIDDEN": "from-parameters"},
        "Fn": {"OVERRIDDEN": "from-function", "UNDECLARED": "x"},
    }
    env = invoke.resolve_environment(fn, values, shell_env=shell)
    assert env["OVERRIDDEN"] == "from-function"
    assert env["LEVEL"] == "from-parameters"
    assert env["FROM_GLOBALS"] == "from-shell"
    assert "UNDECLARED" not in env
    assert invoke.ignored_overrides(fn, values) == ["UNDECLARED"]


def test_env_vars_resolution_matches_sam_clis_local_lambda_runner(project, monkeypatch):
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner

    template = project()
    fn = invoke.read_function(template, "Fn")
    values = {"Parameters": {"LEVEL": "p"}, "Fn": {"OVERRIDDEN": "f"}}
    monkeypatch.setenv("FROM_GLOBALS", "shell")
    runner = LocalLambdaRunner(
        local_runtime=None,
        function_provider=None,
        cwd=str(template.parent),
        real_path=None,
        env_vars_values=values,
    )
    monkeypatch.setattr(runner, "get_aws_creds", dict)
    assert invoke.resolve_environment(fn, values) == runner._make_env_vars(fn.sam_function).resolve()


def test_sample_env_json_is_honoured_only_for_declared_variables():
    fn = invoke.read_function(TEMPLATE)
    values = invoke.load_env_vars_file(ROOT / "samples" / "env.json")
    assert "ProviderFunction" in values
    ignored = invoke.ignored_overrides(fn, values)
    assert set(ignored) <= {"AWS_ENDPOINT_URL_CONNECT", "SSL_CERT_FILE"}


def test_setup_errors_are_reported_not_raised(tmp_path, project):
    bad = write_json(tmp_path / "bad.json", {"Fn": "not-an-object"})
    out = io.StringIO()
    code = invoke.main(
        ["--event", str(ROOT / "samples/events/create.json"), "--template", str(project()), "--env-vars", bad,
         "--docker", "never"],
        out=out,
    )  # fmt: skip
    assert code == 2
    assert "must map function names" in out.getvalue()
    with pytest.raises(invoke.InvokeError, match="not found"):
        invoke.read_function(project(), "Missing")


def test_docker_is_usable_only_if_the_engine_answers(monkeypatch):
    monkeypatch.setattr(invoke.shutil, "which", lambda name: None)
    assert invoke.docker_works() == (False, "no docker CLI on PATH")


# ---- the function under the Runtime Interface Emulator ---------------------------------------------------

PROBE_APP = """\
import json, os, sys


def handler(event, context):
    try:
        import local_aws  # noqa: F401
        leaked = True
    except ImportError:
        leaked = False
    return {
        "path": sys.path[:2],
        "leaked": leaked,
        "env": dict(os.environ),
        "remaining": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "name": context.function_name,
        "request_id": context.aws_request_id,
        "context_class": type(context).__module__,
    }
"""


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket of this machine listens on at ``port`` (Linux's /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


@pytest.fixture
def probe_function(tmp_path) -> invoke.FunctionConfig:
    (tmp_path / "src" / "probe").mkdir(parents=True)
    (tmp_path / "src" / "probe" / "__init__.py").write_text("")
    (tmp_path / "src" / "probe" / "app.py").write_text(PROBE_APP)
    template = tmp_path / "template.yaml"
    template.write_text(SYNTHETIC.format(timeout=30).replace("fake.app.handler", "probe.app.handler"))
    return invoke.read_function(template, "Fn")


def test_the_function_runs_under_lambdas_runtime_on_loopback_only(tmp_path, probe_function):
    fn = probe_function
    resolved = invoke.resolve_environment(fn, {}, shell_env={})
    env = invoke.sandbox_environment(fn, resolved, home=str(tmp_path))
    log = io.StringIO()
    with invoke.lambda_runtime(fn, env, lambda_runtime.choose_python(), log=log) as runtime:
        port = int(runtime.endpoint.rsplit(":", 1)[1])
        # 0100007F is 127.0.0.1 as /proc/net/tcp writes it: no other machine can reach it.
        assert listening_addresses(port) == {"0100007F"}
        invocation = runtime.invoke({"probe": True})
        api_port = int(invocation.payload["env"]["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
        assert listening_addresses(api_port) == {"0100007F"}
    assert invocation.ok, invocation.error
    result = invocation.payload
    # The code directory, then the runtime client, then the standard library: no site-packages.
    assert result["path"] == [fn.code_uri, str(runtime.runtime_client)]
    assert result["leaked"] is False
    assert result["context_class"] == "awslambdaric.lambda_context"
    assert result["env"]["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert result["env"]["AWS_SAM_LOCAL"] == "true"
    assert result["env"]["_HANDLER"] == "probe.app.handler"
    assert result["env"]["LAMBDA_TASK_ROOT"] == fn.code_uri
    assert result["env"]["HOME"] == str(tmp_path)
    assert "PYTEST_CURRENT_TEST" not in result["env"]
    assert 0 < result["remaining"] <= 30_000
    assert (result["memory"], result["name"]) == ("256", "Fn")
    # The emulator's framing around the invocation, with the request ID the function saw.
    text = log.getvalue()
    assert f"START RequestId: {result['request_id']} Version: $LATEST" in text
    assert f"END RequestId: {result['request_id']}" in text
    assert f"REPORT RequestId: {result['request_id']}" in text
    assert "Memory Size: 256 MB" in text
    assert not list(Path(fn.code_uri).rglob("*.pyc")), "the run wrote bytecode into the code directory"


def test_an_emulator_that_goes_away_is_an_error_not_a_traceback(tmp_path, probe_function):
    fn = probe_function
    env = invoke.sandbox_environment(fn, invoke.resolve_environment(fn, {}, shell_env={}), str(tmp_path))
    with invoke.lambda_runtime(fn, env, lambda_runtime.choose_python(), log=io.StringIO()) as runtime:
        runtime._proc.kill()
        runtime._proc.wait()
        invocation = runtime.invoke({"probe": True})
    assert invocation.error["errorType"] == "LocalRuntime.NoAnswer"
    assert "did not answer" in invoke.describe_invocation(invocation)


def test_a_function_error_is_lambdas_error_document():
    invocation = lambda_runtime.Invocation(200, b'{"errorMessage": "boom", "errorType": "ValueError"}')
    assert invocation.error == {"errorMessage": "boom", "errorType": "ValueError"}
    assert invoke.describe_invocation(invocation) == "Function failed: ValueError: boom"
    timed_out = lambda_runtime.Invocation(200, b"Task timed out after 3.00 seconds", timed_out=True)
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert (
        invoke.describe_invocation(lambda_runtime.Invocation(200, b'{"a": 1}'))
        == 'Function returned: {"a": 1}'
    )


def test_credentials_for_the_emulators_account_or_a_note_saying_why_not(aws_env):
    found = invoke.emulator_credentials(aws_env.endpoint_url, lambda_runtime.RIE_ACCOUNT_ID)
    sts = boto3.client(
        "sts",
        endpoint_url=aws_env.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=found["key"],
        aws_secret_access_key=found["secret"],
    )
    # moto files the function's requests under the account in the ARN the emulator gives it.
    assert sts.get_caller_identity()["Account"] == lambda_runtime.RIE_ACCOUNT_ID == "012345678912"
    out = io.StringIO()
    assert invoke._emulator_account(out, "http://127.0.0.1:9") == {}
    assert "made no credentials for account 012345678912" in out.getvalue()


def test_the_containers_name_for_the_host_means_loopback_here():
    assert invoke._local_endpoint("http://host.docker.internal:4599") == "http://127.0.0.1:4599"
    assert invoke._local_endpoint("http://emulator:4599") == "http://emulator:4599"


def test_the_runtime_client_pins_are_constraints_txts():
    pins = lambda_runtime.runtime_client_pins()
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    assert [pin.split("==")[0] for pin in pins] == ["awslambdaric", "simplejson", "snapshot-restore-py"]
    assert all(pin in lock for pin in pins)
    assert "awslambdaric==" + pins[0].split("==")[1] in (ROOT / "requirements-dev.txt").read_text()


def test_no_python_313_means_the_best_311_plus_and_one_line_saying_so(monkeypatch):
    monkeypatch.setattr(lambda_runtime, "find_runtime_python", lambda env=None: None)
    monkeypatch.setattr(lambda_runtime, "_candidates", lambda version: [])
    chosen = lambda_runtime.choose_python()
    assert chosen.path == sys.executable
    assert chosen.version >= (3, 11)
    assert not chosen.is_runtime_version
    assert "\n" not in chosen.difference()
    assert "python3.13" in chosen.difference()
    assert "ships none today" in chosen.difference()  # the package is pure Python now
    assert lambda_runtime.ChosenPython("/x/python3.13", (3, 13)).difference() == ""


def test_runtime_python_comes_from_runtime_python_first(tmp_path):
    python = lambda_runtime.find_runtime_python()
    if python is None:
        pytest.skip("no Python 3.13 on this machine")
    assert lambda_runtime.find_runtime_python({"RUNTIME_PYTHON": python, "PATH": ""}) == python
    assert lambda_runtime.find_runtime_python({"RUNTIME_PYTHON": sys.executable}) != sys.executable or (
        sys.version_info[:2] == (3, 13)
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")
def test_make_invoke_end_to_end(built_function):
    # Docker is only used when asked for (DOCKER=1), so this runs the same with or without one. What the
    # README tells a newcomer to run, with the sample Create event; the fixture has built the function, so
    # make's own build is a no-op. The embedded emulator and receiver, the RIE, the runtime client.
    done = subprocess.run(
        ["make", "--no-print-directory", "invoke", "EVENT=samples/events/create.json"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "-m local_aws.invoke --docker never --template .aws-sam/build/template.yaml --expect SUCCESS"
        in done.stdout
    )
    assert "Runs under aws-lambda-rie-" in done.stdout
    assert "embedded emulator" in done.stdout
    assert "ResponseURL rewritten to the local receiver" in done.stdout
    assert done.stdout.count("REPORT RequestId: ") == 1
    assert "OK: expected SUCCESS, got SUCCESS" in done.stdout
    # The samples' account is the one the emulator puts in every function's ARN (invoked_function_arn).
    assert "PhoneNumberArn: arn:aws:connect:us-east-1:012345678912:phone-number/" in done.stdout
