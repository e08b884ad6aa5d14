"""Taking ownership of a phone number: the claim protocol over the tags of tags.py.

Two stacks (or two resources of one stack) that declare the same number at the same moment must not both
win. Tags are last-writer-wins with no compare-and-set, so a fresh claim is made in steps:

1. each contender writes a claim tag of its own (keyed by stack and logical ID, so nobody overwrites
   anybody) holding the time it was written; a write that took longer than CLAIM_WRITE_LEASE_SECONDS is
   written again with a fresh time;
2. it reads the number until its own claim is visible: how long that took is the tag-visibility lag of this
   number right now. If it is not visible within CLAIM_VISIBILITY_BOUND_SECONDS, the contender withdraws and
   refuses: with writes that slow to show, "both win" cannot be ruled out, so both refuse;
3. it waits CLAIM_SETTLE_SECONDS more and reads again. Every claim written before its own (by the clock,
   give or take CLOCK_SKEW_SECONDS) has landed by then and, being subject to the same lag, become visible.
   The earliest live claim wins; the others withdraw and fail naming the winner.

Assumption (docs/reliability.md): tag writes to one number become visible after about the same delay, to
within the settle time; the acceptance suite measures the delay on a real account.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .connect import PhoneNumbers, PhoneNumberState
from .errors import ClaimInProgress, OwnershipConflict, TagsNotVisible
from .tags import (
    CLAIM_TAG_PREFIX,
    PENDING_TAG,
    PREVIOUS_TARGET_TAG,
    TAG_PREFIX,
    Owner,
    claim_key,
    owner_tags,
)

CLAIM_WRITE_LEASE_SECONDS = 0.75
CLAIM_WRITE_ATTEMPTS = 5
# Lambda clocks are NTP-synchronised to well under this; it pads the wait for clock disagreement.
CLOCK_SKEW_SECONDS = 0.25
CLAIM_SETTLE_SECONDS = CLAIM_WRITE_LEASE_SECONDS + CLOCK_SKEW_SECONDS
# Longest a claim may take to become visible to its own writer before the claim is abandoned.
CLAIM_VISIBILITY_BOUND_SECONDS = 5.0
CLAIM_VISIBILITY_POLL_SECONDS = 0.25
# A live claim is converted into owner tags, or withdrawn, within CLAIM_CONVERT_BY_SECONDS of being written
# (the claimer checks before converting), so one older than CLAIM_EXPIRY_SECONDS was left by an invocation
# that died mid-claim and blocks nobody. The gap covers the converting write itself (one call's worst case,
# clients.CALL_WORST_CASE_SECONDS) and clock skew. CONVERT_BY is generous because a claim's reads queue
# behind every other resource's under the shared 2 requests/s quota: at 100 concurrent assignments they take
# tens of seconds, and a claim withdrawn for being slow only adds calls to that queue (make bench).
CLAIM_CONVERT_BY_SECONDS = 60.0
CLAIM_EXPIRY_SECONDS = 90


def conflict(state: PhoneNumberState, holder: Owner) -> OwnershipConflict:
    if PENDING_TAG in state.tags:
        return OwnershipConflict(
            f"Phone number {state.label} was taken by {holder.describe()} in a stack operation that has not "
            "succeeded (it may still be running, or its rollback has not reached the number yet). Retry once "
            "that stack operation has finished; if that stack no longer declares the number, remove the "
            f"number's {TAG_PREFIX}* tags by hand."
        )
    return OwnershipConflict(
        f"Phone number {state.label} is already assigned by {holder.describe()}. A number can belong to "
        "one stack's assignment at a time: remove it from that stack first (OnDelete: Retain keeps it where "
        "it is)."
    )


@dataclass(frozen=True)
class _Claim:
    written_at_ms: int
    owner: Owner
    key: str

    def in_progress(self, state: PhoneNumberState) -> ClaimInProgress:
        written = datetime.datetime.fromtimestamp(self.written_at_ms / 1000, datetime.UTC)
        expires = written + datetime.timedelta(seconds=CLAIM_EXPIRY_SECONDS)
        return ClaimInProgress(
            f"Phone number {state.label} is being claimed by {self.owner.describe()} since "
            f"{written:%H:%M:%S} UTC: nothing has been assigned yet. If that claim completes, the number is "
            f"theirs; if the invocation making it died, the claim expires at {expires:%H:%M:%S} UTC. Retry "
            "after that."
        )


def _claim_value(written_at_ms: int, owner: Owner) -> str:
    # Tag values are at most 256 characters; a stack ARN is under 200, a logical ID at most 255, so the
    # logical ID is cut (it only serves the Reason; the key identifies the claim).
    return f"{written_at_ms} {owner.stack_id} {owner.logical_id}"[:256]


def _live_claims(tags: Mapping[str, str], now: float) -> list[_Claim]:
    """Unexpired claims, earliest (the winner) first."""
    oldest_ms = (now - CLAIM_EXPIRY_SECONDS) * 1000
    claims = []
    for key, value in tags.items():
        if key.startswith(CLAIM_TAG_PREFIX):
            written_at, _, rest = value.partition(" ")
            stack_id, _, logical_id = rest.partition(" ")
            if written_at.isdigit() and int(written_at) >= oldest_ms:
                claims.append(_Claim(int(written_at), Owner(stack_id, logical_id), key))
    return sorted(claims, key=lambda claim: (claim.written_at_ms, claim.key))


def blocking_claim(state: PhoneNumberState, owner: Owner, now: float) -> _Claim | None:
    """The earliest live claim of another contender on the number, if any."""
    own = claim_key(owner)
    return next((claim for claim in _live_claims(state.tags, now) if claim.key != own), None)


def acquire(
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    owner: Owner,
    target_arn: str,
    *,
    wall_clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PhoneNumberState:
    """Make ``owner`` the number's owner, or raise naming who holds or is claiming it.

    ``state`` must be settled (not IN_PROGRESS). Returns the number's state after acquiring it, with the
    previous target recorded; a number taken fresh carries PENDING_TAG (naming ``target_arn``, where this
    request is taking it) until ``confirm``. Another logical ID
    of the same stack may take over (a rename): the restore target it recorded is kept.
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
        rival = blocking_claim(state, owner, wall_clock())
        if rival is not None:
            raise rival.in_progress(state)

        key = claim_key(owner)
        written_at, started = _write_claim(numbers, state, owner, wall_clock=wall_clock, monotonic=monotonic)
        _until_visible(numbers, state, key, monotonic=monotonic, sleep=sleep, written=started)
        sleep(CLAIM_SETTLE_SECONDS)
        seen = numbers.settle(numbers.describe_existing(state.arn))
        rival_owner = Owner.from_tags(seen.tags)
        if rival_owner is not None and rival_owner.stack_id != owner.stack_id:
            numbers.untag(state, [key])
            raise conflict(seen, rival_owner)
        winner = next(iter(_live_claims(seen.tags, wall_clock())), None)
        if winner is not None and winner.key != key:
            numbers.untag(state, [key])
            raise winner.in_progress(seen)
        if wall_clock() - written_at > CLAIM_CONVERT_BY_SECONDS:
            # Rivals may already take this claim for dead: converting it now could make two owners.
            numbers.untag(state, [key])
            state = numbers.settle(numbers.describe_existing(state.arn))
            continue
        # Won. The restore target is where the number was before anyone claimed it; the claim tags stay
        # until ``confirm``, which removes them with the pending marker in one write.
        return numbers.tag(seen, {**owner_tags(owner, seen.target_arn), PENDING_TAG: target_arn})


