"""The drift check that runs by itself (drift_check/app.py), its handler invoked in-process against the
emulator as Lambda would run it on DriftCheckSchedule: every client it makes finds the emulator through
AWS_ENDPOINT_URL.

What the alarms read (the EMF metrics FlaggedNumbers and DriftCheckIncomplete) and what the operator reads
(one JSON line per flag, with what to do) are checked for a clean account, for numbers moved and re-routed by
hand, and for an account it could read only in part or not at all."""

from __future__ import annotations

import io
import json
import logging
import uuid

import cfnlint.decode
import pytest

from local_aws.lambda_context import LambdaContext
from tests.conftest import ACCOUNT, MOVE_SECONDS, REGION, ROOT, STALE_SECONDS

NAMESPACE = "PhoneNumberAssignment"
SERVICE = "phone-number-assignment"


@pytest.fixture
def check_env(aws_env, monkeypatch):
    # One variable for every service, as an operator points the tools at the emulator; the per-service ones
    # tests/conftest.py sets are dropped, so this is the one the check's clients use.
    for service in ("CONNECT", "DYNAMODB", "CLOUDFORMATION"):
        monkeypatch.delenv(f"AWS_ENDPOINT_URL_{service}", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.endpoint_url)
    return aws_env


@pytest.fixture
def check_logs():
    """Everything the drift check's Powertools logger writes, formatted as it ships (its own handler holds
    the stdout of the moment it was created, which pytest's capture replaces)."""
    from drift_check.app import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)


class Run:
    def __init__(self, result: dict, stdout: str, logs: str) -> None:
        self.result = result
        self.lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        self.emf = [
            blob
            for blob in (json.loads(line) for line in stdout.splitlines() if line.startswith("{"))
            if "_aws" in blob
        ]

    def metric(self, name: str) -> float | None:
        """The value of ``name`` in the provider's namespace and dimension, or None if not published."""
        found = []
        for blob in self.emf:
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                names = {metric["Name"] for metric in directive["Metrics"]}
                if name in names:
                    assert directive["Namespace"] == NAMESPACE
                    assert directive["Dimensions"] == [["service"]]
                    assert blob["service"] == SERVICE
                    value = blob[name]
                    found.append(value[0] if isinstance(value, list) else value)
        assert len(found) <= 1, found
        return found[0] if found else None

    @property
    def flags(self) -> list[dict]:
        return [line for line in self.lines if line["message"] == "Drift check flagged a phone number"]


@pytest.fixture
def run_check(check_env, check_logs, capsys):
    from drift_check import app

    def run() -> Run:
        capsys.readouterr()
        check_logs.truncate(0)
        check_logs.seek(0)
        result = app.handler({"source": "aws.events"}, LambdaContext(function_name="DriftCheckFunction"))
        return Run(result, capsys.readouterr().out, check_logs.getvalue())

    return run


class Estate:
    """Numbers a stack assigned through the provider (records and tags the provider's own), then changed by
    hand."""

    def __init__(self, world, stack, connect, clock, aws_env) -> None:
        self.world, self.stack, self.connect, self.clock = world, stack, connect, clock
        self.other_flow = str(uuid.uuid4())
        aws_env.control.seed(
            {
                "account_id": ACCOUNT,
                "region": REGION,
                "contact_flows": [{"id": self.other_flow, "instance_id": world.instance_a, "name": "Other"}],
            }
        )

    def assign(self, logical_id: str, number_arn: str) -> None:
        response = self.stack.create(
            logical_id,
            {
                "PhoneNumberId": number_arn,
                "TargetArn": self.world.instance_a_arn,
                "ContactFlowArn": self.world.flow_a_arn,
            },
        )
        assert response.ok, response.reason

    def move_by_hand(self, number_arn: str, target_arn: str) -> None:
        self.connect.update_phone_number(PhoneNumberId=number_arn, TargetArn=target_arn)
        self.clock.sleep(MOVE_SECONDS + STALE_SECONDS)
        for _ in range(50):
            summary = self.connect.describe_phone_number(PhoneNumberId=number_arn)[
                "ClaimedPhoneNumberSummary"
            ]
            if summary["PhoneNumberStatus"]["Status"] != "IN_PROGRESS":
                return
            self.clock.sleep(0.2)
        raise AssertionError(f"{number_arn} still moving")

    def reroute_by_hand(self, number_arn: str) -> None:
        self.connect.associate_phone_number_contact_flow(
            PhoneNumberId=number_arn, InstanceId=self.world.instance_a, ContactFlowId=self.other_flow
        )


@pytest.fixture
def estate(world, stack, connect, clock, aws_env) -> Estate:
    return Estate(world, stack, connect, clock, aws_env)


