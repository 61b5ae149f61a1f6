"""HTTP (JSON) views of the bank side, declared on the payments Api (OpenAPI generated from them):

* ``GET /runs/{period}/reconciliation`` (payments:read): the run's payments sent, settled, rejected, outstanding;
* ``GET /runs/{period}/batches`` (payments:read): the run's pain.001 parts per bank, each reconciled;
* ``GET /batches/{message_id}`` (payments:read): one pain.001 part with its items, their states and statuses;
* ``GET /flags`` (payments:read + personal_data:read): fraud signals waiting for review (beneficiary codes);
* ``POST /flags/{flag_id}/review`` (payments:approve + personal_data:read): mark one reviewed, audited.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from ansinh.runtime import auth
from ansinh.runtime.openapi import Api, Call
from services.payments import fraud, reconcile
from services.payments.domain.errors import PaymentsError

PAYMENTS_READ = "payments:read"
PERIOD_PATTERN = r"^(199[5-9]|20[0-9]{2})-(0[1-9]|1[0-2])$"


PAYMENTS_APPROVE = "payments:approve"


class NotFound(PaymentsError):
    code = "not_found"


class AlreadyReviewed(PaymentsError):
    code = "already_reviewed"


ERRORS = {NotFound: 404, AlreadyReviewed: 409}


class RunParams(BaseModel):
    period: str = Field(pattern=PERIOD_PATTERN, description="The month paid, YYYY-MM")


class BatchParams(BaseModel):
    message_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,35}$", description="The pain.001 GrpHdr/MsgId")


class FlagParams(BaseModel):
    flag_id: int = Field(ge=1, le=2**62, description="The flag's id (GET /flags)")


class ReviewRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]*$",
                        description="What the review found (audited)")


class FlagQuery(BaseModel):
    signal: fraud.SignalName | None = Field(None, description="Only this signal")
    limit: int = Field(200, ge=1, le=5000)


class Tally(BaseModel):
    count: int
    amount: int = Field(description="VND")


class Reconciliation(BaseModel):
    scope: str
    subject: str
    sent: Tally
    settled: Tally
    rejected: Tally
    outstanding: Tally
    declared: Tally | None
    adds_up: bool
    mismatches: list[str]


class BatchItem(BaseModel):
    end_to_end_id: str
    payment_id: str
    attempt: int
    amount: int
    state: str
    reason_code: str | None
    last_status: str | None = Field(description="The bank's last status for this attempt (ACTC, ACSC, RJCT...)")


class BatchView(BaseModel):
    message_id: str
    bank_bin: str
    run_period: str | None
    part: int
    parts: int
    number_of_transactions: int
    control_sum: int
    items: list[BatchItem]
    reconciliation: Reconciliation


class BatchSummary(BaseModel):
    message_id: str
    bank_bin: str
    part: int
    parts: int
    reconciliation: Reconciliation


class FlagView(BaseModel):
    id: int
    signal: str
    beneficiary_code: str
    payment_id: str | None
    award_id: str | None
    period: str | None
    amount: int | None
    detail: str
    flagged_at: str


class BatchList(BaseModel):
    period: str
    batches: list[BatchSummary]


class FlagList(BaseModel):
    flags: list[FlagView]


class Reviewed(BaseModel):
    id: int
    reviewed_by: str
    reviewed_at: str


def declare(api: Api) -> None:
    api.errors.update(ERRORS)

    @api.get("/runs/{period}/reconciliation", summary="A run's payments: sent, settled, rejected, outstanding",
             params=RunParams, response=Reconciliation, roles=(PAYMENTS_READ,), tags=("reconciliation",))
    async def run_reconciliation(call: Call) -> Reconciliation:
        async with call.pool.acquire() as conn:
            result = await reconcile.reconcile_run(conn, _period(call.params.period))
        if result is None:
            raise NotFound(f"no payment run for {call.params.period}")
        return Reconciliation(**result.as_dict())

    @api.get("/runs/{period}/batches", summary="A run's pain.001 parts per bank, each reconciled",
             params=RunParams, response=BatchList, roles=(PAYMENTS_READ,), tags=("reconciliation",))
    async def run_batches(call: Call) -> BatchList:
        async with call.pool.acquire() as conn:
            rows = await conn.fetch("SELECT message_id, bank_bin, part, parts FROM bank_batches WHERE run_period = $1 "
                                    "ORDER BY bank_bin, part", _period(call.params.period))
            out = []
            for r in rows:
                result = await reconcile.reconcile_batch(conn, r["message_id"])
                out.append(BatchSummary(**dict(r), reconciliation=Reconciliation(**result.as_dict())))
        return BatchList(period=call.params.period, batches=out)

    @api.get("/batches/{message_id}", summary="A bank batch (pain.001 part): its items, statuses, reconciliation",
             params=BatchParams, response=BatchView, roles=(PAYMENTS_READ,), tags=("reconciliation",))
    async def batch(call: Call) -> BatchView:
        async with call.pool.acquire() as conn:
            view = await reconcile.batch_view(conn, call.params.message_id)
        if view is None:
            raise NotFound("no pain.001 message with this id was sent")
        return BatchView(**view)

    @api.get("/flags", summary="Fraud signals waiting for review", query=FlagQuery, response=FlagList,
             roles=(PAYMENTS_READ, auth.PERSONAL_DATA_READ), tags=("fraud",))
    async def flags(call: Call) -> FlagList:
        async with call.pool.acquire() as conn:
            rows = await fraud.open_flags(conn, call.query.signal, call.query.limit)
        return FlagList(flags=[FlagView(**{**dict(r), "period": f"{r['period']:%Y-%m}" if r["period"] else None,
                                           "flagged_at": r["flagged_at"].isoformat()}) for r in rows])


    @api.post("/flags/{flag_id}/review", summary="Mark a fraud signal reviewed (audited)", params=FlagParams,
              body=ReviewRequest, response=Reviewed, roles=(PAYMENTS_APPROVE, auth.PERSONAL_DATA_READ),
              tags=("fraud",))
    async def review_flag(call: Call) -> Reviewed:
        async with call.pool.acquire() as conn, conn.transaction():
            row = await fraud.review(conn, call.params.flag_id, call.principal.name)
            if row is None:
                exists = await conn.fetchval("SELECT true FROM flags WHERE id = $1", call.params.flag_id)
                raise (AlreadyReviewed("this flag was reviewed already") if exists else NotFound("no such flag"))
            await auth.audit(conn, "payments", call.principal, "payments.flag_review", str(call.params.flag_id),
                             call.body.reason, {"signal": row["signal"]})
        return Reviewed(id=row["id"], reviewed_by=row["reviewed_by"], reviewed_at=row["reviewed_at"].isoformat())


def _period(text: str):
    from datetime import date
    year, month = text.split("-")
    return date(int(year), int(month), 1)
