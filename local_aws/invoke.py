"""Invoke the provider function locally, the way ``sam local invoke`` does, with or without Docker.

    python -m local_aws.invoke --event samples/events/create.json [--template template.yaml]
        [--function ProviderFunction] [--env-vars samples/env.json] [--docker never|auto|always]

By default (``--docker never``) nothing leaves this machine. Only when asked (``--docker always``, or
``auto`` and ``docker info`` succeeds) does it hand over to ``sam local invoke``, and then only with an
env-vars file that points the function at a Connect emulator that answers, because inside the container
the function otherwise uses your credentials against the real Connect. The Docker-free runner reads the
template with SAM CLI's own template provider (so Globals, intrinsic resolution and --env-vars precedence
are SAM's, not a re-implementation), runs the handler in a fresh interpreter whose sys.path is CodeUri
plus site-packages and whose environment is what sam local would give the container, and reports the
CloudFormation response the function PUT. Without an external emulator (``--endpoint-url`` or a resolved
AWS_ENDPOINT_URL_CONNECT) it starts the Connect emulator seeded with samples/world.json and a local HTTPS
ResponseReceiver, and rewrites the event's ResponseURL to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from local_aws.cloudformation import ResponseNeverArrived, ResponseReceiver, response_problems

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_WORLD = REPO_ROOT / "samples" / "world.json"
LAMBDA_CONTEXT_FILE = Path(__file__).resolve().parent / "lambda_context.py"
# Lambda gives a function's init phase its own 10 s on top of the invoke timeout.
INIT_SECONDS = 10
# How long after the function exits its response PUT may still be in flight to the receiver.
RESPONSE_GRACE_SECONDS = 5.0


class InvokeError(Exception):
    """A problem with the invocation set-up (template, event, env-vars file), reported without a traceback."""


# --------------------------------------------------------------------------------------------------
# Reading the template as SAM does
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    handler: str
    code_uri: str  # absolute
    runtime: str
    timeout: int
    memory: int
    variables: Mapping[str, Any]  # Environment.Variables after Globals and SAM's intrinsic resolution
    logging_config: Mapping[str, Any] | None
    sam_function: Any = field(repr=False, compare=False)


def read_function(
    template: str | os.PathLike,
    function: str | None = None,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
) -> FunctionConfig:
    """The function as ``sam local invoke`` sees it: SAM CLI's provider does the reading and resolving.

    Unresolvable intrinsics stay as they are (SAM resolves with ignore_errors), and become "" once
    stringified into the environment, exactly as in a container.
    """
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    path = Path(template).resolve()
    if not path.is_file():
        raise InvokeError(f"template {template} not found")
    # An absolute path, because SAM joins CodeUri onto the template path it was given.
    stacks, _ = SamLocalStackProvider.get_stacks(
        str(path), parameter_overrides=dict(parameter_overrides or {})
    )
    provider = SamFunctionProvider(stacks, ignore_code_extraction_warnings=True)
    functions = list(provider.get_all())
    if function is None:
        if len(functions) != 1:
            names = ", ".join(f.name for f in functions) or "none"
            raise InvokeError(
                f"{template} has {len(functions)} functions ({names}); choose one with --function"
            )
        found = functions[0]
    else:
        found = provider.get(function)
        if found is None:
            names = ", ".join(f.name for f in functions) or "none"
            raise InvokeError(f"function {function} not found in {template} (functions: {names})")
    if found.packagetype != "Zip" or not found.codeuri:
        raise InvokeError(f"{found.name} is not a Zip-packaged function with a local CodeUri")
    code_uri = Path(found.codeuri)
    if not code_uri.is_absolute():
        code_uri = path.parent / code_uri
    environment = found.environment if isinstance(found.environment, dict) else {}
    return FunctionConfig(
        logical_id=found.name,
        handler=found.handler,
        code_uri=str(code_uri.resolve()),
        runtime=found.runtime,
        # SAM's FunctionConfig defaults, which are also Lambda's.
        timeout=int(found.timeout or 3),
        memory=int(found.memory or 128),
        variables=dict(environment.get("Variables") or {}),
        logging_config=found.logging_config,
        sam_function=found,
    )


def load_env_vars_file(path: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read --env-vars file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        # The same check (and the same refusal) as SAM's OverridesNotWellDefinedError.
        raise InvokeError(f"--env-vars file {path} must map function names (or 'Parameters') to objects")
    return data


def resolve_environment(
    function: FunctionConfig,
    env_vars_values: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    shell_env: Mapping[str, str] | None = None,
    aws_creds: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables ``sam local invoke`` gives the container, computed by SAM CLI's own code.

    Precedence, as in LocalLambdaRunner._make_env_vars: --env-vars entry for the function (by logical ID,
    function ID, name or full path) over its "Parameters" entry, over the shell's value, over the
    template's. Only variables the template declares can be overridden; SAM drops the rest (see
    ``ignored_overrides``).
    """
    from samcli.local.lambdafn.env_vars import EnvironmentVariables

    values = dict(env_vars_values or {})
    sam_fn = function.sam_function
    overrides: dict[str, Any] = {}
    if "Parameters" in values:
        overrides.update(values["Parameters"])
    specific = (
        values.get(sam_fn.name)
        or values.get(sam_fn.function_id)
        or values.get(sam_fn.functionname)
        or values.get(sam_fn.full_path)
    )
    if specific:
        overrides.update(specific)
    return EnvironmentVariables(
        function.logical_id,
        function.memory,
        function.timeout,
        function.handler,
        function.logging_config,
        variables=dict(function.variables),
        shell_env_values=dict(os.environ if shell_env is None else shell_env),
        override_values=overrides,
        aws_creds=dict(aws_creds or {}),
    ).resolve()


