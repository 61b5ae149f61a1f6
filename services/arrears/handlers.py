"""Handlers of arrears' ledger: a batch of collection's events in, one transaction out (inbox claim + ledger).

Both handlers only add to sums (principal per debt; payments per debt and value date), so the order events
arrive in does not matter: an allocation before its assessment leaves the same ledger as in order. Every
change marks the debt ``changed``; the next accrual run recomputes it from its first day late.
"""
from __future__ import annotations

from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.decoding import Incoming
from ansinh.runtime.errors import PermanentError
from schemas.collection import ContributionAdjusted, ContributionAssessed
from services.arrears import repository as repo
from services.arrears.commands import add_principal, record_payments, sum_payments, sum_principal
from services.arrears.domain.errors import ArrearsError
from services.arrears.domain.law import Law

SCHEMA = "arrears"
# The ledger's inbox consumer name, for both topics (event ids are unique across them). The ops side's own
# consumers (workers, interest paid) claim under their own names.
CONSUMER = "arrears"

Refused = list[tuple[Incoming, PermanentError]]


class Ledger:
    """The ledger's handlers (one instance per process, holding the law)."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], law: Law):
        self.pool_of, self.law = pool_of, law

    async def handle_assessments(self, batch: Sequence[Incoming]) -> Refused:
        """ContributionAssessed / ContributionAdjusted add to the principal. UnderDeclarationFlagged changes no
        principal (the ops side records it with its own consumer): claimed, nothing else."""
        refused: Refused = []
        work = []
        for item in batch:
            try:
                work.append((item, add_principal(self.law, item.message)
                             if isinstance(item.message, (ContributionAssessed, ContributionAdjusted)) else []))
            except ArrearsError as exc:
                refused.append((item, exc))
        await self._apply(work, repo.add_principal, sum_principal)
        return refused

    async def handle_allocations(self, batch: Sequence[Incoming]) -> Refused:
        await self._apply([(item, record_payments(item.message)) for item in batch], repo.add_payments, sum_payments)
        return []

    async def _apply(self, work, write, summed) -> None:
        if not work:
            return
        async with self.pool_of().acquire() as conn, conn.transaction():
            await repo.share_ledger(conn)
            new = await inbox.claim(conn, SCHEMA, CONSUMER, [item.envelope.event_id for item, _ in work],
                                    [item.digest for item, _ in work])
            fresh = []
            for item, commands in work:
                if item.envelope.event_id in new:
                    new.discard(item.envelope.event_id)  # a duplicate inside the batch counts once
                    fresh += commands
            await write(conn, summed(fresh))
