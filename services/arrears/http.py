"""Arrears' operator views, declared once with their models and roles (ansinh.runtime.openapi).

* ``GET /employers/{employer_code}/arrears?as_of=``: an employer's arrears statement as of any date;
* ``GET /overdue?days=&as_of=&format=json|csv``: employers late more than N days, largest amount first (the
  agency's public list);
* ``GET /late-payment-ratio?as_of=``: overdue principal over the principal due in the last 12 months;
* ``GET /runs``: the latest daily runs; ``POST /runs``: run the daily run for a date (role ``arrears:run``,
  audited).

Reading needs ``arrears:read``. ``python -m services.arrears.http`` refreshes ``services/arrears/openapi.json``
(a test fails when it is stale).
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from ansinh.runtime import auth
from ansinh.runtime.openapi import Api, Call, Text, write_document
from services.arrears import reports
from services.arrears.domain.errors import ArrearsError, RunDateRefused

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
ARREARS_READ = "arrears:read"
ARREARS_RUN = "arrears:run"
EMPLOYER_CODE = r"^[A-Z0-9]{2,15}$"
MAX_LIST = 100_000


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Segment(_Out):
    rule: str = Field(description="Id of the interest rule (law.json)")
    from_day: date
    to_day: date
    amount: int


class FundArrears(_Out):
    principal: int
    paid: int = Field(description="Payments with a value date up to as_of, VND")
    unpaid: int
    days_late: int = Field(description="Days after the due date it is unpaid on as_of (or was, until paid up)")
    interest: int = Field(description="Interest for the days up to as_of, by the rule in force each day")
    interest_segments: list[Segment]


class PeriodArrears(_Out):
    period: str
    due_date: date
    funds: dict[str, FundArrears]
    principal: int
    paid: int
    unpaid: int
    interest: int
    days_late: int


class Totals(_Out):
    principal: int
    paid: int
    unpaid: int
    interest: int


class InterestAccount(_Out):
    charged: int = Field(description="Interest charged by the daily runs up to as_of (assessed and corrected)")
    paid: int = Field(description="Allocated by collection to fund 'interest', value dates up to as_of")
    outstanding: int


class ArrearsStatement(_Out):
    employer_code: str
    as_of: date
    periods: list[PeriodArrears]
    totals: Totals
    interest_account: InterestAccount
    total_due: int = Field(description="Unpaid principal plus outstanding interest, VND")


class EmployerPath(BaseModel):
    employer_code: str = Field(pattern=EMPLOYER_CODE, description="Employer unit code")


class AsOfQuery(BaseModel):
    as_of: date | None = Field(None, description="Business date (default: today in Asia/Ho_Chi_Minh)")


class OverdueQuery(AsOfQuery):
    days: int = Field(30, ge=0, le=36_500, description="Late more than this many days")
    limit: int = Field(1000, ge=1, le=MAX_LIST, description="At most this many employers")
    format: Literal["json", "csv"] = Field("json", description="csv: the public list as a file")


class OverdueEmployer(_Out):
    employer_code: str
    overdue_principal: int
    days_late: int = Field(description="Days since the due date of its oldest unpaid period")
    periods: int = Field(description="Periods with principal unpaid more than `days` after their due date")
    oldest_period: str


class OverdueList(_Out):
    as_of: date
    min_days: int
    count: int
    total_overdue_principal: int
    employers: list[OverdueEmployer]


class LatePaymentRatio(_Out):
    as_of: date
    overdue_principal: int
    principal_due_in_year: int
    year_from: date
    ratio: float
    target: float
    above_target: bool


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    business_date: date = Field(description="The business date to accrue up to (Asia/Ho_Chi_Minh)")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="Why (audited)")


class AccrualFigures(_Out):
    debts: int
    employers: int
    assessed_vnd: int
    corrected_vnd: int
    chunks_done: int
    already_done: bool
    seconds: float


class RunAnswer(_Out):
    business_date: date
    trigger: str
    accrual: AccrualFigures
    status_events: dict[str, int]
    worker_notices: int
    seconds: float


class RunRow(_Out):
    business_date: date
    trigger: str
    started_at: str
    finished_at: str
    accrual_rows: int
    status_events: int
    worker_notices: int
    runs: int


class RunList(_Out):
    runs: list[RunRow]


ERRORS = {RunDateRefused: 409, ArrearsError: 422}


def build(runtime, law, today: Callable[[], date], run_day) -> Api:
    """The views; ``run_day(pool, business_date, trigger, today=...)`` is the scheduler's daily run."""
    api = Api("ansinh arrears", "1.0.0", runtime, errors=ERRORS,
              description="Overdue contributions, late-payment interest, suspected evasion: views and the daily run.")

    @api.get("/employers/{employer_code}/arrears", params=EmployerPath, query=AsOfQuery, response=ArrearsStatement,
             summary="An employer's arrears as of a date: principal, paid, days late, interest by rule segment",
             roles=(ARREARS_READ,), tags=("arrears",))
    async def arrears_statement(call: Call) -> ArrearsStatement:
        async with call.pool.acquire() as conn:
            found = await reports.statement(conn, law, call.params.employer_code, call.query.as_of or today())
        return ArrearsStatement.model_validate(found)

    @api.get("/overdue", query=OverdueQuery, response=OverdueList, alternatives={"text/csv": "the list as CSV"},
             summary="Employers late more than N days, largest overdue principal first (JSON or CSV)",
             roles=(ARREARS_READ,), tags=("arrears",))
    async def overdue(call: Call):
        q = call.query
        as_of = q.as_of or today()
        async with call.pool.acquire() as conn:
            rows = await reports.overdue_employers(conn, as_of, q.days, q.limit)
        if q.format == "csv":
            return Text(reports.overdue_csv(rows), "text/csv", f"overdue-{as_of.isoformat()}-{q.days}d.csv")
        return OverdueList(as_of=as_of, min_days=q.days, count=len(rows),
                           total_overdue_principal=sum(r["overdue_principal"] for r in rows),
                           employers=[OverdueEmployer(**r) for r in rows])

    @api.get("/late-payment-ratio", query=AsOfQuery, response=LatePaymentRatio,
             summary="Overdue principal over the principal due in the 12 months to a date (target below 2.69%)",
             roles=(ARREARS_READ,), tags=("arrears",))
    async def late_payment_ratio(call: Call) -> LatePaymentRatio:
        async with call.pool.acquire() as conn:
            return LatePaymentRatio.model_validate(await reports.late_payment_ratio(conn, call.query.as_of or today()))

    @api.get("/runs", response=RunList, summary="The latest daily runs", roles=(ARREARS_READ,), tags=("runs",))
    async def list_runs(call: Call) -> RunList:
        async with call.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM arrears.runs ORDER BY business_date DESC LIMIT 60")
        return RunList(runs=[RunRow(**{**dict(r), "started_at": r["started_at"].isoformat(),
                                       "finished_at": r["finished_at"].isoformat()}) for r in rows])

    @api.post("/runs", body=RunRequest, response=RunAnswer, roles=(ARREARS_RUN,), tags=("runs",),
              summary="Run the daily run (accrual, status events, workers' notices) for a business date (audited)")
    async def run_accrual(call: Call) -> RunAnswer:
        """Idempotent per date: a finished date returns its figures and emits nothing twice. The request is
        audited (who, which date, why) before the run starts, so a run that fails is attributed too."""
        body = call.body
        async with call.pool.acquire() as conn, conn.transaction():
            await auth.audit(conn, "arrears", call.principal, "run_daily", body.business_date.isoformat(),
                             body.reason.strip())
        done = await run_day(call.pool, body.business_date, "http", today=today())
        return RunAnswer.model_validate(done.as_json())

    return api


def main() -> None:
    """Refresh the copy of the generated document kept in the repository."""
    api = build(runtime=None, law=None, today=date.today, run_day=None)
    write_document(api, Path(sys.argv[1]) if len(sys.argv) > 1 else OPENAPI)


if __name__ == "__main__":
    main()
