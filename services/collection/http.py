"""HTTP (JSON) views: a worker's contribution history, an employer's statement, and the suspense list of
unidentified receipts with the operator's assignment.

Described in ``services/collection/openapi.json`` (served at ``/openapi.json``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

from services.collection import repository as repo
from services.collection.commands import AssignReceipt
from services.collection.domain.errors import ReceiptAlreadyAssigned, ReceiptNotFound, UnknownEmployer
from services.collection.domain.model import Period

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
EMPLOYER_CODE = re.compile(r"[A-Z0-9]{2,15}")
RECEIPT_ID = re.compile(r"[0-9]{1,18}")  # bigserial; ASCII digits only
REASON_MAX = 500
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


def suspense_list(receipts, status: str) -> dict:
    """What an operator needs to identify a payer, nothing more: no remittance text, names or accounts."""
    items = [{"id": r["id"], "payment_id": r["payment_id"], "bank_bin": r["bank_bin"],
              "bank_reference": r["bank_reference"], "amount": r["amount"], "value_date": r["value_date"].isoformat(),
              "reason": r["reason"], "held_at": r["held_at"].isoformat(),
              **({"assigned_to": r["assigned_to"], "assigned_at": r["assigned_at"].isoformat()}
                 if r["assigned_to"] else {})} for r in receipts]
    return {"status": status, "count": len(items), "total_vnd": sum(i["amount"] for i in items), "receipts": items}


def suspense_status(value: str | None) -> str:
    status = value or "open"
    if status not in SUSPENSE_STATUS:
        raise BadRequest("'status' must be one of open, assigned, all")
    return status


def assignment(receipt_id: str, body: bytes) -> AssignReceipt:
    """Read ``{"employer_code": ..., "reason": ...}``; an assignment without a reason is refused."""
    if not RECEIPT_ID.fullmatch(receipt_id):
        raise ReceiptNotFound(f"no unidentified receipt {receipt_id[:20]!r}")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise BadRequest("the body must be JSON: {\"employer_code\": \"...\", \"reason\": \"...\"}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object with employer_code and reason")
    employer, reason = data.get("employer_code"), data.get("reason")
    if not isinstance(employer, str) or not EMPLOYER_CODE.fullmatch(employer):
        raise BadRequest("'employer_code' is required: 2-15 capital letters or digits")
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest("'reason' is required: say why this receipt belongs to this employer (it is audited)")
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise BadRequest(f"'reason' must be at most {REASON_MAX} characters of text")
    return AssignReceipt(int(receipt_id), employer, reason.strip())
