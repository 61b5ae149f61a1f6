"""The published JSON Schemas refuse exactly what the models refuse.

One corpus of events, two referees: the decoder every consumer runs (pydantic, strict, from JSON bytes) and
``jsonschema`` with the committed file in schemas/json. For every constrained field the corpus holds values
both must accept and values both must refuse (ASCII-only codes, bounded integers, years 1995-2100, bounded
strings without NUL or other control characters); hypothesis then throws arbitrary JSON at every field.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema import Draft202012Validator

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from schemas import generate
from schemas.base import DATE, MAX_REVISION, MAX_TOTAL, MAX_VND, PERIOD, TIMESTAMP, Message
from schemas.topics import all_messages

MESSAGES = {m.event_type: m for m in all_messages()}

# ---- one valid payload per message -------------------------------------------------------------------
BANK = {"kind": "bank", "bank_bin": "970436", "account_number": "0011001234567", "account_name": "Trần Thị Bình"}
CASH = {"kind": "cash", "paying_office": "VNPOST-HN-001", "home_delivery": True}
VALID: dict[str, dict[str, Any]] = {
    "SalaryDeclared": dict(employer_code="DN0001", employer_tax_code="0101234567", region=1,
                           reduced_accident_rate=False, period="2025-07", worker_code="0123456789",
                           worker_name="Nguyễn Văn An", citizen_id="001090012345", contribution_salary=10_000_000,
                           funds=["retirement", "health"], revision=0),
    "RemittanceReceived": dict(payment_id="VCB-2025-000001", employer_code="DN0001", amount=2_150_000,
                               currency="VND", value_date="2025-08-05", bank_reference="DN0001 BHXH T7",
                               bank_bin="970436"),
    "CreditNotificationReceived": dict(bank_bin="970436", document="<Document>\r\n\t<Ntry/>\n</Document>"),
    "ContributionAssessed": dict(employer_code="DN0001", worker_code="0123456789", worker_name="Nguyễn Văn An",
                                 period="2025-07", revision=0, due_date="2025-08-31", declared_salary=10_000_000,
                                 social_salary_base=10_000_000, unemployment_salary_base=10_000_000,
                                 floor_applied=False, cap_applied=False,
                                 lines=[{"fund": "retirement", "party": "employer", "amount": 1_400_000}],
                                 total=1_400_000),
    "ContributionAdjusted": dict(employer_code="DN0001", worker_code="0123456789", period="2025-07", revision=1,
                                 previous_revision=0, due_date="2025-08-31", declared_salary=9_000_000,
                                 lines=[{"fund": "retirement", "party": "employee", "amount": -80_000}],
                                 total_delta=-80_000),
    "UnderDeclarationFlagged": dict(employer_code="DN0001", worker_code="0123456789", period="2025-07", revision=0,
                                    declared_salary=1_000_000, floor=4_960_000),
    "RemittanceAllocated": dict(payment_id="VCB-2025-000001", employer_code="DN0001", value_date="2025-08-05",
                                amount=2_150_000,
                                lines=[{"period": "2025-07", "fund": "health", "amount": 450_000},
                                       {"period": "2025-07", "fund": "interest", "amount": 1_000}],
                                credit_balance=0),
    "BenefitAwarded": dict(award_id="AW-2025-1", beneficiary_code="0123456789", beneficiary_name="Lê Văn Cường",
                           citizen_id="001090012345", benefit_type="old_age_pension", amount=5_500_000,
                           recurrence="monthly", first_period="2025-07", last_period=None, channel=BANK),
    "BenefitSuspended": dict(award_id="AW-2025-1", from_period="2025-08", reason="không nhận 6 tháng"),
    "BenefitTerminated": dict(award_id="AW-2025-1", from_period="2025-09", reason="hết hạn"),
    "PaymentChannelChanged": dict(award_id="AW-2025-1", from_period="2025-09", channel=CASH),
    "BeneficiaryDeceased": dict(beneficiary_code="0123456789", date_of_death="2025-06-30"),
    "BenefitResumed": dict(award_id="AW-2025-1", from_period="2025-10", reason="đã nhận lại"),
    "PaymentRunPrepared": dict(period="2025-07", payments=3, total_amount=16_500_000, prepared_by="an"),
    "PaymentRunApproved": dict(period="2025-07", payments=3, total_amount=16_500_000, approved_by="binh",
                                requested_execution_date="2025-07-01"),
    "PaymentSent": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07",
                        amount=5_500_000, channel="bank", bank_bin="970436", paying_office=None, attempt=1),
    "ContactDetailsChanged": dict(participant_code="0123456789", phone="+84912345678", email="an@example.vn",
                                  app_token="fcm:abc-123", language="vi", channels=["sms", "push"],
                                  sms_quiet_hours={"start": "22:00", "end": "07:00"}),
    "PaymentOrderIssued": dict(payment_id="P-2025-07-1", end_to_end_id="E2E-2025-07-1", award_id="AW-2025-1",
                               period="2025-07", attempt=1, amount=5_500_000, creditor_name="Lê Văn Cường",
                               bank_bin="970436", account_number="0011001234567",
                               requested_execution_date="2025-07-01"),
    "PaymentBatchIssued": dict(message_id="MSG-2025-07-970436-1", bank_bin="970436", part=1, parts=2,
                               number_of_transactions=1, control_sum=5_500_000, document="<Document/>"),
    "BankPaymentStatusReported": dict(bank_bin="970436", original_message_id="MSG-2025-07-970436-1",
                                      end_to_end_id="E2E-2025-07-1", status="RJCT", reason_code="AC04",
                                      reported_at="2025-07-02T09:30:00+07:00"),
    "CashPaymentOrdered": dict(payment_id="P-2025-07-2", award_id="AW-2025-2", period="2025-07", amount=3_000_000,
                               beneficiary_code="0123456780", beneficiary_name="Phạm Thị Dung",
                               citizen_id="001090012346", paying_office="VNPOST-HN-001", home_delivery=False,
                               pay_from="2025-07-02", pay_until="2025-07-25"),
    "CashPaymentReported": dict(payment_id="P-2025-07-2", paying_office="VNPOST-HN-001", outcome="paid",
                                paid_at="2025-07-03T10:00:00.123Z"),
    "EmployerOverdue": dict(employer_code="DN0001", period="2025-07", due_date="2025-08-31",
                            first_day_late="2025-09-01", unpaid_principal=2_150_000, as_of="2025-09-01"),
    "ArrearsCleared": dict(employer_code="DN0001", period="2025-07", due_date="2025-08-31", paid_up_on="2025-09-10",
                           days_late=9, as_of="2025-09-11"),
    "EvasionSuspected": dict(employer_code="DN0001", period="2025-07", reason="unpaid_60_days", due_date="2025-08-31",
                             unpaid_principal=2_150_000, under_declared_workers=0, as_of="2025-10-30"),
    "InterestAssessed": dict(employer_code="DN0001", business_date="2025-09-02", amount=840,
                             lines=[{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01",
                                     "to_day": "2025-09-02", "amount": 840}]),
    "InterestCorrected": dict(employer_code="DN0001", business_date="2025-09-03", amount=-420,
                              lines=[{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-02",
                                      "to_day": "2025-09-02", "amount": -420}]),
    "WorkerContributionsUnpaid": dict(worker_code="0123456789", employer_code="DN0001", periods=["2025-07", "2025-08"],
                                      as_of="2025-10-01"),
    # bank side of payments.events, and pain.002 documents on payments.bank-status
    "BankStatusReportReceived": dict(bank_bin="970436", document="<Document/>"),
    "PaymentSettled": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07", amount=5_500_000, channel="bank",
                           bank_bin="970436", attempt=1),
    "PaymentRejected": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07", amount=5_500_000, channel="bank",
                            bank_bin="970436", attempt=1, reason_code="AM04", next_step="retry"),
    "PaymentReroutedToCash": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07", amount=5_500_000, channel="cash",
                                  paying_office="VNPOST-HN-001", reason_code="AC04", pay_from="2025-07-11",
                                  pay_until="2025-07-25"),
    "PaymentReturned": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07", amount=5_500_000, channel="bank",
                            reason_code=None, attempts=3),
    "CashPaymentCollected": dict(payment_id="PMT1", beneficiary_code="0123456789", award_id="AW-2025-1", period="2025-07", amount=5_500_000, channel="cash",
                                 paying_office="VNPOST-HN-001", paid_at="2025-07-03T10:00:00+07:00"),
    "PaymentsSuspendedForNonCollection": dict(beneficiary_code="0123456789", award_id="AW-2025-1",
                                              from_period="2026-01", unclaimed_periods=["2025-07", "2025-08"]),
    "PaymentFlagged": dict(signal="shared_account", beneficiary_code="0123456789", payment_id="PMT1",
                           award_id="AW-2025-1", period="2025-07", amount=5_500_000,
                           detail="one account receives payments for 4 beneficiaries"),
}

INTEREST_LINE = {"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01", "to_day": "2025-09-01",
                 "amount": 420}

# ---- probes: values a kind of field must accept (first list) and refuse (second list) ------------------
ARABIC = "٠١٢٣٤٥٦٧٨٩"  # Arabic-Indic digits: Unicode digits, not ASCII ones
NOT_TEXT = [None, 5, True, ["x"], {"x": 1}]


def _digits(n: int, *, also_ok: tuple = (), also_bad: tuple = ()) -> tuple[list, list]:
    good = "0123456789" * 2
    return [good[:n], *also_ok], ["", good[:n - 1], good[:n + 1], ARABIC[:n] if n <= 10 else ARABIC + ARABIC[:n - 10],
                                  "١" + good[:n - 1], good[:n - 1] + "a", f"{good[:n]}\n", f"{good[:n - 1]}\x00",
                                  " " + good[:n - 1], int(good[:n]), *also_bad, *NOT_TEXT[:1]]


def _integer(low: int, high: int) -> tuple[list, list]:
    return [low, high, float(low)], [low - 1, high + 1, 2**63, -(2**63) - 1, 10**40, low + 0.5, str(low), True,
                                     None, 1e300]


def _text(max_length: int, *, lines_allowed: bool = False) -> tuple[list, list]:
    ok = ["Nguyễn Thị Ánh", "x" * max_length, "😀" * max_length]  # astral characters count once
    bad = ["", "x" * (max_length + 1), "a\x00b", "\x00", "a\x1bb", "a\x7f", "a\x85b", *NOT_TEXT]
    if lines_allowed:
        ok += ["<a>\r\n\t</a>", "a\x7f", "a\x85b"]  # XML 1.0 allows DEL and C1 characters
        bad = [b for b in bad if b not in ("a\x7f", "a\x85b")] + ["<a>\x0b</a>", "<a>\x0c</a>"]
    else:
        bad += ["line\nbreak", "tab\there", "end\n", "a\rb"]
    return ok, bad


def _code(ok: list, bad: list) -> tuple[list, list]:
    return ok, bad + [ok[0] + "\n", ok[0] + "\x00", "\x00" + ok[0], "", *NOT_TEXT]


def _enum(*values) -> tuple[list, list]:
    return list(values), [v.swapcase() for v in values] + [f" {values[0]}", "", "other", None, 1]


def optional(probe: tuple[list, list]) -> tuple[list, list]:
    ok, bad = probe
    return ok + [None], [b for b in bad if b is not None]


PROBES: dict[str, tuple[list, list]] = {
    "uuid": _code(["6f1c2d3e-4b5a-6789-abcd-ef0123456789", "6F1C2D3E-4B5A-6789-ABCD-EF0123456789"],
                  ["6f1c2d3e4b5a6789abcdef0123456789", "urn:uuid:6f1c2d3e-4b5a-6789-abcd-ef0123456789",
                   "{6f1c2d3e-4b5a-6789-abcd-ef0123456789}", "6f1c2d3e-4b5a-6789-abcd-ef012345678g",
                   "6f1c2d3e-4b5a-6789-abcd-ef01234567890", "٦f1c2d3e-4b5a-6789-abcd-ef0123456789"]),
    "timestamp": _code(["2025-07-01T08:00:00+07:00", "2025-07-01T01:00:00Z", "2025-07-01T01:00:00.123456789Z",
                        "1995-01-01T00:00:00-00:00", "2100-12-31T23:59:59-23:59", "2024-02-29T12:00:00+14:00",
                        "2000-02-29T00:00:00Z"],
                       ["2025-07-01T08:00:00", "2025-07-01 08:00:00Z", "2025-07-01t08:00:00z", "2025-07-01T08:00Z",
                        "0000-07-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59",
                        "1994-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "2025-02-29T00:00:00Z",
                        "2100-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-07-01T24:00:00Z",
                        "2025-07-01T08:00:60Z", "2025-07-01T08:00:00+0700", "2025-07-01T08:00:00+07",
                        "2025-07-01T08:00:00.+07:00", "2025-07-01T08:00:00+24:00", "٢٠٢٥-07-01T08:00:00Z",
                        "2025-07-01", 1751328000]),
    "date": _code(["1995-01-01", "2025-07-01", "2100-12-31", "2000-02-29", "2024-02-29", "2025-02-28"],
                  ["0000-01-01", "0001-01-01", "1994-12-31", "2101-01-01", "9999-12-31", "2100-02-29", "2025-02-29",
                   "2025-04-31", "2025-00-10", "2025-13-01", "2025-7-1", "20250701", "2025-07-01T00:00:00",
                   "2025-07-01Z", "٢٠٢٥-٠٧-٠١", "+2025-07-01", 20250701]),
    "period": _code(["1995-01", "2025-07", "2099-12"],
                    ["0000-07", "1994-12", "2100-01", "9999-12", "2025-13", "2025-00", "2025-7", "2025-07-01",
                     "٢٠٢٥-07", "2025-٠٧", "-2025-07", 202507]),
    "producer": _text(100),
    "name": _text(200),
    "reason": _text(200),
    "reference": _text(140),
    "max35": _text(35),
    "token": _text(4096),
    "camt": _text(900_000, lines_allowed=True),
    "pain": _text(950_000, lines_allowed=True),
    "employer_code": _code(["DN0001", "AB", "A" * 15, "0123456789"],
                           ["A", "A" * 16, "dn0001", "DN 001", "DN-001", "ＤＮ0001", "DN٠٠01", "ĐN0001"]),
    "identifier": _code(["VCB-2025-000001", "a" * 64, "bank/970436:ref.1-A"],
                        ["a" * 65, "PAY 1", "PAY@1", "ПЛАТ1", "PAY#1", "P\u200bAY"]),
    "end_to_end_id": _code(["E2E-2025-07-1", "A" * 35], ["A" * 36, "E2E.1", "E2E 1", "Е2Е-1"]),
    "reason_code": optional(_code(["AC04", "BE01"], ["ac04", "AC0", "AC044", "AC٠4"])),
    "phone": optional(_code(["+84912345678", "+849123456789"],
                            ["0912345678", "+84 912345678", "+8491234567", "+84912345678901", "+84٩١٢٣٤٥٦٧٨",
                             "+85912345678", "84912345678"])),
    "email": optional(_code(["an@example.vn", "nguyễn@ví-dụ.vn", "a@b.c", "x" * 240 + "@example.vn"],
                            ["an@example", "an example@x.vn", "an@ex\u3000ample.vn", "an@ex\u00a0ample.vn",
                             "an@@x.vn", "@x.vn", "an@x.", "x" * 245 + "@example.vn", "an@x.vn\t", "an\x85@x.vn"])),
    "insurance_code": _digits(10),
    "citizen_id": _digits(12),
    "tax_code": _digits(10, also_ok=("0101234567001",), also_bad=("0101234567-001", "01012345670", "010123456700",
                                                                  "01012345670011", "0101234567٠٠١")),
    "bank_bin": _digits(6),
    "account_number": ([str(10**18), "1"], ["", "1" * 20, "٠١٢", "12 34", "12-34", "1\n", "1\x00", 1, None]),
    "region": _integer(1, 4),
    "revision": _integer(0, MAX_REVISION),
    "schema_version": ([1, 1.0], [0, 2, -1, 10**30, 1.5, "1", True, None]),
    "vnd": _integer(0, MAX_VND),
    "positive_vnd": _integer(1, MAX_VND),
    "signed_vnd": _integer(-MAX_VND, MAX_VND),
    "total_vnd": _integer(0, MAX_TOTAL),
    "attempt": _integer(1, 99),
    "batch_count": _integer(1, 10_000),
    "bool": ([True, False], [0, 1, "true", None, []]),
    "currency": (["VND"], ["USD", "vnd", "", None, 704]),
    "fund": _enum("sickness_maternity", "accident", "retirement", "health", "unemployment"),
    "allocation_fund": _enum("health", "interest"),
    "party": _enum("employer", "employee"),
    "funds": ([["retirement"], ["sickness_maternity", "accident", "retirement", "health", "unemployment"]],
              [[], ["retirement"] * 6, ["pension"], "retirement", [1], None]),
    "benefit_type": _enum("old_age_pension", "funeral_allowance"),
    "recurrence": _enum("monthly", "one_off"),
    "status": _enum("ACCP", "RJCT"),
    "outcome": _enum("paid", "unclaimed"),
    "pay_channel": _enum("bank", "cash"),
    "run_count": _integer(0, 100_000_000),
    "language": _enum("vi", "en"),
    "hour_minute": _code(["00:00", "07:05", "23:59"], ["24:00", "7:00", "07:60", "0700", "07:00:00", "٠٧:00",
                                                        " 07:00", "07:00 ", "07h00"]),
    "quiet_hours": ([{"start": "22:00", "end": "07:00"}, {"start": "12:00", "end": "13:30"}],
                    [{"start": "22:00"}, {"end": "07:00"}, {}, "22:00-07:00", ["22:00", "07:00"]]),
    "channels": ([[], ["email", "sms", "push"]], [["fax"], ["email", "sms", "push", "email"], "sms", None]),
    "channel": ([BANK, CASH, {**BANK, "account_name": "x" * 200}],
                [{"kind": "wire"}, {**BANK, "bank_bin": "٩٧٠٤٣٦"}, {**BANK, "account_name": "a\x00"},
                 {**CASH, "paying_office": "HN 1"}, {"kind": "cash"}, {}, "bank", None]),
    "assessment_lines": ([[], [{"fund": "health", "party": "employee", "amount": 1}] * 10],
                         [[{"fund": "health", "party": "employee", "amount": 1}] * 11, None, {}]),
    "evasion_reason": _enum("unpaid_60_days", "under_declaration"),
    "days_late": _integer(0, 100_000),
    "worker_count": _integer(0, 10_000_000),
    "interest_lines": ([[INTEREST_LINE], [INTEREST_LINE] * 10_000], [[], [INTEREST_LINE] * 10_001, None, {}]),
    "periods": ([["2025-07"], ["2025-07"] * 1260], [[], ["2025-07"] * 1261, ["2025-7"], "2025-07", None]),
    "allocation_lines": ([[], [{"period": "2025-07", "fund": "health", "amount": 1}] * 10_000],
                         [[{"period": "2025-07", "fund": "health", "amount": 1}] * 10_001, None]),
    "next_step": _enum("retry", "reroute", "return"),
    "cash_only": (["cash"], ["bank", "CASH", "", None, 1]),
    "iso_reason": _code(["AC04", "BE01"], ["ac04", "AC0", "AC044", "AC٠4"]),
    "signal": _enum("shared_account", "dormant_cash_collected"),
    "detail": _text(300),
    "unclaimed_periods": ([["2025-07"], ["2025-07"] * 24], [[], ["2025-07"] * 25, ["2025-7"], "2025-07", None]),
}

# ---- where each probe goes: field path -> probe (paths into the event; "payload" is the message) ------
ENVELOPE = {"event_id": "uuid", "correlation_id": "uuid", "causation_id": "uuid?", "occurred_at": "timestamp",
            "producer": "producer", "schema_version": "schema_version"}
FIELDS: dict[str, dict[str, str]] = {
    "SalaryDeclared": dict(employer_code="employer_code", employer_tax_code="tax_code", region="region",
                           reduced_accident_rate="bool", period="period", worker_code="insurance_code",
                           worker_name="name", citizen_id="citizen_id", contribution_salary="vnd", funds="funds",
                           revision="revision"),
    "RemittanceReceived": dict(payment_id="identifier", employer_code="employer_code", amount="positive_vnd",
                               currency="currency", value_date="date", bank_reference="reference",
                               bank_bin="bank_bin?"),
    "CreditNotificationReceived": dict(bank_bin="bank_bin", document="camt"),
    "ContributionAssessed": {"employer_code": "employer_code", "worker_code": "insurance_code",
                             "worker_name": "name", "period": "period", "revision": "revision",
                             "due_date": "date", "declared_salary": "vnd", "social_salary_base": "vnd",
                             "unemployment_salary_base": "vnd", "floor_applied": "bool", "cap_applied": "bool",
                             "lines": "assessment_lines", "lines.0.fund": "fund", "lines.0.party": "party",
                             "lines.0.amount": "signed_vnd", "total": "vnd"},
    "ContributionAdjusted": {"employer_code": "employer_code", "worker_code": "insurance_code", "period": "period",
                             "revision": "revision", "previous_revision": "revision", "due_date": "date",
                             "declared_salary": "vnd", "lines": "assessment_lines",
                             "lines.0.amount": "signed_vnd", "total_delta": "signed_vnd"},
    "UnderDeclarationFlagged": dict(employer_code="employer_code", worker_code="insurance_code", period="period",
                                    revision="revision", declared_salary="vnd", floor="vnd"),
    "RemittanceAllocated": {"payment_id": "identifier", "employer_code": "employer_code", "value_date": "date",
                            "amount": "vnd", "lines": "allocation_lines", "lines.0.period": "period",
                            "lines.1.fund": "allocation_fund", "lines.0.amount": "vnd",
                            "credit_balance": "total_vnd"},
    "BenefitAwarded": dict(award_id="identifier", beneficiary_code="insurance_code", beneficiary_name="name",
                           citizen_id="citizen_id", benefit_type="benefit_type", amount="positive_vnd",
                           recurrence="recurrence", first_period="period", last_period="period?",
                           channel="channel"),
    "BenefitSuspended": dict(award_id="identifier", from_period="period", reason="reason"),
    "BenefitTerminated": dict(award_id="identifier", from_period="period", reason="reason"),
    "PaymentChannelChanged": {"award_id": "identifier", "from_period": "period", "channel": "channel",
                              "channel.paying_office": "identifier", "channel.home_delivery": "bool"},
    "BeneficiaryDeceased": dict(beneficiary_code="insurance_code", date_of_death="date"),
    "BenefitResumed": dict(award_id="identifier", from_period="period", reason="reason"),
    "PaymentRunPrepared": dict(period="period", payments="run_count", total_amount="total_vnd",
                               prepared_by="producer"),
    "PaymentRunApproved": dict(period="period", payments="run_count", total_amount="total_vnd",
                               approved_by="producer", requested_execution_date="date"),
    "PaymentSent": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier",
                        period="period", amount="positive_vnd", channel="pay_channel", bank_bin="bank_bin?",
                        paying_office="identifier?", attempt="attempt"),
    "ContactDetailsChanged": {"participant_code": "insurance_code", "phone": "phone", "email": "email",
                              "app_token": "token?", "language": "language", "channels": "channels",
                              "sms_quiet_hours": "quiet_hours?", "sms_quiet_hours.start": "hour_minute",
                              "sms_quiet_hours.end": "hour_minute"},
    "PaymentOrderIssued": dict(payment_id="identifier", end_to_end_id="end_to_end_id", award_id="identifier",
                               period="period", attempt="attempt", amount="positive_vnd", creditor_name="name",
                               bank_bin="bank_bin", account_number="account_number",
                               requested_execution_date="date"),
    "PaymentBatchIssued": dict(message_id="max35", bank_bin="bank_bin", part="batch_count", parts="batch_count",
                               number_of_transactions="batch_count", control_sum="total_vnd", document="pain"),
    "BankPaymentStatusReported": dict(bank_bin="bank_bin", original_message_id="max35",
                                      end_to_end_id="end_to_end_id", status="status", reason_code="reason_code",
                                      reported_at="timestamp"),
    "CashPaymentOrdered": dict(payment_id="identifier", award_id="identifier", period="period",
                               amount="positive_vnd", beneficiary_code="insurance_code", beneficiary_name="name",
                               citizen_id="citizen_id", paying_office="identifier", home_delivery="bool",
                               pay_from="date", pay_until="date"),
    "CashPaymentReported": dict(payment_id="identifier", paying_office="identifier", outcome="outcome",
                                paid_at="timestamp?"),
    "EmployerOverdue": dict(employer_code="employer_code", period="period", due_date="date", first_day_late="date",
                            unpaid_principal="total_vnd", as_of="date"),
    "ArrearsCleared": dict(employer_code="employer_code", period="period", due_date="date", paid_up_on="date",
                           days_late="days_late", as_of="date"),
    "EvasionSuspected": dict(employer_code="employer_code", period="period", reason="evasion_reason",
                             due_date="date", unpaid_principal="total_vnd", under_declared_workers="worker_count",
                             as_of="date"),
    "InterestAssessed": {"employer_code": "employer_code", "business_date": "date", "amount": "total_vnd",
                         "lines": "interest_lines", "lines.0.period": "period", "lines.0.rule": "identifier",
                         "lines.0.from_day": "date", "lines.0.to_day": "date", "lines.0.amount": "signed_vnd"},
    "InterestCorrected": {"employer_code": "employer_code", "business_date": "date", "amount": "signed_vnd",
                          "lines": "interest_lines", "lines.0.rule": "identifier", "lines.0.amount": "signed_vnd"},
    "WorkerContributionsUnpaid": {"worker_code": "insurance_code", "employer_code": "employer_code",
                                  "periods": "periods", "periods.0": "period", "as_of": "date"},
    "BankStatusReportReceived": dict(bank_bin="bank_bin", document="pain"),
    "PaymentSettled": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier", period="period", amount="positive_vnd",
                           channel="pay_channel", bank_bin="bank_bin", attempt="attempt"),
    "PaymentRejected": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier", period="period", amount="positive_vnd",
                            channel="pay_channel", bank_bin="bank_bin", attempt="attempt", reason_code="reason_code",
                            next_step="next_step"),
    "PaymentReroutedToCash": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier", period="period", amount="positive_vnd",
                                  channel="cash_only", paying_office="identifier", reason_code="iso_reason",
                                  pay_from="date", pay_until="date"),
    "PaymentReturned": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier", period="period", amount="positive_vnd",
                            channel="pay_channel", reason_code="reason_code", attempts="attempt"),
    "CashPaymentCollected": dict(payment_id="identifier", beneficiary_code="insurance_code", award_id="identifier", period="period", amount="positive_vnd",
                                 channel="cash_only", paying_office="identifier", paid_at="timestamp?"),
    "PaymentsSuspendedForNonCollection": {"beneficiary_code": "insurance_code", "award_id": "identifier",
                                          "from_period": "period", "unclaimed_periods": "unclaimed_periods",
                                          "unclaimed_periods.0": "period"},
    "PaymentFlagged": dict(signal="signal", beneficiary_code="insurance_code", payment_id="identifier?",
                           award_id="identifier?", period="period?", amount="positive_vnd?", detail="detail"),
}


def probe(name: str) -> tuple[list, list]:
    return optional(PROBES[name.rstrip("?")]) if name.endswith("?") else PROBES[name]


# ---- the two referees ----------------------------------------------------------------------------------
def published(message: type[Message]) -> dict:
    return json.loads((generate.JSON_DIR / generate.file_name(message)).read_text())


VALIDATORS = {name: Draft202012Validator(published(m), format_checker=Draft202012Validator.FORMAT_CHECKER)
              for name, m in MESSAGES.items()}
PAYLOAD_VALIDATORS = {
    name: Draft202012Validator({**published(m)["properties"]["payload"], "$defs": published(m).get("$defs", {})},
                               format_checker=Draft202012Validator.FORMAT_CHECKER)
    for name, m in MESSAGES.items()}
DECODERS = {name: Decoder((m,)) for name, m in MESSAGES.items()}


def event(type_name: str, payload: Any) -> dict:
    return {"event_id": "6f1c2d3e-4b5a-6789-abcd-ef0123456789", "type": type_name, "schema_version": 1,
            "occurred_at": "2025-07-01T08:00:00+07:00", "producer": "payroll", "payload": payload,
            "correlation_id": "0a1b2c3d-4e5f-6789-abcd-ef0123456789", "causation_id": None}


def verdicts(type_name: str, document: dict) -> tuple[bool, bool]:
    """(the decoder accepts the event's JSON bytes, the published schema accepts the parsed event)."""
    text = json.dumps(document, ensure_ascii=False)
    try:
        DECODERS[type_name].decode(RawMessage("t", 0, 0, None, text.encode()))
        model_ok = True
    except DecodeError:
        model_ok = False
    return model_ok, VALIDATORS[type_name].is_valid(json.loads(text))


def payload_verdicts(type_name: str, payload: Any) -> tuple[bool, bool]:
    """The same question for the payload alone: ``Model.model_validate_json`` against the payload schema."""
    text = json.dumps(payload, ensure_ascii=False)
    try:
        MESSAGES[type_name].model_validate_json(text)
        model_ok = True
    except ValueError:
        model_ok = False
    return model_ok, PAYLOAD_VALIDATORS[type_name].is_valid(json.loads(text))


def with_value(document: dict, path: str, value: Any) -> dict:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return changed


def without(document: dict, path: str) -> dict:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[part]
    del node[last]
    return changed


# ---- the corpus ----------------------------------------------------------------------------------------
def corpus() -> list[tuple[str, str, list, list]]:
    """(message type, field path, values both must accept, values both must refuse) for every field."""
    cases = []
    for type_name, fields in FIELDS.items():
        paths = {**ENVELOPE, **{f"payload.{k}": v for k, v in fields.items()}}
        cases += [(type_name, path, *probe(name)) for path, name in paths.items()]
    return cases


CORPUS = corpus()


def test_every_message_has_a_valid_example_and_every_payload_field_is_probed():
    assert set(VALID) == set(MESSAGES) == set(FIELDS)
    for type_name, message in MESSAGES.items():
        top_level = {p.split(".")[0] for p in FIELDS[type_name]}
        assert top_level == set(message.model_fields), type_name
        assert verdicts(type_name, event(type_name, VALID[type_name])) == (True, True), type_name


@pytest.mark.parametrize("type_name,path,accepted,refused", CORPUS, ids=[f"{c[0]}.{c[1]}" for c in CORPUS])
def test_the_model_and_the_published_schema_give_the_expected_verdict(type_name, path, accepted, refused):
    assert accepted and refused, "each constraint needs values on both sides of it"
    wrong = []
    for value, accept in [(v, True) for v in accepted] + [(v, False) for v in refused]:
        got = verdicts(type_name, with_value(event(type_name, VALID[type_name]), path, value))
        if path.startswith("payload.") and len(repr(value)) < 65_536:  # the event-level check covers big ones
            payload = with_value(VALID[type_name], path.removeprefix("payload."), value)
            got += payload_verdicts(type_name, payload)
        if set(got) != {accept}:
            wrong.append((repr(value)[:60], "expected " + ("accept" if accept else "refuse"),
                          "model/schema/payload model/payload schema accept: " + str(got)))
    assert wrong == []


@pytest.mark.parametrize("type_name", sorted(MESSAGES))
def test_a_missing_required_field_is_refused_by_both_and_an_unknown_field_ignored_by_both(type_name):
    schema = published(MESSAGES[type_name])
    base = event(type_name, VALID[type_name])
    for field in schema["required"]:
        assert verdicts(type_name, without(base, field)) == (False, False), field
    for field in schema["properties"]["payload"]["required"]:
        assert verdicts(type_name, without(base, f"payload.{field}")) == (False, False), field
    assert verdicts(type_name, with_value(base, "payload.x_extension", "\x00 anything")) == (True, True)


@pytest.mark.parametrize("type_name", sorted(MESSAGES))
def test_the_wrong_type_or_version_for_the_schema_is_refused_by_both(type_name):
    base = event(type_name, VALID[type_name])
    other = next(t for t in MESSAGES if t != type_name)
    for path, value in (("type", other), ("type", type_name.lower()), ("type", ""), ("schema_version", 2)):
        assert verdicts(type_name, with_value(base, path, value)) == (False, False), (path, value)


def test_the_corpus_refuses_the_known_crashers_through_both_referees():
    declared = event("SalaryDeclared", VALID["SalaryDeclared"])
    for path, value in (("payload.revision", 2**64), ("payload.contribution_salary", 10**20),
                        ("payload.period", "0000-07"), ("payload.worker_code", ARABIC),
                        ("payload.citizen_id", "٠٠١٠٩٠٠١٢٣٤٥"), ("payload.employer_tax_code", ARABIC),
                        ("payload.worker_name", "An\x00"), ("payload.worker_name", "A" * 100_000),
                        ("producer", "p\x00"), ("occurred_at", "9999-12-31T23:59:59-23:59")):
        assert verdicts("SalaryDeclared", with_value(declared, path, value)) == (False, False), path


# ---- property-style: arbitrary JSON anywhere ----------------------------------------------------------
json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False) | st.text() | st.text(alphabet=st.characters(codec="utf-8"), max_size=5)
                | st.sampled_from(["", "\x00", "\n", "0123456789", ARABIC, "2025-07", "2025-07-01",
                                   "2025-07-01T08:00:00Z", "VND", "retirement", "bank", "cash", "😀"]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _all_paths(type_name: str) -> list[str]:
    return [*ENVELOPE, "type", *(f"payload.{p}" for p in FIELDS[type_name])]


@st.composite
def mutated_events(draw):
    type_name = draw(st.sampled_from(sorted(MESSAGES)))
    document = event(type_name, VALID[type_name])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_all_paths(type_name)))
        near = probe(ENVELOPE.get(path) or FIELDS[type_name].get(path.removeprefix("payload."), "bool"))
        value = draw(json_values | st.sampled_from(near[0] + near[1]) | _near_miss(near[0]))
        try:
            document = with_value(document, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            pass  # an earlier mutation replaced a parent of this path
    return type_name, document


def _near_miss(accepted: list) -> st.SearchStrategy:
    """An accepted value with one character inserted, replaced or removed (digits for digits, etc.)."""
    texts = [v for v in accepted if isinstance(v, str) and len(v) < 100]
    if not texts:
        return st.nothing()

    @st.composite
    def edit(draw):
        value = draw(st.sampled_from(texts))
        at = draw(st.integers(0, len(value)))
        char = draw(st.characters(codec="utf-8") | st.sampled_from(list("0123456789٠١٩۰۹०९０９-:TZ+\n\x00 ")))
        return draw(st.sampled_from([value[:at] + char + value[at:], value[:at] + char + value[at + 1:],
                                     value[:at] + value[at + 1:]]))

    return edit()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_the_model_and_the_published_schema_agree_on_arbitrary_json_in_any_field(case):
    type_name, document = case
    model_ok, schema_ok = verdicts(type_name, document)
    assert model_ok == schema_ok, f"model {'accepts' if model_ok else 'refuses'}, schema the opposite"


@settings(max_examples=200, deadline=None)
@given(st.from_regex(rf"^{TIMESTAMP}$", fullmatch=True), st.from_regex(rf"^{DATE}$", fullmatch=True),
       st.from_regex(rf"^{PERIOD}$", fullmatch=True))
def test_every_date_timestamp_and_month_the_published_patterns_describe_is_read_by_the_model(ts, day, month):
    document = with_value(event("CashPaymentReported", {**VALID["CashPaymentReported"], "paid_at": ts}),
                          "occurred_at", ts)
    assert verdicts("CashPaymentReported", document) == (True, True)
    deceased = event("BeneficiaryDeceased", {**VALID["BeneficiaryDeceased"], "date_of_death": day})
    assert verdicts("BeneficiaryDeceased", deceased) == (True, True)
    suspended = event("BenefitSuspended", {**VALID["BenefitSuspended"], "from_period": month})
    assert verdicts("BenefitSuspended", suspended) == (True, True)
