"""Reconciliation per run and per bank batch, and the record of which pain.001 part carried which payment.

A run (or a bank batch) is reconciled by counting its payments, and their VND, by where they are:

- ``sent``: every payment that left (bank: sent, accepted, settled, rejected, rerouted, returned; cash: the
  same plus paid and unclaimed);
- ``settled``: the money arrived (bank: settled; cash: paid);
- ``rejected``: not paid where it was sent (a bank said no: rejected and waiting for its retry, rerouted to
  cash, returned; or cash left unclaimed);
- ``outstanding``: sent and nothing final yet (sent, accepted; cash not yet reported).

It **adds up** when settled + rejected + outstanding = sent, in count and in VND, and (for a run) when the
payments carry what the run declared at approval, (for a batch) when its items carry what its pain.001
header declared. A mismatch is reported in the view and counted in
``payments_reconciliation_mismatches_total{scope}``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Sequence

import asyncpg

from services.payments import metrics
from services.payments.iso.pain001 import Pain001Part

SENT = ("sent", "accepted", "settled", "rejected", "rerouted", "returned", "paid", "unclaimed")
SETTLED = ("settled", "paid")
REJECTED = ("rejected", "rerouted", "returned", "unclaimed")
OUTSTANDING = ("sent", "accepted")
# A rerouted payment that was then paid or left unclaimed is still, for the bank, a rejection: a bank batch
# counts it as rerouted, the run counts it by the payment's state (paid: settled).


@dataclass(frozen=True)
class Tally:
    count: int
    amount: int


@dataclass(frozen=True)
class Reconciliation:
    scope: str                       # "run" or "batch"
    subject: str                     # the period or the pain.001 message id
    sent: Tally
    settled: Tally
    rejected: Tally
    outstanding: Tally
    declared: Tally | None           # what the run or the pain.001 header declared
    mismatches: tuple[str, ...]

    @property
    def adds_up(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict:
        out = asdict(self)
        out["adds_up"] = self.adds_up
        out["mismatches"] = list(self.mismatches)
        return out


def check(scope: str, subject: str, tallies: dict[str, Tally], declared: Tally | None) -> Reconciliation:
    """Pure: the mismatches of a reconciliation, each in words (no personal data: counts and VND only)."""
    sent, settled, rejected, outstanding = (tallies.get(k, Tally(0, 0))
                                            for k in ("sent", "settled", "rejected", "outstanding"))
    mismatches = []
    parts = (settled.count + rejected.count + outstanding.count, settled.amount + rejected.amount + outstanding.amount)
    if parts != (sent.count, sent.amount):
        mismatches.append(f"settled + rejected + outstanding = {parts[0]} payments, {parts[1]:,} VND; "
                          f"sent = {sent.count} payments, {sent.amount:,} VND")
    if declared is not None and (declared.count, declared.amount) != (sent.count, sent.amount):
        mismatches.append(f"declared {declared.count} payments, {declared.amount:,} VND; "
                          f"sent {sent.count} payments, {sent.amount:,} VND")
    return Reconciliation(scope, subject, sent, settled, rejected, outstanding, declared, tuple(mismatches))


def _tallies(row) -> dict[str, Tally]:
    return {k: Tally(row[f"{k}_count"], row[f"{k}_amount"]) for k in ("sent", "settled", "rejected", "outstanding")}


_BY_STATE = """
    count(*) FILTER (WHERE {state} = ANY(${n}::text[])) AS sent_count,
    coalesce(sum({amount}) FILTER (WHERE {state} = ANY(${n}::text[])), 0)::bigint AS sent_amount,
    count(*) FILTER (WHERE {state} = ANY(${n1}::text[])) AS settled_count,
    coalesce(sum({amount}) FILTER (WHERE {state} = ANY(${n1}::text[])), 0)::bigint AS settled_amount,
    count(*) FILTER (WHERE {state} = ANY(${n2}::text[])) AS rejected_count,
    coalesce(sum({amount}) FILTER (WHERE {state} = ANY(${n2}::text[])), 0)::bigint AS rejected_amount,
    count(*) FILTER (WHERE {state} = ANY(${n3}::text[])) AS outstanding_count,
    coalesce(sum({amount}) FILTER (WHERE {state} = ANY(${n3}::text[])), 0)::bigint AS outstanding_amount
