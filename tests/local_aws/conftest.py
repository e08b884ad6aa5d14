"""Fixtures running each emulator test twice: in-process under ``moto.mock_aws`` and over HTTP.

Both modes share this process's emulator state (the server is a thread of the test worker), so
every test starts from a moto reset plus a control reset, whichever mode it runs in.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import moto
import pytest
from connect_emulator_helpers import QUICK_MOVE_SECONDS, ConnectEmulator

from local_aws.clock import VirtualClock
from local_aws.connect import LocalControl
from local_aws.connect.server import RunningEmulator, start_emulator


@pytest.fixture(scope="session")
def connect_emulator_server() -> Iterator[RunningEmulator]:
    with start_emulator() as emulator:
        yield emulator


def _moto_reset(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the local test server
        pass


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    """The emulator's clock in these tests: moves and lags are waited out (helpers.wait_for) by skipping."""
    virtual = VirtualClock()
    LocalControl().use_clock(virtual)
    yield virtual
    LocalControl().use_clock(None)


@pytest.fixture(params=["in_process", "server"])
def connect_emulator(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> Iterator[ConnectEmulator]:
    # A developer's exported endpoint would send in-process clients past moto's interception.
    monkeypatch.delenv("AWS_ENDPOINT_URL_CONNECT", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    if request.param == "in_process":
        control = LocalControl()
        with moto.mock_aws():
            control.reset()
            control.configure(move_seconds=QUICK_MOVE_SECONDS, stale_seconds=0)
            yield ConnectEmulator("in_process", control, None)
        control.reset()
        return
    server: RunningEmulator = request.getfixturevalue("connect_emulator_server")
    _moto_reset(server.endpoint_url)
    server.control.reset()
    server.control.configure(move_seconds=QUICK_MOVE_SECONDS, stale_seconds=0)
    yield ConnectEmulator("server", server.control, server.endpoint_url)
    server.control.reset()


@pytest.fixture
def emulated_connect(connect_emulator: ConnectEmulator) -> Any:
    return connect_emulator.client()
