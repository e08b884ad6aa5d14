"""The local commands a user meets first: make emulator on a busy port, make invoke's Docker refusals."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import invoke
from local_aws.connect.server import EmulatorStartError, start_emulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_emulator_on_a_busy_port_is_a_one_line_error_not_a_hang(busy_port):
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "local_aws.connect.server",
            "--port",
            str(busy_port),
            "--seed",
            "samples/world.json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"error: cannot serve on 127.0.0.1:{busy_port}: Address already in use. "
        "Stop whatever holds it, or choose another port (make emulator PORT=...)."
    ]
    assert done.stderr == ""


def test_embedded_emulator_on_a_busy_port_raises_instead_of_waiting_forever(busy_port):
    with pytest.raises(EmulatorStartError, match=f"cannot serve on 127.0.0.1:{busy_port}"):
        start_emulator(busy_port)


def test_make_emulator_serves_the_sample_world_by_default():
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "emulator"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "-m local_aws.connect.server --host 127.0.0.1 --port 4599 --seed samples/world.json" in done.stdout


def docker_args(*extra: str) -> list[str]:
    return ["--docker", "always", "--event", str(ROOT / "samples/events/create.json"), *extra]


def test_docker_path_refuses_the_source_template():
    out = io.StringIO()
    args = docker_args(
        "--template", str(ROOT / "template.yaml"), "--env-vars", str(ROOT / "samples/env.json")
    )
    code = invoke.main(args, out=out)
    assert code == 2
    assert "sam local invoke needs the built template" in out.getvalue()


def test_docker_path_refuses_to_run_without_an_emulator_endpoint(tmp_path):
    built = tmp_path / "build"
    (built / "Fn" / "x-1.0.dist-info").mkdir(parents=True)
    (built / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  ProviderFunction:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: Fn\n      Handler: a.b\n"
        "      Runtime: python3.13\n      Environment:\n        Variables:\n"
        "          AWS_ENDPOINT_URL_CONNECT: ''\n"
    )
    out = io.StringIO()
    assert invoke.main(docker_args("--template", str(built / "template.yaml")), out=out) == 2
    assert "refusing to run sam local invoke without AWS_ENDPOINT_URL_CONNECT" in out.getvalue()
    out = io.StringIO()
    env_vars = tmp_path / "env.json"
    env_vars.write_text('{"ProviderFunction": {"AWS_ENDPOINT_URL_CONNECT": "http://127.0.0.1:9"}}')
    args = docker_args("--template", str(built / "template.yaml"), "--env-vars", str(env_vars))
    assert invoke.main(args, out=out) == 2
    assert "no Connect emulator answers at http://127.0.0.1:9" in out.getvalue()


def test_template_declares_the_endpoint_so_sam_local_passes_it():
    function = invoke.read_function(ROOT / "template.yaml")
    assert function.variables["AWS_ENDPOINT_URL_CONNECT"] == ""
    values = invoke.load_env_vars_file(ROOT / "samples" / "env.json")
    assert "AWS_ENDPOINT_URL_CONNECT" not in invoke.ignored_overrides(function, values)
    resolved = invoke.resolve_environment(function, values, shell_env={})
    assert resolved["AWS_ENDPOINT_URL_CONNECT"] == "http://host.docker.internal:4599"
