"""The main job of the platform, shown end to end on a fresh machine.

For now: the platform comes up, the catalogue's topics exist, the four services start, migrate their
schemas and report healthy.
"""
from __future__ import annotations

import argparse

from rich.console import Console

from ansinh.settings import SERVICES, PlatformSettings


def run_demo(console: Console, args: argparse.Namespace) -> int:
    from ansinh.cli import _print_health, cmd_platform
    from ansinh.processes import start_service, stop_service, wait_ready

    settings = PlatformSettings()
    console.rule("ansinh demo")
    cmd_platform(argparse.Namespace(action="up"))
    for service in SERVICES:
        start_service(settings, service)
    with console.status("Starting the four services (migrations, Kafka group join)..."):
        status = wait_ready(SERVICES, timeout=180)
    code = _print_health(status)
    if not all(status.values()):
        console.print(f"[red]some services are not ready; see {settings.state_dir / 'services'}/*.log[/]")
    if not args.keep_running:
        for service in SERVICES:
            stop_service(settings, service)
        console.print("services stopped (the platform keeps running; `ansinh platform down` stops it)")
    return code
