"""The local AWS the benchmark drives the real handler against: the Connect emulator over HTTP, an HTTPS
CloudFormation response receiver, a seeded world, and Lambda-like isolation between invocations."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROVIDER_DIR = REPO / "provider"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# The template's Timeout: CloudFormation's invocations get this much, and so do the benchmark's.
LAMBDA_TIMEOUT_SECONDS = 900


def progress(message: str) -> None:
    """Progress goes to stderr; the table goes to stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def provider_on_path() -> None:
    if str(PROVIDER_DIR) not in sys.path:
        sys.path.insert(0, str(PROVIDER_DIR))


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


@dataclass(frozen=True)
class World:
    """Two instances; every number starts CLAIMED on ``source`` and is assigned to ``target``."""

    source_id: str
    target_id: str
    number_ids: tuple[str, ...]

    @property
    def target_arn(self) -> str:
        return arn(f"instance/{self.target_id}")

    def number_arn(self, number_id: str) -> str:
        return arn(f"phone-number/{number_id}")

    @property
    def number_arns(self) -> list[str]:
        return [self.number_arn(n) for n in self.number_ids]

    def as_seed(self, first_number: int = 0) -> dict[str, Any]:
        return {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": self.source_id, "alias": "bench-source"}, {"id": self.target_id}],
            "phone_numbers": [
                {"id": n, "phone_number": f"+1555{first_number + i:07d}", "target": self.source_id}
                for i, n in enumerate(self.number_ids)
            ],
        }


_numbers_issued = 0
_numbers_lock = threading.Lock()


# A new account's "Phone numbers per instance" (Amazon Connect service quotas); the emulator enforces it.
DEFAULT_PHONE_NUMBERS_PER_INSTANCE = 5


def seed_world(control: Any, numbers: int) -> World:
    """A fresh world with ``numbers`` distinct phone numbers (E.164 numbers never repeat in a run).

    Both instances get room for every number: the benchmark measures the provider and the API rate quotas,
    and a default account's quota of 5 numbers per instance would fail the sixth move (an account that
    moves this many numbers into one instance has that quota raised).
    """
    global _numbers_issued
    with _numbers_lock:
        first = _numbers_issued
        _numbers_issued += numbers
    world = World(str(uuid.uuid4()), str(uuid.uuid4()), tuple(str(uuid.uuid4()) for _ in range(numbers)))
    control.seed(world.as_seed(first))
    if numbers > DEFAULT_PHONE_NUMBERS_PER_INSTANCE:
        for instance_id in (world.source_id, world.target_id):
            control.set_phone_number_quota(
                numbers, instance_id=instance_id, account_id=ACCOUNT, region=REGION
            )
        progress(
            f'quota "Phone numbers per instance" raised from {DEFAULT_PHONE_NUMBERS_PER_INSTANCE} to '
            f"{numbers} on both instances of this world (as Service Quotas would, on request)"
        )
    return world


@dataclass
class EmulatorProcess:
    endpoint_url: str
    control: Any  # local_aws.connect.control.HttpControl


@dataclass
class LocalAws:
    emulator: EmulatorProcess
    receiver: Any  # local_aws.cloudformation.ResponseReceiver
    trust_bundle: str

    @property
    def control(self) -> Any:
        return self.emulator.control


AWS_ENV_REMOVED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
)


