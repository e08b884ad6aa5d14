"""make plan: per number, where it is and will go, its owner now and after, room on the target, its flow,
and what the provider would refuse, read through the emulator (Connect, and moto's DynamoDB, CloudFormation
and Service Quotas on the same endpoint). Change sets: moto's DescribeChangeSet returns no property values
(BeforeContext/AfterContext), so the change-set mode is driven by a recorded response
(tests/tools/change_set.json, in the shape of botocore's model, which the Stubber checks)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from local_aws.cloudformation import stack_arn
from local_aws.connect.native import deploy_native_number_stack
from tests.conftest import ACCOUNT, REGION
from tests.tools.test_status import create_table, owner_stack, put_record
from tools import plan

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURE = HERE / "change_set.json"


def arn(resource: str) -> str:
    return f"arn:aws:connect:{REGION}:{ACCOUNT}:{resource}"


def alnum(value: str) -> str:
    return "".join(c for c in value if c.isalnum())


# A migration template as make export writes it, reduced: one TargetArn and one flow for every number, the
# numbers from a CommaDelimitedList parameter, the flow chosen by a condition on a parameter (a mapping's for
# site b, a Fn::Sub of pseudo parameters for site a).
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::LanguageExtensions
Parameters:
  ProviderStackName:
    Type: String
    Default: phone-number-assignment
  TargetArn:
    Type: String
    Default: {a}
  Site:
    Type: String
    Default: a
    AllowedValues: [a, b]
  NumberIds:
    Type: CommaDelimitedList
    Default: "{ids}"
Conditions:
  OnB: !Equals [!Ref Site, b]
Mappings:
  Flows:
    b:
      Flow: {flow_b}
Resources:
  Fn::ForEach::Numbers:
    - Id
    - !Ref NumberIds
    - Number&{{Id}}:
        Type: Custom::PhoneNumberAssignment
        Properties:
          ServiceToken: !ImportValue
            Fn::Sub: ${{ProviderStackName}}-ServiceToken
          PhoneNumberId: !Ref Id
          TargetArn: !Ref TargetArn
          ContactFlowArn: !If
            - OnB
            - !FindInMap [Flows, !Ref Site, Flow]
            - !Sub "{flow_a_sub}"
          OnDelete: Retain
          ServiceTimeout: 960
"""


class Estate:
    def __init__(self, control) -> None:
        self.instance_a, self.instance_b, self.flow_a, self.flow_b, self.draft = (
            str(uuid.uuid4()) for _ in range(5)
        )
        self.ids = [str(uuid.uuid4()) for _ in range(2)]
        self.spare = [str(uuid.uuid4()) for _ in range(5)]
        control.seed(
            {
                "account_id": ACCOUNT,
                "region": REGION,
                "instances": [{"id": self.instance_a, "alias": "a"}, {"id": self.instance_b, "alias": "b"}],
                "contact_flows": [
                    {"id": self.flow_a, "instance_id": self.instance_a, "name": "A"},
                    {"id": self.flow_b, "instance_id": self.instance_b, "name": "B"},
                    {"id": self.draft, "instance_id": self.instance_b, "name": "Draft", "status": "SAVED"},
                ],
                "phone_numbers": [
                    {
                        "id": number_id,
                        "phone_number": f"+1555555710{i}",
                        "target": self.instance_a,
                        "contact_flow_id": self.flow_a,
                    }
                    for i, number_id in enumerate(self.ids)
                ],
            }
        )

    @property
    def a(self) -> str:
        return arn(f"instance/{self.instance_a}")

    @property
    def b(self) -> str:
        return arn(f"instance/{self.instance_b}")

    def flow(self, instance: str, flow: str) -> str:
        return arn(f"instance/{instance}/contact-flow/{flow}")

    def number(self, i: int) -> str:
        return arn(f"phone-number/{self.ids[i]}")

    def template(self, tmp_path: Path, ids: list[str] | None = None) -> Path:
        path = tmp_path / "numbers.yaml"
        path.write_text(
            TEMPLATE.format(
                a=self.a,
                ids=",".join(ids or self.ids),
                flow_a_sub=(
                    "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:"
                    f"instance/{self.instance_a}/contact-flow/{self.flow_a}"
                ),
                flow_b=self.flow(self.instance_b, self.flow_b),
            )
        )
        return path


