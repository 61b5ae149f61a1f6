"""HTTP (JSON) views: a worker's contribution history, an employer's statement, and the suspense list of
unidentified receipts with the operator's assignment.

The views are declared with their models in ``services/collection/api.py``; the OpenAPI document is generated
from them (served at ``/openapi.json``, a copy kept in ``services/collection/openapi.json``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

from services.collection import repository as repo
from services.collection.domain.errors import ReceiptAlreadyAssigned, ReceiptNotFound, UnknownEmployer
from services.collection.domain.model import Period

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
RECEIPT_ID = re.compile(r"[0-9]{1,18}")  # bigserial; ASCII digits only
SUSPENSE_STATUS = {"open": False, "assigned": True, "all": None}


class BadRequest(ValueError):
    """A request the caller must correct; the text is returned as the error."""


# The HTTP status of each refusal of an operator's request (anything else is a 500).
STATUS = {BadRequest: 400, ReceiptNotFound: 404, ReceiptAlreadyAssigned: 409, UnknownEmployer: 422}


def payment_status(assessed: int, paid: int) -> str:
    if assessed <= 0 or paid >= assessed:
        return "paid"
    return "partially_paid" if paid > 0 else "unpaid"


async def worker_history(pool: asyncpg.Pool, worker_code: str) -> dict:
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


def suspense_list(receipts, status: str) -> dict:
    """What an operator needs to identify a payer, nothing more: no remittance text, names or accounts."""
    items = [{"id": r["id"], "payment_id": r["payment_id"], "bank_bin": r["bank_bin"],
              "bank_reference": r["bank_reference"], "amount": r["amount"], "value_date": r["value_date"].isoformat(),
              "reason": r["reason"], "held_at": r["held_at"].isoformat(),
              **({"assigned_to": r["assigned_to"], "assigned_at": r["assigned_at"].isoformat()}
                 if r["assigned_to"] else {})} for r in receipts]
    return {"status": status, "count": len(items), "total_vnd": sum(i["amount"] for i in items), "receipts": items}
