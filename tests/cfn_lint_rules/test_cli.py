"""The rules as users run them: `make lint-template`, `sam validate --lint` through .cfnlintrc, and the error
a rules directory gives when the provider's schema is not beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # cfn-lint lints for AWS_REGION (else AWS_DEFAULT_REGION) unless told otherwise.
    env = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
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
    assert "E9101 MainLine: unknown property 'Ondelete' of Custom::PhoneNumberAssignment." in failing.stdout
    assert "fail/unknown_property.yaml:10:7" in failing.stdout


def test_sam_validate_lint_uses_the_rules_through_cfnlintrc(tmp_path):
    """sam validate --lint has no rules option, but the cfn-lint it calls reads .cfnlintrc from the cwd."""
    template = TEMPLATES / "fail" / "get_att.yaml"
    sam = str(BIN / "sam")
    from_root = run(sam, "validate", "--lint", "--template-file", str(template))
    assert from_root.returncode != 0
    assert "E9108" in from_root.stdout

    elsewhere = run(sam, "validate", "--lint", "--template-file", str(template), cwd=tmp_path)
    assert "E9108" not in elsewhere.stdout + elsewhere.stderr
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr


def test_a_rules_directory_without_the_providers_schema_says_what_it_needs(tmp_path):
    shutil.copytree(ROOT / "cfn-lint-rules", tmp_path / "cfn-lint-rules")
    result = run(
        str(BIN / "cfn-lint"),
        "--append-rules",
        str(tmp_path / "cfn-lint-rules"),
        "--",
        str(TEMPLATES / "pass" / "get_att.yaml"),
    )
    assert result.returncode != 0
    assert "provider/phone_number_assignment/schema.py" in result.stderr
    assert "complete checkout" in result.stderr
