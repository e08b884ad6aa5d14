"""make status: every number, its owner (ownership record and tags), what CloudFormation says about that
owner, markers, tombstones, renames, native stacks and flows, read through the emulator (Connect, and moto's
DynamoDB and CloudFormation on the same endpoint); the commands it prints clear what it flags."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import random
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.stub import Stubber

from local_aws.cloudformation import stack_arn
from local_aws.connect.native import deploy_native_number_stack
from tests.conftest import ACCOUNT, MOVE_SECONDS, REGION, STALE_SECONDS, emulator_environment
from tools import status

ROOT = Path(__file__).resolve().parents[2]
CONNECT_READS = {
    "ListPhoneNumbersV2",
    "DescribePhoneNumber",
    "ListFlowAssociations",
    "DescribeTrafficDistributionGroup",
}
# The SPEC's names, typed here on purpose: the tests check the tool against the SPEC, not against itself.
TABLE = "PhoneNumberAssignment-Ownership"
STACK_TAG = "PhoneNumberAssignment:StackId"
LOGICAL_ID_TAG = "PhoneNumberAssignment:LogicalResourceId"
PREVIOUS_TARGET_TAG = "PhoneNumberAssignment:PreviousTargetArn"
SCHEMA_VERSION_TAG = "PhoneNumberAssignment:SchemaVersion"
LONG_AGO = datetime.now(UTC) - timedelta(hours=2)


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- stacks that hold numbers through the provider -----------------------------------------------------


def owner_stack(
    control, name: str, resources: dict[str, dict[str, Any]], stack_uuid: str | None = None
) -> str:
    """A stack CloudFormation knows, holding custom resources as the provider answered them; returns its
    stack ID. The emulator's CloudFormation answers for it as the local stand-in would make it
    (local_aws/connect/played_stacks.py): each resource's physical ID is the number's ARN the provider
    answered (``PhoneNumberId``, or ``AnsweredPhysicalId``), and ``CreateInProgress`` keeps it in
    CREATE_IN_PROGRESS with no physical ID yet."""
    stack_id = stack_arn(name, region=REGION, account_id=ACCOUNT, stack_uuid=stack_uuid)
    creating = any(spec.get("CreateInProgress") == "true" for spec in resources.values())
    control.play_stack(stack_id, stack_status="CREATE_IN_PROGRESS" if creating else "CREATE_COMPLETE")
    for logical_id, spec in resources.items():
        if spec.get("CreateInProgress") == "true":
            control.play_stack(stack_id, logical_id=logical_id, resource_status="CREATE_IN_PROGRESS")
        else:
            answered = spec.get("AnsweredPhysicalId") or spec["PhoneNumberId"]
            control.play_stack(
                stack_id, logical_id=logical_id, resource_status="CREATE_COMPLETE", physical_id=answered
            )
    return stack_id


def delete_owner_stack(control, stack_id: str, resources: dict[str, dict[str, Any]]) -> None:
    """Deleted: every resource DELETE_COMPLETE, or DELETE_SKIPPED with ``Retain`` (DeletionPolicy: Retain)."""
    for logical_id, spec in resources.items():
        status = "DELETE_SKIPPED" if spec.get("Retain") else "DELETE_COMPLETE"
        control.play_stack(stack_id, logical_id=logical_id, resource_status=status)
    control.play_stack(stack_id, stack_status="DELETE_COMPLETE")


# ---- the ownership table, as the SPEC says the provider writes it ---------------------------------------


def create_table(ddb) -> None:
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "PhoneNumberArn", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PhoneNumberArn", "KeyType": "HASH"}],
    )
    ddb.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})


def put_record(
    ddb,
    number_arn: str,
    stack_id: str,
    logical_id: str,
    state: str,
    target_arn: str,
    previous_target_arn: str,
    *,
    version: int = 1,
    updated_at: datetime = LONG_AGO,
    cancelled_at: datetime | None = None,
    predecessor: dict[str, str] | None = None,
    contact_flow_arn: str | None = None,
) -> None:
    item: dict[str, Any] = {
        "PhoneNumberArn": {"S": number_arn},
        "SchemaVersion": {"N": "1"},
        "Version": {"N": str(version)},
        "StackId": {"S": stack_id},
        "LogicalResourceId": {"S": logical_id},
        "State": {"S": state},
        "TargetArn": {"S": target_arn},
        "PreviousTargetArn": {"S": previous_target_arn},
        "UpdatedAt": {"S": iso(updated_at)},
    }
    if cancelled_at is not None:
        item["CancelledAt"] = {"S": iso(cancelled_at)}
    if contact_flow_arn:
        item["ContactFlowArn"] = {"S": contact_flow_arn}
    if predecessor is not None:
        item["Predecessor"] = {"M": {k: {"S": v} for k, v in predecessor.items()}}
    ddb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(PhoneNumberArn)")


def owner_tags(stack_id: str, logical_id: str, previous_target_arn: str) -> dict[str, str]:
    return {
        STACK_TAG: stack_id,
        LOGICAL_ID_TAG: logical_id,
        PREVIOUS_TARGET_TAG: previous_target_arn,
        SCHEMA_VERSION_TAG: "1",
    }


# ---- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def env(aws_env, monkeypatch):
    # moto serves DynamoDB on the emulator's port too.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", aws_env.endpoint_url)
    return aws_env


def client(env, service: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=env.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture
def ddb(env):
    return client(env, "dynamodb")


@pytest.fixture
def cfn(env):
    return client(env, "cloudformation")


class Estate:
    """Instance A (a flow, a traffic distribution group) and instance B, and one number per case."""

    CASES = (
        "live",
        "deleted",
        "removed",
        "retained",
        "replaced",
        "creating",
        "stuck_pending",
        "stuck_moving",
        "recent_moving",
        "old_tombstone",
        "recent_tombstone",
        "renaming",
        "rename_left",
        "tags_only",
        "record_only",
        "disagree",
        "free",
        "on_tdg",
        "on_b",
    )

    STACKS = ("app", "creating", "gone", "kept", "moved")

    def __init__(self, seed: int) -> None:
        """Its IDs drawn from ``seed``: two estates of one seed are the same estate (but for the native
        stacks' IDs, which CloudFormation picks)."""
        self.id_seed = seed
        draw = random.Random(seed)

        def new_id() -> str:
            return str(uuid.UUID(int=draw.getrandbits(128), version=4))

        self.instance_a, self.instance_b, self.tdg, self.flow = (new_id() for _ in range(4))
        self.ids = {case: new_id() for case in self.CASES}
        self.phone = {case: f"+1555555{2000 + i}" for i, case in enumerate(self.CASES)}
        self.gone_number = arn(f"phone-number/{new_id()}")
        self.stack_uuids = {name: new_id() for name in self.STACKS}
        self.stacks: dict[str, str] = {}
        self.native_live = self.native_gone = ""

    @property
    def a(self) -> str:
        return arn(f"instance/{self.instance_a}")

    @property
    def b(self) -> str:
        return arn(f"instance/{self.instance_b}")

    @property
    def tdg_arn(self) -> str:
        return arn(f"traffic-distribution-group/{self.tdg}")

    @property
    def flow_arn(self) -> str:
        return f"{self.a}/contact-flow/{self.flow}"

    def number(self, case: str) -> str:
        return arn(f"phone-number/{self.ids[case]}")

    def seed(self, control, tags: dict[str, dict[str, str]]) -> None:
        numbers = []
        for case in self.CASES:
            target = {"on_tdg": self.tdg, "on_b": self.instance_b}.get(case, self.instance_a)
            entry: dict[str, Any] = {"id": self.ids[case], "phone_number": self.phone[case], "target": target}
            if case == "live":
                entry["contact_flow_id"] = self.flow
            if case in tags:
                entry["tags"] = tags[case]
            numbers.append(entry)
        control.seed(
            {
                "account_id": ACCOUNT,
                "region": REGION,
                "instances": [
                    {"id": self.instance_a, "alias": "alpha"},
                    {"id": self.instance_b, "alias": "bravo"},
                ],
                "traffic_distribution_groups": [
                    {"id": self.tdg, "name": "tdg", "instance_id": self.instance_a}
                ],
                "contact_flows": [{"id": self.flow, "instance_id": self.instance_a, "name": "Main"}],
                "phone_numbers": numbers,
            }
        )


@pytest.fixture
def estate(env, ddb, cfn, _seen_once) -> Estate:
    """An estate of the test's own, for a test that changes it (runs a printed command, adds to it): the
    shared one again, to the same IDs, so that until the test changes it the tool reads from it what it read
    from the shared one (``seen``)."""
    return build_estate(env, ddb, cfn, _seen_once.estate.id_seed)


def build_estate(env, ddb, cfn, seed: int) -> Estate:
    e = Estate(seed)
    n = e.number
    control = env.control

    app = owner_stack(
        control,
        "app",
        {
            "MainLine": {"PhoneNumberId": n("live")},
            "NewLine": {"PhoneNumberId": n("renaming")},
            "OldLine": {"PhoneNumberId": n("renaming")},
            "Renamed": {"PhoneNumberId": n("rename_left")},
            "TagOnly": {"PhoneNumberId": n("tags_only")},
            "NoTags": {"PhoneNumberId": n("record_only")},
            "Disagree": {"PhoneNumberId": n("disagree")},
        },
        e.stack_uuids["app"],
    )
    creating = owner_stack(
        control,
        "creating",
        {"Line": {"PhoneNumberId": n("creating"), "CreateInProgress": "true"}},
        e.stack_uuids["creating"],
    )
    gone_resources = {
        "Line": {"PhoneNumberId": n("deleted")},
        "Pending": {"PhoneNumberId": n("stuck_pending")},
        "Moving": {"PhoneNumberId": n("stuck_moving")},
        "RecentMoving": {"PhoneNumberId": n("recent_moving")},
        "Cancelled": {"PhoneNumberId": n("old_tombstone")},
        "JustCancelled": {"PhoneNumberId": n("recent_tombstone")},
        "Old": {"PhoneNumberId": n("disagree")},
    }
    gone = owner_stack(control, "gone", gone_resources, e.stack_uuids["gone"])
    kept_resources = {"Line": {"PhoneNumberId": n("retained"), "Retain": True}}
    kept = owner_stack(control, "kept", kept_resources, e.stack_uuids["kept"])
    moved = owner_stack(
        control,
        "moved",
        {"Line": {"PhoneNumberId": n("replaced"), "AnsweredPhysicalId": n("free")}},
        e.stack_uuids["moved"],
    )
    delete_owner_stack(control, gone, gone_resources)
    delete_owner_stack(control, kept, kept_resources)
    e.stacks = {"app": app, "creating": creating, "gone": gone, "kept": kept, "moved": moved}

    e.seed(
        env.control,
        {
            "live": owner_tags(app, "MainLine", e.b),
            "deleted": owner_tags(gone, "Line", e.b),
            "removed": owner_tags(app, "RemovedLine", e.b),
            "retained": owner_tags(kept, "Line", e.b),
            "replaced": owner_tags(moved, "Line", e.b),
            "renaming": owner_tags(app, "OldLine", e.b),
            "rename_left": owner_tags(app, "Renamed", e.b),
            "tags_only": owner_tags(app, "TagOnly", e.b),
            "disagree": owner_tags(gone, "Old", e.b),
        },
    )
    create_table(ddb)
    a, b = e.a, e.b
    put_record(ddb, n("live"), app, "MainLine", "ASSIGNED", a, b, version=3, contact_flow_arn=e.flow_arn)
    put_record(ddb, n("deleted"), gone, "Line", "ASSIGNED", a, b)
    put_record(ddb, n("removed"), app, "RemovedLine", "ASSIGNED", a, b)
    put_record(ddb, n("retained"), kept, "Line", "ASSIGNED", a, b)
    put_record(ddb, n("replaced"), moved, "Line", "ASSIGNED", a, b)
    put_record(ddb, n("creating"), creating, "Line", "PENDING", a, b, updated_at=datetime.now(UTC))
    put_record(ddb, n("stuck_pending"), gone, "Pending", "PENDING", a, b, version=2)
    put_record(ddb, n("stuck_moving"), gone, "Moving", "MOVING", a, b, version=2)
    put_record(ddb, n("recent_moving"), gone, "RecentMoving", "MOVING", a, b, updated_at=datetime.now(UTC))
    put_record(ddb, n("old_tombstone"), gone, "Cancelled", "CANCELLED", a, b, cancelled_at=LONG_AGO)
    now = datetime.now(UTC)
    put_record(
        ddb, n("recent_tombstone"), gone, "JustCancelled", "CANCELLED", a, b, updated_at=now, cancelled_at=now
    )
    old_line = {"StackId": app, "LogicalResourceId": "OldLine", "TargetArn": a, "PreviousTargetArn": b}
    put_record(ddb, n("renaming"), app, "NewLine", "ASSIGNED", a, b, version=4, predecessor=old_line)
    left = {"StackId": app, "LogicalResourceId": "Removed", "TargetArn": a, "PreviousTargetArn": b}
    put_record(ddb, n("rename_left"), app, "Renamed", "ASSIGNED", a, b, version=5, predecessor=left)
    put_record(ddb, n("record_only"), app, "NoTags", "ASSIGNED", a, b)
    put_record(ddb, n("disagree"), app, "Disagree", "ASSIGNED", a, b)
    put_record(ddb, e.gone_number, gone, "Line", "ASSIGNED", a, b)

    e.native_live = deploy_native_number_stack(cfn, "native-live", e.a, "+15555553001")[1]
    native_gone_stack, e.native_gone = deploy_native_number_stack(
        cfn, "native-gone", e.a, "+15555553002", True
    )
    cfn.delete_stack(StackName=native_gone_stack)
    return e


@dataclass
class Seen:
    """What the tool read from one estate nobody changes: the JSON view, the table view and the JSON views of
    --target on the traffic distribution group and on instance A."""

    estate: Estate
    report: dict
    table: tuple[int, str, str]
    on_tdg: dict
    on_a: dict


@pytest.fixture(scope="module")
def _seen_once(emulator) -> Seen:
    # Each run of the tool reads every number (some seventy calls): it, not the estate, is most of a test's
    # CPU. The tests that only look at what the tool says of an unchanged estate share one estate's runs. The
    # estate itself cannot be shared: aws_env empties the emulator before every test, and a worker runs tests
    # of other modules between these (pytest-xdist's worksteal).
    with pytest.MonkeyPatch.context() as monkeypatch, emulator_environment(emulator, monkeypatch) as running:
        estate = build_estate(
            running, client(running, "dynamodb"), client(running, "cloudformation"), random.getrandbits(64)
        )
        return Seen(
            estate,
            status_json()[0],
            run_status(),
            status_json("--target", estate.tdg_arn)[0],
            status_json("--target", estate.a)[0],
        )


@pytest.fixture
def seen(_seen_once) -> Seen:
    """A copy of it per test: no test can change what the next one is shown."""
    return copy.deepcopy(_seen_once)


def test_an_estate_of_the_shared_seed_shows_as_the_shared_one(estate, seen):
    # What the tests that change their estate take for its view before the change.
    report = status_json()[0]
    now = {estate.number(case) for case in ("creating", "recent_moving", "recent_tombstone")}
    native = {estate.native_live, estate.native_gone, seen.estate.native_live, seen.estate.native_gone}

    assert report["summary"] == seen.report["summary"]
    numbers, shared = by_arn(report), by_arn(seen.report)
    assert set(numbers) - native == set(shared) - native
    for number_arn in set(numbers) - native - now:
        assert numbers[number_arn] == shared[number_arn]
    for number_arn in now:  # written "now": the same but for the times
        assert codes(numbers[number_arn]) == codes(shared[number_arn])
        assert numbers[number_arn]["owner"] == shared[number_arn]["owner"]


def run_status(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = status.main(list(argv), stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def status_json(*argv: str) -> tuple[dict, str]:
    """The JSON view; the estate has flagged numbers, so exit status 3 is as good as 0 here."""
    code, out, err = run_status("--format", "json", *argv)
    assert code in (0, 3), err
    report = json.loads(out)
    assert code == (3 if report["summary"]["flagged"] else 0), err
    return report, err


def by_arn(report: dict) -> dict[str, dict]:
    return {entry["phoneNumberArn"]: entry for entry in report["numbers"]}


def codes(entry: dict) -> list[str]:
    return [flag["code"] for flag in entry["flags"]]


# ---- running the printed commands, as the AWS CLI would ---------------------------------------------------


def run_cli(env, command: str) -> dict:
    """Run an ``aws <service> <operation> --param value ...`` line against the emulator through boto3.

    The AWS CLI names each parameter ``--`` + xform_name(member, "-") of the operation's input shape in
    botocore's model; every name here is looked up there, so a misspelt parameter fails the test.
    """
    words = shlex.split(command)
    assert words[0] == "aws", command
    service, operation_cli = words[1], words[2]
    api = client(env, service)
    model = api.meta.service_model
    [operation] = [op for op in model.operation_names if xform_name(op, "-") == operation_cli]
    members = model.operation_model(operation).input_shape.members
    by_cli = {xform_name(name, "-"): name for name in members}
    params: dict[str, Any] = {}
    i = 3
    while i < len(words):
        option = words[i].removeprefix("--")
        values = []
        i += 1
        while i < len(words) and not words[i].startswith("--"):
            values.append(words[i])
            i += 1
        if option == "region":
            assert values == [REGION]
            continue
        assert option in by_cli, f"--{option} is not a parameter of {operation}"
        shape = members[by_cli[option]]
        if shape.type_name == "list":
            params[by_cli[option]] = values
        elif shape.type_name in ("structure", "map"):
            [value] = values
            params[by_cli[option]] = json.loads(value)
        else:
            [value] = values
            params[by_cli[option]] = value
    return getattr(api, xform_name(operation))(**params)


# ---- the view ---------------------------------------------------------------------------------------------


def test_status_shows_each_owner_and_what_cloudformation_says(seen):
    estate, report = seen.estate, seen.report
    numbers = by_arn(report)

    live = numbers[estate.number("live")]
    assert live["phoneNumber"] == estate.phone["live"]
    assert live["targetArn"] == estate.a
    assert live["status"] == "CLAIMED"
    assert live["owner"] == {
        "stackId": estate.stacks["app"],
        "stackName": "app",
        "logicalResourceId": "MainLine",
        "source": "record",
    }
    assert live["cloudFormation"]["holds"] is True
    assert live["cloudFormation"]["resourceStatus"] == "CREATE_COMPLETE"
    assert live["contactFlowArn"] == estate.flow_arn
    assert live["record"]["Version"] == 3
    assert live["tags"][STACK_TAG] == estate.stacks["app"]
    assert live["flags"] == []

    free = numbers[estate.number("free")]
    assert free["owner"] is None
    assert free["cloudFormation"] is None
    assert free["flags"] == []
    assert numbers[estate.number("on_tdg")]["targetArn"] == estate.tdg_arn
    assert numbers[estate.number("on_b")]["targetArn"] == estate.b


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("deleted", "stale: DELETE_COMPLETE"),
        ("removed", "stale: the stack or its logical ID no longer exists"),
        ("retained", "stale: DELETE_SKIPPED"),
        ("replaced", "stale: its physical ID is "),
    ],
)
def test_an_owner_cloudformation_no_longer_holds_is_stale_and_its_commands_clear_it(
    estate, seen, env, case, why
):
    entry = by_arn(seen.report)[estate.number(case)]

    assert entry["cloudFormation"]["holds"] is False
    assert entry["cloudFormation"]["detail"].startswith(why)
    [flag] = entry["flags"]
    assert flag["code"] == "stale-owner"
    release, untag = flag["commands"]
    assert release.startswith(f"aws dynamodb update-item --region {REGION} --table-name {TABLE} ")
    assert "SET #st = :released" in release
    assert "--condition-expression" in release
    assert untag.startswith(
        f"aws connect untag-resource --region {REGION} --resource-arn {estate.number(case)} "
    )

    # A user's own tag on the number survives: the command names only the provider's keys.
    connect = client(env, "connect")
    connect.tag_resource(resourceArn=estate.number(case), tags={"team": "support"})
    for command in flag["commands"]:
        run_cli(env, command)

    after = by_arn(status_json()[0])[estate.number(case)]
    assert after["owner"] is None
    assert after["record"]["State"] == "RELEASED"  # kept, never deleted: it still orders late requests
    assert after["flags"] == []
    tags = connect.describe_phone_number(PhoneNumberId=estate.number(case))["ClaimedPhoneNumberSummary"][
        "Tags"
    ]
    assert tags == {"team": "support"}


def test_the_delete_command_deletes_nothing_once_the_record_changed(estate, seen, env, ddb):
    [delete, _untag] = by_arn(seen.report)[estate.number("deleted")]["flags"][0]["commands"]
    ddb.update_item(
        TableName=TABLE,
        Key={"PhoneNumberArn": {"S": estate.number("deleted")}},
        UpdateExpression="SET #v = #v + :one",
        ExpressionAttributeNames={"#v": "Version"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        run_cli(env, delete)
    assert "Item" in ddb.get_item(TableName=TABLE, Key={"PhoneNumberArn": {"S": estate.number("deleted")}})


def test_a_pending_marker_of_a_create_in_progress_is_shown_not_flagged(seen):
    entry = by_arn(seen.report)[seen.estate.number("creating")]

    assert entry["marker"] == "PENDING"
    assert entry["owner"]["stackName"] == "creating"
    assert entry["cloudFormation"]["holds"] is True
    assert entry["cloudFormation"]["resourceStatus"] == "CREATE_IN_PROGRESS"
    assert entry["tags"] == {}
    assert entry["flags"] == []


def test_a_stuck_pending_marker_is_flagged_with_the_delete_that_clears_it(estate, seen, env):
    entry = by_arn(seen.report)[estate.number("stuck_pending")]

    assert entry["marker"] == "PENDING"
    [flag] = entry["flags"]
    assert flag["code"] == "stuck-pending"
    [release] = flag["commands"]  # no tags were written: the request never succeeded
    run_cli(env, release)
    after = by_arn(status_json()[0])[estate.number("stuck_pending")]
    assert (after["record"]["State"], after["flags"]) == ("RELEASED", [])


def test_a_stuck_moving_marker_says_to_wait_for_or_undo_the_move_first(seen):
    estate = seen.estate
    entry = by_arn(seen.report)[estate.number("stuck_moving")]

    [flag] = entry["flags"]
    assert flag["code"] == "stuck-moving"
    assert "First wait for the move to finish" in flag["advice"]
    assert (
        f"aws connect update-phone-number --region {REGION} "
        f"--phone-number-id {estate.number('stuck_moving')} --target-arn {estate.b}" in flag["advice"]
    )
    [release] = flag["commands"]
    assert "update-item" in release
    assert "RELEASED" in release


def test_a_marker_young_enough_to_belong_to_a_running_request_is_never_offered_for_deletion(seen):
    entry = by_arn(seen.report)[seen.estate.number("recent_moving")]

    [flag] = entry["flags"]
    assert flag["code"] == "moving-owner-gone"
    assert flag["commands"] == []
    assert "may still be running" in flag["message"]


def test_cancelled_tombstones_are_shown_and_old_ones_can_be_cleared(estate, seen, env):
    numbers = by_arn(seen.report)
    recent, old = numbers[estate.number("recent_tombstone")], numbers[estate.number("old_tombstone")]

    assert recent["marker"] == old["marker"] == "CANCELLED"
    assert recent["owner"] is None
    assert recent["flags"] == []
    [flag] = old["flags"]
    assert flag["code"] == "cancelled-tombstone"
    [delete] = flag["commands"]
    run_cli(env, delete)
    assert by_arn(status_json()[0])[estate.number("old_tombstone")]["marker"] is None


def test_a_rename_in_progress_shows_its_predecessor_and_a_left_over_one_is_flagged(estate, seen, env):
    numbers = by_arn(seen.report)
    renaming, left = numbers[estate.number("renaming")], numbers[estate.number("rename_left")]

    assert renaming["owner"]["logicalResourceId"] == "NewLine"
    assert renaming["rename"]["from"]["logicalResourceId"] == "OldLine"
    assert renaming["rename"]["cloudFormation"]["holds"] is True
    # The tags still name the old resource until the rename settles: not a disagreement.
    assert renaming["tags"][LOGICAL_ID_TAG] == "OldLine"
    assert renaming["flags"] == []

    assert left["rename"]["cloudFormation"]["holds"] is False
    [flag] = left["flags"]
    assert flag["code"] == "stale-predecessor"
    [update] = flag["commands"]
    run_cli(env, update)
    after = by_arn(status_json()[0])[estate.number("rename_left")]
    assert after["rename"] is None
    assert after["record"]["Version"] == 6
    assert after["owner"]["logicalResourceId"] == "Renamed"


def test_tags_and_record_that_disagree_are_flagged(estate, seen, env):
    numbers = by_arn(seen.report)

    tags_only = numbers[estate.number("tags_only")]
    assert tags_only["owner"]["source"] == "tags"
    assert tags_only["owner"]["logicalResourceId"] == "TagOnly"
    assert tags_only["cloudFormation"]["holds"] is True
    assert codes(tags_only) == ["tags-without-record"]

    record_only = numbers[estate.number("record_only")]
    assert record_only["owner"]["source"] == "record"
    assert codes(record_only) == ["record-without-tags"]

    disagree = numbers[estate.number("disagree")]
    assert disagree["owner"]["logicalResourceId"] == "Disagree"
    [flag] = disagree["flags"]
    assert flag["code"] == "tags-disagree"
    [untag] = flag["commands"]  # the tags name a stack that is gone
    run_cli(env, untag)
    after = by_arn(status_json()[0])[estate.number("disagree")]
    assert after["tags"] == {}
    assert codes(after) == ["record-without-tags"]


def test_a_record_for_a_number_not_in_the_region_is_flagged(estate, seen, env):
    entry = by_arn(seen.report)[estate.gone_number]

    assert entry["status"] == "NOT_FOUND"
    [flag] = entry["flags"]
    assert flag["code"] == "record-without-number"
    run_cli(env, flag["commands"][0])
    assert estate.gone_number not in by_arn(status_json()[0])


def test_the_providers_shared_pace_items_are_not_numbers_records(estate, ddb):
    # The shared pace (provider pace.py) keeps its schedule in the same table, keyed phone-number/pace-<Op>.
    from phone_number_assignment import pace

    key = pace.pace_key("aws", REGION, ACCOUNT, "DescribePhoneNumber")
    item = {"PhoneNumberArn": {"S": key}, "Tat": {"N": "1"}, "Interval": {"N": "0"}}
    ddb.put_item(TableName=TABLE, Item=item)

    report = status_json()[0]

    assert key not in by_arn(report)


def test_native_stacks_get_the_same_cloudformation_check(seen):
    # Their numbers carry no aws: tags (Connect refuses them): CloudFormation is asked by the number's ARN.
    estate = seen.estate
    numbers = by_arn(seen.report)

    live, gone = numbers[estate.native_live]["nativeStack"], numbers[estate.native_gone]["nativeStack"]
    assert live["stackName"] == "native-live"
    assert live["logicalResourceId"] == "NativeNumber"
    assert live["cloudFormation"]["holds"] is True
    assert gone["stackName"] == "native-gone"
    assert gone["cloudFormation"] == {
        "holds": False,
        "resourceStatus": "DELETE_SKIPPED",
        "detail": "stale: DELETE_SKIPPED",
    }
    assert numbers[estate.native_live]["owner"] is None


def test_the_summary_counts_owners_stale_ones_and_markers(seen):
    report = seen.report
    numbers = report["numbers"]

    summary = report["summary"]
    assert summary["numbers"] == len(numbers) == len(Estate.CASES) + 3  # + two native numbers, one record
    assert summary["owned"] == sum(1 for n in numbers if n["owner"] is not None)
    assert summary["stale"] == sum(
        1 for n in numbers if n["owner"] is not None and n["cloudFormation"]["holds"] is False
    )
    assert summary["pending"] == sum(1 for n in numbers if n["marker"] in ("PENDING", "MOVING"))
    assert summary["flagged"] == sum(1 for n in numbers if n["flags"])
    assert summary["stale"] >= 7
    assert summary["pending"] == 4


def test_the_json_shape_is_the_documented_one(seen):
    report = seen.report

    assert set(report) == {
        "version",
        "region",
        "target",
        "number",
        "ownershipTable",
        "numbers",
        "notes",
        "unchecked",
        "summary",
    }
    assert report["version"] == 1
    assert report["region"] == REGION
    assert report["target"] is None
    assert report["number"] is None
    assert report["unchecked"] == []
    assert report["ownershipTable"] == {"name": TABLE, "state": "present", "message": None}
    assert set(report["summary"]) == {"numbers", "owned", "stale", "pending", "flagged"}
    for entry in report["numbers"]:
        assert set(entry) == {
            "phoneNumber",
            "phoneNumberId",
            "phoneNumberArn",
            "targetArn",
            "status",
            "statusMessage",
            "owner",
            "cloudFormation",
            "marker",
            "record",
            "tags",
            "rename",
            "nativeStack",
            "contactFlowArn",
            "flags",
        }
        for flag in entry["flags"]:
            assert set(flag) == {"code", "message", "advice", "commands"}


def test_the_table_lists_every_number_and_every_flag_with_its_command(seen):
    estate, (code, out, err) = seen.estate, seen.table

    assert code == status.EXIT_FLAGGED, err
    [header] = [line for line in out.splitlines() if line.startswith("NUMBER ")]
    assert header.split() == [
        "NUMBER",
        "STATUS",
        "TARGET",
        "OWNER",
        "CLOUDFORMATION",
        "CONTACT",
        "FLOW",
        "NOTES",
    ]
    for case in Estate.CASES:
        assert estate.phone[case] in out
    live_row = next(line for line in out.splitlines() if line.startswith(estate.phone["live"]))
    assert f"instance/{estate.instance_a}" in live_row
    assert "MainLine @ app" in live_row
    assert "holds (CREATE_COMPLETE)" in live_row
    assert f"contact-flow/{estate.flow}" in live_row
    replaced_row = next(line for line in out.splitlines() if line.startswith(estate.phone["replaced"]))
    assert "stale: another physical ID" in replaced_row
    assert f"its physical ID is {estate.number('free')}, not this number" in out
    assert "Needs attention" in out
    assert "[stale-owner]" in out
    assert "    $ aws dynamodb update-item" in out
    assert "    $ aws connect untag-resource" in out
    summary = seen.report["summary"]
    assert out.splitlines()[-1] == (
        f"{summary['numbers']} numbers, {summary['owned']} owned, {summary['stale']} stale, "
        f"{summary['pending']} pending ({summary['flagged']} flagged)"
    )


def test_status_only_reads(estate, env, ddb):
    before = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    run_status()
    run_status("--target", estate.tdg_arn)

    operations = {call["operation"] for call in env.control.calls()}
    assert "DescribePhoneNumber" in operations
    assert operations <= CONNECT_READS
    flows = [c for c in env.control.calls() if c["operation"] == "ListFlowAssociations"]
    assert flows
    assert all(not str(c["params"].get("InstanceId", "")).startswith("arn:") for c in flows)
    after = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, before))


def test_target_limits_the_view_to_the_numbers_listed_on_it(seen):
    estate, report = seen.estate, seen.on_tdg

    assert report["target"] == estate.tdg_arn
    assert set(by_arn(report)) == {estate.number("on_tdg")}

    on_a = by_arn(seen.on_a)
    assert estate.number("on_b") not in on_a
    assert estate.number("live") in on_a
    assert estate.number("on_tdg") in on_a  # Connect lists an instance's groups' numbers with it
    assert estate.gone_number in on_a  # its record moves it to A


def test_without_the_table_status_says_there_are_no_records_yet(env):
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": "00000000-0000-4000-8000-000000000001", "alias": "x"}],
            "phone_numbers": [
                {
                    "id": str(uuid.uuid4()),
                    "phone_number": "+15555554000",
                    "target": "00000000-0000-4000-8000-000000000001",
                }
            ],
        }
    )
    code, out, err = run_status()
    assert code == 0, err
    assert "no ownership records yet (table not created)" in out
    assert "Traceback" not in err

    report, _ = status_json()
    assert report["ownershipTable"]["state"] == "missing"
    assert report["ownershipTable"]["message"] == "no ownership records yet (table not created)"
    assert report["summary"]["numbers"] == 1


