"""The ownership record and the rules for taking it, against moto's DynamoDB and CloudFormation.

CloudFormation's answers about stack resources come from the emulator's record of played stacks
(local_aws/connect/played_stacks.py), as the handler-level tests get them.
"""

from __future__ import annotations

import functools

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from local_aws.cloudformation import stack_arn
from local_aws.connect.install import install as install_emulator
from local_aws.connect.played_stacks import play
from phone_number_assignment import ownership
from phone_number_assignment.connect import PhoneNumberState
from phone_number_assignment.errors import (
    DuplicateAssignment,
    Overtaken,
    OwnerNotChecked,
    OwnershipConflict,
    OwnershipTableLost,
    ProviderError,
    ServiceUnavailable,
)
from phone_number_assignment.records import OWNERSHIP_TABLE, OwnershipRecords, Predecessor, Record, State
from phone_number_assignment.stack_reads import CloudFormationReads
from phone_number_assignment.tags import Owner, owner_tags
from phone_number_assignment.waiting import Budget

REGION = "us-east-1"
NUMBER = "arn:aws:connect:us-east-1:123456789012:phone-number/11111111-1111-4111-8111-111111111111"
HOME = "arn:aws:connect:us-east-1:123456789012:instance/22222222-2222-4222-8222-222222222222"
AWAY = "arn:aws:connect:us-east-1:123456789012:instance/33333333-3333-4333-8333-333333333333"
STACK = stack_arn("consumer", stack_uuid="44444444-4444-4444-8444-444444444444")
OTHER_STACK = stack_arn("other", stack_uuid="55555555-5555-4555-8555-555555555555")
ME = Owner(STACK, "MainLine")
NOW = 1_800_000_000.0


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    install_emulator()
    with mock_aws():
        yield


@functools.cache
def _session():
    # mock_aws gives boto3 a new default session each time, which loads botocore's models again (about
    # 0.15 s of CPU per test); moto intercepts the clients of a session made before it started as well.
    return boto3.session.Session()


@pytest.fixture
def records(aws) -> OwnershipRecords:
    client = _session().client("dynamodb", region_name=REGION)
    return OwnershipRecords(client, Budget(30), sleep=lambda _: None)


@pytest.fixture
def cloudformation(aws):
    client = _session().client("cloudformation", region_name=REGION)
    return lambda: client


def number(target: str = HOME, tags: dict[str, str] | None = None) -> PhoneNumberState:
    return PhoneNumberState(
        NUMBER, NUMBER.rsplit("/", 1)[1], "+15555550100", target, "CLAIMED", "", tags or {}
    )


def requester(owner=ME, *, requested_at=NOW, request_id="request-1", request_type="Create"):
    return ownership.Requester(owner, request_id, requested_at, request_type)


def acquire(
    records,
    cloudformation,
    owner=ME,
    state=None,
    *,
    target=AWAY,
    requested_at=NOW,
    request_id="request-1",
    request_type="Create",
    settle=None,
):
    """ownership.acquire; returns the record the request holds and the state it settled on."""
    return ownership.acquire(
        records,
        state or number(),
        requester(owner, requested_at=requested_at, request_id=request_id, request_type=request_type),
        target,
        cloudformation=cloudformation,
        **({"settle": settle} if settle else {}),
    )


# ---- the record ----------------------------------------------------------------------------------------


def test_a_record_survives_the_round_trip_through_dynamodb_whole(records):
    record = Record(
        NUMBER,
        ME,
        State.UNDOING,
        AWAY,
        HOME,
        "arn:aws:connect:us-east-1:123456789012:instance/x/contact-flow/y",
        Predecessor(Owner(STACK, "OldName"), HOME, AWAY, ""),
        requested_at=NOW,
        request_id="request-1",
        request_type="Delete",
        previous_contact_flow_arn="arn:aws:connect:us-east-1:123456789012:instance/z/contact-flow/w",
    )

    assert records.create(record)

    assert records.get(NUMBER) == record
    item = (
        _session()
        .client("dynamodb", region_name=REGION)
        .get_item(TableName=OWNERSHIP_TABLE, Key={"PhoneNumberArn": {"S": NUMBER}})
    )
    assert item["Item"]["SchemaVersion"] == {"N": "1"}


