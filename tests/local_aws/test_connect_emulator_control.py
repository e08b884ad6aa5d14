"""The control API (both LocalControl and HttpControl), resets, concurrency and the server entry point."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError
from connect_emulator_helpers import (
    ACCOUNT_ID,
    claim_number,
    create_instance,
    error_of,
    summary,
    wait_until_settled,
)

from local_aws.connect import LocalControl, install

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_A = "2b1c9a4e-7d3f-4c8a-9e21-5f6b8d0a3c17"
INSTANCE_B = "8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846"
TDG = "5a7c3e91-2d4b-4e6f-8a1c-9b3d7f0e2a64"
FLOW = "c3d9e7f1-4a2b-4c8d-b6e5-1f0a9d2c7b38"
NUMBER = "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"
TDG_NUMBER = "0f3e8b1a-6c2d-4a9e-8b7f-3d1c5e9a2b40"
WORLD = {
    "account_id": ACCOUNT_ID,
    "region": "us-east-1",
    "instances": [{"id": INSTANCE_A, "alias": "primary"}, {"id": INSTANCE_B, "alias": "secondary"}],
    "traffic_distribution_groups": [{"id": TDG, "name": "global", "instance_id": INSTANCE_A}],
    "contact_flows": [{"id": FLOW, "instance_id": INSTANCE_A, "name": "Main menu"}],
    "phone_numbers": [
        {
            "id": NUMBER,
            "phone_number": "+15555550100",
            "target": INSTANCE_A,
            "tags": {"owner": "seed"},
            "contact_flow_id": FLOW,
        },
        {"id": TDG_NUMBER, "phone_number": "+18005550199", "target": TDG},
    ],
}

INJECTABLE = [
    ("ThrottlingException", 429),
    ("InternalServiceException", 500),
    ("AccessDeniedException", 403),
    ("ResourceInUseException", 409),
    ("ResourceNotFoundException", 404),
    ("InvalidParameterException", 400),
    ("IdempotencyException", 409),
]


def instance_arn(instance_id: str) -> str:
    return f"arn:aws:connect:us-east-1:{ACCOUNT_ID}:instance/{instance_id}"


def test_seed_creates_fixed_ids_that_are_claimed_at_once(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    arns = connect_emulator.control.seed(WORLD)
    assert arns["instances"][INSTANCE_A] == instance_arn(INSTANCE_A)
    assert arns["phone_numbers"][NUMBER] == f"arn:aws:connect:us-east-1:{ACCOUNT_ID}:phone-number/{NUMBER}"
    assert arns["traffic_distribution_groups"][TDG].endswith(f":traffic-distribution-group/{TDG}")
    assert arns["contact_flows"][FLOW] == f"{instance_arn(INSTANCE_A)}/contact-flow/{FLOW}"

    seeded = summary(emulated_connect, NUMBER)
    assert (seeded["PhoneNumber"], seeded["TargetArn"], seeded["PhoneNumberStatus"], seeded["Tags"]) == (
        "+15555550100",
        instance_arn(INSTANCE_A),
        {"Status": "CLAIMED"},
        {"owner": "seed"},
    )
    on_tdg = summary(emulated_connect, arns["phone_numbers"][TDG_NUMBER])
    assert (on_tdg["TargetArn"], on_tdg["InstanceId"], on_tdg["PhoneNumberType"]) == (
        arns["traffic_distribution_groups"][TDG],
        INSTANCE_A,
        "TOLL_FREE",
    )
    assert (
        emulated_connect.describe_instance(InstanceId=INSTANCE_B)["Instance"]["InstanceAlias"] == "secondary"
    )
    flows = emulated_connect.list_flow_associations(InstanceId=INSTANCE_A)["FlowAssociationSummaryList"]
    assert [(f["ResourceId"], f["FlowId"]) for f in flows] == [
        (arns["phone_numbers"][NUMBER], arns["contact_flows"][FLOW])
    ]
    assert connect_emulator.control.moves() == []

    connect_emulator.control.seed(WORLD)  # seeding again is harmless
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
    assert wait_until_settled(emulated_connect, NUMBER, instance_arn(INSTANCE_B))["InstanceId"] == INSTANCE_B


def test_calls_log_every_call_in_order(connect_emulator: Any, emulated_connect: Any, clock: Any) -> None:
    connect_emulator.control.seed(WORLD)
    before = clock.time()
    summary(emulated_connect, NUMBER)
    with pytest.raises(ClientError):
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, TargetArn="bogus", ClientToken="tok")
    calls = connect_emulator.control.calls()
    assert [(c["operation"], c["status"], c["error"]) for c in calls] == [
        ("DescribePhoneNumber", 200, None),
        ("UpdatePhoneNumber", 400, "InvalidParameterException"),
    ]
    assert calls[0]["params"] == {"PhoneNumberId": NUMBER}
    assert calls[1]["params"] == {"PhoneNumberId": NUMBER, "TargetArn": "bogus", "ClientToken": "tok"}
    assert before <= calls[0]["time"] <= calls[1]["time"] <= clock.time()

    connect_emulator.control.reset()
    assert connect_emulator.control.calls() == []


def test_moves_record_claims_and_moves(connect_emulator: Any, emulated_connect: Any) -> None:
    source, destination = create_instance(emulated_connect), create_instance(emulated_connect)
    number = claim_number(emulated_connect, source["Arn"])
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"], destination["Arn"])
    claim, move = connect_emulator.control.moves()
    assert claim["from_target"] is None
    assert (claim["to_target"], claim["outcome"]) == (source["Arn"], "CLAIMED")
    assert {
        k: move[k] for k in ("phone_number_id", "phone_number_arn", "from_target", "to_target", "outcome")
    } == {
        "phone_number_id": number["PhoneNumberId"],
        "phone_number_arn": number["PhoneNumberArn"],
        "from_target": source["Arn"],
        "to_target": destination["Arn"],
        "outcome": "CLAIMED",
    }
    assert claim["started_at"] <= claim["completes_at"] <= move["started_at"] <= move["completes_at"]


@pytest.mark.parametrize(("code", "status"), INJECTABLE)
def test_injected_errors_use_real_status_codes_and_change_nothing(
    connect_emulator: Any, emulated_connect: Any, code: str, status: int
) -> None:
    connect_emulator.control.seed(WORLD)
    connect_emulator.control.inject_error("UpdatePhoneNumber", code, count=2, message="injected")
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
        assert error_of(excinfo) == (code, status)
        assert excinfo.value.response["Error"]["Message"] == "injected"
    assert summary(emulated_connect, NUMBER)["TargetArn"] == instance_arn(INSTANCE_A)
    assert connect_emulator.control.moves() == []

    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
    assert [
        c["error"] for c in connect_emulator.control.calls() if c["operation"] == "UpdatePhoneNumber"
    ] == [
        code,
        code,
        None,
    ]


def test_inject_error_rejects_unknown_codes(connect_emulator: Any) -> None:
    with pytest.raises(ValueError, match="NoSuchError"):
        connect_emulator.control.inject_error("DescribePhoneNumber", "NoSuchError")


def _dynamodb(connect_emulator: Any) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"region_name": "us-east-1", "config": Config(retries={"total_max_attempts": 1})}
    if connect_emulator.endpoint_url:
        kwargs |= {
            "endpoint_url": connect_emulator.endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    return boto3.client("dynamodb", **kwargs)


def _client(connect_emulator: Any, service: str) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"region_name": "us-east-1", "config": Config(retries={"total_max_attempts": 1})}
    if connect_emulator.endpoint_url:
        kwargs |= {
            "endpoint_url": connect_emulator.endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    return boto3.client(service, **kwargs)


# One read of each service the provider calls, and what it answers when no fault is in the way.
_READS = {
    "connect": ("DescribePhoneNumber", {"PhoneNumberId": "11111111-1111-4111-8111-111111111111"}),
    "dynamodb": ("GetItem", {"TableName": "T", "Key": {"K": {"S": "a"}}}),
    "cloudformation": ("DescribeStacks", {"StackName": "no-such-stack"}),
}


# Each fault (fault, status) and what botocore makes of it: (code, status), or None for a dropped connection.
_TRANSIENT_FAULTS = [
    ("ServiceUnavailable", None, ("ServiceUnavailable", 503)),
    ("InternalFailure", None, ("InternalFailure", 500)),
    ("RequestTimeout", None, ("RequestTimeout", 400)),
    ("PriorRequestNotComplete", 400, ("PriorRequestNotComplete", 400)),
    ("page", 502, ("502", 502)),  # no code: botocore takes the status for it
    ("page", 504, ("504", 504)),
    ("connection-reset", None, None),
]


@pytest.mark.parametrize("service", sorted(_READS))
def test_any_operation_of_any_service_can_meet_each_transient_fault(
    connect_emulator: Any, service: str
) -> None:
    from botocore import xform_name
    from botocore.exceptions import ConnectionClosedError

    client = _client(connect_emulator, service)
    operation, params = _READS[service]
    call = getattr(client, xform_name(operation))
    for fault, status, _ in _TRANSIENT_FAULTS:
        connect_emulator.control.inject_fault(service, operation, fault, status=status)

    for fault, _, expected in _TRANSIENT_FAULTS:
        if expected is None:
            with pytest.raises(ConnectionClosedError):
                call(**params)
        else:
            with pytest.raises(ClientError) as excinfo:
                call(**params)
            assert error_of(excinfo) == expected, fault
    # Each fault was for one call: the next reaches the service, which answers as it does (no such thing).
    with pytest.raises(ClientError) as after:
        call(**params)
    assert error_of(after)[1] in (400, 404)
    met = connect_emulator.control.faults_met()
    assert [(m["service"], m["operation"]) for m in met] == [(service, operation)] * len(_TRANSIENT_FAULTS)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"service": "s3", "fault": "InternalFailure"}, "service must be one of"),
        ({"fault": "AccessDeniedException"}, "fault must be one of"),
        ({"fault": "page", "status": 404}, "a page with no error code is one of"),
        ({"fault": "connection-reset", "status": 503}, "a dropped connection has no status"),
        ({"fault": "page", "served": True}, "served=True is for a dropped connection"),
        ({"fault": "InternalFailure", "count": 0}, "count must be at least 1"),
    ],
)
def test_inject_fault_rejects_what_no_front_end_answers(connect_emulator: Any, bad: Any, match: str) -> None:
    arguments = {"service": "connect", "operation": "UpdatePhoneNumber", **bad}
    with pytest.raises(ValueError, match=match):
        connect_emulator.control.inject_fault(**arguments)
    assert connect_emulator.control.faults_met() == []


def test_dynamodb_faults_answer_as_dynamodb_does_and_calls_are_counted(connect_emulator: Any) -> None:
    ddb = _dynamodb(connect_emulator)
    ddb.create_table(
        TableName="T",
        AttributeDefinitions=[{"AttributeName": "K", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "K", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    connect_emulator.control.inject_dynamodb_error("UpdateItem", "ProvisionedThroughputExceededException")
    update = {"TableName": "T", "Key": {"K": {"S": "a"}}, "UpdateExpression": "SET N1 = :n"}
    update["ExpressionAttributeValues"] = {":n": {"N": "1"}}

    with pytest.raises(ClientError) as excinfo:
        ddb.update_item(**update)
    assert error_of(excinfo) == ("ProvisionedThroughputExceededException", 400)
    assert "Item" not in ddb.get_item(TableName="T", Key={"K": {"S": "a"}})  # nothing written
    ddb.update_item(**update)  # the fault was for one call
    assert ddb.get_item(TableName="T", Key={"K": {"S": "a"}})["Item"]["N1"] == {"N": "1"}
    assert connect_emulator.control.service_calls() == {
        "dynamodb:CreateTable": 1,
        "dynamodb:UpdateItem": 2,
        "dynamodb:GetItem": 2,
    }
    with pytest.raises(ValueError, match="NoSuchError"):
        connect_emulator.control.inject_dynamodb_error("UpdateItem", "NoSuchError")


def test_rate_limit_throttles_beyond_the_bucket_and_changes_nothing(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(WORLD)
    connect_emulator.control.set_rate_limit("UpdatePhoneNumber", per_second=0.001, burst=1)
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_B)
    wait_until_settled(emulated_connect, NUMBER, instance_arn(INSTANCE_B))
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_A)
    assert error_of(excinfo) == ("ThrottlingException", 429)
    assert summary(emulated_connect, NUMBER)["TargetArn"] == instance_arn(INSTANCE_B)
    assert len(connect_emulator.control.moves()) == 1

    connect_emulator.control.set_rate_limit("UpdatePhoneNumber", None)
    emulated_connect.update_phone_number(PhoneNumberId=NUMBER, InstanceId=INSTANCE_A)


def test_a_rate_limit_can_answer_too_many_requests_instead(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    connect_emulator.control.seed(WORLD)
    connect_emulator.control.configure(throttling_error="TooManyRequestsException")
    connect_emulator.control.set_rate_limit("DescribePhoneNumber", per_second=0.001, burst=1)
    summary(emulated_connect, NUMBER)
    with pytest.raises(ClientError) as excinfo:
        summary(emulated_connect, NUMBER)
    assert error_of(excinfo) == ("TooManyRequestsException", 429)
    with pytest.raises(ValueError, match="throttling_error"):
        connect_emulator.control.configure(throttling_error="LimitExceededException")

    connect_emulator.control.configure(throttling_error="ThrottlingException")
    with pytest.raises(ClientError) as excinfo:
        summary(emulated_connect, NUMBER)
    assert error_of(excinfo) == ("ThrottlingException", 429)


def test_default_quotas_throttle_a_burst_of_describes(connect_emulator: Any, emulated_connect: Any) -> None:
    connect_emulator.control.seed(WORLD)
    connect_emulator.control.use_default_quotas()
    outcomes = []
    for _ in range(10):
        try:
            summary(emulated_connect, NUMBER)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error_of(pytest.ExceptionInfo.from_exc_info((type(error), error, None)))[0])
    assert outcomes[:2] == ["ok", "ok"]
    assert "ThrottlingException" in outcomes
    # Other operations keep their unlimited default.
    for _ in range(5):
        emulated_connect.list_phone_numbers_v2()


def test_concurrent_callers_see_consistent_state(connect_emulator: Any, emulated_connect: Any) -> None:
    connect_emulator.control.seed(WORLD)
    numbers = [claim_number(emulated_connect, instance_arn(INSTANCE_A), f"+1206555{i:04d}") for i in range(5)]
    errors: list[BaseException] = []
    start = threading.Barrier(50)

    def caller(index: int) -> None:
        client = connect_emulator.client()
        try:
            start.wait()
            number = numbers[index % len(numbers)]
            if index < len(numbers):
                client.update_phone_number(PhoneNumberId=number["PhoneNumberId"], InstanceId=INSTANCE_B)
            for _ in range(3):
                assert summary(client, number["PhoneNumberArn"])["PhoneNumber"].startswith("+1206555")
        except BaseException as error:  # noqa: BLE001 - collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for number in numbers:
        wait_until_settled(emulated_connect, number["PhoneNumberId"], instance_arn(INSTANCE_B))
    assert len(connect_emulator.control.moves()) == 2 * len(numbers)
    assert sum(c["operation"] == "DescribePhoneNumber" for c in connect_emulator.control.calls()) >= 150


def test_configure_validates_and_reset_restores_defaults(
    connect_emulator: Any, emulated_connect: Any
) -> None:
    with pytest.raises(ValueError, match="move_seconds"):
        connect_emulator.control.configure(move_seconds=-1)
    connect_emulator.control.reset()
    instance = create_instance(emulated_connect)
    emulated_connect.claim_phone_number(TargetArn=instance["Arn"], PhoneNumber="+12065550100")
    (claim,) = connect_emulator.control.moves()
    assert claim["completes_at"] - claim["started_at"] == pytest.approx(1.5)


def test_install_is_idempotent_and_keeps_moto_working() -> None:
    import moto.connect.urls as moto_connect_urls

    paths_before = dict(moto_connect_urls.url_paths)
    install()
    install()
    assert moto_connect_urls.url_paths == paths_before
    with moto.mock_aws():
        import boto3

        client = boto3.client("connect", region_name="eu-west-2")
        created = create_instance(client)
        assert client.describe_instance(InstanceId=created["Id"])["Instance"]["Arn"] == created["Arn"]


def test_moto_reset_clears_emulator_data() -> None:
    from moto.core.base_backend import BackendDict

    control = LocalControl()
    with moto.mock_aws():
        import boto3

        control.seed(WORLD)
        client = boto3.client("connect", region_name="us-east-1")
        assert summary(client, NUMBER)["PhoneNumberStatus"] == {"Status": "CLAIMED"}
        BackendDict.reset()
        with pytest.raises(ClientError) as excinfo:
            summary(client, NUMBER)
        assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_control_endpoint_rejects_unknown_methods(connect_emulator_server: Any) -> None:
    request = urllib.request.Request(  # noqa: S310 - local test server
        f"{connect_emulator_server.endpoint_url}/moto-api/connect-emulator/drop_tables",
        data=b"{}",
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert excinfo.value.code == 404


def test_server_command_serves_until_sigterm(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    # Another account than moto's default: any dummy key must still see the seeded world (samples/world.json
    # is in the account the Runtime Interface Emulator gives every function).
    world.write_text(__import__("json").dumps({**WORLD, "account_id": "012345678912"}))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "local_aws.connect.server", "--port", "0", "--seed", str(world), "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        endpoint = first_line.rsplit(" ", 1)[-1].strip()
        assert endpoint.startswith("http://127.0.0.1:")
        banner = []
        while not banner or not banner[-1].startswith("Press Ctrl-C"):
            banner.append(process.stdout.readline())
        # The banner's one line points every tool at the emulator: followed as printed (a fresh environment
        # with nothing else), Connect, DynamoDB and CloudFormation all answer from it.
        [export] = [line.strip() for line in banner if line.strip().startswith("export ")]
        suggested = dict(word.split("=", 1) for word in shlex.split(export)[1:])
        assert suggested["AWS_ENDPOINT_URL"] == endpoint
        # README's "Try it without an AWS account" gives the same line for make emulator's port.
        readme = (REPO_ROOT / "README.md").read_text()
        assert export.replace(endpoint, "http://127.0.0.1:4599") in readme
        followed = subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3\n"
                "listed = boto3.client('connect').list_instances()['InstanceSummaryList']\n"
                "print(sorted(i['Id'] for i in listed))\n"
                "print(boto3.client('dynamodb').list_tables()['TableNames'])\n"
                "print(boto3.client('cloudformation').list_stacks()['StackSummaries'])\n",
            ],
            env={"PATH": os.environ["PATH"], "AWS_CONFIG_FILE": os.devnull, **suggested},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert followed.returncode == 0, followed.stderr
        assert followed.stdout.splitlines() == [str(sorted([INSTANCE_A, INSTANCE_B])), "[]", "[]"]

        import boto3

        client = boto3.client(
            "connect",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert summary(client, NUMBER)["PhoneNumberStatus"] == {"Status": "CLAIMED"}
        assert summary(client, NUMBER)["PhoneNumberArn"].startswith("arn:aws:connect:us-east-1:012345678912:")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Emulator stopped." in output
