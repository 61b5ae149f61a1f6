"""Bank and cash status: what banks (pain.002, or its JSON form) and paying offices report, applied to payments.

One transaction per batch: the inbox claim, the payments' new states, the status history, the retries due
and the events (payments.events, and a cash order for a payment moved to cash) through the outbox. Every
payment a batch touches is locked first, in id order, so two reports about one payment apply one after the
other and each beneficiary's events are appended in commit order.

A message that names a payment we never sent (an unknown EndToEndId, a pain.002 answering a message we
never sent), a bank reporting on another bank's payment, or a paying office on another office's payment,
is refused whole: nothing of it is applied, its event id is not claimed, and it goes to the DLQ with the
reason (so a replay after the cause is fixed applies it; applying a report twice changes nothing anyway).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Sequence

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from ansinh.runtime import inbox, outbox
from ansinh.runtime.decoding import Incoming
from ansinh.runtime.errors import PermanentError
from schemas import payments as wire
from services.payments import fraud, metrics, repository as repo
from services.payments.domain.calendar import PaymentCalendar
from services.payments.domain.errors import PaymentsError
from services.payments.domain.runs import cash_place
from services.payments.domain.states import (RetryPolicy, State, Step, after_rejection, bank_step, cash_step,
                                             retry_end_to_end_id)
from services.payments.iso.pain001 import Debtor, TransferItem, build_batches
from services.payments.iso.pain002 import StatusReport, parse_status_report
from services.payments.reconcile import record_parts

SCHEMA = "payments"
PRODUCER = "payments"
EVENTS, CASH_ORDERS, ORDERS = "payments.events", "payments.cash-orders", "payments.orders"
BANK_CONSUMER, CASH_CONSUMER = "payments.bank-status", "payments.cash-status"
NON_COLLECTION_MONTHS = 6  # Law 58/2014 Art. 64, carried into the 2024 law
_RETRY_ID = re.compile(r"(?P<payment>.+)-R(?P<attempt>[0-9]{2})")


class StatusSettings(BaseSettings):
    """The bank side's settings (environment variables ANSINH_PAYMENTS_...)."""

    model_config = SettingsConfigDict(env_prefix="ANSINH_PAYMENTS_", extra="ignore")

    retry_max_attempts: int = 3          # transfers per payment, the first one included
    retry_first_delay_s: int = 3600      # before the second attempt; doubled for each further one
    retry_max_delay_s: int = 86_400
    retry_check_interval_s: float = 30.0  # how often due retries are looked for
    retry_batch: int = 5000               # retries sent per transaction
    watch_interval_s: float = 60.0        # how often payments_runs_late is refreshed

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_max_attempts, self.retry_first_delay_s, self.retry_max_delay_s)


class StatusError(PaymentsError):
    code = "status_refused"


class UnknownPayment(StatusError):
    """A status for a payment (EndToEndId or payment id) this service never sent."""

    code = "unknown_payment"


class UnknownOriginalMessage(StatusError):
    """A pain.002 whose group or block status would apply to a pain.001 message we never sent."""

    code = "unknown_original_message"


class StatusNotApplicable(StatusError):
    """A status that cannot be about this payment (another bank's, another office's, another channel's)."""

    code = "status_not_applicable"


@dataclass(frozen=True)
class Report:
    """One status about one attempt of one payment."""

    payment_id: str
    attempt: int
    end_to_end_id: str
    status: str
    reason_code: str | None
    message_id: str | None


@dataclass(frozen=True)
class Fallback:
    """A group or block status for the transactions of ``message_id`` the document does not list."""

    message_id: str
    status: str
    reason_code: str | None
    listed: frozenset[str]


@dataclass
class _Work:
    item: Incoming
    reports: list[Report]
    fallback: Fallback | None = None
    bank_bin: str = ""


def attempt_of(end_to_end_id: str) -> tuple[str, int]:
    """(payment id, attempt) an EndToEndId stands for: the first attempt carries the payment id itself, a
    retry ``<payment id>-Rnn`` (``domain.states.retry_end_to_end_id``)."""
    found = _RETRY_ID.fullmatch(end_to_end_id)
    if found and int(found["attempt"]) >= 2:
        return found["payment"], int(found["attempt"])
    return end_to_end_id, 1


def reports_of_json(message: wire.BankPaymentStatusReported) -> list[Report]:
    payment_id, attempt = attempt_of(message.end_to_end_id)
    return [Report(payment_id, attempt, message.end_to_end_id, message.status, message.reason_code,
                   message.original_message_id)]


