"""Where the provider's AWS clients are created: nowhere else.

botocore resolves the endpoint itself, so AWS_ENDPOINT_URL_CONNECT, AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_CLOUDFORMATION and AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL) point the same code at
the local emulator; tests can
also pass their own clients to the lifecycle.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
ATTEMPTS_PER_CALL = 2
# Standard mode's backoff before its one retry is at most 1 s (random * 2 ** 0).
BOTOCORE_BACKOFF_SECONDS = 1
# The longest one call can take, botocore's own retry included. The provider keeps this much of the
# invocation in reserve (app.budget_seconds), so a call started at the last moment still ends before the
# provider answers CloudFormation.
CALL_WORST_CASE_SECONDS = (
    ATTEMPTS_PER_CALL * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + BOTOCORE_BACKOFF_SECONDS
)

# Standard mode retries throttling and 5xx with exponential backoff. Two attempts per call keep one call's
# worst case short; callers that need more retry with their own backoff within the invocation's budget.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS_PER_CALL},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    user_agent_extra="phone-number-assignment",
)

# Connect: one attempt per call, no retry by botocore. Every retry is connect.PhoneNumbers._call's, paced by
# waiting.Pacing, because Connect's quota is shared by every invocation of a stack at once and botocore's
# quick retry (standard mode: within 1 s) is one more throttled call for each of them (make bench: it
# doubles the throttled calls). Adaptive mode does not help either: its rate limiter is per client, i.e.
# per invocation here, which makes a handful of calls; it only starts after a throttle and never goes
# below 0.5 requests/s (botocore/retries/bucket.py), far above one invocation's share of 2 requests/s when
# a stack has dozens of resources, while each of its attempts could sleep up to 1 / 0.5 = 2 s more.
CONNECT_ATTEMPTS_PER_CALL = 1
CONNECT_CALL_WORST_CASE_SECONDS = CONNECT_ATTEMPTS_PER_CALL * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
CONNECT_CLIENT_CONFIG = CLIENT_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": CONNECT_ATTEMPTS_PER_CALL})
)

# The shared pace's writes (pace.py): one attempt, short timeouts. A turn is worth less than the time a slow
# or failing DynamoDB would cost; a pace write that does not answer within this leaves the invocation to
# pace itself, as it did before the pace existed. DynamoDB answers single-item writes in milliseconds; a
# hundred invocations writing one item at once queue behind each other there (and far longer in the
# emulator, one request at a time on a shared machine: make bench saw 1 s exceeded 62 times at N=100, each
# an invocation pacing itself alone for 30 s and throttling the others), hence 2 s to read.
PACE_CONNECT_TIMEOUT_SECONDS = 1
PACE_TIMEOUT_SECONDS = 2
PACE_CLIENT_CONFIG = CLIENT_CONFIG.merge(
    Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=PACE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=PACE_TIMEOUT_SECONDS,
    )
)


@functools.cache
def _session() -> Any:
    # One per container: a Session loads botocore's data (about 0.1 s); a client made from it still reads the
    # environment (Region, AWS_ENDPOINT_URL_*) when it is made.
    return boto3.session.Session()


@functools.cache
def connect_client(region: str | None = None) -> Any:
    """One Connect client per Region, reused by warm invocations (client creation costs tens of ms)."""
    return _session().client("connect", region_name=region, config=CONNECT_CLIENT_CONFIG)


@functools.cache
def cloudformation_client(region: str | None = None) -> Any:
    """Only used to ask whether another stack still manages a number (stacks.py); created on first use."""
    return _session().client("cloudformation", region_name=region, config=CLIENT_CONFIG)


@functools.cache
def dynamodb_client(region: str | None = None) -> Any:
    """The ownership table's client (records.py): every Create, Update and Delete reads and writes it."""
    return _session().client("dynamodb", region_name=region, config=CLIENT_CONFIG)


@functools.cache
def pace_client(region: str | None = None) -> Any:
    """The shared pace's DynamoDB client (pace.py): the ownership table, with PACE_CLIENT_CONFIG."""
    return _session().client("dynamodb", region_name=region, config=PACE_CLIENT_CONFIG)


@functools.cache
def lambda_client(region: str | None = None) -> Any:
    """Hands a request that outlives its invocation to the next one (continuation.py): an asynchronous
    Invoke of this function. Created on first use: most requests never need it."""
    return _session().client("lambda", region_name=region, config=CLIENT_CONFIG)
