"""The fair baseline: the least a collection pipeline must do to move the same messages, in its own process.

    python -m bench.baseline BOOTSTRAP PREFIX DATABASE_URL BATCH MESSAGES   (started by bench.declarations)

Same conditions as the service: its own process, uvloop, the service's garbage-collector threshold, the
same batch size, consumer options and pipelining (batch N+1 is fetched and decoded while batch N's
transaction and sends are in flight; offsets are committed after both). It does, per batch:

* consume ``<prefix>collection.declarations`` and ``<prefix>collection.remittances`` with plain aiokafka;
* decode every value as JSON (orjson);
* in one transaction, COPY one row per declaration into ``baseline.assessments`` (the columns of
  ``collection.assessments``, primary key on employer, worker, period and revision) and one row per
  remittance into ``baseline.remittances`` (the columns of ``collection.remittances``);
* produce one event per input (an envelope shaped like ContributionAssessed / RemittanceAllocated, built
  with orjson) to ``<prefix>collection.assessments`` / ``<prefix>collection.allocations``, acks=all,
  idempotent, appended straight into per-partition batches as the service's outbox relay does;
* commit the offsets once the transaction committed and the broker acknowledged the events.

It does not: validate against the schemas (pydantic), apply the law (floor, caps, rates, due dates),
deduplicate (inbox), look up earlier revisions, keep obligations or credit, allocate payments, flag
under-declarations, dead-letter anything, or pass events through an outbox table. That is the work the
service adds; the ratio says what it costs.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import uuid
from datetime import date

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

DDL = """
CREATE SCHEMA IF NOT EXISTS baseline;
CREATE TABLE baseline.assessments (
    employer_code text NOT NULL, worker_code text NOT NULL, period date NOT NULL, revision integer NOT NULL,
    worker_name text NOT NULL, citizen_id text NOT NULL, funds text[] NOT NULL, declared_salary bigint NOT NULL,
    social_base bigint NOT NULL, unemployment_base bigint NOT NULL, floor_applied boolean NOT NULL,
    cap_applied boolean NOT NULL, due_date date NOT NULL, lines jsonb NOT NULL, total bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (employer_code, worker_code, period, revision));
