"""Every Grafana panel's query and every alert expression, evaluated by a real Prometheus (Debian's package)
scraping the four running services after a small scenario: each query parses, and the panels the scenario
must fill (listed below, by dashboard and title) show data.

Scenario: the four services start in this test's world; collection receives declarations (one of them
undecodable: dead-lettered), a remittance for a declared employer and one for an unknown employer
(suspense), in two waves; arrears records the workers' assessments and runs two daily runs; payments receives one
undecodable award event (dead-lettered); notifications sees the assessments. A private Prometheus scrapes
them every second, with the repository's alert rules loaded.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from ansinh.runtime.settings import REPO_ROOT, SERVICES
from tests.conftest import free_port
from tests.integration.collection.conftest import BUSINESS_DATE, declaration, remittance
from tests.kafka_helpers import publish
from schemas.envelope import encode

DASHBOARDS = REPO_ROOT / "deploy" / "grafana" / "dashboards"
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"

# Panels the scenario fills: (dashboard uid, panel title). Any other panel only has to parse: it needs what
# this scenario does not do (a payment run, deliveries through an SMTP server or a gateway, retries, a held
# consumer, a compliance flag, camt.054 documents, downward revisions, a relay losing its lock).
RUNTIME_FILLED = ["Messages in and settled per second, by topic", "Batch handling time p99, by topic",
                  "Dead-lettered (last 10 min), by topic and error class", "Consumer lag (messages), by topic",
                  "Outbox pending and publish lag p99", "Database pool connections"]
EXPECTED_DATA = {
    "ansinh-overview": [
        "Service readiness (1 ready)", "Messages in per second, by service and topic",
        "Messages settled per second, by outcome", "Consumer lag (messages)",
        "Dead letters per minute, by service, topic and error class", "Batch handling time p50 / p99",
        "Outbox backlog (events committed, not yet published)", "Outbox: published per second and publish lag p99",
        "Database pool in use / max", "Outbox relay: active and locks lost"],
    "ansinh-collection": [
        "Declarations per second, by outcome", "Declarations rejected, by reason (last hour)",
        "VND assessed per minute, by fund", "VND allocated per minute, by fund", "Remittances per minute, by outcome",
        "Employers' credit (VND)", "Employers holding credit", "Suspense: unidentified receipts and VND",
        *RUNTIME_FILLED],
    "ansinh-arrears": [
        "Overdue principal (VND)", "Interest accrued (VND)", "Overdue employers",
        "Late-payment ratio vs the 2.69% target", "Daily run duration p99 (seconds), by trigger",
        "Days since the latest finished business date", "Daily run failures (last day)",
        "Worker declarations recorded per second", "Rows written by daily runs (last day), by kind",
        "Status events (last day), by type",
        *[t for t in RUNTIME_FILLED if t != "Dead-lettered (last 10 min), by topic and error class"]],
    "ansinh-payments": [
        "Runs late (past execution date, not all sent)", "Fraud signals and 6-month suspensions (last day)",
        *[t for t in RUNTIME_FILLED if t != "Outbox pending and publish lag p99"],  # payments published nothing
        "Outbox pending and publish lag p99"],  # ... but its pending gauge is there (0)
    "ansinh-notifications": [
        "Queue depth: due now, by channel", "Oldest due notification (seconds past due)",
        "Notifications by delivery state", "Dispatcher active (one per schema)",
        *[t for t in RUNTIME_FILLED if t != "Dead-lettered (last 10 min), by topic and error class"]],
}


def dashboards() -> dict[str, dict]:
    return {d["uid"]: d for d in (json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json")))}


def alert_expressions() -> dict[str, str]:
    exprs = {}
    for path in [PROMETHEUS_DIR / "alerts.yml", *sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))]:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                exprs[f"{path.name}:{rule.get('alert') or rule.get('record')}"] = rule["expr"]
    return exprs


class Prometheus:
    """A private Prometheus (own port, own storage) scraping the given targets every second, with the
    repository's alert rules loaded."""

    def __init__(self, tmp: Path, targets: dict[str, int]):
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROMETHEUS_DIR / "alerts.yml"), str(PROMETHEUS_DIR / "rules" / "*.yml")],
            "scrape_configs": [{"job_name": "ansinh", "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": {"service": name}} for name, port in targets.items()]}],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(tmp / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str, **params) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # a bad query answers 400 with {"status": "error", ...}
            return json.loads(exc.read())

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def wait(self, what: str, probe, done=bool, timeout: float = 60):
        """Poll ``probe()`` until ``done(value)``; fail with the last value seen."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited: {Path(self.log.name).read_text()[-2000:]}"
            try:
                last = probe()
                if done(last):
                    return last
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise AssertionError(f"waited {timeout}s for {what}; last seen: {str(last)[:1500]}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


def shows_data(answer: dict) -> bool:
    """A finite value in at least one series (NaN, e.g. a quantile of no observations, draws nothing)."""
    result = answer.get("data", {}).get("result", [])
    return any(not math.isnan(float(series["value"][1])) for series in result)


def panels(dashboard: dict):
    for panel in dashboard["panels"]:
        yield panel["title"], [target["expr"] for target in panel["targets"]]


def watched(isolated, tmp_path, **env) -> tuple[dict, Prometheus]:
    """The four services in this test's world, and a Prometheus that has scraped each of them."""
    running = {name: isolated.start_service(name, **(env if name != "notifications" else {})) for name in SERVICES}
    prometheus = Prometheus(tmp_path, {name: service.port for name, service in running.items()})
    prometheus.wait("every target scraped", lambda: prometheus.query('up{job="ansinh"} == 1')["data"]["result"],
                    lambda up: len(up) == len(SERVICES))
    return running, prometheus


