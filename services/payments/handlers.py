"""Handlers of benefits.awards: a batch of award events in, one transaction out (entitlements, their history,
deaths, the inbox rows). Refused events are returned for the DLQ and their inbox claims given back, so a
redelivery checks them again."""
from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.decoding import Incoming
from ansinh.runtime.errors import PermanentError
from services.payments import metrics, repository as repo
from services.payments.commands import (ChangeChannel, ChangeStatus, RecordAward, RecordDeath, Translated,
                                        award_command)
from services.payments.domain import entitlements as rules
from services.payments.domain.errors import PaymentsError

SCHEMA = "payments"
AWARDS = "benefits.awards"  # the inbox consumer name


class _Batch:
    """What one batch changes, built event by event in offset order, written at the end."""

    def __init__(self, current: dict[str, rules.Entitlement], deaths: dict):
        self.current, self.deaths = current, deaths
        self.changed: dict[str, rules.Entitlement] = {}
        self.channels: list = []
        self.history: list = []
        self.new_deaths: list = []

    def put(self, entitlement: rules.Entitlement) -> None:
        self.current[entitlement.award_id] = entitlement
        self.changed[entitlement.award_id] = entitlement


class Awards:
    """Entitlements from benefits.awards (one instance per process)."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool]):
        self.pool_of = pool_of

    async def handle_awards(self, batch: Sequence[Incoming]) -> list[tuple[Incoming, PermanentError]]:
        refused: list[tuple[Incoming, PermanentError]] = []
        translated = []
        for item in batch:
            try:
                translated.append((item, award_command(item.message, item.envelope.event_id)))
            except PaymentsError as exc:
                refused.append((item, exc))
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, AWARDS, [t.event_id for _, t in translated],
                                    [i.digest for i, _ in translated])
            fresh = [(i, t) for i, t in translated if t.event_id in new]
            new.clear()  # an event repeated inside the batch is applied once
            state = await self._load(conn, [t for _, t in fresh])
            outcomes: Counter[tuple[str, str]] = Counter()
            given_back = []
            for item, t in fresh:
                try:
                    outcomes[(t.kind, self._apply(state, t))] += 1
                except PaymentsError as exc:
                    refused.append((item, exc))
                    given_back.append(t.event_id)
            # Give back the claims of what was refused here: a redelivery is checked again. Only these: an
            # event refused before the claim may carry the id of one processed earlier, whose row must stay.
            await inbox.unclaim(conn, SCHEMA, AWARDS, given_back)
            await self._save(conn, state)
        for (kind, outcome), n in outcomes.items():
            metrics.AWARD_EVENTS.labels(kind, outcome).inc(n)
        for _, exc in refused:
            metrics.AWARD_EVENTS_REFUSED.labels(getattr(exc, "code", "rejected")).inc()
        return refused

    @staticmethod
    async def _load(conn: asyncpg.Connection, commands: list[Translated]) -> _Batch:
        award_ids = {t.command.award_id if not isinstance(t.command, RecordAward) else t.command.entitlement.award_id
                     for t in commands if not isinstance(t.command, RecordDeath)}
        codes = {t.command.beneficiary_code for t in commands if isinstance(t.command, RecordDeath)}
        codes |= {t.command.entitlement.beneficiary_code for t in commands if isinstance(t.command, RecordAward)}
        current = await repo.lock_entitlements(conn, sorted(award_ids), sorted(codes))
        codes |= {e.beneficiary_code for e in current.values()}
        return _Batch(current, await repo.deaths(conn, sorted(codes)))

    @staticmethod
    def _apply(b: _Batch, t: Translated) -> str:
        """Check then apply one command to the batch's state; returns the outcome (raises a PaymentsError)."""
        c, eid = t.command, t.event_id
        if isinstance(c, RecordAward):
            award = c.entitlement
            current = b.current.get(award.award_id)
            outcome = rules.check_award(current, b.deaths.get(award.beneficiary_code), award)
            if outcome != "unchanged":
                updated = rules.apply_award(current, award)
                b.put(updated)
                if current is None or current.channel != award.channel:
                    b.channels.append((award.award_id, updated.channel_from, award.channel, eid))
                b.history.append((award.award_id, outcome, award.first_period, eid))
            return outcome
        if isinstance(c, ChangeStatus):
            current = b.current.get(c.award_id)
            check = {"suspended": rules.check_suspension, "terminated": rules.check_termination}.get(c.status)
            outcome = check(current) if check else rules.check_resumption(current, c.from_period)
            b.put(rules.apply_status(current, c.status, c.from_period))
            b.history.append((c.award_id, t.kind if outcome != "recorded" else f"{t.kind}_recorded", c.from_period,
                              eid))
            return outcome
        if isinstance(c, ChangeChannel):
            current = b.current.get(c.award_id)
            outcome = rules.check_channel_change(current)
            b.put(rules.apply_channel(current, c.channel, c.from_period))
            b.channels.append((c.award_id, c.from_period, c.channel, eid))
            b.history.append((c.award_id, "channel_changed", c.from_period, eid))
            return outcome
        return Awards._apply_death(b, c, eid)

    @staticmethod
    def _apply_death(b: _Batch, c: RecordDeath, eid) -> str:
        """A death is a record: kept even for someone payments has never paid (a later award is then refused)."""
        if c.beneficiary_code in b.deaths:
            return "recorded"
        b.deaths[c.beneficiary_code] = c.date_of_death
        b.new_deaths.append((c.beneficiary_code, c.date_of_death))
        for e in [e for e in b.current.values() if e.beneficiary_code == c.beneficiary_code]:
            b.put(rules.apply_death(e, c.date_of_death))
            b.history.append((e.award_id, "deceased", b.current[e.award_id].status_from, eid))
        return "deceased"

    @staticmethod
    async def _save(conn: asyncpg.Connection, b: _Batch) -> None:
        await repo.save_entitlements(conn, b.changed.values())
        await repo.save_channel_changes(conn, b.channels)
        await repo.save_award_changes(conn, b.history)
        await repo.record_deaths(conn, b.new_deaths)
        await repo.stop_payments_after_death(conn, b.new_deaths)
