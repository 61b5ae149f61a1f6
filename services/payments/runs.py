"""Payment runs: prepare (set-based, in committed chunks), approve (maker-checker, audited), send (orders
through the outbox, set-based chunks). Each step can be repeated or resumed after a crash without creating or
sending anything twice: the unique key (award_id, period) and the run's cursors see to it."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable
from uuid import uuid4

import asyncpg

from ansinh.runtime import auth, failpoints, outbox
from schemas import payments as wire
from services.payments import metrics, reconcile, repository as repo
from services.payments.iso import pain001
from services.payments.domain.errors import (PreparerCannotApprove, RunAlreadyApproved, RunChanged, RunNotFound,
                                             RunNotPrepared)
from services.payments.domain.model import period_text, previous_period
from services.payments.domain.runs import Calendar, Total, cash_windows, difference, execution_date, totals

log = logging.getLogger("services.payments.runs")
SCHEMA, PRODUCER, EVENTS, ORDERS = "payments", "payments", "payments.events", "payments.orders"
APPROVED_STATES = ("approved", "sending", "sent")
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class RunSettings:
    chunk: int
    payment_point_prefixes: list[str]
    debtor: pain001.Debtor = pain001.Debtor("BAO HIEM XA HOI VIET NAM", "0000000000001", "970418")


class Runs:
    """A run's three steps; each opens its own transactions on ``pool_of()``."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], calendar: Calendar, settings: RunSettings):
        self.pool_of, self.calendar, self.settings = pool_of, calendar, settings

    # ---- prepare -------------------------------------------------------------------------------------------
    async def start_preparation(self, principal: auth.Principal, period: date, reason: str) -> dict:
        """Open (or reopen) the run for preparation, audited; refused once the run is approved."""
        async with self.pool_of().acquire() as conn, conn.transaction():
            run = await repo.open_run(conn, period, uuid4())
            if run["state"] in APPROVED_STATES:
                metrics.RUN_DECISIONS.labels("prepare", "refused").inc()
                raise RunAlreadyApproved(f"the run of {period_text(period)} is already {run['state']}; it cannot be "
                                         "prepared again")
            # A prepared run is scanned again from the start (awards may have arrived); an interrupted one resumes.
            await repo.drop_not_payable(conn, period)  # suspended or terminated since the last preparation
            await repo.begin_preparation(conn, period, principal.name, restart=run["state"] == "prepared")
            await auth.audit(conn, SCHEMA, principal, "payments.prepare", period_text(period), reason)
        metrics.RUN_DECISIONS.labels("prepare", "done").inc()
        return await self.view(period)

    async def prepare(self, principal: auth.Principal, period: date, reason: str = "monthly run",
                      progress: Progress | None = None) -> dict:
        """Prepare the run of ``period`` to the end (start_preparation, then every chunk, then the summary)."""
        await self.start_preparation(principal, period, reason)
        return await self.continue_preparation(principal, period, progress)

    async def continue_preparation(self, principal: auth.Principal, period: date,
                                   progress: Progress | None = None) -> dict:
        started = time.monotonic()
        async with self.pool_of().acquire() as conn:
            total = await repo.count_entitlements(conn)
            run = await repo.run(conn, period)
        cursor, done = run["prepare_cursor"], run["entitlements"]
        self._progress("prepare", done, total, progress)
        while True:
            async with self.pool_of().acquire() as conn, conn.transaction():
                run = await repo.run(conn, period, "FOR SHARE")  # an approval waits for this chunk, and vice versa
                if run["state"] in APPROVED_STATES:
                    raise RunAlreadyApproved(f"the run of {period_text(period)} was approved during preparation")
                cursor = max(cursor or "", run["prepare_cursor"] or "") or None
                chunk = await repo.prepare_chunk(conn, period, cursor, self.settings.chunk)
            if chunk["last"] is None:
                break
            failpoints.hit("payments.prepare.after_chunk")
            async with self.pool_of().acquire() as conn:
                await repo.advance_preparation(conn, period, chunk["last"], chunk["examined"])
            cursor, done = chunk["last"], done + chunk["examined"]
            for row in json.loads(chunk["created"]):
                metrics.PAYMENTS_PREPARED.labels(row["channel"]).inc(row["n"])
            self._progress("prepare", min(done, total), total, progress)
        summary = await self._finish_preparation(principal, period)
        metrics.RUN_SECONDS.labels("prepare").observe(time.monotonic() - started)
        return summary

    async def _finish_preparation(self, principal: auth.Principal, period: date) -> dict:
        async with self.pool_of().acquire() as conn, conn.transaction():
            run = await repo.run(conn, period, "FOR UPDATE")
            summary = await self._summary(conn, period, ("created",))
            if await repo.finish_preparation(conn, period, json.dumps(summary), summary["payments"],
                                             summary["amount"]):
                await outbox.append(conn, SCHEMA, [outbox.event(EVENTS, period_text(period), wire.PaymentRunPrepared(
                    period=period_text(period), payments=summary["payments"], total_amount=summary["amount"],
                    prepared_by=principal.name), PRODUCER, correlation_id=run["correlation_id"])])
            await self._refresh_state_gauges(conn, period)
        return await self.view(period)

    async def _summary(self, conn: asyncpg.Connection, period: date, states: tuple[str, ...]) -> dict:
        summary = totals(await repo.run_totals(conn, period, states))
        summary["difference"] = await self._difference(conn, period)
        return summary

    @staticmethod
    async def _difference(conn: asyncpg.Connection, period: date) -> dict:
        rows = await repo.difference_rows(conn, period, previous_period(period))
        new, changed, ended = Total(), Total(), {}
        previous, current, delta = Total(), Total(), 0
        for kind, n, cur, prev in rows:
            previous += Total(n if kind != "new" else 0, prev)
            current += Total(n if not kind.startswith("ended") else 0, cur)
            if kind == "new":
                new = Total(n, cur)
            elif kind == "changed":
                changed, delta = Total(n, cur), cur - prev
            elif kind.startswith("ended:"):
                ended[kind.removeprefix("ended:")] = Total(n, prev)
        return difference(previous, current, new, ended, changed, delta)

    # ---- approve -------------------------------------------------------------------------------------------
    async def approve(self, principal: auth.Principal, period: date, reason: str,
                      expected: tuple[int | None, int | None] | None = None) -> dict:
        """Maker-checker: a prepared run is approved by someone who did not prepare it, with the totals shown."""
        async with self.pool_of().acquire() as conn, conn.transaction():
            run = await repo.run(conn, period, "FOR UPDATE")
            try:
                self._check_approval(run, principal, period)
                payments, amount = await repo.unsent_totals(conn, period)
                if (payments, amount) != (run["total_payments"], run["total_amount"]):
                    raise RunChanged(f"the run of {period_text(period)} changed since its totals were computed "
                                     f"({run['total_payments']} payments shown, {payments} now): prepare it again "
                                     "and check the new totals")
                if await repo.count_not_payable(conn, period):
                    raise RunChanged(f"the run of {period_text(period)} pays awards suspended, terminated or ended "
                                     "since its totals were computed: prepare it again and check the new totals")
                if expected is not None and any(e is not None and e != actual
                                                for e, actual in zip(expected, (payments, amount))):
                    raise RunChanged(f"the run of {period_text(period)} has {payments} payments for {amount} VND, "
                                     "not the totals given with the approval: look at the run again")
            except Exception:
                metrics.RUN_DECISIONS.labels("approve", "refused").inc()
                raise
            day = execution_date(self.calendar, period)
            await repo.approve(conn, period, principal.name, day)
            await auth.audit(conn, SCHEMA, principal, "payments.approve", period_text(period), reason,
                             {"payments": payments, "amount": amount, "execution_date": day.isoformat()})
            await outbox.append(conn, SCHEMA, [outbox.event(EVENTS, period_text(period), wire.PaymentRunApproved(
                period=period_text(period), payments=payments, total_amount=amount, approved_by=principal.name,
                requested_execution_date=day), PRODUCER, correlation_id=run["correlation_id"])])
            await self._refresh_state_gauges(conn, period)
        metrics.RUN_DECISIONS.labels("approve", "done").inc()
        return await self.view(period)

    @staticmethod
    def _check_approval(run, principal: auth.Principal, period: date) -> None:
        if run is None:
            raise RunNotFound(f"no payment run for {period_text(period)}")
        if run["state"] in APPROVED_STATES:
            raise RunAlreadyApproved(f"the run of {period_text(period)} is already {run['state']} "
                                     f"(approved by {run['approved_by']})")
        if run["state"] != "prepared":
            raise RunNotPrepared(f"the run of {period_text(period)} is still being prepared; approve it once its "
                                 "totals are shown")
        if principal.name in run["preparers"]:
            raise PreparerCannotApprove(f"{principal.name} prepared the run of {period_text(period)} and so cannot "
                                        "approve it: a second operator must (maker-checker)")

    # ---- send ----------------------------------------------------------------------------------------------
    async def send(self, period: date, progress: Progress | None = None) -> dict:
        """Send an approved run's orders (resumes from its cursor after a crash); returns the run's view."""
        started = time.monotonic()
        async with self.pool_of().acquire() as conn, conn.transaction():
            run = await repo.run(conn, period, "FOR UPDATE")
            if run is None or run["state"] not in ("approved", "sending"):
                return await self.view(period)  # nothing to send (not approved, or already sent)
            await repo.begin_sending(conn, period)
        day, windows = run["execution_date"], cash_windows(self.calendar, period)
        patterns = [p.replace("%", r"\%").replace("_", r"\_") + "%" for p in self.settings.payment_point_prefixes]
        cursor, done, total = run["send_cursor"], run["sent_payments"], run["total_payments"]
        occurred_at = datetime.now(timezone.utc).isoformat()
        self._progress("send", done, total, progress)
        created_at = datetime.now(timezone.utc).replace(microsecond=0)
        batching: asyncio.Task | None = None
        while True:
            async with self.pool_of().acquire() as conn, conn.transaction():
                chunk = await repo.send_chunk(conn, period, cursor, self.settings.chunk, occurred_at,
                                              run["correlation_id"], day, patterns, windows)
            if chunk["last"] is None:
                break
            failpoints.hit("payments.send.after_chunk")
            after, cursor = cursor, chunk["last"]
            for row in json.loads(chunk["sent"]):
                metrics.PAYMENTS_SENT.labels(row["channel"]).inc(row["n"])
                metrics.AMOUNT_SENT_VND.labels(row["channel"]).inc(row["amount"])
                done += row["n"]
            self._progress("send", min(done, total), total, progress)
            # The chunk's pain.001 parts are built (in a thread) while the next chunk runs in the database.
            if batching is not None:
                await batching
            batching = asyncio.create_task(self._batch(period, run, after, cursor, created_at))
        if batching is not None:
            await batching
        await self._batch(period, run, 0, None, created_at)  # whatever a crash left sent but not batched
        log.info("run %s: %d payments sent with their pain.001 batches in %.1f s", period_text(period), done,
                 time.monotonic() - started)
        async with self.pool_of().acquire() as conn, conn.transaction():
            await repo.finish_sending(conn, period)
            await self._refresh_state_gauges(conn, period)
        metrics.RUN_SECONDS.labels("send").observe(time.monotonic() - started)
        return await self.view(period)

    async def _batch(self, period: date, run, after: int, up_to: int | None, created_at: datetime) -> None:
        """pain.001 parts (split under 1 MB) for each bank's payments of a range of the run that left and are in
        no part yet; recorded with their items and written to the outbox in one transaction, so a payment is in
        one part only, even after a crash. A bank's parts that do not add up to the count and VND the database
        gives for them are refused (BatchDoesNotAddUp): nothing of the range is then recorded or sent."""
        async with self.pool_of().acquire() as conn:
            rows = await repo.unbatched_transfers(conn, period, after, up_to)
        if not rows:
            return
        banks: dict[str, list] = {}
        for r in rows:
            banks.setdefault(r["bank_bin"], []).append(r)
        parts = await asyncio.to_thread(self._build, period, run["execution_date"], banks, created_at)
        async with self.pool_of().acquire() as conn, conn.transaction():
            await reconcile.record_parts(conn, period, parts,
                                         {r["payment_id"]: (r["payment_id"], 1, r["amount"]) for r in rows})
            await outbox.append(conn, SCHEMA, [self._batch_event(p, run["correlation_id"]) for p in parts])

    def _build(self, period: date, execution_date: date, banks: dict[str, list], created_at: datetime) -> list:
        parts = []
        for bank_bin, rows in banks.items():
            parts += pain001.build_batches(
                self.settings.debtor, bank_bin, execution_date,
                [pain001.TransferItem(r["payment_id"], r["amount"], r["account_name"], r["bank_bin"],
                                      r["account_number"], f"BHXH {period_text(period)}") for r in rows],
                message_id_prefix=f"P{period:%Y%m}-{bank_bin}-{rows[0]['id']}", created_at=created_at,
                declared=(rows[0]["bank_count"], int(rows[0]["bank_amount"])))
        return parts

    @staticmethod
    def _batch_event(part, correlation_id) -> outbox.OutboxMessage:
        # A dict, not the model: validating a 900 kB document costs as much as building it; the batch tests
        # decode these events with PaymentBatchIssued.
        return outbox.event_from_dict(ORDERS, part.bank_bin, wire.PaymentBatchIssued, {
            "message_id": part.message_id, "bank_bin": part.bank_bin, "part": part.part, "parts": part.parts,
            "number_of_transactions": part.number_of_transactions, "control_sum": part.control_sum,
            "document": part.document}, PRODUCER, correlation_id=correlation_id)

    async def send_unfinished(self) -> None:
        """At start-up: finish sending every run approved before a crash or a restart."""
        async with self.pool_of().acquire() as conn:
            periods = await repo.runs_to_send(conn)
        for period in periods:
            log.info("resuming the sending of the run of %s", period_text(period))
            await self.send(period)

    # ---- views -----------------------------------------------------------------------------------------------
    async def view(self, period: date) -> dict:
        async with self.pool_of().acquire() as conn:
            run = await repo.run(conn, period)
            if run is None:
                raise RunNotFound(f"no payment run for {period_text(period)}")
            states = await repo.run_states(conn, period)
            examined_of = await repo.count_entitlements(conn) if run["state"] == "preparing" else None
        return run_view(run, states, examined_of)

    @staticmethod
    def _progress(phase: str, done: int, total: int, progress: Progress | None) -> None:
        metrics.RUN_ROWS_DONE.labels(phase).set(done)
        metrics.RUN_ROWS_TOTAL.labels(phase).set(total)
        if progress:
            progress(phase, done, total)

    @staticmethod
    async def _refresh_state_gauges(conn: asyncpg.Connection, period: date) -> None:
        metrics.PAYMENTS_BY_STATE.clear()
        metrics.AMOUNT_BY_STATE.clear()
        for r in await repo.run_states(conn, period):
            metrics.PAYMENTS_BY_STATE.labels(r["channel"], r["state"]).set(r["n"])
            metrics.AMOUNT_BY_STATE.labels(r["channel"], r["state"]).set(int(r["amount"]))


