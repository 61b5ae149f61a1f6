"""The platform's main job, end to end, on a fresh machine: a national month in miniature.

Brings the platform up (Kafka, PostgreSQL, Prometheus, the mailbox), starts the four services, then the
simulators play K months (ansinh/devplatform/month.py): employers declare and pay through their banks, the
daily arrears runs charge interest, payment runs are prepared and approved by two operators, banks and paying
offices answer, participants are told. Every figure is cross-checked against the simulators' own ledgers and
the demo fails loudly when they disagree. The platform is left running, with its addresses printed.
"""
from __future__ import annotations

import argparse
import asyncio
import time

from rich.console import Console
from rich.table import Table

from ansinh.devplatform.month import Scenario, play
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, SERVICES, PlatformSettings

# Sized to take about ten minutes on the 2-core machine: 3,000 employers, 100,000 workers and 20,000 beneficiaries
# played in 383 s there (collection 1,300 declarations and payments/s, payments 1,000/s, notifications 2,200/s,
# waits included).
NATIONAL = Scenario(employers=4_000, workers=150_000, beneficiaries=30_000, months=3)


def scenario_of(args: argparse.Namespace) -> Scenario:
    base = NATIONAL if args.national else Scenario()
    chosen = {name: getattr(args, name) for name in ("employers", "workers", "beneficiaries", "months", "seed")
              if getattr(args, name) is not None}
    scenario = Scenario(**{**base.__dict__, **chosen})
    if scenario.employers < 1 or scenario.workers < scenario.employers or scenario.months < 1:
        raise SystemExit("need at least one employer, one worker per employer and one month")
    return scenario


def run_demo(console: Console, args: argparse.Namespace) -> int:
    from ansinh.devplatform import platform
    from ansinh.ops.processes import health_table, start_service, stop_service, wait_ready

    settings = PlatformSettings()
    scenario = scenario_of(args)
    console.rule("ansinh: a national month in miniature")
    if platform.up(console) != 0:
        return 1
    for service in SERVICES:
        start_service(settings, service)
    with console.status("Starting the four services (migrations, Kafka group join)..."):
        status = wait_ready(SERVICES, timeout=180)
    console.print(health_table(status))
    if not all(status.values()):
        console.print(f"[red]some services are not ready; see {settings.state_dir / 'services'}/*.log[/]")
        return 1
    started = time.monotonic()
    try:
        holds = asyncio.run(play(console, settings, scenario))
    except RuntimeError as exc:  # a stage gave up waiting: say where, leave everything running to look at
        console.print(f"[red bold]the demo stopped: {exc}[/]")
        holds = False
    console.print(f"played in {time.monotonic() - started:.0f} s")
    _addresses(console, settings)
    if args.stop:
        for service in SERVICES:
            stop_service(settings, service)
        console.print("services stopped (the platform keeps running; `./run platform down` stops it)")
    if not holds:
        console.print("[red bold]the platform's figures disagree with the simulators' ledgers (see DIFFERS above)[/]")
        return 1
    console.print("[green bold]every figure agrees with the simulators' ledgers[/]")
    return 0


def _addresses(console: Console, settings: PlatformSettings) -> None:
    table = Table("what", "where", title="The platform keeps running")
    for service, port in DEFAULT_WEB_PORTS.items():
        table.add_row(f"{service} API (OpenAPI) and metrics",
                      f"http://127.0.0.1:{port}/openapi.json · http://127.0.0.1:{port}/metrics")
    table.add_row("Prometheus (alerts)", f"http://127.0.0.1:{settings.prometheus_port}/alerts")
    table.add_row("mailbox (what participants received)", f"http://127.0.0.1:{settings.mailbox_http_port}/_stats")
    table.add_row("operator tokens", f"{settings.state_dir / 'secrets.json'} (maker: operator, checker: approver)")
    table.add_row("stop everything", "./run platform down")
    console.print(table)
