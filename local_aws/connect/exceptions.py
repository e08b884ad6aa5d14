"""Connect errors as the real API returns them: botocore reads the code from ``__type``.

Status codes come from botocore's Connect service model (``error.httpStatusCode``), so a fault
injected by name gets exactly the status the real service would send.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from botocore.loaders import Loader
from moto.core.exceptions import JsonRESTError


@functools.cache
def _modelled_error_status_codes() -> dict[str, int]:
    model = Loader().load_service_model("connect", "service-2")
    return {
        name: shape["error"].get("httpStatusCode", 400)
        for name, shape in model["shapes"].items()
        if shape.get("exception") and "error" in shape
    }


def status_code_for(error_code: str) -> int:
    """The HTTP status the real Connect API uses for ``error_code``; ValueError if it has no such error."""
    try:
        return _modelled_error_status_codes()[error_code]
    except KeyError:
        raise ValueError(f"Connect has no error called {error_code!r}") from None


class ConnectError(JsonRESTError):
    def __init__(self, error_code: str, message: str, **extra_members: Any) -> None:
        super().__init__(error_code, message)
        self.code = status_code_for(error_code)
        if extra_members:
            # ResourceInUseException carries ResourceType/ResourceId next to the message.
            self.description = json.dumps({"__type": error_code, "message": message, **extra_members})


class ResourceNotFoundException(ConnectError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class InvalidParameterException(ConnectError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterException", message)


class InvalidRequestException(ConnectError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestException", message)


class ResourceInUseException(ConnectError):
    def __init__(self, message: str, resource_id: str, resource_type: str | None = None) -> None:
        members = {"ResourceId": resource_id}
        if resource_type:
            members["ResourceType"] = resource_type
        super().__init__("ResourceInUseException", message, **members)


class IdempotencyException(ConnectError):
    def __init__(self, message: str) -> None:
        super().__init__("IdempotencyException", message)


class ThrottlingException(ConnectError):
    """A rate limit's answer: ThrottlingException, or what runtime.THROTTLING_ERROR_CODES allows."""

    def __init__(self, message: str = "Rate exceeded", code: str = "ThrottlingException") -> None:
        super().__init__(code, message)
