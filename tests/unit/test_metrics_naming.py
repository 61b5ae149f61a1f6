"""Metrics are named one way across services (docs/operations.md): the runtime's start with ``ansinh_`` and
carry a ``service`` label; a service's start with its own name and leave ``service`` to Prometheus' target
label; each has a one-line help string and a one-line comment above it; no label can carry personal data."""
from __future__ import annotations

import importlib
import re

import pytest
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from ansinh.runtime.settings import REPO_ROOT, SERVICES

MODULES = {"ansinh": "ansinh.runtime.metrics", **{s: f"services.{s}.metrics" for s in SERVICES}}
# A label whose values could be a person, an employer or an account (unbounded and personal): never a label.
PERSONAL = re.compile(r"worker|participant|citizen|account|employer|payment_id|beneficiar|person|name|phone|"
                      r"email_address|address|award_id|\bid\b|_id$|_code$|iban|tax")


def declared(prefix: str) -> list[tuple[str, MetricWrapperBase]]:
    module = importlib.import_module(MODULES[prefix])
    return [(attr, value) for attr, value in vars(module).items() if isinstance(value, MetricWrapperBase)]


def all_metrics():
    return [(prefix, attr, metric) for prefix in MODULES for attr, metric in declared(prefix)]


def metric_id(value):
    return value if isinstance(value, str) else ""


def test_every_service_and_the_runtime_declare_metrics():
    for prefix in MODULES:
        assert declared(prefix), f"{MODULES[prefix]} declares no metric"


@pytest.mark.parametrize("prefix,attr,metric", all_metrics(), ids=lambda v: metric_id(v))
def test_a_metric_starts_with_its_owners_name_and_has_a_one_line_help(prefix, attr, metric):
    assert metric._name.startswith(prefix + "_"), f"{MODULES[prefix]}.{attr}: {metric._name}"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", metric._name)
    assert metric._documentation.strip() and "\n" not in metric._documentation, metric._name


@pytest.mark.parametrize("prefix,attr,metric", all_metrics(), ids=lambda v: metric_id(v))
def test_no_label_is_named_like_personal_data(prefix, attr, metric):
    personal = [label for label in metric._labelnames if PERSONAL.search(label)]
    assert personal == [], f"{metric._name} has labels {personal}: their values would be unbounded personal data"


@pytest.mark.parametrize("prefix,attr,metric", all_metrics(), ids=lambda v: metric_id(v))
def test_runtime_metrics_say_which_service_and_service_metrics_leave_that_to_prometheus(prefix, attr, metric):
    if prefix == "ansinh":
        assert metric._labelnames[:1] == ("service",), metric._name
    else:  # the scrape target's `service` label; a label of the same name would be renamed exported_service
        assert "service" not in metric._labelnames, metric._name


@pytest.mark.parametrize("prefix,attr,metric", all_metrics(), ids=lambda v: metric_id(v))
def test_units_are_in_the_name(prefix, attr, metric):
    if isinstance(metric, Histogram):
        assert metric._name.endswith("_seconds"), f"{metric._name}: a histogram here measures seconds"
    if "VND" in metric._documentation:
        assert metric._name.endswith("_vnd"), metric._name  # counters: _vnd_total once exported


# Names that break the convention, each with the fix it waits for (the owning helper's module is in flux):
# listed, so the test fails when one is fixed without being taken off, or a new one appears.
KNOWN_INCONSISTENT: set[str] = set()  # payments_run_rows_total, a gauge, became payments_run_rows_planned


def test_only_counters_end_in_total():
    misnamed = {metric._name for _, _, metric in all_metrics()
                if not isinstance(metric, Counter) and metric._name.endswith("_total")}
    assert misnamed == KNOWN_INCONSISTENT


def test_each_declaration_has_a_comment_on_the_line_above():
    for prefix, module in MODULES.items():
        path = REPO_ROOT / (module.replace(".", "/") + ".py")
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^[A-Z_]+ = (Counter|Gauge|Histogram|Summary)\(", line):
                assert lines[i - 1].startswith("#"), f"{path.name}:{i + 1} {line.split('=')[0].strip()} has no comment"


def test_metric_names_are_unique_across_services():
    names = [metric._name for _, _, metric in all_metrics()]
    assert sorted(names) == sorted(set(names))


def test_metrics_are_declared_only_in_the_metrics_modules():
    declaring = re.compile(r"^\s*from prometheus_client import .*\b(Counter|Gauge|Histogram|Summary)\b", re.M)
    offenders = []
    for root in [REPO_ROOT / "ansinh" / "runtime", *(REPO_ROOT / "services" / s for s in SERVICES)]:
        for path in root.rglob("*.py"):
            if path.name != "metrics.py" and declaring.search(path.read_text()):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []
