"""Powertools Logger, Metrics and Tracer, shared by every module of the provider.

Created once per Lambda container. The Logger never receives the event: its ResponseURL is a presigned URL
that would let anyone who reads the logs answer CloudFormation for the stack.

The Tracer only loads the X-Ray SDK where traces can go somewhere. Powertools' Tracer imports
``aws_xray_sdk.core`` even when it disables itself, and that import builds the SDK's global recorder: in
Lambda a few tens of milliseconds of imports (more when the package ships no bytecode), outside Lambda also
two botocore X-Ray clients for centralised sampling. Where tracing is off (see ``xray_tracing_active``), the
Tracer gets a provider that records nothing and imports nothing; in Lambda it is the usual X-Ray Tracer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "phone-number-assignment")
_TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})


def xray_tracing_active(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this container can send X-Ray traces.

    Powertools' own rules first (POWERTOOLS_TRACE_DISABLED; not in Lambda, i.e. no LAMBDA_TASK_ROOT; sam
    local; chalice local), then the daemon: Lambda sets AWS_XRAY_DAEMON_ADDRESS for its X-Ray daemon, and
    local runners that mimic Lambda's variables without one have nowhere to send segments.
    """
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    if (
        not environ.get("LAMBDA_TASK_ROOT")
        or environ.get("AWS_SAM_LOCAL")
        or environ.get("AWS_CHALICE_CLI_MODE")
    ):
        return False
    return bool(environ.get("AWS_XRAY_DAEMON_ADDRESS"))


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class NoTracing(BaseProvider):
    """A Powertools tracing provider that records nothing and imports nothing."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any):  # type: ignore[override]
        yield _NoSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


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
if xray_tracing_active():
    tracer = Tracer(service=SERVICE)
else:
    tracer = Tracer(service=SERVICE, disabled=True, auto_patch=False, provider=NoTracing())