def _write_claim(
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    owner: Owner,
    *,
    wall_clock: Callable[[], float],
    monotonic: Callable[[], float],
) -> tuple[float, float]:
    """Write this owner's claim; returns (its timestamp, when the write started on the monotonic clock).

    A write that took longer than the lease may land after rivals stopped looking for claims older than its
    timestamp: it is written again with a fresh timestamp (the same key, so nothing to withdraw first), which
    at worst makes a rival that saw the old one refuse too. Throttled writes (botocore's backoff) are the
    usual reason; after CLAIM_WRITE_ATTEMPTS the claim is withdrawn and the request fails.
    """
    key = claim_key(owner)
    for _ in range(CLAIM_WRITE_ATTEMPTS):
        written_at = wall_clock()
        started = monotonic()
        numbers.tag(state, {key: _claim_value(int(written_at * 1000), owner)})
        if monotonic() - started <= CLAIM_WRITE_LEASE_SECONDS:
            return written_at, started
    numbers.untag(state, [key])
    raise TagsNotVisible(
        f"Claiming phone number {state.label} failed: {CLAIM_WRITE_ATTEMPTS} tag writes in a row each took "
        f"longer than {CLAIM_WRITE_LEASE_SECONDS} s (is Connect throttling TagResource?), too slow to rule "
        "out another stack claiming it at the same time. Nothing was assigned; retry the stack operation."
    )


def _until_visible(
    numbers: PhoneNumbers,
    state: PhoneNumberState,
    key: str,
    *,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    written: float,
) -> None:
    """Read the number until the claim ``key`` shows; withdraw and refuse past the visibility bound."""
    while True:
        if key in numbers.describe_existing(state.arn).tags:
            return
        if monotonic() - written > CLAIM_VISIBILITY_BOUND_SECONDS:
            numbers.untag(state, [key])
            raise TagsNotVisible(
                f"Claiming phone number {state.label} failed: the provider's own tag write was not visible "
                f"after {CLAIM_VISIBILITY_BOUND_SECONDS:.0f} s, so it cannot tell whether another stack is "
                "claiming the number at the same time. Nothing was assigned; retry the stack operation."
            )
        sleep(CLAIM_VISIBILITY_POLL_SECONDS)


def confirm(
    numbers: PhoneNumbers, state: PhoneNumberState, owner: Owner, *, now: float | None = None
) -> PhoneNumberState:
    """The request that took the number succeeded: drop the pending marker, its claim and dead claims.

    Other contenders' live claims stay: they are withdrawn by their writers, who see this owner.
    """
    if PENDING_TAG not in state.tags:
        return state
    live = {claim.key for claim in _live_claims(state.tags, time.time() if now is None else now)}
    own = claim_key(owner)
    keys = [
        key
        for key in state.tags
        if key == PENDING_TAG or (key.startswith(CLAIM_TAG_PREFIX) and (key == own or key not in live))
    ]
    return numbers.untag(state, keys)
