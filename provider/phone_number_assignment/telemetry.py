"""Powertools Logger, Metrics and Tracer, shared by every module of the provider.

Created once per Lambda container. The Logger never receives the event: its ResponseURL is a presigned URL
that would let anyone who reads the logs answer CloudFormation for the stack.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "phone-number-assignment")

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PhoneNumberAssignment")
)
tracer = Tracer(service=SERVICE)
