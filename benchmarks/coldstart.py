"""Section 3: cold start, against the floor any Python function calling Connect pays, in the same run.

Every sample is a fresh interpreter running the packaged function (the ``sam build`` output, or its
fallback) with Lambda's environment variables, timed inside the child with perf_counter; process spawn is
not counted. Samples of the floor and of the handler are interleaved so that load on the machine drifts
into both alike.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import stats
from .harness import ACCOUNT, REGION, REPO, LocalAws, progress, seed_world

CHILD = Path(__file__).resolve().parent / "coldstart_child.py"
LAMBDA_CONTEXT_FILE = REPO / "local_aws" / "lambda_context.py"
RATIO_TARGET = 1.3
FUNCTION_NAME = "phone-number-assignment-ProviderFunction-BENCH"
MEMORY_MB = 512
TIMEOUT_SECONDS = 900
CHILD_TIMEOUT_SECONDS = 120


class XRaySink:
    """A UDP socket standing in for Lambda's X-Ray daemon: counts the segment documents it receives."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.datagrams = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="xray-sink", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


def lambda_environment(code_dir: Path, aws: LocalAws, *, traced_to: str | None) -> dict[str, str]:
    """What the Lambda runtime sets, plus the template's variables and the local endpoints.

    ``traced_to``: the X-Ray daemon address of a function with Tracing: Active (None: no daemon, as in the
    runtime emulator make invoke uses, and the tests).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": tempfile.gettempdir(),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
        "_HANDLER": "phone_number_assignment.app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]" + "0" * 32,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHMARKBENCH00",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_SESSION_TOKEN": "benchmark",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # template.yaml's Environment.Variables
        "POWERTOOLS_SERVICE_NAME": "phone-number-assignment",
        "POWERTOOLS_METRICS_NAMESPACE": "PhoneNumberAssignment",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # the local stand-ins
        "AWS_ENDPOINT_URL_CONNECT": aws.emulator.endpoint_url,
        "AWS_ENDPOINT_URL_DYNAMODB": aws.emulator.endpoint_url,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": aws.emulator.endpoint_url,
        "AWS_ENDPOINT_URL_LAMBDA": aws.emulator.endpoint_url,
        "SSL_CERT_FILE": aws.trust_bundle,
    }
    if traced_to:
        env["AWS_XRAY_DAEMON_ADDRESS"] = traced_to
        env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        env["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1"
        )
    return env


def find_python(version: str = "3.13") -> str | None:
    """The function's runtime interpreter (template Runtime: python3.13), if this machine has one."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print(sys.executable)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        return out.stdout.strip()
    return None


@dataclass
class Samples:
    label: str
    totals: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)  # handler: module import; floor: boto3 + client
    requests: list[float] = field(default_factory=list)  # the first request, deliberate waits excluded
    notes: set[str] = field(default_factory=set)

    @property
    def median(self) -> float:
        return stats.median(self.totals)


@dataclass
class ColdStartResult:
    python: str
    floor: Samples  # import boto3 + one client (totals); + the Create's calls and PUT (requests)
    local: Samples
    traced: Samples
    xray_datagrams: int
    compiled: bool
    # Another build (--baseline-code-dir), sampled in the same rounds: before and after in one run.
    baseline_local: Samples | None = None
    baseline_traced: Samples | None = None
    baseline_xray_datagrams: int = 0

    @property
    def init_floor(self) -> float:
        return stats.median(self.floor.imports)

    @property
    def request_floor(self) -> float:
        """import boto3 + client, then the least calls a safe Create needs and the PUT (bare libraries)."""
        return stats.median(self.floor.totals)

    def ratio(self, samples: Samples) -> float:
        return stats.cold_start_ratio(samples.totals, self.floor.totals)

    def init_ratio(self, samples: Samples) -> float:
        return stats.cold_start_ratio(samples.totals, self.floor.imports)


