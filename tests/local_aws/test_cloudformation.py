"""The local CloudFormation stand-in: event shape, the HTTPS response receiver, trust, fault modes."""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from aws_lambda_powertools.utilities.parser.models import (
    CloudFormationCustomResourceCreateModel,
    CloudFormationCustomResourceDeleteModel,
    CloudFormationCustomResourceUpdateModel,
)
from crhelper.utils import _send_response

from local_aws.clock import VirtualClock
from local_aws.cloudformation import (
    MAX_RESPONSE_BYTES,
    MarshalError,
    ResponseNeverArrived,
    ResponseReceiver,
    build_event,
    invoke_handler,
    placeholder_response_url,
    response_problems,
    stringify_properties,
    trusting,
)
from local_aws.lambda_context import LambdaContext

STACK_ARN = re.compile(r"^arn:aws:cloudformation:us-east-1:123456789012:stack/[\w-]+/[0-9a-f-]{36}$")
PROPS = {"PhoneNumberId": "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93", "TargetArn": "arn:x", "OnDelete": "Retain"}
URL = "https://example.invalid/x?X-Amz-Signature=00"


@pytest.fixture
def receiver():
    with ResponseReceiver(hang_seconds=5, connection_timeout=5) as r:
        yield r


def put(url: str, body: bytes = b"{}", *, cafile: str | None = None, timeout: float = 5) -> int:
    """One PUT with a plain client, for fault modes where crhelper's own retry loop would never end."""
    parts = urlsplit(url)
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(parts.netloc, context=ctx, timeout=timeout)
    try:
        conn.request("PUT", f"{parts.path}?{parts.query}", body=body, headers={"content-type": ""})
        return conn.getresponse().status
    finally:
        conn.close()


def response_for(event: dict, status: str = "SUCCESS") -> dict:
    return {
        "Status": status,
        "PhysicalResourceId": "pid",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Reason": "",
        "Data": {"PhoneNumberArn": "arn:aws:connect:us-east-1:123456789012:phone-number/x"},
        "NoEcho": False,
    }


# ---- events ---------------------------------------------------------------------------------------


def test_create_event_has_exactly_cloudformations_fields():
    event = build_event("Create", properties=PROPS, response_url=URL)
    assert list(event) == [
        "RequestType",
        "ServiceToken",
        "ResponseURL",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "ResourceType",
        "ResourceProperties",
    ]
    assert STACK_ARN.match(event["StackId"])
    assert uuid.UUID(event["RequestId"])
    assert event["ResourceType"] == "Custom::PhoneNumberAssignment"
    assert event["ResourceProperties"] == {"ServiceToken": event["ServiceToken"], **PROPS}
    CloudFormationCustomResourceCreateModel(**event)
    assert CloudFormationCustomResourceEvent(event).physical_resource_id == ""


def test_update_and_delete_events_carry_physical_id_and_old_properties():
    update = build_event(
        "Update",
        properties=PROPS,
        old_properties={**PROPS, "TargetArn": "arn:old"},
        physical_id="pid-1",
        response_url=URL,
    )
    CloudFormationCustomResourceUpdateModel(**update)
    assert update["PhysicalResourceId"] == "pid-1"
    assert update["OldResourceProperties"]["TargetArn"] == "arn:old"
    assert update["OldResourceProperties"]["ServiceToken"] == update["ServiceToken"]

    delete = build_event("Delete", properties=PROPS, physical_id="pid-1", response_url=URL)
    CloudFormationCustomResourceDeleteModel(**delete)
    assert "OldResourceProperties" not in delete
    assert CloudFormationCustomResourceEvent(delete).physical_resource_id == "pid-1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"request_type": "Replace"}, "request_type"),
        ({"request_type": "Delete"}, "physical_id"),
        ({"request_type": "Update", "physical_id": "p"}, "old_properties"),
    ],
)
def test_events_cloudformation_would_never_send_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_event(kwargs.pop("request_type"), properties=PROPS, response_url=URL, **kwargs)


