"""Powertools Logger and Metrics, shared by every module of the provider.

Created once per Lambda container. The Logger never receives the event: its ResponseURL is a presigned URL
that would let anyone who reads the logs answer CloudFormation for the stack.

No Tracer: the function keeps Lambda's own active tracing (``Tracing: Active`` in template.yaml: Lambda
records each invocation's segment itself), and Powertools' Tracer would need the X-Ray SDK (in maintenance
since 2026-02-25, unsupported from 2027-02-25) and its compiled ``wrapt``, which cost the cold start tens of
milliseconds of imports for subsegments nobody reads (docs/performance.md).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "phone-number-assignment")

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PhoneNumberAssignment")
)
