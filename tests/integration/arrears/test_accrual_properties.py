"""The rule lives in two places: the pure day-by-day function (domain/interest.py) and the closed-form SQL of
the run (repository.ACCRUE_CHUNK). Hypothesis draws debts and payment histories (around 2025-07-01, both
rules, the 30-day threshold, payments before, on and after the due date, beyond the run date, backdated ones
arriving after a first run) and both must give the same interest, per rule, to the dong, on the real
PostgreSQL. Each example runs in a transaction that is rolled back."""
from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from hypothesis import HealthCheck, given, settings, strategies as st

from services.arrears import repository as repo
from services.arrears.accrual import BEFORE_EVERYTHING, rule_arrays
from services.arrears.domain.interest import Debt, interest
from tests.integration.arrears.accrual_world import LAW, arrears_pool, charged  # noqa: F401

RULES = rule_arrays(LAW)
DUES = [date(2024, 12, 31), date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30), date(2025, 8, 31),
        date(2028, 1, 31)]

payment = st.tuples(st.integers(-40, 200), st.integers(0, 5_000_000_000))
history = st.fixed_dictionaries({
    "due": st.sampled_from(DUES),
    "principal": st.integers(-1_000_000, 20_000_000_000),
    "paid": st.lists(payment, max_size=5),
    "late": st.lists(payment, max_size=3),         # reported after the first run (often backdated)
    "first_run": st.integers(0, 150),               # days after the due date
    "steady_days": st.integers(1, 40),              # a run this many days before the first one
    "second_run": st.integers(1, 60),               # days after the first run
})


async def accrue(conn, day: date, previous: date) -> None:
    run = await repo.start_run(conn, day, uuid4(), 1, previous)
    await repo.accrue_chunk(conn, day, 0, 1, RULES, run["run_id"], "2026-01-01T00:00:00+00:00", previous)
    await conn.execute("UPDATE arrears.accrual_runs SET finished_at = now() WHERE business_date = $1", day)


async def record(conn, due: date, payments) -> None:
    rows = [("DN0001", date(2000, 1, 1), "health", due + timedelta(days=o), a) for o, a in payments]
    await repo.add_payments(conn, rows)


def by_rule(segments) -> dict[str, int]:
    return {k: s.amount for k, s in segments.items() if s.amount}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=history)
async def test_the_sql_run_and_the_pure_rule_agree_to_the_dong(arrears_pool, h):
    due, d1 = h["due"], h["due"] + timedelta(days=h["first_run"])
    d0 = d1 - timedelta(days=h["steady_days"])
    d2 = d1 + timedelta(days=h["second_run"])
    known = tuple((due + timedelta(days=o), a) for o, a in h["paid"])
    later = known + tuple((due + timedelta(days=o), a) for o, a in h["late"])
    before, after = Debt(due, h["principal"], known), Debt(due, h["principal"], later)
    async with arrears_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await repo.add_principal(conn, [("DN0001", date(2000, 1, 1), "health", due, h["principal"])])
            await record(conn, due, h["paid"])
            await accrue(conn, d0, BEFORE_EVERYTHING)
            await accrue(conn, d1, d0)  # nothing changed since d0: the steady path
            assert await stored(conn) == by_rule(interest(LAW, before, d1))
            await record(conn, due, h["late"])
            await accrue(conn, d2, d1)
            assert await stored(conn) == by_rule(interest(LAW, after, d2))
            postings = await posted(conn, d2)
            # Days already accrued: recomputed as if the late payments had been known, the difference posted.
            old_new = by_rule(interest(LAW, after, d1)), by_rule(interest(LAW, before, d1))
            corrections = {r: old_new[0].get(r, 0) - old_new[1].get(r, 0) for r in set(old_new[0]) | set(old_new[1])}
            assert postings.get("corrected", {}) == {r: a for r, a in corrections.items() if a}
            fresh = interest(LAW, after, d2, after=d1)
            assert postings.get("assessed", {}) == {r: (s.from_day, s.to_day, s.amount)
                                                     for r, s in fresh.items() if s.amount}
        finally:
            await tx.rollback()


async def stored(conn) -> dict[str, int]:
    """Interest charged so far, per rule: the postings of every run, corrections included."""
    return await charged(conn, "DN0001", "2000-01")


async def posted(conn, day: date) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for r in await conn.fetch("SELECT * FROM arrears.interest_postings WHERE business_date = $1", day):
        found.setdefault(r["kind"], {})[r["rule_id"]] = (
            r["amount"] if r["kind"] == "corrected" else (r["from_day"], r["to_day"], r["amount"]))
    return found
