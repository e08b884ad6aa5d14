"""The Custom::PhoneNumberAssignment cfn-lint rules, run through cfn-lint's own API on template files.

Each rule has a template it must accept (templates/pass/) and one it must reject (templates/fail/). A
failing template marks every finding it must produce on the line cfn-lint must report, as
``# expect: E9101 <text the message must contain>`` (several separated by ";"); a template may name the
Regions it is linted for with ``# lint-regions: a,b``. Findings and marks must match exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from cfnlint.core import get_rules, run_checks
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "cfn-lint-rules"
TEMPLATES = Path(__file__).resolve().parent / "templates"
OUR_RULES = re.compile(r"E91\d\d")
EXPECT = re.compile(r"#\s*expect:\s*(.+)$")
LINT_REGIONS = re.compile(r"#\s*lint-regions:\s*(\S+)")
ALL_RULE_IDS = {f"E910{n}" for n in range(1, 9)}


@pytest.fixture(scope="module")
def rules():
    """cfn-lint's rules plus ours, loaded from the directory as `--append-rules` does; once per module."""
    return get_rules([str(RULES_DIR)], [], [])


def lint(template: Path, rules) -> list:
    regions = LINT_REGIONS.search(template.read_text())
    decoded, errors = decode(str(template))
    assert not errors, errors
    return run_checks(str(template), decoded, rules, regions[1].split(",") if regions else ["us-east-1"])


def expected_findings(template: Path) -> list[tuple[str, int, str]]:
    expected = []
    for line_number, line in enumerate(template.read_text().splitlines(), start=1):
        mark = EXPECT.search(line)
        if not mark:
            continue
        for item in mark[1].split(";"):
            rule_id, _, text = item.strip().partition(" ")
            expected.append((rule_id, line_number, text.strip()))
    return expected


def names(directory: str) -> list[str]:
    return sorted(path.stem for path in (TEMPLATES / directory).glob("*.yaml"))


@pytest.mark.parametrize("name", names("pass"))
def test_template_the_rules_accept(name, rules):
    findings = lint(TEMPLATES / "pass" / f"{name}.yaml", rules)
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in findings] == []


@pytest.mark.parametrize("name", names("fail"))
def test_template_the_rules_reject_with_line_and_fix(name, rules):
    template = TEMPLATES / "fail" / f"{name}.yaml"
    expected = expected_findings(template)
    assert expected, f"{template} marks no expected finding"
    ours = [m for m in lint(template, rules) if OUR_RULES.fullmatch(m.rule.id)]

    found = Counter((m.rule.id, m.linenumber) for m in ours)
    assert found == Counter((rule_id, line) for rule_id, line, _ in expected), [
        f"{m.rule.id} line {m.linenumber}: {m.message}" for m in ours
    ]
    for rule_id, line, text in expected:
        messages = [m.message for m in ours if (m.rule.id, m.linenumber) == (rule_id, line)]
        assert any(text in message for message in messages), (rule_id, line, text, messages)


def test_every_rule_has_a_template_that_fails_it():
    marked = {
        rule_id
        for name in names("fail")
        for rule_id, _, _ in expected_findings(TEMPLATES / "fail" / f"{name}.yaml")
    }
    assert marked == ALL_RULE_IDS


def test_missing_service_token_is_also_cfn_lints_own_finding(rules):
    """E9102 adds the fix; cfn-lint's generic custom-resource schema reports the same gap as E3003."""
    findings = lint(TEMPLATES / "fail" / "missing_property.yaml", rules)
    assert any(m.rule.id == "E3003" and "ServiceToken" in m.message for m in findings)


@pytest.mark.parametrize("sample", sorted((ROOT / "samples").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_samples_pass_the_rules(sample, rules):
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(sample, rules)] == []
