"""Where the emulator follows Connect's real limits: quotas, tag rules, tag-visibility lag, traffic
distribution group states, FAILED persisting, and the assumptions docs/reliability.md lists for what AWS
does not document.

Each test runs in-process and against the server (see conftest). Clients skip botocore's own parameter
validation where a test sends what only the service may refuse.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from connect_emulator_helpers import ACCOUNT_ID, error_of, summary, wait_for, wait_until_settled

from local_aws.connect.runtime import DEFAULT_QUOTAS

INSTANCE_A = "2b1c9a4e-7d3f-4c8a-9e21-5f6b8d0a3c17"
INSTANCE_B = "8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846"
TDG = "5a7c3e91-2d4b-4e6f-8a1c-9b3d7f0e2a64"
FLOW_A = "c3d9e7f1-4a2b-4c8d-b6e5-1f0a9d2c7b38"
FLOW_B = "d4e0f8a2-5b3c-4d9e-a7f6-2a1b0e3d8c49"
NUMBER = "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"
TDG_NUMBER = "0f3e8b1a-6c2d-4a9e-8b7f-3d1c5e9a2b40"
SYSTEM_TAGS = {
    "aws:cloudformation:stack-name": "native",
    "aws:cloudformation:stack-id": f"arn:aws:cloudformation:us-east-1:{ACCOUNT_ID}:stack/native/0b1c",
    "aws:cloudformation:logical-id": "MainLine",
}
PHONE_NUMBER_OPERATIONS = {
    "ClaimPhoneNumber",
    "ReleasePhoneNumber",
    "UpdatePhoneNumber",
    "UpdatePhoneNumberMetadata",
    "DescribePhoneNumber",
    "ListPhoneNumbersV2",
    "SearchAvailablePhoneNumbers",
    "AssociatePhoneNumberContactFlow",
    "DisassociatePhoneNumberContactFlow",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "DescribeTrafficDistributionGroup",
}
NOT_ACTIVE = [
    "CREATION_IN_PROGRESS",
    "CREATION_FAILED",
    "PENDING_DELETION",
    "DELETION_FAILED",
    "UPDATE_IN_PROGRESS",
]


def arn(resource: str) -> str:
    return f"arn:aws:connect:us-east-1:{ACCOUNT_ID}:{resource}"


NUMBER_ARN = arn(f"phone-number/{NUMBER}")
TDG_ARN = arn(f"traffic-distribution-group/{TDG}")


def world(tdg_status: str = "ACTIVE", number_tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "account_id": ACCOUNT_ID,
        "region": "us-east-1",
        "instances": [{"id": INSTANCE_A}, {"id": INSTANCE_B}],
        "traffic_distribution_groups": [
            {"id": TDG, "name": "global", "instance_id": INSTANCE_A, "status": tdg_status}
        ],
        "contact_flows": [
            {"id": FLOW_A, "instance_id": INSTANCE_A, "name": "Main menu"},
            {"id": FLOW_B, "instance_id": INSTANCE_B, "name": "Other menu"},
        ],
        "phone_numbers": [
            {
                "id": NUMBER,
                "phone_number": "+15555550100",
                "target": INSTANCE_A,
                "tags": number_tags or {},
                "contact_flow_id": FLOW_A,
            },
            {"id": TDG_NUMBER, "phone_number": "+18005550199", "target": TDG},
        ],
    }


def unvalidated(connect_emulator: Any) -> Any:
    """A client that sends what botocore would refuse client-side, so the service's own rules answer."""
    return connect_emulator.client(parameter_validation=False)


def tags_of(client: Any, resource_arn: str = NUMBER_ARN) -> dict[str, str]:
    return client.list_tags_for_resource(resourceArn=resource_arn)["tags"]


def outcome(call: Any) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


# ---- quotas ---------------------------------------------------------------------------------------------


