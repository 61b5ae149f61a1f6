"""Interest payable: arrears' late-payment interest becomes obligations of fund ``interest`` (docs/arrears.md,
"Interest payable").

Collection consumes ``arrears.events`` (inbox consumer ``collection.interest``): each ``InterestAssessed`` line
adds to the obligation (employer, period, ``interest``), each ``InterestCorrected`` line adds or takes away
(signed). The obligation is then paid like any other: the law tables' allocation order puts ``interest`` last
within a period, so an employer's money settles its contributions first; what a negative correction frees
returns to the employer's credit through the same release as a downward revision. The employer's credit is
used on new interest at once, and every allocation goes out as ``RemittanceAllocated`` (arrears records the
``interest`` lines as interest paid). The other arrears events (status, workers) are not collection's business.

The interest obligation's ``due_date`` is the business date of the run that charged it (it is payable at once).
"""
from __future__ import annotations

from datetime import date
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox, outbox
from ansinh.runtime.decoding import Incoming
from schemas.arrears import InterestAssessed, InterestCorrected
from services.collection import repository as repo

CONSUMER = "collection.interest"
SCHEMA = "collection"
FUND = "interest"


def interest_deltas(batch: Sequence[Incoming], new: set) -> dict[tuple[str, date, str], list]:
    """(employer, month, ``interest``) -> [signed amount, due date] of the newly claimed interest events."""
    deltas: dict[tuple[str, date, str], list] = {}
    for item in batch:
        m = item.message
        if not isinstance(m, (InterestAssessed, InterestCorrected)) or item.envelope.event_id not in new:
            continue
        new.discard(item.envelope.event_id)  # the same event twice in one batch counts once
        for line in m.lines:
            key = (m.employer_code, date(int(line.period[:4]), int(line.period[5:7]), 1), FUND)
            delta = deltas.setdefault(key, [0, m.business_date])
            delta[0] += line.amount
            delta[1] = max(delta[1], m.business_date)
    return {k: v for k, v in deltas.items() if v[0] != 0}


class InterestObligations:
    """Handler of ``arrears.events`` in collection; ``collection`` is the service's ``Collection`` handlers
    (their credit logic: release, then use the employer's credit on what is open)."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], collection):
        self.pool_of, self.collection = pool_of, collection

    async def handle(self, batch: Sequence[Incoming]) -> None:
        ours = [i for i in batch if isinstance(i.message, (InterestAssessed, InterestCorrected))]
        if not ours:
            return
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, CONSUMER, [i.envelope.event_id for i in ours],
                                    [i.digest for i in ours])
            deltas = interest_deltas(ours, new)
            if not deltas:
                return
            # Money paths lock their employers first (repository.lock_employers), then change obligations.
            balances = await repo.lock_employers(conn, {employer for employer, _, _ in deltas})
            released = await repo.add_to_obligations(conn, deltas)
            events = await self.collection._release_and_use_credit(conn, balances, released)
            await outbox.append(conn, SCHEMA, events)
