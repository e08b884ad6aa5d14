"""Telemetry: when the provider builds a real X-Ray tracer, and that the stand-in records nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import botocore.client
import pytest

from phone_number_assignment import telemetry

PROVIDER = Path(__file__).resolve().parents[2] / "provider"
LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}


def test_lambda_with_a_daemon_traces():
    assert telemetry.xray_tracing_active(LAMBDA)


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"},  # not in Lambda
        {"LAMBDA_TASK_ROOT": "/var/task"},  # Lambda-like runner without a daemon
        {**LAMBDA, "AWS_SAM_LOCAL": "true"},
        {**LAMBDA, "AWS_CHALICE_CLI_MODE": "true"},
        {**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"},
        {**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"},
    ],
)
def test_no_tracing_where_powertools_would_disable_it_or_nothing_listens(environ):
    assert not telemetry.xray_tracing_active(environ)


def test_powertools_trace_disabled_false_keeps_tracing():
    assert telemetry.xray_tracing_active({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"})


def test_the_shipped_tracer_without_x_ray_runs_the_handler_and_keeps_nothing(monkeypatch):
    tracer = telemetry.tracer
    opened = []
    real_in_subsegment = tracer.provider.in_subsegment

    @contextlib.contextmanager
    def observed(name=None, **options):
        with real_in_subsegment(name=name, **options) as segment:
            opened.append((name, segment))
            yield segment

    monkeypatch.setattr(tracer.provider, "in_subsegment", observed)

    @tracer.capture_lambda_handler(capture_response=True)
    def handler(event, context):
        return {"echo": event["n"]}

    @tracer.capture_method
    def failing():
        raise ValueError("boom")

    assert handler({"n": 7}, None) == {"echo": 7}
    with pytest.raises(ValueError, match="boom"):
        failing()

    # The Tracer went through the stand-in for both, annotating and attaching response and error...
    assert [name.rsplit(".", 1)[-1] for name, _ in opened] == ["## handler", "failing"]
    # ...and the stand-in's segments kept none of it (an X-Ray subsegment stores each in its attributes).
    assert [vars(segment) for _, segment in opened] == [{}, {}]
    segment = opened[0][1]
    segment.put_annotation("k", "v")
    segment.put_metadata("response", {"a": 1})
    segment.add_exception(ValueError("x"), stack=None)
    segment.add_subsegment(opened[1][1])
    segment.remove_subsegment(opened[1][1])
    segment.close()
    assert vars(segment) == {}


def test_no_tracing_patches_no_library_and_keeps_no_annotation():
    provider = telemetry.NoTracing()
    make_api_call = botocore.client.BaseClient._make_api_call

    # X-Ray's patch wraps botocore's client calls (and requests', httplib's...); the stand-in must not.
    provider.patch(["botocore"])
    provider.patch_all()
    provider.put_annotation("ColdStart", True)
    provider.put_metadata("response", {"a": 1})

    assert botocore.client.BaseClient._make_api_call is make_api_call
    assert vars(provider) == {}


def test_the_shipped_tracer_without_x_ray_runs_async_methods_and_keeps_nothing():
    @telemetry.tracer.capture_method
    async def fetch(n):
        return n * 2

    async def traced_segment():
        async with telemetry.tracer.provider.in_subsegment_async(name="## fetch") as segment:
            segment.put_annotation("k", "v")
            return segment

    assert asyncio.run(fetch(21)) == 42
    assert vars(asyncio.run(traced_segment())) == {}


def test_no_tracing_loads_no_x_ray_recorder():
    # In a fresh interpreter, as a cold start outside Lambda: tracing a handler must not build the X-Ray SDK's
    # recorder (aws_xray_sdk.core), which is what NoTracing exists to avoid.
    script = (
        "import sys\n"
        "from phone_number_assignment import telemetry\n"
        "traced = telemetry.tracer.capture_lambda_handler(lambda event, context: event)\n"
        "assert traced({'n': 1}, None) == {'n': 1}\n"
        "telemetry.tracer.put_annotation('k', 'v')\n"
        "telemetry.tracer.patch(['botocore'])\n"
        "print(sorted(name for name in sys.modules if name.startswith('aws_xray_sdk.core')))\n"
    )
    environ = {key: value for key, value in os.environ.items() if key != "LAMBDA_TASK_ROOT"}
    argv = [sys.executable, "-c", script]
    done = subprocess.run(  # noqa: S603
        argv, cwd=PROVIDER, env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_tests_run_without_the_xray_recorder():
    # The test environment has no LAMBDA_TASK_ROOT: the Tracer must not have built the X-Ray recorder.
    assert isinstance(telemetry.tracer.provider, telemetry.NoTracing)
    assert telemetry.tracer.disabled
