"""Each emulated Connect operation through a real boto3 client, in-process and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from connect_emulator_helpers import (
    ACCOUNT_ID,
    REGION,
    claim_number,
    create_instance,
    error_of,
    summary,
    wait_until_settled,
)

SIMPLE_FLOW = '{"Version": "2019-10-30", "StartAction": "end", "Actions": []}'


def create_flow(client: Any, instance_id: str, name: str = "Inbound") -> dict[str, Any]:
    return client.create_contact_flow(
        InstanceId=instance_id, Name=name, Type="CONTACT_FLOW", Content=SIMPLE_FLOW
    )


def associated_flows(client: Any, instance_id: str) -> list[dict[str, str]]:
    return client.list_flow_associations(InstanceId=instance_id, ResourceType="VOICE_PHONE_NUMBER")[
        "FlowAssociationSummaryList"
    ]


def test_search_available_numbers_is_deterministic_and_pages(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    first = emulated_connect.search_available_phone_numbers(
        InstanceId=instance["Id"], PhoneNumberCountryCode="US", PhoneNumberType="TOLL_FREE"
    )
    again = emulated_connect.search_available_phone_numbers(
        InstanceId=instance["Id"], PhoneNumberCountryCode="US", PhoneNumberType="TOLL_FREE"
    )
    assert first["AvailableNumbersList"] == again["AvailableNumbersList"]
    assert len(first["AvailableNumbersList"]) == 10
    assert all(n["PhoneNumberType"] == "TOLL_FREE" for n in first["AvailableNumbersList"])
    second_page = emulated_connect.search_available_phone_numbers(
        InstanceId=instance["Id"],
        PhoneNumberCountryCode="US",
        PhoneNumberType="TOLL_FREE",
        NextToken=first["NextToken"],
    )
    first_numbers = {n["PhoneNumber"] for n in first["AvailableNumbersList"]}
    assert first_numbers.isdisjoint(n["PhoneNumber"] for n in second_page["AvailableNumbersList"])

    by_prefix = emulated_connect.search_available_phone_numbers(
        TargetArn=instance["Arn"],
        PhoneNumberCountryCode="GB",
        PhoneNumberType="DID",
        PhoneNumberPrefix="+4420",
    )["AvailableNumbersList"]
    assert by_prefix
    assert all(
        n["PhoneNumber"].startswith("+4420") and n["PhoneNumberCountryCode"] == "GB" for n in by_prefix
    )


def test_claimed_number_is_no_longer_available(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    offered = emulated_connect.search_available_phone_numbers(
        InstanceId=instance["Id"], PhoneNumberCountryCode="US", PhoneNumberType="DID"
    )["AvailableNumbersList"]
    claim_number(emulated_connect, instance["Arn"], offered[0]["PhoneNumber"])
    offered_now = emulated_connect.search_available_phone_numbers(
        InstanceId=instance["Id"], PhoneNumberCountryCode="US", PhoneNumberType="DID"
    )["AvailableNumbersList"]
    assert offered[0]["PhoneNumber"] not in {n["PhoneNumber"] for n in offered_now}

    with pytest.raises(ClientError) as excinfo:
        emulated_connect.claim_phone_number(TargetArn=instance["Arn"], PhoneNumber=offered[0]["PhoneNumber"])
    assert error_of(excinfo) == ("InvalidParameterException", 400)


def test_claim_and_describe_full_summary(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    claimed = claim_number(
        emulated_connect,
        instance["Arn"],
        "+18335550123",
        PhoneNumberDescription="support line",
        Tags={"team": "care"},
    )
    assert claimed["PhoneNumberArn"] == (
        f"arn:aws:connect:{REGION}:{ACCOUNT_ID}:phone-number/{claimed['PhoneNumberId']}"
    )
    described = summary(emulated_connect, claimed["PhoneNumberId"])
    assert described == {
        "PhoneNumberId": claimed["PhoneNumberId"],
        "PhoneNumberArn": claimed["PhoneNumberArn"],
        "PhoneNumber": "+18335550123",
        "PhoneNumberCountryCode": "US",
        "PhoneNumberType": "TOLL_FREE",
        "PhoneNumberDescription": "support line",
        "TargetArn": instance["Arn"],
        "InstanceId": instance["Id"],
        "Tags": {"team": "care"},
        "PhoneNumberStatus": {"Status": "CLAIMED"},
    }


def test_claim_by_instance_id(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    claimed = emulated_connect.claim_phone_number(InstanceId=instance["Id"], PhoneNumber="+442071838750")
    described = wait_until_settled(emulated_connect, claimed["PhoneNumberId"])
    assert described["TargetArn"] == instance["Arn"]
    assert described["PhoneNumberCountryCode"] == "GB"


@pytest.mark.parametrize(
    "phone_number", ["5555550100", "+05555550100", "+1555555010012345678", "tel:+15555550100"]
)
def test_claim_rejects_non_e164_numbers(emulated_connect: Any, phone_number: str) -> None:
    instance = create_instance(emulated_connect)
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.claim_phone_number(TargetArn=instance["Arn"], PhoneNumber=phone_number)
    assert error_of(excinfo) == ("InvalidParameterException", 400)


def test_update_moves_number_by_id_or_arn(emulated_connect: Any) -> None:
    source, destination = create_instance(emulated_connect), create_instance(emulated_connect)
    number = claim_number(emulated_connect, source["Arn"])

    moved = emulated_connect.update_phone_number(
        PhoneNumberId=number["PhoneNumberArn"], TargetArn=destination["Arn"]
    )
    assert {k: moved[k] for k in ("PhoneNumberId", "PhoneNumberArn")} == number
    assert (
        wait_until_settled(emulated_connect, number["PhoneNumberArn"], destination["Arn"])["InstanceId"]
        == (destination["Id"])
    )

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], InstanceId=source["Id"])
    described = wait_until_settled(emulated_connect, number["PhoneNumberId"], source["Arn"])
    assert described["PhoneNumberStatus"] == {"Status": "CLAIMED"}


def test_list_phone_numbers_filters_and_pages(emulated_connect: Any) -> None:
    first, second = create_instance(emulated_connect), create_instance(emulated_connect)
    on_first = [claim_number(emulated_connect, first["Arn"], f"+1206555010{i}") for i in range(3)]
    toll_free = claim_number(emulated_connect, first["Arn"], "+18005550100")
    on_second = claim_number(emulated_connect, second["Arn"], "+442071838751")

    everything = emulated_connect.list_phone_numbers_v2(MaxResults=100)["ListPhoneNumbersSummaryList"]
    assert len(everything) == 5
    assert "PhoneNumberStatus" not in everything[0]

    listed_first = emulated_connect.list_phone_numbers_v2(InstanceId=first["Id"])[
        "ListPhoneNumbersSummaryList"
    ]
    assert {n["PhoneNumberId"] for n in listed_first} == {n["PhoneNumberId"] for n in [*on_first, toll_free]}
    listed_second = emulated_connect.list_phone_numbers_v2(TargetArn=second["Arn"])[
        "ListPhoneNumbersSummaryList"
    ]
    assert [n["PhoneNumberId"] for n in listed_second] == [on_second["PhoneNumberId"]]

    only_toll_free = emulated_connect.list_phone_numbers_v2(PhoneNumberTypes=["TOLL_FREE"])[
        "ListPhoneNumbersSummaryList"
    ]
    assert [n["PhoneNumber"] for n in only_toll_free] == ["+18005550100"]
    only_gb = emulated_connect.list_phone_numbers_v2(PhoneNumberCountryCodes=["GB"])[
        "ListPhoneNumbersSummaryList"
    ]
    assert [n["PhoneNumber"] for n in only_gb] == ["+442071838751"]
    by_prefix = emulated_connect.list_phone_numbers_v2(PhoneNumberPrefix="+1206")[
        "ListPhoneNumbersSummaryList"
    ]
    assert len(by_prefix) == 3

    paginator = emulated_connect.get_paginator("list_phone_numbers_v2")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["ListPhoneNumbersSummaryList"]) for p in pages] == [2, 2, 1]

    with pytest.raises(ClientError) as excinfo:
        emulated_connect.list_phone_numbers_v2(TargetArn=first["Arn"], InstanceId=first["Id"])
    assert error_of(excinfo) == ("InvalidParameterException", 400)


def test_update_phone_number_metadata(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    number = claim_number(emulated_connect, instance["Arn"])
    emulated_connect.update_phone_number_metadata(
        PhoneNumberId=number["PhoneNumberArn"], PhoneNumberDescription="new"
    )
    assert wait_until_settled(emulated_connect, number["PhoneNumberId"])["PhoneNumberDescription"] == "new"


def test_release_by_arn_then_number_is_gone(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    number = claim_number(emulated_connect, instance["Arn"])
    emulated_connect.release_phone_number(PhoneNumberId=number["PhoneNumberArn"])
    with pytest.raises(ClientError) as excinfo:
        summary(emulated_connect, number["PhoneNumberId"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    assert emulated_connect.list_phone_numbers_v2()["ListPhoneNumbersSummaryList"] == []


def test_tags_on_phone_number_arn_show_in_describe(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    number = claim_number(emulated_connect, instance["Arn"], Tags={"keep": "1"})
    emulated_connect.tag_resource(
        resourceArn=number["PhoneNumberArn"], tags={"owner": "stack-a", "env": "test"}
    )
    emulated_connect.untag_resource(resourceArn=number["PhoneNumberArn"], tagKeys=["env"])
    expected = {"keep": "1", "owner": "stack-a"}
    assert emulated_connect.list_tags_for_resource(resourceArn=number["PhoneNumberArn"])["tags"] == expected
    assert summary(emulated_connect, number["PhoneNumberId"])["Tags"] == expected

    missing = number["PhoneNumberArn"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.tag_resource(resourceArn=missing, tags={"a": "b"})
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_moto_instance_operations_and_tags_still_work(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect, alias="primary")
    assert (
        emulated_connect.describe_instance(InstanceId=instance["Id"])["Instance"]["InstanceAlias"]
        == "primary"
    )
    emulated_connect.tag_resource(resourceArn=instance["Arn"], tags={"a": "b"})
    assert emulated_connect.list_tags_for_resource(resourceArn=instance["Arn"])["tags"] == {"a": "b"}
    create_instance(emulated_connect)
    assert len(emulated_connect.list_instances(MaxResults=1)["InstanceSummaryList"]) == 1
    assert len(emulated_connect.list_instances()["InstanceSummaryList"]) == 2


def test_contact_flow_create_and_describe_by_id_or_arn(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    created = create_flow(emulated_connect, instance["Id"], "Main menu")
    assert created["ContactFlowArn"] == f"{instance['Arn']}/contact-flow/{created['ContactFlowId']}"
    for flow_ref in (created["ContactFlowId"], created["ContactFlowArn"]):
        flow = emulated_connect.describe_contact_flow(InstanceId=instance["Id"], ContactFlowId=flow_ref)[
            "ContactFlow"
        ]
        assert (flow["Id"], flow["Name"], flow["Type"], flow["State"]) == (
            created["ContactFlowId"],
            "Main menu",
            "CONTACT_FLOW",
            "ACTIVE",
        )
        assert flow["Content"] == SIMPLE_FLOW

    other = create_instance(emulated_connect)
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.describe_contact_flow(InstanceId=other["Id"], ContactFlowId=created["ContactFlowId"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        create_flow(emulated_connect, "00000000-0000-0000-0000-000000000000")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_flow_association_is_listed_and_dropped_by_a_move(emulated_connect: Any) -> None:
    home, elsewhere = create_instance(emulated_connect), create_instance(emulated_connect)
    flow = create_flow(emulated_connect, home["Id"])
    number = claim_number(emulated_connect, home["Arn"])

    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=number["PhoneNumberArn"], InstanceId=home["Id"], ContactFlowId=flow["ContactFlowId"]
    )
    assert associated_flows(emulated_connect, home["Id"]) == [
        {
            "ResourceId": number["PhoneNumberArn"],
            "FlowId": flow["ContactFlowArn"],
            "ResourceType": "VOICE_PHONE_NUMBER",
        }
    ]

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=elsewhere["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"], elsewhere["Arn"])
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=home["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"], home["Arn"])
    assert associated_flows(emulated_connect, home["Id"]) == []


def test_disassociate_flow(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    flow = create_flow(emulated_connect, instance["Id"])
    number = claim_number(emulated_connect, instance["Arn"])
    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=number["PhoneNumberId"], InstanceId=instance["Id"], ContactFlowId=flow["ContactFlowId"]
    )
    emulated_connect.disassociate_phone_number_contact_flow(
        PhoneNumberId=number["PhoneNumberArn"], InstanceId=instance["Id"]
    )
    assert associated_flows(emulated_connect, instance["Id"]) == []


def test_associate_checks_number_instance_and_flow(emulated_connect: Any) -> None:
    home, other = create_instance(emulated_connect), create_instance(emulated_connect)
    home_flow, other_flow = (
        create_flow(emulated_connect, home["Id"]),
        create_flow(emulated_connect, other["Id"]),
    )
    number = claim_number(emulated_connect, home["Arn"])

    with pytest.raises(ClientError) as excinfo:  # flow belongs to another instance
        emulated_connect.associate_phone_number_contact_flow(
            PhoneNumberId=number["PhoneNumberId"],
            InstanceId=home["Id"],
            ContactFlowId=other_flow["ContactFlowId"],
        )
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)

    with pytest.raises(ClientError) as excinfo:  # number is not on that instance
        emulated_connect.associate_phone_number_contact_flow(
            PhoneNumberId=number["PhoneNumberId"],
            InstanceId=other["Id"],
            ContactFlowId=other_flow["ContactFlowId"],
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)

    with pytest.raises(ClientError) as excinfo:
        emulated_connect.associate_phone_number_contact_flow(
            PhoneNumberId="00000000-0000-0000-0000-000000000000",
            InstanceId=home["Id"],
            ContactFlowId=home_flow["ContactFlowId"],
        )
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_traffic_distribution_group_lifecycle_and_as_target(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    created = emulated_connect.create_traffic_distribution_group(
        Name="global", InstanceId=instance["Arn"], Tags={"a": "b"}
    )
    assert (
        created["Arn"] == f"arn:aws:connect:{REGION}:{ACCOUNT_ID}:traffic-distribution-group/{created['Id']}"
    )
    group = emulated_connect.describe_traffic_distribution_group(TrafficDistributionGroupId=created["Arn"])[
        "TrafficDistributionGroup"
    ]
    assert (group["Id"], group["Name"], group["InstanceArn"], group["Status"], group["Tags"]) == (
        created["Id"],
        "global",
        instance["Arn"],
        "ACTIVE",
        {"a": "b"},
    )

    number = claim_number(emulated_connect, created["Arn"])
    described = summary(emulated_connect, number["PhoneNumberId"])
    assert (described["TargetArn"], described["InstanceId"]) == (created["Arn"], instance["Id"])
    listed = emulated_connect.list_phone_numbers_v2(TargetArn=created["Arn"])["ListPhoneNumbersSummaryList"]
    assert [n["PhoneNumberId"] for n in listed] == [number["PhoneNumberId"]]

    with pytest.raises(ClientError) as excinfo:
        emulated_connect.delete_traffic_distribution_group(TrafficDistributionGroupId=created["Id"])
    assert error_of(excinfo) == ("ResourceInUseException", 409)

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=instance["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"], instance["Arn"])
    emulated_connect.delete_traffic_distribution_group(TrafficDistributionGroupId=created["Id"])
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.describe_traffic_distribution_group(TrafficDistributionGroupId=created["Id"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_delete_instance_releases_its_numbers(emulated_connect: Any) -> None:
    doomed, survivor = create_instance(emulated_connect), create_instance(emulated_connect)
    lost = claim_number(emulated_connect, doomed["Arn"])
    kept = claim_number(emulated_connect, survivor["Arn"])

    emulated_connect.delete_instance(InstanceId=doomed["Id"])

    with pytest.raises(ClientError) as excinfo:
        summary(emulated_connect, lost["PhoneNumberId"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    assert summary(emulated_connect, kept["PhoneNumberId"])["PhoneNumberStatus"] == {"Status": "CLAIMED"}
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=kept["PhoneNumberId"], TargetArn=doomed["Arn"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.delete_instance(InstanceId=doomed["Id"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_numbers_are_per_region(connect_emulator: Any) -> None:
    east, west = connect_emulator.client("us-east-1"), connect_emulator.client("us-west-2")
    number = claim_number(east, create_instance(east)["Arn"])
    with pytest.raises(ClientError) as excinfo:
        summary(west, number["PhoneNumberId"])
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)
    assert west.list_phone_numbers_v2()["ListPhoneNumbersSummaryList"] == []
