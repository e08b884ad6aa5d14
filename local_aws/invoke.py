"""Invoke the provider function locally, the way ``sam local invoke`` does, with or without Docker.

    python -m local_aws.invoke --event samples/events/create.json [--template .aws-sam/build/template.yaml]
        [--function ProviderFunction] [--env-vars samples/env.json] [--docker never|auto|always]

By default (``--docker never``) nothing leaves this machine and no container is needed: the function runs
under Lambda's own pieces, the ones ``sam local invoke`` runs inside its container (local_aws.lambda_runtime):
SAM CLI's Runtime Interface Emulator and AWS's runtime interface client, awslambdaric, on Python 3.13 when one
is found. What remains here is what they do not do: reading the template as SAM does (SAM CLI's own template
provider, so Globals, intrinsic resolution and --env-vars precedence are SAM's), the Connect emulator, and the
CloudFormation side (a local HTTPS ResponseReceiver the event's ResponseURL is rewritten to, and the check of
the response the function PUT there). Without an external emulator (``--endpoint-url`` or a resolved
AWS_ENDPOINT_URL_CONNECT) it starts the Connect emulator seeded with samples/world.json.

Only when asked (``--docker always``, or ``auto`` and ``docker info`` succeeds) does it hand over to
``sam local invoke``, and then only with an env-vars file that points the function at a Connect emulator that
answers, because inside the container the function otherwise uses your credentials against the real Connect.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from local_aws import lambda_runtime as lambda_runtime_module
from local_aws.cloudformation import ResponseNeverArrived, ResponseReceiver, response_problems

REPO_ROOT = Path(__file__).resolve().parent.parent
# What make build writes: the function with its dependencies, as sam local invoke and Lambda run it.
DEFAULT_TEMPLATE = REPO_ROOT / ".aws-sam" / "build" / "template.yaml"
DEFAULT_FUNCTION = "ProviderFunction"
DEFAULT_WORLD = REPO_ROOT / "samples" / "world.json"
# How long after the function's answer its response PUT may still be in flight to the receiver.
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
    # template.yaml also declares DriftCheckFunction, which SAM CLI lists whatever its Condition says: the
    # provider is what `make invoke` means.
    if function is None and len(functions) > 1 and DEFAULT_FUNCTION in {f.name for f in functions}:
        function = DEFAULT_FUNCTION
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


def emulator_credentials(endpoint: str, account_id: str) -> dict[str, str]:
    """Credentials that the moto-based emulator at ``endpoint`` files under ``account_id`` ({} if it cannot).

    The Runtime Interface Emulator (so sam local invoke too) gives every function the ARN
    arn:aws:lambda:us-east-1:012345678912:function:<name>, and the provider takes its account and Region from
    that ARN, so the emulator must serve that account to the function. moto picks the account of a request
    by its access key, so this makes an IAM user there (moto's x-moto-account-id header chooses the account
    of the call that creates it) and hands the function its key. Placeholder data in an emulator.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local-invoke",
        aws_secret_access_key="local-invoke",  # noqa: S106 - a placeholder for the local emulator
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )

    def choose_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    iam.meta.events.register("before-sign.iam.*", choose_account)
    name = f"local-invoke-{uuid.uuid4().hex[:12]}"
    try:
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
    except (BotoCoreError, ClientError):
        return {}
    return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _emulator_account(out: TextIO, endpoint: str) -> dict[str, str]:
    account = lambda_runtime_module.RIE_ACCOUNT_ID
    found = emulator_credentials(endpoint, account)
    if not found:
        out.write(
            f"Note: {endpoint} made no credentials for account {account} (the one in the ARN the emulator "
            "gives the function): the function's calls use other credentials, so another account's data.\n"
        )
    return found


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
# The execution environment (the Runtime Interface Emulator runs the function: local_aws.lambda_runtime)
# --------------------------------------------------------------------------------------------------


