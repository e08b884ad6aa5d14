"""Who holds a number, as CloudFormation's DescribeStackResources(PhysicalResourceId=) answers: the answer is
one stack's resources, so it is filtered on the physical ID and the native type here."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from phone_number_assignment import stacks
from phone_number_assignment.connect import PhoneNumberState
from phone_number_assignment.errors import ManagedByAnotherStack, StackStatusUnknown
from phone_number_assignment.stack_reads import CloudFormationReads
from phone_number_assignment.stacks import refuse_if_managed_elsewhere
from phone_number_assignment.waiting import Budget

NUMBER = "arn:aws:connect:us-east-1:123456789012:phone-number/11111111-1111-4111-8111-111111111111"
HOME = "arn:aws:connect:us-east-1:123456789012:instance/22222222-2222-4222-8222-222222222222"
MINE = "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/44444444-4444-4444-8444-444444444444"
THEIRS = "arn:aws:cloudformation:us-east-1:123456789012:stack/numbers/55555555-5555-4555-8555-555555555555"
STAMP = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
STATE = PhoneNumberState(NUMBER, NUMBER.rsplit("/", 1)[1], "+15555550100", HOME, "CLAIMED", "", {})


def resource(logical_id: str, physical_id: str, resource_type: str, status: str, stack: str = THEIRS) -> dict:
    return {
        "StackName": stack.split("/")[1],
        "StackId": stack,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": resource_type,
        "Timestamp": STAMP,
        "ResourceStatus": status,
    }


@pytest.fixture(autouse=True)
def _no_remembered_deletions(monkeypatch):
    # Every test here uses the same stack IDs: what one test's events said must not answer the next.
    monkeypatch.setattr(stacks, "_FAILED_CREATIONS", {})


@pytest.fixture
def client():
    return boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def check(client, *answers) -> None:
    slept: list[float] = []
    reads = CloudFormationReads(client, Budget(300), sleep=slept.append)
    with Stubber(client) as stub:
        for answer in answers:
            if isinstance(answer, tuple):
                stub.add_client_error("describe_stack_resources", answer[0], answer[1], http_status_code=400)
            else:
                stub.add_response(
                    "describe_stack_resources", {"StackResources": answer}, {"PhysicalResourceId": NUMBER}
                )
        refuse_if_managed_elsewhere(STATE, MINE, lambda: reads)
        stub.assert_no_pending_responses()


def test_no_stack_holding_the_arn_lets_the_number_be_taken(client):
    check(client, ("ValidationError", f"Stack for {NUMBER} does not exist"))


def test_a_live_native_holder_is_refused_though_a_released_one_is_listed_first(client):
    answer = [
        resource("OldLine", NUMBER, "AWS::Connect::PhoneNumber", "DELETE_SKIPPED"),
        resource("SupportLine", NUMBER, "AWS::Connect::PhoneNumber", "UPDATE_COMPLETE"),
        resource("Queue", "q-1", "AWS::Connect::Queue", "CREATE_COMPLETE"),
    ]
    with pytest.raises(ManagedByAnotherStack, match=f"SupportLine of stack {THEIRS} \\(UPDATE_COMPLETE\\)"):
        check(client, answer)


def test_only_the_native_type_refuses(client):
    # Our own Custom::PhoneNumberAssignment has the number's ARN as physical ID too: the record decides.
    check(client, [resource("MainLine", NUMBER, "Custom::PhoneNumberAssignment", "UPDATE_COMPLETE", MINE)])


def test_a_released_native_holder_lets_the_number_be_taken(client):
    check(client, [resource("SupportLine", NUMBER, "AWS::Connect::PhoneNumber", "DELETE_SKIPPED")])


def _first_100() -> list[dict]:
    return [resource(f"Topic{i}", f"t-{i}", "AWS::SNS::Topic", "CREATE_COMPLETE") for i in range(100)]


def _summary(logical_id: str, physical_id: str, resource_type: str, status: str) -> dict:
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": resource_type,
        "LastUpdatedTimestamp": STAMP,
        "ResourceStatus": status,
    }


def test_a_stack_cut_at_100_resources_is_paged_with_list_stack_resources(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_stack_resources", {"StackResources": _first_100()}, {"PhysicalResourceId": NUMBER}
        )
        stub.add_response(
            "describe_stacks", {"Stacks": [_stack("CREATE_COMPLETE", THEIRS)]}, {"StackName": THEIRS}
        )
        first = [_summary(f"Topic{i}", f"t-{i}", "AWS::SNS::Topic", "CREATE_COMPLETE") for i in range(100)]
        stub.add_response(
            "list_stack_resources",
            {"StackResourceSummaries": first, "NextToken": "page-2"},
            {"StackName": THEIRS},
        )
        second = [_summary("SupportLine", NUMBER, "AWS::Connect::PhoneNumber", "CREATE_COMPLETE")]
        stub.add_response(
            "list_stack_resources",
            {"StackResourceSummaries": second},
            {"StackName": THEIRS, "NextToken": "page-2"},
        )
        with pytest.raises(
            ManagedByAnotherStack, match=f"SupportLine of stack {THEIRS} \\(CREATE_COMPLETE\\)"
        ):
            refuse_if_managed_elsewhere(STATE, MINE, lambda: reads)
        stub.assert_no_pending_responses()


def test_a_stack_cut_at_100_that_cannot_be_listed_is_a_refusal_naming_the_permission(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_stack_resources", {"StackResources": _first_100()}, {"PhysicalResourceId": NUMBER}
        )
        stub.add_response(
            "describe_stacks", {"Stacks": [_stack("CREATE_COMPLETE", THEIRS)]}, {"StackName": THEIRS}
        )
        stub.add_client_error("list_stack_resources", "AccessDenied", "not authorized", http_status_code=403)
        with pytest.raises(ManagedByAnotherStack, match="cloudformation:ListStackResources"):
            refuse_if_managed_elsewhere(STATE, MINE, lambda: reads)


def test_throttling_is_waited_out_and_a_denial_is_a_refusal_naming_the_permission(client):
    check(client, ("Throttling", "Rate exceeded"), ("ValidationError", f"Stack for {NUMBER} does not exist"))
    with pytest.raises(ManagedByAnotherStack, match="cloudformation:DescribeStackResources"):
        check(client, ("AccessDenied", "not authorized"))


# ---- whether a Delete is a rollback --------------------------------------------------------------------


def _stack(status: str, stack_id: str = MINE, parent: str | None = None) -> dict:
    described = {
        "StackName": stack_id.split("/")[1],
        "StackId": stack_id,
        "CreationTime": STAMP,
        "StackStatus": status,
    }
    if parent:
        described.update(ParentId=parent, RootId=parent)
    return described


def _stack_event(stack_id: str, status: str) -> dict:
    name = stack_id.split("/")[1]
    return {
        "StackId": stack_id,
        "EventId": f"{name}-{status}",
        "StackName": name,
        "LogicalResourceId": name,
        "PhysicalResourceId": stack_id,
        "ResourceType": "AWS::CloudFormation::Stack",
        "Timestamp": STAMP,
        "ResourceStatus": status,
    }


def _resource_event(stack_id: str, index: int) -> dict:
    return {
        **_stack_event(stack_id, "DELETE_COMPLETE"),
        "EventId": f"r-{index}",
        "LogicalResourceId": f"Line{index}",
        "PhysicalResourceId": f"line-{index}",
        "ResourceType": "Custom::PhoneNumberAssignment",
    }


@pytest.mark.parametrize(
    ("status", "rolling_back"),
    [
        ("ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("IMPORT_ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", False),
        ("UPDATE_IN_PROGRESS", False),
    ],
)
def test_a_delete_is_a_rollback_only_in_the_statuses_cloudformation_rolls_back_in(
    client, status, rolling_back
):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [_stack(status)]}, {"StackName": MINE})
        assert stacks.rolling_back(MINE, lambda: reads) is rolling_back


def test_a_stack_status_cloudformation_does_not_give_is_a_reason_not_a_guess(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_client_error("describe_stacks", "AccessDenied", "not authorized", http_status_code=403)
        with pytest.raises(StackStatusUnknown, match="cloudformation:DescribeStacks"):
            stacks.rolling_back(MINE, lambda: reads)


@pytest.mark.parametrize(("before", "rolling_back"), [("CREATE_FAILED", True), ("UPDATE_COMPLETE", False)])
def test_a_deletion_right_after_a_failed_creation_is_a_rollback_read_from_events_across_pages(
    client, before, rolling_back
):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    # Newest first: the deletion's resource events fill the first page; the stack's own events follow.
    first = [_resource_event(MINE, i) for i in range(100)]
    second = [
        _stack_event(MINE, "DELETE_IN_PROGRESS"),
        _resource_event(MINE, 100),
        _stack_event(MINE, before),
    ]
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [_stack("DELETE_IN_PROGRESS")]}, {"StackName": MINE})
        stub.add_response(
            "describe_stack_events", {"StackEvents": first, "NextToken": "2"}, {"StackName": MINE}
        )
        stub.add_response(
            "describe_stack_events", {"StackEvents": second}, {"StackName": MINE, "NextToken": "2"}
        )
        assert stacks.rolling_back(MINE, lambda: reads) is rolling_back
        stub.assert_no_pending_responses()


def test_a_nested_stack_is_rolled_back_when_its_parent_is(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    child = _stack("DELETE_IN_PROGRESS", MINE, parent=THEIRS)
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [child]}, {"StackName": MINE})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _stack_event(MINE, "DELETE_IN_PROGRESS"),
                    _stack_event(MINE, "CREATE_COMPLETE"),
                ]
            },
            {"StackName": MINE},
        )
        stub.add_response(
            "describe_stacks", {"Stacks": [_stack("ROLLBACK_IN_PROGRESS", THEIRS)]}, {"StackName": THEIRS}
        )
        assert stacks.rolling_back(MINE, lambda: reads) is True
        stub.assert_no_pending_responses()


def test_events_that_cannot_be_read_are_a_reason_naming_the_permission(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [_stack("DELETE_IN_PROGRESS")]}, {"StackName": MINE})
        stub.add_client_error("describe_stack_events", "AccessDenied", "not authorized", http_status_code=403)
        with pytest.raises(StackStatusUnknown, match="cloudformation:DescribeStackEvents"):
            stacks.rolling_back(MINE, lambda: reads)


def test_a_deletion_tried_again_after_it_failed_still_follows_the_failed_creation_and_is_read_once(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    events = [
        _stack_event(MINE, "DELETE_IN_PROGRESS"),
        _stack_event(MINE, "DELETE_FAILED"),
        _resource_event(MINE, 1),
        _stack_event(MINE, "DELETE_IN_PROGRESS"),
        _stack_event(MINE, "CREATE_FAILED"),
        _stack_event(MINE, "CREATE_IN_PROGRESS"),
    ]
    deleting = {"Stacks": [_stack("DELETE_IN_PROGRESS")]}
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", deleting, {"StackName": MINE})
        stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": MINE})
        stub.add_response("describe_stacks", deleting, {"StackName": MINE})
        assert stacks.rolling_back(MINE, lambda: reads) is True
        # The next Delete of the same stack's deletion reads its status, not its events again.
        assert stacks.rolling_back(MINE, lambda: reads) is True
        stub.assert_no_pending_responses()


def test_a_nested_stack_cleaning_up_a_committed_update_is_not_rolled_back_by_its_ancestors(client):
    reads = CloudFormationReads(client, Budget(300), sleep=lambda _: None)
    cleaning = _stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", MINE, parent=THEIRS)
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [cleaning]}, {"StackName": MINE})
        assert stacks.rolling_back(MINE, lambda: reads) is False
        stub.assert_no_pending_responses()  # no ancestor read: the stack's own status says it all
