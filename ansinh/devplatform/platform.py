"""The local platform as three public steps: ``up``, ``down`` and ``status`` (the CLI and the demo call these)."""
from __future__ import annotations

import asyncio

from rich.console import Console
from rich.table import Table

from ansinh.devplatform import kafka, postgres, prometheus
from ansinh.ops.procs import port_open
from ansinh.ops.processes import probe, stop_service
from ansinh.ops.topics import ensure_topics
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, SERVICES, PlatformSettings


def up(console: Console) -> int:
    """Start Kafka, PostgreSQL and Prometheus (each only if not running) and create the catalogue's topics."""
    settings = PlatformSettings()
    with console.status("Resolving Kafka jars and starting the broker (first run downloads ~45 MB)..."):
        console.print(f"[green]✓[/] {kafka.start_kafka(settings)}")
    with console.status("Starting PostgreSQL..."):
        console.print(f"[green]✓[/] {postgres.start_postgres(settings)}")
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_prefix))
    console.print(f"[green]✓[/] topics: {len(created)} created, catalogue complete")
    console.print(f"[green]✓[/] {prometheus.start_prometheus(settings)}")
    return 0


def down(console: Console) -> int:
    """Stop the services started in the background, then Prometheus, Kafka and the local PostgreSQL."""
    settings = PlatformSettings()
    for service in SERVICES:
        if stop_service(settings, service):
            console.print(f"stopped {service}")
    prometheus.stop_prometheus(settings)
    console.print("Kafka stopped" if kafka.stop_kafka(settings) else "Kafka was not running (here)")
    console.print("PostgreSQL stopped" if postgres.stop_postgres(settings) else "local PostgreSQL was not running")
    return 0


def status(console: Console) -> int:
    """A table of what runs: the servers and the four services."""
    settings = PlatformSettings()
    state = lambda ok: "[green]up[/]" if ok else "[red]down[/]"  # noqa: E731
    table = Table("component", "where", "state")
    table.add_row("Kafka", settings.kafka_bootstrap, state(kafka.kafka_running(settings)))
    table.add_row("PostgreSQL", settings.database_url.split("@")[-1], state(postgres.reachable(settings.database_url)))
    table.add_row("Prometheus", f"http://127.0.0.1:{prometheus.PORT}", state(port_open("127.0.0.1", prometheus.PORT)))
    for service in SERVICES:
        answer = probe(service)
        table.add_row(service, f"http://127.0.0.1:{DEFAULT_WEB_PORTS[service]}",
                      "[green]ready[/]" if answer and answer.get("ready") else state(False))
    console.print(table)
    return 0
