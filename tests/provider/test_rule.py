"""The pure core of the order rule (rule.py), row by row against docs/reliability.md's table "One order per
number": no emulator, no clients, no clock."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pytest

from phone_number_assignment import rule
from phone_number_assignment.records import Predecessor, Record, ResourceStamp, State
from phone_number_assignment.rule import Action, Ask, DeleteFacts, Requester, TakeFacts
from phone_number_assignment.tags import Owner

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
NUMBER = "arn:aws:connect:us-east-1:123456789012:phone-number/11111111-1111-4111-8111-111111111111"
HOME = "arn:aws:connect:us-east-1:123456789012:instance/22222222-2222-4222-8222-222222222222"
AWAY = "arn:aws:connect:us-east-1:123456789012:instance/33333333-3333-4333-8333-333333333333"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/44444444-4444-4444-8444-444444444444"
OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/55555555-5555-4555-8555-555555555555"
ME = Owner(STACK, "MainLine")
SIBLING = Owner(STACK, "OtherLine")
STRANGER = Owner(OTHER_STACK, "Line")
NOW = 1_800_000_000.0
KEY = "arn:aws:connect:us-east-1:123456789012:phone-number/resource-x"


def me(request_type="Create", *, at=NOW, request_id="this", properties="", old_properties="") -> Requester:
    return Requester(ME, request_id, at, request_type, KEY, properties, old_properties)


def record(owner=ME, state=State.ASSIGNED, *, at=NOW - 60, request_id="earlier", **fields) -> Record:
    request_type = fields.pop("request_type", "Create")
    return Record(
        NUMBER,
        owner,
        state,
        AWAY,
        HOME,
        requested_at=at,
        request_id=request_id,
        request_type=request_type,
        **fields,
    )


def stamp(*, at=NOW, request_id="other", request_type="Update", **fields) -> ResourceStamp:
    return ResourceStamp(KEY, ME, request_id, request_type, at, **fields)


def take(found, request_type="Update", **facts):
    return rule.on_take(TakeFacts(me(request_type), found, **facts))


def delete(found, **facts):
    facts.setdefault("exists", True)
    facts.setdefault("rolling_back", False)
    facts.setdefault("predecessor_holds", True)
    return rule.on_delete(DeleteFacts(me("Delete"), found, **facts))


renamed_away = record(SIBLING, predecessor=Predecessor(ME, AWAY, HOME))
rename_of_me = record(ME, State.PENDING, predecessor=Predecessor(SIBLING, AWAY, HOME))

# One example per row of the table: (Request, Record found) -> the action the core gives.
ROWS = {
    ("Any request", "its resource's stamp: none, or an older request's"): lambda: rule.on_stamp(
        stamp(at=NOW - 1), me()
    ),
    ("Any request (a repeat of the same request)", "its resource's stamp: this request's"): lambda: (
        rule.on_stamp(stamp(request_id="this"), me())
    ),
    ("Any request", "its resource's stamp: a newer request's"): lambda: rule.on_stamp(
        stamp(at=NOW + 1), me()
    ),
    ("Create / Update", "none, or `RELEASED` by anyone, stamped older"): lambda: take(
        record(STRANGER, State.RELEASED)
    ),
    (
        "Create / Update",
        "stamped by a newer request of this resource (any state, `RELEASED` included)",
    ): lambda: take(record(state=State.RELEASED, at=NOW + 5, request_type="Delete")),
    ("Create / Update", "this resource's `PENDING`/`MOVING`/`ASSIGNED`, stamped older"): lambda: take(
        record(state=State.MOVING)
    ),
    (
        "Create / Update (a repeat of the same request)",
        "this resource's, stamped by this same request",
    ): lambda: take(record(at=NOW, request_id="this")),
    ("Create / Update", "none, but the number's tags name this resource"): lambda: take(
        record(), recorded=False
    ),
    ("Create / Update", "none, the tags name an owner, and the table is missing"): lambda: take(
        record(STRANGER), recorded=False, table_missing=True
    ),
    ("Create / Update", "this resource's `UNDOING`"): lambda: take(record(state=State.UNDOING)),
    (
        "Create / Update holding the number, Describe showing it already on the declared target",
        "this resource's `MOVING`, or the request whose stamp it replaced is the Update it rolls back (a "
        "cancelled Update keeps the record's state while it moves the number)",
    ): lambda: rule.before_converging(record(state=State.MOVING), me("Update"), None, shown_arrived=True),
    (
        "Create / Update holding the number, its own move of it accepted (in this invocation or an earlier "
        "one of the request)",
        "any, the number shown on the declared target",
    ): lambda: rule.before_converging(
        record(state=State.MOVING, request_id="this"), me("Update"), None, shown_arrived=True, moved_it=True
    ),
    ("Create / Update holding the number", "any other, or the number shown elsewhere"): lambda: (
        rule.before_converging(record(state=State.MOVING), me("Update"), None, shown_arrived=False)
    ),
    ("Create / Update", "another resource's `UNDOING`"): lambda: take(record(STRANGER, State.UNDOING)),
    (
        "Create / Update",
        "another stack's `PENDING`/`MOVING`/`ASSIGNED`, which CloudFormation says still holds it (a "
        "replacement's old number is held while the update can roll back)",
    ): lambda: take(record(STRANGER), holder_holds=True),
    (
        "Create / Update",
        "another resource's record, which CloudFormation says no longer holds the number",
    ): lambda: take(record(STRANGER), holder_holds=False),
    (
        "Create / Update while the stack is `UPDATE_IN_PROGRESS`",
        "the same stack's `ASSIGNED` of another logical ID, written before the update started",
    ): lambda: take(
        record(SIBLING), holder_holds=True, stack_status="UPDATE_IN_PROGRESS", stack_started_at=NOW - 10
    ),
    (
        "Create / Update of a rename's old logical ID while the stack rolls back",
        "the rename's record (it names this resource as predecessor)",
    ): lambda: take(
        renamed_away, holder_holds=True, stack_status="UPDATE_ROLLBACK_IN_PROGRESS", stack_rolling_back=True
    ),
    ("Create / Update", "any other record of the same stack's other logical ID"): lambda: take(
        record(SIBLING, State.PENDING), holder_holds=True
    ),
    (
        "Create / Update, overtaken",
        "its own record, still stamped by it (the newer request found nothing of this one's)",
    ): lambda: rule.when_overtaken(record(state=State.PENDING, at=NOW, request_id="this"), me(), moved=False),
    ("In-place Update, overtaken", "its own record, still stamped by it"): lambda: rule.when_overtaken(
        record(state=State.MOVING, at=NOW - 1, request_id="this"),
        me("Update", at=NOW - 1),
        moved=True,
        newer_declares_it=True,
    ),
    (
        "Create / Update, overtaken, after a move of its own",
        "this resource's record, stamped by the newer request, not `UNDOING`",
    ): lambda: rule.when_overtaken(record(at=NOW + 1, request_id="newer"), me(), moved=True),
    ("Create / Update, overtaken", "none, or `RELEASED`"): lambda: rule.when_overtaken(
        None, me(), moved=True
    ),
    (
        "Create / Update that failed",
        "its own `PENDING` (or `MOVING` when Connect said the move failed)",
    ): lambda: rule.after_failure(record(state=State.MOVING, at=NOW, request_id="this"), me(), moved=False),
    ("Create / Update that failed, a rename", "its own `PENDING` rename record"): lambda: rule.after_failure(
        dataclasses.replace(rename_of_me, requested_at=NOW, request_id="this"), me(), moved=True
    ),
    (
        "Rollback Update whose OldResourceProperties name another number than its physical ID (a failed or "
        "cancelled replacement)",
        "this resource's `PENDING`/`MOVING`, or any state written by the Update it rolls back",
    ): lambda: rule.on_rollback_update(
        record(request_id="cancelled", at=NOW - 1), me("Update"), rolled_back="cancelled"
    ),
    (
        "Rollback Update whose OldResourceProperties name another number than its physical ID",
        "none, or another resource's record",
    ): lambda: rule.on_rollback_update(record(STRANGER, State.RELEASED), me("Update"), rolled_back="x"),
    ("Delete", "stamped by a newer request of this resource"): lambda: delete(
        record(at=NOW + 1, request_type="Update")
    ),
    ("Delete of a number Connect no longer knows", "this resource's record"): lambda: delete(
        record(), exists=False
    ),
    (
        "Delete, physical ID names no number (a Create that never answered)",
        "none, or `RELEASED` by anyone",
    ): lambda: delete(record(STRANGER, State.RELEASED), cancelling=True),
    (
        "Delete with `OnDelete: Restore`, or while the stack rolls back",
        "none, but the number's tags name this resource (the table was lost)",
    ): lambda: delete(None, tags_name_requester=True, rolling_back=True),
    (
        "Delete with `OnDelete: Retain`, deliberate",
        "none, but the number's tags name this resource",
    ): lambda: delete(None, tags_name_requester=True),
    ("Delete, physical ID names no number", "this resource's `PENDING`/`MOVING`/`ASSIGNED`"): lambda: delete(
        record(), cancelling=True
    ),
    ("Delete", "this resource's `PENDING`/`MOVING` (a Create or replacement that failed)"): lambda: delete(
        record(state=State.PENDING)
    ),
    (
        "Delete while the stack is `ROLLBACK_IN_PROGRESS`, `UPDATE_ROLLBACK_IN_PROGRESS` or "
        "`UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`",
        "this resource's `ASSIGNED`",
    ): lambda: delete(record(), rolling_back=True),
    ("Delete with `OnDelete: Restore`, deliberate", "this resource's `ASSIGNED`/`UNDOING`"): lambda: delete(
        record(state=State.UNDOING), restore=True
    ),
    (
        "Delete with `OnDelete: Retain`, deliberate (any other stack status)",
        "this resource's `ASSIGNED`/`UNDOING`",
    ): lambda: delete(record()),
    ("Delete", "this resource was renamed away (the record names it as predecessor)"): lambda: delete(
        renamed_away
    ),
    (
        "Delete of a rename's new logical ID while the old one still holds the number",
        "the rename's `PENDING`/`MOVING`/`ASSIGNED`",
    ): lambda: delete(rename_of_me),
    ("Delete", "another resource's record"): lambda: delete(record(STRANGER)),
}


def documented_rows() -> list[tuple[str, str, str]]:
    """(Request, Record found, Action) of every row of docs/reliability.md's table."""
    text = DOCS.read_text()
    table = text[text.index("| Request | Record found | What the provider does | Action |") :]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        assert len(cells) == 4, line
        rows.append((cells[0], cells[1], cells[3].strip("`")))
    return rows


