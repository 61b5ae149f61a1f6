"""Collection's events as ledger rows: summed per fund and per value date; interest lines are not principal."""
from __future__ import annotations

from datetime import date

from schemas.collection import AllocationLine, AmountLine, ContributionAdjusted, RemittanceAllocated
from services.arrears.commands import add_principal, record_payments, sum_payments, sum_principal
from services.arrears.domain.law import load_law

LAW = load_law()


def test_an_adjustment_adds_each_funds_employer_and_employee_parts_with_the_periods_due_date():
    adjusted = ContributionAdjusted(
        employer_code="DN0001", worker_code="0000000001", period="2025-07", revision=1, previous_revision=0,
        due_date=date(2025, 8, 31), declared_salary=9_000_000, total_delta=-150_000,
        lines=[AmountLine(fund="retirement", party="employer", amount=-140_000),
               AmountLine(fund="retirement", party="employee", amount=-80_000),
               AmountLine(fund="health", party="employer", amount=70_000)])
    rows = sum_principal(add_principal(LAW, adjusted) + add_principal(LAW, adjusted))
    assert sorted(rows) == [("DN0001", date(2025, 7, 1), "health", date(2025, 8, 31), 140_000),
                            ("DN0001", date(2025, 7, 1), "retirement", date(2025, 8, 31), -440_000)]


def test_payment_lines_are_summed_per_value_date_and_interest_lines_are_left_out():
    def paid(value_date: date, *lines) -> RemittanceAllocated:
        return RemittanceAllocated(payment_id="P1", employer_code="DN0001", value_date=value_date,
                                   amount=sum(a for _, _, a in lines), credit_balance=0,
                                   lines=[AllocationLine(period=p, fund=f, amount=a) for p, f, a in lines])
    commands = (record_payments(paid(date(2025, 9, 3), ("2025-07", "health", 100), ("2025-07", "interest", 7)))
                + record_payments(paid(date(2025, 9, 3), ("2025-07", "health", 50)))
                + record_payments(paid(date(2025, 9, 4), ("2025-07", "health", 1))))
    assert sorted(sum_payments(commands)) == [("DN0001", date(2025, 7, 1), "health", date(2025, 9, 3), 150),
                                              ("DN0001", date(2025, 7, 1), "health", date(2025, 9, 4), 1)]
