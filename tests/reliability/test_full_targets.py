"""A target that already holds as many numbers as its quota allows ("Phone numbers per instance", 5 in a new
account): Connect accepts the move, then reports it FAILED. The provider says which quota and how to raise
it, and the number stays where it was, routed as it was."""

from __future__ import annotations

from tests.reliability.helpers import (
    ownership_record,
    props,
    provider_tags,
    released,
    seed_numbers,
    state_of,
)


def flow_of(connect, instance_id: str, number_arn: str) -> str | None:
    associations = connect.list_flow_associations(InstanceId=instance_id, ResourceType="VOICE_PHONE_NUMBER")
    flows = [a["FlowId"] for a in associations["FlowAssociationSummaryList"] if a["ResourceId"] == number_arn]
    return flows[0] if flows else None


def test_a_create_onto_a_full_instance_fails_naming_the_quota_and_leaves_the_number(
    stack, world, connect, aws_env
):
    seed_numbers(aws_env.control, 5, world.instance_b, prefix="+1555400")

    response = stack.create("MainLine", props(world))

    assert response.status == "FAILED"
    # Connect's message (quoted, cut to 120 characters) and the provider's reading of it.
    assert "'The TargetArn arn:aws:connect:" in response.reason
    assert "The target holds as many phone numbers as its quota allows" in response.reason
    assert 'quota "Phone numbers per instance"' in response.reason
    assert "Service Quotas console" in response.reason
    assert state_of(connect, world.number_arn)["target"] == world.instance_a_arn
    assert provider_tags(connect, world.number_arn) == {}
    assert released(aws_env.endpoint_url, world.number_arn)


def test_an_update_onto_a_full_instance_leaves_the_number_where_it_was_routed_as_it_was(
    stack, world, connect, aws_env
):
    assert stack.create("MainLine", props(world, ContactFlowArn=world.flow_b_arn)).ok
    # Instance A: the world's other number and four more make five.
    seed_numbers(aws_env.control, 4, world.instance_a, prefix="+1555401")

    response = stack.update("MainLine", props(world, TargetArn=world.instance_a_arn))

    assert response.status == "FAILED"
    assert 'quota "Phone numbers per instance"' in response.reason
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
    assert flow_of(connect, world.instance_b, world.number_arn) == world.flow_b_arn
    assert ownership_record(aws_env.endpoint_url, world.number_arn)["TargetArn"] == world.instance_b_arn


def test_the_same_create_succeeds_once_the_quota_is_raised(stack, world, connect, aws_env):
    seed_numbers(aws_env.control, 5, world.instance_b, prefix="+1555402")
    aws_env.control.set_phone_number_quota(6, instance_id=world.instance_b)

    response = stack.create("MainLine", props(world))

    assert response.ok, response.reason
    assert state_of(connect, world.number_arn)["target"] == world.instance_b_arn
