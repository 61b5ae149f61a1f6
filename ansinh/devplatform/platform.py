"""The local platform as three public steps: ``up``, ``down`` and ``status`` (the CLI and the demo call these)."""
from __future__ import annotations

import asyncio

from rich.console import Console
from rich.table import Table

from ansinh.devplatform import kafka, mailbox, postgres, prometheus
from ansinh.ops.credentials import LocalSecrets
from ansinh.ops.procs import PortTaken, port_open
from ansinh.ops.provision import provision_all
from ansinh.ops.processes import probe, stop_service
from ansinh.ops.topics import ensure_topics
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, SERVICES, PlatformSettings


def up(console: Console) -> int:
    """Start Kafka, PostgreSQL, Prometheus and the mailbox (each only if not running), create the catalogue's
    topics and provision each service's role and schema with this checkout's generated passwords."""
    settings = PlatformSettings()
    try:
        with console.status("Resolving Kafka jars and starting the broker (first run downloads ~45 MB)..."):
            console.print(f"[green]✓[/] {kafka.start_kafka(settings)}")
        with console.status("Starting PostgreSQL..."):
            console.print(f"[green]✓[/] {postgres.start_postgres(settings)}")
        console.print(f"[green]✓[/] {provision_local(settings)}")
        created = asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_prefix))
        console.print(f"[green]✓[/] topics: {len(created)} created, catalogue complete")
        console.print(f"[green]✓[/] {prometheus.start_prometheus(settings)}")
        console.print(f"[green]✓[/] {mailbox.start_mailbox(settings)}")
    except PortTaken as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    return 0


def provision_local(settings: PlatformSettings) -> str:
    """``ansinh provision`` for the local platform: every service's role, with the generated passwords."""
    local = LocalSecrets(settings.state_dir)
    asyncio.run(provision_all(settings.database_url, {s: local.db_password(s) for s in SERVICES}))
    return f"service roles provisioned (passwords: {local.path}, mode 0600)"


def down(console: Console) -> int:
    """Stop the services started in the background, then Prometheus, Kafka and the local PostgreSQL."""
    settings = PlatformSettings()
    for service in SERVICES:
        if stop_service(settings, service):
            console.print(f"stopped {service}")
    prometheus.stop_prometheus(settings)
    mailbox.stop_mailbox(settings)
    console.print("Kafka stopped" if kafka.stop_kafka(settings) else "Kafka was not running (here)")
    console.print("PostgreSQL stopped" if postgres.stop_postgres(settings) else "local PostgreSQL was not running")
    if (outside := postgres.cluster_outside_checkout(settings)) is not None:
        console.print(f"this checkout's PostgreSQL data is in {outside} (the postgres user cannot enter the "
                      "checkout): delete that directory too when you delete the checkout")
    return 0


def status(console: Console) -> int:
    """A table of what runs: the servers and the four services."""
    settings = PlatformSettings()
    state = lambda ok: "[green]up[/]" if ok else "[red]down[/]"  # noqa: E731
    table = Table("component", "where", "state")
    table.add_row("Kafka", settings.kafka_bootstrap, state(kafka.kafka_running(settings)))
    table.add_row("PostgreSQL", settings.database_url.split("@")[-1], state(postgres.reachable(settings.database_url)))
    table.add_row("Prometheus", f"http://127.0.0.1:{settings.prometheus_port}",
                  state(port_open("127.0.0.1", settings.prometheus_port)))
    table.add_row("mailbox", f"smtp://127.0.0.1:{settings.mailbox_smtp_port}, "
                  f"http://127.0.0.1:{settings.mailbox_http_port}/_stats",
                  state(port_open("127.0.0.1", settings.mailbox_http_port)))
    for service in SERVICES:
        answer = probe(service)
        table.add_row(service, f"http://127.0.0.1:{DEFAULT_WEB_PORTS[service]}",
                      "[green]ready[/]" if answer and answer.get("ready") else state(False))
    console.print(table)
    return 0
