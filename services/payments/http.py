"""HTTP (JSON) views of payments, declared with their models and roles; the OpenAPI document is generated from
them (ansinh/runtime/openapi.py) and a copy kept in services/payments/openapi.json.

* ``POST /runs/{period}/prepare`` (payments:prepare): open the run and prepare it in the background (202);
* ``POST /runs/{period}/approve`` (payments:approve): maker-checker approval, then the orders go out;
* ``GET /runs/{period}`` (payments:read): state, progress, totals and the difference from last month;
* ``GET /beneficiaries/{beneficiary_code}/payments`` (payments:read + personal_data:read): one person's history.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ansinh.runtime import auth
from ansinh.runtime.openapi import Api, Call, write_document
from services.payments import repository as repo
from services.payments.domain.calendar import CalendarNotCovered
from services.payments.domain.errors import (InvalidPeriod, PreparerCannotApprove, RunAlreadyApproved, RunChanged,
                                             RunNotFound, RunNotPrepared)
from services.payments.domain.model import parse_period, period_text

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
PAYMENTS_PREPARE, PAYMENTS_APPROVE, PAYMENTS_READ = "payments:prepare", "payments:approve", "payments:read"
PERIOD_PATTERN = r"^(199[5-9]|20[0-9]{2})-(0[1-9]|1[0-2])$"
# The status of each refusal (anything else is a 500 that says nothing).
ERRORS = {InvalidPeriod: 400, RunNotFound: 404, PreparerCannotApprove: 403, RunNotPrepared: 409,
          RunAlreadyApproved: 409, RunChanged: 409, CalendarNotCovered: 422}


class RunParams(BaseModel):
    period: str = Field(pattern=PERIOD_PATTERN, description="The month paid, YYYY-MM")


class PrepareRequest(BaseModel):
    reason: str = Field("monthly run", min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]*$",
                        description="Why (audited)")


class ApproveRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]*$",
                        description="Why the run may go out (audited)")
    expected_payments: int | None = Field(None, ge=0, description="The count the approver saw; refused if different")
    expected_amount: int | None = Field(None, ge=0, description="The VND total the approver saw; refused if different")


class Progress(BaseModel):
    phase: Literal["prepare", "send"] | None = None
    done: int | None = None
    total: int | None = None


class StateCount(BaseModel):
    channel: str
    state: str
    count: int
    amount: int


class RunView(BaseModel):
    period: str
    state: Literal["preparing", "prepared", "approved", "sending", "sent"]
    preparers: list[str]
    prepared_at: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    execution_date: str | None = None
    progress: Progress
    entitlements_examined: int
    payments: int = Field(description="Payments in the run (as prepared)")
    amount: int = Field(description="Their total, VND")
    sent: int
    started_at: str | None = None
    finished_at: str | None = None
    summary: dict[str, Any] | None = Field(None, description="Totals by channel, bank and benefit type, and the "
                                                            "difference from last month's run with its reasons")
    by_state: list[StateCount]


class BeneficiaryParams(BaseModel):
    beneficiary_code: str = Field(pattern=r"^[0-9]{10}$", description="10-digit social insurance code")


class AwardView(BaseModel):
    award_id: str
    benefit_type: str
    amount: int
    recurrence: str
    first_period: str
    last_period: str | None
    status: str
    status_from: str
    channel: str


class PaymentView(BaseModel):
    payment_id: str
    award_id: str
    period: str
    run_period: str
    benefit_type: str
    amount: int
    channel: str
    bank_bin: str | None
    paying_office: str | None
    state: str
    attempt: int
    reason_code: str | None
    sent_at: str | None


class PaymentHistory(BaseModel):
    beneficiary_code: str
    awards: list[AwardView]
    payments: list[PaymentView]


def build_api(runtime, runs, tasks) -> Api:
    api = Api("payments", "1.0.0", runtime, errors=ERRORS,
              description="Payment runs (prepare, approve: maker-checker), their progress, a beneficiary's payments.")
    declare(api, runs, tasks)
    return api


def service_api(runtime, runs, tasks) -> Api:
    """Every view of the service: the runs and history here, the bank side's (reconciliation, batches, flags)."""
    from services.payments import bank_http  # imports this module's neighbours only; kept out of the import time

    api = build_api(runtime, runs, tasks)
    bank_http.declare(api)
    return api


def write_openapi() -> None:
    """``python -m services.payments.http``: refresh the copy of the document kept in the package."""
    write_document(service_api(None, None, None), OPENAPI)


def declare(api: Api, runs, tasks) -> None:
    """Declare the views on ``api``; ``runs`` does the work, ``tasks`` runs preparations and sending in the
    background (a run of millions of rows outlives an HTTP request)."""

    @api.post("/runs/{period}/prepare", summary="Prepare the payment run of a month (in the background)",
              params=RunParams, body=PrepareRequest, response=RunView, roles=(PAYMENTS_PREPARE,), tags=("runs",),
              status=202)
    async def prepare_run(call: Call) -> RunView:
        period = parse_period(call.params.period)
        await runs.start_preparation(call.principal, period, call.body.reason)
        tasks.prepare(call.principal, period)
        return RunView(**await runs.view(period))

    @api.post("/runs/{period}/approve", summary="Approve a prepared run (not by its preparer); its orders go out",
              params=RunParams, body=ApproveRequest, response=RunView, roles=(PAYMENTS_APPROVE,), tags=("runs",))
    async def approve_run(call: Call) -> RunView:
        period, body = parse_period(call.params.period), call.body
        expected = None
        if body.expected_payments is not None or body.expected_amount is not None:
            expected = (body.expected_payments, body.expected_amount)
        view = await runs.approve(call.principal, period, body.reason, expected)
        tasks.send(period)
        return RunView(**view)

    @api.get("/runs/{period}", summary="A run: state, progress, totals, difference from last month",
             params=RunParams, response=RunView, roles=(PAYMENTS_READ,), tags=("runs",))
    async def run_summary(call: Call) -> RunView:
        return RunView(**await runs.view(parse_period(call.params.period)))

    @api.get("/beneficiaries/{beneficiary_code}/payments", summary="A beneficiary's awards and payments",
             params=BeneficiaryParams, response=PaymentHistory, roles=(PAYMENTS_READ, auth.PERSONAL_DATA_READ),
             tags=("beneficiaries",))
    async def payment_history(call: Call) -> PaymentHistory:
        code = call.params.beneficiary_code
        async with call.pool.acquire() as conn:
            awards, payments = await repo.beneficiary_awards(conn, code), await repo.beneficiary_payments(conn, code)
        return PaymentHistory(beneficiary_code=code, awards=[_award(a) for a in awards],
                              payments=[_payment(p) for p in payments])


def _award(r) -> AwardView:
    return AwardView(award_id=r["award_id"], benefit_type=r["benefit_type"], amount=r["amount"],
                     recurrence=r["recurrence"], first_period=period_text(r["first_period"]),
                     last_period=period_text(r["last_period"]) if r["last_period"] else None, status=r["status"],
                     status_from=period_text(r["status_from"]), channel=r["channel"])


def _payment(r) -> PaymentView:
    return PaymentView(payment_id=r["payment_id"], award_id=r["award_id"], period=period_text(r["period"]),
                       run_period=period_text(r["run_period"]), benefit_type=r["benefit_type"], amount=r["amount"],
                       channel=r["channel"], bank_bin=r["bank_bin"], paying_office=r["paying_office"],
                       state=r["state"], attempt=r["attempt"], reason_code=r["reason_code"],
                       sent_at=r["sent_at"].isoformat() if r["sent_at"] else None)


if __name__ == "__main__":
    write_openapi()
