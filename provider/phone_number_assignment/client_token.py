"""The ClientToken sent with UpdatePhoneNumber.

Derived, not random, so that Lambda's retries of the same CloudFormation request reuse it and Connect's
idempotency cache turns a repeated move into a no-op. The RequestId is part of it because an update from A to
B and its rollback from B to A are different requests: a token from stack and logical ID alone would make
Connect answer the rollback with the first move's cached result and move nothing. A UUID string, because some
Connect operations expect UUID-shaped tokens, and far below the 500-character limit.
"""

from __future__ import annotations

import uuid

# A fixed namespace so the same inputs give the same token in every container and every release.
TOKEN_NAMESPACE = uuid.UUID("5b0c6f5e-8d0a-4a4f-9a57-4c1e2f0b7c31")


def client_token(
    *, stack_id: str, logical_id: str, request_id: str, phone_number_arn: str, target_arn: str
) -> str:
    """The token for moving ``phone_number_arn`` to ``target_arn`` in this CloudFormation request.

    The number and target are included so one request that moves a number twice (a replacement's new number,
    a Restore) never reuses a token with other parameters, which Connect rejects with IdempotencyException.
    """
    name = "\n".join((stack_id, logical_id, request_id, phone_number_arn, target_arn))
    return str(uuid.uuid5(TOKEN_NAMESPACE, name))