def reports_of_document(report: StatusReport) -> tuple[list[Report], Fallback | None]:
    """Transaction statuses of the document, and the group/block status for the transactions it does not list.
    A transaction without a status of its own takes its block's, then the group's."""
    reports, listed, fallback_status, fallback_reason = [], set(), None, None
    applicable = {"ACCP", "ACTC", "ACSP", "ACWC", "ACWP", "ACFC", "ACSC", "ACCC", "RJCT"}
    if report.group_status in applicable:
        fallback_status, fallback_reason = report.group_status, report.group_reason
    for block in report.blocks:
        block_status = block.status if block.status in applicable else fallback_status
        block_reason = block.reason_code if block.status in applicable else fallback_reason
        if block.status in applicable:
            fallback_status, fallback_reason = block.status, block.reason_code  # one block per part: ours
        for tx in block.transactions:
            status = tx.status or block_status
            if tx.end_to_end_id is None or status is None or status in ("PDNG", "RCVD"):
                continue  # nothing to match or nothing new
            payment_id, attempt = attempt_of(tx.end_to_end_id)
            listed.add(tx.end_to_end_id)
            reports.append(Report(payment_id, attempt, tx.end_to_end_id, status,
                                  tx.reason_code or (block_reason if status == "RJCT" else None),
                                  report.original_message_id))
    fallback = (Fallback(report.original_message_id, fallback_status, fallback_reason, frozenset(listed))
                if fallback_status else None)
    return reports, fallback