@pytest.mark.parametrize(("request_kind", "found", "action"), documented_rows())
def test_each_documented_row_is_what_the_core_decides(request_kind, found, action):
    assert (request_kind, found) in ROWS, f"no example in ROWS for the documented row {(request_kind, found)}"
    assert ROWS[(request_kind, found)]() == Action(action)


def test_the_table_documents_every_example_and_names_every_action():
    rows = documented_rows()
    assert {(request_kind, found) for request_kind, found, _ in rows} == set(ROWS)
    assert {action for _, _, action in rows} == {action.value for action in Action}


# ---- the questions the core asks before it decides -------------------------------------------------------


def test_the_core_asks_only_what_it_needs():
    assert rule.on_delete(DeleteFacts(me("Delete"), record())) is Ask.NUMBER
    assert rule.on_delete(DeleteFacts(me("Delete"), record(at=NOW + 1))) is Action.STOP  # no Describe for it
    assert rule.on_delete(DeleteFacts(me("Delete"), record(), exists=True)) is Ask.ROLLING_BACK
    assert rule.on_delete(DeleteFacts(me("Delete"), record(), exists=True, restore=True)) is Action.PUT_BACK
    assert rule.on_delete(DeleteFacts(me("Delete"), rename_of_me, exists=True)) is Ask.PREDECESSOR_HOLDS
    assert take(record(STRANGER)) is Ask.HOLDER_HOLDS
    assert take(record(SIBLING), holder_holds=True) is Ask.STACK
    assert take(record(STRANGER), holder_holds=True) is Action.REFUSE  # another stack: no stack read