QUOTA_PROBES = {
    "TagResource": lambda c: c.tag_resource(resourceArn=NUMBER_ARN, tags={"k": "v"}),
    "UntagResource": lambda c: c.untag_resource(resourceArn=NUMBER_ARN, tagKeys=["k"]),
    "AssociatePhoneNumberContactFlow": lambda c: c.associate_phone_number_contact_flow(
        PhoneNumberId=NUMBER, InstanceId=INSTANCE_A, ContactFlowId=FLOW_A
    ),
    "DisassociatePhoneNumberContactFlow": lambda c: c.disassociate_phone_number_contact_flow(
        PhoneNumberId=NUMBER, InstanceId=INSTANCE_A
    ),
    "ListPhoneNumbersV2": lambda c: c.list_phone_numbers_v2(),
}


def test_default_quotas_throttle_each_operation_beyond_its_own_burst(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    assert set(DEFAULT_QUOTAS) >= PHONE_NUMBER_OPERATIONS
    assert set(DEFAULT_QUOTAS.values()) == {(2.0, 5)}
    assert connect_emulator.control.rate_limits() == {}
    connect_emulator.control.seed(world())
    connect_emulator.control.use_default_quotas()
    assert connect_emulator.control.rate_limits() == {op: [2.0, 5] for op in DEFAULT_QUOTAS}
    outcomes = {}
    for operation, probe in QUOTA_PROBES.items():
        # 12 quick calls: the bucket holds 5 and refills 2 a second, so some must be throttled.
        outcomes[operation] = [outcome(lambda probe=probe: probe(emulated_connect)) for _ in range(12)]
    for operation, seen in outcomes.items():
        assert seen[:5] == ["ok"] * 5, operation
        assert "ThrottlingException" in seen, operation
        logged = [c["error"] or "ok" for c in connect_emulator.control.calls() if c["operation"] == operation]
        assert logged == seen
    connect_emulator.control.reset()
    assert connect_emulator.control.rate_limits() == {}


def test_a_throttled_tag_write_changes_nothing(connect_emulator: Any, emulated_connect: Any) -> None:
    connect_emulator.control.seed(world())
    connect_emulator.control.set_rate_limit("TagResource", per_second=0.001, burst=1)
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "first"})
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "second"})
    assert error_of(excinfo) == ("ThrottlingException", 429)
    assert tags_of(emulated_connect) == {"owner": "first"}


# ---- tag rules ------------------------------------------------------------------------------------------


REFUSED_TAGS = {
    "empty key": {"": "v"},
    "key of 129": {"k" * 129: "v"},
    "value of 257": {"k": "v" * 257},
    "aws: prefix": {"aws:cloudformation:stack-name": "mine"},
    "AWS: prefix": {"AWS:Owner": "mine"},
    "#": {"bad#key": "v"},
    "*": {"bad*key": "v"},
    "51 in one request": {f"k{i}": "v" for i in range(50)},  # with the valid one below
}


def test_tag_resource_refuses_what_connect_refuses_and_changes_nothing(connect_emulator: Any) -> None:
    connect_emulator.control.seed(world(number_tags={"keep": "me", **SYSTEM_TAGS}))
    client = unvalidated(connect_emulator)
    answers = {}
    for case, tags in REFUSED_TAGS.items():
        with pytest.raises(ClientError) as excinfo:
            # The valid tag beside the bad one is not written either.
            client.tag_resource(resourceArn=NUMBER_ARN, tags={"fine": "tag", **tags})
        answers[case] = error_of(excinfo)
    with pytest.raises(ClientError) as excinfo:
        client.tag_resource(resourceArn=NUMBER_ARN, tags={})
    answers["no tags"] = error_of(excinfo)
    assert answers == dict.fromkeys([*REFUSED_TAGS, "no tags"], ("InvalidParameterException", 400))
    assert tags_of(client) == {"keep": "me", **SYSTEM_TAGS}


