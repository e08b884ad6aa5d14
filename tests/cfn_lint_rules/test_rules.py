"""The Custom::PhoneNumberAssignment cfn-lint rules, run through cfn-lint's own API on template files, loaded
by module name as users load them (pyproject's pythonpath puts this checkout's cfn-lint-rules/src first).

Each rule has a template it must accept (templates/pass/) and one it must reject (templates/fail/). A
failing template marks every finding it must produce on the line cfn-lint must report, as
``# expect: EPNA101 <text the message must contain>`` (several separated by ";"); a template may name the
Regions it is linted for with ``# lint-regions: a,b``. Findings and marks must match exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from cfnlint.core import get_rules, run_checks
from cfnlint.decode import decode

from cfn_lint_phone_number_assignment import rules as package_rules

ROOT = Path(__file__).resolve().parents[2]
MODULE = "cfn_lint_phone_number_assignment.rules"
TEMPLATES = Path(__file__).resolve().parent / "templates"
OUR_RULES = re.compile(r"[EW]PNA\d{3}")
EXPECT = re.compile(r"#\s*expect:\s*(.+)$")
LINT_REGIONS = re.compile(r"#\s*lint-regions:\s*(\S+)")
ALL_RULE_IDS = {*(f"EPNA10{n}" for n in range(1, 9)), "WPNA109", "WPNA110"}


@pytest.fixture(scope="module")
def rules():
    """cfn-lint's rules plus ours, loaded by module name as `-a <MODULE>` does; once per module."""
    return get_rules([MODULE], [], [])


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
    """EPNA102 adds the fix; cfn-lint's generic custom-resource schema reports the same gap as E3003."""
    findings = lint(TEMPLATES / "fail" / "missing_property.yaml", rules)
    assert any(m.rule.id == "E3003" and "ServiceToken" in m.message for m in findings)


@pytest.mark.parametrize("sample", sorted((ROOT / "samples").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_samples_pass_the_rules(sample, rules):
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(sample, rules)] == []


def test_the_rule_ids_are_ours_alone_and_their_level_is_their_first_letter(rules):
    """cfn-lint keys rules by ID (a second rule with one ID replaces or refuses the first) and takes the level
    from the first letter: ours are [EW]PNAnnn, which neither cfn-lint's own (a letter and four digits) nor
    the users' 9xxx range can be (cfn-lint-rules/README.md)."""
    ours = {rule.id: rule for rule in rules if OUR_RULES.fullmatch(rule.id)}
    assert set(ours) == ALL_RULE_IDS
    cfn_lints_own = {rule.id for rule in get_rules([], [], [])}
    assert cfn_lints_own
    assert not cfn_lints_own & ALL_RULE_IDS
    assert all(re.fullmatch(r"[EWI]\d{4}", rule_id) for rule_id in cfn_lints_own)
    assert {rule_id: rule.severity for rule_id, rule in ours.items()} == {
        rule_id: "warning" if rule_id.startswith("W") else "error" for rule_id in ALL_RULE_IDS
    }


def test_the_package_name_alone_loads_the_same_rules():
    """`-a cfn_lint_phone_number_assignment` (without .rules) must not silently load no rule."""
    by_package = {rule.id for rule in get_rules(["cfn_lint_phone_number_assignment"], [], [])}
    assert by_package >= ALL_RULE_IDS


def test_the_packaged_schema_is_the_providers():
    """The package carries a copy of the provider's schema.py so that it installs on its own."""
    provider = ROOT / "provider" / "phone_number_assignment" / "schema.py"
    packaged = Path(package_rules.schema.__file__)
    assert packaged.read_text() == provider.read_text(), (
        f"{packaged} differs from {provider}: copy the provider's over it (cp {provider} {packaged})"
    )


@pytest.mark.parametrize(
    ("line", "asked"), [("ServiceTimeout: 960", False), ("ServiceTimeout: !Ref Timeout", False), ("", True)]
)
def test_service_timeout_is_asked_for_only_when_absent(tmp_path, rules, line, asked):
    template = tmp_path / "template.yaml"
    template.write_text(
        (TEMPLATES / "pass" / "missing_property.yaml")
        .read_text()
        .replace("ServiceTimeout: 960", line)
        .replace("Resources:\n", "Parameters:\n  Timeout:\n    Type: Number\nResources:\n")
    )
    ours = [m.rule.id for m in lint(template, rules) if OUR_RULES.fullmatch(m.rule.id)]
    assert ours == (["WPNA109"] if asked else [])
