"""The CloudFormation reads stacks.py makes, through the provider's retry loop (retries.py).

Kept apart from stacks.py, which imports only the standard library, botocore and Powertools-free modules of
the provider, so that tools/ can use its rules without the Lambda's retry loop and pace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from . import retries
from .errors import is_retryable


class CloudFormationReads(retries.BudgetedClient):
    """The reads stacks.py makes, retried on throttling within the invocation's budget like every other call
    (retries.py): slowness must not turn "cannot tell" into a refusal while time is left. An error not worth
    retrying (a stack that does not exist, a denied call) comes back as botocore raised it, for stacks.py to
    read. Paged reads use botocore's own paginators, each page one retried call."""

    service = "cloudformation"

    def describe_stack_resource(self, **params: Any) -> dict[str, Any]:
        return self._retried(
            "DescribeStackResource", f"asking CloudFormation about {params}", params, _as_raised
        )

    def describe_stack_resources(self, **params: Any) -> dict[str, Any]:
        return self._retried(
            "DescribeStackResources",
            f"asking which stack holds {params.get('PhysicalResourceId')}",
            params,
            _as_raised,
        )

    def describe_stacks(self, **params: Any) -> dict[str, Any]:
        return self._retried("DescribeStacks", f"reading stack {params}", params, _as_raised)

    def list_stack_resources(self, **params: Any) -> dict[str, Any]:
        return self._retried("ListStackResources", f"listing the resources of {params}", params, _as_raised)

    def describe_stack_events(self, **params: Any) -> dict[str, Any]:
        return self._retried("DescribeStackEvents", f"reading the events of {params}", params, _as_raised)

    def list_stack_resource_pages(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._pages("ListStackResources", lambda **page: self.list_stack_resources(**page), params)

    def stack_event_pages(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Newest first, as DescribeStackEvents answers."""
        return self._pages("DescribeStackEvents", lambda **page: self.describe_stack_events(**page), params)

    def _pages(self, operation: str, method: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # botocore's paginator for the operation (its tokens and model), calling the retried method.
        config = _paginator_model().get_paginator(operation)
        model = self._client.meta.service_model.operation_model(operation)
        return iter(Paginator(method, config, model).paginate(**params))


_MODEL: Any = None


def _paginator_model() -> Any:
    global _MODEL
    if _MODEL is None:
        _MODEL = botocore.session.get_session().get_paginator_model("cloudformation")
    return _MODEL


def _as_raised(error: ClientError) -> Exception | None:
    return None if is_retryable(error) else error