def test_tag_keys_and_values_at_the_limits_are_accepted(connect_emulator: Any, emulated_connect: Any) -> None:
    connect_emulator.control.seed(world())
    accepted = {
        "k" * 128: "v" * 256,
        "empty-value": "",
        "Kostenstelle é 1 _.:/=+-@": "any value: *#!",
        "awsome": "not the reserved prefix",
    }
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags=accepted)
    assert tags_of(emulated_connect) == accepted
    assert summary(emulated_connect, NUMBER)["Tags"] == accepted


def test_untag_refuses_reserved_and_malformed_keys_and_changes_nothing(connect_emulator: Any) -> None:
    connect_emulator.control.seed(world(number_tags={"keep": "me", **SYSTEM_TAGS}))
    client = unvalidated(connect_emulator)
    refused = ["aws:cloudformation:stack-name", "Aws:cloudformation:logical-id", "", "k" * 129]
    for key in refused:
        with pytest.raises(ClientError) as excinfo:
            client.untag_resource(resourceArn=NUMBER_ARN, tagKeys=["keep", key])
        assert error_of(excinfo) == ("InvalidParameterException", 400), key
    assert tags_of(client) == {"keep": "me", **SYSTEM_TAGS}


def test_fifty_user_tags_per_resource_and_system_tags_do_not_count(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    existing = {f"user{i}": "v" for i in range(48)}
    connect_emulator.control.seed(world(number_tags={**existing, **SYSTEM_TAGS}))
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"user48": "v", "user49": "v"})
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"user0": "overwritten, not added"})
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"user50": "v"})
    assert error_of(excinfo) == ("InvalidParameterException", 400)
    assert "at most 50" in excinfo.value.response["Error"]["Message"]
    tags = tags_of(emulated_connect)
    assert len(tags) == 53
    assert "user50" not in tags
    assert tags["user0"] == "overwritten, not added"

    emulated_connect.untag_resource(resourceArn=NUMBER_ARN, tagKeys=["user1", "never-there"])
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"user50": "v"})
    assert len(tags_of(emulated_connect)) == 53


def test_tag_rules_apply_to_flows_groups_and_claims(connect_emulator: Any) -> None:
    connect_emulator.control.seed(world())
    client = unvalidated(connect_emulator)
    for resource in (arn(f"instance/{INSTANCE_A}/contact-flow/{FLOW_A}"), TDG_ARN):
        with pytest.raises(ClientError) as excinfo:
            client.tag_resource(resourceArn=resource, tags={"aws:mine": "v"})
        assert error_of(excinfo) == ("InvalidParameterException", 400)
        client.tag_resource(resourceArn=resource, tags={f"k{i}": "v" for i in range(50)})
        with pytest.raises(ClientError) as excinfo:
            client.tag_resource(resourceArn=resource, tags={"one-more": "v"})
        assert error_of(excinfo) == ("InvalidParameterException", 400)
        assert len(tags_of(client, resource)) == 50
    with pytest.raises(ClientError) as excinfo:
        client.claim_phone_number(
            TargetArn=arn(f"instance/{INSTANCE_A}"), PhoneNumber="+12065550111", Tags={"aws:x": "y"}
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)
    assert connect_emulator.control.moves() == []


def test_seed_may_give_numbers_cloudformation_system_tags(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world(number_tags=SYSTEM_TAGS))
    assert summary(emulated_connect, NUMBER)["Tags"] == SYSTEM_TAGS
    # Users can add their own tags beside them, not touch them.
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"team": "support"})
    assert tags_of(emulated_connect) == {**SYSTEM_TAGS, "team": "support"}


# ---- tag-visibility lag ---------------------------------------------------------------------------------


def test_tag_writes_become_visible_after_the_configured_lag(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world(number_tags={"old": "tag"}))
    connect_emulator.control.configure(tag_visibility_seconds=1.2)
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "stack-a"})
    emulated_connect.untag_resource(resourceArn=NUMBER_ARN, tagKeys=["old"])
    # The writer itself does not see its writes yet, through either reader.
    assert summary(emulated_connect, NUMBER)["Tags"] == {"old": "tag"}
    assert tags_of(emulated_connect) == {"old": "tag"}
    wait_for(lambda: summary(emulated_connect, NUMBER)["Tags"] == {"owner": "stack-a"})
    assert tags_of(emulated_connect) == {"owner": "stack-a"}