def test_every_scalar_property_arrives_as_a_string():
    event = build_event(
        "Create",
        properties={
            "Count": 3,
            "Ratio": 1.5,
            "Enabled": True,
            "Disabled": False,
            "Gone": None,
            "List": [1, True, {"Port": 443}],
            "Map": {"Nested": {"Deep": 7, "Flag": False}},
        },
        response_url=URL,
        service_timeout=600,
    )
    assert event["ResourceProperties"] == {
        "ServiceToken": event["ServiceToken"],
        "ServiceTimeout": "600",
        "Count": "3",
        "Ratio": "1.5",
        "Enabled": "true",
        "Disabled": "false",
        "List": ["1", "true", {"Port": "443"}],
        "Map": {"Nested": {"Deep": "7", "Flag": "false"}},
    }
    assert stringify_properties({"a": [None, 0]}) == {"a": ["0"]}


def test_callable_response_url_sees_the_generated_ids():
    seen = []

    def url(stack_id, request_id, logical_id):
        seen.append((stack_id, request_id, logical_id))
        return "https://x.invalid/"

    event = build_event("Create", properties=PROPS, response_url=url, logical_id="Line2")
    assert seen == [(event["StackId"], event["RequestId"], "Line2")]


def test_placeholder_url_looks_like_cloudformations_presigned_url():
    stack = "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/0b6f3c2e-9a41-11ef-8d2a-0e7f5c3b9a15"
    url = urlsplit(placeholder_response_url(stack, "MainLine", "rid"))
    assert url.netloc == "cloudformation-custom-resource-response-euwest1.s3.amazonaws.com"
    assert url.path == (
        "/arn%3Aaws%3Acloudformation%3Aeu-west-1%3A123456789012%3Astack/s/"
        "0b6f3c2e-9a41-11ef-8d2a-0e7f5c3b9a15%7CMainLine%7Crid"
    )
    query = dict(p.split("=", 1) for p in url.query.split("&"))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].endswith("%2Feu-west-1%2Fs3%2Faws4_request")
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])


def test_response_problems_flags_what_cloudformation_rejects():
    event = build_event("Create", properties=PROPS, response_url=URL)
    good = response_for(event)
    assert response_problems(event, good) == []
    bad = {**good, "Status": "OK", "RequestId": "other", "PhysicalResourceId": ""}
    problems = " ".join(response_problems(event, bad))
    assert "Status" in problems
    assert "RequestId" in problems
    assert "PhysicalResourceId" in problems
    big = {**good, "Data": {"Blob": "x" * MAX_RESPONSE_BYTES}}
    assert any("bytes" in p for p in response_problems(event, big))


# ---- receiver + crhelper ---------------------------------------------------------------------------


def test_receiver_records_exactly_the_put_crhelper_makes_under_ssl_cert_file_trust(receiver):
    event = build_event("Create", properties=PROPS, response_url=receiver.url_for)
    assert event["ResponseURL"].startswith(f"https://127.0.0.1:{receiver.port}/arn%3Aaws%3Acloudformation")
    body = response_for(event)
    with trusting(receiver):
        _send_response(event["ResponseURL"], body)
    assert receiver.wait_for(event["RequestId"], timeout=5) == body
    assert receiver.responses(event["RequestId"]) == [body]
    (attempt,) = receiver.attempts(event["RequestId"])
    assert attempt.method == "PUT"
    assert attempt.headers["content-type"] == ""
    assert attempt.headers["content-length"] == str(len(attempt.raw_body))


def test_trusting_sets_and_restores_ssl_cert_file(receiver, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", "/previous/bundle.pem")
    with trusting(receiver) as bundle:
        assert os.environ["SSL_CERT_FILE"] == bundle
        assert Path(receiver.cert_file).read_text() in Path(bundle).read_text()
    assert os.environ["SSL_CERT_FILE"] == "/previous/bundle.pem"
    monkeypatch.delenv("SSL_CERT_FILE")
    with trusting(receiver):
        pass
    assert "SSL_CERT_FILE" not in os.environ


def test_untrusted_clients_fail_the_handshake(receiver, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    url = receiver.url_for("arn:aws:cloudformation:us-east-1:123456789012:stack/s/u", "r1")
    with pytest.raises(ssl.SSLCertVerificationError):
        put(url)
    assert receiver.responses("r1") == []


def test_certificate_passes_strict_verification_and_names_localhost(receiver):
    # Python 3.13 turns VERIFY_X509_STRICT on in create_default_context; check it here on any version.
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u"
    for host in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=receiver.cert_file)
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        url = urlsplit(receiver.url_for(stack, f"strict-{host}"))
        conn = http.client.HTTPSConnection(host, receiver.port, context=ctx, timeout=5)
        conn.request("PUT", f"{url.path}?{url.query}", body=b"{}")
        assert conn.getresponse().status == 200
        conn.close()


def test_only_the_exact_presigned_url_and_method_are_accepted(receiver):
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u"
    url = receiver.url_for(stack, "r2")
    tampered = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, url)
    assert put(tampered, cafile=receiver.cert_file) == 403
    parts = urlsplit(url)
    ctx = ssl.create_default_context(cafile=receiver.cert_file)
    conn = http.client.HTTPSConnection(parts.netloc, context=ctx, timeout=5)
    conn.request("GET", f"{parts.path}?{parts.query}")
    assert conn.getresponse().status == 403
    conn.close()
    assert receiver.responses("r2") == []
    assert [a.outcome for a in receiver.attempts("r2")] == ["forbidden", "forbidden"]


