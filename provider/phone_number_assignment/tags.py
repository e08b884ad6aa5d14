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

from .errors import NoRoomForTags, quote

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
# Connect's limit: "You can add up to 50 tags to each resource", and tags with the reserved aws: prefix do not
# count (Amazon Connect Administrator Guide, "Tag resources in Amazon Connect"; TagMap's max of 50).
MAX_TAGS_PER_RESOURCE = 50
RESERVED_PREFIX = "aws:"
# How many of the number's own tag keys a Reason names.
KEYS_NAMED = 10


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


def require_room(tags: Mapping[str, str], owner: Owner, contact_flow_arn: str, *, number: str) -> None:
    """Refuse, before anything changes, a number whose tags leave no room for the provider's.

    The provider's tags are written once the number is on its target (TagResource, then UntagResource for a
    key no longer wanted: lifecycle._write_tags), so at its fullest the number carries its own tags and
    every key of ``owner_tags``. A Connect refusal then would come after the move and cost a move back.
    """
    wanted = owner_tags(owner, "", contact_flow_arn)
    counted = {key for key in tags if not key.lower().startswith(RESERVED_PREFIX)} | set(wanted)
    excess = len(counted) - MAX_TAGS_PER_RESOURCE
    if excess <= 0:
        return
    missing = sorted(key for key in wanted if key not in tags)
    own = sorted(key for key in tags if not key.startswith(TAG_PREFIX) and key not in wanted)
    own = [key for key in own if not key.lower().startswith(RESERVED_PREFIX)]
    named = ", ".join(quote(key, 60) for key in own[:KEYS_NAMED])
    more = f" and {len(own) - KEYS_NAMED} more" if len(own) > KEYS_NAMED else ""
    raise NoRoomForTags(
        f"{number} has {len(counted) - len(missing)} tags (aws: tags aside) and Connect allows "
        f"{MAX_TAGS_PER_RESOURCE} per resource; the provider needs {len(missing)} more of its own "
        f"({', '.join(missing)}). Remove at least {excess} of the number's other tags ({named}{more}) and "
        "retry the stack operation; nothing was changed."
    )