def test_reading_before_any_write_creates_no_table(records):
    assert records.get(NUMBER) is None
    assert _session().client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []


def test_writes_are_conditional_on_what_was_read(records):
    first = Record(NUMBER, ME, State.PENDING, AWAY, HOME)
    assert records.create(first)
    assert not records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.PENDING, AWAY, HOME))

    moved = first.next(state=State.MOVING)
    assert records.replace(first, moved)
    assert not records.replace(first, first.next(state=State.ASSIGNED))  # stale version
    assert records.get(NUMBER) == moved


def test_throttled_dynamodb_calls_are_retried_within_the_budget():
    client = _session().client(
        "dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    slept: list[float] = []
    records = OwnershipRecords(client, Budget(120), sleep=slept.append)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
        stub.add_client_error("get_item", "ThrottlingException", http_status_code=400)
        stub.add_response("get_item", {})

        assert records.get(NUMBER) is None

    assert len(slept) == 2


def test_dynamodb_throttling_past_the_budget_is_a_clear_failure():
    client = _session().client(
        "dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    records = OwnershipRecords(client, Budget(0), sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_client_error("put_item", "ThrottlingException", http_status_code=400)
        with pytest.raises(ServiceUnavailable, match="DynamoDB kept answering ThrottlingException"):
            records.create(Record(NUMBER, ME, State.PENDING, AWAY, HOME))


# ---- taking a number -----------------------------------------------------------------------------------


def test_a_fresh_number_is_taken_pending_with_where_it_is_as_the_restore_target(records, cloudformation):
    record, _ = acquire(records, cloudformation)

    assert (record.owner, record.state, record.target_arn, record.previous_target_arn) == (
        ME,
        State.PENDING,
        AWAY,
        HOME,
    )
    assert records.get(NUMBER) == record


def test_its_owner_takes_it_again_without_writing(records, cloudformation):
    first, _ = acquire(records, cloudformation)

    again, _ = acquire(records, cloudformation, state=number(AWAY))

    assert again == first


def test_a_live_owner_of_another_stack_is_refused(records, cloudformation):
    play(
        OTHER_STACK,
        stack_status="CREATE_COMPLETE",
        logical_id="Line",
        resource_status="CREATE_COMPLETE",
        physical_id=NUMBER,
    )
    held = Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME)
    assert records.create(held)

    with pytest.raises(OwnershipConflict, match=f"already assigned by Line in stack {OTHER_STACK}"):
        acquire(records, cloudformation)
    assert records.get(NUMBER) == held


def test_a_number_is_only_waited_for_when_it_is_being_taken(records, cloudformation):
    play(OTHER_STACK, logical_id="Line", resource_status="UPDATE_COMPLETE", physical_id=NUMBER)
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME))
    moving = PhoneNumberState(NUMBER, "id", "+15555550100", AWAY, "IN_PROGRESS", "")
    waited = []

    def settle(state):
        waited.append(state)
        return number(AWAY)

    # Refused at once: no waiting for a move that is not this request's.
    with pytest.raises(OwnershipConflict):
        acquire(records, cloudformation, state=moving, settle=settle)
    assert waited == []
    # Taken: where the move in flight settles is the restore target.
    released = records.get(NUMBER)
    assert records.replace(released, released.next(state=State.RELEASED))
    record, state = acquire(records, cloudformation, state=moving, settle=settle)
    assert waited == [moving]
    assert (record.previous_target_arn, state.status) == (AWAY, "CLAIMED")


def test_another_stacks_request_in_flight_is_refused_as_unfinished(records, cloudformation):
    play(OTHER_STACK, logical_id="Line", resource_status="CREATE_IN_PROGRESS")  # no physical ID yet
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.MOVING, HOME, HOME))

    with pytest.raises(OwnershipConflict, match="in a stack operation that has not succeeded"):
        acquire(records, cloudformation)