def ignored_overrides(
    function: FunctionConfig, env_vars_values: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """--env-vars names that SAM silently ignores because the template does not declare them."""
    sam_fn = function.sam_function
    keys = {sam_fn.name, sam_fn.function_id, sam_fn.functionname, sam_fn.full_path, "Parameters"}
    given = {name for key in keys for name in (env_vars_values.get(key) or {})}
    return sorted(given - set(function.variables))


def shell_aws_creds() -> dict[str, str]:
    """Credentials and Region as SAM CLI finds them (boto3's default chain), for external endpoints."""
    import boto3

    session = boto3.session.Session()
    result: dict[str, str] = {}
    if session.region_name:
        result["region"] = session.region_name
    creds = session.get_credentials()
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        result.update(key=frozen.access_key, secret=frozen.secret_key)
        if frozen.token:
            result["sessiontoken"] = frozen.token
    return result


# --------------------------------------------------------------------------------------------------
# Running the handler in a fresh interpreter
# --------------------------------------------------------------------------------------------------

# Runs under ``python -I -B``: no PYTHONPATH, no user site, no script directory, so sys.path is exactly
# CodeUri + the interpreter's site-packages, like /var/task + the runtime in a Lambda sandbox; and no
# bytecode is written, because /var/task is read-only in Lambda and a .pyc of this Python left in a built
# artifact would be uploaded by sam deploy. A built artifact (it carries its dependencies) also runs with
# -S: without site-packages, so a dependency missing from it cannot be found in this venv instead.
_BOOTSTRAP = r"""
import importlib, importlib.util, json, os, sys, traceback
context_file, event_file, result_file, task_root = sys.argv[1:5]
sys.path.insert(0, task_root)
spec = importlib.util.spec_from_file_location("_local_lambda_context", context_file)
lambda_context = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lambda_context)

def report(payload):
    with open(result_file, "w") as f:
        json.dump(payload, f)

def failure(error_type, exc):
    return {"ok": False, "errorType": error_type, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}

with open(event_file) as f:
    event = json.load(f)
module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
try:
    handler = getattr(importlib.import_module(module_name), function_name)
except Exception as exc:
    report(failure("Runtime.ImportModuleError", exc))
    sys.exit(1)
env = os.environ
context = lambda_context.LambdaContext(
    function_name=env["AWS_LAMBDA_FUNCTION_NAME"],
    timeout_seconds=float(env["AWS_LAMBDA_FUNCTION_TIMEOUT"]),
    memory_limit_in_mb=env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
    function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    region=env["AWS_REGION"],
    account_id=env.get("AWS_ACCOUNT_ID", "123456789012"),
    log_group_name=env.get("AWS_LAMBDA_LOG_GROUP_NAME"),
)
try:
    result = handler(event, context)
except Exception as exc:
    report(failure(type(exc).__name__, exc))
    sys.exit(1)
try:
    report({"ok": True, "result": result})
except (TypeError, ValueError) as exc:
    report(failure("Runtime.MarshalError", exc))
    sys.exit(1)
"""


@dataclass
class RunResult:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    timed_out: bool = False
    exit_code: int | None = None


def runtime_environment(function: FunctionConfig, resolved: Mapping[str, str], home: str) -> dict[str, str]:
    """The container's environment: SAM's resolved variables plus what the Lambda runtime itself sets.

    Nothing else from the caller's shell leaks in; HOME is an empty directory so ~/.aws profiles on this
    machine are as invisible to the function as they are inside a container.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": home,
        "LAMBDA_TASK_ROOT": function.code_uri,
        "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(resolved)
    return env


def is_built(function: FunctionConfig) -> bool:
    """Whether CodeUri is a built artifact (sam build output) rather than the source directory."""
    return any(Path(function.code_uri).glob("*.dist-info"))


def run_handler(
    function: FunctionConfig,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    python: str | None = None,
    log: TextIO | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run the handler once in a new interpreter (a cold start) and return what Lambda would report.

    The function's output goes to ``log`` (default stderr) as it happens. After Timeout (+ the init
    allowance) the whole process group is killed, like Lambda ending a sandbox.
    """
    log = log or sys.stderr
    limit = (timeout if timeout is not None else function.timeout) + INIT_SECONDS
    with tempfile.TemporaryDirectory(prefix="local-invoke-") as tmp:
        event_file, result_file = os.path.join(tmp, "event.json"), os.path.join(tmp, "result.json")
        with open(event_file, "w") as f:
            json.dump(event, f)
        flags = ["-I", "-B"] + (["-S"] if is_built(function) else [])
        argv = [
            python or sys.executable,
            *flags,
            "-c",
            _BOOTSTRAP,
            str(LAMBDA_CONTEXT_FILE),
            event_file,
            result_file,
            function.code_uri,
        ]
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and bootstrap
            argv,
            env=dict(env),
            cwd=function.code_uri,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        relay = threading.Thread(target=_relay, args=(proc.stdout, log), name="local-invoke-log", daemon=True)
        relay.start()
        timed_out = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        relay.join(timeout=5)
        if timed_out:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {limit:.2f} seconds",
            }
            return RunResult(ok=False, error=error, timed_out=True, exit_code=proc.returncode)
        try:
            with open(result_file) as f:
                payload = json.load(f)
        except (OSError, ValueError):
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: exit status {proc.returncode}",
            }
            return RunResult(ok=False, error=error, exit_code=proc.returncode)
    if payload.get("ok"):
        return RunResult(ok=True, result=payload.get("result"), exit_code=proc.returncode)
    return RunResult(ok=False, error=payload, exit_code=proc.returncode)


