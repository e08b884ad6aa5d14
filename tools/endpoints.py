"""How the tools reach AWS (or the local emulator), and a fast, clear answer when nothing answers there.

Every client gets one botocore Config: adaptive retries (Connect's default quota is 2 requests per second per
operation, and botocore's adaptive mode slows the client down on throttling), and connect and read timeouts
far below botocore's 60 s each. Retries also cover connection errors, which is right for a flaky network
but turns an endpoint that is not there (the emulator not started, AWS_ENDPOINT_URL_CONNECT set for Connect
alone so that DynamoDB and CloudFormation go to AWS from a machine that cannot reach it) into a minute of
silence. So a client whose first request gets no answer at all stops the tool at once, naming the service,
the endpoint it tried, and how to point every tool at the emulator; no extra call is made to find out.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectionError, ConnectTimeoutError, ReadTimeoutError

# Long enough for a slow network, short next to the minutes a retried dead endpoint costs.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
EMULATOR_HINT = (
    "To run the tools against the local emulator (make emulator), point every service at it: "
    "export AWS_ENDPOINT_URL=http://127.0.0.1:4599 (AWS_ENDPOINT_URL_CONNECT alone sends DynamoDB and "
    "CloudFormation to AWS). To use AWS, unset AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_* and check the "
    "network and the Region."
)


def config(**retries: Any) -> Config:
    """The tools' Config: adaptive retries (or ``retries``) and short timeouts."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries=retries or {"mode": "adaptive", "max_attempts": 10},
    )


class Unreachable(Exception):
    """A service's endpoint did not answer: the message names it and says what to do."""


def client(session: Any, service: str, region: str, **retries: Any) -> Any:
    """``session.client(service)`` with the tools' Config, failing fast where the endpoint does not answer."""
    made = session.client(service, region_name=region, config=config(**retries))
    fail_fast(made)
    return made


def fail_fast(made: Any) -> None:
    """Raise Unreachable, instead of retrying, when a client's first request gets no answer at all.

    botocore asks the ``needs-retry`` handlers after each attempt; this one runs first. Once the endpoint
    has answered anything (an error too), a later connection error is a blip worth botocore's retries.
    """
    answered = False

    def before_retrying(
        response: Any = None, caught_exception: Any = None, endpoint: Any = None, **_: Any
    ) -> None:
        nonlocal answered
        if response is not None:
            answered = True
        elif not answered and isinstance(
            caught_exception, (ConnectionError, ConnectTimeoutError, ReadTimeoutError)
        ):
            where = getattr(endpoint, "host", None) or made.meta.endpoint_url
            service = made.meta.service_model.service_id
            raise Unreachable(
                f"no answer from {service} at {where} ({type(caught_exception).__name__}). {EMULATOR_HINT}"
            )

    made.meta.events.register_first("needs-retry", before_retrying)
