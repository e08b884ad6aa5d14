"""The acceptance scenario (`make acceptance`) against the emulator and the CloudFormation stand-in,
so the code that runs in a real account is exercised on every `make test`."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import signal
import subprocess
from pathlib import Path

import boto3
import pytest

from acceptance import permissions
from acceptance import scenario as scenario_module
from acceptance.__main__ import REQUIRED
from acceptance.aws import CONSUMER_TEMPLATE
from acceptance.local import LocalBackend
from acceptance.scenario import (
    DELETED_AFTER_FAILED_CREATE,
    FAILED_LAG,
    FAILED_PERSISTENCE,
    FAILED_TARGET,
    FLOW_AFTER_MOVE,
    FLOW_FORMS,
    GROUP_REPLICA_FLOW,
    NATIVE_TAGS,
    OWNERSHIP_TABLE,
    PROBES,
    PROVIDER_TAG_PREFIX,
    TAG_VISIBILITY,
    TOKEN_REUSE,
    Outcome,
    Resources,
    Scenario,
    StepFailed,
)
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
    run = Scenario(
        backend, resources(world), out=out, move_timeout=30, poll_seconds=0.1, quota_pace=0.02, tag_trials=3
    )
    return run, out


def assert_everything_put_back(connect, world):
    for number in (world.number_arn, world.other_number_arn):
        summary = describe(connect, number)
        assert summary["TargetArn"] == world.instance_a_arn
        # FAILED describes the last move (one that failed and left the number where it was), not a place.
        assert summary["PhoneNumberStatus"]["Status"] in ("CLAIMED", "FAILED")
        assert not [k for k in summary.get("Tags", {}) if k.startswith(PROVIDER_TAG_PREFIX)]


class Recording:
    """A boto3 client that records the IAM action of every call made through it."""

    def __init__(self, client, prefix: str, log: set[str]) -> None:
        self._client, self._prefix, self._log = client, prefix, log

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        api = self._client.meta.method_to_api_mapping
        if name == "get_paginator":
            return lambda operation: (self._log.add(f"{self._prefix}:{api[operation]}"), attr(operation))[1]
        if name in api:
            return lambda *a, **k: (self._log.add(f"{self._prefix}:{api[name]}"), attr(*a, **k))[1]
        return attr


def test_whole_scenario_passes_and_puts_every_number_back(stack, connect, world):
    called: set[str] = set()
    backend = LocalBackend(stack, Recording(connect, "connect", called))
    backend.observer = Recording(backend.observer, "connect", called)
    backend.dynamodb = Recording(backend.dynamodb, "dynamodb", called)
    backend.cloudformation = Recording(backend.cloudformation, "cloudformation", called)
    run, out = scenario(backend, world)
    report = run.run()
    # Every call the run made is granted by the runner policy CONTRIBUTING.md points at.
    granted = {a for s in json.loads(permissions.POLICY_FILE.read_text())["Statement"] for a in s["Action"]}
    assert "connect:ListFlowAssociations" in called
    assert {"connect:BatchGetFlowAssociation", "connect:ListPhoneNumbersV2"} <= called
    assert "cloudformation:DescribeStackResources" in called
    assert "dynamodb:GetItem" in called
    assert called <= granted, called - granted
    text = out.getvalue()
    assert report.passed, text
    titles = [title for title, _, _ in report.steps]
    assert any(t.startswith("create") for t in titles)
    assert any(t.startswith("an update CloudFormation has to roll back") for t in titles)
    assert any(t.startswith("replacement") for t in titles)
    assert any(t.startswith("delete with OnDelete Restore") for t in titles)
    assert [topic for topic, _ in report.findings] == [name for name, _ in PROBES] + [FAILED_PERSISTENCE]
    assert not [f for f in report.findings if "could not finish" in f[1]], report.findings
    assert not report.left_behind
    assert report.restored == {
        world.number_id: world.instance_a_arn,
        world.other_number_id: world.instance_a_arn,
    }
    assert not stack.resources
    assert_everything_put_back(connect, world)
    # The emulator's answers to the probes, so a probe that stops observing anything is noticed.
    findings = dict(report.findings)
    assert "refused move (ResourceNotFoundException): association kept" in findings[FLOW_AFTER_MOVE]
    assert "moved back: gone" in findings[FLOW_AFTER_MOVE]
    assert "3 trials" in findings[TAG_VISIBILITY]
    assert "never an older value after a newer one" in findings[TAG_VISIBILITY]
    assert "same token, valid target: accepted" in findings[TOKEN_REUSE]
    # The emulator answers flow associations with ARNs and refuses an ID in BatchGetFlowAssociation.
    assert (
        "BatchGetFlowAssociation by ARN: ResourceId as the number's ARN, FlowId as the flow's ARN"
        in findings[FLOW_FORMS]
    )
    assert "BatchGetFlowAssociation by ID: refused, InvalidParameterException" in findings[FLOW_FORMS]
    assert "ListFlowAssociations: ResourceId as the number's ARN" in findings[FLOW_FORMS]
    assert "0 held by an AWS::Connect::PhoneNumber" in findings[NATIVE_TAGS]
    assert "unprobed: no native number in reach" in findings[NATIVE_TAGS]
    # The emulator does not serve GetTrafficDistribution: the row says so on one line, and nothing moved.
    assert findings[GROUP_REPLICA_FLOW].startswith("unprobed: GetTrafficDistribution answered")
    assert findings[FAILED_TARGET].startswith("unprobed: none of the")
    assert findings[DELETED_AFTER_FAILED_CREATE] == (
        "the stack's own events: CREATE_IN_PROGRESS -> CREATE_FAILED -> DELETE_IN_PROGRESS -> "
        "DELETE_COMPLETE; CREATE_FAILED right before DELETE_IN_PROGRESS: yes (the provider reads the "
        "deletion as a rollback)"
    )
    assert findings[FAILED_LAG].startswith("unprobed (no move followed a FAILED); 5 moves sent by the run")
    assert "instance -> other instance: first read at" in findings[FAILED_LAG]
    table = report.findings_table().splitlines()
    assert table[0].startswith("| Assumption probed |")
    assert len(table) == 2 + len(report.findings)


class BreaksAfterCreate(LocalBackend):
    """A backend whose connection to CloudFormation is lost after the number has moved."""

    def update_consumer(self, properties):
        raise ConnectionError("lost the connection to CloudFormation")


def test_a_failing_step_still_tears_down_and_puts_numbers_back(stack, connect, world):
    backend = BreaksAfterCreate(stack, connect)
    run, out = scenario(backend, world)
    report = run.run()  # the failure is in the report, not a traceback
    failed = [(title, detail) for title, ok, detail in report.steps if not ok]
    assert failed[0][0].startswith("in-place update")
    assert "lost the connection" in failed[0][1]
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert not backend.consumer_exists()
    assert backend.provider_deployed is False
    assert not run.report.passed
    assert "teardown" in out.getvalue()
    assert_everything_put_back(connect, world)


def test_a_move_that_fails_in_connect_fails_the_step_and_changes_nothing(stack, connect, world, aws_env):
    aws_env.control.fail_next_move("The number cannot be moved right now")
    run, _ = scenario(LocalBackend(stack, connect), world)
    report = run.run()
    assert report.steps[2][1] is False
    assert "expected COMPLETE" in report.steps[2][2]
    assert not report.passed
    assert_everything_put_back(connect, world)


def test_the_emulator_catches_an_instance_arn_where_connect_takes_the_id(stack, connect, world, monkeypatch):
    # The scenario once passed ACCEPTANCE_*_INSTANCE_ARN as InstanceId; real Connect answers that with
    # InvalidRequestException, and now so does the emulator, so the local run fails as the real one would.
    monkeypatch.setattr(scenario_module, "resource_id", lambda arn: arn)
    run, out = scenario(LocalBackend(stack, connect), world)
    report = run.run()
    assert not report.passed
    assert "InvalidRequestException" in report.steps[0][2]
    assert "Invalid input for field InstanceId" in out.getvalue()
    assert_everything_put_back(connect, world)


@pytest.mark.parametrize(
    "tags",
    [
        {"PhoneNumberAssignment:StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/theirs/1"},
        {"aws:cloudformation:stack-name": "native"},
    ],
)
def test_a_number_another_stack_owns_is_refused_and_nothing_changes(stack, connect, world, aws_env, tags):
    system = {k: v for k, v in tags.items() if k.startswith("aws:")}
    if system:
        seed = world.as_seed()
        seed["phone_numbers"][0]["tags"] = system
        aws_env.control.seed(seed)
    else:
        connect.tag_resource(resourceArn=world.number_arn, tags=tags)
    backend = LocalBackend(stack, connect)
    run, _out = scenario(backend, world)
    report = run.run()
    assert not report.passed
    assert report.steps[0][0].startswith("preflight")
    assert "nothing was changed" in report.steps[0][2]
    assert len(report.steps) == 1
    assert backend.provider_deployed is False
    assert describe(connect, world.number_arn)["Tags"] == tags
    assert [
        c for c in aws_env.control.calls() if c["operation"] in ("UpdatePhoneNumber", "UntagResource")
    ] == []


def test_a_number_not_on_the_declared_instance_is_refused(stack, connect, world, aws_env):
    connect.update_phone_number(PhoneNumberId=world.number_id, TargetArn=world.instance_b_arn)
    run, _ = scenario(LocalBackend(stack, connect), world)
    run.wait_claimed(world.number_id, world.instance_b_arn)
    report = run.run()
    assert "not on ACCEPTANCE_INSTANCE_ARN" in report.steps[0][2]
    assert len(report.steps) == 1


def test_teardown_removes_only_its_own_stacks_tags_and_restores_the_flow(stack, connect, world):
    # The number starts with a flow in its home instance; another stack takes the second number meanwhile.
    connect.associate_phone_number_contact_flow(
        PhoneNumberId=world.number_arn, InstanceId=world.instance_a, ContactFlowId=world.flow_a
    )
    theirs = {"PhoneNumberAssignment:StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/theirs/1"}

    class TakenMeanwhile(LocalBackend):
        def deploy_provider(self):
            super().deploy_provider()
            connect.tag_resource(resourceArn=world.other_number_arn, tags=theirs)

        def update_consumer(self, properties):
            raise ConnectionError("stop after the create")

    run, _out = scenario(TakenMeanwhile(stack, connect), world)
    report = run.run()
    assert not report.passed
    # Ours: tags gone, number home, its flow back.
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn
    assert not [
        k for k in describe(connect, world.number_arn).get("Tags", {}) if k.startswith(PROVIDER_TAG_PREFIX)
    ]
    assert run.flow_of(world.number_id, world.instance_a_arn) == world.flow_a
    # Theirs: untouched, and the report says so.
    assert describe(connect, world.other_number_arn)["Tags"] == theirs
    assert any("tagged by another stack" in detail for _, _, detail in report.steps)
    # Not even a command to move it: that would take it from the stack that owns it now.
    assert not [c for c in report.left_behind if world.other_number_id in c or world.other_number_arn in c]


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


def test_every_probe_is_a_row_of_the_assumptions_table_that_says_it_is_probed():
    text = (ROOT / "docs" / "reliability.md").read_text()
    table = text[text.index("## Assumptions about the real service") :]
    rows = {
        line.split(" | ")[0][2:]: line.split(" | ")[-1]
        for line in table.splitlines()
        if line.startswith("| ")
    }
    for name in [name for name, _ in PROBES] + [FAILED_PERSISTENCE]:
        assert name in rows, f"no row titled {name!r} in docs/reliability.md"
        assert rows[name].startswith("Probed"), name
    unprobed = [title for title, cell in rows.items() if cell.startswith("Not probed")]
    assert unprobed  # and CONTRIBUTING.md, where make acceptance is documented, names them as unprobed too
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    assert "Not probed:" in guide[guide.index("## Acceptance in a real account") :]


def test_a_failed_status_an_earlier_move_left_does_not_end_the_next_wait(stack, connect, world, aws_env):
    run, _ = scenario(LocalBackend(stack, connect), world)
    aws_env.control.fail_next_move("The number cannot be moved right now")
    with pytest.raises(StepFailed, match="FAILED"):
        run.move(world.number_id, world.instance_b_arn)
    assert run.failed_moves  # recorded for the FAILED-persistence finding
    # Describe still shows that FAILED right after the next UpdatePhoneNumber: not this move's outcome.
    aws_env.control.configure(move_seconds=0.1, stale_seconds=0.3)
    run.move(world.number_id, world.instance_b_arn)
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn


def ownership_table(connect):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=connect.meta.endpoint_url)
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(
            TableName=OWNERSHIP_TABLE,
            AttributeDefinitions=[{"AttributeName": "PhoneNumberArn", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "PhoneNumberArn", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return dynamodb


def record(number_arn: str, stack_id: str, state: str = "ASSIGNED") -> dict:
    return {
        "PhoneNumberArn": {"S": number_arn},
        "SchemaVersion": {"N": "1"},
        "Version": {"N": "3"},
        "StackId": {"S": stack_id},
        "LogicalResourceId": {"S": "MainLine"},
        "State": {"S": state},
    }


def test_a_number_with_another_stacks_ownership_record_is_refused(stack, connect, world, aws_env):
    dynamodb = ownership_table(connect)
    theirs = "arn:aws:cloudformation:us-east-1:123456789012:stack/theirs/1"
    dynamodb.put_item(TableName=OWNERSHIP_TABLE, Item=record(world.other_number_arn, theirs))
    backend = LocalBackend(stack, connect)
    run, _ = scenario(backend, world)
    report = run.run()
    assert "has an ownership record" in report.steps[0][2]
    assert theirs in report.steps[0][2]
    assert len(report.steps) == 1
    assert backend.provider_deployed is False


def test_teardown_reports_a_record_its_consumer_left_and_touches_no_other(stack, connect, world, aws_env):
    dynamodb = ownership_table(connect)
    theirs = "arn:aws:cloudformation:us-east-1:123456789012:stack/theirs/1"
    elsewhere = "arn:aws:connect:us-east-1:123456789012:phone-number/0d9c8b7a-6f5e-4d3c-8b2a-190817263544"
    dynamodb.put_item(TableName=OWNERSHIP_TABLE, Item=record(elsewhere, theirs))

    class LeavesARecord(LocalBackend):
        def delete_consumer(self):
            outcome = super().delete_consumer()
            dynamodb.put_item(
                TableName=OWNERSHIP_TABLE, Item=record(world.number_arn, self.consumer_stack_id)
            )
            return outcome

    run, _ = scenario(LeavesARecord(stack, connect), world)
    report = run.run(probes=False)
    assert not report.passed
    assert any(title == "teardown: check the ownership table" for title, ok, _ in report.steps if not ok)
    command = next(c for c in report.left_behind if "dynamodb delete-item" in c)
    assert world.number_arn in command
    assert stack.stack_id in command
    assert "StackId = :stack" in command
    # Read-only: both records are still there.
    left = dynamodb.scan(TableName=OWNERSHIP_TABLE)["Items"]
    # (The provider's shared-pace items, one per Connect operation, share the table and name no stack.)
    assert {item["StackId"]["S"] for item in left if "StackId" in item} == {theirs, stack.stack_id}


def test_ctrl_c_tears_down_and_a_second_ctrl_c_does_not_stop_the_teardown(stack, connect, world):
    class Interrupted(LocalBackend):
        def update_consumer(self, properties):
            raise KeyboardInterrupt

        def remove_provider(self):
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C
            super().remove_provider()

    backend = Interrupted(stack, connect)
    run, out = scenario(backend, world)
    # Whatever SIGINT did before (ignored, when the suite runs in a background job) it does again after.
    before = signal.getsignal(signal.SIGINT)
    report = run.run()
    assert report.interrupted
    assert not report.passed
    assert "Ctrl-C ignored" in out.getvalue()
    assert backend.provider_deployed is False
    assert not backend.consumer_exists()
    assert_everything_put_back(connect, world)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_consumer_that_cannot_be_deleted_keeps_its_numbers_and_the_provider(stack, connect, world):
    class Undeletable(LocalBackend):
        def update_consumer(self, properties):
            raise ConnectionError("stop after the create")

        def delete_consumer(self):
            return Outcome("FAILED", "DELETE_FAILED: busy")

    backend = Undeletable(stack, connect)
    run, out = scenario(backend, world)
    report = run.run()
    assert backend.consumer_exists()
    assert backend.provider_deployed is True
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_b_arn  # as the stack left it
    assert report.left_behind
    assert "the consumer stack is still there" in out.getvalue()


def test_a_number_teardown_cannot_move_back_is_left_with_the_commands_that_would(
    stack, connect, world, monkeypatch
):
    connect.associate_phone_number_contact_flow(
        PhoneNumberId=world.number_arn, InstanceId=world.instance_a, ContactFlowId=world.flow_a
    )

    class StopsAfterCreate(LocalBackend):
        def update_consumer(self, properties):
            # The consumer's Delete (Restore) will not get the number back either: Connect refuses moves now.
            monkeypatch.setattr(
                run, "move", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("no route"))
            )
            raise ConnectionError("stop after the create")

        def delete_consumer(self):
            del self.stack.resources["MainLine"]  # CloudFormation gave up on it (DeletionPolicy-like)
            return Outcome("COMPLETE")

    run, _ = scenario(StopsAfterCreate(stack, connect), world)
    report = run.run()
    assert not report.passed
    region = "us-east-1"
    assert (
        f"aws connect update-phone-number --region {region} --phone-number-id {world.number_id} "
        f"--target-arn {world.instance_a_arn}"
    ) in report.left_behind
    assert (
        f"aws connect associate-phone-number-contact-flow --region {region} "
        f"--phone-number-id {world.number_arn} --instance-id {world.instance_a} "
        f"--contact-flow-id {world.flow_a}"
    ) in report.left_behind


def test_a_contact_flow_outside_the_other_instance_is_refused(stack, connect, world):
    out = io.StringIO()
    wrong = dataclasses.replace(resources(world), contact_flow_arn=world.flow_a_arn)  # instance A's flow
    report = Scenario(LocalBackend(stack, connect), wrong, out=out, move_timeout=30, poll_seconds=0.1).run()
    assert "is not a flow of the other instance" in report.steps[0][2]
    assert len(report.steps) == 1


def test_a_number_a_native_stack_holds_is_found_and_its_system_tags_reported(stack, connect, world):
    from local_aws.connect.native import deploy_native_number_stack

    backend = LocalBackend(stack, connect)
    native_stack, native_arn = deploy_native_number_stack(
        backend.cloudformation, "native", world.instance_a_arn, "+12065550142", tags={"team": "support"}
    )
    run, _ = scenario(backend, world)
    run.preflight()
    found = scenario_module.probe_native_number_tags(run)
    assert "3 numbers read" in found  # the run's two and the native one ListPhoneNumbersV2 shows
    assert "1 held by an AWS::Connect::PhoneNumber" in found
    assert f"{native_arn.rsplit('/', 1)[-1]} (native/NativeNumber, CREATE_COMPLETE): " in found
    assert "no aws:cloudformation:* tag (1 tags in all)" in found  # the emulator's claim: the stack's tags
    assert "unprobed" not in found
    assert native_stack


def test_a_failed_move_is_traced_with_the_target_it_showed_and_how_long_it_showed(
    stack, connect, world, aws_env
):
    run, _ = scenario(LocalBackend(stack, connect), world)
    run.preflight()
    assert scenario_module.probe_failed_target(run).startswith("unprobed")
    aws_env.control.fail_next_move("The number cannot be moved right now")
    with pytest.raises(StepFailed):
        run.move(world.number_id, world.instance_b_arn)
    # The emulator shows a failed move's FAILED on the target the number stayed on: the source.
    assert scenario_module.probe_failed_target(run) == (
        "instance -> other instance: FAILED shown on the source (The number cannot be moved right now)"
    )
    assert "(the move was from " in run.failed_moves[0]
    # The next move while Describe keeps showing that FAILED for 0.3 s: measured, not taken for its outcome.
    aws_env.control.configure(move_seconds=0.1, stale_seconds=0.05, failed_stale_seconds=0.3)
    run.move(world.number_id, world.instance_b_arn)
    lag = scenario_module.probe_describe_after_failed(run)
    first = lag.split(";")[0]
    assert first.startswith("instance -> other instance: the earlier FAILED showed for ")
    shown_for = float(first.split(" for ")[1].split(" s")[0])
    assert 0.2 <= shown_for < 1.0, lag
    assert "CLAIMED on other instance at" in lag


class Distributed:
    """The emulator's Connect client, plus GetTrafficDistribution (which it does not serve) naming a
    replica Region. ``mirror``: which flow-association calls also show in the replica ("associate" and
    "disassociate", as the current guide says; only "associate"; or none, as the emulator does)."""

    def __init__(self, client, replica, mirror: tuple[str, ...]) -> None:
        self._client, self._replica, self._mirror = client, replica, mirror

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_traffic_distribution(self, Id):
        # The replica at 0 % appears in the agents' configuration only: the probe reads all three.
        return {
            "TelephonyConfig": {"Distributions": [{"Region": "us-east-1", "Percentage": 100}]},
            "AgentConfig": {
                "Distributions": [
                    {"Region": "us-east-1", "Percentage": 100},
                    {"Region": "us-west-2", "Percentage": 0},
                ]
            },
        }

    def _in_replica(self, call, kwargs):
        if call.split("_")[0] in self._mirror:
            number = kwargs["PhoneNumberId"].replace(":us-east-1:", ":us-west-2:")
            getattr(self._replica, call)(**{**kwargs, "PhoneNumberId": number})

    def associate_phone_number_contact_flow(self, **kwargs):
        answer = self._client.associate_phone_number_contact_flow(**kwargs)
        self._in_replica("associate_phone_number_contact_flow", kwargs)
        return answer

    def disassociate_phone_number_contact_flow(self, **kwargs):
        answer = self._client.disassociate_phone_number_contact_flow(**kwargs)
        self._in_replica("disassociate_phone_number_contact_flow", kwargs)
        return answer


@pytest.mark.parametrize("mirror", [(), ("associate", "disassociate"), ("associate",)])
def test_the_replica_region_is_read_for_a_flow_on_a_group_and_the_number_goes_back(
    stack, connect, world, aws_env, monkeypatch, mirror
):
    monkeypatch.setattr(scenario_module, "REPLICA_WAIT_SECONDS", 0.3)
    aws_env.control.seed({**world.as_seed(), "region": "us-west-2"})  # the replica: the same instance IDs
    # The number's own flow, in the group's home instance: the one the probe associates on the group.
    connect.associate_phone_number_contact_flow(
        PhoneNumberId=world.number_arn, InstanceId=world.instance_a, ContactFlowId=world.flow_a
    )
    backend = LocalBackend(stack, connect)
    backend.connect = Distributed(connect, backend.connect_in("us-west-2"), mirror)
    run, _ = scenario(backend, world)
    run.preflight()
    found = scenario_module.probe_group_flow_in_replica_region(run)
    assert found.startswith(f"home us-east-1: flow {world.flow_a}; us-west-2: ")
    if not mirror:
        assert "us-west-2: not there after 0.3 s (not mirrored)" in found
    else:
        assert "us-west-2: the same flow after" in found
    if "disassociate" in mirror:
        assert "after DisassociatePhoneNumberContactFlow at home, us-west-2: gone after" in found
    if mirror == ("associate",):
        # What the run made in the replica and cannot take away there is left behind, with the command.
        assert "us-west-2: still there after" in found
        assert f"left in us-west-2 after the number left the group: flow {world.flow_a}" in found
        assert run.report.left_behind == [
            f"aws connect disassociate-phone-number-contact-flow --region us-west-2 "
            f"--phone-number-id {world.number_id} --instance-id {world.instance_a}"
        ]
    else:
        assert not run.report.left_behind
    # The number is off the group, back where it was (teardown re-associates its flow).
    assert describe(connect, world.number_arn)["TargetArn"] == world.instance_a_arn


def test_the_replica_probe_without_a_group_says_it_was_skipped(stack, connect, world):
    without = dataclasses.replace(resources(world), traffic_distribution_group_arn=None)
    run = Scenario(LocalBackend(stack, connect), without, out=io.StringIO())
    assert scenario_module.probe_group_flow_in_replica_region(run).startswith(
        "unprobed: skipped, no ACCEPTANCE_TDG_ARN"
    )