def client(env, service: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=env.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture
def env(aws_env, monkeypatch):
    # moto answers STS (AWS::AccountId) and Service Quotas on the emulator's port too.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws_env.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", aws_env.endpoint_url)
    return aws_env


@pytest.fixture
def ddb(env):
    return client(env, "dynamodb")


@pytest.fixture
def cfn(env):
    return client(env, "cloudformation")


@pytest.fixture
def estate(env, ddb) -> Estate:
    e = Estate(env.control)
    create_table(ddb)
    e.stack = owner_stack(  # type: ignore[attr-defined]
        env.control,
        "numbers",
        {
            f"Number{alnum(number_id)}": {"PhoneNumberId": arn(f"phone-number/{number_id}")}
            for number_id in e.ids
        },
    )
    for i, number_id in enumerate(e.ids):
        put_record(
            ddb,
            e.number(i),
            e.stack,  # type: ignore[attr-defined]
            f"Number{alnum(number_id)}",
            "ASSIGNED",
            e.a,
            e.b,
            contact_flow_arn=e.flow(e.instance_a, e.flow_a),
        )
    return e


def run_plan(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = plan.main(list(argv), stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def plan_json(*argv: str) -> tuple[int, dict, str]:
    code, out, err = run_plan("--format", "json", *argv)
    return code, json.loads(out), err


def by_number(report: dict) -> dict[str, dict]:
    return {entry["phoneNumberArn"]: entry for entry in report["numbers"]}


def refusals(entry: dict) -> list[str]:
    return [r["code"] for r in entry["refusals"]]


def flip(estate: Estate) -> list[str]:
    return ["--param", f"TargetArn={estate.b}", "--param", "Site=b"]


# ---- template mode ---------------------------------------------------------------------------------------


def test_as_written_the_template_moves_nothing_and_exits_0(estate, tmp_path):
    code, report, _ = plan_json("--template", str(estate.template(tmp_path)), "--stack", estate.stack)

    assert code == plan.EXIT_CLEAN, json.dumps(report, indent=1)
    assert report["summary"] == {"numbers": 2, "moves": 0, "refused": 0, "unchecked": 0}
    for i in range(2):
        entry = by_number(report)[estate.number(i)]
        assert entry["now"]["targetArn"] == entry["after"]["targetArn"] == estate.a
        assert entry["room"] is None  # nothing comes in
        assert entry["now"]["owner"]["cloudFormation"] == "this resource"


def test_a_parameter_flip_moves_both_numbers_and_says_where_to_and_how_they_route(estate, tmp_path):
    code, report, err = plan_json(
        "--template", str(estate.template(tmp_path)), "--stack", estate.stack, *flip(estate)
    )

    assert code == plan.EXIT_CLEAN, err
    assert report["summary"] == {"numbers": 2, "moves": 2, "refused": 0, "unchecked": 0}
    for i, number_id in enumerate(estate.ids):
        entry = by_number(report)[estate.number(i)]
        assert entry["logicalResourceId"] == f"Number{alnum(number_id)}"
        assert entry["now"]["targetArn"] == estate.a
        assert entry["now"]["status"] == "CLAIMED"
        assert entry["now"]["contactFlowArn"] == estate.flow(estate.instance_a, estate.flow_a)
        assert entry["now"]["owner"]["stackId"] == estate.stack
        assert entry["now"]["owner"]["state"] == "ASSIGNED"
        assert entry["after"] == {
            "targetArn": estate.b,
            "contactFlowArn": estate.flow(estate.instance_b, estate.flow_b),
            "owner": {
                "stackId": estate.stack,
                "stackName": "numbers",
                "logicalResourceId": entry["logicalResourceId"],
            },
        }
        # moto's Service Quotas knows no Connect quota: the default, said to be assumed.
        assert entry["room"] == {
            "instance": estate.instance_b,
            "numbersNow": 0,
            "incoming": 2,
            "quota": 5,
            "quotaSource": "assumed: Connect's default",
            "estimate": True,
        }
        assert entry["verdict"] == "ok"
    assert any("assumed to be Connect's default, 5" in note for note in report["notes"])


def test_the_table_shows_each_number_now_and_after(estate, tmp_path):
    code, out, err = run_plan(
        "--template", str(estate.template(tmp_path)), "--stack", estate.stack, *flip(estate)
    )

    assert code == plan.EXIT_CLEAN, err
    [header] = [line for line in out.splitlines() if line.startswith("NUMBER ")]
    assert header.split()[:4] == ["NUMBER", "RESOURCE", "ACTION", "NOW"]
    row = next(line for line in out.splitlines() if line.startswith("+15555557100"))
    assert f"instance/{estate.instance_a} (CLAIMED)" in row
    assert f"instance/{estate.instance_b}" in row
    assert "0+2/5*" in row
    assert "this resource (ASSIGNED)" in row
    assert "unchanged" in row
    assert f"{estate.flow_a[:8]} -> {estate.flow_b[:8]}" in row
    assert row.endswith("ok")
    assert "quota assumed 5" in out
    assert out.splitlines()[-1] == "2 numbers, 2 moving, 0 would be refused, 0 not checked"


def test_without_stack_an_owned_number_is_another_stacks(estate, tmp_path):
    code, report, _ = plan_json("--template", str(estate.template(tmp_path)))

    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["owned-by-another-stack"]
    assert "give STACK=" in entry["refusals"][0]["message"]


def test_a_number_another_stack_holds_is_refused_and_a_stale_owner_is_not(estate, env, ddb, tmp_path):
    other = owner_stack(env.control, "other", {"Line": {"PhoneNumberId": estate.number(0)}})
    gone_id = stack_arn("gone", region=REGION, account_id=ACCOUNT)
    ddb.delete_item(
        TableName="PhoneNumberAssignment-Ownership", Key={"PhoneNumberArn": {"S": estate.number(0)}}
    )
    ddb.delete_item(
        TableName="PhoneNumberAssignment-Ownership", Key={"PhoneNumberArn": {"S": estate.number(1)}}
    )
    put_record(ddb, estate.number(0), other, "Line", "ASSIGNED", estate.a, estate.b)
    put_record(ddb, estate.number(1), gone_id, "Line", "MOVING", estate.a, estate.b)

    code, report, err = plan_json(
        "--template", str(estate.template(tmp_path)), "--stack", estate.stack, *flip(estate)
    )

    assert code == plan.EXIT_FLAGGED, err
    held = by_number(report)[estate.number(0)]
    assert refusals(held) == ["owned-by-another-stack"]
    assert "Line in stack other" in held["refusals"][0]["message"]
    assert held["now"]["owner"]["stackName"] == "other"
    stale = by_number(report)[estate.number(1)]
    assert stale["verdict"] == "ok"
    assert any("is stale" in note for note in stale["notes"])
    assert report["summary"]["refused"] == 1


def test_a_released_record_is_nobodys(estate, ddb, tmp_path):
    ddb.delete_item(
        TableName="PhoneNumberAssignment-Ownership", Key={"PhoneNumberArn": {"S": estate.number(0)}}
    )
    put_record(ddb, estate.number(0), estate.stack, "Gone", "RELEASED", estate.a, estate.b)

    code, out, err = run_plan("--template", str(estate.template(tmp_path)))

    row = next(line for line in out.splitlines() if line.startswith("+15555557100"))
    assert "nobody (RELEASED)" in row
    assert row.endswith("ok")
    assert code == plan.EXIT_FLAGGED, err  # the other number is still owned (no STACK given)


def test_a_number_a_native_resource_holds_is_refused(estate, cfn, tmp_path):
    _, native = deploy_native_number_stack(cfn, "native", estate.a, "+15555557199")

    code, report, err = plan_json(
        "--template", str(estate.template(tmp_path, [native.rsplit("/", 1)[-1]])), "--stack", estate.stack
    )

    assert code == plan.EXIT_FLAGGED, err
    [entry] = report["numbers"]
    assert refusals(entry) == ["native-resource"]
    assert "NativeNumber in stack native" in entry["refusals"][0]["message"]


def test_a_full_target_is_refused_as_an_estimate(estate, env, tmp_path):
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "phone_numbers": [
                {"id": number_id, "phone_number": f"+1555555720{i}", "target": estate.instance_b}
                for i, number_id in enumerate(estate.spare[:4])
            ],
        }
    )

    code, report, err = plan_json(
        "--template", str(estate.template(tmp_path)), "--stack", estate.stack, *flip(estate)
    )

    assert code == plan.EXIT_FLAGGED, err
    for i in range(2):
        entry = by_number(report)[estate.number(i)]
        assert refusals(entry) == ["target-full"]
        assert entry["room"]["numbersNow"] == 4
        assert '"Phone numbers per instance" (5, assumed:' in entry["refusals"][0]["message"]
    assert report["targets"][estate.instance_b]["numbersNow"] == 4


def test_an_unpublished_flow_is_refused(estate, tmp_path):
    template = estate.template(tmp_path)
    template.write_text(template.read_text().replace(estate.flow_b, estate.draft))

    code, report, _ = plan_json("--template", str(template), "--stack", estate.stack, *flip(estate))

    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["flow-not-routable"]
    assert "CONTACT_FLOW/SAVED/ACTIVE" in entry["refusals"][0]["message"]


def by_logical_id(report: dict) -> dict[str, dict]:
    return {entry["logicalResourceId"]: entry for entry in report["numbers"]}


def test_a_flow_of_another_instance_and_a_missing_target_are_refused(estate, tmp_path):
    missing = arn(f"instance/{uuid.uuid4()}")
    code, report, _ = plan_json(
        "--template",
        str(estate.template(tmp_path)),
        "--stack",
        estate.stack,
        "--param",
        f"TargetArn={estate.b}",
    )
    assert code == plan.EXIT_FLAGGED
    # The provider's parser refuses it before any call: the flow is not in the target instance.
    [refusal] = by_logical_id(report)[f"Number{alnum(estate.ids[0])}"]["refusals"]
    assert refusal["code"] == "invalid-properties"
    assert f"names a flow in instance {estate.instance_a}, but TargetArn is instance" in refusal["message"]

    template = estate.template(tmp_path)
    text = template.read_text()
    template.write_text(
        text[: text.index("          ContactFlowArn:")] + text[text.index("          OnDelete:") :]
    )
    code, report, _ = plan_json(
        "--template", str(template), "--stack", estate.stack, "--param", f"TargetArn={missing}"
    )
    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["target-not-found"]


def test_one_number_declared_twice_is_refused(estate, tmp_path):
    template = estate.template(tmp_path, [estate.ids[0], estate.number(0)])

    code, report, _ = plan_json("--template", str(template), "--stack", estate.stack)

    assert code == plan.EXIT_FLAGGED
    first, second = report["numbers"]
    assert first["verdict"] == "ok"
    assert refusals(second) == ["declared-twice"]


def test_a_number_another_stack_is_putting_back_is_refused(estate, env, ddb, tmp_path):
    other = owner_stack(env.control, "other", {"Line": {"PhoneNumberId": estate.number(0)}})
    ddb.delete_item(
        TableName="PhoneNumberAssignment-Ownership", Key={"PhoneNumberArn": {"S": estate.number(0)}}
    )
    put_record(ddb, estate.number(0), other, "Line", "UNDOING", estate.a, estate.b)

    code, report, _ = plan_json("--template", str(estate.template(tmp_path)), "--stack", estate.stack)

    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["being-put-back"]
    assert entry["now"]["owner"]["state"] == "UNDOING"


def test_a_traffic_distribution_group_that_is_not_active_is_refused(estate, env, tmp_path):
    group = str(uuid.uuid4())
    env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "traffic_distribution_groups": [
                {"id": group, "name": "g", "instance_id": estate.instance_a, "status": "PENDING_DELETION"}
            ],
        }
    )
    group_arn = arn(f"traffic-distribution-group/{group}")

    code, report, _ = plan_json(
        "--template",
        str(estate.template(tmp_path)),
        "--stack",
        estate.stack,
        "--param",
        f"TargetArn={group_arn}",
    )

    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["target-not-active"]
    assert "PENDING_DELETION, not ACTIVE" in entry["refusals"][0]["message"]