def run_view(run, states, examined_of: int | None = None) -> dict:
    """What an operator sees of a run: its state, who did what, progress, totals and the payments by state."""
    # The phase the run is in, or the one it finished last (so a finished run still shows what it did).
    phase = "prepare" if run["state"] in ("preparing", "prepared") else "send"
    if phase == "prepare":
        done = run["entitlements"]
        total = examined_of if run["state"] == "preparing" else done
        done = min(done, total) if total is not None else done  # two preparers count the same rows twice
    else:
        done, total = run["sent_payments"], run["total_payments"]
    summary = json.loads(run["summary"]) if isinstance(run["summary"], str) else run["summary"]
    return {"period": period_text(run["period"]), "state": run["state"], "preparers": list(run["preparers"]),
            "prepared_at": _iso(run["prepared_at"]), "approved_by": run["approved_by"],
            "approved_at": _iso(run["approved_at"]),
            "execution_date": run["execution_date"].isoformat() if run["execution_date"] else None,
            "progress": {"phase": phase, "done": done, "total": total},
            "entitlements_examined": run["entitlements"], "payments": run["total_payments"],
            "amount": run["total_amount"], "sent": run["sent_payments"],
            "started_at": _iso(run["started_at"]), "finished_at": _iso(run["finished_at"]),
            "summary": summary,
            "by_state": [{"channel": r["channel"], "state": r["state"], "count": r["n"], "amount": int(r["amount"])}
                         for r in sorted(states, key=lambda r: (r["channel"], r["state"]))]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
