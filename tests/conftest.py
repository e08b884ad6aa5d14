"""Fixtures shared by the provider's integration tests: the Connect emulator over real HTTP, a local
CloudFormation response receiver over real HTTPS, and a seeded world of instances and numbers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.retries import standard as retries_standard

from local_aws.clock import REAL_CLOCK, VirtualClock
from local_aws.cloudformation import ResponseReceiver, trusting
from local_aws.stack import LocalCustomResourceStack

# local_aws.connect (the emulator: moto with its CloudFormation, ~1.4 s to import) is imported in the fixtures
# that use it, not here: pytest-xdist's controller loads this file before it starts any worker, and only the
# workers need the emulator.

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Fast moves keep the suite quick; the stale window still shows the old target right after each move.
MOVE_SECONDS = 0.6
STALE_SECONDS = 0.2


def pytest_collection_modifyitems(items):
    # Tests that run in real time start first, so that their waits overlap the rest of the suite instead of
    # trailing it with the other workers idle (a stable sort: the order is otherwise the collection's).
    items.sort(key=lambda item: item.get_closest_marker("real_time") is None)


@pytest.fixture(scope="session")
def built_function() -> Path:
    """The built function (.aws-sam/build/ProviderFunction) for ARCH, from `make build`.

    `make test` builds first, so this is a no-op there; run alone, it builds. Workers take a lock, because two
    `sam build`s into one directory at once break each other.
    """
    arch = os.environ.get("ARCH", "x86_64")
    lock_file = ROOT / ".aws-sam" / ".build.lock"
    lock_file.parent.mkdir(exist_ok=True)
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(  # noqa: S603
            ["make", "--no-print-directory", "build", f"ARCH={arch}"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return ROOT / ".aws-sam" / "build" / "ProviderFunction"


@pytest.fixture(scope="session")
def emulator():
    from local_aws.connect.server import start_emulator

    with start_emulator() as running:
        yield running


@pytest.fixture(scope="session")
def receiver():
    with ResponseReceiver() as running, trusting(running):
        yield running


def reset_emulator(emulator) -> None:
    """Forget every resource (moto's own reset) and every fault, limit and log (the emulator's)."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback emulator
        f"{emulator.endpoint_url}/moto-api/reset", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback emulator
        pass
    emulator.control.reset()


# The provider's first look at a move comes after 1 s, for the real service's lag; the emulator's moves take
# MOVE_SECONDS, so tests that only need a move to happen look sooner. The poll schedule's own tests read
# whatever the constants are.
TEST_POLL_SECONDS = 0.3
TEST_THROTTLE_FIRST_SECONDS = 0.2
TEST_THROTTLE_CAP_SECONDS = 1.0


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch):
    from phone_number_assignment import waiting

    monkeypatch.setattr(waiting, "FIRST_POLL_SECONDS", TEST_POLL_SECONDS)
    monkeypatch.setattr(waiting, "POLL_SECONDS", TEST_POLL_SECONDS)
    # The pause after throttling is sized for a hundred invocations sharing a quota (seconds to tens of
    # seconds); tests that inject a few throttled answers only need it to happen.
    monkeypatch.setattr(waiting, "THROTTLE_FIRST_SECONDS", TEST_THROTTLE_FIRST_SECONDS)
    monkeypatch.setattr(waiting, "THROTTLE_CAP_SECONDS", TEST_THROTTLE_CAP_SECONDS)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before any fixture of the test, those of a wider scope too (the simulation's session makes and hooks
    # clients of its own): a test without aws_env neither gets the clients kept for the emulator nor, as it
    # could before they were kept, finds them made by an earlier test.
    if "aws_env" not in item.fixturenames:
        _provider_clients.forget_kept()


@pytest.fixture
def aws_env(emulator, monkeypatch):
    """Point every boto3 client of this process (the provider's included) at the emulator."""
    with emulator_environment(emulator, monkeypatch) as running:
        yield running


@contextlib.contextmanager
def emulator_environment(emulator, monkeypatch):
    """aws_env's work, for a fixture of a wider scope too (with its own ``pytest.MonkeyPatch.context()``):
    the environment set, the emulator emptied and configured; afterwards its faults, limits and log reset."""
    from phone_number_assignment import clients

    monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", emulator.endpoint_url)
    # moto serves CloudFormation on the same port: the provider asks it about native stacks.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", emulator.endpoint_url)
    # ... and DynamoDB, where the provider keeps its ownership records.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", emulator.endpoint_url)
    # ... and Lambda's asynchronous Invoke, which continues a request in the next invocation.
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", emulator.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    environment = _aws_environment()
    _provider_clients.take(environment)
    _provider_clients.watch(clients)
    reset_emulator(emulator)
    emulator.control.configure(move_seconds=MOVE_SECONDS, stale_seconds=STALE_SECONDS)
    yield emulator
    _provider_clients.keep_unless_changed(environment)
    emulator.control.reset()


def _aws_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}