def test_a_loop_over_a_value_known_only_at_deploy_time_is_not_checked(estate, tmp_path):
    template = estate.template(tmp_path)
    template.write_text(template.read_text().replace("- !Ref NumberIds", "- !GetAtt Lookup.Ids"))

    code, out, err = run_plan("--template", str(template), "--stack", estate.stack)

    assert code == plan.EXIT_UNCHECKED
    assert "its collection cannot be resolved" in err
    assert out == ""


def test_a_number_that_does_not_exist_is_refused(estate, tmp_path):
    code, report, _ = plan_json(
        "--template", str(estate.template(tmp_path, [str(uuid.uuid4())])), "--stack", estate.stack
    )
    assert code == plan.EXIT_FLAGGED
    assert refusals(report["numbers"][0]) == ["number-not-found"]


def test_a_value_known_only_at_deploy_time_is_not_checked_exit_1(estate, tmp_path):
    template = estate.template(tmp_path)
    template.write_text(
        template.read_text().replace("TargetArn: !Ref TargetArn", "TargetArn: !GetAtt Instance.Arn")
    )

    code, report, err = plan_json("--template", str(template), "--stack", estate.stack)

    assert code == plan.EXIT_UNCHECKED
    assert report["summary"]["unchecked"] == 2
    [why] = report["numbers"][0]["unchecked"]
    assert why.endswith("TargetArn: Fn::GetAtt is known only when the stack is deployed")
    assert "could not be checked (exit status 1)" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--template", "/nonexistent.yaml"], "cannot read TEMPLATE"),
        (["--change-set", "cs"], "CHANGE_SET= needs STACK="),
        (["--template", "{template}", "--param", "TargetArn"], "Key=Value"),
        (["--template", "{template}", "--param", "Nope=1"], "does not declare: Nope"),
        (["--template", "{template}", "--stack", "numbers", "--param", "Nope=1"], "does not declare: Nope"),
        (["--change-set", "cs", "--stack", "numbers", "--param", "A=1"], "PARAMS= goes with TEMPLATE="),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2_before_any_call(estate, env, tmp_path, argv, says):
    template = str(estate.template(tmp_path))
    calls = len(env.control.calls())
    code, out, err = run_plan(*(a.format(template=template) for a in argv))

    assert code == plan.EXIT_USAGE
    assert says in err
    assert out == ""
    assert len(env.control.calls()) == calls