def sandbox_environment(function: FunctionConfig, resolved: Mapping[str, str], home: str) -> dict[str, str]:
    """The container's environment: SAM's resolved variables plus what Lambda's execution environment sets.

    The RIE hands its environment to the runtime as it is, so this is exactly what the function sees (plus
    AWS_LAMBDA_RUNTIME_API, which the RIE adds, and PYTHONPATH, the runtime client's directory). Nothing else
    from the caller's shell leaks in; HOME is an empty directory so ~/.aws profiles on this machine are as
    invisible to the function as they are inside a container.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": home,
        "LAMBDA_TASK_ROOT": function.code_uri,
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
    }
    env.update(resolved)
    return env


def is_built(function: FunctionConfig) -> bool:
    """Whether CodeUri is a built artifact (sam build output) rather than the source directory."""
    return any(Path(function.code_uri).glob("*.dist-info"))


def lambda_runtime(
    function: FunctionConfig,
    env: Mapping[str, str],
    python: lambda_runtime_module.ChosenPython,
    *,
    log: TextIO,
) -> lambda_runtime_module.LambdaRuntime:
    """The function's execution environment under SAM CLI's Runtime Interface Emulator (not started yet)."""
    return lambda_runtime_module.LambdaRuntime(
        code_dir=function.code_uri,
        handler=function.handler,
        env=env,
        python=python.path,
        runtime_client=lambda_runtime_module.ensure_runtime_client(python.path, log=log),
        timeout_seconds=float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or function.timeout),
        log=log,
    )


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
    # Without a container the function runs on the host: the containers' name for the host means loopback.
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
    if not Path(args.template).is_file() and Path(args.template).resolve() == DEFAULT_TEMPLATE:
        raise InvokeError(
            f"{os.path.relpath(DEFAULT_TEMPLATE)} not found: build the function first (make build)"
        )
    function = read_function(args.template, args.function)
    env_values = load_env_vars_file(args.env_vars)
    events = [(path, load_event(path)) for path in args.event]
    try:
        python = lambda_runtime_module.choose_python(args.python)
        rie = lambda_runtime_module.rie_path()
    except lambda_runtime_module.RuntimeSetupError as exc:
        raise InvokeError(str(exc)) from exc
    out.write(
        f"Function {function.logical_id} from {args.template}: handler {function.handler}, "
        f"CodeUri {os.path.relpath(function.code_uri)}, {function.runtime}, Timeout {function.timeout}s, "
        f"MemorySize {function.memory} MB\n"
        f"Runs under {rie.name} (the Runtime Interface Emulator SAM CLI ships) and awslambdaric on "
        f"{python.label}, without a container\n"
    )
    wanted = f"python{python.version[0]}.{python.version[1]}"
    if function.runtime == "python3.13" and not python.is_runtime_version:
        out.write(python.difference() + "\n")
    elif function.runtime.startswith("python") and function.runtime != wanted:
        out.write(f"Note: the template asks for {function.runtime}; this runs it on {python.label}.\n")
    if not is_built(function):
        out.write(
            f"Note: CodeUri {os.path.relpath(function.code_uri)} is not sam build output: only what it holds "
            "can be imported, as in sam local invoke (make build, then .aws-sam/build/template.yaml, for "
            "what ships).\n"
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
            aws_creds.update(_emulator_account(out, endpoint))
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
            aws_creds.update(_emulator_account(out, endpoint))
            out.write(
                f"Connect: embedded emulator at {endpoint}, seeded with {os.path.relpath(args.world)} "
                "(AWS_ENDPOINT_URL_CONNECT)\n"
            )
        receiver = stack.enter_context(ResponseReceiver())
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="local-invoke-home-"))
        resolved = resolve_environment(function, env_values, aws_creds=aws_creds)
        # The emulator (moto) serves DynamoDB (the ownership records) and CloudFormation on the same port.
        # ... and Lambda's asynchronous Invoke, by which a request continues in the next invocation (queued
        # there, and run below as Lambda would run it).
        for service in ("CONNECT", "DYNAMODB", "CLOUDFORMATION", "LAMBDA"):
            resolved[f"AWS_ENDPOINT_URL_{service}"] = endpoint
        resolved["SSL_CERT_FILE"] = receiver.trust_bundle()
        env = sandbox_environment(function, resolved, home)
        try:
            runtime = stack.enter_context(lambda_runtime(function, env, python, log=out))
        except lambda_runtime_module.RuntimeSetupError as exc:
            raise InvokeError(str(exc)) from exc

        from local_aws.connect.control import HttpControl  # moto: imported only when the emulator is used

        failures = 0
        for (path, event), expected in zip(events, args.expect, strict=True):
            failures += _invoke_one(out, runtime, receiver, path, event, expected, HttpControl(endpoint))
        return 1 if failures else 0


def describe_invocation(invocation: lambda_runtime_module.Invocation) -> str:
    """One line on what the runtime answered, as sam local invoke prints the function's result."""
    if invocation.timed_out:
        return f"Function timed out (the emulator ended it): {invocation.body.decode(errors='replace')}"
    error = invocation.error
    if error is not None:
        return f"Function failed: {error.get('errorType')}: {error.get('errorMessage')}"
    return f"Function returned: {invocation.body.decode(errors='replace')}"


