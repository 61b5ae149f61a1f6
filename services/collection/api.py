"""Collection's operator and reader views, declared once with their models and roles (ansinh.runtime.openapi).

The OpenAPI document is generated from these declarations; ``python -m services.collection.api`` refreshes
the copy in ``services/collection/openapi.json`` (a test fails when it is stale).
"""
from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ansinh.runtime import auth
from ansinh.runtime.openapi import Api, Call, write_document
from services.collection import http
from services.collection.commands import AssignReceipt
from services.collection.domain.errors import ReceiptNotFound

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
EMPLOYER_CODE = r"^[A-Z0-9]{2,15}$"
PaymentState = Literal["paid", "partially_paid", "unpaid"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FundAmounts(_Out):
    assessed: int
    paid: int
    outstanding: int


class StatementPeriod(FundAmounts):
    period: str
    due_date: date
    funds: dict[str, FundAmounts]


class EmployerStatement(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)
    employer_code: str
    first: str | None = Field(alias="from")
    last: str | None = Field(alias="to")
    periods: list[StatementPeriod]
    totals: FundAmounts
    credit_balance: int = Field(description="Money received and not yet applied to an obligation, VND")


class WorkerFund(_Out):
    amount: int
    employer_paid: PaymentState


class WorkerMonth(_Out):
    period: str
    employer_code: str
    revision: int
    declared_salary: int
    social_salary_base: int
    unemployment_salary_base: int
    due_date: date
    funds: dict[str, WorkerFund]
    fully_paid: bool


class WorkerHistory(_Out):
    worker_code: str
    months: list[WorkerMonth]
    unpaid_months: list[str] = Field(description="Months the employer has not fully paid")


class SuspenseReceipt(_Out):
    id: int
    payment_id: str
    bank_bin: str | None
    bank_reference: str
    amount: int
    value_date: date
    reason: str = Field(description="no_reference, unknown_unit_code_format, ambiguous_unit_code, sum_mismatch, "
                                    "fractional_amount, ..., unknown_employer")
    held_at: datetime
    assigned_to: str | None = None
    assigned_at: datetime | None = None


class SuspenseList(_Out):
    status: Literal["open", "assigned", "all"]
    count: int
    total_vnd: int
    receipts: list[SuspenseReceipt]


class Assignment(BaseModel):
    """Which employer an unidentified receipt belongs to, and why (the reason is audited)."""

    model_config = ConfigDict(extra="forbid")
    employer_code: str = Field(pattern=EMPLOYER_CODE, description="2-15 capital letters or digits")
    reason: str = Field(min_length=1, max_length=500, description="Why this receipt belongs to this employer")

    @field_validator("reason")
    @classmethod
    def check_reason_says_something(cls, reason: str) -> str:
        if "\x00" in reason or not reason.strip():
            raise ValueError("say why this receipt belongs to this employer (it is audited)")
        return reason.strip()


class Assigned(_Out):
    id: int
    payment_id: str
    employer_code: str
    amount: int
    value_date: date
    assigned_by: str
    allocated: int
    credit_balance: int


class WorkerPath(BaseModel):
    worker_code: str = Field(pattern=r"^[0-9]{10}$", description="10-digit social insurance code")


class EmployerPath(BaseModel):
    employer_code: str = Field(pattern=EMPLOYER_CODE)


class StatementQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    first: str | None = Field(None, alias="from", pattern=PERIOD, description="First period, YYYY-MM")
    last: str | None = Field(None, alias="to", pattern=PERIOD, description="Last period, YYYY-MM")


class SuspenseQuery(BaseModel):
    status: Literal["open", "assigned", "all"] = Field("open", description="Which receipts to list")


class ReceiptPath(BaseModel):
    # Any text: a receipt id that is not one is simply not found (404), like an unknown number.
    receipt_id: str = Field(max_length=40)


def assignment(receipt_id: str, body: Assignment) -> AssignReceipt:
    """The command for an operator's validated assignment; a receipt id that is not one is simply not found."""
    if not http.RECEIPT_ID.fullmatch(receipt_id):
        raise ReceiptNotFound(f"no unidentified receipt {receipt_id[:20]!r}")
    return AssignReceipt(int(receipt_id), body.employer_code, body.reason)


def build(runtime, handlers) -> Api:
    api = Api("ansinh collection", "1.1.0", runtime, errors=http.STATUS,
              description="Contributions assessed and paid, per employer and worker; unidentified receipts.")

    @api.get("/workers/{worker_code}/history", summary="A worker's months: salary, contributions, employer paid?",
             params=WorkerPath, response=WorkerHistory, roles=(auth.PERSONAL_DATA_READ,), tags=("workers",))
    async def worker_history(call: Call) -> WorkerHistory:
        """Personal data: only for tokens holding personal_data:read."""
        return WorkerHistory.model_validate(await http.worker_history(call.pool, call.params.worker_code))

    @api.get("/employers/{employer_code}/statement", params=EmployerPath, query=StatementQuery,
             summary="An employer's statement: assessed, paid and outstanding per period and fund, and its credit",
             response=EmployerStatement, tags=("employers",))
    async def employer_statement(call: Call) -> EmployerStatement:
        statement = await http.employer_statement(call.pool, call.params.employer_code, call.query.first,
                                                  call.query.last)
        return EmployerStatement.model_validate(statement)

    @api.get("/suspense", summary="Unidentified receipts: money no employer could be named for", query=SuspenseQuery,
             response=SuspenseList, roles=(auth.SUSPENSE_READ,), tags=("suspense",))
    async def suspense(call: Call) -> SuspenseList:
        status = call.query.status
        receipts = await handlers.suspense_list(http.SUSPENSE_STATUS[status])
        return SuspenseList.model_validate(http.suspense_list(receipts, status))

    @api.post("/suspense/{receipt_id}/assign", summary="Assign an unidentified receipt to an employer (audited)",
              params=ReceiptPath, body=Assignment, response=Assigned, roles=(auth.SUSPENSE_ASSIGN,),
              tags=("suspense",))
    async def assign_receipt(call: Call) -> Assigned:
        """Allocated as the employer's payment with its original payment id and value date, in one transaction
        with the audit row (who, when, why)."""
        command = assignment(call.params.receipt_id, call.body)
        return Assigned.model_validate(await handlers.assign_receipt(call.principal, command))

    return api


def main() -> None:
    """Refresh the copy of the generated document kept in the repository."""
    api = build(runtime=None, handlers=None)
    write_document(api, Path(sys.argv[1]) if len(sys.argv) > 1 else http.OPENAPI)


if __name__ == "__main__":
    main()