def test_a_progress_line_while_reading_many_numbers(env):
    instance = str(uuid.uuid4())
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": instance, "alias": "many"}],
            "phone_numbers": [
                {"id": str(uuid.uuid4()), "phone_number": f"+1555556{1000 + i}", "target": instance}
                for i in range(25)
            ],
        }
    )
    code, out, err = run_status()

    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("read ")]
    assert progress == ["read 10/25 numbers…", "read 20/25 numbers…", "read 25/25 numbers…"]
    assert "read " not in out


def test_no_progress_line_for_a_few_numbers(world, env):
    code, _, err = run_status()
    assert code == 0, err
    assert not [line for line in err.splitlines() if line.startswith("read ")]


def test_unreadable_flows_still_show_everything_else(estate, env):
    env.control.inject_error("ListFlowAssociations", "AccessDeniedException", count=10)
    report, _ = status_json()

    assert by_arn(report)[estate.number("live")]["contactFlowArn"] is None
    assert by_arn(report)[estate.number("live")]["owner"]["logicalResourceId"] == "MainLine"
    assert any("needs connect:ListFlowAssociations" in note for note in report["notes"])


def test_cloudformation_access_denied_makes_the_owner_unknown_not_stale():
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stack_resource", service_error_code="AccessDenied", http_status_code=403
        )
        holding = status.CloudFormationCheck(cfn).holding(
            status.Owner("arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "L"),
            arn("phone-number/1"),
            "1",
        )
    assert holding.holds is None
    assert holding.detail == "unknown (needs cloudformation:DescribeStackResource)"


def test_an_unreadable_table_is_said_not_fatal():
    ddb = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    view = status.Status(REGION, None)
    with Stubber(ddb) as stub:
        stub.add_client_error("scan", service_error_code="AccessDeniedException", http_status_code=400)
        assert status.read_records(ddb, view) == {}
    assert view.table_state == "unreadable"
    assert "needs dynamodb:Scan" in view.table_message


def test_a_connect_error_is_one_line_and_non_zero(estate, env):
    env.control.inject_error("ListPhoneNumbersV2", "AccessDeniedException")
    code, out, err = run_status()

    assert code == 1
    assert out == ""
    [line] = [line for line in err.splitlines() if line.startswith("make status:")]
    assert "ListPhoneNumbersV2" in line
    assert "AccessDeniedException" in line


@pytest.mark.parametrize(
    ("drop", "says"),
    [
        (("AWS_REGION", "AWS_DEFAULT_REGION"), "no AWS Region configured"),
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "Unable to locate credentials"),
    ],
)
def test_without_region_or_credentials_make_status_says_so_in_one_line(env, tmp_path, drop, says):
    variables = {k: v for k, v in os.environ.items() if k not in drop}
    variables.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH="provider",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tools.status"],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("make status:")]
    assert says in line


