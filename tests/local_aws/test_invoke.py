"""The local invoke runner: template reading as SAM does, env-var precedence, the fresh-process runner."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import invoke

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

FAKE_APP = """\
import json, os, sys, time
from crhelper import CfnResource

helper = CfnResource(sleep_on_delete=0)


@helper.create
def create(event, context):
    if "TargetARN" in event["ResourceProperties"]:
        raise ValueError("Unknown property TargetARN")
    time.sleep(float(os.environ.get("SLEEP", "0")))
    helper.Data.update(
        Endpoint=os.environ.get("AWS_ENDPOINT_URL_CONNECT", ""),
        Level=os.environ.get("LEVEL", ""),
    )
    return "phys-1"


def handler(event, context):
    if event.get("probe"):
        try:
            import local_aws  # noqa: F401
            leaked = True
        except ImportError:
            leaked = False
        return {
            "path0": sys.path[0],
            "leaked": leaked,
            "env": dict(os.environ),
            "remaining": context.get_remaining_time_in_millis(),
            "memory": context.memory_limit_in_mb,
            "name": context.function_name,
        }
    helper(event, context)
    return {"handled": event["RequestType"]}
"""


@pytest.fixture
def project(tmp_path):
    """A template with Globals and intrinsics, and a crhelper function that needs no Connect."""

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


# ---- the fresh-process runner ------------------------------------------------------------------------


def test_handler_runs_in_a_fresh_sandbox_like_process(project):
    fn = invoke.read_function(project(), "Fn")
    resolved = invoke.resolve_environment(fn, {}, shell_env={})
    env = invoke.runtime_environment(fn, resolved, home=str(Path(fn.code_uri).parent))
    run = invoke.run_handler(fn, {"probe": True}, env, log=io.StringIO())
    assert run.ok, run.error
    assert run.result["path0"] == fn.code_uri
    assert run.result["leaked"] is False
    assert run.result["env"]["AWS_SAM_LOCAL"] == "true"
    assert run.result["env"]["_HANDLER"] == "fake.app.handler"
    assert run.result["env"]["LAMBDA_TASK_ROOT"] == fn.code_uri
    assert "PYTEST_CURRENT_TEST" not in run.result["env"]
    assert 0 < run.result["remaining"] <= 30_000
    assert (run.result["memory"], run.result["name"]) == ("256", "Fn")


def test_overrunning_handler_is_killed(project, monkeypatch):
    monkeypatch.setattr(invoke, "INIT_SECONDS", 0)
    fn = invoke.read_function(project(timeout=1), "Fn")
    env = invoke.runtime_environment(
        fn, invoke.resolve_environment(fn, {}, shell_env={}), home="/nonexistent"
    )
    env["SLEEP"] = "60"
    event = {"RequestType": "Create", "ResourceProperties": {}, "StackId": "s/x/y", "RequestId": "r"}
    event |= {"LogicalResourceId": "L", "ResponseURL": "https://127.0.0.1:9/x"}
    run = invoke.run_handler(fn, event, env, log=io.StringIO())
    assert run.timed_out
    assert run.error["errorType"] == "Sandbox.Timedout"


def test_main_prints_the_response_and_rewrites_the_response_url(project):
    out = io.StringIO()
    args = ["--event", str(ROOT / "samples/events/create.json"), "--template", str(project())]
    code = invoke.main(
        [*args, "--endpoint-url", "http://host.docker.internal:4599", "--docker", "never"], out=out
    )
    text = out.getvalue()
    assert code == 0, text
    assert "ResponseURL rewritten to the local receiver https://127.0.0.1:" in text
    assert "Status:             SUCCESS" in text
    assert "PhysicalResourceId: phys-1" in text
    # The runner is the host, so the containers' name for the host means loopback.
    assert "Endpoint: http://127.0.0.1:4599" in text
    assert 'Handler returned: {"handled": "Create"}' in text


def test_main_exit_code_follows_expect(project):
    args = ["--event", str(ROOT / "samples/events/invalid.json"), "--template", str(project())]
    args += ["--endpoint-url", "http://127.0.0.1:9", "--docker", "never"]
    out = io.StringIO()
    assert invoke.main(args, out=out) == 1
    assert "Status:             FAILED" in out.getvalue()
    assert "Reason:             Unknown property TargetARN" in out.getvalue()
    assert invoke.main([*args, "--expect", "FAILED"], out=io.StringIO()) == 0


# ---- end to end against the real provider and emulator -----------------------------------------------

MISSING = [
    name
    for name, found in (
        ("local_aws.connect.server", importlib.util.find_spec("local_aws.connect.server")),
        ("phone_number_assignment.app", (ROOT / "provider/phone_number_assignment/app.py").exists()),
    )
    if not found
]


@pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (not written yet)")
@pytest.mark.parametrize(
    ("events", "expect"),
    [
        (["create.json", "update.json", "delete.json"], "SUCCESS"),
        (["invalid.json"], "FAILED"),
    ],
)
def test_invoke_runner_end_to_end(events, expect):
    argv = [sys.executable, "-m", "local_aws.invoke", "--docker", "never", "--expect", expect]
    for name in events:
        argv += ["--event", f"samples/events/{name}"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(f"OK: expected {expect}, got {expect}") == len(events)
    assert "embedded emulator" in done.stdout
    assert "ResponseURL rewritten to the local receiver" in done.stdout
    if expect == "SUCCESS":
        assert "PhoneNumberArn: arn:aws:connect:us-east-1:123456789012:phone-number/" in done.stdout


@pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (not written yet)")
@pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")
def test_make_invoke_end_to_end():
    # Docker is only used when asked for (DOCKER=1), so this runs the same with or without one. What the
    # README tells a newcomer to run, with the sample Create event. make first checks the venv's stamp, which
    # the make target that runs this suite has just brought up to date: nothing is installed.
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
        "-m local_aws.invoke --docker never --expect SUCCESS --event samples/events/create.json"
        in done.stdout
    )
    assert "OK: expected SUCCESS, got SUCCESS" in done.stdout
    assert "PhoneNumberArn: arn:aws:connect:us-east-1:123456789012:phone-number/" in done.stdout
