"""A Lambda-like ``context`` object for calling the handler in this process.

``make invoke`` and the artifact tests run the function under Lambda's own runtime (local_aws.lambda_runtime:
the Runtime Interface Emulator and awslambdaric, whose context is the real one). The in-process calls (the
bulk of the suite, ``make demo``, the benchmarks) use this stand-in, for speed. Standard library only: the
cold-start benchmark loads this file by path in an interpreter that holds nothing but the function's code.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"


class LambdaContext:
    """Mirrors the attributes the Python Lambda runtime (awslambdaric) exposes on ``context``.

    The deadline is fixed at construction, so ``get_remaining_time_in_millis`` counts down from
    ``timeout_seconds`` exactly as the real runtime counts down from the function's Timeout; crhelper arms
    its "about to time out" FAILED response from this value.
    """

    def __init__(
        self,
        *,
        function_name: str = "ProviderFunction",
        timeout_seconds: float = 3,
        memory_limit_in_mb: int | str = 128,
        function_version: str = "$LATEST",
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        aws_request_id: str | None = None,
        log_group_name: str | None = None,
        log_stream_name: str | None = None,
        clock=time.monotonic,
    ) -> None:
        self._clock = clock
        self._deadline = clock() + float(timeout_seconds)
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        # The real runtime copies AWS_LAMBDA_FUNCTION_MEMORY_SIZE verbatim, so this is a string there too.
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = log_group_name or f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name or (
            f"{datetime.now(UTC):%Y/%m/%d}/[{function_version}]{secrets.token_hex(16)}"
        )
        self.identity = None
        self.client_context = None
        self.tenant_id = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r}, "
            f"remaining_ms={self.get_remaining_time_in_millis()})"
        )
