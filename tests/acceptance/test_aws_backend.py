"""acceptance/aws.py's decisions without an AWS account: botocore's Stubber answers each CloudFormation call
with a response the model validates (and fails the test on any call not expected, in that order)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from samcli.vendor.serverlessrepo.parser import parse_template

from acceptance import aws
from acceptance.__main__ import print_report, region_of
from acceptance.aws import CloudFormationBackend, OperationTimedOut
from acceptance.scenario import Outcome, Report, Resources, Scenario

REGION = "eu-west-2"
CONSUMER_TEMPLATE_RESOURCE = aws.CONSUMER_TEMPLATE["Resources"][aws.LOGICAL_ID]
ACCOUNT = "111111111111"
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def stack_id(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def backend(monkeypatch) -> CloudFormationBackend:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # clients are built, never called for real
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clock = Clock()
    made = CloudFormationBackend(REGION, sleep=clock.sleep, clock=clock, budget=300)
    made.clock_ = clock  # type: ignore[attr-defined]
    return made


@pytest.fixture
def cfn(backend) -> Any:
    with Stubber(backend.cloudformation) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def stack(name: str, status: str) -> dict[str, Any]:
    return {"StackId": stack_id(name), "StackName": name, "CreationTime": NOW, "StackStatus": status}


def describes(cfn, name: str, status: str | None, *, by: str | None = None) -> None:
    params = {"StackName": by or stack_id(name)}
    if status is None:
        cfn.add_client_error(
            "describe_stacks",
            "ValidationError",
            f"Stack with id {params['StackName']} does not exist",
            expected_params=params,
        )
    else:
        cfn.add_response("describe_stacks", {"Stacks": [stack(name, status)]}, params)


def event(
    name: str, status: str, token: str, *, logical: str | None = None, reason: str = ""
) -> dict[str, Any]:
    made = {
        "StackId": stack_id(name),
        "EventId": f"e-{status}-{logical}",
        "StackName": name,
        "LogicalResourceId": logical or name,
        "ResourceType": "Custom::PhoneNumberAssignment" if logical else "AWS::CloudFormation::Stack",
        "Timestamp": NOW,
        "ResourceStatus": status,
        "ClientRequestToken": token,
    }
    if reason:
        made["ResourceStatusReason"] = reason
    return made


def events(cfn, name: str, *listed: dict[str, Any]) -> None:
    cfn.add_response("describe_stack_events", {"StackEvents": list(listed)}, {"StackName": stack_id(name)})


def fixed_tokens(monkeypatch, *tokens: str) -> None:
    pending = list(tokens)
    monkeypatch.setattr(CloudFormationBackend, "_token", staticmethod(lambda: pending.pop(0)))


# ---- teardown decisions ---------------------------------------------------------------------------------


def test_the_provider_is_never_deleted_while_the_consumer_stack_exists(backend, cfn):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    describes(cfn, consumer, "DELETE_FAILED")
    describes(cfn, consumer, "DELETE_FAILED")
    with pytest.raises(RuntimeError, match=r"still exists \(DELETE_FAILED\): the provider .* stays"):
        backend.remove_provider()
    # No DeleteStack was sent (the Stubber would have refused an unexpected call).


def test_a_consumer_delete_that_fails_is_reported_with_its_reason_read_by_stack_id(backend, cfn, monkeypatch):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    fixed_tokens(monkeypatch, "t-delete")
    describes(cfn, consumer, "UPDATE_COMPLETE")
    cfn.add_response("delete_stack", {}, {"StackName": stack_id(consumer), "ClientRequestToken": "t-delete"})
    events(cfn, consumer, event(consumer, "DELETE_FAILED", "t-delete"))
    reason = "Connect could not move the number: 'busy'"
    cfn.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                event(consumer, "DELETE_FAILED", "t-delete"),
                event(consumer, "DELETE_FAILED", "t-delete", logical="MainLine", reason=reason),
            ]
        },
        {"StackName": stack_id(consumer)},
    )
    outcome = backend.delete_consumer()
    assert outcome == Outcome("FAILED", f"DELETE_FAILED: {reason}")
    # What is left is said as commands, consumer first.
    describes(cfn, backend.provider_stack, "CREATE_COMPLETE", by=backend.provider_stack)
    describes(cfn, consumer, "DELETE_FAILED")
    describes(cfn, backend.provider_stack, "CREATE_COMPLETE")
    commands = backend.cleanup_commands()
    assert commands == [
        f"aws cloudformation delete-stack --region {REGION} --stack-name {stack_id(consumer)}",
        f"aws cloudformation delete-stack --region {REGION} --stack-name {stack_id(backend.provider_stack)}",
    ]


def test_an_update_in_flight_is_waited_out_before_the_delete(backend, cfn, monkeypatch):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    fixed_tokens(monkeypatch, "t-delete")
    describes(cfn, consumer, "UPDATE_IN_PROGRESS")  # CloudFormation refuses DeleteStack now
    describes(cfn, consumer, "UPDATE_ROLLBACK_IN_PROGRESS")
    describes(cfn, consumer, "UPDATE_ROLLBACK_COMPLETE")
    assert backend.settle_consumer() == "UPDATE_ROLLBACK_COMPLETE"
    describes(cfn, consumer, "UPDATE_ROLLBACK_COMPLETE")
    cfn.add_response("delete_stack", {}, {"StackName": stack_id(consumer), "ClientRequestToken": "t-delete"})
    events(cfn, consumer, event(consumer, "DELETE_COMPLETE", "t-delete"))
    assert backend.delete_consumer() == Outcome("COMPLETE")


def test_a_stack_that_never_settles_is_a_time_out_not_a_delete(backend, cfn):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    for _ in range(32):
        describes(cfn, consumer, "UPDATE_IN_PROGRESS")
    with pytest.raises(OperationTimedOut, match="still UPDATE_IN_PROGRESS"):
        backend.settle_consumer()


def test_a_wait_ignores_the_final_status_an_earlier_operation_left(backend, cfn, monkeypatch):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    backend.service_token = "arn:aws:lambda:eu-west-2:111111111111:function:provider"
    fixed_tokens(monkeypatch, "t-update")
    cfn.add_response(
        "update_stack",
        {"StackId": stack_id(consumer)},
        {
            "StackName": stack_id(consumer),
            "TemplateBody": ANY,
            "Parameters": ANY,
            "ClientRequestToken": "t-update",
        },
    )
    # Right after the call the newest stack event is still the last rollback's.
    events(cfn, consumer, event(consumer, "UPDATE_ROLLBACK_COMPLETE", "t-earlier"))
    events(
        cfn,
        consumer,
        event(consumer, "UPDATE_IN_PROGRESS", "t-update"),
        event(consumer, "UPDATE_ROLLBACK_COMPLETE", "t-earlier"),
    )
    events(cfn, consumer, event(consumer, "UPDATE_COMPLETE", "t-update"))
    assert backend.update_consumer({"PhoneNumberId": "n", "TargetArn": "t"}) == Outcome("COMPLETE")
    assert backend.clock_.sleeps[0] == aws.POLL_SECONDS  # no read before the first pause


def test_a_failed_create_reads_the_reason_by_stack_id_after_on_failure_delete(backend, cfn, monkeypatch):
    consumer = backend.consumer_stack
    fixed_tokens(monkeypatch, "t-create")
    cfn.add_response("create_stack", {"StackId": stack_id(consumer)}, None)
    events(cfn, consumer, event(consumer, "DELETE_COMPLETE", "t-create"))
    cfn.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                event(
                    consumer, "CREATE_FAILED", "t-create", logical="MainLine", reason="Target x was not found"
                )
            ]
        },
        {"StackName": stack_id(consumer)},
    )
    assert backend.create_consumer({"PhoneNumberId": "n", "TargetArn": "t"}) == Outcome(
        "FAILED", "DELETE_COMPLETE: Target x was not found"
    )
    assert backend.consumer_stack_id == stack_id(consumer)


def test_the_provider_is_deleted_once_the_consumer_is_gone(backend, cfn, monkeypatch):
    consumer, provider = backend.consumer_stack, backend.provider_stack
    backend._consumer_stack_id = stack_id(consumer)
    backend.provider_stack_id = stack_id(provider)
    fixed_tokens(monkeypatch, "t-provider")
    describes(cfn, consumer, "DELETE_COMPLETE")
    describes(cfn, provider, "UPDATE_COMPLETE")
    cfn.add_response(
        "delete_stack", {}, {"StackName": stack_id(provider), "ClientRequestToken": "t-provider"}
    )
    events(cfn, provider, event(provider, "DELETE_COMPLETE", "t-provider"))
    backend.remove_provider()


# ---- the same decisions, through the scenario's teardown ----------------------------------------------


def test_ctrl_c_during_an_update_waits_for_it_then_deletes_then_removes_the_provider(
    backend, cfn, monkeypatch
):
    consumer, provider = backend.consumer_stack, backend.provider_stack
    backend._consumer_stack_id = stack_id(consumer)
    backend.provider_stack_id = stack_id(provider)
    order: list[str] = []
    monkeypatch.setattr(backend, "deploy_provider", lambda: order.append("deploy"))
    monkeypatch.setattr(backend, "create_consumer", lambda p: Outcome("COMPLETE"))

    def interrupted(properties):
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "update_consumer", interrupted)
    fixed_tokens(monkeypatch, "t-delete", "t-provider")
    # Teardown: the update is still running; it is waited out, then the delete, then the provider.
    describes(cfn, consumer, "UPDATE_IN_PROGRESS")
    describes(cfn, consumer, "UPDATE_COMPLETE")
    describes(cfn, consumer, "UPDATE_COMPLETE")
    describes(cfn, consumer, "UPDATE_COMPLETE")
    cfn.add_response("delete_stack", {}, {"StackName": stack_id(consumer), "ClientRequestToken": "t-delete"})
    events(cfn, consumer, event(consumer, "DELETE_COMPLETE", "t-delete"))
    describes(cfn, consumer, "DELETE_COMPLETE")
    describes(cfn, consumer, "DELETE_COMPLETE")
    describes(cfn, provider, "UPDATE_COMPLETE")
    cfn.add_response(
        "delete_stack", {}, {"StackName": stack_id(provider), "ClientRequestToken": "t-provider"}
    )
    events(cfn, provider, event(provider, "DELETE_COMPLETE", "t-provider"))
    describes(cfn, consumer, "DELETE_COMPLETE")
    describes(cfn, provider, "DELETE_COMPLETE")

    run = Scenario(backend, RESOURCES, out=io.StringIO(), sleep=backend.sleep, clock=backend.clock)
    monkeypatch.setattr(run, "preflight", lambda: None)
    monkeypatch.setattr(run, "lifecycle", lambda: backend.update_consumer({}))
    monkeypatch.setattr(run, "_put_numbers_back", lambda: order.append("put back"))
    monkeypatch.setattr(run, "_check_ownership_records", lambda: order.append("ownership"))
    report = run.run()
    assert report.interrupted
    assert not report.passed
    assert order == ["deploy", "put back", "ownership"]
    assert report.left_behind == []


RESOURCES = Resources(
    instance_arn=f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/a",
    other_instance_arn=f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/b",
    phone_number_id="n",
    contact_flow_arn=f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/b/contact-flow/f",
)


def test_a_consumer_that_cannot_be_deleted_keeps_the_numbers_and_the_provider(backend, cfn, monkeypatch):
    consumer = backend.consumer_stack
    backend._consumer_stack_id = stack_id(consumer)
    backend.provider_stack_id = stack_id(backend.provider_stack)
    touched: list[str] = []
    monkeypatch.setattr(backend, "delete_consumer", lambda: Outcome("FAILED", "DELETE_FAILED: busy"))
    describes(cfn, consumer, "UPDATE_COMPLETE")  # settle
    describes(cfn, consumer, "UPDATE_COMPLETE")  # exists -> delete (fails)
    describes(cfn, consumer, "DELETE_FAILED")  # still exists
    describes(cfn, consumer, "DELETE_FAILED")  # cleanup commands
    describes(cfn, backend.provider_stack, "CREATE_COMPLETE")
    out = io.StringIO()
    run = Scenario(backend, RESOURCES, out=out, sleep=backend.sleep, clock=backend.clock)
    monkeypatch.setattr(run, "_put_numbers_back", lambda: touched.append("numbers"))
    monkeypatch.setattr(backend, "remove_provider", lambda: touched.append("provider"))
    run.teardown()
    assert touched == []
    assert ("teardown: delete the consumer stack", False, "DELETE_FAILED: busy") in run.report.steps
    assert run.report.left_behind == [
        f"aws cloudformation delete-stack --region {REGION} --stack-name {stack_id(consumer)}",
        f"aws cloudformation delete-stack --region {REGION} --stack-name {stack_id(backend.provider_stack)}",
    ]
    assert "delete-stack" in out.getvalue()


# ---- the entry point ------------------------------------------------------------------------------------


def test_the_region_is_the_one_every_arn_names():
    arns = {
        "ACCEPTANCE_INSTANCE_ARN": RESOURCES.instance_arn,
        "ACCEPTANCE_OTHER_INSTANCE_ARN": RESOURCES.other_instance_arn,
        "ACCEPTANCE_CONTACT_FLOW_ARN": RESOURCES.contact_flow_arn,
    }
    assert region_of(arns) == REGION
    elsewhere = {
        **arns,
        "ACCEPTANCE_OTHER_INSTANCE_ARN": RESOURCES.other_instance_arn.replace(REGION, "us-east-1"),
    }
    with pytest.raises(ValueError, match="more than one Region"):
        region_of(elsewhere)
    with pytest.raises(ValueError, match="not an ARN"):
        region_of({**arns, "ACCEPTANCE_TDG_ARN": "tdg-id"})


def test_the_report_ends_with_the_summary_findings_and_commands():
    report = Report(
        steps=[("create", True, ""), ("teardown: delete the consumer stack", False, "DELETE_FAILED: busy")],
        findings=[("Describe lag after UpdatePhoneNumber", "previous target shown for 1.50 s")],
        left_behind=["aws cloudformation delete-stack --region eu-west-2 --stack-name s"],
    )
    out = io.StringIO()
    print_report(report, out)
    text = out.getvalue()
    assert "FAIL teardown: delete the consumer stack: DELETE_FAILED: busy" in text
    assert "| Describe lag after UpdatePhoneNumber | previous target shown for 1.50 s |" in text
    assert "  aws cloudformation delete-stack --region eu-west-2 --stack-name s\n" in text
    assert text.rstrip().endswith("FAILED: teardown: delete the consumer stack")


def test_the_consumer_declares_a_service_timeout_every_wait_outlasts():
    timeout = CONSUMER_TEMPLATE_RESOURCE["Properties"]["ServiceTimeout"]
    function_timeout = parse_template((aws.ROOT / "template.yaml").read_text())["Resources"][
        "ProviderFunction"
    ]["Properties"]["Timeout"]
    assert function_timeout < timeout <= 3600  # the provider answers before CloudFormation gives up on it
    # An update and its rollback (or a replacement and its cleanup) are two provider requests in a row.
    assert 2 * timeout < aws.OPERATION_BUDGET


def test_a_client_in_a_replica_region_is_built_like_the_others(backend):
    replica = backend.connect_in("eu-central-1")
    assert replica.meta.region_name == "eu-central-1"
    assert replica.meta.service_model.service_name == "connect"
    assert replica.meta.config.retries == backend.connect.meta.config.retries == {"mode": "standard"}