def test_csv_has_one_row_per_number(estate, tmp_path):
    code, out, _ = run_plan(
        "--template",
        str(estate.template(tmp_path)),
        "--stack",
        estate.stack,
        "--format",
        "csv",
        *flip(estate),
    )
    assert code == plan.EXIT_CLEAN
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["phoneNumberArn"] for row in rows] == [estate.number(0), estate.number(1)]
    assert rows[0]["targetArnAfter"] == estate.b
    assert rows[0]["quota"] == "5"
    assert rows[0]["verdict"] == "ok"


def test_plan_only_reads(estate, env, ddb, tmp_path):
    before = ddb.scan(TableName="PhoneNumberAssignment-Ownership", ConsistentRead=True)["Items"]
    calls = len(env.control.calls())
    run_plan("--template", str(estate.template(tmp_path)), "--stack", estate.stack, *flip(estate))

    operations = {c["operation"] for c in env.control.calls()[calls:]}
    assert operations <= {
        "ListPhoneNumbersV2",
        "DescribePhoneNumber",
        "ListFlowAssociations",
        "DescribeContactFlow",
        "DescribeInstance",
        "DescribeTrafficDistributionGroup",
    }
    assert ddb.scan(TableName="PhoneNumberAssignment-Ownership", ConsistentRead=True)["Items"] == before
    assert env.control.moves() == []


