"""Telemetry: when the provider builds a real X-Ray tracer, and that the stand-in records nothing."""

from __future__ import annotations

import pytest

from phone_number_assignment import telemetry

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


def test_no_tracing_provider_is_a_usable_context_manager():
    provider = telemetry.NoTracing()
    with provider.in_subsegment(name="## handler") as segment:
        segment.put_annotation("ColdStart", True)
        segment.put_metadata("response", {"a": 1})
    provider.put_annotation("k", "v")
    provider.patch(["botocore"])
    provider.patch_all()


def test_tests_run_without_the_xray_recorder():
    # The test environment has no LAMBDA_TASK_ROOT: the Tracer must not have built the X-Ray recorder.
    assert isinstance(telemetry.tracer.provider, telemetry.NoTracing)
    assert telemetry.tracer.disabled
