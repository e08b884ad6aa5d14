"""Where the provider's AWS clients are created: nowhere else.

botocore resolves the endpoint itself, so AWS_ENDPOINT_URL_CONNECT (or AWS_ENDPOINT_URL) points the same code
at the local emulator; tests can also pass their own client to the lifecycle.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and 5xx with exponential backoff. Two attempts per call keep one call's
# worst case short (connect.CALL_ALLOWANCE_SECONDS); the provider's own loop (connect.PhoneNumbers) keeps
# retrying, with its own backoff, within the invocation's time budget.
CONNECT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="phone-number-assignment",
)


@functools.cache
def connect_client(region: str | None = None) -> Any:
    """One Connect client per Region, reused by warm invocations (client creation costs tens of ms)."""
    return boto3.session.Session().client("connect", region_name=region, config=CONNECT_CONFIG)
