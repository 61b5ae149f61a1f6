"""Operators' payment runs: prepare a month's run, approve it (a second operator), follow it, a person's history.

    ansinh payments prepare 2026-01 [--reason "..."] [--no-wait]    (role payments:prepare; audited)
    ansinh payments approve 2026-01 --reason "..." [--expect-payments N --expect-amount VND]
                                                                    (role payments:approve; not the preparer)
    ansinh payments show 2026-01                                    (payments:read)
    ansinh payments history BENEFICIARY                             (payments:read + personal_data:read)

Talks to the payments service's HTTP API with the operator's own bearer token from ``ANSINH_OPERATOR_TOKEN``,
so the service checks the roles, refuses an approval by the run's preparer and writes the audit record under
the operator's name; this module never touches the database. While a run is prepared or sent it shows a
progress bar (rows done of total) and then the run's summary. ``ANSINH_PAYMENTS_URL``: another address.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ansinh.ops.service_api import OperatorError, ServiceClient

POLL_S = 0.5


class PaymentsCommandError(OperatorError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    api: ServiceClient

    @classmethod
    def from_environment(cls) -> "Client":
        return cls(ServiceClient.from_environment(
            "payments", "roles payments:prepare, payments:approve or payments:read", PaymentsCommandError))

    def prepare(self, period: str, reason: str) -> dict:
        return self.api.json("POST", f"/runs/{period}/prepare", {"reason": reason})

    def approve(self, period: str, reason: str, payments: int | None, amount: int | None) -> dict:
        body = {"reason": reason, "expected_payments": payments, "expected_amount": amount}
        return self.api.json("POST", f"/runs/{period}/approve", {k: v for k, v in body.items() if v is not None})

    def run(self, period: str) -> dict:
        return self.api.json("GET", f"/runs/{period}")

    def history(self, beneficiary: str) -> dict:
        return self.api.json("GET", f"/beneficiaries/{beneficiary}/payments")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["prepare", "approve", "show", "history"])
    p.add_argument("target", metavar="PERIOD|BENEFICIARY", help="the month YYYY-MM, or a 10-digit beneficiary code")
    p.add_argument("--reason", help="why (audited; required to approve)")
    p.add_argument("--expect-payments", type=int, help="approve: the count you checked (refused if different)")
    p.add_argument("--expect-amount", type=int, help="approve: the VND total you checked (refused if different)")
    p.add_argument("--no-wait", action="store_true", help="prepare/approve: do not follow the run to its end")


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        client = Client.from_environment()
        if args.action == "history":
            _print_history(console, client.history(args.target))
            return 0
        if args.action == "prepare":
            view = client.prepare(args.target, args.reason or "monthly run")
            done = {"prepared"}
        elif args.action == "approve":
            if not (args.reason or "").strip():
                console.print('[red]✗ usage: ansinh payments approve PERIOD --reason "why it may go out"[/]')
                return 2
            view = client.approve(args.target, args.reason, args.expect_payments, args.expect_amount)
            done = {"sent"}
        else:
            view, done = client.run(args.target), set()
        if done and not args.no_wait:
            view = follow(client, args.target, done, console)
    except PaymentsCommandError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    print_run(console, view)
    return 0


def follow(client: Client, period: str, done: set[str], console: Console) -> dict:
    """Poll the run, showing its progress (rows done of total), until its state is one of ``done``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"run {period}", total=None)
        while True:
            view = client.run(period)
            progress = view["progress"]
            label = {"prepare": "entitlements examined", "send": "payments sent"}.get(progress["phase"], view["state"])
            bar.update(task, description=f"run {period}: {label}", total=progress["total"],
                       completed=progress["done"] or 0)
            if view["state"] in done:
                bar.update(task, completed=progress["total"] or progress["done"] or 0)
                return view
            time.sleep(POLL_S)


def print_run(console: Console, view: dict) -> None:
    console.print(f"[bold]run {view['period']}[/]: {view['state']}; {view['payments']:,} payments, "
                  f"{view['amount']:,} VND; prepared by {', '.join(view['preparers']) or '-'}"
                  + (f", approved by {view['approved_by']} (transfers on {view['execution_date']})"
                     if view["approved_by"] else ""))
    summary = view.get("summary") or {}
    for title, key in (("by channel", "by_channel"), ("by bank", "by_bank"), ("by benefit type", "by_benefit_type")):
        if summary.get(key):
            table = Table(title.split()[-1], "payments", "amount (VND)", title=title)
            for name, t in summary[key].items():
                table.add_row(name, f"{t['count']:,}", f"{t['amount']:,}")
            console.print(table)
    diff = summary.get("difference")
    if diff:
        table = Table("change from last month", "payments", "amount (VND)")
        table.add_row("last month", f"{diff['previous']['count']:,}", f"{diff['previous']['amount']:,}")
        table.add_row("+ new awards", f"{diff['new_awards']['count']:,}", f"{diff['new_awards']['amount']:,}")
        for reason, t in diff["ended_awards"]["by_reason"].items():
            table.add_row(f"- ended ({reason})", f"{t['count']:,}", f"{t['amount']:,}")
        changed = diff["changed_amounts"]
        table.add_row("± changed amounts", f"{changed['count']:,}", f"{changed['amount_change']:+,}")
        table.add_row("this month", f"{diff['current']['count']:,}", f"{diff['current']['amount']:,}")
        console.print(table)
    if view.get("by_state"):
        table = Table("channel", "state", "payments", "amount (VND)", title="payments by state")
        for s in view["by_state"]:
            table.add_row(s["channel"], s["state"], f"{s['count']:,}", f"{s['amount']:,}")
        console.print(table)


def _print_history(console: Console, answer: dict) -> None:
    table = Table("period", "payment", "award", "amount (VND)", "channel", "state", "sent",
                  title=f"payments of {answer['beneficiary_code']}")
    for p in answer["payments"]:
        table.add_row(p["period"], p["payment_id"], p["award_id"], f"{p['amount']:,}", p["channel"], p["state"],
                      p["sent_at"] or "")
    console.print(table)
