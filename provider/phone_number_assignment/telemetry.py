"""Powertools Logger and Metrics, shared by every module of the provider.

Created once per Lambda container. The Logger never receives the event: its ResponseURL is a presigned URL
that would let anyone who reads the logs answer CloudFormation for the stack.

No Tracer: the function keeps Lambda's own active tracing (``Tracing: Active`` in template.yaml: Lambda
records each invocation's segment itself), and Powertools' Tracer would need the X-Ray SDK (in maintenance
since 2026-02-25, unsupported from 2027-02-25) and its compiled ``wrapt``, which cost the cold start tens of
milliseconds of imports for subsegments nobody reads (docs/performance.md).
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "phone-number-assignment")

logger = Logger(service=SERVICE)


class _ThroughPowertools(logging.Handler):
    """Hands a record of the modules the tools share (records, stacks, retries, pace: they log through
    ``logging.getLogger(__name__)`` so that they import no Powertools) to the Powertools Logger, whose level,
    handlers, JSON format and appended keys (correlation ID, stack, number) then apply as to its own lines.

    Forwarded at each record rather than copied once (Powertools' copy_config_to_registered_loggers): a level
    or handler set on the Logger later (tests add one) applies to these lines too.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logger.getEffectiveLevel():
            logger.handle(record)


_shared_modules = logging.getLogger(__package__)
_shared_modules.setLevel(logging.DEBUG)  # the Logger's level decides, in the handler
_shared_modules.propagate = False  # Lambda's root handler would print each line a second time, unformatted
# One forwarder, even where the package is imported a second time under the same name (a test harness).
for _forwarder in [h for h in _shared_modules.handlers if type(h).__name__ == _ThroughPowertools.__name__]:
    _shared_modules.removeHandler(_forwarder)
_shared_modules.addHandler(_ThroughPowertools())
metrics = Metrics(
    service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PhoneNumberAssignment")
)
