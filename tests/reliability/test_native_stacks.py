"""Numbers a native AWS::Connect::PhoneNumber manages: deleting that stack would release them.

The provider asks CloudFormation which stack resource has the number's ARN as its physical ID
(DescribeStackResources): the native handler claims without CloudFormation's system tags (Connect refuses
``aws:`` keys), so the number itself need not say. aws:cloudformation:stack-id / logical-id tags, on numbers
that carry them, are a second signal. The provider takes such a number only once that stack no longer holds
the resource, and refuses when it cannot find out.
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


def test_a_number_whose_holder_cannot_be_asked_is_refused(monkeypatch, stack, world, connect, aws_env):
    # No tags at all: how a number a native stack claimed looks. CloudFormation must be asked.
    number_id = seed_native_number(aws_env, world, {})
    # Nothing listens there: the check fails as a denied or unreachable CloudFormation would.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    clients.cloudformation_client.cache_clear()
    since = len(aws_env.control.calls())

    # Retried until the budget runs out; botocore's own retry pauses in real time: a short budget, and a
    # ServiceTimeout that leaves no later invocation to continue in (CloudFormation's time is out too).
    response = stack.create(
        "MainLine", props(world, PhoneNumberId=number_id, ServiceTimeout="40"), timeout_seconds=25
    )

    assert response.status == "FAILED"
    assert "could not ask CloudFormation which stack holds" in response.reason
    assert "cloudformation:DescribeStackResources" in response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert provider_tags(connect, f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/{number_id}") == {}


def test_a_number_a_native_resource_of_the_same_stack_holds_is_refused(stack, world, connect, aws_env):
    number_id = seed_native_number(aws_env, world, {})
    number_arn = f"arn:aws:connect:{REGION}:{ACCOUNT}:phone-number/{number_id}"
    # The consumer's own template claims the number with AWS::Connect::PhoneNumber: deleting this stack
    # (or replacing that resource) releases it, wherever the assignment put it.
    stack.control.play_stack(
        stack.stack_id,
        logical_id="ClaimedLine",
        resource_status="CREATE_COMPLETE",
        physical_id=number_arn,
        resource_type="AWS::Connect::PhoneNumber",
    )
    since = len(aws_env.control.calls())

    response = stack.create("MainLine", props(world, PhoneNumberId=number_id))

    assert response.status == "FAILED"
    assert "AWS::Connect::PhoneNumber ClaimedLine of this stack" in response.reason
    assert "Set the TargetArn of ClaimedLine" in response.reason
    assert mutating(operations(aws_env.control, since)) == []
    assert state_of(connect, number_arn)["target"] == world.instance_a_arn


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

    # The number says nothing of its stack: only CloudFormation can tell.
    assert not [key for key in state_of(connect, number_arn)["tags"] if key.lower().startswith("aws:")]

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


def test_cloudformation_is_asked_about_a_number_only_until_it_is_this_resources(stack, world):
    clients.cloudformation_client.cache_clear()
    assert stack.create("MainLine", props(world)).ok
    # The first Create asks who holds the number (and pays for the client: ~0.1 s of a cold start).
    assert clients.cloudformation_client.cache_info().currsize == 1

    clients.cloudformation_client.cache_clear()
    assert stack.update("MainLine", props(world, TargetArn=world.tdg_arn)).ok

    # The number carries this resource's tags: an in-place update asks nothing (and creates no client).
    assert clients.cloudformation_client.cache_info().currsize == 0


def test_a_number_our_own_retained_resource_held_is_not_taken_for_a_native_one(
    stack, new_stack, world, connect
):
    # Custom::PhoneNumberAssignment resources have the number's ARN as physical ID too: CloudFormation names
    # them, and only the native type is refused (the ownership record decides about the rest).
    assert stack.create("MainLine", props(world)).ok
    stack.retain("MainLine")

    response = new_stack().create("TheirLine", props(world, TargetArn=world.tdg_arn))

    assert response.ok, response.reason
    assert state_of(connect, world.number_arn)["target"] == world.tdg_arn
