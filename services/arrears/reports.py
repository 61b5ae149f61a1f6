"""What operators and the public see: an employer's arrears statement as of any date, the list of employers
late more than N days, the late-payment ratio, and the figures behind the gauges.

Read-only SQL on the ledger (core's ``debts``, ``payment_lines``, ``interest_postings``) and on
``interest_payments`` (0051). The statement recomputes interest with the pure rule
(``domain.interest.interest``) for the days up to the requested date, so it is right for any date, whatever
runs happened; the set-based lists use the same "unpaid on day d" as the run (``status.unpaid_as_of``).
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import asyncpg

from services.arrears.domain.interest import Debt, interest
from services.arrears.domain.law import Law
from services.arrears.status import unpaid_as_of

SCHEMA = "arrears"
TARGET_RATIO = 0.0269  # the agency's target for late payment (VSS, 2024): overdue principal below 2.69%


async def statement(conn: asyncpg.Connection, law: Law, employer_code: str, as_of: date) -> dict:
    """Principal by period and fund, paid (value dates up to ``as_of``), days late, interest by rule segment."""
    rows = await conn.fetch(f"""
        SELECT d.period, d.fund, d.due_date, d.principal,
               coalesce(array_agg(l.value_date ORDER BY l.value_date) FILTER (WHERE l.value_date IS NOT NULL), '{{}}')
                   AS days,
               coalesce(array_agg(l.amount ORDER BY l.value_date) FILTER (WHERE l.value_date IS NOT NULL), '{{}}')
                   AS amounts
        FROM {SCHEMA}.debts d
        LEFT JOIN {SCHEMA}.payment_lines l ON l.employer_code = d.employer_code AND l.period = d.period
                                           AND l.fund = d.fund AND l.value_date <= $2
        WHERE d.employer_code = $1 AND d.due_date IS NOT NULL
        GROUP BY d.period, d.fund, d.due_date, d.principal
        ORDER BY d.period, d.fund""", employer_code, as_of)
    periods: dict[str, dict] = {}
    for r in rows:
        debt = Debt(r["due_date"], max(r["principal"], 0), tuple(zip(r["days"], r["amounts"])))
        segments = interest(law, debt, through=as_of)
        paid = sum(r["amounts"])
        unpaid = debt.unpaid_on(as_of)
        key = r["period"].strftime("%Y-%m")
        p = periods.setdefault(key, {"period": key, "due_date": r["due_date"].isoformat(), "funds": {},
                                     "principal": 0, "paid": 0, "unpaid": 0, "interest": 0, "days_late": 0})
        p["funds"][r["fund"]] = {
            "principal": r["principal"], "paid": paid, "unpaid": unpaid, "days_late": days_late(debt, as_of),
            "interest": sum(s.amount for s in segments.values()),
            "interest_segments": [{"rule": s.rule_id, "from_day": s.from_day.isoformat(),
                                   "to_day": s.to_day.isoformat(),
                                   "amount": s.amount} for s in segments.values()]}
        for k, v in (("principal", r["principal"]), ("paid", paid), ("unpaid", unpaid),
                     ("interest", p["funds"][r["fund"]]["interest"])):
            p[k] += v
        p["days_late"] = max(p["days_late"], p["funds"][r["fund"]]["days_late"])
    listed = list(periods.values())
    charges = await interest_account(conn, employer_code, as_of)
    return {"employer_code": employer_code, "as_of": as_of.isoformat(), "periods": listed,
            "totals": {k: sum(p[k] for p in listed) for k in ("principal", "paid", "unpaid", "interest")},
            "interest_account": charges,
            "total_due": sum(p["unpaid"] for p in listed) + charges["outstanding"]}


def days_late(debt: Debt, as_of: date) -> int:
    """Days after the due date the debt is unpaid on ``as_of``, or was until the payment that paid it up."""
    if as_of <= debt.due_date:
        return 0
    if debt.unpaid_on(as_of) > 0:
        return (as_of - debt.due_date).days
    day = debt.due_date
    while debt.unpaid_on(day) > 0 and day < as_of:  # paid up late: when? (a few payments at most)
        day = min(v for v, _ in debt.payments if v > day)
    return (day - debt.due_date).days


async def interest_account(conn: asyncpg.Connection, employer_code: str, as_of: date) -> dict:
    """Interest charged by the runs up to ``as_of`` (assessed and corrected), paid (collection's allocations
    to fund ``interest`` with a value date up to ``as_of``), and outstanding."""
    charged = await conn.fetchval(f"""SELECT coalesce(sum(amount), 0) FROM {SCHEMA}.interest_postings
                                      WHERE employer_code = $1 AND business_date <= $2""", employer_code, as_of)
    paid = await conn.fetchval(f"""SELECT coalesce(sum(amount), 0) FROM {SCHEMA}.interest_payments
                                   WHERE employer_code = $1 AND value_date <= $2""", employer_code, as_of)
    return {"charged": int(charged), "paid": int(paid), "outstanding": max(int(charged) - int(paid), 0)}


async def overdue_employers(conn: asyncpg.Connection, as_of: date, min_days: int, limit: int) -> list[dict]:
    """Employers with principal unpaid more than ``min_days`` after a due date, largest amount first."""
    rows = await conn.fetch(f"""
        SELECT d.employer_code, sum({unpaid_as_of('d', '$1')}) AS overdue_principal,
               $1::date - min(d.due_date) AS days_late, count(DISTINCT d.period) AS periods,
               min(d.period) AS oldest_period
        FROM {SCHEMA}.debts d
        WHERE d.due_date IS NOT NULL AND d.due_date < $1::date - $2::int
          AND (d.principal > d.paid OR d.last_value_date > $1)
          AND {unpaid_as_of('d', '$1')} > 0
        GROUP BY d.employer_code
        ORDER BY overdue_principal DESC, d.employer_code
        LIMIT $3""", as_of, min_days, limit)
    return [{"employer_code": r["employer_code"], "overdue_principal": int(r["overdue_principal"]),
             "days_late": r["days_late"], "periods": r["periods"],
             "oldest_period": r["oldest_period"].strftime("%Y-%m")} for r in rows]


CSV_COLUMNS = ("employer_code", "overdue_principal", "days_late", "periods", "oldest_period")


def overdue_csv(rows: list[dict]) -> str:
    """The public list as CSV (one header line, one line per employer, amounts in VND)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def late_payment_ratio(conn: asyncpg.Connection, as_of: date) -> dict:
    """Overdue principal on ``as_of`` over the principal due in the 12 months up to ``as_of``.

    The agency's figure is "late amounts over the year's collection"; a rolling year of due dates keeps the
    ratio meaningful in January too (a calendar year would start with a tiny denominator).
    """
    row = await conn.fetchrow(f"""
        SELECT (SELECT coalesce(sum({unpaid_as_of('d', '$1')}), 0) FROM {SCHEMA}.debts d
                WHERE d.due_date IS NOT NULL AND d.due_date < $1
                  AND (d.principal > d.paid OR d.last_value_date > $1)) AS overdue,
               (SELECT coalesce(sum(greatest(principal, 0)), 0) FROM {SCHEMA}.debts
                WHERE due_date > $2 AND due_date <= $1) AS due_in_year""",
                                as_of, year_before(as_of))
    overdue, due = int(row["overdue"]), int(row["due_in_year"])
    ratio = overdue / due if due else 0.0
    return {"as_of": as_of.isoformat(), "overdue_principal": overdue, "principal_due_in_year": due,
            "year_from": (year_before(as_of) + timedelta(days=1)).isoformat(), "ratio": ratio,
            "target": TARGET_RATIO, "above_target": ratio > TARGET_RATIO}


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


async def gauge_figures(conn: asyncpg.Connection, as_of: date) -> dict:
    """Overdue principal and employers, interest accrued, and the ratio, as of ``as_of`` (one pass each)."""
    ratio = await late_payment_ratio(conn, as_of)
    employers = await conn.fetchval(f"""
        SELECT count(DISTINCT d.employer_code) FROM {SCHEMA}.debts d
        WHERE d.due_date IS NOT NULL AND d.due_date < $1 AND (d.principal > d.paid OR d.last_value_date > $1)
          AND {unpaid_as_of('d', '$1')} > 0""", as_of)
    accrued = await conn.fetchval(f"SELECT coalesce(sum(amount), 0) FROM {SCHEMA}.interest_postings")
    return {"overdue_principal": ratio["overdue_principal"], "overdue_employers": int(employers),
            "interest_accrued": int(accrued), "ratio": ratio["ratio"]}