@pytest.mark.timeout(600)  # the first run makes .venv-tools
def test_make_status_prints_only_json_on_stdout(estate, env, tools_venv):
    done = subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "status", "FORMAT=json", f"TARGET={estate.tdg_arn}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [n["phoneNumberArn"] for n in report["numbers"]] == [estate.number("on_tdg")]
    assert status.READ_ONLY_NOTICE in done.stderr


def test_a_target_of_the_wrong_shape_is_refused_before_any_call(env):
    code, out, err = run_status("--target", "arn:aws:s3:::bucket")

    assert code == 2
    assert out == ""
    assert "TARGET must be the ARN of an Amazon Connect instance or traffic distribution group" in err
    assert env.control.calls() == []


def test_under_connects_quotas_every_number_is_still_read(env):
    """2 requests per second, burst 5: the adaptive retry mode waits out the throttling instead of failing."""
    instance = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(12)]
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": instance, "alias": "busy"}],
            "phone_numbers": [
                {"id": number, "phone_number": f"+1555557{1000 + i}", "target": instance}
                for i, number in enumerate(ids)
            ],
        }
    )
    env.control.use_default_quotas()
    report, _ = status_json()

    assert {n["phoneNumberId"] for n in report["numbers"]} == set(ids)
    assert all(n["status"] == "CLAIMED" for n in report["numbers"])
    throttled = [c for c in env.control.calls() if c["error"] == "ThrottlingException"]
    assert throttled, "12 Describes after a listing exceed the burst of 5: some must have been throttled"