@contextlib.contextmanager
def emulator_process() -> Iterator[EmulatorProcess]:
    """The Connect emulator in a process of its own, like the remote service it stands for.

    In this process it would compete for the GIL with the hundred handler threads it is serving, and its
    own slowness would be charged to the provider.
    """
    from local_aws.connect.control import HttpControl

    with tempfile.TemporaryFile(mode="w+") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.connect.server", "--port", "0", "--quiet"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            endpoint = _wait_for_endpoint(process, out)
            yield EmulatorProcess(endpoint, HttpControl(endpoint, timeout=60))
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_endpoint(process: subprocess.Popen, out: Any, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out.seek(0)
        for line in out.read().splitlines():
            if " listening on " in line:
                return line.rsplit(" ", 1)[-1]
        if process.poll() is not None:
            out.seek(0)
            raise RuntimeError(f"the Connect emulator exited ({process.returncode}): {out.read()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError("the Connect emulator did not start within a minute")


@contextlib.contextmanager
def local_aws() -> Iterator[LocalAws]:
    """Start the emulator and the receiver and point this process's boto3 (the provider's) at them."""
    from local_aws.cloudformation import ResponseReceiver, trusting

    saved = dict(os.environ)
    try:
        with emulator_process() as emulator, ResponseReceiver() as receiver, trusting(receiver) as bundle:
            for name in AWS_ENV_REMOVED:
                os.environ.pop(name, None)
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL_CONNECT": emulator.endpoint_url,
                    # moto's server answers every service on the one port: the ownership record (DynamoDB)
                    # and the stack lookups (CloudFormation) stay on this machine too.
                    "AWS_ENDPOINT_URL_DYNAMODB": emulator.endpoint_url,
                    "AWS_ENDPOINT_URL_CLOUDFORMATION": emulator.endpoint_url,
                    # ... and Lambda's asynchronous Invoke (a request continued in the next invocation).
                    "AWS_ENDPOINT_URL_LAMBDA": emulator.endpoint_url,
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION,
                    # This machine's ~/.aws must not change the provider's client (retry mode, Region...).
                    "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                }
            )
            # The emulator's first Connect request builds moto's routing (a quarter of a second); pay it now
            # rather than in whichever sample comes first.
            _warm(clients_module().connect_client.__wrapped__(REGION))
            ownership_table(clients_module().dynamodb_client.__wrapped__(REGION))
            yield LocalAws(emulator, receiver, bundle)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def ownership_table(client: Any) -> None:
    """Create the ownership table as the provider would (records.py), before any run starts.

    The benchmark stands for an account where the provider has run before: the table exists. Without it
    the first run's invocations would all race to create it, and pace themselves alone until it exists
    (pace.UNAVAILABLE_SECONDS), which measures the first deployment in an account, once, not a stack.
    """
    provider_on_path()
    from botocore.exceptions import ClientError

    from phone_number_assignment.records import KEY, OWNERSHIP_TABLE

    with contextlib.suppress(ClientError):  # already there
        client.create_table(
            TableName=OWNERSHIP_TABLE,
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )


def clients_module() -> Any:
    provider_on_path()
    from phone_number_assignment import clients

    return clients


def provider_handler() -> Callable[[dict, Any], Any]:
    provider_on_path()
    from phone_number_assignment.app import handler

    return handler


def _warm(client: Any) -> None:
    """Pay a client's first-call costs (endpoint rules, operation models) for the four operations a Create
    makes, on a number that does not exist."""
    from botocore.exceptions import ClientError

    missing = arn("phone-number/00000000-0000-4000-8000-000000000000")
    calls = (
        lambda: client.describe_phone_number(PhoneNumberId=missing),
        lambda: client.tag_resource(resourceArn=missing, tags={"warm": "up"}),
        lambda: client.untag_resource(resourceArn=missing, tagKeys=["warm"]),
        lambda: client.update_phone_number(
            PhoneNumberId=missing, TargetArn=arn(f"instance/{uuid.uuid4()}"), ClientToken="warm-up"
        ),
    )
    for call in calls:
        with contextlib.suppress(ClientError):
            call()


@contextlib.contextmanager
def one_client_per_invocation(prepared: int = 0) -> Iterator[None]:
    """Give each invocation its own Connect client, as separate Lambda containers have.

    In Lambda, CloudFormation's concurrent requests land in separate execution environments, each with its
    own module state: its own botocore client, connection pool and retry quota. Here they are threads of one
    process, so the provider's process-wide ``connect_client`` cache is swapped for a per-thread one (every
    invocation runs on a thread of its own) while the benchmark runs.

    ``prepared`` clients are created and warmed up front. Containers initialise in parallel in Lambda, each
    paying a few tens of milliseconds for its client and its first calls; here a hundred of them would queue
    behind one GIL and hold back the first requests by seconds, which says nothing about the provider.
    Container start-up is measured on its own, in the cold-start section.
    """
    provider_on_path()
    from phone_number_assignment import app, clients

    local = threading.local()
    create = clients.connect_client.__wrapped__
    ready = [create(REGION) for _ in range(prepared)]
    for client in ready:
        _warm(client)
    ready_lock = threading.Lock()

    def connect_client(region: str | None = None) -> Any:
        client = getattr(local, "client", None)
        if client is None:
            with ready_lock:
                client = ready.pop() if ready and region in (None, REGION) else None
            local.client = client = client or create(region)
        return client

    # The shared pace's DynamoDB client (pace.py) is per container too: its own connection, as in Lambda.
    create_pace = clients.pace_client.__wrapped__
    paces = [create_pace(REGION) for _ in range(prepared)]

    def pace_client(region: str | None = None) -> Any:
        client = getattr(local, "pace", None)
        if client is None:
            with ready_lock:
                client = paces.pop() if paces and region in (None, REGION) else None
            local.pace = client = client or create_pace(region)
        return client

    original = app.connect_client, app.pace_client
    app.connect_client, app.pace_client = connect_client, pace_client
    try:
        yield
    finally:
        app.connect_client, app.pace_client = original


# How invocations run: each in a process of its own, as Lambda runs them (one execution environment per
# concurrent request), or as threads of this process, each with its own Connect client (lighter: on a
# small machine a hundred interpreters starting at once take a minute of CPU before the clock starts).
INVOCATION_MODES = ("processes", "threads")
invocation_mode = "processes"


def _container_main(conn: Any) -> None:
    """One Lambda execution environment: import the provider, make its clients, serve one invocation.

    Runs in a process of its own (multiprocessing's spawn: a fresh interpreter, as a cold container), with
    this process's environment (the emulator's endpoints, the receiver's trust bundle) and standard output
    (the benchmark's log file) as Lambda would give it the function's configuration and CloudWatch.
    """
    provider_on_path()
    from local_aws.lambda_context import LambdaContext
    from phone_number_assignment import app, clients

    _warm(clients.connect_client(REGION))
    clients.pace_client(REGION)
    clients.dynamodb_client(REGION)
    conn.send("ready")
    # Warm, it serves the next invocation too (a request continued in the next invocation: Lambda reuses
    # a free execution environment).
    while (request := conn.recv()) is not None:
        event, timeout_seconds = request
        context = LambdaContext(timeout_seconds=timeout_seconds, region=REGION, memory_limit_in_mb=512)
        try:
            app.handler(event, context)
        except BaseException as error:  # noqa: BLE001 - reported to the caller as Lambda would report it
            conn.send(f"{type(error).__name__}: {error}")
        else:
            conn.send(None)
        sys.stdout.flush()


class Containers:
    """``count`` warm execution environments in processes of their own; ``handler`` gives each one request.

    Created and warmed before the clock starts, in parallel (Lambda starts its environments in parallel
    too; their cold starts are measured in the cold-start section).
    """

    def __init__(self, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._free: list[Any] = []
        self._processes: list[Any] = []
        self._lock = threading.Lock()
        pipes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_container_main, args=(child,), daemon=True)
            process.start()
            child.close()
            pipes.append(parent)
            self._processes.append(process)
        for pipe in pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("an invocation process did not start")
            self._free.append(pipe)

    def handler(self, event: dict, context: Any) -> None:
        with self._lock:
            pipe = self._free.pop()
        pipe.send((event, context.get_remaining_time_in_millis() / 1000))
        error = pipe.recv()
        with self._lock:
            self._free.append(pipe)
        if error is not None:
            raise RuntimeError(error)

    def close(self) -> None:
        for pipe in self._free:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


@contextlib.contextmanager
def provider_stdout(path: str) -> Iterator[None]:
    """Send file descriptor 1 (Powertools' JSON logs and EMF metrics) to ``path`` while the provider runs.

    Redirected at the descriptor, so the provider's loggers and handlers are not touched: it pays for its
    logging exactly as it would in Lambda, and the lines can be read back for diagnosis.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.dup2(fd, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)


@dataclass(frozen=True)
class Assignment:
    logical_id: str
    phone_number_arn: str
    status: str
    reason: str
    arrived_at: float | None  # when the receiver recorded the response (wall clock)


def assign_concurrently(
    aws: LocalAws,
    handler: Callable[[dict, Any], Any],
    world: World,
    *,
    stack_name: str,
    arrange: Callable[[], None] = lambda: None,
    before_each: Callable[[int], None] = lambda index: None,
    timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS,
) -> tuple[float, list[Assignment]]:
    """Create one assignment per number of ``world`` in one stack, all at once as CloudFormation does.

    Each invocation runs in a process of its own (Containers; or, in "threads" mode, a thread with a Connect
    client of its own: see one_client_per_invocation); ``arrange`` runs once
    they are ready, just before the clock starts (to reset the emulator's logs and set its quotas), and
    ``before_each(index)`` on each request's thread before it is sent (to hold some back). Returns the
    wall-clock start and the assignments with their response arrival times.
    """
    from local_aws.stack import LocalCustomResourceStack

    arns: Sequence[str] = world.number_arns
    containers = Containers(len(arns)) if invocation_mode == "processes" else None
    stack = LocalCustomResourceStack(
        containers.handler if containers else handler,
        aws.receiver,
        stack_name=stack_name,
        timeout_seconds=timeout_seconds,
        # A request handed to the next invocation (the function invoking itself) runs as Lambda runs it.
        lambda_queue=aws.control,
    )

    def create(index: int, number_arn: str) -> Assignment:
        logical_id = f"Number{index:03d}"
        before_each(index)
        try:
            response = stack.create(logical_id, {"PhoneNumberId": number_arn, "TargetArn": world.target_arn})
        except Exception as error:  # noqa: BLE001 - a lost or malformed response is a result to report
            return Assignment(logical_id, number_arn, "ERROR", f"{type(error).__name__}: {error}", None)
        arrived = [
            a.received_at
            for a in aws.receiver.attempts(response.event["RequestId"])
            if a.outcome == "accepted"
        ]
        return Assignment(
            logical_id, number_arn, response.status, response.reason, min(arrived, default=None)
        )

    try:
        with (
            one_client_per_invocation(prepared=0 if containers else len(arns)),
            ThreadPoolExecutor(max_workers=len(arns), thread_name_prefix="cfn") as pool,
        ):
            arrange()
            started = time.time()
            results = list(pool.map(create, range(len(arns)), arns))
    finally:
        if containers:
            containers.close()
    return started, results


def arrivals_by_number(assignments: Sequence[Assignment]) -> Mapping[str, float]:
    return {a.phone_number_arn: a.arrived_at for a in assignments if a.arrived_at is not None}
