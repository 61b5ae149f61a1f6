"""The life of one payment: which status report moves it where, and which change nothing.

::

    created -> approved -> sent -> accepted -> settled
                            |         |
                            +---------+--> rejected --(account problem: AC01 AC04 AC06 BE01)--> rerouted -> paid
                                              |                                                    \\-> unclaimed
                                              +--(other reason, attempts left)--> sent (attempt + 1)
                                              +--(attempts used up / no paying office)--> returned
    cash:   created -> approved -> sent -> paid | unclaimed
    stopped: a payment held before it left (the beneficiary was reported deceased)

A report is about one attempt (a retry is a new attempt with its own EndToEndId). A report about an older
attempt, about a payment already past that step, or repeating what is known is **late or duplicate**: it
changes nothing and is counted. Final states never move.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class State(StrEnum):
    CREATED = "created"
    APPROVED = "approved"
    SENT = "sent"
    ACCEPTED = "accepted"
    SETTLED = "settled"
    REJECTED = "rejected"
    REROUTED = "rerouted"
    RETURNED = "returned"
    PAID = "paid"
    UNCLAIMED = "unclaimed"
    STOPPED = "stopped"


FINAL = frozenset({State.SETTLED, State.RETURNED, State.PAID, State.UNCLAIMED, State.STOPPED})
# ISO 20022 external status codes (ExternalPaymentTransactionStatus1Code) as our steps. Pending-like
# codes (PDNG, RCVD) say nothing new: the payment stays where it is.
ACCEPTED_CODES = frozenset({"ACCP", "ACTC", "ACSP", "ACWC", "ACWP", "ACFC"})
SETTLED_CODES = frozenset({"ACSC", "ACCC"})
PENDING_CODES = frozenset({"PDNG", "RCVD"})
REJECTED_CODES = frozenset({"RJCT"})
KNOWN_CODES = ACCEPTED_CODES | SETTLED_CODES | PENDING_CODES | REJECTED_CODES
# A rejection for a problem of the account itself: sending again changes nothing, cash does (Vietnam Post).
ACCOUNT_PROBLEMS = frozenset({"AC01", "AC04", "AC06", "BE01"})

Outcome = Literal["changed", "duplicate", "late", "pending"]


@dataclass(frozen=True)
class Step:
    """What a report does to a payment: ``outcome`` and, when it changed, the new state."""

    outcome: Outcome
    state: State


def bank_step(current: State, current_attempt: int, report_attempt: int, code: str) -> Step:
    """The step a bank status ``code`` about attempt ``report_attempt`` makes from ``current``."""
    if code not in KNOWN_CODES:
        raise ValueError(f"unknown ISO 20022 transaction status {code[:4]!r}")
    if report_attempt < current_attempt:
        return Step("late", current)
    target = None if code in PENDING_CODES else _target(code)
    if target == current:
        return Step("duplicate", current)
    if current in FINAL or current in (State.REROUTED, State.REJECTED):
        return Step("late", current)  # past that step: a rejected attempt's next step is ours to take
    if target is None:
        return Step("pending", current)
    if current == State.ACCEPTED or current in (State.SENT, State.APPROVED):
        return Step("changed", target)
    raise ValueError(f"a bank status for a payment in state {current}")  # created: never sent


def _target(code: str) -> State:
    if code in SETTLED_CODES:
        return State.SETTLED
    if code in REJECTED_CODES:
        return State.REJECTED
    return State.ACCEPTED


def cash_step(current: State, outcome: Literal["paid", "unclaimed"]) -> Step:
    """A paying office's report: a payment ordered in cash (or rerouted to cash) was paid or stayed unclaimed."""
    target = State.PAID if outcome == "paid" else State.UNCLAIMED
    if current == target:
        return Step("duplicate", current)
    if current in FINAL:
        return Step("late", current)
    if current in (State.SENT, State.APPROVED, State.REROUTED):
        return Step("changed", target)
    raise ValueError(f"a cash report for a payment in state {current}")


Decision = Literal["reroute", "retry", "return"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a rejected transfer is sent again (configurable; see PaymentsSettings)."""

    max_attempts: int = 3            # the first transfer included
    first_delay_seconds: int = 3600  # then doubled for every further attempt
    max_delay_seconds: int = 86_400

    def delay(self, attempt: int) -> int:
        """Seconds to wait before attempt ``attempt + 1``, after attempt ``attempt`` was rejected."""
        return min(self.first_delay_seconds * 2 ** (attempt - 1), self.max_delay_seconds)


def after_rejection(reason: str | None, attempt: int, has_paying_office: bool, policy: RetryPolicy) -> Decision:
    """What follows a rejection: an account problem moves the payment to cash (same payment identity);
    anything else is sent again until the attempts are used up, then returned to the fund."""
    if reason in ACCOUNT_PROBLEMS:
        return "reroute" if has_paying_office else "return"
    return "retry" if attempt < policy.max_attempts else "return"


def retry_end_to_end_id(first: str, attempt: int) -> str:
    """The EndToEndId of attempt ``attempt`` of a transfer whose first attempt carried ``first``.

    Banks refuse an EndToEndId they have seen (domain brief: duplicate message, batch or end-to-end ids), so
    a retry cannot reuse the first one; the payment identity stays in our tables (every attempt's id maps to
    the same payment). Attempt 1 keeps ``first``; attempt n ends in ``-Rnn``, cut to ISO's 35 characters
    (Max35Text) from the left so the suffix always survives.
    """
    if attempt == 1:
        return first
    suffix = f"-R{attempt:02d}"
    return first[:35 - len(suffix)] + suffix