def test_a_flow_given_by_its_id_is_shown_as_its_arn():
    """ListFlowAssociations documents FlowId as "the identifier of the flow": an ID is made an ARN."""
    connect = boto3.client("connect", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    number_arn, flow_id = arn("phone-number/n1"), "f1"
    with Stubber(connect) as stub:
        stub.add_response(
            "list_flow_associations",
            {
                "FlowAssociationSummaryList": [
                    {"ResourceId": number_arn, "FlowId": flow_id, "ResourceType": "VOICE_PHONE_NUMBER"}
                ]
            },
            {"InstanceId": "i1", "ResourceType": "VOICE_PHONE_NUMBER"},
        )
        flows = status._flows(
            connect, ["i1"], f"arn:aws:connect:{REGION}:{ACCOUNT}", status.Status(REGION, None)
        )
    assert flows == {"n1": arn("instance/i1/contact-flow/f1")}


def test_even_a_bug_ends_in_one_line_not_a_traceback(env, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("PhoneNumberArn")

    monkeypatch.setattr(status, "collect", broken)
    code, out, err = run_status()

    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert "make status: unexpected KeyError while reading us-east-1: 'PhoneNumberArn'" in err


# ---- the tool's own names, against the provider's --------------------------------------------------------


def test_status_uses_the_providers_rules_not_copies_of_them():
    """One copy of the rules: the table, states, tags and "does CloudFormation still hold it" are the
    provider's own objects (they import boto3 alone: tests/tools/test_environment.py)."""
    from phone_number_assignment import records, stacks, tags

    assert status.TABLE_NAME is records.OWNERSHIP_TABLE
    assert status.Owner is tags.Owner
    assert set(status.MARKERS) == {state.value for state in records.UNSETTLED}
    assert status.stacks.still_holds is stacks.still_holds


@pytest.mark.parametrize(
    ("stack_status", "holds"),
    [
        # The update that replaced the resource can still roll back to the old number: the provider holds it.
        ("UPDATE_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_IN_PROGRESS", True),
        # Past the point of no return: the old number is let go.
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", False),
    ],
)
def test_during_a_replacement_the_old_number_is_not_stale_until_the_update_commits(
    env, ddb, stack_status, holds
):
    old, new, instance = (str(uuid.uuid4()) for _ in range(3))
    old_arn, new_arn, instance_arn = (
        arn(f"phone-number/{old}"),
        arn(f"phone-number/{new}"),
        arn(f"instance/{instance}"),
    )
    stack_id = stack_arn("replacing", region=REGION, account_id=ACCOUNT)
    env.control.play_stack(stack_id, stack_status=stack_status)
    env.control.play_stack(
        stack_id, logical_id="Line", resource_status="UPDATE_COMPLETE", physical_id=new_arn
    )
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": instance, "alias": "replacing"}],
            "phone_numbers": [
                {
                    "id": old,
                    "phone_number": "+15555554001",
                    "target": instance,
                    "tags": owner_tags(stack_id, "Line", instance_arn),
                },
                {"id": new, "phone_number": "+15555554002", "target": instance},
            ],
        }
    )
    create_table(ddb)
    put_record(ddb, old_arn, stack_id, "Line", "ASSIGNED", instance_arn, instance_arn)

    entry = by_arn(status_json("--target", instance_arn)[0])[old_arn]

    assert entry["cloudFormation"]["holds"] is holds
    if holds:
        assert entry["cloudFormation"]["detail"].startswith("holds (replacement not committed")
        assert entry["flags"] == []  # no stale-owner, and no release command for a number still held
    else:
        assert codes(entry) == ["stale-owner"]