def _relay(stream, log: TextIO) -> None:
    for line in iter(stream.readline, b""):
        log.write(line.decode(errors="replace"))
        log.flush()
    stream.close()


# --------------------------------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------------------------------


def docker_works() -> tuple[bool, str]:
    """Whether a container runtime really answers (the CLI alone is not enough), and why not."""
    if shutil.which("docker") is None:
        return False, "no docker CLI on PATH"
    try:
        done = subprocess.run(
            ["docker", "info"],  # noqa: S607 - whichever docker the user has on PATH, as sam uses
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"docker info failed: {exc}"
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        return False, f"docker info failed: {lines[-1] if lines else f'exit {done.returncode}'}"
    return True, "docker info succeeded"


def docker_endpoint(args: argparse.Namespace) -> str:
    """The emulator the container will call, from the env-vars file; refuses anything else.

    sam local invoke hands the container the caller's AWS credentials, so without an endpoint the
    function would move real phone numbers in whatever account the shell is signed in to.
    """
    function = read_function(args.template, args.function)
    if not is_built(function):
        raise InvokeError(
            f"{args.template} points at source code without its dependencies; sam local invoke needs the "
            "built template (make build, then --template .aws-sam/build/template.yaml)"
        )
    values = load_env_vars_file(args.env_vars)
    endpoint = resolve_environment(function, values, shell_env={}).get("AWS_ENDPOINT_URL_CONNECT", "")
    if not endpoint:
        raise InvokeError(
            "refusing to run sam local invoke without AWS_ENDPOINT_URL_CONNECT for the function in "
            "--env-vars (samples/env.json has it): the container would use your credentials against the "
            "real Connect"
        )
    parts = urlsplit(_local_endpoint(endpoint))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            pass
    except OSError as exc:
        raise InvokeError(
            f"no Connect emulator answers at {endpoint} ({exc}); start one with make emulator"
        ) from exc
    return endpoint


def sam_local_invoke(args: argparse.Namespace) -> int:
    endpoint = docker_endpoint(args)
    sam = shutil.which("sam") or str(Path(sys.executable).parent / "sam")
    argv = [sam, "local", "invoke", "--template", args.template, "--event", args.event[0]]
    if args.function:
        argv.insert(3, args.function)
    argv += ["--env-vars", args.env_vars]
    if platform.system() == "Linux" and "host.docker.internal" in endpoint:
        # Docker Desktop defines host.docker.internal; Linux's Docker Engine needs it mapped.
        argv += ["--add-host", "host.docker.internal:host-gateway"]
    print(
        "Running: " + " ".join(argv) + "\n"
        "(the event's ResponseURL is used as-is; see docs/local-development.md, 'sam local invoke with "
        "Docker', to receive the response locally)",
        flush=True,
    )
    env = {**os.environ, "SAM_CLI_TELEMETRY": os.environ.get("SAM_CLI_TELEMETRY", "0")}
    return subprocess.run(argv, env=env, check=False).returncode  # noqa: S603


# --------------------------------------------------------------------------------------------------
# The Docker-free invocation, end to end
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_emulator(world_file: str | os.PathLike) -> Iterator[str]:
    try:
        from local_aws.connect.server import start_emulator
    except ImportError as exc:
        raise InvokeError(
            f"the Connect emulator (local_aws.connect.server) is not available: {exc}. "
            "Pass --endpoint-url to use one that is already running."
        ) from exc
    world = json.loads(Path(world_file).read_text())
    with start_emulator() as emulator:
        emulator.control.seed(world)
        yield emulator.endpoint_url


def load_event(path: str) -> dict[str, Any]:
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read event {path}: {exc}") from exc
    if not isinstance(event, dict):
        raise InvokeError(f"event {path} is not a JSON object")
    return event


def _local_endpoint(url: str) -> str:
    # The Docker-free runner is the host, so the name containers use for the host means loopback here.
    parts = urlsplit(url)
    if parts.hostname == "host.docker.internal":
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def print_response(out: TextIO, body: Mapping[str, Any]) -> None:
    out.write(f"  Status:             {body.get('Status')}\n")
    out.write(f"  PhysicalResourceId: {body.get('PhysicalResourceId')}\n")
    if body.get("Reason"):
        out.write(f"  Reason:             {body.get('Reason')}\n")
    data = body.get("Data") or {}
    out.write("  Data:" + (" {}\n" if not data else "\n"))
    for key in sorted(data):
        out.write(f"    {key}: {data[key]}\n")
    if body.get("NoEcho"):
        out.write("  NoEcho:             true\n")


def run_docker_free(args: argparse.Namespace, out: TextIO) -> int:
    function = read_function(args.template, args.function)
    env_values = load_env_vars_file(args.env_vars)
    events = [(path, load_event(path)) for path in args.event]
    out.write(
        f"Function {function.logical_id} from {args.template}: handler {function.handler}, "
        f"CodeUri {os.path.relpath(function.code_uri)}, {function.runtime}, Timeout {function.timeout}s, "
        f"MemorySize {function.memory} MB\n"
    )
    python = args.python or sys.executable
    version = subprocess.run(  # noqa: S603 - the interpreter the user chose
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    packages = "the artifact's packages only" if is_built(function) else "its site-packages"
    if function.runtime.startswith("python") and function.runtime != f"python{version}":
        out.write(
            f"Note: the template asks for {function.runtime}; the Docker-free runner uses {python} "
            f"(Python {version or 'unknown'}) and {packages}.\n"
        )
    for name in ignored_overrides(function, env_values):
        out.write(
            f"Note: --env-vars sets {name}, which {function.logical_id} does not declare under "
            "Environment.Variables; sam local invoke ignores it, and so does this runner.\n"
        )

    resolved_probe = resolve_environment(function, env_values)
    configured = args.endpoint_url or resolved_probe.get("AWS_ENDPOINT_URL_CONNECT", "")
    with contextlib.ExitStack() as stack:
        if configured:
            endpoint = _local_endpoint(configured)
            aws_creds = shell_aws_creds()
            out.write(f"Connect: using the emulator at {endpoint} (AWS_ENDPOINT_URL_CONNECT)\n")
        else:
            endpoint = stack.enter_context(embedded_emulator(args.world))
            world = json.loads(Path(args.world).read_text())
            # Placeholder credentials, as SAM uses when it finds none: nothing this run signs can be
            # replayed against a real account.
            aws_creds = {
                "region": world.get("region", "us-east-1"),
                "key": "defaultkey",
                "secret": "defaultsecret",
            }
            out.write(
                f"Connect: embedded emulator at {endpoint}, seeded with {os.path.relpath(args.world)} "
                "(AWS_ENDPOINT_URL_CONNECT)\n"
            )
        receiver = stack.enter_context(ResponseReceiver())
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="local-invoke-home-"))
        resolved = resolve_environment(function, env_values, aws_creds=aws_creds)
        # The emulator (moto) serves DynamoDB (the ownership records) and CloudFormation on the same port.
        for service in ("CONNECT", "DYNAMODB", "CLOUDFORMATION"):
            resolved[f"AWS_ENDPOINT_URL_{service}"] = endpoint
        resolved["SSL_CERT_FILE"] = receiver.trust_bundle()
        env = runtime_environment(function, resolved, home)

        failures = 0
        for path, event in events:
            failures += _invoke_one(args, out, function, env, receiver, path, event)
        return 1 if failures else 0