def test_a_rename_needs_a_record_written_before_the_update_started():
    # Two resources added by one update (the record signed in the update's first second) are duplicates.
    facts = {"holder_holds": True, "stack_status": "UPDATE_IN_PROGRESS", "stack_started_at": NOW + 0.5}
    assert take(record(SIBLING, at=NOW), **facts) is Action.REFUSE_DUPLICATE
    assert take(record(SIBLING, at=NOW - 1), **facts) is Action.TAKE_OVER
    assert take(record(SIBLING, at=NOW - 1), **{**facts, "stack_status": "UPDATE_ROLLBACK_IN_PROGRESS"}) is (
        Action.REFUSE_DUPLICATE
    )


# ---- order: an Update and its rollback in one second (issue 31, point 8) ---------------------------------


def test_an_update_and_its_rollback_in_one_second_are_ordered_by_their_properties():
    committed, cancelled = "P0", "P1"
    update = me("Update", request_id="update", properties=cancelled, old_properties=committed)
    rollback = me("Update", request_id="rollback", properties=committed, old_properties=cancelled)
    # The rollback stamped first (over the committed declaration's stamp): the cancelled Update is older.
    by_rollback = stamp(
        request_id="rollback", properties=committed, old_properties=cancelled, follows=committed
    )
    assert rule.on_stamp(by_rollback, update) is Action.STOP
    # The cancelled Update stamped first: its rollback stamps over it.
    by_update = stamp(request_id="update", properties=cancelled, old_properties=committed, follows=committed)
    assert rule.on_stamp(by_update, rollback) is Action.STAMP


