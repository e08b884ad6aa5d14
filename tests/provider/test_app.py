"""The entry module's time budget: it ends, with a call's worst case to spare, before anyone gives up."""

from __future__ import annotations

import pytest

from local_aws.lambda_context import LambdaContext
from phone_number_assignment import app, clients, responder


def context_with(seconds_left: float) -> LambdaContext:
    now = [0.0]
    return LambdaContext(
        function_name="Fn", timeout_seconds=seconds_left, memory_limit_in_mb=512, clock=lambda: now[0]
    )


def test_one_calls_worst_case_fits_in_the_reserve():
    worst = clients.ATTEMPTS_PER_CALL * (clients.CONNECT_TIMEOUT_SECONDS + clients.READ_TIMEOUT_SECONDS)
    config = clients.CLIENT_CONFIG

    assert (config.connect_timeout, config.read_timeout) == (
        clients.CONNECT_TIMEOUT_SECONDS,
        clients.READ_TIMEOUT_SECONDS,
    )
    assert config.retries["total_max_attempts"] == clients.ATTEMPTS_PER_CALL
    assert worst <= clients.CALL_WORST_CASE_SECONDS
    assert app.RESPONSE_RESERVE_SECONDS >= clients.CALL_WORST_CASE_SECONDS + app.RESPONSE_SEND_SECONDS


def test_connect_calls_are_made_once_by_botocore_and_fit_the_same_reserve():
    # Every Connect retry is the provider's own, paced (waiting.Pacing): botocore makes one attempt and no
    # client-side rate-limiter sleep (standard mode, not adaptive), so one call is at most its timeouts.
    config = clients.CONNECT_CLIENT_CONFIG
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert (config.connect_timeout, config.read_timeout) == (
        clients.CONNECT_TIMEOUT_SECONDS,
        clients.READ_TIMEOUT_SECONDS,
    )
    worst = clients.CONNECT_TIMEOUT_SECONDS + clients.READ_TIMEOUT_SECONDS
    assert worst <= clients.CONNECT_CALL_WORST_CASE_SECONDS <= clients.CALL_WORST_CASE_SECONDS
    client = clients.connect_client.__wrapped__("us-east-1")
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_the_provider_answers_before_the_watchdog_would():
    # Its answer starts at least RESPONSE_SEND_SECONDS before the deadline; the watchdog fires later.
    assert app.RESPONSE_SEND_SECONDS > responder.WATCHDOG_LEAD_SECONDS


@pytest.mark.parametrize(
    ("lambda_seconds", "service_timeout", "budget"),
    [
        (900, None, 900 - app.RESPONSE_RESERVE_SECONDS),
        (900, 60.0, 60 - app.RESPONSE_RESERVE_SECONDS),
        (30, 3600.0, 30 - app.RESPONSE_RESERVE_SECONDS),
        (10, None, 0.0),
        (900, 5.0, 0.0),
    ],
)
def test_budget_is_the_nearer_deadline_less_the_reserve(lambda_seconds, service_timeout, budget):
    assert app.budget_seconds(context_with(lambda_seconds), service_timeout) == pytest.approx(budget)


@pytest.mark.parametrize(
    ("properties", "seconds"),
    [
        ({"ServiceTimeout": "60"}, 60.0),
        ({"ServiceTimeout": 120}, 120.0),
        ({"ServiceTimeout": "soon"}, None),
        ({"ServiceTimeout": "0"}, None),
        ({"ServiceTimeout": True}, None),
        ({}, None),
        ("not a map", None),
    ],
)
def test_service_timeout_is_read_as_cloudformation_sends_it(properties, seconds):
    assert app.service_timeout(properties) == seconds


# Longer than the test's own timeout (pyproject.toml): waited for in real time, the test would fail.
LONG_MOVE_SECONDS = 150


def test_a_handler_made_on_a_clock_waits_on_it_with_the_emulator(stack, world, aws_env, clock):
    # make_handler's clock is the one seam for time: the budget, the polls and the emulator's move all run
    # on the test's VirtualClock, so a move of minutes is waited out without minutes passing.
    aws_env.control.configure(move_seconds=LONG_MOVE_SECONDS)

    response = stack.create(
        "MainLine",
        {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn},
        timeout_seconds=LONG_MOVE_SECONDS + 60,
    )

    assert response.ok, response.reason
    [move] = aws_env.control.moves()
    assert response.seconds >= move["completes_at"] - move["started_at"] == LONG_MOVE_SECONDS
    # Nearly all of it skipped, not waited for (what was not skipped is the calls' own real time).
    assert clock.skipped >= 0.9 * LONG_MOVE_SECONDS
