"""Declarations and payments for the same employers, published at the same time on both topics, through one
real collection service: whatever order the two consumers' transactions take, no month stays unpaid while
the employer holds credit, and every dong sent is either allocated, credit or in suspense."""
from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from schemas.collection import CreditNotificationReceived, SalaryDeclared
from schemas.envelope import encode, new_envelope
from services.collection.commands import declare_salary
from services.collection.domain.assessment import assess
from services.collection.domain.law import load_law
from tests.integration.collection.conftest import BUSINESS_DATE, declaration, remittance
from tests.integration.collection.test_remittances import CAMT054
from tests.kafka_helpers import publish
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration

# The race is timing: each wave is another chance to lose it (without the employer lock in the declaration
# path, one wave of 48 employers caught it in about two runs of three, three waves nearly always).
WAVES = [[f"C{wave}{i:04d}" for i in range(48)] for wave in range(3)]
EMPLOYERS = [e for wave in WAVES for e in wave]
MONTHS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
# What each employer pays of a month's contributions, in tenths, by employer number modulo 4: exactly, half,
# one and a half (in two payments), and a month short then a month over.
SHARES = {0: [(10,)], 1: [(5,)], 2: [(8, 7)], 3: [(3,), (17,)]}


def payroll(employers: list[str]) -> tuple[list[dict], list[dict], dict[str, int], dict[str, int]]:
    """Declarations and remittances, and what each employer owes and pays (assessed by the domain itself)."""
    law, declarations, remittances = load_law(), [], []
    owed: dict[str, int] = {e: 0 for e in employers}
    paid: dict[str, int] = {e: 0 for e in employers}
    for m, month in enumerate(MONTHS):
        for i, employer in enumerate(employers):
            month_total = 0
            for w in range(2):
                envelope = declaration(worker=f"{employer[1]}{i:04d}{w:05d}", employer=employer, period=month,
                                       salary=6_000_000 + 250_000 * ((i + w + m) % 7))
                declarations.append(envelope)
                command = declare_salary(SalaryDeclared(**envelope["payload"]), None, None)
                month_total += assess(law, command.declaration).total
            owed[employer] += month_total
            pattern = SHARES[i % 4]
            for p, tenths in enumerate(pattern[m % len(pattern)]):
                amount = month_total * tenths // 10
                paid[employer] += amount
                remittances.append(remittance(f"{employer}-{month}-{p}", amount, value_date=f"{month}-25",
                                              employer=employer))
    # Then every third employer lowers its first month's first worker: money already paid on it goes back to
    # credit while payments keep arriving.
    for employer in employers[::3]:
        first = next(d for d in declarations if d["payload"]["employer_code"] == employer)
        lowered = declaration(worker=first["payload"]["worker_code"], employer=employer, period=MONTHS[0],
                              salary=5_000_000, revision=1)
        declarations.append(lowered)
        owed[employer] += (assess(law, declare_salary(SalaryDeclared(**lowered["payload"]), None, None).declaration).total
                           - assess(law, declare_salary(SalaryDeclared(**first["payload"]), None, None).declaration).total)
    return declarations, remittances, owed, paid


async def wait_until(conn: asyncpg.Connection, query: str, expected, timeout: float = 120.0):
    await eventually_async(lambda: conn.fetchval(query), timeout, until=lambda seen: seen == expected,
                           what=f"{query!r} = {expected}")