def test_tag_writes_show_in_acceptance_order_even_when_the_lag_shrinks(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world())
    connect_emulator.control.configure(tag_visibility_seconds=1.2)
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "first"})
    connect_emulator.control.configure(tag_visibility_seconds=0)
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "second"})
    # The second write may not overtake the first: neither shows yet.
    assert tags_of(emulated_connect) == {}
    seen = []

    def second_shows() -> bool:
        owner = tags_of(emulated_connect).get("owner")
        seen.append(owner)
        return owner == "second"

    wait_for(second_shows)
    # "first" may show for a moment; it never shows after "second".
    assert seen == sorted(seen, key=lambda owner: [None, "first", "second"].index(owner))


def test_limits_count_unseen_writes_and_reset_restores_instant_visibility(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world())
    connect_emulator.control.configure(tag_visibility_seconds=30)
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={f"k{i}": "v" for i in range(50)})
    assert tags_of(emulated_connect) == {}
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"one-more": "v"})
    assert error_of(excinfo) == ("InvalidParameterException", 400)

    with pytest.raises(ValueError, match="tag_visibility_seconds"):
        connect_emulator.control.configure(tag_visibility_seconds=-1)
    # reset() restores instant visibility for later writes. (Writes already accepted keep their place in
    # line, so this checks a resource that has none pending.)
    connect_emulator.control.reset()
    emulated_connect.tag_resource(resourceArn=TDG_ARN, tags={"owner": "now"})
    assert tags_of(emulated_connect, TDG_ARN) == {"owner": "now"}


# ---- traffic distribution group states ------------------------------------------------------------------


def test_moves_and_claims_to_a_group_that_is_not_active_are_not_found_and_change_nothing(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world(tdg_status=NOT_ACTIVE[0]))
    for status in NOT_ACTIVE:
        connect_emulator.control.set_traffic_distribution_group_status(TDG, status)
        group = emulated_connect.describe_traffic_distribution_group(TrafficDistributionGroupId=TDG)
        assert group["TrafficDistributionGroup"]["Status"] == status
        with pytest.raises(ClientError) as excinfo:
            emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn=TDG_ARN)
        assert error_of(excinfo) == ("ResourceNotFoundException", 404), status
        with pytest.raises(ClientError) as excinfo:
            emulated_connect.claim_phone_number(TargetArn=TDG_ARN, PhoneNumber="+12065550123")
        assert error_of(excinfo) == ("ResourceNotFoundException", 404), status
    described = summary(emulated_connect, NUMBER)
    assert (described["TargetArn"], described["PhoneNumberStatus"]) == (
        arn(f"instance/{INSTANCE_A}"),
        {"Status": "CLAIMED"},
    )
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"]
    assert [f["ResourceId"] for f in flows] == [NUMBER_ARN]
    assert connect_emulator.control.moves() == []
    # Numbers already on the group are still listed under it.
    listed = emulated_connect.list_phone_numbers_v2(TargetArn=TDG_ARN)["ListPhoneNumbersSummaryList"]
    assert [n["PhoneNumberId"] for n in listed] == [TDG_NUMBER]


def test_set_traffic_distribution_group_status_by_id_or_arn(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world(tdg_status="CREATION_IN_PROGRESS"))

    def status() -> str:
        described = emulated_connect.describe_traffic_distribution_group(TrafficDistributionGroupId=TDG_ARN)
        return str(described["TrafficDistributionGroup"]["Status"])

    # A seeded status holds: moto's state manager would advance CREATION_IN_PROGRESS to ACTIVE.
    assert [status(), status()] == ["CREATION_IN_PROGRESS"] * 2
    connect_emulator.control.set_traffic_distribution_group_status(TDG_ARN, "UPDATE_IN_PROGRESS")
    assert status() == "UPDATE_IN_PROGRESS"
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn=TDG_ARN)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    connect_emulator.control.set_traffic_distribution_group_status(TDG, "ACTIVE", region="us-east-1")
    assert status() == "ACTIVE"
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn=TDG_ARN)
    assert wait_until_settled(emulated_connect, NUMBER, TDG_ARN)["PhoneNumberStatus"] == {"Status": "CLAIMED"}


