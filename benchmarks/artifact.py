"""Section 4: what the function ships, as ``sam build`` packages it (or pip, when sam build cannot run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .harness import PROVIDER_DIR, REPO, progress

FUNCTION = "ProviderFunction"
# Why each shipped package is there (provider/requirements.txt pins them all).
# Shipped (with botocore) so that the function runs on the pinned pair the tests ran against, not the
# runtime's.
BOTO3_ONLY = ("boto3", "s3transfer")


@dataclass
class Artifact:
    method: str  # "sam build" or the fallback's description
    code_dir: Path
    unpacked_bytes: int
    zipped_bytes: int
    packages: dict[str, tuple[int, int]]  # top-level name -> (unpacked, zipped)

    def sizes(self, names: tuple[str, ...]) -> tuple[int, int]:
        unpacked = sum(self.packages.get(n, (0, 0))[0] for n in names)
        zipped = sum(self.packages.get(n, (0, 0))[1] for n in names)
        return unpacked, zipped


def _top_level(relative: str) -> str:
    """The package a file belongs to; metadata directories count with their distribution's package."""
    first = relative.split("/", 1)[0]
    if first.endswith((".dist-info", ".egg-info")):
        return first.split("-", 1)[0].lower().replace("_", "-") + " (metadata)"
    if first.endswith(".py") or ".cpython-" in first:
        return first.split(".", 1)[0]
    return first


def measure(code_dir: Path, method: str, zip_path: Path) -> Artifact:
    """Zip ``code_dir`` as the deployment package is zipped (deflate, every file) and total it up."""
    packages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(code_dir):
            dirs.sort()
            for name in sorted(files):
                path = Path(root, name)
                relative = path.relative_to(code_dir).as_posix()
                archive.write(path, relative)
                info = archive.getinfo(relative)
                entry = packages[_top_level(relative)]
                entry[0] += info.file_size
                entry[1] += info.compress_size
    return Artifact(
        method=method,
        code_dir=code_dir,
        unpacked_bytes=sum(v[0] for v in packages.values()),
        zipped_bytes=zip_path.stat().st_size,
        packages={k: (v[0], v[1]) for k, v in packages.items()},
    )


def sam_build(workdir: Path, python: str | None) -> Path:
    """``sam build`` of template.yaml into ``workdir``; returns the function's directory."""
    sam = Path(sys.executable).parent / "sam"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    if python:  # SAM looks for the runtime's interpreter (python3.13) on PATH
        env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"
    completed = subprocess.run(
        [
            str(sam),
            "build",
            "--template-file",
            str(REPO / "template.yaml"),
            "--build-dir",
            str(workdir / "build"),
            "--cache-dir",
            str(workdir / "cache"),
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError((completed.stdout + completed.stderr).strip()[-1500:])
    return workdir / "build" / FUNCTION


def pip_install(workdir: Path) -> Path:
    """The fallback: provider/requirements.txt for python3.13 x86_64 wheels, plus the provider package."""
    target = workdir / "pip" / FUNCTION
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--only-binary=:all:",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            "--platform",
            "manylinux2014_x86_64",
            "--target",
            str(target),
            "-r",
            str(PROVIDER_DIR / "requirements.txt"),
        ],
        check=True,
        timeout=600,
    )
    shutil.copytree(PROVIDER_DIR / "phone_number_assignment", target / "phone_number_assignment")
    shutil.copy2(PROVIDER_DIR / "requirements.txt", target / "requirements.txt")
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache)
    return target


def build(workdir: Path, python: str | None) -> Artifact:
    progress("artifact: sam build")
    try:
        code_dir, method = sam_build(workdir, python), "sam build"
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        progress(f"  sam build failed, falling back to pip install -t: {str(error)[-300:]}")
        code_dir = pip_install(workdir)
        method = "pip install -r provider/requirements.txt -t (sam build failed) + provider package"
    return measure(code_dir, method, workdir / f"{FUNCTION}.zip")


def existing(code_dir: Path, workdir: Path) -> Artifact:
    """Measure an already built function directory (``--code-dir``)."""
    return measure(code_dir, f"given: {code_dir}", workdir / f"{FUNCTION}.zip")
