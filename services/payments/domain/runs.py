"""Payment runs, pure: when orders go out, which cash window a paying office has, and what a prepared run shows
(totals by channel, bank and benefit type, and the difference from last month with its reasons)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable, Literal, Protocol

from services.payments.domain.model import period_text

CashPlace = Literal["payment_point", "post_office"]


class Calendar(Protocol):
    """What a run needs of the payment calendar (services/payments/domain/calendar.py)."""

    def first_working_day(self, period: str) -> date: ...

    def cash_window(self, period: str, place: CashPlace): ...


def execution_date(calendar: Calendar, period: date) -> date:
    """Bank transfers of a period go out on the month's first working day (weekends, Tet and the other public
    holidays are data in calendar.json)."""
    return calendar.first_working_day(period_text(period))


def cash_place(paying_office: str, payment_point_prefixes: Iterable[str]) -> CashPlace:
    """Vietnam Post pays at payment points (days 2-10) and at post offices (days 11-25); a paying office code
    starting with one of ``payment_point_prefixes`` (a setting) is a payment point."""
    return "payment_point" if any(paying_office.startswith(p) for p in payment_point_prefixes) else "post_office"


def cash_windows(calendar: Calendar, period: date) -> dict[CashPlace, tuple[date, date]]:
    text = period_text(period)
    out = {}
    for place in ("payment_point", "post_office"):
        window = calendar.cash_window(text, place)
        out[place] = (window.pay_from, window.pay_until)
    return out


@dataclass(frozen=True)
class Total:
    count: int = 0
    amount: int = 0

    def __add__(self, other: "Total") -> "Total":
        return Total(self.count + other.count, self.amount + other.amount)

    def as_dict(self) -> dict:
        return {"count": self.count, "amount": self.amount}


def totals(rows: Iterable[tuple[str, str | None, str, int, int]]) -> dict:
    """Rows (channel, bank BIN or None, benefit type, count, amount) -> the run's totals for the approver."""
    overall, by_channel, by_bank, by_type = Total(), {}, {}, {}
    for channel, bank, benefit_type, count, amount in rows:
        t = Total(count, amount)
        overall += t
        by_channel[channel] = by_channel.get(channel, Total()) + t
        if bank is not None:
            by_bank[bank] = by_bank.get(bank, Total()) + t
        by_type[benefit_type] = by_type.get(benefit_type, Total()) + t
    as_dicts: Callable[[dict], dict] = lambda d: {k: v.as_dict() for k, v in sorted(d.items())}  # noqa: E731
    return {"payments": overall.count, "amount": overall.amount, "by_channel": as_dicts(by_channel),
            "by_bank": as_dicts(by_bank), "by_benefit_type": as_dicts(by_type)}


def difference(previous: Total, current: Total, new: Total, ended: dict[str, Total], changed: Total,
               changed_delta: int) -> dict:
    """How this run differs from last month's, and why: every award in one and not the other, and every award
    in both with another amount, so that previous + new - ended + changed_delta = current."""
    return {"previous": previous.as_dict(), "current": current.as_dict(),
            "count_change": current.count - previous.count, "amount_change": current.amount - previous.amount,
            "new_awards": new.as_dict(),
            "ended_awards": {"count": sum(t.count for t in ended.values()),
                             "amount": sum(t.amount for t in ended.values()),
                             "by_reason": {k: v.as_dict() for k, v in sorted(ended.items())}},
            "changed_amounts": {**changed.as_dict(), "amount_change": changed_delta}}
