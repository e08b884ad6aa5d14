"""The emulator over real HTTP, served by moto's ThreadedMotoServer (moto's Flask app + werkzeug).

Foreground:  python -m local_aws.connect.server --port 4599 [--host 127.0.0.1] [--seed world.json]
Embedded:    with start_emulator() as emulator: boto3.client("connect", endpoint_url=emulator.endpoint_url)

Any boto3 client reaches it through ``AWS_ENDPOINT_URL`` (every service: Connect, DynamoDB, CloudFormation),
``AWS_ENDPOINT_URL_CONNECT`` (Connect alone) or ``endpoint_url=``, with dummy credentials; the account is
moto's default 123456789012 (or the seeded world's) and the Region is the client's.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from moto import backends as moto_backends
from moto.server import ThreadedMotoServer

from . import install
from .control import HttpControl, LocalControl

DEFAULT_PORT = 4599


def _list_moto_modules_once() -> None:
    """moto's server lists moto's package directory on every request, to tell whether the host names one of
    its modules (DomainDispatcherApplication.get_backend_for_host): about 0.7 ms of CPU a request, which
    the test suite pays tens of thousands of times. The directory does not change while the process runs."""
    modules = tuple(moto_backends.list_of_moto_modules())  # a second call lists the tuple: harmless
    moto_backends.list_of_moto_modules = lambda: modules


class EmulatorStartError(OSError):
    """The server could not bind its address (typically: the port is in use)."""


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server, except that a failure to bind reaches start() instead of hanging it.

    ThreadedMotoServer binds inside its thread and start() waits for a ready event that a bind error
    never sets, so a busy port would leave the caller waiting forever. (werkzeug turns "address in use"
    into a printed hint and SystemExit, hence both.)
    """

    startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            super()._server_entry()
        except (OSError, SystemExit) as exc:
            if self._server is not None:  # serving had started; not a start-up problem
                raise
            self.startup_error = exc
            self._server_ready_event.set()

    def start(self) -> None:
        super().start()
        error = self.startup_error
        if error is not None:
            why = error.strerror if isinstance(error, OSError) else None
            raise EmulatorStartError(
                error.errno if isinstance(error, OSError) else errno.EADDRINUSE,
                f"cannot serve on {self._ip_address}:{self._port}: {why or 'the port is in use'}",
            )


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, checked before werkzeug tries (it prints a multi-line hint)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As werkzeug binds: SO_REUSEADDR, so a port in TIME_WAIT is not reported busy.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return f"cannot serve on {host}:{port}: {exc.strerror or exc}"
    return None


class RunningEmulator:
    def __init__(self, server: ThreadedMotoServer, endpoint_url: str) -> None:
        self._server = server
        self.endpoint_url = endpoint_url
        self.control = HttpControl(endpoint_url)
        self._stopped = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._server.stop()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True) -> RunningEmulator:
    """Serve the emulator from a daemon thread of this process; port 0 picks a free port.

    The server shares this process's emulator state, so LocalControl() would act on it as well;
    ``.control`` goes over HTTP so tests exercise the same path as an out-of-process emulator.
    """
    install()
    _list_moto_modules_once()
    if quiet:
        # werkzeug logs one line per request, which drowns test and benchmark output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = _MotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    if bound_host in ("0.0.0.0", "::"):  # noqa: S104 - only rewriting a bind-all address for clients
        bound_host = "127.0.0.1"
    return RunningEmulator(server, f"http://{bound_host}:{bound_port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.connect.server",
        description="Serve the Amazon Connect phone-number API emulator until interrupted.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1", help="use 0.0.0.0 to reach it from containers")
    parser.add_argument(
        "--seed",
        type=Path,
        help="JSON world to create at start (see control.seed); make emulator passes samples/world.json",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    arns: dict[str, Any] | None = None
    region = "us-east-1"
    if args.seed:
        world = json.loads(args.seed.read_text())
        region = world.get("region", region)
        if world.get("account_id"):
            # moto files a request under the account its access key belongs to (the default one for any
            # unknown key): serve every request as the seeded world's account, so any dummy key sees it.
            os.environ.setdefault("MOTO_ACCOUNT_ID", str(world["account_id"]))
        arns = LocalControl().seed(world)
    hint = "Stop whatever holds it, or choose another port (make emulator PORT=...)."
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}. {hint}")
        return 1
    try:
        emulator = start_emulator(args.port, args.host, quiet=args.quiet)
    except EmulatorStartError as exc:
        print(f"error: {exc.strerror}. {hint}")
        return 1
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    print(f"Amazon Connect emulator listening on {emulator.endpoint_url}")
    # AWS_ENDPOINT_URL, not AWS_ENDPOINT_URL_CONNECT: the tools also read DynamoDB (the ownership records) and
    # CloudFormation, which this port serves too; a Connect-only variable sends those to AWS itself.
    print(
        "  Point every AWS tool at it (Connect, DynamoDB, CloudFormation: make status/plan/export, aws CLI):"
    )
    print(
        f"  export AWS_ENDPOINT_URL={emulator.endpoint_url} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
        f"AWS_DEFAULT_REGION={region}"
    )
    print("  Credentials are not checked: any dummy AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY will do.")
    if os.environ.get("MOTO_ACCOUNT_ID"):
        print(f"  Every request is served as account {os.environ['MOTO_ACCOUNT_ID']} (MOTO_ACCOUNT_ID).")
    print(f"  Control: POST {emulator.endpoint_url}/moto-api/connect-emulator/<method>")
    print(f"  Reset all data: POST {emulator.endpoint_url}/moto-api/reset")
    if arns is not None:
        print(f"  Seeded from {args.seed}:")
        print(json.dumps(arns, indent=2))
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop_requested.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Emulator stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
