"""Show that the simulation can fail: remove one fence or rule of the provider at a time, and see which
schedules it then reports (``make simulate SIMULATE_ARGS="--mutate newer-than-never"``).

A mutation is a textual change to one file of a copy of provider/phone_number_assignment, made in a
temporary directory that is put first on ``sys.path`` before the provider is imported: the checkout is never
touched. A mutation whose text is no longer in the code (someone changed it) says so instead of running.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "provider" / "phone_number_assignment"


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    file: str
    old: str
    new: str


def _always_false(name: str, what: str, file: str, signature: str) -> Mutation:
    """The function whose ``def`` line is ``signature`` returns False at once."""
    return Mutation(name, what, file, signature + "\n", signature + "\n    return False\n")


MUTATIONS = {
    m.name: m
    for m in (
        _always_false(
            "newer-than-never",
            "rule.newer_than always False: no request is taken as overtaken by the number's record before it "
            "writes",
            "rule.py",
            "def newer_than(record: Record, requester: Requester) -> bool:",
        ),
        _always_false(
            "fenced-out-never",
            "rule.fenced_out always False: the number's record never stops a request between its steps",
            "rule.py",
            "def fenced_out(record: Record, requester: Requester) -> bool:",
        ),
        _always_false(
            "stamp-is-newer-never",
            "rule.stamp_is_newer always False: no resource's stamp is ever a newer request's",
            "rule.py",
            "def stamp_is_newer(stamp: ResourceStamp, requester: Requester) -> bool:",
        ),
        Mutation(
            "stamp-resource-always-acts",
            "ownership.stamp_resource: a newer request's stamp on the resource does not stop a request "
            "before it starts (it goes on without stamping)",
            "ownership.py",
            "            return stored, action is Action.BUILD_ON\n",
            "            return stored, True\n",
        ),
        _always_false(
            "confirm-stamp-never",
            "ownership.confirm_stamp does nothing: no fence reads the resource's stamp",
            "ownership.py",
            "def confirm_stamp(records: OwnershipRecords, number: PhoneNumberState, requester: Requester)"
            " -> None:",
        ),
        Mutation(
            "no-fence-before-move",
            "moves.move: no look at the record right before UpdatePhoneNumber (nor before its retries)",
            "moves.py",
            "            else:\n"
            "                record = ownership.current(records, state, record, requester)\n"
            "        try:\n            numbers.start_move(state, target_arn, token, fence=fence)",
            "            else:\n                pass\n"
            "        try:\n            numbers.start_move(state, target_arn, token, fence=None)",
        ),
        Mutation(
            "no-fence-after-move",
            "lifecycle._assign: no look at the record after the move, before the flow and the tags",
            "lifecycle.py",
            "may have come meanwhile.\n"
            "        record = ownership.current(records, state, record, requester)\n",
            "may have come meanwhile.\n",
        ),
        _always_false(
            "rolling-back-never",
            "stacks.rolling_back always False: every Delete is taken for a deliberate one (OnDelete decides)",
            "stacks.py",
            "def rolling_back(stack_id: str, cloudformation: Callable[[], Any]) -> bool:",
        ),
        Mutation(
            "no-ancestor-walk",
            "stacks.rolling_back reads only the stack itself: no walk up its ParentIds, no look at its "
            "events",
            "stacks.py",
            "        for ancestor in _lineage(stack_id, cloudformation, first=stack, stop=_undoing):\n",
            "        for ancestor in ():\n",
        ),
        Mutation(
            "no-undoing-stamp",
            "give_back.put_back: the record is not stamped UNDOING before the number is put back",
            "give_back.py",
            "    record = ownership.advance(records, state, record, requester, state=State.UNDOING)\n",
            "",
        ),
        Mutation(
            "wait-out-lag-never",
            "rule.before_converging always Converge: a Create or Update trusts Describe's lagging view of a "
            "move an earlier request of the resource started",
            "rule.py",
            "    if not shown_arrived:\n        return Action.CONVERGE\n",
            "    return Action.CONVERGE\n",
        ),
        Mutation(
            "follows-own-properties",
            "rule.declared_before always the stamp's properties: a rollback stamping second in its Update's "
            "second follows the cancelled Update",
            "rule.py",
            "    return stored.follows if pair and not requester.is_delete else stored.properties\n",
            "    return stored.properties\n",
        ),
        Mutation(
            "continuation-fresh-stamp",
            "app._request: a continuation is stamped when it runs (requested_at = now), not with the signing "
            "time of the request it continues",
            "app.py",
            "        requested_at=signed_at if signed_at is not None else clock.time(),\n",
            "        requested_at=(\n"
            "            clock.time() if continuation.hop(event) or signed_at is None else signed_at\n"
            "        ),\n",
        ),
        Mutation(
            "no-answered-check",
            "app.handler: a continuation does not look whether its request was answered before it runs",
            "app.py",
            "            if continuations is not None and continuations.answered():\n",
            "            if False:\n",
        ),
        Mutation(
            "claim-answer-always",
            "continuation.Continuations.claim_answer always True: every invocation of a handed-over request "
            "answers, whether another one has or not",
            "continuation.py",
            "    def claim_answer(self, status: str) -> bool:\n",
            "    def claim_answer(self, status: str) -> bool:\n        return True\n",
        ),
    )
}


def apply(name: str) -> Path:
    """Copy the provider with mutation ``name`` applied; put the copy first on sys.path; return its root."""
    mutation = MUTATIONS[name]
    if "phone_number_assignment" in sys.modules:
        raise RuntimeError("apply a mutation before the provider is imported")
    root = Path(tempfile.mkdtemp(prefix=f"mutant-{name}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    shutil.copytree(PACKAGE, root / "phone_number_assignment", ignore=shutil.ignore_patterns("__pycache__"))
    target = root / "phone_number_assignment" / mutation.file
    text = target.read_text()
    if text.count(mutation.old) != 1:
        raise RuntimeError(f"mutation {name}: its text is no longer in {mutation.file} exactly once")
    target.write_text(text.replace(mutation.old, mutation.new))
    sys.path.insert(0, str(root))
    return root