# ---- the quota --------------------------------------------------------------------------------------------


def test_the_quota_comes_from_service_quotas_when_it_can_be_read():
    quotas = boto3.client(
        "service-quotas", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    instance = arn(f"instance/{uuid.uuid4()}")
    with Stubber(quotas) as stub:
        stub.add_response(
            "list_service_quotas",
            {"Quotas": [{"QuotaName": "Phone numbers per instance", "QuotaCode": "L-TEST", "Value": 10.0}]},
            {"ServiceCode": "connect"},
        )
        stub.add_response(
            "get_service_quota",
            {"Quota": {"QuotaName": "Phone numbers per instance", "QuotaCode": "L-TEST", "Value": 2.0}},
            {"ServiceCode": "connect", "QuotaCode": "L-TEST", "ContextId": instance},
        )
        stub.add_client_error("get_service_quota", "AccessDeniedException")
        world = plan.World(plan.Clients(None, None, None, quotas, None), plan.Plan(REGION, {}, None))
        assert world.quota(instance) == (2, "Service Quotas (this instance)")
        assert world.quota(instance) == (10, "Service Quotas (account)")
    assert world.plan.notes == []


# ---- change sets ------------------------------------------------------------------------------------------


def change_set(estate: Estate) -> dict:
    """The recorded DescribeChangeSet answer, with this estate's ARNs."""
    text = FIXTURE.read_text()
    for key, value in {
        "NUMBER_0": estate.number(0),
        "NUMBER_1": estate.number(1),
        "INSTANCE_A": estate.a,
        "INSTANCE_B": estate.b,
        "FLOW_B": estate.flow(estate.instance_b, estate.flow_b),
        "STACK_ID": estate.stack,
        "LOGICAL_0": f"Number{alnum(estate.ids[0])}",
        "LOGICAL_1": f"Number{alnum(estate.ids[1])}",
    }.items():
        text = text.replace(key, value)
    return json.loads(text)


def test_the_change_set_is_read_with_property_values_on_every_page(estate):
    answer = change_set(estate)
    cloudformation = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    first, second = dict(answer), dict(answer)
    first["Changes"], first["NextToken"] = answer["Changes"][:1], "page-2"
    second["Changes"] = answer["Changes"][1:]
    with Stubber(cloudformation) as stub:
        request = {"ChangeSetName": "flip", "StackName": "numbers", "IncludePropertyValues": True}
        stub.add_response("describe_change_set", first, request)
        stub.add_response("describe_change_set", second, {**request, "NextToken": "page-2"})
        stack_id, declarations = plan.read_change_set(cloudformation, "numbers", "flip")

    assert stack_id == estate.stack
    assert [(d.logical_id, d.action) for d in declarations] == [
        (f"Number{alnum(estate.ids[0])}", "Modify"),
        (f"Number{alnum(estate.ids[1])}", "Modify"),
        ("Unknowable", "Add"),
        ("OldLine", "Remove"),
    ]
    assert declarations[0].properties == {
        "PhoneNumberId": estate.number(0),
        "TargetArn": estate.b,
        "ContactFlowArn": estate.flow(estate.instance_b, estate.flow_b),
        "OnDelete": "Retain",
    }
    assert declarations[2].unresolved
    assert "known only while the change set executes" in declarations[2].unresolved
    assert declarations[3].properties["OnDelete"] == "Restore"


def test_a_modify_that_changes_the_number_says_which_one_it_replaces():
    before = json.dumps({"Properties": {"PhoneNumberId": arn("phone-number/old"), "TargetArn": "t"}})
    after = json.dumps({"Properties": {"PhoneNumberId": "NEW", "TargetArn": "t"}})
    page = {
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Line",
                    "ResourceType": "Custom::PhoneNumberAssignment",
                    "BeforeContext": before,
                    "AfterContext": after,
                },
            }
        ]
    }

    [declaration] = plan.declarations_from_change_set([page])

    assert declaration.replacing == arn("phone-number/old")
    assert declaration.properties == {"PhoneNumberId": "NEW", "TargetArn": "t"}


