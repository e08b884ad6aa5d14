"""template.yaml's alarms, failure destination and dashboard watch what the stack really produces: the
provider's EMF metrics as the handler publishes them, Lambda's metrics of the right function, the queue Lambda
sends failed events to, and the drift check's metrics; each notifies the topic only when one is given."""

from __future__ import annotations

import json
import re
from typing import Any

import cfnlint.decode
import pytest

from tests.conftest import ROOT
from tests.provider.test_lifecycle import assign
from tests.provider.test_telemetry import json_lines

NOTIFY = {"Fn::If": ["AlarmsNotify", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
DRIFT_CHECK_ALARMS = {"FlaggedNumbersAlarm", "DriftCheckIncompleteAlarm", "DriftCheckErrorsAlarm"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, problems = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    assert not problems, problems
    return json.loads(json.dumps(decoded))  # plain dicts and lists


def alarms(template) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def dimensions(alarm) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}


def test_every_alarm_exists_and_notifies_the_topic_only_when_one_is_given(template):
    found = alarms(template)

    assert set(found) == {
        "FailedRequestsAlarm",
        "ProviderErrorsAlarm",
        "ProviderThrottlesAlarm",
        "ProviderDurationAlarm",
        "MovesFailedAlarm",
        *DRIFT_CHECK_ALARMS,
    }
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert template["Conditions"]["AlarmsNotify"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    for name, alarm in found.items():
        assert alarm["Properties"]["AlarmActions"] == NOTIFY, name
        # Only the drift check's alarms depend on anything: the others exist in every deployment.
        assert alarm.get("Condition") == ("DriftCheckOn" if name in DRIFT_CHECK_ALARMS else None), name
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


@pytest.mark.parametrize(
    ("alarm", "metric", "function"),
    [
        ("ProviderErrorsAlarm", "Errors", "ProviderFunction"),
        ("ProviderThrottlesAlarm", "Throttles", "ProviderFunction"),
        ("ProviderDurationAlarm", "Duration", "ProviderFunction"),
        ("DriftCheckErrorsAlarm", "Errors", "DriftCheckFunction"),
    ],
)
def test_lambdas_metrics_are_watched_on_the_right_function(template, alarm, metric, function):
    properties = alarms(template)[alarm]["Properties"]

    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", metric)
    assert dimensions(alarms(template)[alarm]) == {"FunctionName": {"Ref": function}}


def test_the_duration_alarm_fires_at_ninety_percent_of_the_timeout(template):
    timeout = template["Resources"]["ProviderFunction"]["Properties"]["Timeout"]
    properties = alarms(template)["ProviderDurationAlarm"]["Properties"]

    # Duration is in milliseconds; the longest invocation in the period is what nears the timeout.
    assert properties["Threshold"] == timeout * 1000 * 0.9
    assert properties["Statistic"] == "Maximum"


def test_the_failed_requests_alarm_watches_the_queue_lambda_sends_failed_events_to(template):
    invoke_config = template["Resources"]["ProviderFunction"]["Properties"]["EventInvokeConfig"]
    alarm = alarms(template)["FailedRequestsAlarm"]

    assert invoke_config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailedRequestsQueue", "Arn"]},
    }
    assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dimensions(alarm) == {"QueueName": {"Fn::GetAtt": ["FailedRequestsQueue", "QueueName"]}}
    assert alarm["Properties"]["Threshold"] == 1
    # The message holds the ResponseURL: encrypted at rest, and kept as long as SQS keeps anything.
    queue = template["Resources"]["FailedRequestsQueue"]["Properties"]
    assert queue == {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}


def test_the_moves_failed_alarm_watches_the_metric_a_failed_move_publishes(
    template, stack, world, capfd, aws_env
):
    alarm = alarms(template)["MovesFailedAlarm"]["Properties"]
    variables = template["Resources"]["ProviderFunction"]["Properties"]["Environment"]["Variables"]
    aws_env.control.fail_next_move("no")

    assert stack.create("MainLine", assign(world)).status == "FAILED"

    published = [
        (directive["Namespace"], directive["Dimensions"], blob["service"])
        for blob in json_lines(capfd.readouterr().out)
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", [])
        if "MovesFailed" in {metric["Name"] for metric in directive["Metrics"]}
    ]
    assert published == [(alarm["Namespace"], [["service"]], dimensions({"Properties": alarm})["service"])]
    # And it is what the deployed function is told to publish under.
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert dimensions({"Properties": alarm}) == {"service": variables["POWERTOOLS_SERVICE_NAME"]}


def test_the_drift_alarms_watch_what_the_drift_check_publishes(template):
    from drift_check import app

    variables = template["Resources"]["DriftCheckFunction"]["Properties"]["Environment"]["Variables"]
    found = alarms(template)
    for name, metric in (
        ("FlaggedNumbersAlarm", app.FLAGGED_METRIC),
        ("DriftCheckIncompleteAlarm", app.INCOMPLETE_METRIC),
    ):
        properties = found[name]["Properties"]
        assert properties["MetricName"] == metric
        assert properties["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert dimensions(found[name]) == {"service": variables["POWERTOOLS_SERVICE_NAME"]}
        # No data between two checks: the alarm keeps what the last one said.
        assert properties["TreatMissingData"] == "ignore"
        assert properties["Statistic"] == "Maximum"
        assert properties["Threshold"] == 1


def test_one_parameter_turns_the_drift_check_on(template):
    schedule = template["Parameters"]["DriftCheckSchedule"]
    function = template["Resources"]["DriftCheckFunction"]

    assert schedule["Default"] == ""
    assert template["Conditions"]["DriftCheckOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DriftCheckSchedule"}, ""]}]
    }
    assert function["Condition"] == template["Resources"]["DriftCheckLogGroup"]["Condition"] == "DriftCheckOn"
    assert function["Properties"]["Events"]["Schedule"]["Properties"]["Schedule"] == {
        "Ref": "DriftCheckSchedule"
    }
    pattern = re.compile(schedule["AllowedPattern"])
    for accepted in ("", "rate(1 hour)", "cron(0 6 * * ? *)"):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("1 hour", "hourly", "rate 1 hour"):
        assert not pattern.fullmatch(refused), refused