def test_fifty_concurrent_crhelper_responses_each_arrive_exactly_once(receiver):
    events = [build_event("Create", properties=PROPS, response_url=receiver.url_for) for _ in range(50)]
    with trusting(receiver), ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda e: _send_response(e["ResponseURL"], response_for(e)), events))
    for event in events:
        assert receiver.wait_for(event["RequestId"], timeout=10)["RequestId"] == event["RequestId"]
        assert len(receiver.responses(event["RequestId"])) == 1


# ---- waiting and faults ----------------------------------------------------------------------------


def test_wait_for_gives_up_with_a_clear_error(receiver):
    with pytest.raises(ResponseNeverArrived, match=r"request never-sent: none arrived within 0.2s"):
        receiver.wait_for("never-sent", timeout=0.2)


def test_error_mode_answers_500_and_stores_nothing(receiver):
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u"
    receiver.behaviour = "error"
    url = receiver.url_for(stack, "r3")
    assert put(url, cafile=receiver.cert_file) == 500
    assert receiver.responses("r3") == []
    with pytest.raises(ResponseNeverArrived, match=r"error \(500\)"):
        receiver.wait_for("r3", timeout=0.1)


def test_limited_faults_revert_to_accepting(receiver):
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u"
    receiver.set_behaviour("error", times=2)
    url = receiver.url_for(stack, "r4")
    statuses = [put(url, json.dumps({"n": n}).encode(), cafile=receiver.cert_file) for n in range(3)]
    assert statuses == [500, 500, 200]
    assert receiver.responses("r4") == [{"n": 2}]
    assert receiver.behaviour == "accept"


def test_refuse_mode_resets_connections(receiver):
    receiver.behaviour = "refuse"
    url = receiver.url_for("arn:aws:cloudformation:us-east-1:123456789012:stack/s/u", "r5")
    with pytest.raises((ConnectionError, ssl.SSLError)):
        put(url, cafile=receiver.cert_file)
    assert receiver.refused_connections >= 1
    assert receiver.attempts("r5") == []