@pytest.mark.parametrize(
    ("resource_status", "physical_id"),
    [
        ("DELETE_COMPLETE", NUMBER),
        ("DELETE_SKIPPED", NUMBER),
        ("UPDATE_COMPLETE", NUMBER.replace("1111", "9999")),
    ],
)
def test_an_owner_whose_stack_resource_let_go_is_replaced(
    records, cloudformation, resource_status, physical_id
):
    play(OTHER_STACK, logical_id="Line", resource_status=resource_status, physical_id=physical_id)
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME))

    record, _ = acquire(records, cloudformation, state=number(HOME))

    assert (record.owner, record.state, record.version) == (ME, State.PENDING, 1)


def test_an_owner_cloudformation_cannot_be_asked_about_is_kept(records):
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME))
    client = _session().client("cloudformation", region_name=REGION)

    with Stubber(client) as stub:
        stub.add_client_error("describe_stack_resource", "AccessDenied", http_status_code=403)
        with pytest.raises(OwnerNotChecked, match="cloudformation:DescribeStackResource"):
            acquire(records, lambda: client)
    assert records.get(NUMBER).owner == Owner(OTHER_STACK, "Line")


def test_cloudformation_throttled_a_while_is_waited_out_not_taken_for_an_answer(records):
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME))
    client = _session().client("cloudformation", region_name=REGION)
    slept: list[float] = []
    reads = CloudFormationReads(client, Budget(300), sleep=slept.append)
    gone = {"StackResourceDetail": {"LogicalResourceId": "Line", "ResourceStatus": "DELETE_SKIPPED"}}
    detail = {**gone["StackResourceDetail"], "StackName": "other", "ResourceType": "Custom::X"}
    detail |= {"LastUpdatedTimestamp": "2026-01-01T00:00:00Z"}

    with Stubber(client) as stub:
        stub.add_client_error("describe_stack_resource", "Throttling", http_status_code=400)
        stub.add_client_error("describe_stack_resource", "Throttling", http_status_code=400)
        stub.add_response("describe_stack_resource", {"StackResourceDetail": detail})
        record, _ = acquire(records, lambda: reads)

    assert record.owner == ME
    assert len(slept) == 2


def test_cloudformation_throttled_past_the_budget_is_a_refusal_naming_the_permission(records):
    assert records.create(Record(NUMBER, Owner(OTHER_STACK, "Line"), State.ASSIGNED, HOME, HOME))
    client = _session().client("cloudformation", region_name=REGION)
    reads = CloudFormationReads(client, Budget(0), sleep=lambda _: None)

    with Stubber(client) as stub:
        stub.add_client_error("describe_stack_resource", "Throttling", http_status_code=400)
        with pytest.raises(OwnerNotChecked, match="Throttling"):
            acquire(records, lambda: reads)
    assert records.get(NUMBER).owner == Owner(OTHER_STACK, "Line")


def _table_exists(records) -> None:
    """Another number's record: the table is there, this number simply has no record (a release that
    stopped half-way)."""
    assert records.create(Record(NUMBER.replace("1111-4111", "9999-4999"), ME, State.RELEASED, "", HOME))


def test_tags_without_a_record_still_name_an_owner(records, cloudformation):
    _table_exists(records)
    play(OTHER_STACK, logical_id="Line", resource_status="UPDATE_COMPLETE", physical_id=NUMBER)
    tagged = number(tags=owner_tags(Owner(OTHER_STACK, "Line"), HOME))

    with pytest.raises(OwnershipConflict, match="already assigned by Line"):
        acquire(records, cloudformation, state=tagged)


def test_its_own_tags_without_a_record_are_adopted(records, cloudformation):
    _table_exists(records)
    tagged = number(AWAY, tags=owner_tags(ME, HOME))

    record, _ = acquire(records, cloudformation, state=tagged)

    assert (record.state, record.previous_target_arn) == (State.ASSIGNED, HOME)
    assert records.get(NUMBER) == record


def test_a_lost_table_is_reported_not_created_again_behind_the_owners_tags(records, cloudformation):
    tagged = number(AWAY, tags=owner_tags(ME, HOME))

    with pytest.raises(OwnershipTableLost, match="restore-table-to-point-in-time"):
        acquire(records, cloudformation, state=tagged)
    assert _session().client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []


