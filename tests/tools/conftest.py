"""What the tools' tests share: ``.venv-tools`` made once, by whichever pytest worker asks first."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tools_venv() -> Path:
    """``make tools-venv``, as ``make status`` and ``make export`` run it first, under a lock: two workers
    creating the one venv at once would each see the other's half-made one."""
    name = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"phone-number-assignment-tools-venv-{name}.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        subprocess.run(
            ["make", "--no-print-directory", "-s", "tools-venv"],  # noqa: S607
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return ROOT / ".venv-tools"
