"""Lambda's own runtime pieces, run here without a container: what ``sam local invoke`` runs inside one.

    python -m local_aws.lambda_runtime [--python PATH]   # which Python runs the function; install its client

- The **Runtime Interface Emulator** (RIE) is the binary SAM CLI's package ships and mounts into its
  containers (``samcli/local/rapid/aws-lambda-rie-<arch>``). It serves ``POST
  /2015-03-31/functions/function/invocations``, plays Lambda's Runtime API to the runtime it starts, prints
  START/END/REPORT, and enforces the function's timeout (``AWS_LAMBDA_FUNCTION_TIMEOUT``): it kills the
  runtime and answers "Task timed out after N.00 seconds". It hands its own environment to the runtime, so the
  environment given to it is the function's.
- **awslambdaric** (PyPI) is AWS's runtime interface client for Python: the loop Lambda's Python runtimes run
  (import the handler, build the context, report errors such as ``Runtime.ImportModuleError``). It is a dev
  dependency, installed for the interpreter that runs the function into a small cached directory (the
  counterpart of ``/var/runtime``), never into the artifact.

The interpreter: a Python 3.13 (Lambda's python3.13) when one is found the way the build looks for one
(``RUNTIME_PYTHON``, ``python3.13`` on PATH, pyenv), otherwise the best Python 3.11+ found. It runs with
``-S`` (no site-packages) and ``-B`` (no bytecode written), so ``sys.path`` is the code directory, then the
runtime client, then the standard library: what the artifact does not ship cannot be imported, and nothing is
written into it.

Both RIE addresses are bound to 127.0.0.1 on free ports (the RIE's own default is 0.0.0.0:8080, reachable from
the network, and a fixed Runtime API port would collide between parallel runs).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO_ROOT / "constraints.txt"
# The runtime client and what it needs at run time, at the versions constraints.txt pins for the dev venv.
RUNTIME_CLIENT_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")
# Cached per interpreter (version + platform) and per pin set; inside .venv, so `make clean` removes it.
RUNTIME_CLIENT_CACHE = REPO_ROOT / ".venv" / "lambda-runtime"
RUNTIME_VERSION = (3, 13)
MINIMUM_VERSION = (3, 11)
RIE_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
INVOCATIONS_PATH = "/2015-03-31/functions/function/invocations"
# The emulator gives every function this account (and us-east-1) in its ARN, whatever the environment says:
# context.invoked_function_arn is arn:aws:lambda:us-east-1:012345678912:function:<AWS_LAMBDA_FUNCTION_NAME>.
RIE_ACCOUNT_ID = "012345678912"
RIE_REGION = "us-east-1"
# How long the RIE gets to open its port, and how long past the function's timeout (for the runtime's start
# and the RIE's own reporting) an invocation may take before the RIE is considered stuck.
START_SECONDS = 10.0
INVOKE_GRACE_SECONDS = 15.0
# The RIE prints END/REPORT before it answers; their lines may still be in the pipe when the answer arrives.
REPORT_LINE_SECONDS = 2.0


class RuntimeSetupError(Exception):
    """Something this machine lacks to run the function under Lambda's runtime (said in one sentence)."""


# --------------------------------------------------------------------------------------------------
# Finding the pieces
# --------------------------------------------------------------------------------------------------


def rie_path(machine: str | None = None) -> Path:
    """The Runtime Interface Emulator in the installed SAM CLI, for this machine's architecture."""
    machine = machine or platform.machine()
    arch = RIE_MACHINES.get(machine.lower())
    if arch is None:
        raise RuntimeSetupError(
            f"SAM CLI ships the Runtime Interface Emulator for x86_64 and arm64, not {machine}"
        )
    if platform.system() != "Linux":
        raise RuntimeSetupError(
            f"the Runtime Interface Emulator SAM CLI ships is a Linux executable; on {platform.system()} "
            "use make invoke DOCKER=1 (sam local invoke runs it in a Linux container)"
        )
    try:
        import samcli
    except ImportError as exc:
        raise RuntimeSetupError(
            "SAM CLI (aws-sam-cli) is not installed in this environment: make venv"
        ) from exc
    path = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"
    if not path.is_file():
        raise RuntimeSetupError(f"{path} is missing from the installed SAM CLI")
    if not os.access(path, os.X_OK):
        # pip does not always keep the executable bit of package data.
        path.chmod(path.stat().st_mode | 0o111)
    return path