CREATE INDEX ON baseline.assessments (worker_code, period);
CREATE TABLE baseline.remittances (
    payment_id text PRIMARY KEY, employer_code text NOT NULL, amount bigint NOT NULL, value_date date NOT NULL,
    bank_reference text NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
"""
ASSESSMENT_COLUMNS = ("employer_code", "worker_code", "period", "revision", "worker_name", "citizen_id", "funds",
                      "declared_salary", "social_base", "unemployment_base", "floor_applied", "cap_applied",
                      "due_date", "lines", "total")
REMITTANCE_COLUMNS = ("payment_id", "employer_code", "amount", "value_date", "bank_reference")
# A fixed split standing in for the law's rates (the baseline applies no law): (fund, party, basis points).
RATES = (("sickness_maternity", "employer", 300), ("accident", "employer", 50), ("retirement", "employer", 1400),
         ("retirement", "employee", 800), ("health", "employer", 300), ("health", "employee", 150),
         ("unemployment", "employer", 100), ("unemployment", "employee", 100))


def tune_like_the_service() -> None:
    """The loop and collector settings of ``ansinh.runtime.service.run_worker`` (keep them in step)."""
    import uvloop

    gc.set_threshold(100_000, 20, 20)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def declaration_row(p: dict) -> tuple:
    salary = p["contribution_salary"]
    lines = [(f, party, salary * bps // 10000) for f, party, bps in RATES]
    first = date.fromisoformat(p["period"] + "-01")
    return (p["employer_code"], p["worker_code"], first, p["revision"], p["worker_name"], p["citizen_id"],
            p["funds"], salary, salary, salary, False, False, first, orjson.dumps(lines).decode(),
            sum(a for _, _, a in lines)), lines


def assessed_event(envelope: dict, row: tuple, lines: list) -> bytes:
    p = envelope["payload"]
    return _event("ContributionAssessed", envelope, {
        "employer_code": p["employer_code"], "worker_code": p["worker_code"], "worker_name": p["worker_name"],
        "period": p["period"], "revision": p["revision"], "due_date": row[12], "declared_salary": row[7],
        "social_salary_base": row[8], "unemployment_salary_base": row[9], "floor_applied": False,
        "cap_applied": False, "lines": [{"fund": f, "party": party, "amount": a} for f, party, a in lines],
        "total": row[14]})


def remittance_row(p: dict) -> tuple:
    return (p["payment_id"], p["employer_code"], p["amount"], date.fromisoformat(p["value_date"]),
            p["bank_reference"])


def allocated_event(envelope: dict) -> bytes:
    p = envelope["payload"]
    return _event("RemittanceAllocated", envelope, {
        "payment_id": p["payment_id"], "employer_code": p["employer_code"], "value_date": p["value_date"],
        "amount": p["amount"], "lines": [], "credit_balance": p["amount"]})


def _event(kind: str, cause: dict, payload: dict) -> bytes:
    event_id = str(uuid.uuid4())
    return orjson.dumps({"event_id": event_id, "type": kind, "schema_version": 1, "occurred_at": cause["occurred_at"],
                         "producer": "baseline", "correlation_id": cause["correlation_id"],
                         "causation_id": cause["event_id"], "payload": payload})


class Pipeline:
    def __init__(self, bootstrap: str, prefix: str, pool: asyncpg.Pool, batch: int):
        self.prefix, self.pool, self.batch = prefix, pool, batch
        self.consumer = AIOKafkaConsumer(
            prefix + "collection.declarations", prefix + "collection.remittances", bootstrap_servers=bootstrap,
            group_id=f"{prefix}baseline", enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=batch, fetch_max_bytes=32 * 1024 * 1024, max_partition_fetch_bytes=4 * 1024 * 1024)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                         linger_ms=5, max_batch_size=512 * 1024)
        self.partitioner, self.partitions = DefaultPartitioner(), {}

    async def start(self) -> None:
        await self.consumer.start()
        await self.producer.start()
        for logical in ("collection.assessments", "collection.allocations"):
            self.partitions[self.prefix + logical] = sorted(await self.producer.partitions_for(self.prefix + logical))

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def run(self, messages: int) -> None:
        done, in_flight = 0, None
        while done < messages:
            fetched = await self.consumer.getmany(timeout_ms=50, max_records=self.batch)
            work = self.decode(fetched) if fetched else None
            if in_flight is not None:
                await in_flight
                in_flight = None
            if work is not None:
                offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}
                in_flight = asyncio.create_task(self.write(*work, offsets))
                done += sum(len(r) for r in fetched.values())
        if in_flight is not None:
            await in_flight

    def decode(self, fetched: dict[TopicPartition, list]):
        declarations, remittances, events = [], [], []
        for tp, records in fetched.items():
            for r in records:
                envelope = orjson.loads(r.value)
                if tp.topic.endswith("collection.declarations"):
                    row, lines = declaration_row(envelope["payload"])
                    declarations.append(row)
                    events.append(("collection.assessments", r.key, assessed_event(envelope, row, lines)))
                else:
                    remittances.append(remittance_row(envelope["payload"]))
                    events.append(("collection.allocations", r.key, allocated_event(envelope)))
        return declarations, remittances, events

    async def write(self, declarations: list, remittances: list, events: list, offsets: dict) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if declarations:
                await conn.copy_records_to_table("assessments", schema_name="baseline", records=declarations,
                                                 columns=ASSESSMENT_COLUMNS)
            if remittances:
                await conn.copy_records_to_table("remittances", schema_name="baseline", records=remittances,
                                                 columns=REMITTANCE_COLUMNS)
        await self.produce(events)
        await self.consumer.commit(offsets)

    async def produce(self, events: list) -> None:
        batches, futures = {}, []
        for logical, key, value in events:
            topic = self.prefix + logical
            partition = self.partitioner(key, self.partitions[topic], self.partitions[topic])
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await self.producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = self.producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for (topic, partition), batch in batches.items():
            futures.append(await self.producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)


async def main_async(bootstrap: str, prefix: str, database_url: str, batch: int, messages: int) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute(DDL)
    await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    pipeline = Pipeline(bootstrap, prefix, pool, batch)
    await pipeline.start()
    try:
        gc.freeze()  # as the service does once it is ready
        print("ready", flush=True)  # the load generator starts its clock after this, as after the service's /ready
        await pipeline.run(messages)
    finally:
        await pipeline.stop()
        await pool.close()


def main() -> None:
    bootstrap, prefix, database_url, batch, messages = sys.argv[1:6]
    tune_like_the_service()
    asyncio.run(main_async(bootstrap, prefix, database_url, int(batch), int(messages)))


if __name__ == "__main__":
    main()
