"""The order rule as pure decisions: from what a request knows to one named action.

No I/O, no clock, no clients: each function takes what the request has read (its number's record, the
resource's stamp, whether Connect still knows the number, what CloudFormation says of the stack) and names
the one thing to do, or the one question to ask first (``Ask``). ownership.py and lifecycle.py read, ask and
execute; docs/reliability.md's table "One order per number" names, row by row, the action this module
gives (tests/provider/test_rule.py holds the two to each other).

Imports only the standard library and the record's types, so the tools can share it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from .records import Record, ResourceStamp, State
from .tags import Owner

# The only stack status in which another resource of the same stack may take a number over (a rename). In a
# stack create, or any other operation, two resources declaring one number are duplicates.
RENAME_STACK_STATUS = "UPDATE_IN_PROGRESS"


class Action(enum.StrEnum):
    """What a request does to a number, one name per row of the rule table."""

    # Create / Update
    TAKE = "Take"  # write PENDING stamped with this request, then converge
    RESTAMP = "Restamp"  # this resource's record: stamp it with this request, then converge
    BUILD_ON = "BuildOn"  # the same request delivered again: build on what it wrote
    ADOPT = "Adopt"  # no record, this resource's tags (the table was lost): adopt what they say
    TAKE_OVER = "TakeOver"  # a rename: the same stack's old logical ID becomes the predecessor
    TAKE_BACK = "TakeBack"  # a rename rolled back: the old logical ID takes its number back
    REFUSE = "Refuse"  # another resource's record: no change
    REFUSE_DUPLICATE = "RefuseDuplicate"  # another resource of this stack declares it: no change
    WAIT_FOR_UNDO = "WaitForUndo"  # this resource's Delete is putting it back: no change, retry later
    TABLE_LOST = "TableLost"  # tags name an owner but the table is gone: no change
    WAIT_OUT_LAG = "WaitOutLag"  # an earlier request's move may not show yet: read again after the lag
    CONVERGE = "Converge"  # the number is where Describe shows it: converge from there
    # Any request
    STAMP = "Stamp"  # write this request's stamp on its resource (over an older one), then go on
    STOP = "Stop"  # overtaken by a newer request of this resource: no change (a Delete answers SUCCESS)
    NOTHING = "Nothing"  # nothing of this resource's on the number: no change
    # Giving a number back
    PUT_BACK = "PutBack"  # UNDOING, move back where it was with its flow, untag, RELEASED
    HAND_BACK = "HandBack"  # to the rename's old logical ID, where it declares it
    LET_GO = "LetGo"  # untag and RELEASED; the number stays where it is
    RELEASE = "Release"  # the record alone says RELEASED (nothing was moved, or the number is gone)
    FORGET_PREDECESSOR = "ForgetPredecessor"  # renamed away: the new logical ID keeps it
    UNTAG = "Untag"  # no record of this resource's; remove its tags, if any
    PUT_BACK_BY_TAGS = "PutBackByTags"  # no record, this resource's tags: put back where the tags say
    LET_GO_BY_TAGS = "LetGoByTags"  # no record, this resource's tags: untag
    FOLLOW_NEWER = "FollowNewer"  # an overtaken request's move landed: put it where the newer one wants
    HAND_BACK_RECORD = "HandBackRecord"  # nothing was moved: the rename's old logical ID holds it again


class Ask(enum.StrEnum):
    """A fact a decision needs that costs a call: the executor reads it and decides again."""

    HOLDER_HOLDS = "does CloudFormation say the recorded owner's resource still holds the number?"
    STACK = "what operation is the requester's stack in (its status, when it started)?"
    NUMBER = "what does Connect say of the number (does it exist, whose tags does it carry)?"
    ROLLING_BACK = "is the requester's stack rolling an operation back?"
    PREDECESSOR_HOLDS = "does the rename's old resource still declare the number?"


@dataclass(frozen=True)
class Requester:
    """The request acting on a number: whose it is, which one, and when CloudFormation sent it."""

    owner: Owner
    request_id: str
    requested_at: float
    request_type: str
    # Where the resource's stamp is kept (records.resource_key); empty for a write made on behalf of
    # another request (an overtaken request putting back what it did), which no stamp fences.
    resource_key: str = ""
    # Fingerprints of the request's ResourceProperties and OldResourceProperties (records.properties_digest).
    properties: str = ""
    old_properties: str = ""

    @property
    def is_delete(self) -> bool:
        return self.request_type == "Delete"

    def stamp(self) -> dict[str, Any]:
        """The record's fields that say this request wrote it."""
        return {
            "requested_at": self.requested_at,
            "request_id": self.request_id,
            "request_type": self.request_type,
        }


