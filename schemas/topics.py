"""The topic catalogue: every topic, who writes it, who reads it, what travels on it.

This one list creates the topics (``ansinh topics create``), feeds the AsyncAPI document and tells each
consumer which messages it may receive. Every consumed topic has a ``<topic>.dlq`` twin.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas import arrears, benefits, collection, payments
from schemas.base import Message

DAY_MS = 24 * 3600 * 1000
# How long a <topic>.dlq keeps dead letters (operators replay them after a fix; inboxes are kept longer).
DLQ_RETENTION_MS = 30 * DAY_MS


@dataclass(frozen=True)
class TopicSpec:
    name: str
    direction: Literal["in", "out", "internal"]
    summary: str
    key: str
    messages: tuple[type[Message], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = 6
    config: dict[str, str] = field(default_factory=lambda: {"retention.ms": str(14 * DAY_MS)})

    @property
    def dlq(self) -> str | None:
        return f"{self.name}.dlq" if self.direction in ("in", "internal") else None


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("collection.declarations", "in",
              "Employers' payroll systems: one event per employee per month, and corrections (revisions).",
              "employer unit code", (collection.SalaryDeclared,), ("employer payroll systems",),
              ("collection",), partitions=12),
    TopicSpec("collection.remittances", "in",
              "Banks: an employer's payment received (fields, or the camt.054 document itself).",
              "employer unit code (bank BIN for camt.054 documents)",
              (collection.RemittanceReceived, collection.CreditNotificationReceived), ("banks",), ("collection",)),
    TopicSpec("collection.assessments", "internal",
              "Contributions assessed per worker, month, fund and party; adjustments; under-declaration flags.",
              "employer unit code",
              (collection.ContributionAssessed, collection.ContributionAdjusted, collection.UnderDeclarationFlagged),
              ("collection",), ("arrears", "notifications"), partitions=12),
    TopicSpec("collection.allocations", "internal",
              "How each employer payment was applied, per period and fund, with its value date.",
              "employer unit code", (collection.RemittanceAllocated,), ("collection",), ("arrears",)),
    TopicSpec("arrears.events", "internal",
              "Arrears: employers overdue, late-payment interest assessed and corrected, arrears cleared, suspected "
              "evasion, and each worker's months left unpaid by their employer.",
              # Collection makes interest payable (InterestAssessed/InterestCorrected; services/collection/interest.py).
              "employer unit code", arrears.PUBLISHED, ("arrears",), ("notifications", "collection")),
    TopicSpec("benefits.awards", "in",
              "Benefit decision system: awarded, suspended, terminated, channel changed, deceased.",
              "beneficiary social insurance code",
              (benefits.BenefitAwarded, benefits.BenefitSuspended, benefits.BenefitTerminated,
               benefits.PaymentChannelChanged, benefits.BeneficiaryDeceased, benefits.BenefitResumed),
              ("benefit decision system",), ("payments", "notifications")),
    TopicSpec("participants.contacts", "in",
              "Participant registry and app: phone, e-mail, app token, language and channel preferences.",
              "participant social insurance code", (benefits.ContactDetailsChanged,),
              ("participant registry",), ("notifications",),
              config={"cleanup.policy": "compact"}),
    TopicSpec("payments.orders", "out",
              "To banks: payment orders (JSON per order) and pain.001 batches split under 1 MB.",
              "bank BIN", (payments.PaymentOrderIssued, payments.PaymentBatchIssued), ("payments",),
              ("banks",), config={"retention.ms": str(30 * DAY_MS), "max.message.bytes": "1048588"}),
    TopicSpec("payments.bank-status", "in", "From banks: pain.002 status per payment order.", "bank BIN",
              (payments.BankPaymentStatusReported, payments.BankStatusReportReceived), ("banks",), ("payments",)),
    TopicSpec("payments.cash-orders", "out", "To Vietnam Post paying offices: cash payment orders.",
              "paying office", (payments.CashPaymentOrdered,), ("payments",), ("Vietnam Post",)),
    TopicSpec("payments.cash-status", "in", "From paying offices: paid or unclaimed.", "paying office",
              (payments.CashPaymentReported,), ("Vietnam Post",), ("payments",)),
    TopicSpec("payments.events", "internal",
              "Payments: runs prepared and approved, each payment sent and what became of it (settled, rejected, "
              "rerouted to cash, returned, collected), suspensions for non-collection, fraud flags.",
              "beneficiary social insurance code (the period for run events)", payments.EVENTS, ("payments",),
              ("notifications",)),
)

BY_NAME = {spec.name: spec for spec in CATALOGUE}


def spec(name: str) -> TopicSpec:
    return BY_NAME[name]


def all_messages() -> list[type[Message]]:
    seen: dict[tuple[str, int], type[Message]] = {}
    for topic in CATALOGUE:
        for message in topic.messages:
            seen[(message.event_type, message.schema_version)] = message
    return list(seen.values())
