"""Connect's tag rules, and tag writes that become visible to readers only after a configurable lag.

Rules (botocore's Connect model: ``TagKey`` 1-128 characters matching
``^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$``, ``TagValue`` at most 256, ``TagMap``/``TagKeyList`` 1-50
entries; the Connect Administrator Guide, "Tag resources": at most 50 tags per resource, the ``aws:`` prefix
is reserved and such tags do not count). The model lists InvalidParameterException and
InvalidRequestException for TagResource and UntagResource and no ServiceQuotaExceededException, and which of
the two a violation gets is not documented: the emulator answers every violation with
InvalidParameterException (docs/reliability.md, "Assumptions about the real service").

Visibility: whether a tag write is visible to the next DescribePhoneNumber at once is undocumented, so the
emulator can delay it: a write accepted at ``t`` shows in DescribePhoneNumber's Tags and ListTagsForResource
from ``t + tag_visibility_seconds`` on, for every reader (the writer included), and writes show in the order
they were accepted. Rules and the 50-tag count are checked against every accepted write, shown or not: the
service has them; only its readers lag.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from .exceptions import InvalidParameterException

MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
MAX_USER_TAGS = 50
MAX_TAGS_PER_REQUEST = 50
RESERVED_PREFIX = "aws:"
KEY_PUNCTUATION = frozenset("_.:/=+-@")


@dataclass(frozen=True)
class TagWrite:
    visible_at: float
    added: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]

    def apply_to(self, tags: dict[str, str]) -> None:
        tags.update(self.added)
        for key in self.removed:
            tags.pop(key, None)


class Taggable(Protocol):
    tags: dict[str, str]  # what readers see: every write visible so far, applied in order
    tag_writes: list[TagWrite]  # accepted, not yet visible, in acceptance order


def is_reserved(key: str) -> bool:
    # AWS reserves the prefix in any letter case.
    return key[: len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX


def _key_characters_allowed(key: str) -> bool:
    # Python's re has no \p{L}/\p{Z}/\p{N}; the model's character classes by Unicode category instead
    # (the third-party `regex` package would be a new dependency for one pattern).
    return all(unicodedata.category(c)[0] in "LZN" or c in KEY_PUNCTUATION for c in key)


def validate_key(key: Any) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidParameterException(f"Tag keys must be 1 to {MAX_KEY_LENGTH} characters long: {key!r}")
    if is_reserved(key):
        raise InvalidParameterException(
            f"Tag key {key!r} is not valid: keys starting with 'aws:' are reserved for AWS use"
        )
    if not _key_characters_allowed(key):
        raise InvalidParameterException(
            f"Tag key {key!r} is not valid: use letters, numbers, spaces and _ . : / = + - @ only"
        )


def validate_value(key: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
        raise InvalidParameterException(
            f"The value of tag {key!r} must be a string of at most {MAX_VALUE_LENGTH} characters"
        )


def validate_new_tags(tags: Any) -> dict[str, str]:
    """The tags of a TagResource request (or a create call's Tags), or InvalidParameterException."""
    if not isinstance(tags, dict) or not 1 <= len(tags) <= MAX_TAGS_PER_REQUEST:
        raise InvalidParameterException(f"Provide 1 to {MAX_TAGS_PER_REQUEST} tags")
    for key, value in tags.items():
        validate_key(key)
        validate_value(key, value)
    return dict(tags)


def validate_tag_keys(keys: Any) -> list[str]:
    """The keys of an UntagResource request, or InvalidParameterException (no ``aws:`` keys)."""
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_TAGS_PER_REQUEST:
        raise InvalidParameterException(f"Provide 1 to {MAX_TAGS_PER_REQUEST} tag keys")
    for key in keys:
        validate_key(key)
    return list(keys)


def user_tag_count(tags: dict[str, str]) -> int:
    return sum(1 for key in tags if not is_reserved(key))


def settle(resource: Taggable, now: float) -> None:
    while resource.tag_writes and resource.tag_writes[0].visible_at <= now:
        resource.tag_writes.pop(0).apply_to(resource.tags)


def visible_tags(resource: Taggable, now: float) -> dict[str, str]:
    settle(resource, now)
    return dict(resource.tags)


def latest_tags(resource: Taggable) -> dict[str, str]:
    """The tags once every accepted write is visible: what the service itself holds."""
    tags = dict(resource.tags)
    for write in resource.tag_writes:
        write.apply_to(tags)
    return tags


def write_tags(
    resource: Taggable,
    now: float,
    lag_seconds: float,
    *,
    added: dict[str, str] | None = None,
    removed: list[str] | None = None,
) -> None:
    """Accept a TagResource/UntagResource; refuses (changing nothing) beyond 50 user tags."""
    write = TagWrite(0.0, tuple((added or {}).items()), tuple(removed or ()))
    after = latest_tags(resource)
    write.apply_to(after)
    if user_tag_count(after) > MAX_USER_TAGS:
        raise InvalidParameterException(
            f"A resource can have at most {MAX_USER_TAGS} tags (aws: tags do not count); "
            f"this request would leave {user_tag_count(after)}"
        )
    settle(resource, now)
    # In acceptance order even when the lag was shortened in between.
    previous = resource.tag_writes[-1].visible_at if resource.tag_writes else now
    visible_at = max(now + lag_seconds, previous)
    if visible_at <= now:
        write.apply_to(resource.tags)
        return
    resource.tag_writes.append(TagWrite(visible_at, write.added, write.removed))