# ---- order ------------------------------------------------------------------------------------------------


def newer_than(record: Record, requester: Requester) -> bool:
    """Whether ``record`` was written by a request of the same owner that CloudFormation sent after
    ``requester`` (before it has written anything itself): later by its signing time, or in the same second
    by a Delete when ``requester`` is a Create or Update."""
    if record.owner != requester.owner or record.request_id == requester.request_id:
        return False
    if record.requested_at != requester.requested_at:
        return record.requested_at > requester.requested_at
    return record.request_type == "Delete" and not requester.is_delete


def fenced_out(record: Record, requester: Requester) -> bool:
    """Whether, after ``requester`` stamped the record, another request of the same owner has stamped it
    since, sent no earlier (the fence between the steps of a request). In the same second a Delete is not
    fenced out by a Create or Update (it was sent after them), but a Create or Update is by anything."""
    if record.owner != requester.owner or record.request_id == requester.request_id:
        return False
    if record.requested_at != requester.requested_at:
        return record.requested_at > requester.requested_at
    return not requester.is_delete or record.request_type == "Delete"


def stamp_is_newer(stamp: ResourceStamp, requester: Requester) -> bool:
    """Whether the resource's ``stamp`` was written by a request CloudFormation sent after ``requester``.

    Later by signing time; in the same second a Delete is newer than a Create or Update (CloudFormation sends
    the cancelling Delete after the request it cancels). Of an Update and its rollback signed in the same
    second (each one's ResourceProperties are the other's OldResourceProperties) the rollback is the one that
    declares again what the resource declared before the pair: the stamp that preceded the first of them
    (``follows``). Any other two Creates or Updates of one second: the one that stamps last.
    """
    if stamp.request_id == requester.request_id:
        return False
    if stamp.requested_at != requester.requested_at:
        return stamp.requested_at > requester.requested_at
    if requester.is_delete or stamp.request_type == "Delete":
        return stamp.request_type == "Delete" and not requester.is_delete
    return rolls_back(requester, stamp) and bool(stamp.follows) and stamp.properties == stamp.follows


def rolls_back(request: Requester | ResourceStamp, stamp: ResourceStamp | Requester) -> bool:
    """Whether ``request`` declares again what ``stamp``'s request replaced: each one's ResourceProperties
    are the other's OldResourceProperties (an Update and its rollback)."""
    return (
        bool(stamp.properties)
        and stamp.old_properties == request.properties
        and stamp.properties == request.old_properties
    )


def declared_before(stored: ResourceStamp | None, requester: Requester) -> str:
    """What the resource declared before ``requester``: the stamp's ``follows`` when ``requester`` stamps
    over ``stored``. Usually ``stored``'s properties. Over the other half of an Update-and-rollback pair
    signed in the same second, what that one followed (the declaration before the pair): the rollback that
    stamps second then says so as the one that stamps first does, so the cancelled Update, delivered again
    later, still finds the rollback newer (``stamp_is_newer``)."""
    if stored is None:
        return ""
    pair = stored.requested_at == requester.requested_at and rolls_back(requester, stored)
    return stored.follows if pair and not requester.is_delete else stored.properties


def on_stamp(stamp: ResourceStamp | None, requester: Requester) -> Action:
    """What a request does first, with its resource's stamp: build on its own, stop at a newer one's, or
    stamp over an older one's (or none)."""
    if stamp is not None and stamp.request_id == requester.request_id:
        return Action.BUILD_ON
    if stamp is not None and stamp_is_newer(stamp, requester):
        return Action.STOP
    return Action.STAMP


def stamped_since(stamp: ResourceStamp | None, requester: Requester) -> bool:
    """The fence on the resource: another request has stamped it since ``requester`` did (a request only
    stamps over an older one, so any other stamp is a newer request's)."""
    return bool(requester.resource_key) and stamp is not None and stamp.request_id != requester.request_id


# ---- Create / Update: may this request take the number? ----------------------------------------------------