def test_other_requests_in_one_second_are_ordered_by_type_then_by_who_stamps_last():
    assert rule.on_stamp(stamp(request_type="Delete"), me("Create")) is Action.STOP
    assert rule.on_stamp(stamp(request_type="Create"), me("Delete")) is Action.STAMP
    # Not each other's reverse (or nothing known before them): the one that stamps last.
    assert (
        rule.on_stamp(stamp(properties="P2", old_properties="P0", follows="P0"), me("Update")) is Action.STAMP
    )
    unknown_before = stamp(properties="P0", old_properties="P1")
    assert rule.on_stamp(unknown_before, me("Update", properties="P1", old_properties="P0")) is Action.STAMP


def test_the_fence_on_the_resource_is_any_other_stamp():
    assert rule.stamped_since(stamp(at=NOW - 100), me())  # written only over older ones: any other is newer
    assert not rule.stamped_since(stamp(request_id="this"), me())
    assert not rule.stamped_since(None, me())
    assert not rule.stamped_since(stamp(), dataclasses.replace(me(), resource_key=""))


def test_a_request_waits_out_describes_lag_only_where_a_move_of_another_may_be_in_flight():
    rollback = me("Update", properties="before", old_properties="cancelled")
    cancelled = stamp(at=NOW, request_id="cancelled", properties="cancelled", old_properties="before")
    assigned = record(state=State.ASSIGNED)
    # The rollback of the Update whose stamp it replaced: that Update may have moved the number.
    assert rule.before_converging(assigned, rollback, cancelled, shown_arrived=True) is Action.WAIT_OUT_LAG
    # An Update after one that was not rolled back, or after none: the number is where Describe says.
    later = stamp(at=NOW - 60, request_id="earlier", properties="earlier", old_properties="before")
    assert rule.before_converging(assigned, rollback, later, shown_arrived=True) is Action.CONVERGE
    assert rule.before_converging(assigned, rollback, None, shown_arrived=True) is Action.CONVERGE
    # Shown elsewhere: the move is started and waited for anyway.
    assert rule.before_converging(assigned, rollback, cancelled, shown_arrived=False) is Action.CONVERGE
    for unsettled in (State.PENDING, State.ASSIGNED):
        assert rule.before_converging(record(state=unsettled), me(), None, shown_arrived=True) is (
            Action.CONVERGE
        )


