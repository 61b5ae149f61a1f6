"""Interest paid: collection's allocations to fund ``interest``, recorded for the employer's statement.

A consumer of ``collection.allocations`` of its own (inbox consumer ``arrears-interest``, Kafka group
``<app id>.interest.collection.allocations``): core's ledger handler keeps the principal lines and skips the
interest ones; this one keeps only those, summed per employer, period and value date in one upsert per batch.
"""
from __future__ import annotations

from datetime import date
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.decoding import Incoming
from schemas.collection import RemittanceAllocated
from services.arrears.workers import first_day

CONSUMER = "arrears-interest"
SCHEMA = "arrears"

UPSERT = f"""
    INSERT INTO {SCHEMA}.interest_payments (employer_code, period, value_date, amount)
    SELECT e, p, v, sum(a) FROM unnest($1::text[], $2::date[], $3::date[], $4::bigint[]) AS t(e, p, v, a)
    GROUP BY e, p, v ORDER BY e, p, v
    ON CONFLICT (employer_code, period, value_date) DO UPDATE
    SET amount = interest_payments.amount + EXCLUDED.amount"""


def interest_lines(batch: Sequence[Incoming], new: set) -> list[tuple[str, date, date, int]]:
    rows = []
    for item in batch:
        m = item.message
        if isinstance(m, RemittanceAllocated) and item.envelope.event_id in new:
            new.discard(item.envelope.event_id)  # the same event twice in one batch counts once
            rows += [(m.employer_code, first_day(line.period), m.value_date, line.amount)
                     for line in m.lines if line.fund == "interest" and line.amount > 0]
    return rows


class InterestPaid:
    def __init__(self, pool_of: Callable[[], asyncpg.Pool]):
        self.pool_of = pool_of

    async def handle(self, batch: Sequence[Incoming]) -> None:
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, CONSUMER, [i.envelope.event_id for i in batch],
                                    [i.digest for i in batch])
            rows = interest_lines(batch, new)
            if rows:
                await conn.execute(UPSERT, *map(list, zip(*rows)))
