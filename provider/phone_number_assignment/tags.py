"""What the provider writes on a phone number, as tags: the record people see in the console.

Ownership is decided by the ownership record (records.py), which can be written conditionally; the tags
mirror it once a request has succeeded: the owning stack and logical ID, the target the number had before
(what OnDelete: Restore returns to), the contact flow the provider associated, and the schema version, so
that a later release can read what this one wrote. A number with these tags and no record (the table was
lost) is treated as owned by the tagged stack resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# 1: ownership in the DynamoDB record, tags written on success (0.1.0, never published, used claim tags).
SCHEMA_VERSION = 1

TAG_PREFIX = "PhoneNumberAssignment:"
STACK_TAG = f"{TAG_PREFIX}StackId"
LOGICAL_ID_TAG = f"{TAG_PREFIX}LogicalResourceId"
PREVIOUS_TARGET_TAG = f"{TAG_PREFIX}PreviousTargetArn"
CONTACT_FLOW_TAG = f"{TAG_PREFIX}ContactFlowArn"
# The flow the number routed to before this stack took it, which a rollback or Restore associates again.
PREVIOUS_CONTACT_FLOW_TAG = f"{TAG_PREFIX}PreviousContactFlowArn"
SCHEMA_VERSION_TAG = f"{TAG_PREFIX}SchemaVersion"


@dataclass(frozen=True)
class Owner:
    """A stack resource: the stack's ID and the resource's logical ID."""

    stack_id: str
    logical_id: str

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Owner | None:
        if STACK_TAG not in tags:
            return None
        return cls(tags[STACK_TAG], tags.get(LOGICAL_ID_TAG, ""))

    def describe(self) -> str:
        return f"{self.logical_id} in stack {self.stack_id}"


def owner_tags(
    owner: Owner, previous_target_arn: str, contact_flow_arn: str = "", previous_contact_flow_arn: str = ""
) -> dict[str, str]:
    tags = {
        STACK_TAG: owner.stack_id,
        LOGICAL_ID_TAG: owner.logical_id,
        PREVIOUS_TARGET_TAG: previous_target_arn,
        SCHEMA_VERSION_TAG: str(SCHEMA_VERSION),
    }
    if contact_flow_arn:
        tags[CONTACT_FLOW_TAG] = contact_flow_arn
    if previous_contact_flow_arn:
        tags[PREVIOUS_CONTACT_FLOW_TAG] = previous_contact_flow_arn
    return tags


def provider_tag_keys(tags: Mapping[str, str]) -> list[str]:
    """Every tag this provider wrote on the number (whoever's request wrote it)."""
    return sorted(key for key in tags if key.startswith(TAG_PREFIX))


def owns(tags: Mapping[str, str], owner: Owner) -> bool:
    return Owner.from_tags(tags) == owner
