"""Messages of contribution collection: declarations and remittances in, assessments and allocations out."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (DOCUMENT_CONTROL, BankBin, CitizenId, Date, EmployerCode, Identifier, InsuranceCode,
                          Message, Name, Part, Period, PositiveVnd, Revision, SignedVnd, TaxCode, TotalVnd, Vnd,
                          bounded_int, text)

Fund = Literal["sickness_maternity", "accident", "retirement", "health", "unemployment"]
Party = Literal["employer", "employee"]
LINES_PER_ASSESSMENT = 10  # one per fund and party: 5 funds x 2 parties
# One per month and fund or interest: 1260 months (1995-01 to 2099-12) x 6 is below it.
LINES_PER_ALLOCATION = 10_000


class SalaryDeclared(Message):
    """One employee's contribution salary for one month, from an employer's payroll system.

    A later ``revision`` for the same employer, worker and period supersedes the earlier one.
    """

    event_type = "SalaryDeclared"
    employer_code: EmployerCode
    employer_tax_code: TaxCode
    region: Annotated[bounded_int(1, 4), Field(description="Minimum-wage region I-IV as 1-4")]
    reduced_accident_rate: bool = Field(
        default=False, description="Employer approved for the reduced occupational accident rate")
    period: Period
    worker_code: InsuranceCode
    worker_name: Name
    citizen_id: CitizenId
    contribution_salary: Vnd
    funds: Annotated[list[Fund], Field(min_length=1, max_length=5,
                                       description="Funds the worker participates in")]
    revision: Revision


class RemittanceReceived(Message):
    """An employer's payment as the bank reported it."""

    event_type = "RemittanceReceived"
    payment_id: Identifier
    employer_code: EmployerCode
    amount: Annotated[PositiveVnd, Field(description="Amount received, VND")]
    currency: Literal["VND"] = "VND"
    value_date: Date
    bank_reference: text(140)
    bank_bin: BankBin | None = None


class CreditNotificationReceived(Message):
    """An ISO 20022 camt.054 bank-to-customer debit/credit notification, as the bank sent it."""

    event_type = "CreditNotificationReceived"
    bank_bin: BankBin
    document: text(900_000, forbidden=DOCUMENT_CONTROL, description="camt.054 XML document")


class AmountLine(Part):
    fund: Fund
    party: Party
    amount: SignedVnd


class ContributionAssessed(Message):
    """What an employer owes for one worker and month, per fund and party."""

    event_type = "ContributionAssessed"
    employer_code: EmployerCode
    worker_code: InsuranceCode
    worker_name: Name
    period: Period
    revision: Revision
    due_date: Date
    declared_salary: Vnd
    social_salary_base: Vnd = Field(description="Salary the social and health funds were assessed on")
    unemployment_salary_base: Vnd = Field(description="Salary the unemployment fund was assessed on")
    floor_applied: bool
    cap_applied: bool
    lines: Annotated[list[AmountLine], Field(max_length=LINES_PER_ASSESSMENT)]
    total: Vnd


class ContributionAdjusted(Message):
    """A later revision changed an assessment: ``lines`` are the differences (up or down)."""

    event_type = "ContributionAdjusted"
    employer_code: EmployerCode
    worker_code: InsuranceCode
    period: Period
    revision: Revision
    previous_revision: Revision
    due_date: Date
    declared_salary: Vnd
    lines: Annotated[list[AmountLine], Field(max_length=LINES_PER_ASSESSMENT)]
    total_delta: SignedVnd


class UnderDeclarationFlagged(Message):
    """A declared salary below the regional minimum wage: assessed on the floor, flagged for inspectors."""

    event_type = "UnderDeclarationFlagged"
    employer_code: EmployerCode
    worker_code: InsuranceCode
    period: Period
    revision: Revision
    declared_salary: Vnd
    floor: Vnd


class AllocationLine(Part):
    period: Period
    fund: Fund | Literal["interest"]
    amount: Vnd


class RemittanceAllocated(Message):
    """How a payment (or the employer's credit) was applied to open obligations."""

    event_type = "RemittanceAllocated"
    payment_id: Identifier
    employer_code: EmployerCode
    value_date: Date
    amount: Vnd
    lines: Annotated[list[AllocationLine], Field(max_length=LINES_PER_ALLOCATION)]
    credit_balance: Annotated[TotalVnd, Field(description="Employer's unapplied credit after this allocation")]