def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run (a pyenv shim of another version)."""
    try:
        done = subprocess.run(  # noqa: S603 - probing a candidate interpreter
            [python, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        major, minor = (int(part) for part in done.stdout.split())
    except ValueError:
        return None
    return major, minor


def _candidates(version: str | None) -> list[str]:
    """python<version> on PATH, then pyenv's installs of it (any 3.x for None), as provider/Makefile looks."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if version is not None:
        found = [shutil.which(f"python{version}") or ""]
        found += sorted(str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
        return [c for c in found if c]
    names = [f"python3.{minor}" for minor in range(20, MINIMUM_VERSION[1] - 1, -1)]
    found = [shutil.which(name) or "" for name in names]
    found += sorted(str(p) for p in pyenv_root.glob("versions/3.*/bin/python3.*") if p.name[-1].isdigit())
    return [c for c in dict.fromkeys(found) if c]


def find_runtime_python(env: Mapping[str, str] | None = None) -> str | None:
    """A Python of Lambda's version (3.13): RUNTIME_PYTHON, then PATH, then pyenv; None when there is none."""
    env = os.environ if env is None else env
    wanted = f"{RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]}"
    candidates = [env.get("RUNTIME_PYTHON", ""), *_candidates(wanted)]
    for candidate in candidates:
        if candidate and python_version(candidate) == RUNTIME_VERSION:
            return candidate
    return None


def best_python(candidates: Iterable[str] | None = None) -> tuple[str, tuple[int, int]]:
    """The Python 3.11+ nearest to 3.13 (the newer on a tie); this interpreter when none is better."""
    found = [(sys.executable, sys.version_info[:2])]
    for candidate in _candidates(None) if candidates is None else candidates:
        version = python_version(candidate)
        if version is not None and version >= MINIMUM_VERSION:
            found.append((candidate, version))
    return min(found, key=lambda item: (abs(item[1][1] - RUNTIME_VERSION[1]), -item[1][1]))


@dataclass(frozen=True)
class ChosenPython:
    path: str
    version: tuple[int, int]

    @property
    def is_runtime_version(self) -> bool:
        return self.version == RUNTIME_VERSION

    @property
    def label(self) -> str:
        return f"Python {self.version[0]}.{self.version[1]} ({self.path})"

    def difference(self) -> str:
        """The one line saying what differs from Lambda's python3.13 (empty when it is 3.13)."""
        if self.is_runtime_version:
            return ""
        return (
            f"Note: no Python 3.13 found (RUNTIME_PYTHON, PATH, pyenv), so the artifact, built for Lambda's "
            f"python3.13, runs on {self.label}: a cp313 compiled wheel would not load there (the package "
            "ships none today) and its 3.13 bytecode is not used."
        )


def choose_python(python: str | None = None) -> ChosenPython:
    """The interpreter given, else Lambda's version when found, else the best 3.11+."""
    if python:
        version = python_version(python)
        if version is None:
            raise RuntimeSetupError(f"{python} does not run")
        if version < MINIMUM_VERSION:
            raise RuntimeSetupError(f"{python} is Python {version[0]}.{version[1]}; 3.11+ is required")
        return ChosenPython(python, version)
    found = find_runtime_python()
    if found:
        return ChosenPython(found, RUNTIME_VERSION)
    return ChosenPython(*best_python())


# --------------------------------------------------------------------------------------------------
# The runtime client, installed for one interpreter
# --------------------------------------------------------------------------------------------------


def runtime_client_pins(constraints: Path = CONSTRAINTS) -> list[str]:
    """``name==version`` of awslambdaric and its dependencies, as constraints.txt locks them."""
    pins = {}
    for line in constraints.read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep and name.lower().replace("_", "-") in RUNTIME_CLIENT_DISTRIBUTIONS:
            pins[name.lower().replace("_", "-")] = f"{name}=={version.strip()}"
    missing = [name for name in RUNTIME_CLIENT_DISTRIBUTIONS if name not in pins]
    if missing:
        raise RuntimeSetupError(f"{constraints.name} does not pin {', '.join(missing)}")
    return [pins[name] for name in RUNTIME_CLIENT_DISTRIBUTIONS]


def _interpreter_tag(python: str) -> str:
    done = subprocess.run(  # noqa: S603 - the interpreter chosen to run the function
        [
            python,
            "-c",
            "import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return "-".join(done.stdout.split()).replace("/", "_")


def ensure_runtime_client(
    python: str, *, cache: Path = RUNTIME_CLIENT_CACHE, log: TextIO | None = None
) -> Path:
    """A directory holding awslambdaric (pinned) for ``python``: installed from PyPI once, then reused.

    pip runs from this venv but for the given interpreter (``pip --python``), so the wheels match it even
    when it has no pip of its own. Installed into a temporary directory and renamed into place under a lock,
    so parallel test workers neither see a half-installed client nor install it twice.
    """
    pins = runtime_client_pins()
    name = f"{_interpreter_tag(python)}-" + "-".join(pin.replace("==", "-") for pin in pins)
    target = cache / name
    if (target / ".complete").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").is_file():
            return target
        if log is not None:
            log.write(f"Installing the runtime client ({', '.join(pins)}) for {python} into {target}\n")
            log.flush()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache))
        try:
            done = subprocess.run(  # noqa: S603 - this venv's pip, pinned versions only
                [sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                 "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", "--no-compile",
                 "--target", str(staging), *pins],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )  # fmt: skip
            if done.returncode != 0:
                lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "is ignored" not in ln]
                raise RuntimeSetupError(
                    f"could not install {', '.join(pins)} for {python}: "
                    + (lines[-1] if lines else "pip failed")
                )
            (staging / ".complete").write_text("\n".join(pins) + "\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


# --------------------------------------------------------------------------------------------------
# Running the function
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """What the Runtime Interface Emulator answered for one event."""

    status: int
    body: bytes
    timed_out: bool = False

    @property
    def payload(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def error(self) -> dict[str, Any] | None:
        """Lambda's error document (errorType, errorMessage…) when the invocation failed, else None."""
        if self.timed_out:
            return {"errorType": "Sandbox.Timedout", "errorMessage": self.body.decode(errors="replace")}
        payload = self.payload
        is_error = isinstance(payload, dict) and {"errorType", "errorMessage"} <= set(payload)
        if self.status != 200 or is_error:
            if isinstance(payload, dict) and "errorType" in payload:
                return payload
            return {"errorType": f"HTTP {self.status}", "errorMessage": self.body.decode(errors="replace")}
        return None

    @property
    def ok(self) -> bool:
        return self.error is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LambdaRuntime:
    """One execution environment: the RIE running ``python -m awslambdaric <handler>`` in ``code_dir``.

    Use as a context manager. The first invocation is a cold start (the runtime imports the handler);
    later ones reuse it, as Lambda reuses a warm environment, until a timeout makes the RIE restart it.
    Everything the RIE and the function print is copied to ``log`` as it arrives.
    """

    def __init__(
        self,
        *,
        code_dir: str | os.PathLike,
        handler: str,
        env: Mapping[str, str],
        python: str,
        runtime_client: str | os.PathLike,
        timeout_seconds: float,
        log: TextIO | None = None,
        rie: str | os.PathLike | None = None,
    ) -> None:
        self.code_dir = str(code_dir)
        self.handler = handler
        self.python = python
        self.runtime_client = str(runtime_client)
        self.timeout_seconds = float(timeout_seconds)
        self.log = log or sys.stderr
        self.rie = str(rie or rie_path())
        self.env = dict(env)
        # Lambda's Python runtimes find their runtime client through PYTHONPATH (/var/runtime) as well.
        self.env["PYTHONPATH"] = self.runtime_client
        self.env.setdefault("LAMBDA_RUNTIME_DIR", self.runtime_client)
        self.env.setdefault("LAMBDA_TASK_ROOT", self.code_dir)
        self.env.setdefault("_HANDLER", handler)
        self.env.setdefault("AWS_LAMBDA_FUNCTION_TIMEOUT", str(int(self.timeout_seconds)))
        self.endpoint = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._relay: threading.Thread | None = None
        self._lines = threading.Condition()
        self._reports = 0
        self._log_lock = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LambdaRuntime:
        last_error = ""
        for _ in range(3):  # a free port can be taken between probing it and the RIE binding it
            api_port, rie_port = _free_port(), _free_port()
            argv = [
                self.rie,
                "--log-level",
                "error",  # what SAM CLI passes in its containers: the RIE's own chatter is left out
                "--runtime-api-address",
                f"127.0.0.1:{api_port}",
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{rie_port}",
                # -S: no site-packages (only the code directory and the runtime client can be imported);
                # -B: /var/task is read-only in Lambda, and a .pyc left in the build would be deployed.
                self.python,
                "-B",
                "-S",
                "-m",
                "awslambdaric",
                self.handler,
            ]
            self._proc = subprocess.Popen(  # noqa: S603 - SAM CLI's RIE and the chosen interpreter
                argv,
                env=self.env,
                cwd=self.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._relay = threading.Thread(target=self._copy_output, name="lambda-runtime-log", daemon=True)
            self._relay.start()
            self.endpoint = f"http://127.0.0.1:{rie_port}"
            if self._wait_listening(rie_port):
                return self
            last_error = f"exit status {self._proc.poll()}"
            self.stop()
        raise RuntimeSetupError(f"the Runtime Interface Emulator did not start ({last_error})")

    def _wait_listening(self, port: int) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            # The RIE and the runtime it started share a session (its ID is the RIE's pid): end both, as
            # Lambda ends a sandbox, even when the RIE itself is already gone.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._relay is not None:
            self._relay.join(timeout=5)
            self._relay = None

    def __enter__(self) -> LambdaRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- invoking ---------------------------------------------------------------------------------

    def invoke(self, event: Any) -> Invocation:
        """POST the event to the RIE, as sam local invoke does, and return its answer once REPORT is out."""
        if self._proc is None:
            raise RuntimeError("start the runtime (use it as a context manager) before invoking it")
        with self._lines:
            reports_before = self._reports
        request = urllib.request.Request(  # noqa: S310 - our own loopback RIE
            self.endpoint + INVOCATIONS_PATH, data=json.dumps(event).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own loopback RIE
                request, timeout=self.timeout_seconds + INVOKE_GRACE_SECONDS
            ) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            # The RIE itself went away or hung: say so as an error document rather than a traceback.
            reason = getattr(exc, "reason", exc)
            message = f"the Runtime Interface Emulator did not answer: {reason}"
            body = json.dumps({"errorType": "LocalRuntime.NoAnswer", "errorMessage": message}).encode()
            return Invocation(status=0, body=body)
        timed_out = status == 200 and body.startswith(b"Task timed out after ")
        # The RIE prints END and REPORT before it answers (not after an init failure): wait for the relay to
        # copy them, so that the output reads in the order it happened.
        with self._lines:
            self._lines.wait_for(lambda: self._reports > reports_before, REPORT_LINE_SECONDS)
        return Invocation(status=status, body=body, timed_out=timed_out)

    def _copy_output(self) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            with self._log_lock:
                self.log.write(line)
                self.log.flush()
            if line.startswith("REPORT RequestId:"):
                with self._lines:
                    self._reports += 1
                    self._lines.notify_all()
        proc.stdout.close()


# --------------------------------------------------------------------------------------------------
# Command line: prepare (make invoke and make test run this first)
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.lambda_runtime", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--python", help="the interpreter to run the function (default: found as described)")
    args = parser.parse_args(argv)
    try:
        chosen = choose_python(args.python)
        rie = rie_path()
        client = ensure_runtime_client(chosen.path, log=sys.stdout)
    except RuntimeSetupError as exc:
        print(f"lambda runtime: {exc}")
        return 2
    print(f"lambda runtime: {rie.name} (SAM CLI) + awslambdaric on {chosen.label}; client in {client}")
    if chosen.difference():
        print(chosen.difference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
