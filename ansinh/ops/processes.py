"""Service processes started by the CLI (demo, ``services start``): detached, with pid files and logs."""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

from rich.table import Table

from ansinh.ops.credentials import local_service_env
from ansinh.ops.procs import check_port_is_ours, read_pid, start_detached, stop_pid
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, SERVICES, PlatformSettings


def _paths(settings: PlatformSettings, service: str) -> tuple[Path, Path]:
    root = settings.state_dir / "services"
    return root / f"{service}.log", root / f"{service}.pid"


def start_service(settings: PlatformSettings, service: str) -> int:
    """Start ``service`` in the background with its own role's credentials only (the local platform's)."""
    log, pid = _paths(settings, service)
    running = read_pid(pid)
    if running:
        return running
    # Another checkout's service on our port would answer in our place: refuse instead (PortTaken).
    check_port_is_ours(DEFAULT_WEB_PORTS[service], set(), f"the {service} service")
    env = local_service_env(settings, service, os.environ)
    return start_detached([sys.executable, "-m", f"services.{service}"], log, pid, env=env)


def stop_service(settings: PlatformSettings, service: str) -> bool:
    return stop_pid(_paths(settings, service)[1], timeout=30)


def probe(service: str, path: str = "/ready") -> dict | None:
    port = int(os.environ.get("ANSINH_WEB_PORT") or DEFAULT_WEB_PORTS[service])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def wait_ready(services: tuple[str, ...] = SERVICES, timeout: float = 120) -> dict[str, bool]:
    deadline = time.monotonic() + timeout
    status = {s: False for s in services}
    while time.monotonic() < deadline and not all(status.values()):
        for s in services:
            if not status[s]:
                answer = probe(s)
                status[s] = bool(answer and answer.get("ready"))
        time.sleep(0.5)
    return status


def health_table(status: dict[str, bool]) -> Table:
    """Each service's liveness and readiness, with where its metrics are."""
    table = Table("service", "health", "ready", "metrics")
    for service, ok in status.items():
        port = DEFAULT_WEB_PORTS[service]
        alive = probe(service, "/health") is not None
        table.add_row(service, "[green]alive[/]" if alive else "[red]down[/]",
                      "[green]ready[/]" if ok else "[red]not ready[/]", f"http://127.0.0.1:{port}/metrics")
    return table
