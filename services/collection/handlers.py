"""Handlers: a batch of decoded messages in, one transaction out (state, inbox rows and outbox events).

Refused messages are returned to the consume loop (it dead-letters them after the commit) and are not
claimed in the inbox, so a redelivery re-checks them.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox, outbox
from ansinh.runtime.decoding import Incoming
from ansinh.runtime.errors import PermanentError
from schemas import collection as wire
from services.collection import metrics, repository as repo
from services.collection.camt054 import parse_credit_notification
from services.collection.commands import (DeclareSalary, RecordRemittance, declare_salary, record_remittance)
from services.collection.domain.allocation import CreditLot, allocate, apply_credit
from services.collection.domain.assessment import assess, check_declaration, revise
from services.collection.domain.errors import CollectionError, NoLawForPeriod
from services.collection.domain.law import Law, NoLawInForce
from services.collection.domain.model import Assessment, Period

SCHEMA = "collection"
PRODUCER = "collection"
ASSESSMENTS, ALLOCATIONS = "collection.assessments", "collection.allocations"


@dataclass
class _Effects:
    """What one transaction writes besides the inbox: rows, obligation deltas, events."""

    assessments: dict[tuple, tuple] = field(default_factory=dict)
    # (employer, first day of the period, fund) -> [amount, due date]; dates hash in C, Periods do not
    deltas: dict[tuple[str, date, str], list] = field(default_factory=dict)
    flags: list[tuple] = field(default_factory=list)
    events: list[outbox.OutboxMessage] = field(default_factory=list)


@dataclass
class Checked:
    """Declarations after the pure checks: refused ones (with why) and accepted ones (with assessment)."""

    refused: list
    accepted: list

    def __add__(self, other: "Checked") -> "Checked":
        return Checked(self.refused + other.refused, self.accepted + other.accepted)


class Collection:
    """The collection service's handlers (one instance per process, holding the law and the clock)."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], law: Law, business_date: Callable[[], date]):
        self.pool_of, self.law, self.business_date = pool_of, law, business_date

    # ---- declarations -------------------------------------------------------------------------
    def prepare_declarations(self, batch: Sequence[Incoming]) -> "Checked":
        """The pure half: translate, check and assess every declaration (no I/O)."""
        return Checked(*self._check_declarations(batch))

    async def apply_declarations(self, prepared: "Checked") -> list[tuple[Incoming, PermanentError]]:
        """The transactional half: dedupe, supersede revisions, write state and events."""
        refused, accepted = prepared.refused, prepared.accepted
        if not accepted:
            return refused
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, "collection.declarations", [c.event_id for c, _, _ in accepted])
            fresh = [(c, a, i) for c, a, i in accepted if c.event_id in new]
            new.clear()  # a duplicate inside the batch counts once
            if len(accepted) > len(fresh):
                metrics.DECLARATIONS.labels("duplicate").inc(len(accepted) - len(fresh))
            effects = await self._assess(conn, fresh)
            await repo.save_assessments(conn, list(effects.assessments.values()))
            released = await repo.add_to_obligations(conn, effects.deltas)
            self._count_amounts(effects.deltas)
            await repo.save_flags(conn, effects.flags)
            employers = sorted({c.declaration.employer_code for c, _, _ in fresh})
            credit_events = await self._apply_credit(conn, employers, released)
            await outbox.append(conn, SCHEMA, effects.events + credit_events)
            if credit_events or released:
                await self._refresh_credit_gauges(conn)
        return refused

    @staticmethod
    async def _refresh_credit_gauges(conn: asyncpg.Connection) -> None:
        total, holders = await repo.credit_totals(conn)
        metrics.CREDIT_BALANCE.set(total)
        metrics.CREDIT_EMPLOYERS.set(holders)

    def _check_declarations(self, batch: Sequence[Incoming]):
        refused: list[tuple[Incoming, PermanentError]] = []
        accepted: list[tuple[DeclareSalary, Assessment, tuple]] = []
        today = self.business_date()
        now = datetime.now(timezone.utc).isoformat()
        for item in batch:
            command = declare_salary(item.message, item.envelope.event_id, item.envelope.correlation_id)
            try:
                check_declaration(self.law, command.declaration, today)
                assessment = assess(self.law, command.declaration)
            except NoLawInForce as exc:
                refused.append((item, NoLawForPeriod(f"period {command.declaration.period}: {exc}")))
                metrics.DECLARATIONS_REJECTED.labels("no_law_for_period").inc()
                continue
            except CollectionError as exc:
                refused.append((item, exc))
                metrics.DECLARATIONS_REJECTED.labels(exc.code).inc()
                continue
            # Built here, outside the transaction: the row, and the event as if this is the first revision
            # (nearly always true; an adjustment builds its own event later).
            d = command.declaration
            accepted.append((command, assessment, (
                repo.assessment_row(assessment, d.worker_name, d.citizen_id, d.funds),
                self._assessed_event(command, revise(None, assessment), now))))
        return refused, accepted

    async def _assess(self, conn: asyncpg.Connection, fresh) -> _Effects:
        keys = list({(c.declaration.employer_code, c.declaration.worker_code, c.declaration.period)
                     for c, _, _ in fresh})
        current = await repo.current_assessments(conn, keys)
        effects = _Effects()
        outcomes: Counter[str] = Counter()
        now = datetime.now(timezone.utc).isoformat()
        for command, assessment, (row, initial_event) in fresh:
            d = command.declaration
            key = (d.employer_code, d.worker_code, d.period)
            outcome = revise(current.get(key), assessment)
            outcomes[outcome.kind] += 1
            if outcome.kind == "stale":
                continue
            current[key] = assessment
            effects.assessments[key] = row
            self._add_deltas(effects, assessment, outcome.delta)
            effects.events.append(initial_event if outcome.kind == "initial" else
                                  self._assessed_event(command, outcome, now))
            if assessment.floor_applied:
                effects.flags.append((d.employer_code, d.worker_code, d.period.first_day, d.revision,
                                      "under_declaration", d.salary, assessment.floor))
                metrics.FLAGS.labels("under_declaration").inc()
                effects.events.append(outbox.event(ASSESSMENTS, d.employer_code, wire.UnderDeclarationFlagged(
                    employer_code=d.employer_code, worker_code=d.worker_code, period=str(d.period),
                    revision=d.revision, declared_salary=d.salary, floor=assessment.floor), PRODUCER,
                    correlation_id=command.correlation_id, causation_id=command.event_id))
        for kind, label in (("initial", "assessed"), ("adjustment", "adjusted"), ("stale", "stale")):
            if outcomes[kind]:
                metrics.DECLARATIONS.labels(label).inc(outcomes[kind])
        return effects

    @staticmethod
    def _add_deltas(effects: _Effects, assessment: Assessment, delta) -> None:
        deltas, employer, day, due = effects.deltas, assessment.employer_code, assessment.period.first_day, \
            assessment.due_date
        for fund, _, amount in delta:
            entry = deltas.get((employer, day, fund))
            if entry is None:
                deltas[(employer, day, fund)] = [amount, due]
            else:
                entry[0] += amount
                entry[1] = due

    @staticmethod
    def _count_amounts(deltas: dict) -> None:
        by_fund: dict[tuple[bool, str], int] = {}
        for (_, _, fund), (amount, _) in deltas.items():
            by_fund[(amount > 0, fund)] = by_fund.get((amount > 0, fund), 0) + abs(amount)
        for (up, fund), amount in by_fund.items():
            (metrics.ASSESSED_VND if up else metrics.REDUCED_VND).labels(fund).inc(amount)

    @staticmethod
    def _assessed_event(command: DeclareSalary, outcome, occurred_at: str | None = None) -> outbox.OutboxMessage:
        """``ContributionAssessed`` or ``ContributionAdjusted``, built as a dict (the hot path: one per
        declaration); tests/unit/collection/test_events.py decodes both with their models."""
        a, d = outcome.assessment, command.declaration
        lines = lambda ls: [{"fund": f, "party": p, "amount": x} for f, p, x in ls]  # noqa: E731
        if outcome.kind == "initial":
            kind, payload = wire.ContributionAssessed, {
                "employer_code": a.employer_code, "worker_code": a.worker_code, "worker_name": d.worker_name,
                "period": str(a.period), "revision": a.revision, "due_date": a.due_date,
                "declared_salary": a.declared_salary, "social_salary_base": a.social_base,
                "unemployment_salary_base": a.unemployment_base, "floor_applied": a.floor_applied,
                "cap_applied": a.cap_applied, "lines": lines(a.lines), "total": a.total}
        else:
            kind, payload = wire.ContributionAdjusted, {
                "employer_code": a.employer_code, "worker_code": a.worker_code, "period": str(a.period),
                "revision": a.revision, "previous_revision": outcome.previous.revision, "due_date": a.due_date,
                "declared_salary": a.declared_salary, "lines": lines(outcome.delta),
                "total_delta": outcome.delta_total}
        return outbox.event_from_dict(ASSESSMENTS, a.employer_code, kind, payload, PRODUCER,
                                      correlation_id=command.correlation_id, causation_id=command.event_id,
                                      occurred_at=occurred_at)

    async def _apply_credit(self, conn: asyncpg.Connection, employers: list[str],
                            released: list[tuple[str, Period, str, int]]) -> list[outbox.OutboxMessage]:
        """Use employers' credit on obligations that just appeared (and re-credit released overpayments)."""
        today = self.business_date()
        for employer, period, fund, amount in released:
            await repo.lock_employer(conn, employer)
            lots = await repo.credit_lots(conn, employer)
            lots.append(CreditLot(f"released-{period}-{fund}-{uuid.uuid4().hex[:8]}", today, amount))
            await repo.set_credit(conn, employer, lots)
        events = []
        for employer in await repo.employers_with_credit(conn, employers):
            used, left = apply_credit(await repo.credit_lots(conn, employer), await repo.open_obligations(conn, employer),
                                      self.law.allocation_order_on(today))
            if not used:
                continue
            balance = await repo.set_credit(conn, employer, left)
            for lot, lines in used:
                await repo.apply_allocation(conn, employer, lot.payment_id, lot.value_date, lines)
                events.append(self._allocated_event(employer, lot.payment_id, lot.value_date, lines, balance, None))
        return events

    # ---- remittances ---------------------------------------------------------------------------
    async def handle_remittances(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, PermanentError]]:
        refused, commands = [], []
        for item in batch:
            try:
                commands.append((item, self._remittance_commands(item)))
            except CollectionError as exc:
                refused.append((item, exc))
        if not commands:
            return refused
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, "collection.remittances", [i.envelope.event_id for i, _ in commands])
            events = []
            for item, remittances in commands:
                if item.envelope.event_id not in new:
                    metrics.REMITTANCES.labels("duplicate_event").inc()
                    continue
                new.discard(item.envelope.event_id)
                for command in remittances:
                    events += await self._record_remittance(conn, command)
            await outbox.append(conn, SCHEMA, events)
            await self._refresh_credit_gauges(conn)
        return refused

    @staticmethod
    def _remittance_commands(item: Incoming) -> list[RecordRemittance]:
        env, message = item.envelope, item.message
        if isinstance(message, wire.RemittanceReceived):
            return [record_remittance(message, env.event_id, env.correlation_id)]
        return [RecordRemittance(e.payment_id, e.employer_code, e.amount, e.value_date, e.bank_reference,
                                 env.event_id, env.correlation_id)
                for e in parse_credit_notification(message.document, message.bank_bin)]

    async def _record_remittance(self, conn: asyncpg.Connection, c: RecordRemittance) -> list[outbox.OutboxMessage]:
        await repo.lock_employer(conn, c.employer_code)
        if not await repo.record_payment(conn, c.payment_id, c.employer_code, c.amount, c.value_date,
                                         c.bank_reference):
            metrics.REMITTANCES.labels("duplicate_payment").inc()
            return []
        metrics.REMITTANCES.labels("recorded").inc()
        lines, left = allocate(await repo.open_obligations(conn, c.employer_code), c.amount,
                               self.law.allocation_order_on(c.value_date))
        await repo.apply_allocation(conn, c.employer_code, c.payment_id, c.value_date, lines)
        lots = await repo.credit_lots(conn, c.employer_code)
        if left:
            lots.append(CreditLot(c.payment_id, c.value_date, left))
        balance = await repo.set_credit(conn, c.employer_code, lots)
        return [self._allocated_event(c.employer_code, c.payment_id, c.value_date, lines, balance, c)]

    @staticmethod
    def _allocated_event(employer: str, payment_id: str, value_date: date, lines, balance: int,
                         command: RecordRemittance | None) -> outbox.OutboxMessage:
        for _, fund, amount in lines:
            metrics.ALLOCATED_VND.labels(fund).inc(amount)
        message = wire.RemittanceAllocated(
            payment_id=payment_id, employer_code=employer, value_date=value_date,
            amount=sum(a for _, _, a in lines),
            lines=[wire.AllocationLine(period=str(p), fund=f, amount=a) for p, f, a in lines], credit_balance=balance)
        return outbox.event(ALLOCATIONS, employer, message, PRODUCER,
                            correlation_id=command.correlation_id if command else None,
                            causation_id=command.event_id if command else None)