def test_set_traffic_distribution_group_status_rejects_unknown_states_and_groups(
    connect_emulator: Any,
) -> None:
    connect_emulator.control.seed(world())
    with pytest.raises(ValueError, match="TrafficDistributionGroupStatus"):
        connect_emulator.control.set_traffic_distribution_group_status(TDG, "BROKEN")
    with pytest.raises(ValueError, match="not found"):
        connect_emulator.control.set_traffic_distribution_group_status(
            "00000000-0000-0000-0000-000000000000", "ACTIVE"
        )


# ---- status semantics and assumptions -------------------------------------------------------------------


def test_failed_persists_on_the_current_target_and_the_failed_move_dropped_the_flow(
    connect_emulator: Any, emulated_connect: Any, clock: Any
) -> None:
    connect_emulator.control.seed(world())
    connect_emulator.control.fail_next_move("The phone number could not be moved")
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
    failed = {"Status": "FAILED", "Message": "The phone number could not be moved"}
    assert wait_until_settled(emulated_connect, NUMBER)["PhoneNumberStatus"] == failed
    # Reads, tag writes and time do not clear it: only the next operation on the number does.
    emulated_connect.tag_resource(resourceArn=NUMBER_ARN, tags={"owner": "x"})
    clock.sleep(0.2)
    for _ in range(3):
        described = summary(emulated_connect, NUMBER)
        assert (described["TargetArn"], described["PhoneNumberStatus"]) == (
            arn(f"instance/{INSTANCE_A}"),
            failed,
        )
    listed = emulated_connect.list_phone_numbers_v2(TargetArn=arn(f"instance/{INSTANCE_A}"))
    assert NUMBER in [n["PhoneNumberId"] for n in listed["ListPhoneNumbersSummaryList"]]
    # Assumption (docs/reliability.md): the flow association went when the move was accepted, failed or not.
    assert emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"] == []


def test_a_move_to_the_current_target_is_an_ordinary_move(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    """Assumption (docs/reliability.md): Connect accepts it, IN_PROGRESS then CLAIMED, and drops the flow."""
    connect_emulator.control.seed(world())
    connect_emulator.control.fail_next_move("could not be moved")
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
    wait_until_settled(emulated_connect, NUMBER)
    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=NUMBER, InstanceId=INSTANCE_A, ContactFlowId=FLOW_A
    )
    # A long enough IN_PROGRESS for a loaded machine's polls to land in it.
    connect_emulator.control.configure(move_seconds=1.8, stale_seconds=0.8)

    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_A)
    # The stale window shows the previous outcome, FAILED, before the move shows IN_PROGRESS.
    assert summary(emulated_connect, NUMBER)["PhoneNumberStatus"]["Status"] == "FAILED"
    wait_for(lambda: summary(emulated_connect, NUMBER)["PhoneNumberStatus"] == {"Status": "IN_PROGRESS"})
    assert wait_until_settled(emulated_connect, NUMBER)["PhoneNumberStatus"] == {"Status": "CLAIMED"}
    assert summary(emulated_connect, NUMBER)["TargetArn"] == arn(f"instance/{INSTANCE_A}")
    moves = connect_emulator.control.moves()
    assert (moves[-1]["from_target"], moves[-1]["to_target"], moves[-1]["outcome"]) == (
        arn(f"instance/{INSTANCE_A}"),
        arn(f"instance/{INSTANCE_A}"),
        "CLAIMED",
    )
    assert emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"] == []


