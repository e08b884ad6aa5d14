"""`make emulator-stack` as README tells a newcomer to use it: `make emulator` seeded with samples/world.json,
then a stack deployed on it holds the world's number, `make status` sees that owner held (not stale), a move
by hand is drift, and the stack deletes. The emulator
runs as `make emulator` runs it (a process of its own, the same world); the status check is the tool
`make status` runs."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

from tools import status as tools_status

# The emulator and the provider run in processes of their own, on the real clock.
pytestmark = pytest.mark.real_time

ROOT = Path(__file__).resolve().parents[2]
WORLD = json.loads((ROOT / "samples" / "world.json").read_text())
NUMBER_ID = "e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93"
SECONDARY = f"arn:aws:connect:us-east-1:{WORLD['account_id']}:instance/8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846"
PRIMARY = f"arn:aws:connect:us-east-1:{WORLD['account_id']}:instance/2b1c9a4e-7d3f-4c8a-9e21-5f6b8d0a3c17"


def without_aws(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith(("AWS_", "MOTO_"))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def make_emulator():
    """`make emulator`'s command on a free port: its port, once the banner is out."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            sys.executable,
            "-m",
            "local_aws.connect.server",
            "--port",
            str(port),
            "--seed",
            "samples/world.json",
        ],
        cwd=ROOT,
        env={**without_aws(dict(os.environ)), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        while not server.stdout.readline().startswith("Press Ctrl-C"):
            assert server.poll() is None, "the emulator did not start"
        yield port
    finally:
        server.terminate()
        server.communicate(timeout=30)


def make(port: int, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own Makefile
        ["make", "--no-print-directory", "emulator-stack", f"PORT={port}", *arguments],  # noqa: S607
        cwd=ROOT,
        env={**without_aws(dict(os.environ)), "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def status(port: int, monkeypatch) -> tuple[int, dict]:
    """`make status NUMBER=... FORMAT=json` (its tool, in this process), pointed at the emulator as README
    says: AWS_ENDPOINT_URL and dummy keys."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    out, err = io.StringIO(), io.StringIO()
    code = tools_status.main(["--number", NUMBER_ID, "--format", "json"], stdout=out, stderr=err)
    assert out.getvalue(), err.getvalue()
    [number] = json.loads(out.getvalue())["numbers"]
    return code, number


def test_make_emulator_stack_deploys_a_stack_status_sees_held_then_drift_then_deletes(
    make_emulator, monkeypatch
):
    port = make_emulator
    stack = f"emulator-stack-test-{uuid.uuid4().hex[:8]}"
    state = ROOT / ".aws-sam" / "emulator-stacks" / f"{stack}.json"
    try:
        deployed = make(port, f"STACK={stack}")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert f"Stack {stack}: CREATE_COMPLETE" in deployed.stdout
        assert f"+15555550100 on {SECONDARY}" in deployed.stdout

        code, number = status(port, monkeypatch)
        assert number["targetArn"] == SECONDARY
        assert number["owner"]["stackName"] == stack
        assert number["owner"]["logicalResourceId"] == "MainLine"
        assert number["cloudFormation"]["holds"] is True
        assert (code, number["flags"]) == (0, [])

        # Drift: the number moved back by hand, as an operator might in an emergency.
        connect = boto3.client(
            "connect",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        connect.update_phone_number(PhoneNumberId=NUMBER_ID, TargetArn=PRIMARY)
        # `make emulator` takes a while to move a number and, as Connect, may show the old state for a while
        # after: status sees the drift once the move shows.
        deadline = time.monotonic() + 60
        while not (drifted := status(port, monkeypatch))[1]["flags"]:
            assert time.monotonic() < deadline, "make status never saw the move by hand"
            time.sleep(0.5)
        code, number = drifted
        assert number["targetArn"] == PRIMARY
        assert [flag["code"] for flag in number["flags"]] == ["not-on-declared-target"]
        assert code == 3

        # Deleted (OnDelete: Retain, the sample's default): the number stays where it is, no stack holds it.
        deleted = make(port, f"STACK={stack}", "DELETE=1")
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert "MainLine: Delete SUCCESS" in deleted.stdout
        assert f"Stack {stack}: DELETE_COMPLETE" in deleted.stdout
        code, number = status(port, monkeypatch)
        assert number["targetArn"] == PRIMARY
        assert number["cloudFormation"] is None or number["cloudFormation"]["holds"] is not True
    finally:
        state.unlink(missing_ok=True)
