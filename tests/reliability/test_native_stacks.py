"""Numbers a native AWS::Connect::PhoneNumber manages: deleting that stack would release them.

CloudFormation tags what it creates with aws:cloudformation:stack-id / logical-id. The provider takes such a
number only once that stack no longer holds the resource, and refuses when it cannot find out.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from local_aws.connect.native import deploy_native_number_stack
from phone_number_assignment import clients
from tests.conftest import ACCOUNT, REGION
from tests.reliability.helpers import mutating, operations, props, provider_tags, state_of


def native_tags(stack_name: str, logical_id: str = "SupportLine") -> dict[str, str]:
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{uuid.uuid4()}"
    return {
        "aws:cloudformation:stack-name": stack_name,
        "aws:cloudformation:stack-id": stack_id,
        "aws:cloudformation:logical-id": logical_id,
    }


def seed_native_number(aws_env, world, tags: dict[str, str]) -> str:
    number_id = str(uuid.uuid4())
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "phone_numbers": [
                {"id": number_id, "phone_number": "+15555550177", "target": world.instance_a, "tags": tags}
            ],
        }
    )
    return number_id


def test_a_number_whose_native_stack_is_gone_is_taken(stack, world, connect, aws_env):
    number_id = seed_native_number(aws_env, world, native_tags("deleted-long-ago"))

    response = stack.create("MainLine", props(world, PhoneNumberId=number_id))

    assert response.ok, response.reason
    assert state_of(connect, response.physical_id)["target"] == world.instance_b_arn


def test_a_number_whose_native_stack_cannot_be_checked_is_refused(
    monkeypatch, stack, world, connect, aws_env
):
    tags = native_tags("unknown-stack")
    number_id = seed_native_number(aws_env, world, tags)
    # Nothing listens there: the check fails as a denied or unreachable CloudFormation would.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    clients.cloudformation_client.cache_clear()
    since = len(aws_env.control.calls())

    # Retried until the budget runs out; botocore's own retry pauses in real time: a short budget.
    response = stack.create("MainLine", props(world, PhoneNumberId=number_id), timeout_seconds=25)

    assert response.status == "FAILED"
    assert tags["aws:cloudformation:stack-id"] in response.reason
    assert "could not check" in response.reason
    assert "cloudformation:DescribeStackResource" in response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert provider_tags(connect, f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/{number_id}") == {}


def test_a_number_created_by_the_same_stack_is_not_checked(monkeypatch, stack, world, aws_env):
    tags = native_tags("phone-number-consumer")
    tags["aws:cloudformation:stack-id"] = stack.stack_id
    number_id = seed_native_number(aws_env, world, tags)
    # Were it asked, the unreachable endpoint would make the Create fail.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    clients.cloudformation_client.cache_clear()

    response = stack.create("MainLine", props(world, PhoneNumberId=number_id))

    assert response.ok, response.reason


@pytest.fixture
def cloudformation(aws_env):
    return boto3.client("cloudformation", region_name=REGION, endpoint_url=aws_env.endpoint_url)


def test_a_number_a_native_stack_still_holds_is_refused_with_how_to_hand_it_over(
    stack, world, connect, aws_env, cloudformation
):
    stack_id, number_arn = deploy_native_number_stack(
        cloudformation, "contact-centre-numbers", world.instance_a_arn, logical_id="SupportLine"
    )
    since = len(aws_env.control.calls())

    response = stack.create("MainLine", props(world, PhoneNumberId=number_arn))

    assert response.status == "FAILED"
    assert stack_id in response.reason
    assert "SupportLine" in response.reason
    assert "would release" in response.reason
    assert "DeletionPolicy: Retain" in response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert provider_tags(connect, number_arn) == {}


def test_a_number_handed_over_with_retain_is_taken_once_its_stack_is_gone(
    stack, world, connect, cloudformation
):
    stack_id, number_arn = deploy_native_number_stack(
        cloudformation, "contact-centre-numbers", world.instance_a_arn, retain=True, logical_id="SupportLine"
    )
    cloudformation.delete_stack(StackName=stack_id)

    response = stack.create("MainLine", props(world, PhoneNumberId=number_arn))

    assert response.ok, response.reason
    assert state_of(connect, number_arn)["target"] == world.instance_b_arn


def test_a_number_without_cloudformation_tags_costs_no_cloudformation_client(stack, world):
    # Creating the client loads CloudFormation's service model: a cold start pays for it only when needed.
    assert stack.create("MainLine", props(world)).ok

    assert clients.cloudformation_client.cache_info().currsize == 0