@pytest.mark.parametrize(("status", "says"), [("CREATE_PENDING", "wait until"), ("FAILED", "didn't contain")])
def test_a_change_set_not_ready_is_not_checked(status, says):
    cloudformation = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_change_set",
            {"Status": status, "StatusReason": "The submitted information didn't contain changes."},
        )
        with pytest.raises(plan.NotChecked, match=says):
            plan.read_change_set(cloudformation, "numbers", "flip")


def test_a_change_set_is_planned_end_to_end(estate, monkeypatch):
    """CHANGE_SET= through main: DescribeChangeSet answers the recorded shape (moto's has no property
    values); every other call, DescribeStackResource(s) included, is the emulator's."""
    answer = change_set(estate)
    asked: list[dict] = []
    made = plan.Clients.for_region

    class Answered:
        status_code = 200

    def describe_change_set(params, **_):
        asked.append(params["body"])
        return Answered(), answer

    def for_region(region):
        clients = made(region)
        clients.cloudformation.meta.events.register(
            "before-call.cloudformation.DescribeChangeSet", describe_change_set
        )
        return clients

    monkeypatch.setattr(plan.Clients, "for_region", staticmethod(for_region))

    code, report, err = plan_json("--change-set", "flip", "--stack", estate.stack)

    assert asked == [
        {
            "Action": "DescribeChangeSet",
            "Version": "2010-05-15",
            "ChangeSetName": "flip",
            "StackName": estate.stack,
            "IncludePropertyValues": "true",
        }
    ]
    assert code == plan.EXIT_UNCHECKED, err  # the Add whose TargetArn is known only when it executes
    entries = {entry["logicalResourceId"]: entry for entry in report["numbers"]}
    assert "ProviderLogs" not in entries
    moving = entries[f"Number{alnum(estate.ids[0])}"]
    assert moving["action"] == "Modify"
    assert moving["now"]["targetArn"] == estate.a
    assert moving["after"]["targetArn"] == estate.b
    assert moving["after"]["contactFlowArn"] == estate.flow(estate.instance_b, estate.flow_b)
    assert moving["now"]["owner"]["cloudFormation"] == "this resource"
    assert moving["room"]["incoming"] == 2
    assert moving["verdict"] == "ok"
    assert entries["Unknowable"]["verdict"] == "unchecked"
    removed = entries["OldLine"]
    assert removed["action"] == "Remove"
    assert any("OnDelete: Restore" in note for note in removed["notes"])
    assert report["source"]["changeSet"] == "flip"


