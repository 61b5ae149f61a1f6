"""Every alert rule is checked by promtool and exercised by a promtool unit test (not only `promtool check`).

Rules live in deploy/prometheus/alerts.yml (platform) and deploy/prometheus/rules/<service>.yml; their unit tests
in deploy/prometheus/tests/*.yml. This file finds them all, so a new rules file cannot slip in untested.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULE_FILES = [PROMETHEUS / "alerts.yml", *sorted((PROMETHEUS / "rules").glob("*.yml"))]
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))


def _promtool() -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package, which ./run installs"
    return promtool


def _alerts_in(path: Path) -> set[str]:
    groups = yaml.safe_load(path.read_text()).get("groups", [])
    return {rule["alert"] for group in groups for rule in group.get("rules", []) if "alert" in rule}


def _tested_alerts() -> set[str]:
    tested = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text()).get("tests", []):
            tested |= {check["alertname"] for check in case.get("alert_rule_test", [])}
    return tested


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_promtool_accepts_the_rules_file(rules: Path):
    result = subprocess.run([_promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tests", TEST_FILES, ids=lambda p: p.name)
def test_the_promtool_unit_tests_of_the_rules_pass(tests: Path):
    result = subprocess.run([_promtool(), "test", "rules", tests.name], cwd=tests.parent, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_every_rules_file_has_a_unit_test():
    declared = set().union(*(_alerts_in(path) for path in RULE_FILES))
    assert declared, "no alert rules found"
    assert declared - _tested_alerts() == set(), "alerts without a promtool unit test"