@dataclass(frozen=True)
class TakeFacts:
    requester: Requester
    record: Record | None  # as stored, or as the number's tags say when there is none
    recorded: bool = True  # False: ``record`` was read from the tags
    table_missing: bool = False
    holder_holds: bool | None = None  # None: not asked
    stack_status: str | None = None  # None: not asked
    stack_started_at: float = 0.0
    stack_rolling_back: bool = False


def on_take(facts: TakeFacts) -> Action | Ask:
    record, requester = facts.record, facts.requester
    if record is not None and not facts.recorded and facts.table_missing:
        return Action.TABLE_LOST
    if record is not None and newer_than(record, requester):
        return Action.STOP
    if record is None or record.released:
        return Action.TAKE
    if record.owner == requester.owner:
        if record.state is State.UNDOING:
            return Action.WAIT_FOR_UNDO
        if not facts.recorded:
            return Action.ADOPT
        return Action.BUILD_ON if record.request_id == requester.request_id else Action.RESTAMP
    if record.state is State.UNDOING:
        return Action.REFUSE
    if facts.holder_holds is None:
        return Ask.HOLDER_HOLDS
    if not facts.holder_holds:
        return Action.TAKE  # CloudFormation says the recorded owner let go: taken as a fresh number
    if record.owner.stack_id != requester.owner.stack_id:
        return Action.REFUSE
    renamable = record.settled and record.predecessor is None
    taking_back = record.predecessor is not None and record.predecessor.owner == requester.owner
    if not (renamable or taking_back):
        return Action.REFUSE_DUPLICATE
    if facts.stack_status is None:
        return Ask.STACK
    # A rename takes over an assignment an earlier stack operation made. Two resources added by this same
    # operation (both sent after it started) are duplicates, whichever succeeded first. Signing times are
    # whole seconds: one in the operation's first second counts as this operation's.
    if (
        renamable
        and facts.stack_status == RENAME_STACK_STATUS
        and record.requested_at < math.floor(facts.stack_started_at)
    ):
        return Action.TAKE_OVER
    # The update that renamed the number away is rolling back, and this is the old logical ID's rollback
    # request (a swap within the stack): it takes its number back, whichever rollback request comes first.
    if taking_back and facts.stack_rolling_back:
        return Action.TAKE_BACK
    return Action.REFUSE_DUPLICATE


def before_converging(
    record: Record,
    requester: Requester,
    overtaken: ResourceStamp | None,
    *,
    shown_arrived: bool,
    moved_it: bool = False,
) -> Action:
    """A Create or Update holding ``record`` before it converges, the number shown already on the declared
    target (``shown_arrived``). Right after UpdatePhoneNumber, Describe still shows the number where it was:
    an earlier request of this resource may have had a move accepted that it never saw through, and the
    number may be leaving. Associating a flow now would meet a number IN_PROGRESS (a rollback Update answering
    FAILED), and counting it as arrived would leave it where that move lands. Such a move may be in flight
    when the record is ``MOVING`` (a Create or replacement that did not finish), or when this request rolls
    back the one whose stamp it replaced (``overtaken``: an Update CloudFormation cancelled, which keeps the
    record's state and moves the number). Then the number is read again once the lag has passed, as a Delete
    does, and the request converges from where it settles.

    ``moved_it``: this request's own move of the number was accepted (in this invocation or an earlier one
    of the request). Connect took it only once nothing else was in flight on the number (``settle``), and a
    lagging Describe shows the number where it was, not on the target: shown there, it has arrived. (A
    continuation re-runs the request from the top; waiting out the lag again in each one cost a Describe
    turn and five seconds per request in a long queue.)"""
    if not shown_arrived or moved_it:
        return Action.CONVERGE
    if record.state is State.MOVING or (overtaken is not None and rolls_back(requester, overtaken)):
        return Action.WAIT_OUT_LAG
    return Action.CONVERGE


# ---- Delete ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteFacts:
    requester: Requester
    record: Record | None
    exists: bool | None = None  # Connect still knows the number; None: not asked
    tags_name_requester: bool = False  # the number's tags name this resource
    cancelling: bool = False  # the physical ID names no number: a Create that never answered
    restore: bool = False  # OnDelete: Restore
    rolling_back: bool | None = None  # None: not asked
    predecessor_holds: bool | None = None  # None: not asked