class _ProviderClients:
    """The provider's clients (clients.py caches one per Region), kept from one test to the next of a worker.

    Making them is a fifth of the CPU of a typical test through the handler (about 10 ms each, four or five
    per test), so they are made again only when something a test did could show in the next one: the
    environment they were made from (AWS_*: endpoints, Region, credentials) changed, or one of their attempts
    was one botocore's standard retry mode retries (throttling, a 5xx, no answer). That mode keeps a retry
    quota per client which only such an attempt draws on, so a client none of whose attempts could be retried
    is the same as a new one. A test may still clear or make clients itself (test_native_stacks counts them).
    """

    def __init__(self) -> None:
        # The environment the cached clients were made from, while they are kept between tests; else None.
        self.environment: dict[str, str] | None = None
        self.failed_attempt = False
        self._watched = False

    def take(self, environment: dict[str, str]) -> None:
        """At a test's start: the clients kept for this environment, or none (made afresh on first use)."""
        if environment != self.environment:
            self.forget()
        self.environment = None
        self.failed_attempt = False

    def keep_unless_changed(self, environment: dict[str, str]) -> None:
        """At a test's end: keep its clients for the next test, unless it left a reason not to."""
        if self.failed_attempt or _aws_environment() != environment:
            self.forget()
        else:
            self.environment = environment

    def forget_kept(self) -> None:
        if self.environment is not None:
            self.forget()
            self.environment = None

    def forget(self) -> None:
        from phone_number_assignment import clients

        for factory in self._factories(clients):
            factory.cache_clear()

    @staticmethod
    def _factories(clients):
        return (
            clients.connect_client,
            clients.cloudformation_client,
            clients.dynamodb_client,
            clients.pace_client,
            clients.lambda_client,
        )

    def watch(self, clients) -> None:
        # needs-retry is emitted after every attempt of every call, retried or not; a handler on the session
        # is copied into every client made from it.
        if not self._watched:
            clients._session().events.register("needs-retry", self._attempted)
            self._watched = True

    def _attempted(self, **attempt) -> None:
        # botocore's own judgement of the attempt (whatever the client's attempts left): an attempt it would
        # retry is one that can draw on the retry quota.
        if _RETRYABLE.is_retryable(_RETRY_EVENTS.create_retry_context(**attempt)):
            self.failed_attempt = True


_RETRY_EVENTS = retries_standard.RetryEventAdapter()
_RETRYABLE = retries_standard.StandardRetryConditions(max_attempts=sys.maxsize)
_provider_clients = _ProviderClients()


