"""Handlers: a batch of decoded messages in, one transaction out (state, inbox rows and outbox events).

Refused messages are returned to the consume loop (it dead-letters them after the commit) and are not
claimed in the inbox, so a redelivery re-checks them.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import auth, inbox, outbox
from ansinh.runtime.decoding import Incoming
from ansinh.runtime.errors import PermanentError
from schemas import collection as wire
from services.collection import metrics, repository as repo
from services.collection.camt054 import parse_credit_notification
from services.collection.commands import (AssignReceipt, DeclareSalary, RecordRemittance, declare_salary,
                                          record_remittance)
from services.collection.domain.allocation import CreditLot, Ledger, add_lot, apply_credit, release
from services.collection.domain.assessment import assess, check_declaration, revise
from services.collection.domain.errors import (CollectionError, CreditsRefused, InvalidRemittance, NoLawForPeriod,
                                               PaymentIdConflict, ReceiptAlreadyAssigned, ReceiptNotFound,
                                               UnknownEmployer)
from services.collection.domain.law import Law, NoLawInForce
from services.collection.domain.model import Assessment, Period

SCHEMA = "collection"
PRODUCER = "collection"
ASSESSMENTS, ALLOCATIONS = "collection.assessments", "collection.allocations"
REMITTANCES = "collection.remittances"  # the inbox consumer name of the remittances handler
# camt.054 entries the parser does not credit that are no money received for an employer: a debit from the
# account, an entry not booked yet (the bank reports it again once booked), a zero amount. Counted, not
# dead-lettered; every other code (a reversal, a currency, an unreadable amount or date) means money an
# operator must look at, so the document goes to the DLQ (its credits are still taken).
NOT_MONEY_IN = frozenset({"debit", "not_booked", "zero_amount"})


@dataclass
class _Effects:
    """What one transaction writes besides the inbox: rows, obligation deltas, events."""

    assessments: dict[tuple, tuple] = field(default_factory=dict)
    existing: set[tuple] = field(default_factory=set)  # keys of ``assessments`` already in the table before
    # (employer, first day of the period, fund) -> [amount, due date]; dates hash in C, Periods do not
    deltas: dict[tuple[str, date, str], list] = field(default_factory=dict)
    flags: list[tuple] = field(default_factory=list)
    events: list[outbox.OutboxMessage] = field(default_factory=list)


@dataclass
class Checked:
    """Declarations after the pure checks: refused ones (with why) and accepted ones (with assessment)."""

    refused: list
    accepted: list
    digests: list = field(default_factory=list)  # ``Incoming.digest`` of each accepted one, for the inbox

    def __add__(self, other: "Checked") -> "Checked":
        return Checked(self.refused + other.refused, self.accepted + other.accepted, self.digests + other.digests)


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
        async with self.pool_of().acquire() as conn:
            async with conn.transaction():
                new = await inbox.claim(conn, SCHEMA, "collection.declarations",
                                        [c.event_id for c, _, _ in accepted], prepared.digests)
                fresh = [(c, a, i) for c, a, i in accepted if c.event_id in new]
                new.clear()  # a duplicate inside the batch counts once
                if len(accepted) > len(fresh):
                    metrics.DECLARATIONS.labels("duplicate").inc(len(accepted) - len(fresh))
                effects = await self._assess(conn, fresh)
                rows = effects.assessments
                await repo.save_assessments(conn, [r for k, r in rows.items() if k not in effects.existing],
                                            [r for k, r in rows.items() if k in effects.existing])
                await repo.save_flags(conn, effects.flags)
                await outbox.append(conn, SCHEMA, effects.events)
                # Only now the money: lock the employers (see repository.lock_employers), then touch what they
                # owe and hold. Everything above touches nothing a payment reads, so it runs without the locks:
                # a payment for one of these employers waits only for the rest of this transaction, and this
                # batch waits only for payments, never the other way round for the whole batch.
                balances = await repo.lock_employers(conn, {c.declaration.employer_code for c, _, _ in fresh})
                released = await repo.add_to_obligations(conn, effects.deltas)
                self._count_amounts(effects.deltas)
                credit_events = await self._release_and_use_credit(conn, balances, released)
                await outbox.append(conn, SCHEMA, credit_events)
            if credit_events or released:  # after the commit: the gauges read what others may change too
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
        digests: list[bytes] = []
        today = self.business_date()
        now = datetime.now(timezone.utc).isoformat()
        ids = event_ids(len(batch))
        for item, event_id in zip(batch, ids):
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
                self._assessed_event(command, revise(None, assessment), now, event_id))))
            digests.append(item.digest)
        return refused, accepted, digests

    async def _assess(self, conn: asyncpg.Connection, fresh) -> _Effects:
        keys = list({(c.declaration.employer_code, c.declaration.worker_code, c.declaration.period)
                     for c, _, _ in fresh})
        current = await repo.current_assessments(conn, keys)
        effects = _Effects(existing=set(current))
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
    def _assessed_event(command: DeclareSalary, outcome, occurred_at: str | None = None,
                        event_id: str | None = None) -> outbox.OutboxMessage:
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
                                      occurred_at=occurred_at, event_id=event_id)

    async def _release_and_use_credit(self, conn: asyncpg.Connection, balances: dict[str, int],
                                      released: list[tuple[str, Period, str, int]]) -> list[outbox.OutboxMessage]:
        """Give money a downward revision freed back to the payments it came from, then use every locked
        employer's credit on what is open (obligations that just appeared, or ones a payment could not see).
        ``balances``: the locked employers' credit as ``lock_employers`` read it (current: they are locked)."""
        in_credit = {employer for employer, balance in balances.items() if balance > 0}
        in_credit |= {employer for employer, _, _, _ in released}
        lots_of = await repo.credit_lots_of(conn, sorted(in_credit))
        changed: set[str] = set()
        if released:
            paid_by = await repo.paid_by_of(conn, [(e, p, f) for e, p, f, _ in released])
            releases = []
            for employer, period, fund, amount in released:
                lots = release(paid_by.get((employer, period, fund), []), amount, f"{employer} {period} {fund}")
                releases += [(employer, period, fund, lot) for lot in lots]
                for lot in lots:
                    lots_of[employer] = add_lot(lots_of.get(employer, []), lot)
                changed.add(employer)
                metrics.RELEASED_VND.labels(fund).inc(amount)
            await repo.record_releases(conn, releases)
        return await self._use_credit(conn, lots_of, changed)

    async def _use_credit(self, conn: asyncpg.Connection, lots_of: dict[str, list[CreditLot]], changed: set[str]
                          ) -> list[outbox.OutboxMessage]:
        """Apply the (locked) employers' credit ``lots_of``, oldest first, to their open obligations, and store
        the lots of those whose lots were used or ``changed`` before: a few statements for all of them."""
        open_of = await repo.open_obligations_of(conn, sorted(lots_of))
        order = self.law.allocation_order_on(self.business_date())
        allocations, left_of, events = [], {}, []
        for employer in sorted(lots_of):
            used, left = apply_credit(lots_of[employer], open_of.get(employer, []), order)
            balance = sum(lot.remaining for lot in left)
            for lot, lines in used:
                allocations.append((employer, lot.payment_id, lot.value_date, lines))
                events.append(self._allocated_event(employer, lot.payment_id, lot.value_date, lines, balance, None))
            if used or employer in changed:
                left_of[employer] = left
        await repo.apply_allocations(conn, allocations)
        await repo.replace_credit(conn, left_of)
        return events

    # ---- remittances ---------------------------------------------------------------------------
    async def handle_remittances(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, PermanentError]]:
        refused: list[tuple[Incoming, PermanentError]] = []
        work: list[tuple[Incoming, _Receipts]] = []
        for item in batch:
            try:
                work.append((item, self._remittance_commands(item)))
            except CollectionError as exc:
                refused.append((item, exc))
                metrics.REMITTANCES.labels("refused").inc()
        if not work:
            return refused
        async with self.pool_of().acquire() as conn:
            async with conn.transaction():
                refused += await self._take_remittances(conn, work)
            await self.refresh_gauges(conn)  # after the commit: a gauge read needs no lock of this transaction
        return refused

    async def _take_remittances(self, conn: asyncpg.Connection, work: list[tuple[Incoming, "_Receipts"]]
                                ) -> list[tuple[Incoming, PermanentError]]:
        refused: list[tuple[Incoming, PermanentError]] = []
        new = await inbox.claim(conn, SCHEMA, REMITTANCES, [i.envelope.event_id for i, _ in work],
                                [i.digest for i, _ in work])
        fresh = []
        for item, receipts in work:
            if item.envelope.event_id in new:
                new.discard(item.envelope.event_id)  # a duplicate inside the batch counts once
                fresh.append((item, receipts))
            else:
                metrics.REMITTANCES.labels("duplicate_event").inc()
        named = {c.employer_code for _, r in fresh for c in r.commands if c.employer_code}
        read_from_text = {c.employer_code for _, r in fresh for c in r.commands if c.must_be_known}
        # Known before locking: locking creates the employer's row, which would make any code "known". A
        # code a trusted payment of this batch names (RemittanceReceived) is known by that payment.
        trusted = {c.employer_code for _, r in fresh for c in r.commands if c.employer_code and not c.must_be_known}
        unknown = read_from_text - trusted - await repo.known_employers(conn, read_from_text)
        # First, and in code order (see lock_employers); the balances it read stay current while locked.
        ledger = await self._ledger(conn, await repo.lock_employers(conn, named - unknown))
        events = []
        for item, receipts in fresh:
            problems = list(receipts.problems)
            for command in receipts.commands:
                try:
                    events += await self._take(conn, command, unknown, ledger)
                except PaymentIdConflict as exc:
                    metrics.REMITTANCES.labels("conflict").inc()
                    problems.append(exc)
            if problems:
                refused.append((item, _refusal(problems, len(receipts.commands))))
                # Not claimed: a replay after a fix re-checks the message; what it recorded is keyed by
                # payment id, so a replay records nothing twice.
                await inbox.unclaim(conn, SCHEMA, REMITTANCES, item.envelope.event_id)
        await self._write(conn, ledger)
        await outbox.append(conn, SCHEMA, events)
        return refused

    @staticmethod
    def _remittance_commands(item: Incoming) -> "_Receipts":
        env, message = item.envelope, item.message
        if isinstance(message, wire.RemittanceReceived):
            return _Receipts([record_remittance(message, env.event_id, env.correlation_id)], [])
        notification = parse_credit_notification(message.document, message.bank_bin)
        commands = [RecordRemittance(c.payment_id, c.employer_code, c.amount, c.value_date, c.bank_reference,
                                     env.event_id, env.correlation_id, bank_bin=message.bank_bin, must_be_known=True,
                                     unidentified_reason=c.unidentified_reason, detail=c.detail)
                    for c in notification.credits]
        problems = []
        for entry in notification.refused:
            metrics.ENTRIES_NOT_CREDITED.labels(entry.code).inc()
            if entry.code not in NOT_MONEY_IN:
                problems.append(InvalidRemittance(f"entry {entry.reference}: {entry.code}: {entry.reason}"))
        return _Receipts(commands, problems)

    async def _take(self, conn: asyncpg.Connection, c: RecordRemittance, unknown: set[str],
                    ledger: Ledger) -> list[outbox.OutboxMessage]:
        """Record one receipt: a payment allocated to its employer, or an unidentified one held in suspense."""
        employer = None if c.employer_code in unknown else c.employer_code
        recorded = await repo.record_receipt(conn, c.payment_id, employer, c.amount, c.value_date, c.bank_reference,
                                             c.bank_bin)
        if recorded is not None:
            check_same_payment(c.payment_id, recorded, employer, c.amount, c.value_date)
            metrics.REMITTANCES.labels("duplicate_payment").inc()
            return []
        if employer is None:
            reason = c.unidentified_reason or "unknown_employer"
            detail = c.detail if c.unidentified_reason else \
                "the unit code in the remittance information is not an employer collection knows"
            await repo.hold_in_suspense(conn, c.payment_id, reason, detail)
            metrics.REMITTANCES.labels("suspense").inc()
            return []
        metrics.REMITTANCES.labels("recorded").inc()
        events, _, _ = self._pay(ledger, employer, c.payment_id, c.amount, c.value_date, c)
        return events

    async def _ledger(self, conn: asyncpg.Connection, balances: dict[str, int]) -> Ledger:
        """The open obligations and credit of the locked employers (``balances``, from ``lock_employers``),
        two statements for all of them."""
        return Ledger(await repo.open_obligations_of(conn, sorted(balances)),
                      await repo.credit_lots_of(conn, sorted(e for e, credit in balances.items() if credit > 0)))

    @staticmethod
    async def _write(conn: asyncpg.Connection, ledger: Ledger) -> None:
        await repo.apply_allocations(conn, ledger.allocations)
        await repo.replace_credit(conn, {employer: ledger.lots_of[employer] for employer in ledger.changed})

    def _pay(self, ledger: Ledger, employer: str, payment_id: str, amount: int, value_date: date,
             command: RecordRemittance | None) -> tuple[list[outbox.OutboxMessage], int, int]:
        """Allocate a new payment of a locked employer in ``ledger``; returns the events, what the payment paid
        and the credit balance after it. The one path for every payment: from a bank message and from an
        operator's assignment."""
        used, after_credit, lines, balance = ledger.pay(
            employer, payment_id, amount, value_date, self.law.allocation_order_on(self.business_date()),
            self.law.allocation_order_on(value_date))
        events = [self._allocated_event(employer, lot.payment_id, lot.value_date, used_lines, after_credit, command)
                  for lot, used_lines in used]
        return events + [self._allocated_event(employer, payment_id, value_date, lines, balance, command)], \
            sum(a for _, _, a in lines), balance

    # ---- suspense --------------------------------------------------------------------------------
    async def suspense_list(self, assigned: bool | None) -> list[asyncpg.Record]:
        async with self.pool_of().acquire() as conn:
            return await repo.suspense_receipts(conn, assigned)

    async def assign_receipt(self, principal: auth.Principal, command: AssignReceipt) -> dict:
        """An operator assigns an unidentified receipt to an employer: it is allocated as that employer's
        payment with its original payment id and value date, and the decision is audited, in one transaction."""
        async with self.pool_of().acquire() as conn, conn.transaction():
            if not await repo.known_employers(conn, [command.employer_code]):
                raise UnknownEmployer(f"employer {command.employer_code} is unknown to collection (no declaration "
                                      "or payment yet): check the code, or assign after its first declaration")
            balances = await repo.lock_employers(conn, [command.employer_code])
            receipt = await repo.lock_receipt(conn, command.receipt_id)
            if receipt is None:
                raise ReceiptNotFound(f"no unidentified receipt {command.receipt_id}")
            if receipt["assigned_to"] is not None:
                raise ReceiptAlreadyAssigned(f"receipt {command.receipt_id} is already assigned to "
                                             f"{receipt['assigned_to']}")
            payment_id, amount, value_date = receipt["payment_id"], receipt["amount"], receipt["value_date"]
            await repo.assign_receipt(conn, command.receipt_id, payment_id, command.employer_code, principal.name)
            ledger = await self._ledger(conn, balances)
            events, allocated, balance = self._pay(ledger, command.employer_code, payment_id, amount, value_date, None)
            await self._write(conn, ledger)
            await outbox.append(conn, SCHEMA, events)
            await auth.audit(conn, SCHEMA, principal, "suspense.assign", str(command.receipt_id), command.reason,
                             {"employer_code": command.employer_code, "payment_id": payment_id, "amount": amount})
        async with self.pool_of().acquire() as conn:
            await self.refresh_gauges(conn)
        metrics.REMITTANCES.labels("assigned").inc()
        return {"id": command.receipt_id, "payment_id": payment_id, "employer_code": command.employer_code,
                "amount": amount, "value_date": value_date.isoformat(), "assigned_by": principal.name,
                "allocated": allocated, "credit_balance": balance}

    @staticmethod
    async def refresh_gauges(conn: asyncpg.Connection) -> None:
        await Collection._refresh_credit_gauges(conn)
        count, held = await repo.suspense_totals(conn)
        metrics.SUSPENSE_RECEIPTS.set(count)
        metrics.SUSPENSE_VND.set(held)

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