def _invoke_one(
    out: TextIO,
    runtime: lambda_runtime_module.LambdaRuntime,
    receiver: ResponseReceiver,
    path: str,
    event: dict[str, Any],
    expected: str,
    control: Any = None,
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
            "--- runtime output (START/END/REPORT from the emulator, the function's logs) ---\n"
        )
    else:
        out.write(f"\n== {path}: no StackId/RequestId, so no CloudFormation response is expected\n")
    out.flush()

    invocation = runtime.invoke(event)
    out.write("--- end of runtime output ---\n" + describe_invocation(invocation) + "\n")
    if not request_id:
        return 0 if invocation.ok else 1
    # The request handed to a later invocation (an asynchronous Invoke the emulator queued): run it as
    # Lambda runs an asynchronous event, until none is left.
    while control is not None and (queued := control.take_invocations(request_id)):
        for continued in queued:
            out.write("--- continuation: the function invoked itself asynchronously ---\n")
            invocation = runtime.invoke(continued["payload"])
            out.write(describe_invocation(invocation) + "\n")

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
    parser.add_argument(
        "--template",
        "-t",
        default=os.path.relpath(DEFAULT_TEMPLATE),
        help="the built template (default; make build writes it), or another SAM template",
    )
    parser.add_argument(
        "--function",
        help="logical ID of the function (default: the template's only one, or ProviderFunction)",
    )
    parser.add_argument("--env-vars", "-n", help="JSON file as sam local invoke --env-vars takes it")
    parser.add_argument(
        "--docker",
        choices=("never", "auto", "always"),
        default="never",
        help="sam local invoke in a container: only when asked (always), or when docker info answers (auto)",
    )
    parser.add_argument(
        "--python",
        help="interpreter that runs the function (default: a Python 3.13 from RUNTIME_PYTHON, PATH or pyenv, "
        "else the best Python 3.11+)",
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
        action="append",
        help="the response Status that counts as success (FAILED for samples/events/invalid.json); once for "
        "every event, or once per --event, in the same order (default SUCCESS)",
    )
    args = parser.parse_args(argv)
    expected = args.expect or ["SUCCESS"]
    if len(expected) == 1:
        expected = expected * len(args.event)
    elif len(expected) != len(args.event):
        parser.error(f"{len(expected)} --expect for {len(args.event)} --event: give one, or one per event")
    args.expect = expected
    return args


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
            out.write(f"Docker: not usable ({why}); running without a container\n")
        return run_docker_free(args, out)
    except InvokeError as exc:
        out.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