def _render(value: Any, drift_check_on: bool) -> str:
    """Fn::Sub (and the Fn::If inside it) as CloudFormation would resolve it, with sample values."""
    if isinstance(value, str):
        text, variables = value, {}
    elif set(value) == {"Fn::Sub"}:
        sub = value["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub
    elif set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        assert condition == "DriftCheckOn"
        return _render(when_true if drift_check_on else when_false, drift_check_on)
    else:
        raise AssertionError(value)
    rendered = {name: _render(v, drift_check_on) for name, v in variables.items()}

    def substitute(match: re.Match) -> str:
        name = match[1]
        if name in rendered:
            return rendered[name]
        if name == "AWS::Region":
            return "eu-west-2"
        if name.endswith(".Arn"):
            return f"arn:aws:cloudwatch:eu-west-2:111122223333:alarm:{name[:-4]}"
        if name.endswith(".QueueName"):
            return "FailedRequestsQueue-name"
        return f"{name}-name"

    return re.sub(r"\$\{([^}]+)\}", substitute, text)


@pytest.mark.parametrize("drift_check_on", [False, True])
def test_the_dashboard_shows_every_alarm_and_the_metrics_they_watch(template, drift_check_on):
    dashboard = template["Resources"]["OperationsDashboard"]
    assert dashboard["Condition"] == "DashboardOn"
    assert template["Conditions"]["DashboardOn"] == {"Fn::Equals": [{"Ref": "Dashboard"}, "true"]}
    assert template["Parameters"]["Dashboard"]["Default"] == "false"

    body = json.loads(_render(dashboard["Properties"]["DashboardBody"], drift_check_on))

    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = {arn.rsplit(":", 1)[-1] for arn in alarm_widget["properties"]["alarms"]}
    existing = {n for n in alarms(template) if drift_check_on or n not in DRIFT_CHECK_ALARMS}
    assert shown == existing
    graphed = set()
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        namespace = None
        for row in widget["properties"]["metrics"]:
            names = [item for item in row if isinstance(item, str)]
            namespace = namespace if names[0] in (".", "...") else names[0]
            if names[0] != "...":
                graphed.add((namespace, names[1] if names[1] != "." else None))
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms(template).values()
    }
    # Every metric an alarm watches is on the dashboard, and so are the provider's own move metrics.
    assert watched <= graphed, watched - graphed
    assert {
        ("PhoneNumberAssignment", name) for name in ("Requests", "MovesSucceeded", "MoveDuration")
    } <= graphed
