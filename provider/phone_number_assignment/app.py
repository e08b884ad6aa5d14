"""Lambda entry point of the Custom::PhoneNumberAssignment provider.

Thin on purpose: it turns the CloudFormation event into a lifecycle Request, gives the lifecycle a Connect
client and a time budget, and lets crhelper (through responder.CloudFormationResponder) answer
CloudFormation exactly once.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from botocore.utils import ArnParser, InvalidArnException

from . import lifecycle
from .clients import connect_client
from .connect import Budget, PhoneNumbers
from .properties import Scope
from .responder import CloudFormationResponder
from .telemetry import logger, metrics, tracer

# The provider answers CloudFormation this long before Lambda would stop it (one Connect call, timeouts and
# botocore retries included, fits in it; see clients.py), so a move still in progress is
# reported as such (and the response PUT has time to finish) instead of ending in crhelper's timeout message.
RESPONSE_RESERVE_SECONDS = 30.0
RESPONSE_RESERVE_FRACTION = 0.1
MIN_RESPONSE_RESERVE_SECONDS = 5.0

# crhelper logs the whole event, ResponseURL included, at DEBUG: whatever LogLevel the stack chooses, its
# loggers stay at INFO.
logging.getLogger("crhelper").setLevel(logging.INFO)


def _scope(context: Any) -> Scope:
    """The partition, Region and account the function runs in, from its own ARN."""
    try:
        arn = ArnParser().parse_arn(context.invoked_function_arn)
        return Scope(arn["partition"], arn["region"], arn["account"])
    except (AttributeError, TypeError, InvalidArnException):
        # Lambda always passes its ARN; this serves hand-made contexts only.
        region = os.environ.get("AWS_REGION", "us-east-1")
        partition = boto3.session.Session().get_partition_for_region(region)
        return Scope(partition, region, os.environ.get("AWS_ACCOUNT_ID", "000000000000"))


def budget_seconds(context: Any) -> float:
    remaining = context.get_remaining_time_in_millis() / 1000
    reserve = min(
        RESPONSE_RESERVE_SECONDS, max(MIN_RESPONSE_RESERVE_SECONDS, remaining * RESPONSE_RESERVE_FRACTION)
    )
    return max(0.0, remaining - reserve)


def _run(operation: Any, event: dict[str, Any], context: Any) -> lifecycle.Outcome:
    cfn_event = CloudFormationCustomResourceEvent(event)
    request = lifecycle.Request(
        request_type=cfn_event.request_type,
        stack_id=cfn_event.stack_id,
        logical_id=cfn_event.logical_resource_id,
        request_id=cfn_event.request_id,
        scope=(scope := _scope(context)),
        properties=event.get("ResourceProperties") or {},
        physical_id=event.get("PhysicalResourceId") or "",
    )
    numbers = PhoneNumbers(connect_client(scope.region), Budget(budget_seconds(context)))
    return operation(request, numbers)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> None:
    if isinstance(event, dict):
        logger.set_correlation_id(str(event.get("RequestId", "")))
        logger.append_keys(
            request_type=event.get("RequestType"),
            stack_id=event.get("StackId"),
            logical_resource_id=event.get("LogicalResourceId"),
            physical_resource_id=event.get("PhysicalResourceId"),
        )
    # A responder per invocation: crhelper keeps the request's state on the instance, and nothing of one
    # request may leak into the next one a warm container serves.
    CloudFormationResponder(
        create=functools.partial(_run, lifecycle.create),
        update=functools.partial(_run, lifecycle.update),
        delete=functools.partial(_run, lifecycle.delete),
    )(event, context)
