"""The emulator refuses an ARN where Connect's model documents only an ID, and accepts both forms where it
documents both (local_aws/connect/identifiers.py says which and why).

One case per operation the emulator serves that has an identifier parameter: the ID-only ones are called
with the ARN of a resource that exists (so only the form can be wrong), and must answer the 400 Connect
answers and change nothing; the same call with the ID passes that check. Runs in-process and against the
server (see conftest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from connect_emulator_helpers import error_of, summary
from test_connect_emulator_fidelity import (
    FLOW_A,
    INSTANCE_A,
    INSTANCE_B,
    NUMBER,
    NUMBER_ARN,
    TDG,
    TDG_ARN,
    arn,
    world,
)

from local_aws.connect.identifiers import error_code_for, id_only_members
from local_aws.connect.responses import ConnectEmulatorResponse

FLOW_A_ARN = arn(f"instance/{INSTANCE_A}/contact-flow/{FLOW_A}")
INSTANCE_A_ARN = arn(f"instance/{INSTANCE_A}")
INSTANCE_B_ARN = arn(f"instance/{INSTANCE_B}")
Call = Callable[[Any, str], Any]

# operation -> (member, call with the member's value): the ID-only members, one case each.
ID_ONLY: dict[str, tuple[str, Call]] = {
    "ClaimPhoneNumber": (
        "InstanceId",
        lambda c, v: c.claim_phone_number(InstanceId=v, PhoneNumber="+15555550177", ClientToken="claim"),
    ),
    "SearchAvailablePhoneNumbers": (
        "InstanceId",
        lambda c, v: c.search_available_phone_numbers(
            InstanceId=v, PhoneNumberCountryCode="US", PhoneNumberType="DID"
        ),
    ),
    "UpdatePhoneNumber": (
        "InstanceId",
        lambda c, v: c.update_phone_number(PhoneNumberId=NUMBER, InstanceId=v, ClientToken="move"),
    ),
    "ListPhoneNumbersV2": ("InstanceId", lambda c, v: c.list_phone_numbers_v2(InstanceId=v)),
    "AssociatePhoneNumberContactFlow": (
        "InstanceId",
        lambda c, v: c.associate_phone_number_contact_flow(
            PhoneNumberId=NUMBER, InstanceId=v, ContactFlowId=FLOW_A
        ),
    ),
    "DisassociatePhoneNumberContactFlow": (
        "InstanceId",
        lambda c, v: c.disassociate_phone_number_contact_flow(PhoneNumberId=NUMBER, InstanceId=v),
    ),
    "CreateContactFlow": (
        "InstanceId",
        lambda c, v: c.create_contact_flow(InstanceId=v, Name="new", Type="CONTACT_FLOW", Content="{}"),
    ),
    "DescribeContactFlow": (
        "InstanceId",
        lambda c, v: c.describe_contact_flow(InstanceId=v, ContactFlowId=FLOW_A),
    ),
    "ListFlowAssociations": (
        "InstanceId",
        lambda c, v: c.list_flow_associations(InstanceId=v, ResourceType="VOICE_PHONE_NUMBER"),
    ),
    "BatchGetFlowAssociation": (
        "InstanceId",
        lambda c, v: c.batch_get_flow_association(
            InstanceId=v, ResourceIds=[NUMBER_ARN], ResourceType="VOICE_PHONE_NUMBER"
        ),
    ),
    "DescribeInstance": ("InstanceId", lambda c, v: c.describe_instance(InstanceId=v)),
    "DeleteInstance": ("InstanceId", lambda c, v: c.delete_instance(InstanceId=v)),
    "ListAnalyticsDataAssociations": (
        "InstanceId",
        lambda c, v: c.list_analytics_data_associations(InstanceId=v),
    ),
    "AssociateAnalyticsDataSet": (
        "InstanceId",
        lambda c, v: c.associate_analytics_data_set(InstanceId=v, DataSetId="contact_record"),
    ),
    "DisassociateAnalyticsDataSet": (
        "InstanceId",
        lambda c, v: c.disassociate_analytics_data_set(InstanceId=v, DataSetId="contact_record"),
    ),
}
ID_VALUES = {"InstanceId": (INSTANCE_A_ARN, INSTANCE_A)}

# Documented as ID or ARN: both forms are accepted.
BOTH_FORMS: dict[str, tuple[tuple[str, str], Call]] = {
    "DescribePhoneNumber": ((NUMBER, NUMBER_ARN), lambda c, v: c.describe_phone_number(PhoneNumberId=v)),
    "UpdatePhoneNumberMetadata": (
        (NUMBER, NUMBER_ARN),
        lambda c, v: c.update_phone_number_metadata(PhoneNumberId=v, PhoneNumberDescription="d"),
    ),
    "DescribeTrafficDistributionGroup": (
        (TDG, TDG_ARN),
        lambda c, v: c.describe_traffic_distribution_group(TrafficDistributionGroupId=v),
    ),
    "CreateTrafficDistributionGroup": (
        (INSTANCE_B, INSTANCE_B_ARN),
        lambda c, v: c.create_traffic_distribution_group(Name=f"g{len(v)}", InstanceId=v),
    ),
    "DescribeContactFlow": (
        (FLOW_A, FLOW_A_ARN),
        lambda c, v: c.describe_contact_flow(InstanceId=INSTANCE_A, ContactFlowId=v),
    ),
}


def refused(call: Call, client: Any, value: str) -> tuple[str, int] | None:
    try:
        call(client, value)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


def test_the_cases_cover_every_id_only_member_of_every_operation_the_emulator_serves():
    model = Loader().load_service_model("connect", "service-2")
    # moto dispatches an operation to the response method of its snake_case name.
    served = {name for name in model["operations"] if hasattr(ConnectEmulatorResponse, xform_name(name))}
    with_id_only = {op for op in served if id_only_members(op)}
    assert with_id_only == set(ID_ONLY)
    assert {op: id_only_members(op) for op in ID_ONLY} == {
        **{op: ("InstanceId",) for op in ID_ONLY},
        "AssociatePhoneNumberContactFlow": ("InstanceId", "ContactFlowId"),
    }
    # Documented as ID-or-ARN, so never refused for the form.
    assert id_only_members("CreateTrafficDistributionGroup") == ()
    assert id_only_members("DescribePhoneNumber") == ()


@pytest.mark.parametrize("operation", sorted(ID_ONLY))
def test_an_arn_where_connect_documents_an_id_is_refused_as_connect_refuses_it(
    connect_emulator: Any, operation: str
) -> None:
    connect_emulator.control.seed(world())
    client = connect_emulator.client()
    member, call = ID_ONLY[operation]
    as_arn, as_id = ID_VALUES[member]
    before = summary(client, NUMBER)
    assert refused(call, client, as_arn) == (error_code_for(operation), 400)
    assert summary(client, NUMBER) == before  # nothing changed
    logged = [c for c in connect_emulator.control.calls() if c["operation"] == operation]
    assert logged[-1]["error"] == error_code_for(operation)
    # The ID passes the form check (whatever the operation then answers for its own reasons).
    answer = refused(call, client, as_id)
    assert answer is None or answer[0] not in ("InvalidRequestException", "InvalidParameterException"), answer


def test_the_error_is_invalid_request_where_the_model_lists_it_else_invalid_parameter():
    # Real Connect's answer for an instance ARN (hashicorp/terraform-provider-aws#43356).
    assert error_code_for("ListFlowAssociations") == "InvalidRequestException"
    assert error_code_for("DescribeInstance") == "InvalidRequestException"
    # These list no InvalidRequestException; their documented 400 is InvalidParameterException.
    assert error_code_for("AssociatePhoneNumberContactFlow") == "InvalidParameterException"
    assert error_code_for("UpdatePhoneNumber") == "InvalidParameterException"


def test_a_flow_arn_as_contact_flow_id_is_refused_by_associate(connect_emulator: Any) -> None:
    connect_emulator.control.seed(world())
    client = connect_emulator.client()
    with pytest.raises(ClientError) as excinfo:
        client.associate_phone_number_contact_flow(
            PhoneNumberId=NUMBER, InstanceId=INSTANCE_A, ContactFlowId=FLOW_A_ARN
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)
    assert "ContactFlowId" in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize("operation", sorted(BOTH_FORMS))
def test_both_forms_are_accepted_where_connect_documents_both(connect_emulator: Any, operation: str) -> None:
    connect_emulator.control.seed(world())
    # A metadata update is in flight for move_seconds, and refuses the next change until it ends.
    connect_emulator.control.configure(move_seconds=0)
    client = connect_emulator.client()
    forms, call = BOTH_FORMS[operation]
    assert [refused(call, client, value) for value in forms] == [None, None]