def on_delete(facts: DeleteFacts) -> Action | Ask:
    record, requester = facts.record, facts.requester
    owner = requester.owner
    if record is not None and newer_than(record, requester):
        return Action.STOP
    if facts.exists is None:
        return Ask.NUMBER
    if not facts.exists:
        mine = record is not None and record.owner == owner and not record.released
        return Action.RELEASE if mine else Action.NOTHING
    if record is None or record.released:
        if record is None and facts.tags_name_requester:
            return _puts_back(facts, Action.PUT_BACK_BY_TAGS, Action.LET_GO_BY_TAGS)
        return Action.UNTAG
    if record.owner == owner:
        if record.predecessor is not None:
            if facts.predecessor_holds is None:
                return Ask.PREDECESSOR_HOLDS
            if facts.predecessor_holds:
                return Action.HAND_BACK
        # UNDOING: a put-back this resource's Delete started and did not finish (it continues in a later
        # invocation, or its invocation died): it goes on putting back, whatever OnDelete says.
        if facts.cancelling or record.state in (State.PENDING, State.MOVING, State.UNDOING):
            return Action.PUT_BACK
        return _puts_back(facts, Action.PUT_BACK, Action.LET_GO)
    if record.predecessor is not None and record.predecessor.owner == owner:
        return Action.FORGET_PREDECESSOR
    return Action.NOTHING


def _puts_back(facts: DeleteFacts, put_back: Action, let_go: Action) -> Action | Ask:
    """A number held after success goes back on OnDelete: Restore, or while the stack rolls back (asked
    only when Retain would otherwise keep it)."""
    if facts.restore:
        return put_back
    if facts.rolling_back is None:
        return Ask.ROLLING_BACK
    return put_back if facts.rolling_back else let_go


# ---- after a Create or Update failed, was overtaken, or is rolled back -------------------------------------


def after_failure(record: Record | None, requester: Requester, *, moved: bool) -> Action:
    """A failed Create or Update gives up a number it holds in a record it never moved (PENDING; MOVING too
    when Connect said the move failed): nothing to put back. Anything else is left to the rollback."""
    untouched = {State.PENDING} if moved else {State.PENDING, State.MOVING}
    if (
        record is None
        or record.owner != requester.owner
        or record.state not in untouched
        or fenced_out(record, requester)
    ):
        return Action.NOTHING
    return Action.HAND_BACK_RECORD if record.predecessor is not None else Action.RELEASE


def when_overtaken(
    record: Record | None, requester: Requester, *, moved: bool, newer_declares_it: bool = False
) -> Action:
    """An overtaken Create or Update. If the newer request found nothing of this one's (the record still
    carries this request's stamp), this one puts back what it did; if a move of its landed after the newer
    one looked, the number goes where the newer one wants it; tags it wrote on a number nobody holds go.

    ``newer_declares_it``: this is an in-place Update, and the newer request of the resource (its rollback)
    declares this same number. That one decides with ``on_take``, which always writes the record
    conditionally: it cannot have passed this one's record by, so it takes the record over from whatever
    this one wrote and converges from wherever this one's move lands (``WaitOutLag``). Putting back here
    would move the number to where it was before the stack took it, and leave it ``UNDOING`` while the
    rollback reads it (the rollback then answered FAILED: ``UPDATE_ROLLBACK_FAILED``)."""
    mine = record is not None and record.owner == requester.owner
    if mine and record.request_id == requester.request_id and not record.released:
        if newer_declares_it:
            return Action.NOTHING
        return Action.HAND_BACK if record.predecessor is not None else Action.PUT_BACK
    if moved and mine and record.state is not State.UNDOING:
        return Action.FOLLOW_NEWER
    return Action.UNTAG if record is None or record.released else Action.NOTHING


def on_rollback_update(
    record: Record | None, requester: Requester, *, rolled_back: str, predecessor_holds: bool | None = None
) -> Action | Ask:
    """A rollback Update whose OldResourceProperties name another number than its physical ID (a failed or
    cancelled replacement): give up that number if this resource holds it in a record of a request that
    never succeeded, or of the request this rollback rolls back (``rolled_back``: the one whose stamp it
    replaced, which may have succeeded after CloudFormation stopped waiting)."""
    if record is None or record.owner != requester.owner or record.released:
        return Action.NOTHING
    if record.settled and (not rolled_back or record.request_id != rolled_back):
        return Action.NOTHING
    if newer_than(record, requester):
        return Action.STOP
    if record.predecessor is not None:
        if predecessor_holds is None:
            return Ask.PREDECESSOR_HOLDS
        if predecessor_holds:
            return Action.HAND_BACK
    return Action.PUT_BACK