# ---- drift: against what the owner declared, as the provider recorded it ---------------------------------


class Drift:
    """Numbers a stack assigned through the provider (so records and tags are the provider's own), then
    changed by hand."""

    def __init__(self, world, stack, connect, aws_env, clock) -> None:
        self.world, self.stack, self.connect, self.clock = world, stack, connect, clock
        self.env = aws_env
        self.other_flow = str(uuid.uuid4())
        aws_env.control.seed(
            {
                "account_id": ACCOUNT,
                "region": REGION,
                "contact_flows": [{"id": self.other_flow, "instance_id": world.instance_a, "name": "Other"}],
            }
        )

    @property
    def other_flow_arn(self) -> str:
        return f"{self.world.instance_a_arn}/contact-flow/{self.other_flow}"

    def assign(self, logical_id: str, number_arn: str, **extra: str) -> None:
        properties = {
            "PhoneNumberId": number_arn,
            "TargetArn": self.world.instance_a_arn,
            "ContactFlowArn": self.world.flow_a_arn,
            **extra,
        }
        response = self.stack.create(logical_id, properties)
        assert response.ok, response.reason

    def settle(self, number_arn: str) -> dict:
        """Wait (on the test's clock) for a move made by hand to end: for as long as the emulator takes to
        move it, during which DescribePhoneNumber may still show the number as it was (a lagging replica)."""
        self.clock.sleep(MOVE_SECONDS + STALE_SECONDS)
        for _ in range(50):
            summary = self.connect.describe_phone_number(PhoneNumberId=number_arn)[
                "ClaimedPhoneNumberSummary"
            ]
            if summary["PhoneNumberStatus"]["Status"] != "IN_PROGRESS":
                return summary
            self.clock.sleep(0.2)
        raise AssertionError(f"{number_arn} still moving")


