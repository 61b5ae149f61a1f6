"""Benchmark of bank status handling: a run's pain.002 reports applied to its payments.

    python -m bench.payments_status [--count 100000] [--reject-every 20] [--keep]

A private database and topics (``bench.payments_run.World``) are seeded with ``count`` entitlements, and the
run is prepared, approved and sent with the service's own code (not timed). Then each bank answers each
pain.001 part it received with one pain.002.001.12 document listing every transaction: ACSC, except one in
``reject-every`` rejected for a closed account (AC04: those with a known paying office move to cash). Timed:

* **system**: the service's handler (``services.payments.status.Status.handle_bank_status``) on the decoded
  envelopes, one document per batch, as the consumer calls it: safe XML parsing and XSD validation, the
  status logic, locks, state updates, status history, events and cash orders in the outbox, one transaction
  per document;
* **baseline** (its own process, same loop): the least any implementation must do with the same documents:
  find each ``OrgnlEndToEndId``/``TxSts`` with a regex (no validation) and set the states with one
  ``UPDATE ... FROM unnest(...)`` per document.

Then, timed once, the fraud sweep of the run (``services.payments.fraud.detect``, the four set-based queries).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import time
from datetime import date

import asyncpg
import orjson

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.settings import PlatformSettings
from bench.payments_run import PERIOD, World, seed, system
from schemas import payments as wire
from schemas.envelope import encode, new_envelope
from services.payments import fraud
from services.payments.domain.calendar import load_calendar
from services.payments.status import Status, StatusSettings

STATUS = re.compile(r"<OrgnlEndToEndId>([^<]+)</OrgnlEndToEndId><TxSts>([A-Z]{4})</TxSts>")


def document(message_id: str, transactions: list[tuple[str, str]], n: int) -> str:
    txs = "".join(f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>"
                  + ("<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>" if status == "RJCT" else "")
                  + "</TxInfAndSts>" for e2e, status in transactions)
    return ('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12">'
            f"<CstmrPmtStsRpt><GrpHdr><MsgId>STS-{n}</MsgId><CreDtTm>2026-01-02T16:00:00+07:00</CreDtTm></GrpHdr>"
            f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
            f"<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>{message_id}-1"
            f"</OrgnlPmtInfId>{txs}</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>")


async def reports(pool: asyncpg.Pool, reject_every: int) -> list[tuple[str, bytes]]:
    """(bank BIN, encoded envelope) per pain.001 part sent: its pain.002 answer."""
    async with pool.acquire() as conn:
        parts = await conn.fetch("SELECT message_id, bank_bin FROM bank_batches ORDER BY message_id")
        items = await conn.fetch("SELECT message_id, end_to_end_id FROM bank_batch_items ORDER BY message_id, "
                                 "end_to_end_id")
    by_part: dict[str, list[tuple[str, str]]] = {}
    for i, item in enumerate(items):
        by_part.setdefault(item["message_id"], []).append(
            (item["end_to_end_id"], "RJCT" if i % reject_every == 0 else "ACSC"))
    out = []
    for n, part in enumerate(parts):
        doc = document(part["message_id"], by_part[part["message_id"]], n)
        out.append((part["bank_bin"], encode(new_envelope(wire.BankStatusReportReceived(
            bank_bin=part["bank_bin"], document=doc), "bank"))))
    return out


async def timed_system(world: World, pool: asyncpg.Pool, envelopes: list[tuple[str, bytes]]) -> float:
    s = world.settings
    handler = Status(lambda: pool, load_calendar(s.calendar_file), StatusSettings(), lambda: date(2026, 1, 2),
                     s.payment_point_prefixes, s.debtor())
    decoder = Decoder((wire.BankPaymentStatusReported, wire.BankStatusReportReceived))
    started = time.perf_counter()
    for offset, (bank, value) in enumerate(envelopes):
        incoming = decoder.decode(RawMessage("payments.bank-status", 0, offset, bank.encode(), value))
        refused = await handler.handle_bank_status([incoming])
        assert not refused, refused
    return time.perf_counter() - started


def _baseline(url: str, envelopes: list[tuple[str, bytes]], out) -> None:
    async def run():
        conn = await asyncpg.connect(url, server_settings={"search_path": "payments"})
        try:
            started = time.perf_counter()
            for _, value in envelopes:
                found = STATUS.findall(orjson.loads(value)["payload"]["document"])
                async with conn.transaction():
                    await conn.execute("UPDATE payments p SET state = CASE s.status WHEN 'ACSC' THEN 'settled' "
                                       "ELSE 'rejected' END FROM unnest($1::text[], $2::text[]) AS s(e2e, status) "
                                       "WHERE p.payment_id = s.e2e", [e for e, _ in found], [t for _, t in found])
            out.put(time.perf_counter() - started)
        finally:
            await conn.close()
    asyncio.run(run())


async def main_async(args) -> None:
    world = World(PlatformSettings())
    pool = await world.create()
    try:
        await seed(pool, args.count)
        await system(world, pool, 50_000, "inline")  # the run that sends what the banks answer
        envelopes = await reports(pool, args.reject_every)
        async with pool.acquire() as conn:
            transfers = await conn.fetchval("SELECT count(*) FROM bank_batch_items")
            await conn.execute("CREATE TABLE bench_states AS SELECT payment_id, state FROM payments")
        print(f"{transfers:,} bank transfers in {len(envelopes)} pain.002 documents "
              f"({sum(len(v) for _, v in envelopes) / 1e6:.1f} MB)")
        took = await timed_system(world, pool, envelopes)
        async with pool.acquire() as conn:
            states = dict(await conn.fetch("SELECT state, count(*) FROM payments WHERE channel = 'bank' OR "
                                           "state = 'rerouted' GROUP BY state"))
            # the baseline starts from the same states
            await conn.execute("UPDATE payments p SET state = b.state FROM bench_states b "
                               "WHERE b.payment_id = p.payment_id")
        print(f"system   {took:7.2f} s: {transfers / took:,.0f} statuses/s   states after: {states}")
        out = multiprocessing.get_context("spawn").Queue()
        proc = multiprocessing.get_context("spawn").Process(
            target=_baseline, args=(world.settings.service_database_url, envelopes, out))
        proc.start()
        base = out.get()
        proc.join()
        print(f"baseline {base:7.2f} s: {transfers / base:,.0f} statuses/s (regex + one UPDATE per document)   "
              f"system / baseline: {took / base:.1f}x")
        async with pool.acquire() as conn:
            started = time.perf_counter()
            flags = await fraud.detect(conn, PERIOD, fraud.FraudSettings())
            print(f"fraud sweep of the run: {time.perf_counter() - started:.2f} s for {args.count:,} payments, "
                  f"{len(flags)} flags")
    finally:
        await pool.close()
        if not args.keep:
            await world.drop()
        else:
            print(f"kept database {world.dbname} and topics {world.prefix}*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="entitlements (four in five paid by bank)")
    parser.add_argument("--reject-every", type=int, default=20, help="one transfer in N rejected (AC04)")
    parser.add_argument("--keep", action="store_true", help="keep the database and topics to inspect")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