def test_hang_mode_never_answers_and_close_still_returns():
    before = {t.ident for t in threading.enumerate()}
    receiver = ResponseReceiver(hang_seconds=60).start()
    try:
        receiver.behaviour = "hang"
        url = receiver.url_for("arn:aws:cloudformation:us-east-1:123456789012:stack/s/u", "r6")
        with pytest.raises(TimeoutError):
            put(url, cafile=receiver.cert_file, timeout=0.5)
        assert [a.outcome for a in receiver.attempts("r6")] == ["hung"]
        # A second client still hanging when the receiver shuts down: close() must not wait 60 s for it.
        parts = urlsplit(url)
        ctx = ssl.create_default_context(cafile=receiver.cert_file)
        conn = http.client.HTTPSConnection(parts.netloc, context=ctx, timeout=30)
        conn.request("PUT", f"{parts.path}?{parts.query}", body=b"{}")
        deadline = time.monotonic() + 5
        while len(receiver.attempts("r6")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        receiver.close()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
        conn.getresponse()
    conn.close()
    assert {t.ident for t in threading.enumerate()} <= before


def test_close_leaves_no_threads_or_files():
    before = {t.ident for t in threading.enumerate()}
    with ResponseReceiver() as r:
        event = build_event("Create", properties=PROPS, response_url=r.url_for)
        with trusting(r):
            _send_response(event["ResponseURL"], response_for(event))
        cert_dir = os.path.dirname(r.cert_file)
    assert {t.ident for t in threading.enumerate()} <= before
    assert not os.path.exists(cert_dir)


def test_behaviour_is_validated(receiver):
    with pytest.raises(ValueError, match="behaviour"):
        receiver.behaviour = "sulk"
    with pytest.raises(RuntimeError):
        ResponseReceiver().url_for("s", "r")


# ---- context and in-process invocation -------------------------------------------------------------


def test_lambda_context_counts_down_from_the_timeout():
    now = [100.0]
    ctx = LambdaContext(function_name="Fn", timeout_seconds=900, memory_limit_in_mb=512, clock=lambda: now[0])
    assert ctx.get_remaining_time_in_millis() == 900_000
    now[0] += 1.5
    assert ctx.get_remaining_time_in_millis() == 898_500
    now[0] += 10_000
    assert ctx.get_remaining_time_in_millis() == 0
    assert ctx.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert ctx.memory_limit_in_mb == "512"
    assert ctx.function_version == "$LATEST"
    assert ctx.log_group_name == "/aws/lambda/Fn"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", ctx.log_stream_name)
    assert uuid.UUID(ctx.aws_request_id)


def test_a_virtual_clock_skips_time_on_the_context_and_on_the_invokers_timeout():
    event = build_event("Create", properties=PROPS, response_url=URL)
    clock = VirtualClock()
    seen = []
    release = threading.Event()

    def handler(e, context):
        seen.append(context.get_remaining_time_in_millis())
        clock.advance(899)  # as if 899 of the 900 s had gone by
        seen.append(context.get_remaining_time_in_millis())
        release.wait(60)  # then it overruns: only Lambda's deadline, 1 s of the wall away, can end it

    try:
        run = invoke_handler(handler, event, timeout_seconds=900, clock=clock)
        assert run.timed_out
        assert seen[0] > 898_000
        assert 0 <= seen[1] <= 1_000
        assert clock.skipped == 899
    finally:
        release.set()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


def test_invoke_handler_passes_a_decoded_copy_and_a_live_context():
    event = build_event("Create", properties=PROPS, response_url=URL)

    def handler(e, context):
        e["ResourceProperties"]["TargetArn"] = "mutated"
        return {"remaining": context.get_remaining_time_in_millis(), "name": context.function_name}

    run = invoke_handler(handler, event, timeout_seconds=30)
    assert run.ok
    assert 0 < run.result["remaining"] <= 30_000
    assert run.result["name"] == "ProviderFunction"
    assert event["ResourceProperties"]["TargetArn"] == "arn:x"


def test_invoke_handler_reports_errors_timeouts_and_unmarshallable_results():
    event = build_event("Create", properties=PROPS, response_url=URL)

    def boom(e, c):
        raise RuntimeError("boom")

    assert isinstance(invoke_handler(boom, event, timeout_seconds=5).error, RuntimeError)
    assert isinstance(invoke_handler(lambda e, c: object(), event, timeout_seconds=5).error, MarshalError)
    release = threading.Event()
    try:
        run = invoke_handler(lambda e, c: release.wait(30), event, timeout_seconds=0.2)
        assert run.timed_out
        assert not run.ok
    finally:
        release.set()


def test_receive_command_serves_a_function_running_elsewhere(tmp_path):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "event.json"
    argv = [sys.executable, "-m", "local_aws.cloudformation", "receive"]
    argv += ["--event", "samples/events/create.json"]
    argv += ["--out", str(out), "--copy-cert-to", str(tmp_path), "--timeout", "60"]
    proc = subprocess.Popen(  # noqa: S603
        argv,
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("Waiting"):
                break
        event = json.loads(out.read_text())
        assert event["RequestId"] == "7c2e5b1a-3f8d-4a6e-9b0c-1d4f7e2a8c35"
        # What the function's environment would carry: SSL_CERT_FILE naming the copied CA.
        ctx = ssl.create_default_context(cafile=str(tmp_path / "receiver-ca.pem"))
        parts = urlsplit(event["ResponseURL"])
        conn = http.client.HTTPSConnection(parts.netloc, context=ctx, timeout=5)
        conn.request("PUT", f"{parts.path}?{parts.query}", body=json.dumps(response_for(event)))
        assert conn.getresponse().status == 200
        conn.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0, rest
        assert '"Status": "SUCCESS"' in rest
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_handler_that_ends_past_the_deadline_timed_out_however_quickly_it_returned():
    # On a VirtualClock a handler can sleep past Lambda's deadline and return before the invoker looks again:
    # Lambda would have stopped it at the deadline.
    event = build_event("Create", properties=PROPS, response_url=URL)
    clock = VirtualClock()

    def handler(e, context):
        clock.sleep(context.get_remaining_time_in_millis() / 1000 + 1)
        return "done"

    run = invoke_handler(handler, event, timeout_seconds=30, clock=clock)

    assert run.timed_out
    assert not run.ok


# ---- what CloudFormation says about the stacks the stand-in plays (local_aws/connect/played_stacks.py) ----


def _played(aws_env, receiver, name, **options):
    from local_aws.stack import LocalCustomResourceStack

    return LocalCustomResourceStack(
        lambda event, context: None, receiver, stack_name=name, control=aws_env.control, **options
    )


@pytest.fixture
def cloudformation(aws_env):
    import boto3

    return boto3.client("cloudformation", region_name="us-east-1", endpoint_url=aws_env.endpoint_url)


def test_a_nested_stack_names_its_parent_and_its_root_as_describe_stacks_does(
    aws_env, receiver, cloudformation
):
    # Stack.ParentId: "the stack ID of the direct parent of this stack"; RootId: "the stack ID of the
    # top-level stack to which the nested stack ultimately belongs" (CloudFormation API reference).
    root = _played(aws_env, receiver, "estate", stack_status="UPDATE_IN_PROGRESS")
    middle = _played(aws_env, receiver, "estate-Region", parent=root)
    leaf = _played(aws_env, receiver, "estate-Region-Numbers", parent=middle)

    [described] = cloudformation.describe_stacks(StackName=leaf.stack_id)["Stacks"]
    [top] = cloudformation.describe_stacks(StackName=root.stack_id)["Stacks"]

    assert (described["ParentId"], described["RootId"]) == (middle.stack_id, root.stack_id)
    assert "ParentId" not in top
    assert "RootId" not in top


def test_stack_events_come_newest_first_in_pages(aws_env, receiver, cloudformation):
    # DescribeStackEvents: "all stack related events for a specified stack in reverse chronological order";
    # the page size is not documented (the emulator pages at 100).
    stack = _played(aws_env, receiver, "pipeline-stack")
    for index in range(120):
        stack.play(f"Line{index}", "CREATE_COMPLETE", f"line-{index}")
    stack.set_status("CREATE_FAILED")
    stack.set_status("DELETE_IN_PROGRESS")

    first = cloudformation.describe_stack_events(StackName=stack.stack_id)
    pages = cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack.stack_id)
    events = [event for page in pages for event in page["StackEvents"]]

    assert len(first["StackEvents"]) == 100
    assert first["NextToken"]
    own = [e["ResourceStatus"] for e in events if e["PhysicalResourceId"] == stack.stack_id]
    assert own == ["DELETE_IN_PROGRESS", "CREATE_FAILED", "CREATE_IN_PROGRESS"]
    assert {e["ResourceType"] for e in events if e["PhysicalResourceId"] == stack.stack_id} == {
        "AWS::CloudFormation::Stack"
    }
    assert len(events) == 123


def test_a_stacks_resources_are_cut_at_100_when_described_and_paged_when_listed(
    aws_env, receiver, cloudformation
):
    stack = _played(aws_env, receiver, "many-numbers", stack_status="DELETE_COMPLETE")
    for index in range(150):
        stack.play(f"Line{index}", "DELETE_SKIPPED" if index == 140 else "DELETE_COMPLETE", f"line-{index}")

    described = cloudformation.describe_stack_resources(PhysicalResourceId="line-140")["StackResources"]
    pages = list(cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack.stack_id))
    listed = [summary for page in pages for summary in page["StackResourceSummaries"]]

    # "Only the first 100 resources will be returned" (DescribeStackResources).
    assert len(described) == 100
    assert "line-140" not in {r["PhysicalResourceId"] for r in described}
    assert len(pages) == 2
    assert len(listed) == 150
    assert {s["ResourceStatus"] for s in listed if s["PhysicalResourceId"] == "line-140"} == {
        "DELETE_SKIPPED"
    }