def event_ids(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs, as text, from one read of the OS's random source: ``uuid4()`` makes a
    system call and a ``UUID`` object per id, then the envelope formats it again, several µs a declaration."""
    hexes = os.urandom(16 * n).hex()
    return [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
            for h in (hexes[i:i + 32] for i in range(0, 32 * n, 32))]


_VARIANT = {f"{i:x}": "89ab"[i & 3] for i in range(16)}  # RFC 4122 variant: the top two bits are 10


@dataclass
class _Receipts:
    """What one remittance message brings: payments to record, and problems to report (camt.054 entries)."""

    commands: list[RecordRemittance]
    problems: list[CollectionError]


def check_same_payment(payment_id: str, recorded, employer: str | None, amount: int, value_date: date) -> None:
    """A payment id seen again is the same payment if amount, value date and employer agree (an employer that
    is not known on one side, a receipt in suspense, does not disagree); else ``PaymentIdConflict``."""
    differ = [name for name, same in (
        ("amount", recorded["amount"] == amount), ("value_date", recorded["value_date"] == value_date),
        ("employer_code", recorded["employer_code"] is None or employer is None or recorded["employer_code"] == employer))
        if not same]
    if differ:
        raise PaymentIdConflict(
            f"payment id {payment_id} is already recorded with a different {', '.join(differ)}; the recorded payment "
            "is unchanged. If this is another payment, it needs its own id; if the recorded one was wrong, an "
            "operator must correct it")


def _refusal(problems: list[CollectionError], credits: int) -> CollectionError:
    """One DLQ reason for a message whose receipts were partly or not at all taken."""
    if len(problems) == 1 and credits <= 1:
        return problems[0]
    taken = credits - sum(isinstance(p, PaymentIdConflict) for p in problems)
    return CreditsRefused(f"camt.054: {len(problems)} problem(s); the document's other {taken} credit(s) were taken "
                          "and a replay takes nothing twice: " + "; ".join(str(p) for p in problems))
