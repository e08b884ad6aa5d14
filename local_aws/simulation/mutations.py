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
            "ownership.newer_than always False: no request is ever taken as overtaken before it writes",
            "ownership.py",
            "def newer_than(record: Record, requester: Requester) -> bool:",
        ),
        _always_false(
            "fenced-out-never",
            "ownership.fenced_out always False: the fence between a request's steps never stops it",
            "ownership.py",
            "def fenced_out(record: Record, requester: Requester) -> bool:",
        ),
        Mutation(
            "no-fence-before-move",
            "lifecycle._move: no look at the record right before UpdatePhoneNumber (nor before its retries)",
            "lifecycle.py",
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
            "no-undoing-stamp",
            "lifecycle._put_back: the record is not stamped UNDOING before the number is put back",
            "lifecycle.py",
            "    record = ownership.advance(records, state, record, requester, state=State.UNDOING)\n",
            "",
        ),
        Mutation(
            "no-cancelling-stamp",
            "lifecycle.delete: a Delete cancelling a Create that took nothing yet writes no RELEASED stamp",
            "lifecycle.py",
            "                if not ownership.write_over(records, record, stamped):",
            "                if False:",
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