def _invoke_one(
    args: argparse.Namespace,
    out: TextIO,
    function: FunctionConfig,
    env: Mapping[str, str],
    receiver: ResponseReceiver,
    path: str,
    event: dict[str, Any],
) -> int:
    original_url = str(event.get("ResponseURL", ""))
    request_id = str(event.get("RequestId", ""))
    event = dict(event)
    if request_id and event.get("StackId"):
        logical_id = str(event.get("LogicalResourceId", "MainLine"))
        event["ResponseURL"] = receiver.url_for(str(event["StackId"]), request_id, logical_id=logical_id)
        shown = urlsplit(original_url)
        out.write(
            f"\n== {path}: {event.get('RequestType')} {event.get('LogicalResourceId')}\n"
            f"ResponseURL rewritten to the local receiver {receiver.endpoint} "
            f"(the event's pointed at {shown.scheme}://{shown.netloc})\n"
            "--- function output ---\n"
        )
    else:
        out.write(f"\n== {path}: no StackId/RequestId, so no CloudFormation response is expected\n")
    out.flush()

    run = run_handler(function, event, env, log=out, python=args.python)
    out.write("--- end of function output ---\n")
    if run.ok:
        out.write(f"Handler returned: {json.dumps(run.result)}\n")
    else:
        assert run.error is not None
        out.write(f"Handler failed: {run.error.get('errorType')}: {run.error.get('errorMessage')}\n")
    if not request_id:
        return 0 if run.ok else 1

    try:
        first = receiver.wait_for(request_id, timeout=RESPONSE_GRACE_SECONDS)
    except ResponseNeverArrived as exc:
        out.write(f"CloudFormation response: NONE. {exc}\nCloudFormation would wait for the full timeout.\n")
        return 1
    bodies = receiver.responses(request_id)
    attempts = receiver.attempts(request_id)
    out.write(f"CloudFormation response ({len(bodies)} accepted PUT(s), {len(attempts)} request(s)):\n")
    print_response(out, first)
    problems = response_problems(event, first, raw_size=len(attempts[0].raw_body) if attempts else None)
    if len(bodies) > 1:
        problems.append(f"the function PUT {len(bodies)} responses; CloudFormation acts on one")
    for problem in problems:
        out.write(f"  PROBLEM: {problem}\n")
    expected = args.expect
    as_expected = first.get("Status") == expected and not problems
    out.write(("OK" if as_expected else "UNEXPECTED") + f": expected {expected}, got {first.get('Status')}\n")
    return 0 if as_expected else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_aws.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--event",
        "-e",
        action="append",
        required=True,
        help="event JSON as sam local invoke -e takes it; repeat to run several in order, one emulator",
    )
    parser.add_argument("--template", "-t", default=os.path.relpath(DEFAULT_TEMPLATE))
    parser.add_argument("--function", help="logical ID of the function (default: the template's only one)")
    parser.add_argument("--env-vars", "-n", help="JSON file as sam local invoke --env-vars takes it")
    parser.add_argument(
        "--docker",
        choices=("never", "auto", "always"),
        default="never",
        help="sam local invoke in a container: only when asked (always), or when docker info answers (auto)",
    )
    parser.add_argument(
        "--python",
        help="interpreter for the Docker-free runner (default: this one); e.g. a python3.13 to run a built "
        "artifact on the runtime's version",
    )
    parser.add_argument(
        "--endpoint-url",
        help="a Connect emulator that is already running (default: start one seeded with --world)",
    )
    parser.add_argument(
        "--world", default=os.path.relpath(DEFAULT_WORLD), help="seed for the embedded emulator"
    )
    parser.add_argument(
        "--expect",
        choices=("SUCCESS", "FAILED"),
        default="SUCCESS",
        help="the response Status that counts as success (FAILED for samples/events/invalid.json)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = parse_args(argv)
    out = out or sys.stdout
    try:
        if args.docker == "always":
            docker_endpoint(args)  # an unsafe set-up is refused whether or not Docker answers
        if args.docker != "never":
            works, why = docker_works()
            if works:
                if len(args.event) > 1:
                    raise InvokeError("sam local invoke takes one --event at a time")
                return sam_local_invoke(args)
            if args.docker == "always":
                raise InvokeError(f"--docker always, but no container runtime answers ({why})")
            out.write(f"Docker: not usable ({why}); using the Docker-free runner\n")
        return run_docker_free(args, out)
    except InvokeError as exc:
        out.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