async def test_declarations_and_payments_racing_for_the_same_employers_leave_no_unpaid_month_beside_credit(
        isolated):
    # Small batches: many short transactions on both consumers, so they interleave employer by employer.
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE, ANSINH_BATCH_SIZE="16",
                                     ANSINH_BATCH_WINDOW_S="0.01")
    conn = await asyncpg.connect(isolated.service("collection").service_database_url)
    owed, paid, assessed, received, unidentified = {}, {}, 0, 0, 0
    try:
        for wave, employers in enumerate(WAVES):
            declarations, remittances, wave_owed, wave_paid = payroll(employers)
            owed.update(wave_owed)
            paid.update(wave_paid)
            # Money nobody can be named for arrives in the middle of it all: it must end in suspense.
            strays = [new_envelope(CreditNotificationReceived(bank_bin="970436", document=CAMT054.format(
                amount=100_000 * (n + 1), ref=f"FT25UNID{wave}{n}", rmt="<Ustrd>chuyen tien</Ustrd>")),
                "bank-970436") for n in range(3)]
            remittances = remittances[:len(remittances) // 2] + strays + remittances[len(remittances) // 2:]
            await asyncio.gather(
                publish(isolated.bootstrap, isolated.topic("collection.declarations"),
                        [(e["payload"]["employer_code"].encode(), encode(e)) for e in declarations]),
                publish(isolated.bootstrap, isolated.topic("collection.remittances"),
                        [(e["payload"].get("employer_code", "?").encode(), encode(e)) for e in remittances]))
            revised = len(employers[::3])
            assessed += len(declarations) - revised
            received += len(remittances)
            unidentified += len(strays)
            await wait_until(conn, "SELECT count(*) FROM collection.assessments", assessed)
            await wait_until(conn, "SELECT count(*) FROM collection.assessments WHERE revision = 1",
                             revised * (wave + 1))
            await wait_until(conn, "SELECT count(*) FROM collection.remittances", received)
        assert await conn.fetchval("SELECT count(*) FROM collection.suspense") == unidentified

        both = await conn.fetch(
            """SELECT e.employer_code, e.credit FROM collection.employers e
               WHERE e.credit > 0 AND EXISTS (SELECT 1 FROM collection.obligations o
                                              WHERE o.employer_code = e.employer_code AND o.assessed > o.paid)""")
        assert [dict(r) for r in both] == []

        rows = await conn.fetch(
            """SELECT e.employer_code, e.credit,
                      (SELECT coalesce(sum(assessed), 0) FROM collection.obligations o
                       WHERE o.employer_code = e.employer_code) AS assessed,
                      (SELECT coalesce(sum(paid), 0) FROM collection.obligations o
                       WHERE o.employer_code = e.employer_code) AS paid,
                      (SELECT coalesce(sum(amount), 0) FROM collection.remittances r
                       WHERE r.employer_code = e.employer_code) AS received,
                      (SELECT coalesce(sum(remaining), 0) FROM collection.credit_lots l
                       WHERE l.employer_code = e.employer_code) AS lots
               FROM collection.employers e ORDER BY e.employer_code""")
        found = {r["employer_code"]: dict(r) for r in rows}
        assert sorted(found) == EMPLOYERS
        for employer in EMPLOYERS:
            r = found[employer]
            expected = {"assessed": owed[employer], "received": paid[employer],
                        "paid": min(owed[employer], paid[employer]), "credit": max(paid[employer] - owed[employer], 0)}
            assert {k: r[k] for k in expected} == expected, employer
            assert r["lots"] == r["credit"], employer
        # Every obligation's paid amount is exactly what its allocation rows say.
        mismatched = await conn.fetch(
            """SELECT o.employer_code, o.period, o.fund, o.paid, coalesce(sum(a.amount), 0) AS allocated
               FROM collection.obligations o LEFT JOIN collection.allocations a
                 ON (a.employer_code, a.period, a.fund) = (o.employer_code, o.period, o.fund)
               GROUP BY o.employer_code, o.period, o.fund, o.paid HAVING o.paid <> coalesce(sum(a.amount), 0)""")
        assert [dict(r) for r in mismatched] == []
        # Every payment's money is somewhere: still allocated, or in its credit lot.
        unaccounted = await conn.fetch(
            """SELECT r.payment_id, r.amount,
                      coalesce((SELECT sum(a.amount) FROM collection.allocations a WHERE a.payment_id = r.payment_id), 0)
                      + coalesce((SELECT sum(l.remaining) FROM collection.credit_lots l
                                  WHERE l.payment_id = r.payment_id), 0) AS accounted
               FROM collection.remittances r WHERE r.employer_code IS NOT NULL""")
        assert [dict(r) for r in unaccounted if r["accounted"] != r["amount"]] == []
        # Everything received = allocated + credit + suspense.
        totals = await conn.fetchrow(
            """SELECT (SELECT sum(amount) FROM collection.remittances) AS received,
                      (SELECT sum(amount) FROM collection.allocations) AS allocated,
                      (SELECT sum(credit) FROM collection.employers) AS credit,
                      (SELECT sum(r.amount) FROM collection.suspense s JOIN collection.remittances r USING (payment_id)
                       WHERE s.assigned_to IS NULL) AS suspense""")
        held = len(WAVES) * 600_000
        assert totals["received"] == sum(paid.values()) + held
        assert totals["received"] == totals["allocated"] + totals["credit"] + totals["suspense"]
        assert totals["suspense"] == held
    finally:
        await conn.close()

    # What an employer sees: no month shows an amount outstanding next to a credit balance.
    for employer in EMPLOYERS:
        status, body = service.get(f"/employers/{employer}/statement")
        assert status == 200
        statement = json.loads(body)
        assert not (statement["credit_balance"] > 0 and statement["totals"]["outstanding"] > 0), statement
