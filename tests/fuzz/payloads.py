"""Valid payloads for every message an input topic carries, built from a seeded ``random.Random``.

Each builder takes ``n``, the message's index in the corpus, so identities that must be unique (worker
codes, payment ids, award ids) never collide inside one run; everything else is drawn. The builders are
checked against the models when the corpus is made (``messages.base_case``), so a builder that drifts
from its contract fails loudly instead of producing "good" messages that are not.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

# Names as Vietnamese payroll systems write them (diacritics, composed and decomposed forms).
NAMES = ["Lê Văn Cường", "Nguyễn Thị Ánh", "Trần Quốc Bảo", "Phạm Thị Hồng Nhung", "Đỗ Minh Đức",
         "Nguye\u0302\u0303n Thi\u0323 Lan", "Hoàng Ngọc Ý", "Bùi Xuân Trường"]
FUNDS = ["sickness_maternity", "accident", "retirement", "health", "unemployment"]


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def unique_digits(n: int, count: int, seed_tag: int) -> str:
    """``count`` ASCII digits unique per ``n`` within a run (``seed_tag`` keeps runs apart)."""
    return f"{seed_tag % 1000:03d}{n:0{count - 3}d}"[-count:]


def month_range(first: tuple[int, int], last: tuple[int, int]) -> list[str]:
    out, (y, m) = [], first
    while (y, m) <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class Builders:
    """Payload builders for one run: ``periods`` are the declarable months, ``tag`` separates runs."""

    def __init__(self, periods: list[str], tag: int):
        self.periods, self.tag = periods, tag

    def build(self, event_type: str, rng: random.Random, n: int) -> dict[str, Any]:
        return getattr(self, event_type)(rng, n)

    # ---- collection ---------------------------------------------------------------------------------
    def SalaryDeclared(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "employer_tax_code": "0101234567",
                "region": rng.randint(1, 4), "reduced_accident_rate": rng.random() < 0.2,
                "period": rng.choice(self.periods), "worker_code": unique_digits(n, 10, self.tag),
                "worker_name": rng.choice(NAMES), "citizen_id": digits(rng, 12),
                "contribution_salary": rng.choice([0, 1, 4_960_000, 10_000_000, 46_800_000, 99_200_001,
                                                   2_000_000_000, rng.randrange(2_000_000_001)]),
                "funds": rng.sample(FUNDS, rng.randint(1, 5)), "revision": 0}

    def RemittanceReceived(self, rng: random.Random, n: int) -> dict[str, Any]:
        payload = {"payment_id": f"FZ{self.tag}-{n}", "employer_code": f"DN{rng.randrange(10_000):04d}",
                   "amount": rng.choice([1, 1_000_000, rng.randrange(1, 10**11)]), "currency": "VND",
                   "value_date": (date(2025, 9, 15) - timedelta(days=rng.randrange(400))).isoformat(),
                   "bank_reference": f"FT{unique_digits(n, 12, self.tag)}"}
        if rng.random() < 0.5:
            payload["bank_bin"] = "970436"
        return payload

    # ---- collection's outputs, consumed by arrears and notifications ------------------------------------
    def _lines(self, rng: random.Random) -> list[dict[str, Any]]:
        return [{"fund": f, "party": p, "amount": rng.randrange(1_000_000)}
                for f in rng.sample(FUNDS, rng.randint(1, 5)) for p in ("employer", "employee")]

    def ContributionAssessed(self, rng: random.Random, n: int) -> dict[str, Any]:
        lines = self._lines(rng)
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "worker_code": unique_digits(n, 10, self.tag),
                "worker_name": rng.choice(NAMES), "period": rng.choice(self.periods), "revision": 0,
                "due_date": "2025-08-31", "declared_salary": 10_000_000, "social_salary_base": 10_000_000,
                "unemployment_salary_base": 10_000_000, "floor_applied": False, "cap_applied": False,
                "lines": lines, "total": sum(x["amount"] for x in lines)}

    def ContributionAdjusted(self, rng: random.Random, n: int) -> dict[str, Any]:
        lines = [{**x, "amount": x["amount"] - 500_000} for x in self._lines(rng)]
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "worker_code": unique_digits(n, 10, self.tag),
                "period": rng.choice(self.periods), "revision": 2, "previous_revision": 1,
                "due_date": "2025-08-31", "declared_salary": 12_000_000, "lines": lines,
                "total_delta": sum(x["amount"] for x in lines)}

    def UnderDeclarationFlagged(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "worker_code": unique_digits(n, 10, self.tag),
                "period": rng.choice(self.periods), "revision": 0, "declared_salary": 1_000_000,
                "floor": 4_960_000}

    def RemittanceAllocated(self, rng: random.Random, n: int) -> dict[str, Any]:
        lines = [{"period": rng.choice(self.periods), "fund": f, "amount": rng.randrange(1, 10**8)}
                 for f in rng.sample(FUNDS + ["interest"], rng.randint(0, 3))]
        return {"payment_id": f"FZ{self.tag}-{n}", "employer_code": f"DN{rng.randrange(10_000):04d}",
                "value_date": "2025-08-20", "amount": sum(x["amount"] for x in lines), "lines": lines,
                "credit_balance": rng.randrange(10**9)}

    # ---- arrears.events (consumed by notifications) -----------------------------------------------------
    def _employer_period(self, rng: random.Random) -> dict[str, Any]:
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "period": rng.choice(self.periods),
                "due_date": "2025-08-31"}

    def EmployerOverdue(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._employer_period(rng), "first_day_late": "2025-09-01",
                "unpaid_principal": rng.randrange(1, 10**10), "as_of": "2025-09-15"}

    def ArrearsCleared(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._employer_period(rng), "paid_up_on": "2025-09-10", "days_late": 10, "as_of": "2025-09-15"}

    def EvasionSuspected(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._employer_period(rng), "reason": rng.choice(["unpaid_60_days", "under_declaration"]),
                "unpaid_principal": rng.randrange(10**10), "under_declared_workers": rng.randrange(50),
                "as_of": "2025-09-15"}

    def WorkerContributionsUnpaid(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"worker_code": unique_digits(n, 10, self.tag), "employer_code": f"DN{rng.randrange(10_000):04d}",
                "periods": sorted(rng.sample(self.periods, rng.randint(1, 3))), "as_of": "2025-09-15"}

    def _interest(self, rng: random.Random, signed: bool) -> dict[str, Any]:
        lines = [{"period": rng.choice(self.periods), "rule": "law41-art40", "from_day": "2025-09-01",
                  "to_day": "2025-09-14", "amount": rng.randrange(-10**6 if signed else 0, 10**7)}
                 for _ in range(rng.randint(1, 3))]
        return {"employer_code": f"DN{rng.randrange(10_000):04d}", "business_date": "2025-09-15",
                "amount": sum(x["amount"] for x in lines), "lines": lines}

    def InterestAssessed(self, rng: random.Random, n: int) -> dict[str, Any]:
        return self._interest(rng, signed=False)

    def InterestCorrected(self, rng: random.Random, n: int) -> dict[str, Any]:
        return self._interest(rng, signed=True)

    # ---- payments.events (consumed by notifications) -----------------------------------------------------
    def _payment(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"payment_id": f"PM{self.tag}-{n}", "beneficiary_code": unique_digits(n, 10, self.tag),
                "award_id": f"AW{self.tag}-{n}", "period": rng.choice(self.periods),
                "amount": rng.randrange(1, 50_000_000)}

    def PaymentRunPrepared(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"period": rng.choice(self.periods), "payments": rng.randrange(10**6),
                "total_amount": rng.randrange(10**12), "prepared_by": "operator-a"}

    def PaymentRunApproved(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"period": rng.choice(self.periods), "payments": rng.randrange(10**6),
                "total_amount": rng.randrange(10**12), "approved_by": "operator-b",
                "requested_execution_date": "2025-09-20"}

    def PaymentSent(self, rng: random.Random, n: int) -> dict[str, Any]:
        if rng.random() < 0.5:
            return {**self._payment(rng, n), "channel": "bank", "bank_bin": "970436", "attempt": 1}
        return {**self._payment(rng, n), "channel": "cash", "paying_office": f"VNPOST-{rng.randrange(1000)}",
                "attempt": 1}

    def PaymentSettled(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._payment(rng, n), "channel": "bank", "bank_bin": "970436", "attempt": rng.randint(1, 3)}

    def PaymentRejected(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self.PaymentSettled(rng, n), "reason_code": rng.choice(["AC01", "AC04", "AM04"]),
                "next_step": rng.choice(["retry", "reroute", "return"])}

    def PaymentReroutedToCash(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._payment(rng, n), "channel": "cash", "paying_office": f"VNPOST-{rng.randrange(1000)}",
                "reason_code": "AC04", "pay_from": "2025-09-20", "pay_until": "2025-10-20"}

    def PaymentReturned(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._payment(rng, n), "channel": rng.choice(["bank", "cash"]), "reason_code": "AC06",
                "attempts": rng.randint(1, 5)}

    def CashPaymentCollected(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {**self._payment(rng, n), "channel": "cash", "paying_office": f"VNPOST-{rng.randrange(1000)}",
                "paid_at": "2025-09-10T08:00:00+07:00"}

    def PaymentsSuspendedForNonCollection(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"beneficiary_code": unique_digits(n, 10, self.tag), "award_id": f"AW{self.tag}-{n}",
                "from_period": "2025-09", "unclaimed_periods": ["2025-03", "2025-04", "2025-05", "2025-06",
                                                               "2025-07", "2025-08"]}

    def PaymentFlagged(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"signal": rng.choice(["shared_account", "deceased_beneficiary", "dormant_cash_collected",
                                      "account_changed_before_large"]),
                "beneficiary_code": unique_digits(n, 10, self.tag), "payment_id": f"PM{self.tag}-{n}",
                "detail": "cùng tài khoản với 3 người hưởng khác"}

    # ---- benefits, contacts, bank and cash status (payments, notifications) -----------------------------
    def _channel(self, rng: random.Random) -> dict[str, Any]:
        if rng.random() < 0.5:
            return {"kind": "bank", "bank_bin": "970436", "account_number": digits(rng, rng.randint(6, 19)),
                    "account_name": rng.choice(NAMES).upper()}
        return {"kind": "cash", "paying_office": f"VNPOST-{rng.randrange(1000)}", "home_delivery": rng.random() < 0.5}

    def BenefitAwarded(self, rng: random.Random, n: int) -> dict[str, Any]:
        payload = {"award_id": f"AW{self.tag}-{n}", "beneficiary_code": unique_digits(n, 10, self.tag),
                   "beneficiary_name": rng.choice(NAMES), "citizen_id": digits(rng, 12),
                   "benefit_type": rng.choice(["old_age_pension", "sickness_allowance", "funeral_allowance"]),
                   "amount": rng.randrange(1, 50_000_000), "recurrence": rng.choice(["monthly", "one_off"]),
                   "first_period": rng.choice(self.periods), "channel": self._channel(rng)}
        if rng.random() < 0.3:  # never before the first period (payments refuses that)
            payload["last_period"] = rng.choice([p for p in self.periods if p >= payload["first_period"]])
        return payload

    def BenefitSuspended(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"award_id": f"AW{self.tag}-{n}", "from_period": rng.choice(self.periods),
                "reason": "hồ sơ đang xác minh"}

    def BenefitTerminated(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"award_id": f"AW{self.tag}-{n}", "from_period": rng.choice(self.periods), "reason": "hết hạn"}

    def BenefitResumed(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"award_id": f"AW{self.tag}-{n}", "from_period": rng.choice(self.periods), "reason": "đã xác minh"}

    def PaymentChannelChanged(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"award_id": f"AW{self.tag}-{n}", "from_period": rng.choice(self.periods),
                "channel": self._channel(rng)}

    def BeneficiaryDeceased(self, rng: random.Random, n: int) -> dict[str, Any]:
        return {"beneficiary_code": unique_digits(n, 10, self.tag),
                "date_of_death": (date(2025, 9, 1) - timedelta(days=rng.randrange(300))).isoformat()}

    def BankPaymentStatusReported(self, rng: random.Random, n: int) -> dict[str, Any]:
        payload = {"bank_bin": "970436", "original_message_id": f"MSG{self.tag}-{n}",
                   "end_to_end_id": f"E2E-{self.tag}-{n}", "status": rng.choice(["ACCP", "ACSC", "RJCT"]),
                   "reported_at": "2025-09-15T10:30:00+07:00"}
        if payload["status"] == "RJCT":
            payload["reason_code"] = "AC04"
        return payload

    def CashPaymentReported(self, rng: random.Random, n: int) -> dict[str, Any]:
        payload = {"payment_id": f"CP{self.tag}-{n}", "paying_office": f"VNPOST-{rng.randrange(1000)}",
                   "outcome": rng.choice(["paid", "unclaimed"])}
        if payload["outcome"] == "paid":
            payload["paid_at"] = "2025-09-10T08:00:00+07:00"
        return payload

    def ContactDetailsChanged(self, rng: random.Random, n: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"participant_code": unique_digits(n, 10, self.tag),
                                   "language": rng.choice(["vi", "en"]),
                                   "channels": rng.sample(["email", "sms", "push"], rng.randint(0, 3))}
        if rng.random() < 0.7:
            payload["phone"] = "+84" + digits(rng, 9)
        if rng.random() < 0.5:
            payload["email"] = f"user{n}@example.vn"
        return payload


# Fields whose values are personal data: a DLQ reason must never contain them (issue 6).
PERSONAL_FIELDS = {"citizen_id", "worker_name", "beneficiary_name", "account_number", "account_name", "phone",
                   "email", "app_token", "creditor_name", "worker_code", "beneficiary_code", "participant_code"}