class Status:
    """Handlers of payments.bank-status and payments.cash-status, and the retry sender."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], calendar: PaymentCalendar, settings: StatusSettings,
                 today: Callable[[], date], payment_point_prefixes: Sequence[str] = ("DCT",),
                 debtor: Debtor | None = None):
        self.pool_of, self.calendar, self.settings, self.today = pool_of, calendar, settings, today
        self.debtor = debtor  # the fund's paying account: retries also go out as pain.001 when it is set
        self.policy = settings.policy()
        self.payment_point_prefixes = tuple(payment_point_prefixes)

    # ---- payments.bank-status -------------------------------------------------------------------------
    async def handle_bank_status(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, PermanentError]]:
        refused: list[tuple[Incoming, PermanentError]] = []
        work: list[_Work] = []
        for item in batch:
            try:
                work.append(self._read_bank(item))
            except PaymentsError as exc:
                refused.append((item, exc))
                metrics.STATUS_REPORTS.labels("bank", "refused").inc()
        if work:
            effects = _Effects()
            async with self.pool_of().acquire() as conn, conn.transaction():
                refused += await self._apply_bank(conn, work, effects)
            effects.count_metrics()  # once committed: a batch bisected and tried again counts once
        return refused

    def _read_bank(self, item: Incoming) -> _Work:
        message = item.message
        if isinstance(message, wire.BankStatusReportReceived):
            reports, fallback = reports_of_document(parse_status_report(message.document))
            return _Work(item, reports, fallback, message.bank_bin)
        return _Work(item, reports_of_json(message), None, message.bank_bin)

    async def _apply_bank(self, conn: asyncpg.Connection, work: list[_Work],
                          effects: "_Effects") -> list[tuple[Incoming, PermanentError]]:
        new = await inbox.claim(conn, SCHEMA, BANK_CONSUMER, [w.item.envelope.event_id for w in work],
                                [w.item.digest for w in work])
        fresh = []
        for w in work:
            if w.item.envelope.event_id in new:
                new.discard(w.item.envelope.event_id)
                fresh.append(w)
            else:
                metrics.STATUS_REPORTS.labels("bank", "duplicate_event").inc()
        await self._expand_fallbacks(conn, fresh)
        rows = await repo.lock_payments(conn, sorted({r.payment_id for w in fresh for r in w.reports}))
        rejected = sorted({r.payment_id for w in fresh for r in w.reports if r.status == "RJCT"} & rows.keys())
        offices = await _paying_offices(conn, rejected) if rejected else {}
        dead = await _deceased(conn, rejected) if rejected else set()
        refused = []
        for w in fresh:
            problem = self._check_bank(w, rows)
            if problem is not None:
                await inbox.unclaim(conn, SCHEMA, BANK_CONSUMER, w.item.envelope.event_id)
                refused.append((w.item, problem))
                metrics.STATUS_REPORTS.labels("bank", "refused").inc()
                continue
            for report in w.reports:
                self._apply_bank_report(w, report, rows, offices, effects, dead)
        await effects.write(conn)
        return refused

    async def _expand_fallbacks(self, conn: asyncpg.Connection, work: list[_Work]) -> None:
        for w in work:
            if w.fallback is None:
                continue
            items = await conn.fetch("SELECT end_to_end_id, payment_id, attempt FROM bank_batch_items "
                                     "WHERE message_id = $1 ORDER BY end_to_end_id", w.fallback.message_id)
            if not items:
                w.reports = []  # refused in _check_bank: a group status for a message we never sent
                w.fallback = Fallback(w.fallback.message_id, "unknown", None, frozenset())
                continue
            f = w.fallback
            w.reports += [Report(i["payment_id"], i["attempt"], i["end_to_end_id"], f.status,
                                 f.reason_code if f.status == "RJCT" else None, f.message_id)
                          for i in items if i["end_to_end_id"] not in f.listed]

    @staticmethod
    def _check_bank(w: _Work, rows: dict[str, asyncpg.Record]) -> PermanentError | None:
        if w.fallback is not None and w.fallback.status == "unknown":
            return UnknownOriginalMessage("pain.002 OrgnlMsgId: a group or payment block status answers a pain.001 "
                                          "message this service never sent")
        unknown = sum(1 for r in w.reports if r.payment_id not in rows)
        if unknown:
            return UnknownPayment(f"end_to_end_id: {unknown} of {len(w.reports)} statuses name a payment this "
                                  "service never sent")
        for r in w.reports:
            row = rows[r.payment_id]
            if row["sent_at"] is None:  # stopped (or not yet sent): no bank has it; not a late report
                return UnknownPayment("end_to_end_id: names a payment this service never sent (it never left)")
            if row["bank_bin"] is None:  # never a transfer (a payment moved to cash keeps its bank: late reports)
                return StatusNotApplicable("end_to_end_id: a bank status for a payment made in cash")
            if row["bank_bin"] != w.bank_bin:
                return StatusNotApplicable("bank_bin: the status comes from another bank than the payment was "
                                           "sent to")
            if r.attempt > row["attempt"]:
                return UnknownPayment("end_to_end_id: names an attempt of the payment that was never sent")
            try:
                bank_step(State(row["state"]), row["attempt"], r.attempt, r.status)
            except ValueError as exc:
                return StatusNotApplicable(f"status: {exc}")
        return None

    def _apply_bank_report(self, w: _Work, r: Report, rows: dict, offices: dict, effects: "_Effects",
                           dead: set[str] = frozenset()) -> None:
        row = rows[r.payment_id]
        step = bank_step(State(row["state"]), row["attempt"], r.attempt, r.status)
        effects.history.append((r.payment_id, r.attempt, "bank", w.bank_bin, r.message_id, r.status, r.reason_code,
                                step.outcome, str(step.state), w.item.envelope.event_id))
        effects.count(metrics.STATUS_REPORTS, "bank", step.outcome)
        if step.outcome != "changed":
            return
        effects.count(metrics.BANK_STATUSES, w.bank_bin, r.status)
        if step.state == State.REJECTED:
            rows[r.payment_id] = self._rejected(w, r, row, offices.get(r.payment_id), effects,
                                                r.payment_id in dead)
            return
        rows[r.payment_id] = effects.change(row, state=step.state)
        if step.state == State.SETTLED:
            effects.event(w.item, row, wire.PaymentSettled(**_facts(row), channel="bank", bank_bin=row["bank_bin"],
                                                           attempt=r.attempt))
            effects.count(metrics.PAYMENT_OUTCOMES, "settled")

    def _rejected(self, w: _Work, r: Report, row, office: tuple | None, effects: "_Effects", dead: bool = False):
        effects.count(metrics.REJECTIONS, w.bank_bin, r.reason_code or "none")
        # Reported deceased since the transfer left: the money comes back to the fund, never sent again or to cash.
        decision = "return" if dead else after_rejection(r.reason_code, r.attempt, office is not None, self.policy)
        effects.event(w.item, row, wire.PaymentRejected(**_facts(row), channel="bank", bank_bin=row["bank_bin"],
                                                        attempt=r.attempt, reason_code=r.reason_code,
                                                        next_step=decision))
        effects.count(metrics.PAYMENT_OUTCOMES, {"reroute": "rerouted", "retry": "retried", "return": "returned"}[decision])
        if decision == "retry":
            due = datetime.now(timezone.utc) + timedelta(seconds=self.policy.delay(r.attempt))
            effects.retries.append((r.payment_id, r.attempt + 1, due, r.reason_code))
            return effects.change(row, state=State.REJECTED, reason_code=r.reason_code)
        if decision == "return":
            effects.event(w.item, row, wire.PaymentReturned(**_facts(row), channel="bank", reason_code=r.reason_code,
                                                            attempts=r.attempt))
            return effects.change(row, state=State.RETURNED, reason_code=r.reason_code)
        paying_office, home_delivery = office
        pay_from, pay_until = self._cash_window(paying_office)
        effects.event(w.item, row, wire.PaymentReroutedToCash(**_facts(row), channel="cash", paying_office=paying_office,
                                                              reason_code=r.reason_code, pay_from=pay_from,
                                                              pay_until=pay_until))
        effects.orders.append(outbox.event(CASH_ORDERS, paying_office, wire.CashPaymentOrdered(
            payment_id=row["payment_id"], award_id=row["award_id"], period=_period(row["period"]),
            amount=row["amount"], beneficiary_code=row["beneficiary_code"],
            beneficiary_name=row["beneficiary_name"], citizen_id=row["citizen_id"], paying_office=paying_office,
            home_delivery=home_delivery, pay_from=pay_from, pay_until=pay_until), PRODUCER,
            correlation_id=w.item.envelope.correlation_id, causation_id=w.item.envelope.event_id))
        return effects.change(row, state=State.REROUTED, reason_code=r.reason_code, channel="cash",
                              paying_office=paying_office)

    def _cash_window(self, paying_office: str) -> tuple[date, date]:
        """The paying office's next window that has not ended: this month's, or next month's."""
        today = self.today()
        place = cash_place(paying_office, self.payment_point_prefixes)
        for month in (today.replace(day=1), (today.replace(day=28) + timedelta(days=4)).replace(day=1)):
            window = self.calendar.cash_window(f"{month:%Y-%m}", place)
            if window.pay_until >= today:
                return max(window.pay_from, today), window.pay_until
        raise AssertionError("a month always has a window ahead")  # pragma: no cover

    # ---- retries ----------------------------------------------------------------------------------------
    async def send_due_retries(self) -> int:
        """Send the next attempt of every rejected transfer whose backoff has passed (up to ``retry_batch``):
        a new PaymentOrderIssued with attempt + 1 and its own EndToEndId, for the next working day. Returns how
        many were sent. Several workers may run this: each due row is taken by one (SKIP LOCKED)."""
        async with self.pool_of().acquire() as conn, conn.transaction():
            due = await conn.fetch(
                "DELETE FROM retries_due WHERE payment_id IN (SELECT payment_id FROM retries_due WHERE due_at <= now() "
                "ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING payment_id, next_attempt",
                self.settings.retry_batch)
            if not due:
                return 0
            rows = await repo.lock_payments(conn, sorted(d["payment_id"] for d in due))
            execution = self.calendar.next_working_day(self.today() + timedelta(days=1))
            effects, sent = _Effects(), []
            for d in due:
                row = rows.get(d["payment_id"])
                if row is None or row["state"] != State.REJECTED or row["attempt"] != d["next_attempt"] - 1:
                    continue  # moved on meanwhile (e.g. stopped): nothing to send
                self._retry(row, d["next_attempt"], execution, effects)
                sent.append((row, d["next_attempt"]))
            await self._retry_batches(conn, sent, execution, effects)
            await effects.write(conn)
            await conn.execute("UPDATE payments p SET attempt = u.attempt, sent_at = now() "
                               "FROM unnest($1::text[], $2::int[]) AS u(payment_id, attempt) "
                               "WHERE p.payment_id = u.payment_id",
                               list(effects.updates), [u["attempt"] for u in effects.updates.values()])
        return len(sent)

    async def _retry_batches(self, conn: asyncpg.Connection, sent: list, execution: date, effects: "_Effects") -> None:
        """The retries as pain.001 too, one batch per bank (banks that take files only get them this way),
        recorded like the run's parts so that group statuses and the batch reconciliation cover them."""
        if self.debtor is None or not sent:
            return
        now = datetime.now(timezone.utc)
        for bank in sorted({row["bank_bin"] for row, _ in sent}):
            mine = [(row, attempt) for row, attempt in sent if row["bank_bin"] == bank]
            items = [TransferItem(retry_end_to_end_id(row["payment_id"], attempt), row["amount"], row["account_name"],
                                  bank, row["account_number"], f"BHXH {_period(row['period'])}") for row, attempt in mine]
            parts = build_batches(self.debtor, bank, execution, items, message_id_prefix=f"RT{now:%y%m%d%H%M%S%f}-{bank}",
                                  created_at=now)
            await record_parts(conn, None, parts, {i.end_to_end_id: (row["payment_id"], attempt, row["amount"])
                                                   for i, (row, attempt) in zip(items, mine)})
            effects.orders += [outbox.event_from_dict(ORDERS, bank, wire.PaymentBatchIssued, {
                "message_id": p.message_id, "bank_bin": p.bank_bin, "part": p.part, "parts": p.parts,
                "number_of_transactions": p.number_of_transactions, "control_sum": p.control_sum,
                "document": p.document}, PRODUCER) for p in parts]

    def _retry(self, row, attempt: int, execution: date, effects: "_Effects") -> None:
        end_to_end_id = retry_end_to_end_id(row["payment_id"], attempt)
        effects.orders.append(outbox.event(ORDERS, row["bank_bin"], wire.PaymentOrderIssued(
            payment_id=row["payment_id"], end_to_end_id=end_to_end_id, award_id=row["award_id"],
            period=_period(row["period"]), attempt=attempt, amount=row["amount"], creditor_name=row["account_name"],
            bank_bin=row["bank_bin"], account_number=row["account_number"], requested_execution_date=execution),
            PRODUCER))
        effects.events.append(outbox.event(EVENTS, row["beneficiary_code"], wire.PaymentSent(
            **_facts(row), channel="bank", bank_bin=row["bank_bin"], attempt=attempt), PRODUCER))
        effects.change(row, state=State.SENT, attempt=attempt)
        metrics.RETRIES_SENT.labels(row["bank_bin"]).inc()

    # ---- payments.cash-status -------------------------------------------------------------------------
    async def handle_cash_status(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, PermanentError]]:
        effects = _Effects()
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, CASH_CONSUMER, [i.envelope.event_id for i in batch],
                                    [i.digest for i in batch])
            fresh = []
            for item in batch:
                if item.envelope.event_id in new:
                    new.discard(item.envelope.event_id)
                    fresh.append(item)
                else:
                    metrics.STATUS_REPORTS.labels("cash", "duplicate_event").inc()
            rows = await repo.lock_payments(conn, sorted({i.message.payment_id for i in fresh}))
            refused, unclaimed = [], []
            for item in fresh:
                problem = _check_cash(item.message, rows)
                if problem is not None:
                    await inbox.unclaim(conn, SCHEMA, CASH_CONSUMER, item.envelope.event_id)
                    refused.append((item, problem))
                    metrics.STATUS_REPORTS.labels("cash", "refused").inc()
                    continue
                if self._apply_cash(item, rows, effects):
                    unclaimed.append((item, rows[item.message.payment_id]))
            await effects.write(conn)
            await self._non_collection(conn, unclaimed)
        effects.count_metrics()
        return refused

    def _apply_cash(self, item: Incoming, rows: dict, effects: "_Effects") -> bool:
        """Apply one paying office's report; True when it left the payment newly unclaimed."""
        message, row = item.message, rows[item.message.payment_id]
        step: Step = cash_step(State(row["state"]), message.outcome)
        effects.history.append((row["payment_id"], row["attempt"], "cash", message.paying_office, None,
                                message.outcome, None, step.outcome, str(step.state), item.envelope.event_id))
        effects.count(metrics.STATUS_REPORTS, "cash", step.outcome)
        if step.outcome != "changed":
            return False
        rows[message.payment_id] = effects.change(row, state=step.state)
        effects.count(metrics.PAYMENT_OUTCOMES, str(step.state))
        if step.state == State.PAID:
            effects.event(item, row, wire.CashPaymentCollected(**_facts(row), channel="cash",
                                                               paying_office=message.paying_office,
                                                               paid_at=message.paid_at))
            return False
        return True

    async def _non_collection(self, conn: asyncpg.Connection, unclaimed: list[tuple[Incoming, asyncpg.Record]]) -> None:
        """The 6-month rule: a beneficiary whose cash stayed unclaimed for the last 6 months in a row (no month
        in between paid or not yet reported) is suspended from the next month, once."""
        events = []
        for item, row in unclaimed:
            code, period = row["beneficiary_code"], row["period"]
            first = _add_months(period, -(NON_COLLECTION_MONTHS - 1))
            periods = await conn.fetchval(
                "SELECT array_agg(period ORDER BY period) FROM (SELECT p.period FROM payments p "
                "JOIN entitlements e ON e.award_id = p.award_id AND e.recurrence = 'monthly' "  # a one-off is no pension
                "WHERE p.beneficiary_code = $1 AND p.channel = 'cash' AND p.period BETWEEN $2 AND $3 "
                "GROUP BY p.period HAVING bool_and(p.state = 'unclaimed')) unclaimed", code, first, period)
            if not periods or len(periods) < NON_COLLECTION_MONTHS:
                continue
            from_period = _add_months(period, 1)
            inserted = await conn.fetchval(
                "INSERT INTO non_collection_suspensions (beneficiary_code, from_period, periods) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING RETURNING true", code, from_period, periods)
            if not inserted:
                continue
            for award_id in await repo.suspend_beneficiary(conn, code, from_period, item.envelope.event_id):
                events.append(outbox.event(EVENTS, code, wire.PaymentsSuspendedForNonCollection(
                    beneficiary_code=code, award_id=award_id, from_period=_period(from_period),
                    unclaimed_periods=[_period(p) for p in periods]), PRODUCER,
                    correlation_id=item.envelope.correlation_id, causation_id=item.envelope.event_id))
                metrics.NON_COLLECTION_SUSPENSIONS.inc()
        await outbox.append(conn, SCHEMA, events)