"""


def _by_state(state: str, amount: str, first: int) -> str:
    return _BY_STATE.format(state=state, amount=amount, n=first, n1=first + 1, n2=first + 2, n3=first + 3)


STATE_SETS = (list(SENT), list(SETTLED), list(REJECTED), list(OUTSTANDING))


async def reconcile_run(conn: asyncpg.Connection, period: date) -> Reconciliation | None:
    """The run's payments by where they are, against what the run declared when it was approved."""
    run = await conn.fetchrow("SELECT total_payments, total_amount, state FROM runs WHERE period = $1", period)
    if run is None:
        return None
    row = await conn.fetchrow(f"SELECT {_by_state('state', 'amount', 2)} FROM payments "
                              "WHERE run_period = $1 AND state <> 'stopped'", period, *STATE_SETS)
    declared = Tally(run["total_payments"], run["total_amount"]) if run["state"] == "sent" else None
    result = check("run", f"{period:%Y-%m}", _tallies(row), declared)
    if result.mismatches:
        metrics.RECONCILIATION_MISMATCHES.labels("run").inc()
    return result


async def reconcile_batch(conn: asyncpg.Connection, message_id: str) -> Reconciliation | None:
    """A pain.001 part's items by the state of the attempt it carried (a later attempt is another batch's:
    for this one the attempt was rejected), against the count and control sum its header declared."""
    batch = await conn.fetchrow("SELECT number_of_transactions, control_sum FROM bank_batches WHERE message_id = $1",
                                message_id)
    if batch is None:
        return None
    row = await conn.fetchrow(
        f"SELECT {_by_state('item_state', 'amount', 2)} FROM ("
        "  SELECT i.amount, CASE WHEN p.attempt > i.attempt THEN 'rejected' "
        "                        WHEN p.state IN ('paid', 'unclaimed') THEN 'rerouted' ELSE p.state END AS item_state "
        "  FROM bank_batch_items i JOIN payments p ON p.payment_id = i.payment_id WHERE i.message_id = $1) items",
        message_id, *STATE_SETS)
    result = check("batch", message_id, _tallies(row), Tally(batch["number_of_transactions"], batch["control_sum"]))
    if result.mismatches:
        metrics.RECONCILIATION_MISMATCHES.labels("batch").inc()
    return result


async def record_parts(conn: asyncpg.Connection, run_period: date | None, parts: Sequence[Pain001Part],
                       items: dict[str, tuple[str, int, int]]) -> None:
    """Record pain.001 parts sent (in the transaction that appends their PaymentBatchIssued to the outbox):
    ``items`` maps each EndToEndId to (payment id, attempt, amount). A group-level pain.002 status applies to
    these rows, and the batch reconciliation reads them."""
    await conn.executemany(
        "INSERT INTO bank_batches (message_id, bank_bin, run_period, part, parts, number_of_transactions, "
        "control_sum) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING",
        [(p.message_id, p.bank_bin, run_period, p.part, p.parts, p.number_of_transactions, p.control_sum)
         for p in parts])
    await conn.copy_records_to_table(
        "bank_batch_items", schema_name="payments",
        records=[(p.message_id, e2e, *items[e2e]) for p in parts for e2e in p.end_to_end_ids],
        columns=["message_id", "end_to_end_id", "payment_id", "attempt", "amount"])


async def batch_view(conn: asyncpg.Connection, message_id: str) -> dict | None:
    """A bank batch with its items (payment, attempt, amount, state, last status and reason) and its
    reconciliation. No names or account numbers: the bank has those; the operator looks them up by payment."""
    batch = await conn.fetchrow("SELECT * FROM bank_batches WHERE message_id = $1", message_id)
    if batch is None:
        return None
    items = await conn.fetch(
        "SELECT i.end_to_end_id, i.payment_id, i.attempt, i.amount, p.state, p.reason_code, "
        "  (SELECT s.status FROM status_reports s WHERE s.payment_id = i.payment_id AND s.attempt = i.attempt "
        "   AND s.source = 'bank' ORDER BY s.id DESC LIMIT 1) AS last_status "
        "FROM bank_batch_items i JOIN payments p ON p.payment_id = i.payment_id "
        "WHERE i.message_id = $1 ORDER BY i.end_to_end_id", message_id)
    reconciliation = await reconcile_batch(conn, message_id)
    return {"message_id": batch["message_id"], "bank_bin": batch["bank_bin"],
            "run_period": f"{batch['run_period']:%Y-%m}" if batch["run_period"] else None,
            "part": batch["part"], "parts": batch["parts"],
            "number_of_transactions": batch["number_of_transactions"], "control_sum": batch["control_sum"],
            "items": [dict(i) for i in items], "reconciliation": reconciliation.as_dict()}
