"""The rules as the project runs them: `make lint-template` and `sam validate --lint` through .cfnlintrc, by
module name (test_package.py installs the package as users do)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # cfn-lint lints for AWS_REGION (else AWS_DEFAULT_REGION) unless told otherwise. PYTHONPATH: this
    # checkout's rules, as the Makefile runs them (the venv's editable install may be another checkout's).
    env = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "PYTHONPATH": str(ROOT / "cfn-lint-rules" / "src"),
    }
    return subprocess.run(  # noqa: S603 - our own tools
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_make_lint_template_exits_non_zero_with_findings_in_cfn_lints_format():
    """(A template without findings exits 0: that is `make validate` on the samples.)"""
    failing = run(
        "make",
        "--no-print-directory",
        "lint-template",
        f"TEMPLATE={TEMPLATES / 'fail/unknown_property.yaml'}",
    )
    assert failing.returncode != 0
    assert "EPNA101 MainLine: unknown property 'Ondelete' of Custom::PhoneNumberAssignment." in failing.stdout
    assert "fail/unknown_property.yaml:11:7" in failing.stdout


def test_sam_validate_lint_uses_the_rules_through_cfnlintrc(tmp_path):
    """sam validate --lint has no rules option, but the cfn-lint it calls reads .cfnlintrc from the cwd."""
    template = TEMPLATES / "fail" / "get_att.yaml"
    sam = str(BIN / "sam")
    from_root = run(sam, "validate", "--lint", "--template-file", str(template))
    assert from_root.returncode != 0
    assert "EPNA108" in from_root.stdout

    elsewhere = run(sam, "validate", "--lint", "--template-file", str(template), cwd=tmp_path)
    assert "EPNA108" not in elsewhere.stdout + elsewhere.stderr
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
