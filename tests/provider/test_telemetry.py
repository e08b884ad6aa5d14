"""What the provider writes to its logs and metrics (Powertools JSON lines on stdout)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.provider.test_lifecycle import assign


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return [line for line in lines if isinstance(line, dict)]


def metric_names(lines: list[dict]) -> set[str]:
    names = set()
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            names.update(metric["Name"] for metric in directive["Metrics"])
    return names


def test_a_move_emits_started_succeeded_and_duration_metrics(stack, world, capfd):
    response = stack.create("MainLine", assign(world))

    lines = json_lines(capfd.readouterr().out)
    assert response.ok
    assert {"MovesStarted", "MovesSucceeded", "MoveDuration"} <= metric_names(lines)
    assert "MovesFailed" not in metric_names(lines)


def test_a_failed_move_emits_the_failed_metric(stack, world, capfd, aws_env):
    aws_env.control.fail_next_move("no")

    assert stack.create("MainLine", assign(world)).status == "FAILED"

    assert "MovesFailed" in metric_names(json_lines(capfd.readouterr().out))


@pytest.fixture
def provider_logs():
    """Everything the provider's Powertools logger writes during the test, formatted as it ships.

    Its own handler holds the stdout of the moment it was created, which pytest's capture replaces.
    """
    from phone_number_assignment.telemetry import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)


def test_log_lines_carry_the_request_id_as_correlation_id_and_the_stack_keys(stack, world, provider_logs):
    response = stack.create("MainLine", assign(world))

    logs = json_lines(provider_logs.getvalue())
    assert logs
    for line in logs:
        assert line["correlation_id"] == response.event["RequestId"]
        assert line["stack_id"] == stack.stack_id
        assert line["logical_resource_id"] == "MainLine"
        # The number and target too, so a person can follow one number through the logs.
        assert line["phone_number"] == world.number_id
        assert line["target_arn"] == world.instance_b_arn


def test_a_delete_logs_the_number_it_is_about(stack, world, provider_logs):
    assert stack.create("MainLine", assign(world)).ok
    provider_logs.truncate(0)

    assert stack.delete("MainLine").ok

    logs = json_lines(provider_logs.getvalue())
    assert logs
    assert all(line["phone_number"] == world.number_arn for line in logs)


@pytest.fixture
def debug_level():
    from phone_number_assignment.telemetry import logger

    before = logger.log_level
    logger.setLevel("DEBUG")
    yield
    logger.setLevel(before)


def test_at_debug_each_poll_and_each_retry_is_logged(stack, world, provider_logs, debug_level, aws_env):
    aws_env.control.inject_error("UpdatePhoneNumber", "ThrottlingException", count=3)

    assert stack.create("MainLine", assign(world)).ok

    lines = json_lines(provider_logs.getvalue())
    polls = [line for line in lines if line["message"] == "Waiting before the next look"]
    # Retries are logged at INFO (they matter at the shipped level too), so DEBUG shows them as well.
    retries = [line for line in lines if line["message"] == "Connect call will be retried"]
    assert {line["level"] for line in polls} == {"DEBUG"}
    assert polls
    assert all(line["waiting_for"].startswith("its move to") for line in polls)
    # botocore retries once within each call; the provider's own loop retries what is left.
    assert retries
    assert all(line["operation"] == "UpdatePhoneNumber" for line in retries)


@pytest.mark.parametrize("request_type", ["Delete", "Invalid"])
def test_requests_that_move_nothing_publish_metrics_without_a_warning(
    request_type, stack, world, capfd, recwarn
):
    if request_type == "Delete":
        response = stack.send("Delete", "MainLine", assign(world), physical_id="MainLine-unassigned-1")
    else:
        response = stack.create("MainLine", assign(world, OnDelete="Sometimes"))

    assert response.status in ("SUCCESS", "FAILED")
    assert "Requests" in metric_names(json_lines(capfd.readouterr().out))
    assert [str(w.message) for w in recwarn if "metrics" in str(w.message)] == []
