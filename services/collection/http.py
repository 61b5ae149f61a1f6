"""Read-only HTTP (JSON) views: a worker's contribution history and an employer's statement.

Described in ``services/collection/openapi.json`` (served at ``/openapi.json``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

from services.collection import repository as repo
from services.collection.domain.model import Period

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class BadRequest(ValueError):
    """A request the caller must correct; the text is returned as the error."""


def payment_status(assessed: int, paid: int) -> str:
    if assessed <= 0 or paid >= assessed:
        return "paid"
    return "partially_paid" if paid > 0 else "unpaid"


async def worker_history(pool: asyncpg.Pool, worker_code: str) -> dict:
    if not re.fullmatch(r"\d{10}", worker_code):
        raise BadRequest("worker code must be the 10-digit social insurance code")
    async with pool.acquire() as conn:
        rows = await repo.worker_history(conn, worker_code)
    months = []
    for r in rows:
        employer_funds = json.loads(r["employer_funds"])
        lines = json.loads(r["lines"])
        funds = {}
        for fund in r["funds"]:
            assessed, paid = employer_funds.get(fund, [0, 0])
            funds[fund] = {"amount": sum(a for f, _, a in lines if f == fund),
                           "employer_paid": payment_status(assessed, paid)}
        months.append({"period": str(Period.of(r["period"])), "employer_code": r["employer_code"],
                       "revision": r["revision"], "declared_salary": r["declared_salary"],
                       "social_salary_base": r["social_base"], "unemployment_salary_base": r["unemployment_base"],
                       "due_date": r["due_date"].isoformat(), "funds": funds,
                       "fully_paid": all(f["employer_paid"] == "paid" for f in funds.values())})
    return {"worker_code": worker_code, "months": months,
            "unpaid_months": [m["period"] for m in months if not m["fully_paid"]]}


async def employer_statement(pool: asyncpg.Pool, employer_code: str, first: str | None, last: str | None) -> dict:
    for name, value in (("from", first), ("to", last)):
        if value is not None and not PERIOD.match(value):
            raise BadRequest(f"'{name}' must be a period YYYY-MM, got {value!r}")
    lo = Period.parse(first) if first else Period(1900, 1)
    hi = Period.parse(last) if last else Period(9999, 12)
    if lo > hi:
        raise BadRequest("'from' is after 'to'")
    async with pool.acquire() as conn:
        data = await repo.employer_statement(conn, employer_code, lo, hi)
    periods: dict[str, dict] = {}
    for r in data["rows"]:
        p = periods.setdefault(str(Period.of(r["period"])), {"period": str(Period.of(r["period"])),
                                                             "due_date": r["due_date"].isoformat(), "funds": {},
                                                             "assessed": 0, "paid": 0, "outstanding": 0})
        outstanding = max(r["assessed"] - r["paid"], 0)
        p["funds"][r["fund"]] = {"assessed": r["assessed"], "paid": r["paid"], "outstanding": outstanding}
        p["assessed"] += r["assessed"]
        p["paid"] += r["paid"]
        p["outstanding"] += outstanding
    rows = list(periods.values())
    return {"employer_code": employer_code, "from": first, "to": last, "periods": rows,
            "totals": {k: sum(p[k] for p in rows) for k in ("assessed", "paid", "outstanding")},
            "credit_balance": data["credit"]}
