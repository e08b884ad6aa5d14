"""The operator's samples deploy and do what docs/operations.md says, on the Connect emulator that
`make emulator` serves, through the real handler and the local CloudFormation stand-in.

samples/migration.yaml (blue/green in waves, one parameter) and samples/failover.yaml (Primary/Standby, one
parameter) use Fn::ForEach, Mappings and Conditions, which the stand-in does not process: ``render`` does
what CloudFormation does with them for one set of parameter values (the AWS::LanguageExtensions transform,
then the template's intrinsic functions), and ``apply`` sends the requests a stack update would: a Create for
a new logical ID, an Update for one whose properties changed, nothing for the rest. The samples are deployed
as committed: the emulator is seeded with the very IDs they name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from local_aws import template_render
from tests.conftest import ACCOUNT, REGION, describe

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict[str, Any]:
    return cfn_yaml.load(str(ROOT / "samples" / name))


def render(template: Mapping[str, Any], **values: str) -> dict[str, dict[str, Any]]:
    """Each resource's properties as the provider receives them, in the suite's account and Region."""
    return template_render.render(template, region=REGION, account=ACCOUNT, **values)


def apply(stack, rendered: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One stack operation: Create for new resources, Update for changed ones (CloudFormation sends no
    request for a resource whose properties did not change), and the responses by logical ID."""
    responses = {}
    for logical_id, properties in rendered.items():
        if logical_id not in stack.resources:
            responses[logical_id] = stack.create(logical_id, properties)
        elif stack.resources[logical_id].properties != properties:
            responses[logical_id] = stack.update(logical_id, properties)
    return responses


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


def flows_of(connect, instance_arn: str) -> dict[str, str]:
    """Phone-number ARN -> flow ARN, for every number routed in the instance."""
    listed = connect.list_flow_associations(
        InstanceId=instance_arn.rsplit("/", 1)[-1], ResourceType="VOICE_PHONE_NUMBER"
    )["FlowAssociationSummaryList"]
    return {association["ResourceId"]: association["FlowId"] for association in listed}


def instance_id(instance_arn: str) -> str:
    return instance_arn.rsplit("/", 1)[-1]


def flow_seed(flow_arn: str, name: str) -> dict[str, str]:
    instance, flow = re.fullmatch(r".*:instance/([^/]+)/contact-flow/([^/]+)", flow_arn).groups()
    return {"id": flow, "instance_id": instance, "name": name}


# --- Blue/green migration in waves -------------------------------------------------------------------------

MIGRATION = load("migration.yaml")
BLUE = arn("instance/b72cc408-c2b8-4c97-9498-f81593b24a18")
GREEN = arn("instance/3f7b6bf4-87bc-414d-a703-9db536d7bc66")


def waves() -> dict[str, dict[str, dict[str, str]]]:
    return {name: rows for name, rows in MIGRATION["Mappings"].items() if name.startswith("Wave")}


@pytest.fixture
def blue_estate(aws_env):
    """The sample's numbers on Blue, each routed to its route's Blue flow; both sides' flows published."""
    flows = MIGRATION["Mappings"]["Flows"]
    assert {flows[route]["Blue"].split("/contact-flow/")[0] for route in flows} == {BLUE}
    assert {flows[route]["Green"].split("/contact-flow/")[0] for route in flows} == {GREEN}
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [
                {"id": instance_id(BLUE), "alias": "blue"},
                {"id": instance_id(GREEN), "alias": "green"},
            ],
            "contact_flows": [
                flow_seed(flows[route][side], f"{route} {side}")
                for route in flows
                for side in ("Blue", "Green")
            ],
            "phone_numbers": [
                {
                    "id": row["PhoneNumberId"],
                    "phone_number": f"+{digits}",
                    "target": instance_id(BLUE),
                    "contact_flow_id": flows[row["Route"]]["Blue"].rsplit("/", 1)[-1],
                }
                for rows in waves().values()
                for digits, row in rows.items()
            ],
        }
    )
    return aws_env


def migrated(migrated_waves: str) -> dict[str, dict[str, Any]]:
    return render(MIGRATION, BlueInstanceArn=BLUE, GreenInstanceArn=GREEN, MigratedWaves=migrated_waves)


def assert_sides(connect, expected: dict[str, str]) -> None:
    """Every number of each wave on the side named, routed to its route's flow there."""
    flows = MIGRATION["Mappings"]["Flows"]
    routed = {**flows_of(connect, BLUE), **flows_of(connect, GREEN)}
    for wave, side in expected.items():
        for row in waves()[wave].values():
            number = arn(f"phone-number/{row['PhoneNumberId']}")
            summary = describe(connect, number)
            assert (summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]) == (
                GREEN if side == "Green" else BLUE,
                "CLAIMED",
            ), (wave, row)
            assert routed.get(number) == flows[row["Route"]][side], (wave, row)