async def late_runs(conn: asyncpg.Connection, today: date) -> int:
    """Runs of a month that has begun whose orders have not all gone out although the month's execution date
    (or, never approved, its first day) has passed."""
    return await conn.fetchval(
        "SELECT count(*) FROM runs WHERE state <> 'sent' AND coalesce(execution_date, period) < $1", today)


def _check_cash(message: wire.CashPaymentReported, rows: dict) -> PermanentError | None:
    row = rows.get(message.payment_id)
    if row is None or row["sent_at"] is None:  # unknown, or stopped before it left: no office has it
        return UnknownPayment("payment_id: names a payment this service never ordered")
    if row["channel"] != "cash":
        return StatusNotApplicable("payment_id: a cash report for a payment made by bank transfer")
    if row["paying_office"] != message.paying_office:
        return StatusNotApplicable("paying_office: the payment was ordered at another paying office")
    try:
        cash_step(State(row["state"]), message.outcome)
    except ValueError as exc:
        return StatusNotApplicable(f"outcome: {exc}")
    return None


@dataclass
class _Effects:
    """What one batch writes: payments' new columns, status history, retries due, events."""

    updates: dict[str, dict] = field(default_factory=dict)
    history: list[tuple] = field(default_factory=list)
    retries: list[tuple] = field(default_factory=list)
    events: list[outbox.OutboxMessage] = field(default_factory=list)
    orders: list[outbox.OutboxMessage] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def count(self, metric, *labels: str) -> None:
        self.counts[(metric, labels)] += 1

    def count_metrics(self) -> None:
        for (metric, labels), n in self.counts.items():
            metric.labels(*labels).inc(n)

    def change(self, row, **columns) -> dict:
        updated = {**dict(row), **{k: (str(v) if isinstance(v, State) else v) for k, v in columns.items()}}
        self.updates[row["payment_id"]] = updated
        return updated

    def event(self, item: Incoming, row, message) -> None:
        self.events.append(outbox.event(EVENTS, row["beneficiary_code"], message, PRODUCER,
                                        correlation_id=item.envelope.correlation_id,
                                        causation_id=item.envelope.event_id))

    async def write(self, conn: asyncpg.Connection) -> None:
        if self.updates:  # one statement for the batch (a round trip per payment costs more than the update)
            columns = list(zip(*[(p, u["state"], u["reason_code"], u["channel"], u["paying_office"])
                                 for p, u in self.updates.items()]))
            await conn.execute(
                "UPDATE payments p SET state = u.state, reason_code = u.reason_code, channel = u.channel, "
                "paying_office = u.paying_office, updated_at = now() "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
                "  AS u(payment_id, state, reason_code, channel, paying_office) WHERE p.payment_id = u.payment_id",
                *[list(c) for c in columns])
        if self.history:
            await conn.copy_records_to_table(
                "status_reports", schema_name=SCHEMA, records=self.history,
                columns=["payment_id", "attempt", "source", "reporter", "message_id", "status", "reason_code",
                         "outcome", "state_after", "event_id"])
        if self.retries:
            await conn.executemany(
                "INSERT INTO retries_due (payment_id, next_attempt, due_at, reason_code) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (payment_id) DO UPDATE SET next_attempt = EXCLUDED.next_attempt, "
                "due_at = EXCLUDED.due_at, reason_code = EXCLUDED.reason_code", self.retries)
        await outbox.append(conn, SCHEMA, self.events + self.orders)