@pytest.fixture(scope="session")
def _observing_connect(emulator):
    # One per worker: a Connect client costs about 12 ms of CPU to make (hundreds of operations), and this
    # one holds no state a test could leave behind (no retries, so no retry quota).
    return boto3.session.Session().client(
        "connect",
        region_name=REGION,
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture
def connect(aws_env, _observing_connect):
    """A test's own Connect client, without retries, to observe and arrange state."""
    return _observing_connect


def _arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


@dataclass
class World:
    """Two instances, a traffic distribution group, a flow in each instance, and one number on instance A."""

    instance_a: str = field(default_factory=lambda: str(uuid.uuid4()))
    instance_b: str = field(default_factory=lambda: str(uuid.uuid4()))
    tdg: str = field(default_factory=lambda: str(uuid.uuid4()))
    flow_a: str = field(default_factory=lambda: str(uuid.uuid4()))
    flow_b: str = field(default_factory=lambda: str(uuid.uuid4()))
    number_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    other_number_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    phone_number: str = "+15555550100"

    @property
    def instance_a_arn(self) -> str:
        return _arn(f"instance/{self.instance_a}")

    @property
    def instance_b_arn(self) -> str:
        return _arn(f"instance/{self.instance_b}")

    @property
    def tdg_arn(self) -> str:
        return _arn(f"traffic-distribution-group/{self.tdg}")

    @property
    def flow_a_arn(self) -> str:
        return _arn(f"instance/{self.instance_a}/contact-flow/{self.flow_a}")

    @property
    def flow_b_arn(self) -> str:
        return _arn(f"instance/{self.instance_b}/contact-flow/{self.flow_b}")

    @property
    def number_arn(self) -> str:
        return _arn(f"phone-number/{self.number_id}")

    @property
    def other_number_arn(self) -> str:
        return _arn(f"phone-number/{self.other_number_id}")

    def as_seed(self) -> dict:
        return {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [
                {"id": self.instance_a, "alias": "alpha"},
                {"id": self.instance_b, "alias": "bravo"},
            ],
            "traffic_distribution_groups": [{"id": self.tdg, "name": "tdg", "instance_id": self.instance_a}],
            "contact_flows": [
                {"id": self.flow_a, "instance_id": self.instance_a, "name": "A main"},
                {"id": self.flow_b, "instance_id": self.instance_b, "name": "B main"},
            ],
            "phone_numbers": [
                {"id": self.number_id, "phone_number": self.phone_number, "target": self.instance_a},
                {"id": self.other_number_id, "phone_number": "+15555550111", "target": self.instance_a},
            ],
        }


@pytest.fixture
def world(aws_env) -> World:
    seeded = World()
    aws_env.control.seed(seeded.as_seed())
    return seeded


@pytest.fixture
def clock(request, aws_env, receiver):
    """The test's one clock, shared by the provider (``handler``), the emulator, Lambda's deadline and
    CloudFormation's request times (``stack``): a VirtualClock, on which waiting takes no time.

    ``@pytest.mark.real_time``: the real clock, for tests where several requests wait at once (racing for a
    number or a quota), which a VirtualClock would hurry (local_aws/clock.py says why).
    """
    from local_aws.connect.control import LocalControl

    if request.node.get_closest_marker("real_time"):
        yield REAL_CLOCK
        return
    virtual = VirtualClock()
    LocalControl().use_clock(virtual)  # the emulator runs in this process (start_emulator)
    receiver.clock = virtual
    yield virtual
    receiver.clock = REAL_CLOCK
    LocalControl().use_clock(None)


@pytest.fixture
def handler(aws_env, clock):
    """What Lambda runs (app.handler, on the system clock), or the same handler on the test's VirtualClock."""
    from phone_number_assignment import app

    return app.handler if clock is REAL_CLOCK else app.make_handler(clock)


@pytest.fixture
def stack(handler, receiver, aws_env, clock) -> LocalCustomResourceStack:
    return LocalCustomResourceStack(
        handler, receiver, timeout_seconds=60, control=aws_env.control, clock=clock
    )


@pytest.fixture
def new_stack(handler, receiver, aws_env, clock):
    """Factory for more stacks (ownership conflicts between stacks)."""

    def make(name: str = "other-stack", **options) -> LocalCustomResourceStack:
        return LocalCustomResourceStack(
            handler, receiver, stack_name=name, control=aws_env.control, clock=clock, **options
        )

    return make


def describe(connect, arn: str) -> dict:
    return connect.describe_phone_number(PhoneNumberId=arn)["ClaimedPhoneNumberSummary"]
