"""The acceptance scenario (`make acceptance`) against the emulator and the CloudFormation stand-in,
so the code that runs in a real account is exercised on every `make test`."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from acceptance.__main__ import REQUIRED
from acceptance.aws import CONSUMER_TEMPLATE
from acceptance.local import LocalBackend
from acceptance.scenario import PROBES, PROVIDER_TAG_PREFIX, Resources, Scenario, StepFailed
from tests.conftest import describe

ROOT = Path(__file__).resolve().parents[2]


def resources(world) -> Resources:
    return Resources(
        instance_arn=world.instance_a_arn,
        other_instance_arn=world.instance_b_arn,
        phone_number_id=world.number_id,
        contact_flow_arn=world.flow_b_arn,
        traffic_distribution_group_arn=world.tdg_arn,
        second_phone_number_id=world.other_number_id,
    )


@pytest.fixture(autouse=True)
def quick_moves(aws_env):
    aws_env.control.configure(move_seconds=0.1, stale_seconds=0.05)


def scenario(backend, world) -> tuple[Scenario, io.StringIO]:
    out = io.StringIO()
    return Scenario(backend, resources(world), out=out, move_timeout=30, poll_seconds=0.1), out


def assert_everything_put_back(connect, world):
    for number in (world.number_arn, world.other_number_arn):
        summary = describe(connect, number)
        assert summary["TargetArn"] == world.instance_a_arn
        # FAILED describes the last move (one that failed and left the number where it was), not a place.
        assert summary["PhoneNumberStatus"]["Status"] in ("CLAIMED", "FAILED")
        assert not [k for k in summary.get("Tags", {}) if k.startswith(PROVIDER_TAG_PREFIX)]


def test_whole_scenario_passes_and_puts_every_number_back(stack, connect, world):
    run, out = scenario(LocalBackend(stack, connect), world)
    report = run.run()
    text = out.getvalue()
    assert report.passed, text
    titles = [title for title, _, _ in report.steps]
    assert any(t.startswith("create") for t in titles)
    assert any(t.startswith("an update CloudFormation has to roll back") for t in titles)
    assert any(t.startswith("replacement") for t in titles)
    assert any(t.startswith("delete with OnDelete Restore") for t in titles)
    assert [topic for topic, _ in report.findings] == [name for name, _ in PROBES]
    assert not [f for f in report.findings if "could not finish" in f[1]], report.findings
    assert report.restored == {
        world.number_id: world.instance_a_arn,
        world.other_number_id: world.instance_a_arn,
    }
    assert not stack.resources
    assert_everything_put_back(connect, world)
    # The emulator's answers to the probes, so a probe that stops observing anything is noticed.
    findings = dict(report.findings)
    assert "the association is gone" in findings["flow association after a move"]
    assert findings["tag visibility lag"].startswith("visible after")
    assert "token reuse after an error" in findings


class BreaksAfterCreate(LocalBackend):
    """A backend whose connection to CloudFormation is lost after the number has moved."""

    def update_consumer(self, properties):
        raise ConnectionError("lost the connection to CloudFormation")


def test_a_failing_step_still_tears_down_and_puts_numbers_back(stack, connect, world):
    backend = BreaksAfterCreate(stack, connect)
    run, out = scenario(backend, world)
    with pytest.raises(ConnectionError):
        run.run()
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert not backend.consumer_exists()
    assert backend.provider_deployed is False
    assert not run.report.passed
    assert "teardown" in out.getvalue()
    assert_everything_put_back(connect, world)


def test_a_move_that_fails_in_connect_fails_the_step_and_changes_nothing(stack, connect, world, aws_env):
    aws_env.control.fail_next_move("The number cannot be moved right now")
    run, _ = scenario(LocalBackend(stack, connect), world)
    with pytest.raises(StepFailed, match="expected COMPLETE"):
        run.run()
    assert run.report.steps[1][1] is False
    assert_everything_put_back(connect, world)


def test_make_acceptance_without_resources_says_what_it_needs_and_succeeds():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEPTANCE_")}
    done = subprocess.run(
        ["make", "--no-print-directory", "acceptance"],  # noqa: S607
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("make acceptance: skipped;")
    assert all(name in lines[0] for name in REQUIRED)


def test_the_real_backends_consumer_template_is_valid_cloudformation():
    import cfnlint.api

    matches = cfnlint.api.lint(
        json.dumps(CONSUMER_TEMPLATE), config=cfnlint.api.ManualArgs(regions=["us-east-1"])
    )
    assert matches == []
