"""A real Apache Kafka broker (KRaft, single node) run from the jars Maven resolves.

The jars land in ``<state>/kafka/<version>/libs`` (git-ignored); storage is formatted once under
``<state>/kafka/data`` and survives ``down``/``up``.
"""
from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from ansinh.ops.procs import check_port_is_ours, port_open, read_pid, start_detached, stop_pid, wait_until
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = REPO_ROOT / "deploy" / "kafka" / "log4j2.yaml"


class KafkaPlatformError(RuntimeError):
    """The broker could not be resolved, formatted or started; the message says what to do."""


@dataclass(frozen=True)
class KafkaPaths:
    root: Path
    libs: Path
    data: Path
    config: Path
    log: Path
    pid: Path

    @classmethod
    def of(cls, settings: PlatformSettings) -> "KafkaPaths":
        root = settings.state_dir / "kafka"
        return cls(root=root, libs=root / settings.kafka_version / "libs", data=root / "data",
                   config=root / "server.properties", log=root / "broker.log", pid=root / "broker.pid")


def resolve_jars(settings: PlatformSettings) -> Path:
    """Resolve ``org.apache.kafka:kafka_2.13`` and its runtime dependencies with Maven (once)."""
    paths = KafkaPaths.of(settings)
    marker = paths.libs / ".complete"
    if marker.exists():
        return paths.libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise KafkaPlatformError("Java and Maven are needed to run Kafka: install a JDK 17+ and Maven")
    staging = paths.libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-f", str(POM), f"-Dkafka.version={settings.kafka_version}",
           "dependency:copy-dependencies", f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise KafkaPlatformError(f"Maven could not resolve Kafka {settings.kafka_version}:\n"
                                 f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    shutil.rmtree(paths.libs, ignore_errors=True)
    staging.rename(paths.libs)
    marker.write_text(settings.kafka_version)
    return paths.libs


def server_properties(settings: PlatformSettings, data: Path) -> str:
    port, cport = settings.kafka_port, settings.kafka_controller_port
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{cport}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data}",
        # Topics come only from the catalogue: a typo must fail, not create a topic.
        "auto.create.topics.enable=false",
        "num.partitions=1",
        "default.replication.factor=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=12",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "min.insync.replicas=1",
        "group.initial.rebalance.delay.ms=0",
        "message.max.bytes=1048588",
        "log.retention.hours=168",
        "",
    ])


def _java_cmd(libs: Path, *args: str) -> list[str]:
    return ["java", "-Xms256m", "-Xmx1g", f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp", f"{libs}/*", *args]


def format_storage(settings: PlatformSettings, libs: Path) -> None:
    """Format KRaft storage once; an existing ``meta.properties`` means it is done."""
    paths = KafkaPaths.of(settings)
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(server_properties(settings, paths.data))
    if (paths.data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # "=" keeps an id that starts with "-" from being read as an option.
    result = subprocess.run(_java_cmd(libs, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                      "-c", str(paths.config)), capture_output=True, text=True)
    if result.returncode != 0:
        raise KafkaPlatformError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def kafka_running(settings: PlatformSettings) -> bool:
    return port_open("127.0.0.1", settings.kafka_port)


def start_kafka(settings: PlatformSettings, timeout: float = 90.0) -> str:
    """Start the broker unless it already answers; returns a one-line description."""
    paths = KafkaPaths.of(settings)
    ours = {pid} if (pid := read_pid(paths.pid)) else set()
    running = [check_port_is_ours(port, ours, "this checkout's Kafka broker", variable)
               for port, variable in ((settings.kafka_port, "ANSINH_KAFKA_PORT"),
                                      (settings.kafka_controller_port, "ANSINH_KAFKA_CONTROLLER_PORT"))]
    if running[0]:
        return f"Kafka already running on 127.0.0.1:{settings.kafka_port}"
    libs = resolve_jars(settings)
    format_storage(settings, libs)
    start_detached(_java_cmd(libs, "kafka.Kafka", str(paths.config)), paths.log, paths.pid)
    try:
        wait_until(lambda: kafka_running(settings) or read_pid(paths.pid) is None, timeout, "Kafka")
    except TimeoutError as exc:
        raise KafkaPlatformError(f"{exc}; see {paths.log}") from exc
    if read_pid(paths.pid) is None:
        raise KafkaPlatformError(f"the Kafka broker exited at start-up; see {paths.log}")
    return f"Kafka {settings.kafka_version} (KRaft) started on 127.0.0.1:{settings.kafka_port}"


def stop_kafka(settings: PlatformSettings) -> bool:
    return stop_pid(KafkaPaths.of(settings).pid, timeout=60)
