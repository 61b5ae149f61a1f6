"""The deployment files parse, and every metric they mention is one the services really export."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys

import yaml
from prometheus_client import REGISTRY

import ansinh.runtime.metrics  # noqa: F401 - registers the runtime's metrics
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, REPO_ROOT, SERVICES, ServiceSettings

for _service in SERVICES:  # every service's business metrics, registered like the runtime's
    importlib.import_module(f"services.{_service}.metrics")

DEPLOY = REPO_ROOT / "deploy"


def exported_metric_names() -> set[str]:
    names = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - the registry has no public listing
        for metric in collector.describe() if hasattr(collector, "describe") else []:
            names.add(metric.name)
            names.update({metric.name + s for s in ("_total", "_bucket", "_sum", "_count", "_created")})
    return names


def referenced_metrics(text: str) -> set[str]:
    return set(re.findall(r"\b((?:ansinh|%s)_[a-z_]+)\b" % "|".join(SERVICES), text))


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
        known = {f"ANSINH_{field.upper()}" for field in settings_class(name).model_fields}
        assert set(env) <= known, f"{name}: {set(env) - known} are no settings of {settings_class(name).__name__}"
        assert services[name]["depends_on"]["provision"]["condition"] == "service_completed_successfully"
    assert str(services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
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
    exprs = []
    for path in [DEPLOY / "prometheus" / "alerts.yml", *sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))]:
        exprs += [rule["expr"] for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        exprs += [t["expr"] for panel in json.loads(path.read_text())["panels"] for t in panel["targets"]]
    assert len(exprs) > 100
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
    for args in (["check", "config", "prometheus.yml"], ["check", "config", "prometheus.docker.yml"],
                 ["check", "rules", "alerts.yml"]):
        result = subprocess.run([promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def settings_class(service: str) -> type[ServiceSettings]:
    """The settings class a service reads (services/<name>/settings.py), its own fields included."""
    module = importlib.import_module(f"services.{service}.settings")
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings]
    assert len(found) == 1, f"services/{service}/settings.py: {found}"
    return found[0]


def test_compose_gives_every_service_each_setting_it_needs_on_its_default_port():
    services = compose_services()
    for name in SERVICES:
        env = services[name]["environment"]
        required = {f"ANSINH_{f.upper()}" for f, info in settings_class(name).model_fields.items() if info.is_required()}
        assert required <= set(env), f"{name} requires {required - set(env)}"
        port = DEFAULT_WEB_PORTS[name]
        assert env["ANSINH_WEB_PORT"] == str(port) and env["ANSINH_WEB_HOST"] == "0.0.0.0"
        assert services[name]["ports"] == [f"127.0.0.1:{port}:{port}"]
    # Notifications reaches its channels only through these (empty: a channel is not sent, its queue grows).
    channels = {"ANSINH_SMTP_HOST", "ANSINH_GATEWAY_SMS_URL", "ANSINH_GATEWAY_PUSH_URL", "ANSINH_GATEWAY_TOKEN"}
    assert channels <= set(services["notifications"]["environment"])
    # Payments writes the fund's account into every pain.001: no made-up default may reach a bank.
    for variable in ("ANSINH_DEBTOR_ACCOUNT", "ANSINH_DEBTOR_BANK_BIN"):
        assert REQUIRED.match(services["payments"]["environment"][variable]), variable


def test_compose_prometheus_scrapes_the_same_services_and_ports_as_the_local_one():
    docker = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.docker.yml").read_text())
    local = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {c["labels"]["service"]: c["targets"][0] for c in docker["scrape_configs"][0]["static_configs"]}
    assert targets == {s: f"{s}:{p}" for s, p in DEFAULT_WEB_PORTS.items()}
    assert docker["rule_files"] == local["rule_files"]
    assert docker["scrape_configs"][0]["job_name"] == local["scrape_configs"][0]["job_name"]  # alerts use job=
    mounts = {m.split(":")[1]: m.split(":")[0] for m in compose_services()["prometheus"]["volumes"]}
    for pattern in docker["rule_files"]:  # each rule file the config names is mounted beside it
        assert any(target.startswith("/etc/prometheus/" + pattern.split("/")[0]) for target in mounts), pattern


def test_compose_kafka_is_configured_like_the_local_broker():
    from ansinh.devplatform.kafka import server_properties
    from ansinh.runtime.settings import PlatformSettings

    local = dict(line.split("=", 1) for line in server_properties(PlatformSettings(), DEPLOY).splitlines() if line)
    per_machine = {"process.roles", "node.id", "controller.quorum.voters", "listeners", "advertised.listeners",
                   "controller.listener.names", "listener.security.protocol.map", "inter.broker.listener.name",
                   "log.dirs"}
    env = compose_services()["kafka"]["environment"]
    for key, value in local.items():
        if key not in per_machine:
            variable = "KAFKA_" + key.upper().replace(".", "_")
            assert str(env.get(variable)).lower() == value, f"{variable}: compose {env.get(variable)!r}, local {value!r}"
    assert compose_services()["kafka"]["image"].endswith(":" + PlatformSettings().kafka_version)


def test_compose_starts_in_order_and_checks_health():
    services = compose_services()
    for name in ("kafka", "postgres", "prometheus", "grafana", *SERVICES):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["provision"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICES:
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert "/ready" in " ".join(services[name]["healthcheck"]["test"])
    assert set(services["prometheus"]["depends_on"]) == set(SERVICES)
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_the_image_holds_what_compose_runs_and_nothing_of_the_dev_platform():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (?:\S+ )*?(\S+) \S+$", dockerfile, re.M))
    for needed in ("ansinh/runtime", "ansinh/ops", "schemas", "services"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"
    assert "devplatform" not in dockerfile.replace("ansinh/devplatform: it installs", "")
    commands = {tuple(s["command"]) for s in compose_services().values() if "command" in s and "build" in s}
    assert commands == {("ansinh", "topics", "create"), ("ansinh", "provision"),
                        *{("python", "-m", f"services.{name}") for name in SERVICES}}
    assert re.search(r"^USER (?!root\b)\S+$", dockerfile, re.M), "the services run as root"
    assert 'ansinh = "ansinh.cli:main"' in (REPO_ROOT / "pyproject.toml").read_text()  # the `ansinh` command
    # The CLI the jobs run, and each service, start without the dev platform (it is not in the image).
    probe = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
             "assert not [m for m in sys.modules if m.startswith('ansinh.devplatform')], sys.argv[1]")
    for module in ("ansinh.cli", "ansinh.ops.topics", "ansinh.ops.provision",
                   *(f"services.{name}.app" for name in SERVICES)):
        result = subprocess.run([sys.executable, "-c", probe, module], cwd=REPO_ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-1500:]


def test_grafana_provisions_every_dashboard_as_build_dashboards_writes_it():
    sys.path.insert(0, str(DEPLOY / "grafana"))
    try:
        import build_dashboards
    finally:
        sys.path.pop(0)
    on_disk = {p.name: p.read_text() for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    assert on_disk == build_dashboards.rendered(), "run deploy/grafana/build_dashboards.py and commit its output"
    uids = [json.loads(text)["uid"] for text in on_disk.values()]
    assert sorted(uids) == sorted({"ansinh-overview", *(f"ansinh-{s}" for s in SERVICES)})
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "ansinh.yml").read_text())
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    mounts = {m.split(":")[1]: m.split(":")[0] for m in compose_services()["grafana"]["volumes"]}
    assert mounts[provider["providers"][0]["options"]["path"]] == "./deploy/grafana/dashboards"
    uid = datasource["datasources"][0]["uid"]
    for text in on_disk.values():
        for panel in json.loads(text)["panels"]:
            assert panel["datasource"]["uid"] == uid, panel["title"]
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
