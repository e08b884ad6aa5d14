"""Property parsing: every invalid declaration fails with a Reason naming the property and what is allowed."""

import pytest

from phone_number_assignment.errors import InvalidProperties
from phone_number_assignment.properties import OnDelete, Scope, parse_properties, phone_number_arn_of

SCOPE = Scope("aws", "us-east-1", "123456789012")
NUMBER_ID = "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"
NUMBER_ARN = f"arn:aws:connect:us-east-1:123456789012:phone-number/{NUMBER_ID}"
INSTANCE_ID = "8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846"
INSTANCE_ARN = f"arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE_ID}"
TDG_ARN = (
    "arn:aws:connect:us-east-1:123456789012:traffic-distribution-group/5a7c3e91-2d4b-4e6f-8a1c-9b3d7f0e2a64"
)
FLOW_ARN = f"{INSTANCE_ARN}/contact-flow/c3d9e7f1-4a2b-4c8d-b6e5-1f0a9d2c7b38"


def props(**overrides):
    base = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:p", "PhoneNumberId": NUMBER_ID}
    base["TargetArn"] = INSTANCE_ARN
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def reason_of(properties):
    with pytest.raises(InvalidProperties) as raised:
        parse_properties(properties, SCOPE)
    return raised.value.reason


def test_id_and_arn_of_the_same_number_normalise_to_the_same_arn():
    by_id = parse_properties(props(), SCOPE)
    by_arn = parse_properties(props(PhoneNumberId=NUMBER_ARN), SCOPE)
    by_upper_id = parse_properties(props(PhoneNumberId=NUMBER_ID.upper()), SCOPE)
    assert by_id.phone_number_arn == by_arn.phone_number_arn == by_upper_id.phone_number_arn == NUMBER_ARN
    assert by_id.phone_number_id == NUMBER_ID


def test_defaults_and_target_kinds():
    parsed = parse_properties(props(), SCOPE)
    assert parsed.on_delete is OnDelete.RETAIN
    assert parsed.target.kind == "instance"
    assert parsed.target.id == INSTANCE_ID
    assert parse_properties(props(TargetArn=TDG_ARN), SCOPE).target.kind == "traffic-distribution-group"
    assert parse_properties(props(OnDelete="Restore"), SCOPE).on_delete is OnDelete.RESTORE


def test_target_arn_is_normalised_to_lower_case_ids_as_connect_reports_them():
    parsed = parse_properties(props(TargetArn=INSTANCE_ARN.replace(INSTANCE_ID, INSTANCE_ID.upper())), SCOPE)
    assert parsed.target.arn == INSTANCE_ARN


def test_misspelt_property_is_named_with_a_suggestion():
    reason = reason_of(props(TargetArn=None, TargetARN=INSTANCE_ARN))
    assert "'TargetARN'" in reason
    assert "Did you mean TargetArn?" in reason


def test_the_allowed_list_names_service_timeout_and_a_misspelt_one_is_suggested():
    reason = reason_of(props(Priority="high"))
    assert reason.endswith(
        "Allowed properties: PhoneNumberId, TargetArn, OnDelete, ContactFlowArn, ServiceTimeout."
    )
    assert "Did you mean ServiceTimeout?" in reason_of(props(ServiceTimout="960"))


def test_an_unknown_property_fails_through_the_handler_listing_service_timeout(stack, world, connect):
    before = connect.describe_phone_number(PhoneNumberId=world.number_id)["ClaimedPhoneNumberSummary"]
    properties = {"PhoneNumberId": world.number_id, "TargetArn": world.instance_b_arn, "Priority": "high"}

    response = stack.create("MainLine", {**properties, "ServiceTimeout": "960"})

    assert not response.ok
    assert "Allowed properties: PhoneNumberId, TargetArn, OnDelete, ContactFlowArn, ServiceTimeout." in (
        response.reason
    )
    after = connect.describe_phone_number(PhoneNumberId=world.number_id)["ClaimedPhoneNumberSummary"]
    assert after["TargetArn"] == before["TargetArn"]


