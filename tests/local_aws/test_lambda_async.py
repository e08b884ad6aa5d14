"""Lambda's asynchronous Invoke in the emulator (local_aws/connect/lambda_async.py): queued for the local
CloudFormation stand-in to run, answered as Lambda answers it."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws.connect import LocalControl
from local_aws.connect.lambda_async import ASYNC_PAYLOAD_LIMIT_BYTES

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:ProviderFunction"


@pytest.fixture
def lambda_client(connect_emulator_server):
    LocalControl().reset()
    yield boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=connect_emulator_server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    LocalControl().reset()


def test_an_event_invocation_is_queued_and_answered_202_with_no_body(lambda_client):
    event = {"RequestId": "r-1", "Continuation": {"Hop": 1}}

    response = lambda_client.invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=json.dumps(event))

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert LocalControl().take_invocations("r-2") == []
    assert LocalControl().take_invocations("r-1") == [{"function": FUNCTION, "payload": event}]
    assert LocalControl().take_invocations() == []  # taken once


def test_a_payload_over_lambdas_asynchronous_limit_is_refused(lambda_client):
    payload = json.dumps({"RequestId": "r-1", "Pad": "x" * ASYNC_PAYLOAD_LIMIT_BYTES})

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=payload)

    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert LocalControl().take_invocations() == []


def test_a_synchronous_invocation_is_refused_rather_than_run(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