def test_the_table_is_created_with_deletion_protection_and_point_in_time_recovery(records, cloudformation):
    acquire(records, cloudformation)

    dynamodb = _session().client("dynamodb", region_name=REGION)
    assert dynamodb.describe_table(TableName=OWNERSHIP_TABLE)["Table"]["DeletionProtectionEnabled"] is True
    backups = dynamodb.describe_continuous_backups(TableName=OWNERSHIP_TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_a_deployment_that_does_not_create_the_table_says_how_to_provide_it(aws):
    client = _session().client("dynamodb", region_name=REGION)
    records = OwnershipRecords(client, Budget(30), sleep=lambda _: None, create_table=False)

    with pytest.raises(ProviderError, match=r"samples/ownership-table\.yaml"):
        records.create(Record(NUMBER, ME, State.PENDING, AWAY, HOME))
    assert client.list_tables()["TableNames"] == []


# ---- one stack, two logical IDs ---------------------------------------------------------------------------


def _held_by_old_name(records, state: State = State.ASSIGNED) -> Record:
    play(STACK, logical_id="OldName", resource_status="CREATE_COMPLETE", physical_id=NUMBER)
    held = Record(NUMBER, Owner(STACK, "OldName"), state, AWAY, HOME)
    assert records.create(held)
    return held


def test_a_rename_in_a_stack_update_takes_over_and_remembers_the_old_owner(records, cloudformation):
    held = _held_by_old_name(records)
    play(STACK, stack_status="UPDATE_IN_PROGRESS")

    record, _ = acquire(records, cloudformation, state=number(AWAY), target=HOME)

    assert record.owner == ME
    assert record.previous_target_arn == HOME  # the old owner's restore target, not where it is now
    assert record.predecessor == Predecessor(held.owner, AWAY, HOME, "")
    assert records.get(NUMBER) == record


@pytest.mark.parametrize(
    ("stack_status", "held_state"),
    [("CREATE_IN_PROGRESS", State.ASSIGNED), ("UPDATE_IN_PROGRESS", State.PENDING)],
)
def test_a_duplicate_in_one_stack_is_refused_naming_the_holder(
    records, cloudformation, stack_status, held_state
):
    held = _held_by_old_name(records, held_state)
    play(STACK, stack_status=stack_status)

    with pytest.raises(DuplicateAssignment, match="already declared by OldName in this stack"):
        acquire(records, cloudformation, state=number(AWAY))
    assert records.get(NUMBER) == held


# ---- the order of one resource's requests ---------------------------------------------------------------


def test_a_release_stops_the_create_it_cancelled_and_no_other(records, cloudformation):
    assert records.create(Record(NUMBER, ME, State.RELEASED, "", HOME, **_delete_at(NOW)))

    with pytest.raises(Overtaken, match="cancelled this Create"):
        acquire(records, cloudformation, requested_at=NOW - 5)
    # In the same second, too: CloudFormation sends the cancelling Delete after the Create.
    with pytest.raises(Overtaken, match="cancelled this Create"):
        acquire(records, cloudformation, requested_at=NOW)
    later, _ = acquire(records, cloudformation, requested_at=NOW + 5, request_id="request-2")
    assert later.state is State.PENDING


def test_an_earlier_versions_tombstone_still_stops_the_create_it_cancelled(records, cloudformation):
    assert records.create(Record("arn:other", ME, State.ASSIGNED, "", HOME))  # the table exists
    item = Record(NUMBER, ME, State.ASSIGNED, "", HOME).to_item(NOW)
    item.update({"State": {"S": "CANCELLED"}, "CancelledAt": {"S": "2027-01-15T08:00:00.000+00:00"}})
    _session().client("dynamodb", region_name=REGION).put_item(TableName=OWNERSHIP_TABLE, Item=item)

    with pytest.raises(Overtaken, match="cancelled this Create"):
        acquire(records, cloudformation, requested_at=NOW - 5)


def test_a_release_leaves_the_number_free_for_everyone_else(records, cloudformation):
    assert records.create(
        Record(NUMBER, Owner(OTHER_STACK, "Line"), State.RELEASED, "", HOME, **_delete_at(NOW))
    )

    record, _ = acquire(records, cloudformation, requested_at=NOW - 5)

    assert record.owner == ME


def test_a_number_being_put_back_is_nobody_elses_until_the_undo_is_over(records, cloudformation):
    play(OTHER_STACK, logical_id="Line", resource_status="DELETE_IN_PROGRESS", physical_id=NUMBER)
    undoing = Record(NUMBER, Owner(OTHER_STACK, "Line"), State.UNDOING, AWAY, HOME, **_delete_at(NOW))
    assert records.create(undoing)

    with pytest.raises(OwnershipConflict, match="being put back by Line"):
        acquire(records, cloudformation, requested_at=NOW + 5)
    assert records.get(NUMBER) == undoing


def test_an_older_update_is_overtaken_by_a_newer_one_whichever_reads_first(records, cloudformation):
    assigned = Record(NUMBER, ME, State.ASSIGNED, AWAY, HOME, requested_at=NOW - 60, request_id="create")
    assert records.create(assigned)
    older = requester(requested_at=NOW, request_id="update", request_type="Update")
    newer = requester(requested_at=NOW + 2, request_id="rollback", request_type="Update")

    held, _ = ownership.acquire(records, number(AWAY), older, HOME, cloudformation=cloudformation)
    ownership.acquire(records, number(AWAY), newer, AWAY, cloudformation=cloudformation)

    # The older one's fence, before its move and before each retry of it, finds the newer one's stamp.
    with pytest.raises(Overtaken, match="newer Update"):
        ownership.current(records, number(AWAY), held, older)
    with pytest.raises(Overtaken):
        ownership.advance(records, number(AWAY), held, older, state=State.ASSIGNED)
    # Delivered again later, the older one changes nothing at all.
    with pytest.raises(Overtaken):
        ownership.acquire(records, number(AWAY), older, HOME, cloudformation=cloudformation)
    assert records.get(NUMBER).request_id == "rollback"


def test_two_updates_in_one_second_the_one_that_stamps_last_is_the_newer(records, cloudformation):
    assert records.create(Record(NUMBER, ME, State.ASSIGNED, AWAY, HOME, requested_at=NOW - 60))
    first = requester(requested_at=NOW, request_id="update", request_type="Update")
    second = requester(requested_at=NOW, request_id="rollback", request_type="Update")

    held, _ = ownership.acquire(records, number(AWAY), first, HOME, cloudformation=cloudformation)
    ownership.acquire(records, number(AWAY), second, AWAY, cloudformation=cloudformation)

    with pytest.raises(Overtaken):
        ownership.current(records, number(AWAY), held, first)


def test_a_cancelling_delete_builds_on_the_create_it_cancels_still_writing(records, cloudformation):
    held, _ = acquire(records, cloudformation, requested_at=NOW)
    cancelling = requester(requested_at=NOW, request_id="delete", request_type="Delete")
    # The Create writes MOVING between the Delete's read and its write.
    assert records.replace(held, held.next(state=State.MOVING))

    undoing = ownership.advance(records, number(), held, cancelling, state=State.UNDOING)

    assert (undoing.state, undoing.request_id) == (State.UNDOING, "delete")


def _delete_at(seconds: float) -> dict:
    return {"requested_at": seconds, "request_id": "delete", "request_type": "Delete"}


def test_a_fence_builds_on_a_second_delivery_of_the_same_request(records, cloudformation):
    record, _ = acquire(records, cloudformation)
    assert records.replace(record, record.next(state=State.MOVING))

    advanced = ownership.advance(records, number(), record, requester(), state=State.MOVING)

    assert (advanced.state, advanced.version) == (State.MOVING, 2)


def test_a_fence_refuses_when_someone_else_holds_the_record(records, cloudformation):
    record, _ = acquire(records, cloudformation)
    stolen = Record(NUMBER, Owner(OTHER_STACK, "Line"), State.PENDING, HOME, HOME, version=record.version + 1)
    assert records.replace(record, stolen)

    with pytest.raises(OwnershipConflict, match="changed by Line"):
        ownership.advance(records, number(), record, requester(), state=State.MOVING)