def _run_child(python: str, job: Mapping[str, Any], env: Mapping[str, str], workdir: str) -> dict[str, Any]:
    job_file = os.path.join(workdir, f"job-{uuid.uuid4().hex}.json")
    result_file = job_file.replace("job-", "result-")
    with open(job_file, "w") as f:
        json.dump({**job, "result": result_file}, f)
    completed = subprocess.run(
        [python, "-I", "-B", str(CHILD), job_file],
        env=dict(env),
        cwd=job["code_dir"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0 or not os.path.exists(result_file):
        raise RuntimeError(
            f"cold-start sample ({job['mode']}) failed with exit {completed.returncode}: "
            f"{(completed.stderr or completed.stdout)[-2000:]}"
        )
    with open(result_file) as f:
        return json.load(f)


def measure(
    aws: LocalAws,
    code_dir: Path,
    python: str,
    samples: int,
    *,
    compiled: bool,
    baseline_dir: Path | None = None,
) -> ColdStartResult:
    """``samples`` interleaved rounds of: floor, handler without X-Ray, handler with Tracing: Active (and,
    with ``baseline_dir``, the same two for that build, in the same round).

    Each sample serves its own Create on a fresh number, and the receiver must have its SUCCESS.
    """
    from local_aws.cloudformation import build_event, stack_arn

    control = aws.control
    control.reset()
    # Moves finish at once and show no stale state: the request spends nothing but its deliberate waits.
    control.configure(move_seconds=0, stale_seconds=0)
    sink = XRaySink()
    result = ColdStartResult(
        python=python,
        floor=Samples("floor"),
        local=Samples("handler, no X-Ray daemon (local runs)"),
        traced=Samples("handler, Lambda with Tracing: Active"),
        xray_datagrams=0,
        compiled=compiled,
    )
    builds: list[tuple[Path, Samples, Samples, XRaySink]] = [(code_dir, result.local, result.traced, sink)]
    baseline_sink = None
    if baseline_dir is not None:
        result.baseline_local = Samples(f"baseline {baseline_dir}, no X-Ray daemon")
        result.baseline_traced = Samples(f"baseline {baseline_dir}, Tracing: Active")
        baseline_sink = XRaySink()
        builds.append((baseline_dir, result.baseline_local, result.baseline_traced, baseline_sink))
    base = {"code_dir": str(code_dir), "region": REGION}

    def create_event() -> tuple[Any, dict[str, Any]]:
        world = seed_world(control, 1)
        event = build_event(
            "Create",
            properties={"PhoneNumberId": world.number_arns[0], "TargetArn": world.target_arn},
            response_url=aws.receiver.url_for,
            logical_id="MainLine",
            stack_id=stack_arn("bench-cold-start", region=REGION, account_id=ACCOUNT),
        )
        return world, event

    def answered(event: Mapping[str, Any]) -> None:
        body = aws.receiver.wait_for(event["RequestId"], timeout=10)
        if body.get("Status") != "SUCCESS":
            raise RuntimeError(f"cold-start Create answered {body.get('Status')}: {body.get('Reason')}")

    try:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as workdir:
            for round_number in range(samples):
                progress(f"cold start: round {round_number + 1}/{samples}")
                world, event = create_event()
                job = {
                    **base,
                    "mode": "floor",
                    "event": event,
                    "phone_number_arn": world.number_arns[0],
                    "target_arn": world.target_arn,
                    "client_token": uuid.uuid4().hex,
                }
                floor = _run_child(python, job, lambda_environment(code_dir, aws, traced_to=None), workdir)
                answered(event)
                result.floor.imports.append(floor["floor_ms"])
                result.floor.requests.append(floor["calls_ms"])
                result.floor.totals.append(floor["floor_ms"] + floor["calls_ms"])
                handler_samples = [
                    (build_dir, samples_of, traced_to)
                    for build_dir, local, traced, build_sink in builds
                    for samples_of, traced_to in ((local, None), (traced, build_sink.address))
                ]
                # Each round starts with another kind of sample: none always runs first (or last) in a round.
                shift = round_number % len(handler_samples)
                handler_samples = handler_samples[shift:] + handler_samples[:shift]
                for build_dir, samples_of, traced_to in handler_samples:
                    _, event = create_event()
                    job = {
                        **base,
                        "code_dir": str(build_dir),
                        "mode": "handler",
                        "event": event,
                        "lambda_context_file": str(LAMBDA_CONTEXT_FILE),
                        "timeout_seconds": TIMEOUT_SECONDS,
                        "memory_mb": MEMORY_MB,
                        "function_name": FUNCTION_NAME,
                    }
                    env = lambda_environment(build_dir, aws, traced_to=traced_to)
                    sample = _run_child(python, job, env, workdir)
                    answered(event)
                    samples_of.totals.append(sample["total_ms"])
                    samples_of.imports.append(sample["import_ms"])
                    samples_of.requests.append(sample["request_ms"])
                    samples_of.notes.add(
                        f"tracer provider {sample['tracer_provider']}, "
                        f"X-Ray SDK {'loaded' if sample['xray_loaded'] else 'not loaded'}"
                    )
    finally:
        sink.close()
        if baseline_sink is not None:
            baseline_sink.close()
    result.xray_datagrams = sink.datagrams
    result.baseline_xray_datagrams = baseline_sink.datagrams if baseline_sink is not None else 0
    return result


def compiled_copy(code_dir: Path, destination: Path, python: str) -> Path:
    """A copy of the package with every module precompiled by the runtime interpreter."""
    shutil.copytree(code_dir, destination)
    subprocess.run([python, "-m", "compileall", "-q", str(destination)], check=True, timeout=600)
    return destination


def notes(result: ColdStartResult) -> list[str]:
    return [
        f"note: cold start: {samples.label}: {', '.join(sorted(samples.notes))}"
        for samples in (result.local, result.traced, result.baseline_local, result.baseline_traced)
        if samples is not None
    ]
