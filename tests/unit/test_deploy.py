"""The deployment files parse, and every metric they mention is one the services really export."""
from __future__ import annotations

import json
import re

import yaml
from prometheus_client import REGISTRY

import ansinh.runtime.metrics  # noqa: F401 - registers the runtime's metrics
import services.collection.metrics  # noqa: F401
from ansinh.runtime.settings import REPO_ROOT, SERVICES, ServiceSettings

DEPLOY = REPO_ROOT / "deploy"


def exported_metric_names() -> set[str]:
    names = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - the registry has no public listing
        for metric in collector.describe() if hasattr(collector, "describe") else []:
            names.add(metric.name)
            names.update({metric.name + s for s in ("_total", "_bucket", "_sum", "_count", "_created")})
    return names


def referenced_metrics(text: str) -> set[str]:
    return set(re.findall(r"\b((?:ansinh|collection)_[a-z_]+)\b", text))


def compose_services() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]


# `${VAR:?message}`: compose refuses to start while VAR is unset or empty.
REQUIRED = re.compile(r"^\$\{([A-Z_]+):\?[^}]+\}$")


def test_docker_compose_runs_every_service_against_kafka_and_postgres():
    services = compose_services()
    assert {"kafka", "postgres", "topics", "provision", "prometheus", "grafana", *SERVICES} <= set(services)
    for name in SERVICES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        env = services[name]["environment"]
        assert env["ANSINH_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["ANSINH_DB_HOST"] == "postgres"
        known = {f"ANSINH_{field.upper()}" for field in ServiceSettings.model_fields}
        assert set(env) <= known, set(env) - known
        assert services[name]["depends_on"]["provision"]["condition"] == "service_completed_successfully"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (REPO_ROOT / mount.split(":")[0]).exists(), mount


def test_no_service_gets_the_admin_url_and_each_needs_its_own_password_with_no_default():
    services = compose_services()
    passwords = {}
    for name in SERVICES:
        env = services[name]["environment"]
        assert "DATABASE_URL" not in env and "ANSINH_DB_URL" not in env
        assert not any("postgres:" in str(value) and "@" in str(value) for value in env.values())
        required = REQUIRED.match(env["ANSINH_DB_PASSWORD"])
        assert required, f"{name}: ANSINH_DB_PASSWORD must be ${{VAR:?message}}, not {env['ANSINH_DB_PASSWORD']!r}"
        passwords[name] = required.group(1)
    assert len(set(passwords.values())) == len(SERVICES)  # one password per role
    provision = services["provision"]
    assert provision["command"] == ["ansinh", "provision"]
    assert "${POSTGRES_PASSWORD:?" in provision["environment"]["DATABASE_URL"]
    for name, variable in passwords.items():  # provision sets the very password the service logs in with
        assert REQUIRED.match(provision["environment"][f"ANSINH_{name.upper()}_DB_PASSWORD"]).group(1) == variable


def test_no_secret_in_the_compose_file_has_a_guessable_default():
    services = compose_services()
    assert REQUIRED.match(services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert REQUIRED.match(services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"])


def test_published_ports_listen_on_loopback_only():
    for name, service in compose_services().items():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} on every interface"


def test_every_metric_in_alerts_and_dashboards_is_exported_by_a_service():
    exported = exported_metric_names()
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "ansinh-overview.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    missing = {m for e in exprs for m in referenced_metrics(e)} - exported
    assert missing == set()


def test_prometheus_scrapes_each_service_on_its_default_port():
    from ansinh.runtime.settings import DEFAULT_WEB_PORTS

    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {c["labels"]["service"]: c["targets"][0] for c in config["scrape_configs"][0]["static_configs"]}
    assert targets == {s: f"127.0.0.1:{p}" for s, p in DEFAULT_WEB_PORTS.items()}
    assert (DEPLOY / "prometheus" / config["rule_files"][0]).exists()


def test_promtool_accepts_the_prometheus_config_and_alert_rules():
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package, which ./run installs"
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        result = subprocess.run([promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