async def _paying_offices(conn: asyncpg.Connection, payment_ids: list[str]) -> dict[str, tuple[str, bool]]:
    """Where each payment could be paid in cash: its own paying office, its award's, or the last one the
    award ever had (most bank beneficiaries once took cash at a post office)."""
    rows = await conn.fetch(
        "SELECT p.payment_id, COALESCE(p.paying_office, e.paying_office, "
        "  (SELECT c.paying_office FROM channel_changes c WHERE c.award_id = p.award_id "
        "   AND c.paying_office IS NOT NULL ORDER BY c.changed_at DESC LIMIT 1)) AS office, "
        "  COALESCE(e.home_delivery, false) AS home_delivery "
        "FROM payments p LEFT JOIN entitlements e ON e.award_id = p.award_id WHERE p.payment_id = ANY($1::text[])",
        payment_ids)
    return {r["payment_id"]: (r["office"], r["home_delivery"]) for r in rows if r["office"]}


async def _deceased(conn: asyncpg.Connection, payment_ids: list[str]) -> set[str]:
    """The payments named that are for a month from their beneficiary's reported death on."""
    rows = await conn.fetch(
        "SELECT p.payment_id FROM payments p JOIN beneficiaries b ON b.beneficiary_code = p.beneficiary_code "
        "WHERE p.payment_id = ANY($1::text[]) AND p.period >= date_trunc('month', b.deceased_on)", payment_ids)
    return {r["payment_id"] for r in rows}