@pytest.fixture
def drift(world, stack, connect, aws_env, clock, env) -> Drift:
    return Drift(world, stack, connect, aws_env, clock)


def test_numbers_where_their_stack_declares_them_are_clean_and_exit_0(drift):
    drift.assign("MainLine", drift.world.number_arn)

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_CLEAN, err
    entry = by_arn(json.loads(out))[drift.world.number_arn]
    assert entry["owner"]["logicalResourceId"] == "MainLine"
    assert entry["contactFlowArn"] == drift.world.flow_a_arn
    assert entry["flags"] == []


def test_a_number_moved_by_hand_is_not_on_its_declared_target(drift):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    drift.settle(world.number_arn)

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_FLAGGED, err
    entry = by_arn(json.loads(out))[world.number_arn]
    assert entry["targetArn"] == world.instance_b_arn
    assert "not-on-declared-target" in codes(entry)
    [flag] = [f for f in entry["flags"] if f["code"] == "not-on-declared-target"]
    assert world.instance_a_arn in flag["message"]
    assert f"--target-arn {world.instance_a_arn}" in flag["advice"]
    assert "make status: 1 flagged (exit status 3)." in err

    # Followed literally, the advice puts the number back where it was declared and routed as declared (a
    # move drops the number's flow): status is then clean.
    move_back, route = re.findall(r"aws connect [^;]*?(?=; |$)", flag["advice"])
    run_cli(drift.env, move_back)
    drift.settle(world.number_arn)
    run_cli(drift.env, route)
    code, out, err = run_status("--format", "json")
    assert code == status.EXIT_CLEAN, out


