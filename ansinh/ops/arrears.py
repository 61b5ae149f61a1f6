"""Operators' arrears commands: run the daily run for a date, the overdue list, an employer's statement.

Talks to the arrears service's HTTP API (``POST /runs``, ``GET /overdue``, ``GET /employers/{code}/arrears``)
with the operator's own bearer token from ``ANSINH_OPERATOR_TOKEN``, so the service checks the roles
(``arrears:run``, ``arrears:read``) and audits the run under the operator's name; this module never touches
the database.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ansinh.runtime.settings import DEFAULT_WEB_PORTS

TOKEN_VARIABLE = "ANSINH_OPERATOR_TOKEN"
URL_VARIABLE = "ANSINH_ARREARS_URL"
RUN_TIMEOUT_S = 3600  # a national run (1 million debts) takes seconds; a long catch-up may take minutes
READ_TIMEOUT_S = 60


class ArrearsCommandError(RuntimeError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    base_url: str
    token: str

    @classmethod
    def from_environment(cls) -> "Client":
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise ArrearsCommandError(f"no operator token: set {TOKEN_VARIABLE} to your bearer token (one holding "
                                      "arrears:read, and arrears:run to run; see ANSINH_API_TOKENS)")
        url = os.environ.get(URL_VARIABLE) or f"http://127.0.0.1:{DEFAULT_WEB_PORTS['arrears']}"
        return cls(url.rstrip("/"), token)

    def run(self, business_date: str, reason: str) -> dict:
        return json.loads(self._call("POST", "/runs", {"business_date": business_date, "reason": reason},
                                     timeout=RUN_TIMEOUT_S))

    def overdue(self, days: int, as_of: str | None = None, csv: bool = False, limit: int = 1000) -> dict | str:
        query = {"days": days, "limit": limit, "format": "csv" if csv else "json", **({"as_of": as_of} if as_of else {})}
        body = self._call("GET", "/overdue?" + urllib.parse.urlencode(query))
        return body.decode() if csv else json.loads(body)

    def statement(self, employer_code: str, as_of: str | None = None) -> dict:
        query = "?" + urllib.parse.urlencode({"as_of": as_of}) if as_of else ""
        return json.loads(self._call("GET", f"/employers/{urllib.parse.quote(employer_code, safe='')}/arrears{query}"))

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = READ_TIMEOUT_S) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise ArrearsCommandError(f"{exc.code}: {_error_text(exc.read())}") from None
        except OSError as exc:
            raise ArrearsCommandError(f"arrears is not reachable at {self.base_url} ({exc}); is it running? "
                                      f"(set {URL_VARIABLE} for another address)") from None


def _error_text(body: bytes) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:200]
    if isinstance(answer, dict) and answer.get("problems"):
        return "; ".join(f"{p.get('field')}: {p.get('problem')}" for p in answer["problems"])
    return answer.get("error", str(answer)[:200]) if isinstance(answer, dict) else str(answer)[:200]


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
