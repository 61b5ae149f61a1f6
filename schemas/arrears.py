"""Messages of the arrears service, published on the internal topic ``arrears.events`` (keyed by employer code).

Status events (``EmployerOverdue``, ``ArrearsCleared``, ``EvasionSuspected``) and the workers' notice
(``WorkerContributionsUnpaid``) are each emitted once per employer and period (per worker and month for the
notice) by the daily run; interest events (``InterestAssessed``, ``InterestCorrected``) per employer and run.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (Date, EmployerCode, Identifier, InsuranceCode, Message, Part, Period, SignedVnd,
                          TotalVnd, bounded_int)

# 1995-01 to 2099-12 is 1260 months: no list of months can be longer.
MAX_MONTHS = 1260
# Workers of one employer and period flagged for an under-declared salary (the largest employers have ~100,000).
MAX_WORKERS = 10_000_000


class EmployerOverdue(Message):
    """An employer fell behind for a period: principal still unpaid the day after its due date (sent once)."""

    event_type = "EmployerOverdue"
    employer_code: EmployerCode
    period: Period
    due_date: Date
    first_day_late: Date = Field(description="The day after the due date: the first day interest can accrue")
    unpaid_principal: Annotated[TotalVnd, Field(
        description="Principal of the period unpaid on as_of (payments with a value date up to as_of)")]
    as_of: Date = Field(description="Business date of the run that found it (Asia/Ho_Chi_Minh)")


class ArrearsCleared(Message):
    """An employer that was overdue for a period has paid its principal up (sent once per overdue period)."""

    event_type = "ArrearsCleared"
    employer_code: EmployerCode
    period: Period
    due_date: Date
    paid_up_on: Date = Field(description="Value date of the payment that brought the unpaid principal to zero")
    days_late: Annotated[bounded_int(0, 100_000), Field(
        description="Days from the due date to paid_up_on (1: paid the day after the due date; 0: a backdated "
                    "payment showed it was paid on time after all)")]
    as_of: Date = Field(description="Business date of the run that found it (Asia/Ho_Chi_Minh)")


class EvasionSuspected(Message):
    """A suspicion of evasion (tron dong) for inspectors, once per employer, period and reason.

    ``unpaid_60_days``: principal still unpaid 60 days after the due date (Law 41/2024 Art. 39);
    ``under_declaration``: salaries declared below the regional minimum wage and not corrected by then.
    """

    event_type = "EvasionSuspected"
    employer_code: EmployerCode
    period: Period
    reason: Literal["unpaid_60_days", "under_declaration"]
    due_date: Date
    unpaid_principal: Annotated[TotalVnd, Field(description="Principal of the period unpaid on as_of")]
    under_declared_workers: Annotated[bounded_int(0, MAX_WORKERS), Field(
        description="Workers whose latest declaration for the period is still below the floor")]
    as_of: Date = Field(description="Business date of the run that found it (Asia/Ho_Chi_Minh)")


class WorkerContributionsUnpaid(Message):
    """A worker's employer owes contributions for these months (only the months newly unpaid since the last
    notice for this worker and employer; each month is named once).

    The worker keeps their rights; notifications tell them.
    """

    event_type = "WorkerContributionsUnpaid"
    worker_code: Annotated[InsuranceCode, Field(description="The worker's social insurance (participant) code")]
    employer_code: EmployerCode
    periods: Annotated[list[Period], Field(min_length=1, max_length=MAX_MONTHS,
                                           description="Months newly found unpaid, YYYY-MM, oldest first")]
    as_of: Date = Field(description="Business date of the run that found them (Asia/Ho_Chi_Minh)")


# Interest lines of one event: periods x rule segments of one employer (1260 months x a few rules at most).
MAX_INTEREST_LINES = 10_000


class InterestLine(Part):
    """Interest of one period under one rule segment (all funds of the period together)."""

    period: Period
    rule: Annotated[Identifier, Field(description="Id of the interest rule in arrears' law tables, e.g. law41-art40")]
    from_day: Date = Field(description="First day of the segment")
    to_day: Date = Field(description="Last day of the segment (inclusive)")
    amount: SignedVnd


class InterestAssessed(Message):
    """Late-payment interest charged by one accrual run for days not charged before (one per employer and run).

    Each day is charged on the principal unpaid at the end of that day, under the rule in force that day,
    rounded half up to the dong per day (docs/arrears.md#rules). Line amounts are positive.
    """

    event_type = "InterestAssessed"
    employer_code: EmployerCode
    business_date: Date = Field(description="Business date of the run (Asia/Ho_Chi_Minh); days up to it are charged")
    amount: Annotated[TotalVnd, Field(description="Sum of the lines")]
    lines: Annotated[list[InterestLine], Field(min_length=1, max_length=MAX_INTEREST_LINES)]


class InterestCorrected(Message):
    """Interest of days already charged, recomputed because a payment arrived backdated or a period was
    revised: ``amount`` (signed) is new minus previously charged, per period and rule in ``lines``. After it
    the employer's interest is exactly what it would have been had the change been known in time."""

    event_type = "InterestCorrected"
    employer_code: EmployerCode
    business_date: Date = Field(description="Business date of the run that found the change")
    amount: Annotated[SignedVnd, Field(description="Sum of the lines: negative when interest is given back")]
    lines: Annotated[list[InterestLine], Field(min_length=1, max_length=MAX_INTEREST_LINES)]


# Every message published on arrears.events (the topic catalogue reads this tuple); add new ones here.
PUBLISHED: tuple[type[Message], ...] = (EmployerOverdue, ArrearsCleared, EvasionSuspected, WorkerContributionsUnpaid,
                                        InterestAssessed, InterestCorrected)