@pytest.mark.parametrize("how", ["another flow", "no flow"])
def test_a_number_rerouted_by_hand_is_not_on_its_declared_flow(drift, how):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    if how == "another flow":
        drift.connect.associate_phone_number_contact_flow(
            PhoneNumberId=world.number_arn, InstanceId=world.instance_a, ContactFlowId=drift.other_flow
        )
    else:
        drift.connect.disassociate_phone_number_contact_flow(
            PhoneNumberId=world.number_arn, InstanceId=world.instance_a
        )

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_FLAGGED, err
    entry = by_arn(json.loads(out))[world.number_arn]
    assert codes(entry) == ["not-on-declared-flow"]
    [flag] = entry["flags"]
    assert world.flow_a_arn in flag["message"]
    assert (drift.other_flow_arn if how == "another flow" else "routes to no flow") in flag["message"]
    # The command in the advice puts the declared flow back: run it, and the flag goes.
    command = flag["advice"].split("now: ", 1)[1]
    assert command.startswith("aws connect associate-phone-number-contact-flow ")
    words = shlex.split(command)
    options = dict(zip(words[3::2], words[4::2], strict=True))
    drift.connect.associate_phone_number_contact_flow(
        PhoneNumberId=options["--phone-number-id"],
        InstanceId=options["--instance-id"],
        ContactFlowId=options["--contact-flow-id"],
    )
    code, out, err = run_status("--format", "json")
    assert code == status.EXIT_CLEAN, err


def test_a_failed_number_is_flagged(drift, aws_env):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    aws_env.control.fail_next_move("Carrier rejected the port")
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    assert drift.settle(world.number_arn)["PhoneNumberStatus"]["Status"] == "FAILED"

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_FLAGGED, err
    entry = by_arn(json.loads(out))[world.number_arn]
    assert entry["status"] == "FAILED"
    # An UpdatePhoneNumber drops the number's flow association, whatever its outcome (as the emulator
    # models Connect): the failed move left it on its target, routed nowhere.
    assert codes(entry) == ["failed", "not-on-declared-flow"]
    flag = entry["flags"][0]
    assert "Carrier rejected the port" in flag["message"]
    assert "MainLine" in flag["advice"]


def test_an_owner_whose_stack_is_gone_is_flagged_not_judged_for_drift(drift):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    drift.settle(world.number_arn)
    drift.stack.delete_stack(retain=True)

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_FLAGGED, err
    entry = by_arn(json.loads(out))[world.number_arn]
    # The stack declares nothing any more: where the number is now is nobody's drift.
    assert codes(entry) == ["stale-owner"]
    assert entry["cloudFormation"]["detail"] == "stale: DELETE_SKIPPED"


def test_what_could_not_be_read_makes_the_exit_status_1_not_0(drift, aws_env):
    drift.assign("MainLine", drift.world.number_arn)
    aws_env.control.inject_error("ListFlowAssociations", "AccessDeniedException", count=10)

    code, out, err = run_status("--format", "json")

    assert code == status.EXIT_UNCHECKED
    report = json.loads(out)
    assert by_arn(report)[drift.world.number_arn]["flags"] == []
    assert any("needs connect:ListFlowAssociations" in reason for reason in report["unchecked"])
    assert "make status: not checked: contact flows of instance" in err


I1, I2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
F1, F2 = "aaaaaaaa-1111-4111-8111-111111111111", "bbbbbbbb-2222-4222-8222-222222222222"


def flow(instance: str, flow_id: str) -> str:
    return arn(f"instance/{instance}/contact-flow/{flow_id}")


@pytest.mark.parametrize(
    ("declared", "actual", "same"),
    [
        (
            flow(I1, F1),
            flow(I1, F1).upper().replace("ARN:AWS:CONNECT:US-EAST-1", f"arn:aws:connect:{REGION}"),
            True,
        ),
        (flow(I1, F1), F1, True),  # ListFlowAssociations documents FlowId as "the identifier of the flow"
        (F1.upper(), flow(I1, F1), True),
        (flow(I1, F1), flow(I2, F1), False),
        (flow(I1, F1), F2, False),
        (flow(I1, F1), None, False),
    ],
)
def test_flows_compare_by_id_or_arn_in_any_case(declared, actual, same):
    assert status.same_flow(declared, actual) is same


# ---- NUMBER=: one number, without reading the Region ----------------------------------------------------


@pytest.fixture
def observed_dynamodb():
    """The DynamoDB operations the tool calls, seen through botocore's events on its own session."""
    seen: list[str] = []

    def record(model, **_):
        seen.append(model.name)

    events = status._session().events
    events.register("before-call.dynamodb", record)
    yield seen
    events.unregister("before-call.dynamodb", record)


