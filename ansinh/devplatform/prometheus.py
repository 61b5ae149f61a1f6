"""Prometheus for the local platform (Debian's ``prometheus`` package), scraping the four services."""
from __future__ import annotations

import shutil

from ansinh.ops.procs import check_port_is_ours, port_open, read_pid, start_detached, stop_pid, wait_until
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings

CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"


def _pidfile(settings: PlatformSettings):
    return settings.state_dir / "prometheus" / "prometheus.pid"


def start_prometheus(settings: PlatformSettings) -> str:
    port = settings.prometheus_port
    ours = {pid} if (pid := read_pid(_pidfile(settings))) else set()
    if check_port_is_ours(port, ours, "this checkout's Prometheus", "ANSINH_PROMETHEUS_PORT"):
        return f"Prometheus already answering on 127.0.0.1:{port}"
    binary = shutil.which("prometheus")
    if binary is None:
        return "Prometheus not installed (apt-get install prometheus); metrics stay on each service's /metrics"
    root = settings.state_dir / "prometheus"
    root.mkdir(parents=True, exist_ok=True)
    start_detached([binary, f"--config.file={CONFIG}", f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}"], root / "prometheus.log", _pidfile(settings))
    wait_until(lambda: port_open("127.0.0.1", port) or read_pid(_pidfile(settings)) is None, 30, "Prometheus")
    return f"Prometheus on http://127.0.0.1:{port} (alerts: deploy/prometheus/alerts.yml and rules/)"


def stop_prometheus(settings: PlatformSettings) -> bool:
    return stop_pid(_pidfile(settings), timeout=20)