def stop(running: dict, prometheus: Prometheus) -> None:
    prometheus.stop()
    for service in running.values():
        service.stop()


def refused_queries(prometheus: Prometheus) -> dict[str, str]:
    """Every panel query and alert expression Prometheus does not accept, with its error."""
    refused = {}
    for uid, dashboard in dashboards().items():
        for title, exprs in panels(dashboard):
            for expr in exprs:
                answer = prometheus.query(expr)
                if answer["status"] != "success":
                    refused[f"{uid} / {title}: {expr}"] = answer.get("error")
    for name, expr in alert_expressions().items():
        answer = prometheus.query(expr)
        if answer["status"] != "success":
            refused[f"alert {name}: {expr}"] = answer.get("error")
    return refused


def empty_panels(prometheus: Prometheus, expected: dict[str, list[str]]) -> dict[str, list[str]]:
    """Of the ``expected`` panels (dashboard uid -> titles), those none of whose queries shows data."""
    found, empty = dashboards(), {}
    for uid, titles in expected.items():
        exprs = dict(panels(found[uid]))
        for title in titles:
            if not any(shows_data(prometheus.query(expr)) for expr in exprs[title]):
                empty.setdefault(uid, []).append(title)
    return empty


@pytest.fixture
async def scenario(isolated, tmp_path):
    running, prometheus = watched(isolated, tmp_path, ANSINH_BUSINESS_DATE=BUSINESS_DATE)
    try:
        # A histogram's series appears with its first observations already in it, and rate() sees no increase
        # from a series' first sample: quantile panels show data from a second wave on. So: two waves of
        # messages, each scraped, and two daily runs.
        for wave in (1, 2):
            await _wave(isolated, wave)
            for name in ("collection", "arrears"):
                await isolated.wait_until_idle(name)
            prometheus.wait(f"wave {wave}'s batches scraped", lambda: prometheus.query(
                "sum by (service) (ansinh_handler_batch_seconds_count)")["data"]["result"],
                lambda result: len(result) == len(SERVICES))
        for runs, day in enumerate(("2025-09-14", BUSINESS_DATE), start=1):
            status, body = running["arrears"].request(
                "POST", "/runs", {"business_date": day, "reason": "dashboards test scenario"})
            assert status == 200, body[:500]
            prometheus.wait(f"the daily run of {day} scraped", lambda: prometheus.query(
                "sum(arrears_run_duration_seconds_count)")["data"]["result"],
                lambda result: result and float(result[0]["value"][1]) >= runs)
        yield prometheus
    finally:
        stop(running, prometheus)


async def _wave(isolated, wave: int) -> None:
    """Declarations for 3 employers (one record undecodable), a remittance for one of them and one for an
    unknown employer, and an undecodable award event."""
    declared = [declaration(worker=f"{wave}{i:09d}", employer=f"DN{i % 3:04d}", salary=8_000_000 + i * 100_000)
                for i in range(1, 21)]
    await publish(isolated.bootstrap, isolated.topic("collection.declarations"),
                  [(e["payload"]["employer_code"].encode(), encode(e)) for e in declared]
                  + [(b"DN0001", b'{"not": "a declaration"}')])
    paid = [remittance(f"PAY-DASH-{wave}-1", 3_000_000, employer="DN0001"),
            remittance(f"PAY-DASH-{wave}-2", 1_000_000, employer="DN9999")]
    await publish(isolated.bootstrap, isolated.topic("collection.remittances"),
                  [(e["payload"]["employer_code"].encode(), encode(e)) for e in paid])
    await publish(isolated.bootstrap, isolated.topic("benefits.awards"), [(b"x", b"\xff not json")])


