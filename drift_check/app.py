"""DriftCheckFunction's handler: `make status`'s check, run by EventBridge on DriftCheckSchedule.

It runs tools.status, the same read-only code as `make status` (JSON output, version 1), in the account and
Region the function runs in, then:

* publishes ``FlaggedNumbers`` (how many numbers carry a flag) and ``DriftCheckIncomplete`` (1 when part or
  all of the account could not be read, so that "nothing flagged" is never mistaken for "clean") as EMF
  metrics in the provider's namespace and ``service`` dimension, which the template's alarms watch;
* logs one JSON line per flag (``Drift check flagged a phone number``) with the number, its owner, the flag
  and what to do, the commands included, so that the alarm's reader finds the fix in the function's logs.

Nothing here writes: the function's role grants only the reads tools/status.py makes (template.yaml). The
wrapper stays thin on purpose: what a flag means, and what to do about it, is tools/status.py's alone.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tools import status

# The provider's namespace and service dimension (template.yaml sets both for both functions), so that one
# dashboard and one set of alarms read every metric the project publishes.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "phone-number-assignment")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PhoneNumberAssignment")
FLAGGED_METRIC = "FlaggedNumbers"
INCOMPLETE_METRIC = "DriftCheckIncomplete"
FLAG_MESSAGE = "Drift check flagged a phone number"

# A logger of its own name: its lines say they come from the drift check, not from a request.
logger = Logger(service=f"{SERVICE}-drift-check")
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def _flag_line(number: dict[str, Any], flag: dict[str, Any]) -> dict[str, Any]:
    owner = number.get("owner") or {}
    return {
        "flag": flag["code"],
        "phone_number": number.get("phoneNumber"),
        "phone_number_arn": number["phoneNumberArn"],
        "target_arn": number.get("targetArn"),
        "owner_stack": owner.get("stackName"),
        "owner_stack_id": owner.get("stackId"),
        "owner_logical_id": owner.get("logicalResourceId"),
        "detail": flag["message"],
        "what_to_do": flag.get("advice"),
        "commands": flag.get("commands") or [],
    }


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    code = status.main(["--format", "json"], stdout=out, stderr=err)
    if not out.getvalue():
        # Nothing read at all (no Region, no credentials, a listing refused): the tool said why on stderr.
        problem = [line for line in err.getvalue().splitlines() if line.startswith("make status:")]
        logger.error(
            "Drift check could not read the account", extra={"problem": problem, "exit_status": code}
        )
        metrics.add_metric(name=INCOMPLETE_METRIC, unit=MetricUnit.Count, value=1)
        return {"flagged": None, "unchecked": problem}
    report = json.loads(out.getvalue())
    for number in report["numbers"]:
        for flag in number["flags"]:
            logger.warning(FLAG_MESSAGE, extra=_flag_line(number, flag))
    summary, unchecked = report["summary"], report["unchecked"]
    metrics.add_metric(name=FLAGGED_METRIC, unit=MetricUnit.Count, value=summary["flagged"])
    metrics.add_metric(name=INCOMPLETE_METRIC, unit=MetricUnit.Count, value=1 if unchecked else 0)
    logger.info(
        "Drift check finished",
        extra={"summary": summary, "unchecked": unchecked, "exit_status": code, "region": report["region"]},
    )
    return {"flagged": summary["flagged"], "unchecked": unchecked}