def test_a_rollback_stamping_second_in_its_second_follows_what_the_pair_followed():
    cancelled = stamp(request_id="cancelled", properties="moved", old_properties="before", follows="before")
    rollback = me("Update", request_id="rollback", properties="before", old_properties="moved")
    # Over the cancelled half of the pair, the rollback follows the declaration before the pair ...
    assert rule.declared_before(cancelled, rollback) == "before"
    newer = stamp(request_id="rollback", properties="before", old_properties="moved", follows="before")
    # ... so the cancelled Update delivered again finds the rollback newer, as if it had stamped first.
    again = me("Update", request_id="cancelled", properties="moved", old_properties="before")
    assert rule.on_stamp(newer, again) is Action.STOP
    # Any other stamp is followed by its own properties: a later second, or not a pair.
    assert rule.declared_before(dataclasses.replace(cancelled, requested_at=NOW - 1), rollback) == "moved"
    other = me("Update", request_id="other", properties="else", old_properties="moved")
    assert rule.declared_before(cancelled, other) == "moved"
    assert rule.declared_before(None, rollback) == ""


def test_the_core_imports_no_powertools_and_no_clients():
    source = (pathlib.Path(rule.__file__)).read_text()
    imported = set(re.findall(r"^(?:from|import) (\S+)", source, re.MULTILINE))
    assert imported <= {"__future__", "enum", "math", "dataclasses", "typing", ".records", ".tags"}


def test_edges_between_rows():
    # The rename's old logical ID takes its number back only while the stack rolls back.
    assert take(renamed_away, holder_holds=True, stack_status="UPDATE_IN_PROGRESS") is Action.REFUSE_DUPLICATE
    # An overtaken request whose move landed leaves a number the newer Delete is putting back to it.
    undoing = record(state=State.UNDOING, at=NOW + 1, request_id="newer", request_type="Delete")
    assert rule.when_overtaken(undoing, me(), moved=True) is Action.NOTHING
    # A failed request fenced out by a newer one leaves its record to that one.
    assert rule.after_failure(
        record(state=State.PENDING, at=NOW + 1, request_id="newer"), me(), moved=True
    ) is (Action.NOTHING)
    # A failed request whose move may have started keeps its record for the rollback.
    assert rule.after_failure(record(state=State.MOVING, at=NOW, request_id="this"), me(), moved=True) is (
        Action.NOTHING
    )


def test_a_rollback_update_gives_back_only_what_the_rolled_back_request_took():
    update = me("Update")
    # A settled record of an earlier, successful request is not the rolled-back replacement's.
    assert rule.on_rollback_update(record(state=State.ASSIGNED), update, rolled_back="") is Action.NOTHING
    # A newer request of the resource has acted on it since: this rollback stops.
    newer = record(state=State.PENDING, at=NOW + 1, request_id="newer")
    assert rule.on_rollback_update(newer, update, rolled_back="") is Action.STOP
    # A rename's number goes back to the old logical ID only while CloudFormation says it still holds it.
    assert rule.on_rollback_update(rename_of_me, update, rolled_back="") is Ask.PREDECESSOR_HOLDS
    assert (
        rule.on_rollback_update(rename_of_me, update, rolled_back="", predecessor_holds=True)
        is Action.HAND_BACK
    )
    assert (
        rule.on_rollback_update(rename_of_me, update, rolled_back="", predecessor_holds=False)
        is Action.PUT_BACK
    )


def test_a_request_is_never_newer_than_itself_and_a_delete_of_a_rename_not_held_puts_back():
    # The stamp a request wrote itself (a continuation, a retry of a fence) never fences that request out.
    assert rule.stamp_is_newer(stamp(at=NOW + 5, request_id="this"), me()) is False
    # The old logical ID no longer declares the number: the Delete undoes the unsettled rename itself.
    assert rule.on_delete(DeleteFacts(me("Delete"), rename_of_me, exists=True, predecessor_holds=False)) is (
        Action.PUT_BACK
    )