async def test_every_panel_and_alert_query_parses_and_the_scenarios_panels_show_data_in_a_real_prometheus(scenario):
    prometheus = scenario
    found = dashboards()
    assert set(EXPECTED_DATA) == set(found), "a dashboard without expectations, or expectations without a dashboard"
    for uid, titles in EXPECTED_DATA.items():
        unknown = set(titles) - {title for title, _ in panels(found[uid])}
        assert not unknown, f"{uid}: expected panels that do not exist: {unknown}"

    assert refused_queries(prometheus) == {}
    # Rates need two scrapes after the scenario; the p99 of a daily run needs its one observation scraped.
    prometheus.wait("every expected panel shows data (shown: the empty ones)",
                    lambda: empty_panels(prometheus, EXPECTED_DATA), lambda empty: empty == {}, timeout=90)

    # Messages in = processed + dead-lettered, per service and topic, once every service is idle.
    def settled():
        def by_topic(expr):
            return {(r["metric"]["service"], r["metric"]["topic"]): float(r["value"][1])
                    for r in prometheus.query(expr)["data"]["result"]}
        return (by_topic("sum by (service, topic) (ansinh_received_messages_total)"),
                by_topic("sum by (service, topic) (ansinh_consumed_messages_total)"))

    received, consumed = prometheus.wait("messages in = processed + dead-lettered", settled,
                                         lambda pair: pair[0] and pair[0] == pair[1], timeout=30)
    assert received[("collection", "collection.declarations")] == 2 * 21  # two waves of 20 + 1 undecodable

    # The same Prometheus loaded every rule file and evaluated each rule without an error.
    def rule_health():
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        return {r["name"]: (r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]}

    rules = prometheus.wait("every rule evaluated once", rule_health,
                            lambda rules: rules and all(h != "unknown" for h, _ in rules.values()), timeout=30)
    assert set(rules) == {name.split(":", 1)[1] for name in alert_expressions()}
    assert {name: error for name, (health, error) in rules.items() if health != "ok"} == {}


# The demo's month (ansinh/devplatform/month.py: the simulators' employers declare and their banks pay,
# period by period, then every figure is checked against the simulators' ledgers) fills these.
DEMO_FILLS = {
    "ansinh-overview": ["Service readiness (1 ready)", "Messages in per second, by service and topic",
                        "Messages settled per second, by outcome", "Batch handling time p50 / p99",
                        "Outbox: published per second and publish lag p99", "Database pool in use / max"],
    "ansinh-collection": ["Declarations per second, by outcome", "VND assessed per minute, by fund",
                          "VND allocated per minute, by fund", "Remittances per minute, by outcome",
                          "Employers' credit (VND)", "Batch handling time p99, by topic"],
    "ansinh-arrears": ["Worker declarations recorded per second", "Messages in and settled per second, by topic"],
    "ansinh-notifications": ["Messages in and settled per second, by topic"],
}


@pytest.mark.e2e
async def test_the_demos_month_fills_the_dashboards_and_its_own_checks_hold(isolated, tmp_path):
    from rich.console import Console

    from ansinh.devplatform import month
    from ansinh.runtime.settings import PlatformSettings

    running, prometheus = watched(isolated, tmp_path)
    try:
        settings = PlatformSettings(kafka_bootstrap=isolated.bootstrap, topic_prefix=isolated.prefix,
                                    database_url=isolated.database_url)
        scenario = month.Scenario(employers=6, workers=120, beneficiaries=10, months=2, seed=11)
        assert await month.play(Console(quiet=True), settings, scenario, stages=("collection",)), \
            "the demo's own cross-checks failed"
        assert refused_queries(prometheus) == {}
        prometheus.wait("the demo's panels show data (shown: the empty ones)",
                        lambda: empty_panels(prometheus, DEMO_FILLS), lambda empty: empty == {}, timeout=90)
    finally:
        stop(running, prometheus)
