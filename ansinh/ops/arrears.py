"""Operators' arrears commands: run the daily run for a date, the overdue list, an employer's statement.

Talks to the arrears service's HTTP API (``POST /runs``, ``GET /overdue``, ``GET /employers/{code}/arrears``)
with the operator's own bearer token from ``ANSINH_OPERATOR_TOKEN``, so the service checks the roles
(``arrears:run``, ``arrears:read``) and audits the run under the operator's name; this module never touches
the database.
"""
from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from ansinh.ops.service_api import OperatorError, ServiceClient

RUN_TIMEOUT_S = 3600  # a national run (1 million debts) takes seconds; a long catch-up may take minutes
READ_TIMEOUT_S = 60


class ArrearsCommandError(OperatorError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    api: ServiceClient

    @classmethod
    def from_environment(cls) -> "Client":
        return cls(ServiceClient.from_environment("arrears", "roles arrears:read, and arrears:run to run",
                                                  ArrearsCommandError))

    def run(self, business_date: str, reason: str) -> dict:
        return self.api.json("POST", "/runs", {"business_date": business_date, "reason": reason},
                             timeout=RUN_TIMEOUT_S)

    def overdue(self, days: int, as_of: str | None = None, csv: bool = False, limit: int = 1000) -> dict | str:
        query = {"days": days, "limit": limit, "format": "csv" if csv else "json", **({"as_of": as_of} if as_of else {})}
        body = self.api.call("GET", "/overdue?" + urllib.parse.urlencode(query), timeout=READ_TIMEOUT_S)
        return body.decode() if csv else json.loads(body)

    def statement(self, employer_code: str, as_of: str | None = None) -> dict:
        query = "?" + urllib.parse.urlencode({"as_of": as_of}) if as_of else ""
        return self.api.json("GET", f"/employers/{urllib.parse.quote(employer_code, safe='')}/arrears{query}",
                             timeout=READ_TIMEOUT_S)


# ---- the CLI's side (ansinh arrears ...): one function per action, output with rich -----------------------
def command(args, console) -> int:
    """``ansinh arrears run|overdue|statement``: returns the exit code (1 refused/unreachable, 2 usage)."""
    try:
        client = Client.from_environment()
        if args.action == "run":
            return _run(client, args, console)
        if args.action == "overdue":
            return _overdue(client, args, console)
        if args.employer is None:
            console.print("[red]✗ usage: ansinh arrears statement EMPLOYER [--as-of YYYY-MM-DD][/]")
            return 2
        _statement(client.statement(args.employer, args.as_of), console)
        return 0
    except ArrearsCommandError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1


def _run(client: Client, args, console) -> int:
    if args.date is None or not (args.reason or "").strip():
        console.print("[red]✗ usage: ansinh arrears run --date YYYY-MM-DD [--reason \"why\"][/]")
        return 2
    done = client.run(args.date, args.reason)
    a = done["accrual"]
    again = " (already done: the first run's figures)" if a["already_done"] else ""
    console.print(f"arrears run for {done['business_date']}: {a['debts']:,} debts recomputed, "
                  f"{a['assessed_vnd']:,} VND interest assessed, {a['corrected_vnd']:,} VND corrected{again}; "
                  f"status events {done['status_events']}, {done['worker_notices']:,} workers told; "
                  f"{done['seconds']} s")
    return 0


def _overdue(client: Client, args, console) -> int:
    import sys

    from rich.table import Table

    answer = client.overdue(args.days, args.as_of, args.csv, args.limit)
    if args.csv:
        sys.stdout.write(answer)
        return 0
    table = Table("employer", "overdue principal (VND)", "days late", "periods", "oldest",
                  title=f"late more than {answer['min_days']} days on {answer['as_of']}: {answer['count']} "
                        f"employers, {answer['total_overdue_principal']:,} VND")
    for e in answer["employers"]:
        table.add_row(e["employer_code"], f"{e['overdue_principal']:,}", str(e["days_late"]), str(e["periods"]),
                      e["oldest_period"])
    console.print(table)
    return 0


def _statement(s: dict, console) -> None:
    from rich.table import Table

    account = s["interest_account"]
    table = Table("period", "due", "principal", "paid", "unpaid", "days late", "interest",
                  title=f"{s['employer_code']} as of {s['as_of']}: {s['total_due']:,} VND due (interest charged "
                        f"{account['charged']:,}, paid {account['paid']:,})")
    for p in s["periods"]:
        table.add_row(p["period"], p["due_date"], f"{p['principal']:,}", f"{p['paid']:,}", f"{p['unpaid']:,}",
                      str(p["days_late"]), f"{p['interest']:,}")
    console.print(table)