@pytest.mark.parametrize("form", ["id", "arn", "e164", "upper-case id"])
def test_number_looks_up_one_number_by_id_arn_or_e164_without_a_scan(drift, aws_env, observed_dynamodb, form):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    drift.settle(world.number_arn)
    given = {
        "id": world.number_id,
        "arn": world.number_arn,
        "e164": world.phone_number,
        "upper-case id": world.number_id.upper(),
    }[form]
    before = len(aws_env.control.calls())

    code, out, err = run_status("--number", given, "--format", "json")

    assert code == status.EXIT_FLAGGED, err
    report = json.loads(out)
    assert [n["phoneNumberArn"] for n in report["numbers"]] == [world.number_arn]
    assert codes(report["numbers"][0]) == ["not-on-declared-target"]
    assert report["number"] == (given.lower() if form == "upper-case id" else given)
    assert observed_dynamodb == ["GetItem"]
    calls = aws_env.control.calls()[before:]
    assert {c["operation"] for c in calls} <= CONNECT_READS
    assert sum(1 for c in calls if c["operation"] == "DescribePhoneNumber") == 1
    listings = [c for c in calls if c["operation"] == "ListPhoneNumbersV2"]
    assert all(c["params"].get("PhoneNumberPrefix") == world.phone_number for c in listings)
    assert len(listings) == (1 if form == "e164" else 0)
    flows = [c for c in calls if c["operation"] == "ListFlowAssociations"]
    assert [c["params"]["InstanceId"] for c in flows] == [world.instance_b]


def test_number_of_a_released_number_finds_its_record_by_arn(estate, observed_dynamodb):
    code, out, err = run_status("--number", estate.gone_number, "--format", "json")

    assert code == status.EXIT_FLAGGED, err
    [entry] = json.loads(out)["numbers"]
    assert entry["status"] == "NOT_FOUND"
    assert codes(entry) == ["record-without-number"]
    assert observed_dynamodb == ["GetItem"]


@pytest.mark.parametrize("given", ["+15555550999", "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"])
def test_number_that_names_nothing_says_so_and_exits_1(world, env, given):
    code, out, err = run_status("--number", given)

    assert code == status.EXIT_UNCHECKED
    assert out == ""
    [line] = [line for line in err.splitlines() if line.startswith("make status:")]
    assert "no phone number" in line
    assert given in line


@pytest.mark.parametrize(
    "given", ["5555550100", "arn:aws:connect:us-east-1:1:instance/x", "not-a-number", "+0123"]
)
def test_a_number_of_the_wrong_shape_is_refused_before_any_call(env, given):
    code, out, err = run_status("--number", given)

    assert code == status.EXIT_USAGE
    assert out == ""
    assert "NUMBER must be a phone number's ID, its phone-number ARN or its E.164 form" in err
    assert env.control.calls() == []


def test_number_and_target_together_are_refused(env, capsys):
    with pytest.raises(SystemExit) as exited:
        status.main(["--number", "+15555550100", "--target", arn(f"instance/{uuid.uuid4()}")])
    assert exited.value.code == status.EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err


# ---- FORMAT=csv ------------------------------------------------------------------------------------------


def test_csv_has_one_row_per_number_with_full_arns_and_flag_codes(drift):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    drift.settle(world.number_arn)

    code, out, err = run_status("--format", "csv")

    assert code == status.EXIT_FLAGGED, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(status.CSV_COLUMNS)
    by_number = {row["phoneNumberArn"]: row for row in rows}
    assert set(by_number) == {world.number_arn, world.other_number_arn}
    moved = by_number[world.number_arn]
    assert moved["phoneNumber"] == world.phone_number
    assert moved["targetArn"] == world.instance_b_arn
    assert moved["declaredTargetArn"] == world.instance_a_arn
    assert moved["declaredContactFlowArn"] == world.flow_a_arn
    assert moved["ownerLogicalResourceId"] == "MainLine"
    assert moved["ownerStackName"] == "phone-number-consumer"
    assert moved["ownerSource"] == "record"
    assert moved["cloudFormation"] == "holds (CREATE_COMPLETE)"
    assert moved["flags"] == "not-on-declared-target"
    free = by_number[world.other_number_arn]
    assert (free["ownerStackId"], free["flags"], free["declaredTargetArn"]) == ("", "", "")


@pytest.mark.timeout(600)  # the first run makes .venv-tools
def test_make_status_number_csv_and_an_exit_status_make_reports(drift, tools_venv, tmp_path):
    world = drift.world
    drift.assign("MainLine", world.number_arn)
    drift.connect.update_phone_number(PhoneNumberId=world.number_arn, TargetArn=world.instance_b_arn)
    drift.settle(world.number_arn)

    done = subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "status", f"NUMBER={world.phone_number}", "FORMAT=csv"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # make turns any failing command into its own exit status 2; the tool's 3 is in make's message.
    assert done.returncode == 2, done.stderr
    assert "Error 3" in done.stderr
    [row] = list(csv.DictReader(io.StringIO(done.stdout)))
    assert row["flags"] == "not-on-declared-target"

    # tools/run keeps the tool's own exit status, for a scheduler; from any directory.
    kept = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "tools/run"), "status", "--number", world.phone_number, "--format", "csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert kept.returncode == status.EXIT_FLAGGED, kept.stderr
    assert kept.stdout == done.stdout


def test_the_answer_markers_of_continued_requests_are_not_numbers_records(estate, ddb):
    # A request continued in a later invocation leaves its answer marker in the same table (continuation.py).
    from phone_number_assignment import records

    key = records.request_key("aws", REGION, ACCOUNT, "arn:stack", "MainLine", "request-1")
    ddb.put_item(
        TableName=TABLE,
        Item={"PhoneNumberArn": {"S": key}, "AnsweredAt": {"N": "1"}, "AnswerStatus": {"S": "SUCCESS"}},
    )

    report = status_json()[0]

    assert key not in by_arn(report)
    assert records.is_request_key(key)


def test_a_native_holder_beyond_the_first_100_resources_of_its_stack_is_found(estate, env):
    # DescribeStackResources answers with a stack's first 100 resources only; the native number is the 101st.
    big = stack_arn("big", region=REGION, account_id=ACCOUNT)
    for i in range(100):
        env.control.play_stack(
            big,
            stack_status="CREATE_COMPLETE",
            logical_id=f"Topic{i}",
            resource_status="CREATE_COMPLETE",
            physical_id=f"arn:aws:sns:{REGION}:{ACCOUNT}:topic-{i}",
            resource_type="AWS::SNS::Topic",
        )
    env.control.play_stack(
        big,
        logical_id="Native",
        resource_status="CREATE_COMPLETE",
        physical_id=estate.number("on_b"),
        resource_type="AWS::Connect::PhoneNumber",
    )

    native = by_arn(status_json()[0])[estate.number("on_b")]["nativeStack"]

    assert native["stackName"] == "big"
    assert native["logicalResourceId"] == "Native"
    assert native["cloudFormation"]["holds"] is True