def test_a_refused_move_keeps_the_flow_association(connect_emulator: Any, emulated_connect: Any) -> None:
    connect_emulator.control.seed(world(tdg_status="UPDATE_IN_PROGRESS"))
    connect_emulator.control.inject_error("UpdatePhoneNumber", "AccessDeniedException")
    for target in ({"InstanceId": INSTANCE_B}, {"TargetArn": TDG_ARN}):
        with pytest.raises(ClientError):
            emulated_connect.update_phone_number(PhoneNumberId=NUMBER, **target)
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"]
    assert [(f["ResourceId"], f["FlowId"]) for f in flows] == [
        (NUMBER_ARN, arn(f"instance/{INSTANCE_A}/contact-flow/{FLOW_A}"))
    ]


def test_a_client_token_is_not_remembered_when_its_request_failed(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    """Assumption (docs/reliability.md): only accepted requests are remembered for idempotency."""
    connect_emulator.control.seed(world(tdg_status="UPDATE_IN_PROGRESS"))
    token = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn=TDG_ARN, ClientToken=token)
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    connect_emulator.control.inject_error("UpdatePhoneNumber", "ThrottlingException")
    with pytest.raises(ClientError):
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn=TDG_ARN, ClientToken=token)

    # Same token, other parameters: a new request, not an IdempotencyException.
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B, ClientToken=token)
    wait_until_settled(emulated_connect, NUMBER, arn(f"instance/{INSTANCE_B}"))
    # Once accepted it is remembered: a different request under it now is refused.
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_A, ClientToken=token)
    assert error_of(excinfo) == ("IdempotencyException", 409)
    assert len(connect_emulator.control.moves()) == 1


def test_a_number_on_a_group_takes_a_flow_of_the_groups_home_instance(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(world())
    tdg_number_arn = arn(f"phone-number/{TDG_NUMBER}")
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.associate_phone_number_contact_flow(
            PhoneNumberId=tdg_number_arn, InstanceId=INSTANCE_B, ContactFlowId=FLOW_B
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)
    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=tdg_number_arn, InstanceId=INSTANCE_A, ContactFlowId=FLOW_A
    )
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A, ResourceType="VOICE_PHONE_NUMBER")
    assert (tdg_number_arn, arn(f"instance/{INSTANCE_A}/contact-flow/{FLOW_A}")) in [
        (f["ResourceId"], f["FlowId"]) for f in flows["FlowAssociationSummaryList"]
    ]
    emulated_connect.disassociate_phone_number_contact_flow(PhoneNumberId=TDG_NUMBER, InstanceId=INSTANCE_A)
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"]
    assert tdg_number_arn not in [f["ResourceId"] for f in flows]


@pytest.mark.parametrize(
    "flow",
    [
        {"type": "CUSTOMER_QUEUE"},
        {"type": "AGENT_WHISPER"},
        {"status": "SAVED"},
        {"state": "ARCHIVED"},
    ],
)
def test_only_a_published_active_inbound_flow_takes_a_number(
    flow: dict[str, str], connect_emulator: Any, emulated_connect: Any
) -> None:
    seeded = world()
    unusable = "a1b2c3d4-0000-4000-8000-000000000001"
    seeded["contact_flows"].append({"id": unusable, "instance_id": INSTANCE_A, "name": "not inbound", **flow})
    connect_emulator.control.seed(seeded)

    described = emulated_connect.describe_contact_flow(InstanceId=INSTANCE_A, ContactFlowId=unusable)
    assert {key: described["ContactFlow"][key] for key in ("Type", "Status", "State")} == {
        "Type": "CONTACT_FLOW",
        "Status": "PUBLISHED",
        "State": "ACTIVE",
    } | {key.capitalize(): value for key, value in flow.items()}
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.associate_phone_number_contact_flow(
            PhoneNumberId=NUMBER, InstanceId=INSTANCE_A, ContactFlowId=unusable
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)
    # The association it had stays.
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"]
    assert (NUMBER_ARN, arn(f"instance/{INSTANCE_A}/contact-flow/{FLOW_A}")) in [
        (f["ResourceId"], f["FlowId"]) for f in flows
    ]