def test_a_clean_account_publishes_zero_flagged_and_logs_no_flag(estate, run_check):
    estate.assign("MainLine", estate.world.number_arn)

    run = run_check()

    assert run.result == {"flagged": 0, "unchecked": []}
    assert run.metric("FlaggedNumbers") == 0
    assert run.metric("DriftCheckIncomplete") == 0
    assert run.flags == []
    [finished] = [line for line in run.lines if line["message"] == "Drift check finished"]
    assert finished["summary"]["owned"] == 1
    assert finished["region"] == REGION


def test_a_number_moved_by_hand_is_counted_and_logged_with_what_to_do(estate, run_check):
    world = estate.world
    estate.assign("MainLine", world.number_arn)
    estate.move_by_hand(world.number_arn, world.instance_b_arn)

    run = run_check()

    assert run.metric("FlaggedNumbers") == 1
    assert run.metric("DriftCheckIncomplete") == 0
    [line] = run.flags
    assert line["level"] == "WARNING"
    assert line["flag"] == "not-on-declared-target"
    assert line["phone_number"] == world.phone_number
    assert line["phone_number_arn"] == world.number_arn
    assert line["target_arn"] == world.instance_b_arn
    assert line["owner_logical_id"] == "MainLine"
    assert line["owner_stack_id"] == estate.stack.stack_id
    assert world.instance_a_arn in line["detail"]
    # What make status advises, command and all: the move that puts it back.
    assert f"--target-arn {world.instance_a_arn}" in line["what_to_do"]


def test_one_line_per_flag_and_the_count_of_numbers_flagged(estate, run_check):
    world = estate.world
    estate.assign("MainLine", world.number_arn)
    estate.assign("SecondLine", world.other_number_arn)
    estate.move_by_hand(world.number_arn, world.instance_b_arn)
    estate.reroute_by_hand(world.other_number_arn)

    run = run_check()

    assert run.metric("FlaggedNumbers") == 2
    assert sorted((line["owner_logical_id"], line["flag"]) for line in run.flags) == [
        ("MainLine", "not-on-declared-target"),
        ("SecondLine", "not-on-declared-flow"),
    ]
    [rerouted] = [line for line in run.flags if line["flag"] == "not-on-declared-flow"]
    assert "associate-phone-number-contact-flow" in rerouted["what_to_do"]


def test_a_check_that_could_not_read_everything_says_so_in_its_own_metric(estate, run_check, check_env):
    estate.assign("MainLine", estate.world.number_arn)
    check_env.control.inject_error("ListFlowAssociations", "AccessDeniedException")

    run = run_check()

    # What it could read is still counted; the flows it could not read make it incomplete, not clean.
    assert run.metric("FlaggedNumbers") == 0
    assert run.metric("DriftCheckIncomplete") == 1
    assert any("ListFlowAssociations" in reason for reason in run.result["unchecked"])


def test_a_check_that_could_read_nothing_publishes_no_count_and_logs_why(world, run_check, check_env):
    check_env.control.inject_error("ListPhoneNumbersV2", "AccessDeniedException", count=10)

    run = run_check()

    assert run.metric("FlaggedNumbers") is None
    assert run.metric("DriftCheckIncomplete") == 1
    [error] = [line for line in run.lines if line["level"] == "ERROR"]
    assert error["message"] == "Drift check could not read the account"
    assert any("ListPhoneNumbersV2" in problem for problem in error["problem"])


def test_the_check_only_reads_and_calls_only_what_its_role_grants(estate, run_check, check_env):
    world = estate.world
    estate.assign("MainLine", world.number_arn)
    estate.move_by_hand(world.number_arn, world.instance_b_arn)
    # The calls so far were the provider's and the test's.
    connect_before, others_before = len(check_env.control.calls()), check_env.control.service_calls()

    run_check()

    others = check_env.control.service_calls()
    called = {f"connect:{call['operation']}" for call in check_env.control.calls()[connect_before:]} | {
        key for key, count in others.items() if count > others_before.get(key, 0)
    }
    # The role as template.yaml writes it (tests/reliability/test_iam_policy.py reviews it as SAM makes it).
    template, problems = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    assert not problems, problems
    [policy] = template["Resources"]["DriftCheckFunction"]["Properties"]["Policies"]
    granted = {
        action
        for statement in policy["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"connect:ListPhoneNumbersV2", "connect:DescribePhoneNumber", "dynamodb:Scan"} <= called
    assert called <= granted, called - granted
    assert all(action.split(":")[1].startswith(("List", "Describe", "Get", "Scan")) for action in granted)