def test_the_migration_sample_adopts_then_moves_one_wave_per_update_and_sends_a_wave_back(
    blue_estate, stack, connect
):
    # MigratedWaves=0: the stack takes every number where it is; nothing moves.
    assert all(response.ok for response in apply(stack, migrated("0")).values())
    assert blue_estate.control.moves() == []
    assert len(stack.resources) == sum(len(rows) for rows in waves().values())
    assert_sides(connect, {"Wave1": "Blue", "Wave2": "Blue"})

    stack.set_status("UPDATE_IN_PROGRESS")
    updated = apply(stack, migrated("1"))
    # Only wave 1's resources get an Update: CloudFormation sends none for the unchanged ones.
    assert set(updated) == {f"Number{digits}" for digits in waves()["Wave1"]}
    assert all(response.ok for response in updated.values()), [r.reason for r in updated.values()]
    assert_sides(connect, {"Wave1": "Green", "Wave2": "Blue"})

    assert all(response.ok for response in apply(stack, migrated("2")).values())
    assert_sides(connect, {"Wave1": "Green", "Wave2": "Green"})

    # Lowering the parameter sends the last wave back, to its Blue flows.
    back = apply(stack, migrated("1"))
    assert set(back) == {f"Number{digits}" for digits in waves()["Wave2"]}
    assert all(response.ok for response in back.values())
    assert_sides(connect, {"Wave1": "Green", "Wave2": "Blue"})


# --- Same-Region failover --------------------------------------------------------------------------------

FAILOVER = load("failover.yaml")
PRIMARY = arn("instance/c0eb1aa0-5101-4991-bb44-962299cb3844")
STANDBY = arn("instance/bb038408-ea8d-4629-a5d9-b7d0baf8aad4")
PRIMARY_FLOW = f"{PRIMARY}/contact-flow/76c6c0e9-3af6-4790-b645-3c6d167c41ad"
STANDBY_FLOW = f"{STANDBY}/contact-flow/efd87996-2468-42e4-bbfb-bebdb10b3131"
LINES = FAILOVER["Resources"]["Fn::ForEach::Lines"][1]


@pytest.fixture
def two_sides(aws_env):
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [
                {"id": instance_id(PRIMARY), "alias": "primary"},
                {"id": instance_id(STANDBY), "alias": "standby"},
            ],
            "contact_flows": [
                flow_seed(PRIMARY_FLOW, "Primary main"),
                flow_seed(STANDBY_FLOW, "Standby main"),
            ],
            "phone_numbers": [
                {"id": number, "phone_number": f"+1555555013{i}", "target": instance_id(PRIMARY)}
                for i, number in enumerate(LINES)
            ],
        }
    )
    return aws_env


def active(side: str) -> dict[str, dict[str, Any]]:
    return render(
        FAILOVER,
        ActiveSide=side,
        PrimaryInstanceArn=PRIMARY,
        PrimaryFlowArn=PRIMARY_FLOW,
        StandbyInstanceArn=STANDBY,
        StandbyFlowArn=STANDBY_FLOW,
    )


def assert_all_on(connect, instance: str, flow: str) -> None:
    routed = flows_of(connect, instance)
    for number_id in LINES:
        number = arn(f"phone-number/{number_id}")
        summary = describe(connect, number)
        assert (summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]) == (instance, "CLAIMED")
        assert routed.get(number) == flow


def test_the_failover_sample_flips_every_number_and_its_flow_with_one_parameter_and_back(
    two_sides, stack, connect
):
    assert all(response.ok for response in apply(stack, active("Primary")).values())
    assert_all_on(connect, PRIMARY, PRIMARY_FLOW)

    stack.set_status("UPDATE_IN_PROGRESS")
    flipped = apply(stack, active("Standby"))
    assert len(flipped) == len(LINES)
    assert all(response.ok for response in flipped.values()), [r.reason for r in flipped.values()]
    assert_all_on(connect, STANDBY, STANDBY_FLOW)

    assert all(response.ok for response in apply(stack, active("Primary")).values())
    assert_all_on(connect, PRIMARY, PRIMARY_FLOW)


def test_a_failover_that_stops_half_way_finishes_when_the_same_update_is_run_again(two_sides, stack, connect):
    """docs/operations.md: with --disable-rollback a failed resource stays UPDATE_FAILED (its number where it
    was) and the others stay on Standby; running the same update again sends an Update to the failed ones
    only, which moves them too."""
    assert all(response.ok for response in apply(stack, active("Primary")).values())

    stack.set_status("UPDATE_IN_PROGRESS")
    two_sides.control.fail_next_move("The number could not be moved")
    first = apply(stack, active("Standby"))
    failed = [logical_id for logical_id, response in first.items() if not response.ok]
    assert len(failed) == 1
    assert "could not be moved" in first[failed[0]].reason
    stack.set_status("UPDATE_FAILED")  # --disable-rollback: no rollback, the stack waits for the operator

    stack.set_status("UPDATE_IN_PROGRESS")
    again = apply(stack, active("Standby"))
    assert set(again) == set(failed)
    assert all(response.ok for response in again.values()), [r.reason for r in again.values()]
    assert_all_on(connect, STANDBY, STANDBY_FLOW)


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "samples").glob("*.yaml")))
def test_the_emulator_stacks_template_reader_reads_every_sample_as_cfn_lint_does(name):
    # make emulator-stack reads templates with PyYAML (local_aws.template_render.load), cfn-lint with its own.
    assert template_render.load(ROOT / "samples" / name) == load(name)
