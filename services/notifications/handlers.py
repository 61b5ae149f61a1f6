"""Handlers: a batch of decoded messages in, one transaction out (inbox rows, contacts, pending notifications).

Each input topic's handler claims the batch's event ids in the inbox in the same transaction as what they
cause, so a redelivered event creates nothing (and the notifications' unique key (event, participant,
channel) holds even if it did). Notifications publish nothing: the rows are what delivery sends.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.consumer import Rejections
from ansinh.runtime.decoding import Incoming, Tombstone
from services.notifications import metrics, repository as repo
from services.notifications.commands import EraseContact, StoreContact, contact_command, newest_per_participant
from services.notifications.domain.errors import InvalidTombstoneKey
from services.notifications.domain.digest import due_at, summed
from services.notifications.render import Renderer
from services.notifications.triggers import Composed, Effects, Trigger, compose, digest_trigger, effects_of

log = logging.getLogger("services.notifications")
SCHEMA = "notifications"
CONTACTS_TOPIC = "participants.contacts"
EVENT_TOPICS = ("collection.assessments", "arrears.events", "payments.events", "benefits.awards")
DIGEST_SWEEP_BATCH = 500
CONTACT_ERASED = "contact_erased"  # why a notification was cancelled (last_error, metric label)


class Notifications:
    """The core's handlers (one instance per process, holding the renderer, the digest delay and the clock)."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], renderer: Renderer, digest_delay_s: float | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), keep_triggers_s: float = 0.0):
        self.pool_of, self.renderer = pool_of, renderer
        self.digest_delay_s, self.clock, self.keep_triggers_s = digest_delay_s, clock, keep_triggers_s

    # ---- participants.contacts ----------------------------------------------------------------------
    async def handle_contacts(self, batch: Sequence[Incoming | Tombstone]) -> Rejections:
        """Store newer contacts; a tombstone erases the participant's contact and cancels what was not sent
        to them (never sent to an erased address). Newest by (partition, offset), in the batch and in SQL."""
        commands, items, refused = [], [], []
        for item in batch:
            try:
                commands.append(contact_command(item))
                items.append(item)
            except InvalidTombstoneKey as exc:
                refused.append((item, exc))
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, CONTACTS_TOPIC, [c.event_id for c in commands],
                                    [i.digest for i in items])
            fresh = newest_per_participant([c for c in commands if c.event_id in new])
            stored = await repo.upsert_contacts(conn, [(c.contact, c.version, c.event_id) for c in fresh
                                                       if isinstance(c, StoreContact)])
            told = await self._tell_kept(conn, stored)
            erased = await repo.erase_contacts(conn, [c for c in fresh if isinstance(c, EraseContact)])
            cancelled = await repo.cancel_notifications(conn, erased, CONTACT_ERASED)
            forgotten = await repo.forget_kept_of(conn, erased)
        metrics.CONTACTS.labels("stored").inc(len(stored))
        metrics.CONTACTS.labels("erased").inc(len(erased))
        metrics.CONTACTS.labels("stale").inc(len(new) - len(stored) - len(erased))
        metrics.CANCELLED.labels(CONTACT_ERASED).inc(cancelled)
        metrics.KEPT_TRIGGERS.labels("erased").inc(forgotten)
        _count(told)
        return refused

    async def _tell_kept(self, conn: asyncpg.Connection, codes: Sequence[str]) -> Composed:
        """The kept triggers of participants whose contact just arrived, told now (once: told ones are
        forgotten in this transaction, and the notifications' unique key holds anyway); those the contact
        still gives no channel for stay kept."""
        kept = await repo.kept_for(conn, codes, self.clock())
        if not kept:
            return Composed()
        awards = await repo.awards_of(conn, [t.award_id for t in kept if t.award_id])
        composed = compose(kept, await repo.contacts_of(conn, codes), awards, self.renderer)
        composed.created = await repo.insert_notifications(conn, composed.notifications)
        told = list(dict.fromkeys((n.event_id, n.participant_code) for n in composed.notifications))
        await repo.forget_kept(conn, told)
        composed.told, composed.kept, composed.without_contact = len(told), [], []  # still kept: not again
        return composed

    # ---- events that tell participants something ----------------------------------------------------
    def handler_for(self, topic: str):
        """The handler of one event topic (its inbox consumer name is the topic)."""
        async def handle(batch: Sequence[Incoming]) -> None:
            await self.handle_events(topic, batch)
        return handle

    async def handle_events(self, topic: str, batch: Sequence[Incoming]) -> None:
        effects = effects_of(batch)  # pure: before the transaction
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, topic, [i.envelope.event_id for i in batch],
                                    [i.digest for i in batch])
            composed = await self._apply(conn, effects.only(new))
        _count(composed)

    async def _apply(self, conn: asyncpg.Connection, effects: Effects) -> Composed:
        await repo.upsert_awards(conn, effects.awards)  # first: an award and its suspension may share a batch
        # Assessments before adjustments: an adjustment always follows the assessment of its revision chain.
        await repo.record_assessments(conn, [(a.part, a.occurred_at, due_at(a.occurred_at, self.digest_delay_s))
                                             for a in effects.assessed if not a.delta])
        await repo.record_adjustments(conn, [a.part for a in effects.assessed if a.delta])
        return await self._notify(conn, effects.triggers)

    async def _notify(self, conn: asyncpg.Connection, triggers: Sequence[Trigger]) -> Composed:
        if not triggers:
            return Composed()
        awards = await repo.awards_of(conn, [t.award_id for t in triggers if t.award_id])
        codes = {t.participant_code for t in triggers if t.participant_code}
        codes |= {a.beneficiary_code for a in awards.values() if a.beneficiary_code}
        composed = compose(triggers, await repo.contacts_of(conn, codes), awards, self.renderer)
        composed.created = await repo.insert_notifications(conn, composed.notifications)
        if self.keep_triggers_s > 0:
            until = self.clock() + timedelta(seconds=self.keep_triggers_s)
            composed.newly_kept = await repo.keep_triggers(conn, composed.kept, until)
        return composed

    async def forget_expired_triggers(self) -> int:
        """Forget kept triggers whose time is up (no contact arrived): counted, never told."""
        async with self.pool_of().acquire() as conn:
            expired = await repo.forget_expired(conn, self.clock())
        metrics.KEPT_TRIGGERS.labels("expired").inc(expired)
        return expired

    # ---- the digest sweep ---------------------------------------------------------------------------
    async def emit_due_digests(self) -> int:
        """Emit the monthly digests that are due (in batches); returns how many were emitted."""
        emitted = 0
        while True:
            async with self.pool_of().acquire() as conn, conn.transaction():
                due = await repo.due_digests(conn, self.clock(), DIGEST_SWEEP_BATCH)
                triggers = [digest_trigger(d, at) for d, at in ((summed(parts), at) for _, parts, at in due) if d]
                composed = await self._notify(conn, triggers)
                await repo.mark_digests_emitted(conn, [key for key, _, _ in due])
            _count(composed)
            metrics.DIGESTS.inc(len(triggers))
            emitted += len(triggers)
            if len(due) < DIGEST_SWEEP_BATCH:
                return emitted


def _count(composed: Composed) -> None:
    """Metrics after the commit (a rolled-back transaction counts nothing)."""
    for (channel, message_type), n in Counter(composed.created).items():
        metrics.CREATED.labels(channel, message_type).inc(n)
    for message_type, n in Counter(composed.without_contact).items():
        metrics.WITHOUT_CONTACT.labels(message_type).inc(n)
    metrics.KEPT_TRIGGERS.labels("kept").inc(composed.newly_kept)
    metrics.KEPT_TRIGGERS.labels("told").inc(composed.told)
    for (how, message_type), n in Counter((r.sms_fallback, r.message_type) for r in composed.notifications
                                          if r.sms_fallback).items():
        metrics.SMS_SHORTENED.labels(how, message_type).inc(n)