@pytest.mark.parametrize("missing", ["PhoneNumberId", "TargetArn"])
def test_required_properties(missing):
    reason = reason_of(props(**{missing: None}))
    assert f"Property {missing} is required" in reason


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PhoneNumberId", "12345", "PhoneNumberId must be"),
        ("PhoneNumberId", "+15555550100", "PhoneNumberId must be"),
        ("PhoneNumberId", INSTANCE_ARN, "must name a phone number"),
        ("PhoneNumberId", NUMBER_ARN.replace("us-east-1", "eu-west-2"), "partition and Region"),
        ("TargetArn", "arn:aws:s3:::bucket", "not an Amazon Connect ARN"),
        ("TargetArn", "not-an-arn", "TargetArn must be"),
        ("TargetArn", INSTANCE_ARN.replace("arn:aws:", "arn:aws-cn:"), "partition and Region"),
        ("TargetArn", INSTANCE_ARN + "/queue/x", "names neither"),
        ("OnDelete", "Delete", "OnDelete must be Retain or Restore"),
        ("OnDelete", "restore", "case-sensitive: Restore"),
    ],
)
def test_invalid_values_are_named(name, value, expected):
    reason = reason_of(props(**{name: value}))
    assert expected in reason
    assert name in reason


def test_cloudformation_sends_strings_and_other_types_are_rejected():
    assert "must be a string" in reason_of(props(OnDelete=["Retain"]))
    assert "must be a string" in reason_of(props(PhoneNumberId=12))


def test_properties_must_be_a_map():
    assert "must be a map" in reason_of(["PhoneNumberId"])


def test_contact_flow_must_be_in_the_target_instance():
    other_instance = FLOW_ARN.replace(INSTANCE_ID, "2b1c9a4e-7d3f-4c8a-9e21-5f6b8d0a3c17")
    assert "must belong to the target instance" in reason_of(props(ContactFlowArn=other_instance))
    # A group's home instance is only known to Connect: checked by the lifecycle, not here.
    assert parse_properties(props(TargetArn=TDG_ARN, ContactFlowArn=FLOW_ARN), SCOPE).contact_flow is not None
    assert "ContactFlowArn must be" in reason_of(props(ContactFlowArn=INSTANCE_ARN))
    parsed = parse_properties(props(ContactFlowArn=FLOW_ARN), SCOPE)
    assert parsed.contact_flow.instance_id == INSTANCE_ID


def test_huge_values_are_quoted_briefly():
    reason = reason_of(props(PhoneNumberId="x" * 100_000))
    assert len(reason) < 400
    assert "100000 characters" in reason


def test_physical_ids_that_are_not_phone_number_arns_name_nothing():
    assert phone_number_arn_of(NUMBER_ARN, SCOPE) == NUMBER_ARN
    assert phone_number_arn_of("MainLine-unassigned-1a2b3c", SCOPE) is None
    assert phone_number_arn_of(INSTANCE_ARN, SCOPE) is None
    assert phone_number_arn_of(NUMBER_ARN.replace("us-east-1", "us-west-2"), SCOPE) is None


def test_a_number_of_another_account_is_named_as_such():
    elsewhere = NUMBER_ARN.replace(":123456789012:", ":210987654321:")
    reason = reason_of(props(PhoneNumberId=elsewhere))
    assert "that number is in another account" in reason
    assert "210987654321" in reason
    # A physical ID naming it names no number of this provider's: its Delete changes nothing.
    assert phone_number_arn_of(elsewhere, SCOPE) is None


def test_every_problem_is_named_not_only_the_first():
    reason = reason_of(
        props(TargetArn=None, TargetARN=INSTANCE_ARN, Description="main line", OnDelete="Delete")
    )

    assert "Unknown property 'TargetARN'. Did you mean TargetArn?" in reason
    assert "Unknown property 'Description'." in reason
    assert "Property TargetArn is required" in reason
    assert "Property OnDelete must be Retain or Restore; got 'Delete'" in reason


def test_a_declaration_with_several_problems_fails_naming_them_all_and_changes_nothing(stack, world, connect):
    from tests.provider.test_lifecycle import assign

    properties = {**assign(world), "Description": "main line", "OnDelete": "Delete"}
    properties["TargetARN"] = properties.pop("TargetArn")

    response = stack.create("MainLine", properties)

    assert response.status == "FAILED"
    for said in ("'TargetARN'", "'Description'", "Property TargetArn is required", "got 'Delete'"):
        assert said in response.reason
    number = connect.describe_phone_number(PhoneNumberId=world.number_arn)["ClaimedPhoneNumberSummary"]
    assert number["TargetArn"] == world.instance_a_arn
