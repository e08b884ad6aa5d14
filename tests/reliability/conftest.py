"""Fixtures of the reliability tests; helpers live in helpers.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _receiver_accepts_again(receiver):
    """The receiver is shared by the whole session: a test that makes it misbehave must not leak that."""
    receiver.set_behaviour("accept")
    yield
    receiver.set_behaviour("accept")
