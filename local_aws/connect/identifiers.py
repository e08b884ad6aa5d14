"""Which identifier forms each Connect operation accepts, read from botocore's Connect model.

Connect's model gives most identifiers a plain string shape, so botocore lets an ARN through where the
service wants an ID; the service then answers 400. This module says, per operation, which request members
take an ID only, so the emulator refuses an ARN there as Connect does (and a caller's mistake shows in
``make test`` instead of in a real account):

- every member of shape ``InstanceId``: "The identifier of the Connect Customer instance. You can find the
  instance ID in the Amazon Resource Name (ARN) of the instance." Real Connect answers an instance ARN with
  ``InvalidRequestException: Invalid input for field InstanceId`` (reported against Terraform's AWS
  provider, hashicorp/terraform-provider-aws#43356). CreateTrafficDistributionGroup's member has another
  shape, ``ACGRInstanceIdOrArn``, whose pattern allows the ARN: accepted.
- ``ContactFlowId`` in AssociatePhoneNumberContactFlow: "The identifier of the flow." DescribeContactFlow's
  documentation shows the ARN form (``arn:aws:.../contact-flow/{id}:$SAVED``): accepted there.

Accepted in both forms, as documented: ``PhoneNumberId`` (the phone-number operations' documentation: "a
phone number ARN or UUID value"; UpdatePhoneNumberMetadata: "The Amazon Resource Name (ARN) or resource ID"),
``TrafficDistributionGroupId`` (its shape's pattern), ``TargetArn`` and ``resourceArn`` (ARNs).

The error is ``InvalidRequestException`` where the operation's model lists it, else
``InvalidParameterException`` (the 400 the operation does list): which of the two Connect sends for the
operations that list only the latter is not documented (docs/reliability.md, "Assumptions").
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from botocore.loaders import Loader

from .exceptions import ConnectError

ID_ONLY_SHAPES = frozenset({"InstanceId"})
ID_ONLY_MEMBERS = frozenset({("AssociatePhoneNumberContactFlow", "ContactFlowId")})


@functools.cache
def _model() -> dict[str, Any]:
    return Loader().load_service_model("connect", "service-2")


@functools.cache
def id_only_members(operation: str) -> tuple[str, ...]:
    """The request members of ``operation`` that take an ID and never an ARN."""
    model = _model()
    spec = model["operations"].get(operation)
    if spec is None or "input" not in spec:
        return ()
    members = model["shapes"][spec["input"]["shape"]]["members"]
    return tuple(
        name
        for name, member in members.items()
        if member["shape"] in ID_ONLY_SHAPES or (operation, name) in ID_ONLY_MEMBERS
    )


@functools.cache
def error_code_for(operation: str) -> str:
    errors = {error["shape"] for error in _model()["operations"][operation].get("errors", [])}
    return "InvalidRequestException" if "InvalidRequestException" in errors else "InvalidParameterException"


def refuse_arns_where_ids_are_documented(operation: str, params: Mapping[str, Any]) -> ConnectError | None:
    """The error Connect answers when an ID-only member of ``operation`` carries an ARN, else None."""
    for name in id_only_members(operation):
        value = params.get(name)
        if isinstance(value, str) and value.startswith("arn:"):
            return ConnectError(error_code_for(operation), f"Invalid input for field {name}")
    return None