def _facts(row) -> dict:
    return dict(payment_id=row["payment_id"], beneficiary_code=row["beneficiary_code"], award_id=row["award_id"],
                period=_period(row["period"]), amount=row["amount"])


def _period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"  # strftime costs ten times more, once per payment


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def attach(app, runtime, settings) -> Status:
    """Wire the bank side into the payments app: both status topics and the retry sender (app.py calls it)."""
    import asyncio
    import logging

    from ansinh.runtime.service import consume
    from services.payments.domain.calendar import load_calendar

    status_settings = StatusSettings()
    handlers = Status(lambda: runtime.pool, load_calendar(settings.calendar_file), status_settings, settings.today,
                      settings.payment_point_prefixes, settings.debtor())
    consume(app, runtime, BANK_CONSUMER, handlers.handle_bank_status)
    consume(app, runtime, CASH_CONSUMER, handlers.handle_cash_status)
    log = logging.getLogger("services.payments.status")

    fraud_settings = fraud.FraudSettings()

    @app.task
    async def scan_for_fraud():
        await runtime.ready.wait()
        while True:
            try:
                async with runtime.pool.acquire() as conn:
                    await fraud.detect_recent(conn, settings.today(), fraud_settings)
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.warning("the fraud sweep failed", exc_info=True)
            await asyncio.sleep(fraud_settings.scan_interval_s)

    @app.task
    async def watch_runs():
        await runtime.ready.wait()
        while True:
            try:
                async with runtime.pool.acquire() as conn:
                    metrics.RUNS_LATE.set(await late_runs(conn, settings.today()))
            except Exception:  # noqa: BLE001 - a gauge is not worth a crash; read again next time
                log.warning("could not read the runs' progress", exc_info=True)
            await asyncio.sleep(status_settings.watch_interval_s)

    @app.task
    async def send_retries():
        await runtime.ready.wait()
        while True:
            try:
                while await handlers.send_due_retries() >= status_settings.retry_batch:
                    pass  # more are due: go on at once
            except Exception:  # noqa: BLE001 - the next round tries again; a retry is never lost (it stays due)
                log.warning("could not send the retries due", exc_info=True)
            await asyncio.sleep(status_settings.retry_check_interval_s)
    return handlers
