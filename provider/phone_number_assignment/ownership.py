"""Which stack's assignment owns a phone number, recorded as tags on the number itself.

CloudFormation does not hand a resource's Data back on Delete, so the number carries what the provider must
remember: the owning stack and logical ID, the target it had before (what OnDelete: Restore returns to) and
the contact flow the provider associated.

Two stacks that declare the same number at the same moment must not both win. Tags are last-writer-wins
with no compare-and-set, so a fresh claim is made in two steps: each contender writes a claim tag of its own
(keyed by its stack, so nobody overwrites anybody) holding the time it was written, waits long enough for
every claim written before its own to become visible, then reads them all. The earliest claim wins; the
others withdraw and fail naming the winner. A claim whose write took longer than CLAIM_WRITE_LEASE_SECONDS is
withdrawn and retried, which is what makes "long enough" a bound.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .connect import PhoneNumbers, PhoneNumberState
from .errors import OwnershipConflict

TAG_PREFIX = "PhoneNumberAssignment:"
STACK_TAG = f"{TAG_PREFIX}StackId"
LOGICAL_ID_TAG = f"{TAG_PREFIX}LogicalResourceId"
PREVIOUS_TARGET_TAG = f"{TAG_PREFIX}PreviousTargetArn"
CONTACT_FLOW_TAG = f"{TAG_PREFIX}ContactFlowArn"
CLAIM_TAG_PREFIX = f"{TAG_PREFIX}Claim:"

CLAIM_WRITE_LEASE_SECONDS = 0.75
# Lambda clocks are NTP-synchronised to well under this; it pads the wait for clock disagreement.
CLOCK_SKEW_SECONDS = 0.25
CLAIM_SETTLE_SECONDS = CLAIM_WRITE_LEASE_SECONDS + CLOCK_SKEW_SECONDS
# A claim is converted into owner tags within seconds; one older than this was left by an invocation that
# died mid-claim and must not block the number forever.
CLAIM_EXPIRY_SECONDS = 120


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


def provider_tag_keys(tags: Mapping[str, str]) -> list[str]:
    return sorted(key for key in tags if key.startswith(TAG_PREFIX))


def owns(tags: Mapping[str, str], owner: Owner) -> bool:
    return Owner.from_tags(tags) == owner


def claim_key(stack_id: str) -> str:
    return CLAIM_TAG_PREFIX + hashlib.sha256(stack_id.encode()).hexdigest()[:16]


def conflict(state: PhoneNumberState, holder: Owner | str) -> OwnershipConflict:
    name = holder.describe() if isinstance(holder, Owner) else f"stack {holder}"
    return OwnershipConflict(
        f"Phone number {state.label} is already assigned by {name}. A number can belong to one stack's "
        "assignment at a time: remove it from that stack first (OnDelete: Retain keeps it where it is)."
    )


@dataclass(frozen=True)
class _Claim:
    written_at_ms: int
    stack_id: str
    key: str


def _live_claims(tags: Mapping[str, str], now: float) -> list[_Claim]:
    """Unexpired claims, earliest (the winner) first."""
    oldest_ms = (now - CLAIM_EXPIRY_SECONDS) * 1000
    claims = []
    for key, value in tags.items():
        if key.startswith(CLAIM_TAG_PREFIX):
            written_at, _, stack_id = value.partition(" ")
            if written_at.isdigit() and int(written_at) >= oldest_ms:
                claims.append(_Claim(int(written_at), stack_id, key))
    return sorted(claims, key=lambda claim: (claim.written_at_ms, claim.key))


def acquire(
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    owner: Owner,
    *,
    wall_clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PhoneNumberState:
    """Make ``owner`` the number's owner, or raise OwnershipConflict naming the stack that owns it.

    ``state`` must be settled (not IN_PROGRESS). Returns the number's state after acquiring it, with the
    previous target recorded. Another logical ID of the same stack may take over (a rename or replacement):
    the restore target it recorded is kept.
    """
    while True:
        current = Owner.from_tags(state.tags)
        if current is not None and current.stack_id != owner.stack_id:
            raise conflict(state, current)
        if current is not None:
            if current != owner or PREVIOUS_TARGET_TAG not in state.tags:
                previous = state.tags.get(PREVIOUS_TARGET_TAG) or state.target_arn
                state = numbers.tag(state, owner_tags(owner, previous))
            return state

        key = claim_key(owner.stack_id)
        started = monotonic()
        numbers.tag(state, {key: f"{int(wall_clock() * 1000)} {owner.stack_id}"})
        if monotonic() - started > CLAIM_WRITE_LEASE_SECONDS:
            # Too slow to be sure every rival sees it in time: withdraw and start over.
            numbers.untag(state, [key])
            state = numbers.settle(numbers.describe_existing(state.arn))
            continue
        sleep(CLAIM_SETTLE_SECONDS)
        seen = numbers.settle(numbers.describe_existing(state.arn))
        rival_owner = Owner.from_tags(seen.tags)
        winner = next(iter(_live_claims(seen.tags, wall_clock())), None)
        if rival_owner is not None and rival_owner.stack_id != owner.stack_id:
            numbers.untag(state, [key])
            raise conflict(seen, rival_owner)
        if winner is not None and winner.key != key:
            numbers.untag(state, [key])
            raise conflict(seen, winner.stack_id)
        # Won. The restore target is where the number was before anyone claimed it; expired claims of
        # invocations that died mid-claim are cleared with ours.
        state = numbers.tag(seen, owner_tags(owner, seen.target_arn))
        return numbers.untag(state, [k for k in state.tags if k.startswith(CLAIM_TAG_PREFIX)])
