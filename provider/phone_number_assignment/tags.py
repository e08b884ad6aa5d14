"""What the provider writes on a phone number, as tags: the number carries what the provider must remember.

CloudFormation does not hand a resource's Data back on Delete, so the tags record the owning stack and
logical ID, the target the number had before (what OnDelete: Restore returns to), the contact flow the
provider associated and, until the Create or replacement that took the number has succeeded, a pending
marker. A Delete that finds the marker (CloudFormation's rollback of that failed request) puts the number
back where it was, whatever OnDelete says: the assignment never existed. Claims in progress are tags too
(ownership.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

TAG_PREFIX = "PhoneNumberAssignment:"
STACK_TAG = f"{TAG_PREFIX}StackId"
LOGICAL_ID_TAG = f"{TAG_PREFIX}LogicalResourceId"
PREVIOUS_TARGET_TAG = f"{TAG_PREFIX}PreviousTargetArn"
CONTACT_FLOW_TAG = f"{TAG_PREFIX}ContactFlowArn"
# Set with the owner tags by the request that took the number, removed once that request succeeded. Its value
# is the target that request was moving the number to.
PENDING_TAG = f"{TAG_PREFIX}Pending"
CLAIM_TAG_PREFIX = f"{TAG_PREFIX}Claim:"


@dataclass(frozen=True)
class Owner:
    stack_id: str
    logical_id: str

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Owner | None:
        if STACK_TAG not in tags:
            return None
        return cls(tags[STACK_TAG], tags.get(LOGICAL_ID_TAG, ""))

    def describe(self) -> str:
        return f"{self.logical_id} in stack {self.stack_id}"


def owner_tags(owner: Owner, previous_target_arn: str) -> dict[str, str]:
    return {
        STACK_TAG: owner.stack_id,
        LOGICAL_ID_TAG: owner.logical_id,
        PREVIOUS_TARGET_TAG: previous_target_arn,
    }


def owned_tag_keys(tags: Mapping[str, str], owner: Owner) -> list[str]:
    """The tags ``owner`` wrote: everything of this provider's but other contenders' claims."""
    own_claim = claim_key(owner)
    return sorted(
        key
        for key in tags
        if key.startswith(TAG_PREFIX) and (not key.startswith(CLAIM_TAG_PREFIX) or key == own_claim)
    )


def owns(tags: Mapping[str, str], owner: Owner) -> bool:
    return Owner.from_tags(tags) == owner


def is_pending(tags: Mapping[str, str], owner: Owner) -> bool:
    """Whether ``owner`` took the number in a request that has not succeeded (yet, or ever)."""
    return owns(tags, owner) and PENDING_TAG in tags


def claim_key(owner: Owner) -> str:
    identity = f"{owner.stack_id}\n{owner.logical_id}"
    return CLAIM_TAG_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:16]