# ---- through make ---------------------------------------------------------------------------------------


def test_make_plan_prints_only_json_on_stdout_and_passes_params(estate, env, tools_venv, tmp_path):
    done = subprocess.run(  # noqa: S603 - our own Makefile
        [  # noqa: S607
            "make",
            "--no-print-directory",
            "plan",
            f"TEMPLATE={estate.template(tmp_path)}",
            f"STACK={estate.stack}",
            f"PARAMS=TargetArn={estate.b} Site=b",
            "FORMAT=json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"]["parameters"] == {"TargetArn": estate.b, "Site": "b"}
    assert report["summary"]["moves"] == 2
    assert plan.READ_ONLY_NOTICE in done.stderr


def test_make_plan_without_a_source_says_how_to_use_it(tools_venv):
    done = subprocess.run(
        ["make", "--no-print-directory", "plan"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "usage: make plan STACK=<stack> CHANGE_SET=<change set>" in done.stderr
    assert done.stdout == ""


# ---- the provider's own rules, before anything is read ---------------------------------------------------


def test_every_reason_the_provider_would_give_is_reported_and_nothing_is_read(estate, env, tmp_path):
    template = estate.template(tmp_path)
    template.write_text(
        template.read_text()
        .replace("TargetArn: !Ref TargetArn", "TargetARN: !Ref TargetArn\n          Description: main line")
        .replace("OnDelete: Retain", "OnDelete: Delete")
    )
    reads = len([c for c in env.control.calls() if c.get("operation") == "DescribePhoneNumber"])

    code, report, err = plan_json("--template", str(template), "--stack", estate.stack)

    assert code == plan.EXIT_FLAGGED, err
    for entry in report["numbers"]:
        assert entry["verdict"] == "refused"
        assert set(refusals(entry)) == {"invalid-properties"}
        said = " ".join(r["message"] for r in entry["refusals"])
        assert "Unknown property 'TargetARN'. Did you mean TargetArn?" in said
        assert "Unknown property 'Description'." in said
        assert "Property TargetArn is required" in said  # not "an empty TargetArn"
        assert "Property OnDelete must be Retain or Restore; got 'Delete'" in said
    assert len([c for c in env.control.calls() if c.get("operation") == "DescribePhoneNumber"]) == reads


def test_a_target_in_another_region_is_refused_as_the_provider_refuses_it(estate, tmp_path):
    elsewhere = estate.b.replace(f":{REGION}:", ":eu-west-2:")

    code, report, _ = plan_json(
        "--template",
        str(estate.template(tmp_path)),
        "--stack",
        estate.stack,
        "--param",
        f"TargetArn={elsewhere}",
    )

    assert code == plan.EXIT_FLAGGED
    entry = report["numbers"][0]
    assert "invalid-properties" in refusals(entry)
    assert any(
        f"must be in this provider's partition and Region (arn:aws:connect:{REGION}:...)" in r["message"]
        for r in entry["refusals"]
    )


def test_a_parameter_outside_its_allowed_values_is_a_usage_error(estate, env, tmp_path):
    calls = len(env.control.calls())

    code, out, err = run_plan("--template", str(estate.template(tmp_path)), "--param", "Site=c")

    assert code == plan.EXIT_USAGE
    assert "parameter Site: PARAMS gives 'c', not one of its AllowedValues (a, b)" in err
    assert out == ""
    assert len(env.control.calls()) == calls


def test_a_stack_that_does_not_exist_is_a_usage_error(estate, tmp_path):
    code, out, err = run_plan("--template", str(estate.template(tmp_path)), "--stack", "nubmers")

    assert code == plan.EXIT_USAGE
    assert "STACK=nubmers: no such stack" in err
    assert out == ""


@pytest.mark.parametrize("whose", ["this resource", "a stack CloudFormation no longer holds"])
def test_a_number_being_put_back_is_refused_whoever_puts_it_back(estate, env, ddb, tmp_path, whose):
    ddb.delete_item(
        TableName="PhoneNumberAssignment-Ownership", Key={"PhoneNumberArn": {"S": estate.number(0)}}
    )
    if whose == "this resource":
        owner, logical_id = estate.stack, f"Number{alnum(estate.ids[0])}"
    else:
        owner, logical_id = stack_arn("gone", region=REGION, account_id=ACCOUNT), "Line"
    put_record(ddb, estate.number(0), owner, logical_id, "UNDOING", estate.a, estate.b)

    code, report, _ = plan_json("--template", str(estate.template(tmp_path)), "--stack", estate.stack)

    assert code == plan.EXIT_FLAGGED
    entry = by_number(report)[estate.number(0)]
    assert refusals(entry) == ["being-put-back"]
    assert not any("the provider takes it" in note for note in entry["notes"])


def test_a_property_that_resolves_to_no_value_is_absent_as_cloudformation_drops_it(estate, tmp_path):
    template = estate.template(tmp_path)
    template.write_text(
        template.read_text().replace("OnDelete: Retain", "OnDelete: !If [OnB, Restore, !Ref AWS::NoValue]")
    )

    code, report, _ = plan_json("--template", str(template), "--stack", estate.stack)

    assert code == plan.EXIT_CLEAN, json.dumps(report["numbers"][0]["refusals"])
