"""The native AWS::Connect::PhoneNumber through moto's CloudFormation, in-process and on the emulator's
server: the claim and its tags (no CloudFormation system tags), Ref, DescribeStackResource(s) for live,
deleted and missing stacks and by physical ID, and DeletionPolicy: Retain."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from connect_emulator_helpers import ACCOUNT_ID, NO_RETRIES, REGION, summary

from local_aws.connect.native import deploy_native_number_stack, native_number_template

INSTANCE = "2b1c9a4e-7d3f-4c8a-9e21-5f6b8d0a3c17"
TDG = "5a7c3e91-2d4b-4e6f-8a1c-9b3d7f0e2a64"
INSTANCE_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT_ID}:instance/{INSTANCE}"
TDG_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT_ID}:traffic-distribution-group/{TDG}"
WORLD = {
    "account_id": ACCOUNT_ID,
    "region": REGION,
    "instances": [{"id": INSTANCE}],
    "traffic_distribution_groups": [{"id": TDG, "name": "global", "instance_id": INSTANCE}],
}


@pytest.fixture
def cloudformation(connect_emulator: Any) -> Any:
    connect_emulator.control.seed(WORLD)
    kwargs: dict[str, Any] = {"region_name": REGION, "config": NO_RETRIES}
    if connect_emulator.endpoint_url:
        kwargs |= {
            "endpoint_url": connect_emulator.endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    return boto3.client("cloudformation", **kwargs)


def resource_detail(cloudformation: Any, stack: str, logical_id: str = "NativeNumber") -> dict[str, Any]:
    return cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]


def validation_error(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def numbers_in_account(connect: Any) -> list[str]:
    return [n["PhoneNumberArn"] for n in connect.list_phone_numbers_v2()["ListPhoneNumbersSummaryList"]]


def test_the_stack_claims_a_number_with_its_tags_and_no_cloudformation_system_tags(
    cloudformation: Any, emulated_connect: Any
) -> None:
    stack_id, number_arn = deploy_native_number_stack(
        cloudformation, "native", INSTANCE_ARN, "+12065550142", tags={"team": "support"}
    )
    assert stack_id.startswith(f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/native/")
    claimed = summary(emulated_connect, number_arn)
    assert (claimed["PhoneNumber"], claimed["TargetArn"], claimed["PhoneNumberStatus"]) == (
        "+12065550142",
        INSTANCE_ARN,
        {"Status": "CLAIMED"},
    )
    # The handler passes ClaimPhoneNumber the desired tags (stack and resource); Connect refuses aws: keys.
    assert claimed["Tags"] == {"team": "support"}
    for stack in ("native", stack_id):
        detail = resource_detail(cloudformation, stack)
        assert (
            detail["StackId"],
            detail["PhysicalResourceId"],
            detail["ResourceType"],
            detail["ResourceStatus"],
        ) == (
            stack_id,
            number_arn,
            "AWS::Connect::PhoneNumber",
            "CREATE_COMPLETE",
        )
    # The Prefix that named the whole number offers nothing once it is claimed.
    offered = emulated_connect.search_available_phone_numbers(
        TargetArn=INSTANCE_ARN,
        PhoneNumberCountryCode="US",
        PhoneNumberType="DID",
        PhoneNumberPrefix="+12065550142",
    )
    assert offered["AvailableNumbersList"] == []
    # Ref is the number's ARN, as for the real resource.
    outputs = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "PhoneNumberArn", "OutputValue": number_arn}]


def test_template_properties_and_attributes(cloudformation: Any, emulated_connect: Any) -> None:
    template = native_number_template(TDG_ARN, logical_id="Line", number_type="TOLL_FREE", tags={"a": "b"})
    template["Resources"]["Line"]["Properties"]["Description"] = "main line"
    template["Outputs"] = {
        "Address": {"Value": {"Fn::GetAtt": ["Line", "Address"]}},
        "Arn": {"Value": {"Fn::GetAtt": ["Line", "PhoneNumberArn"]}},
    }
    stack_id = cloudformation.create_stack(StackName="tdg-line", TemplateBody=json.dumps(template))["StackId"]
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"]
    }
    claimed = summary(emulated_connect, outputs["Arn"])
    assert (claimed["PhoneNumber"], claimed["TargetArn"], claimed["PhoneNumberType"]) == (
        outputs["Address"],
        TDG_ARN,
        "TOLL_FREE",
    )
    assert claimed["PhoneNumberDescription"] == "main line"
    assert claimed["Tags"] == {"a": "b"}


def test_deleting_the_stack_releases_the_number_and_describing_it_answers_as_cloudformation_does(
    cloudformation: Any, emulated_connect: Any
) -> None:
    stack_id, number_arn = deploy_native_number_stack(cloudformation, "native", INSTANCE_ARN)
    cloudformation.delete_stack(StackName=stack_id)

    with pytest.raises(ClientError) as excinfo:
        summary(emulated_connect, number_arn)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    detail = resource_detail(cloudformation, stack_id)
    assert (detail["PhysicalResourceId"], detail["ResourceStatus"]) == (number_arn, "DELETE_COMPLETE")
    # Describing the deleted stack claims nothing (moto's lazy resource map would re-create the resource).
    assert numbers_in_account(emulated_connect) == []
    # By name, a deleted stack does not exist, as in real CloudFormation.
    with pytest.raises(ClientError) as excinfo:
        resource_detail(cloudformation, "native")
    assert validation_error(excinfo) == ("ValidationError", "Stack with id native does not exist")
    # Unknown logical IDs and stacks that never were: real CloudFormation's messages.
    with pytest.raises(ClientError) as excinfo:
        resource_detail(cloudformation, stack_id, "Elsewhere")
    message = f"Resource Elsewhere does not exist for stack {stack_id}"
    assert validation_error(excinfo) == ("ValidationError", message)
    with pytest.raises(ClientError) as excinfo:
        resource_detail(cloudformation, "never-created")
    assert validation_error(excinfo) == ("ValidationError", "Stack with id never-created does not exist")


def test_retain_leaves_the_number_claimed_with_its_tags(cloudformation: Any, emulated_connect: Any) -> None:
    stack_id, number_arn = deploy_native_number_stack(
        cloudformation, "native", INSTANCE_ARN, retain=True, tags={"team": "support"}
    )
    tags_before = summary(emulated_connect, number_arn)["Tags"]
    cloudformation.delete_stack(StackName="native")

    kept = summary(emulated_connect, number_arn)
    assert (kept["PhoneNumberStatus"], kept["Tags"]) == ({"Status": "CLAIMED"}, tags_before)
    assert tags_before == {"team": "support"}
    assert resource_detail(cloudformation, stack_id)["ResourceStatus"] == "DELETE_SKIPPED"
    assert numbers_in_account(emulated_connect) == [number_arn]
    assert cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def by_physical_id(cloudformation: Any, physical_id: str, **params: Any) -> list[dict[str, Any]]:
    return cloudformation.describe_stack_resources(PhysicalResourceId=physical_id, **params)["StackResources"]


def test_describe_stack_resources_names_the_stack_that_holds_a_physical_id(
    cloudformation: Any, emulated_connect: Any
) -> None:
    template = native_number_template(INSTANCE_ARN, logical_id="Main")
    template["Resources"]["Spare"] = native_number_template(INSTANCE_ARN, logical_id="Spare")["Resources"][
        "Spare"
    ]
    stack_id = cloudformation.create_stack(StackName="two-lines", TemplateBody=json.dumps(template))[
        "StackId"
    ]
    main_arn = resource_detail(cloudformation, stack_id, "Main")["PhysicalResourceId"]

    # "the associated resources of the stack that the resource belongs to" (API reference): both of them.
    shown = by_physical_id(cloudformation, main_arn)
    assert sorted((r["StackId"], r["LogicalResourceId"], r["ResourceType"]) for r in shown) == [
        (stack_id, "Main", "AWS::Connect::PhoneNumber"),
        (stack_id, "Spare", "AWS::Connect::PhoneNumber"),
    ]
    assert {r["ResourceStatus"] for r in shown} == {"CREATE_COMPLETE"}
    # LogicalResourceId filters; by StackName the same resources.
    assert [
        r["LogicalResourceId"] for r in by_physical_id(cloudformation, main_arn, LogicalResourceId="Main")
    ] == ["Main"]
    by_name = cloudformation.describe_stack_resources(StackName="two-lines")["StackResources"]
    assert sorted(r["LogicalResourceId"] for r in by_name) == ["Main", "Spare"]


def test_describe_stack_resources_by_physical_id_answers_for_deleted_stacks_and_refuses_what_aws_refuses(
    cloudformation: Any, emulated_connect: Any
) -> None:
    stack_id, number_arn = deploy_native_number_stack(cloudformation, "native", INSTANCE_ARN, retain=True)
    cloudformation.delete_stack(StackName=stack_id)

    # Deleted stacks are described for 90 days: the retained number's resource is DELETE_SKIPPED.
    [shown] = by_physical_id(cloudformation, number_arn)
    assert (shown["StackId"], shown["LogicalResourceId"], shown["ResourceStatus"]) == (
        stack_id,
        "NativeNumber",
        "DELETE_SKIPPED",
    )
    # A physical ID no stack resource has: a ValidationError saying so.
    unknown = number_arn.replace("phone-number/", "phone-number/0")
    with pytest.raises(ClientError) as excinfo:
        by_physical_id(cloudformation, unknown)
    code, message = validation_error(excinfo)
    assert (code, "does not exist" in message) == ("ValidationError", True)
    # "A ValidationError is returned if you specify both StackName and PhysicalResourceId"; one is required.
    with pytest.raises(ClientError) as excinfo:
        cloudformation.describe_stack_resources(StackName=stack_id, PhysicalResourceId=number_arn)
    assert validation_error(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        cloudformation.describe_stack_resources()
    assert validation_error(excinfo)[0] == "ValidationError"


def test_describe_stack_resources_shows_at_most_the_first_100_resources(
    cloudformation: Any, emulated_connect: Any
) -> None:
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}
    for index in range(101):
        template["Resources"][f"Topic{index:03d}"] = {"Type": "AWS::SNS::Topic"}
    cloudformation.create_stack(StackName="big", TemplateBody=json.dumps(template))

    assert len(cloudformation.describe_stack_resources(StackName="big")["StackResources"]) == 100
