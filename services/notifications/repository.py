"""The SQL of the notifications core (schema ``notifications``); every function runs on the caller's connection,
inside the caller's transaction."""
from __future__ import annotations

import json
from datetime import date, datetime
from itertools import groupby
from typing import Iterable, Sequence

import asyncpg

from services.notifications.commands import EraseContact
from services.notifications.domain.contacts import Contact, Version
from services.notifications.domain.digest import DigestPart
from services.notifications.triggers import AwardFacts, Notification, Trigger

S = "notifications"


async def upsert_contacts(conn: asyncpg.Connection, rows: Sequence[tuple[Contact, Version, object]]) -> list[str]:
    """Store each contact unless the stored one is as new or newer (``Version``: partition and offset, never
    the event time); returns the participants stored. ``rows``: (contact, version, event id), at most one per
    participant."""
    if not rows:
        return []
    stored = await conn.fetch(f"""
        INSERT INTO {S}.contacts AS c (participant_code, phone, email, app_token, language, channels, quiet_from,
                                       quiet_until, event_id, occurred_at, source_partition, source_offset)
        SELECT participant_code, phone, email, app_token, language, channels::text[], quiet_from, quiet_until,
               event_id, occurred_at, source_partition, source_offset
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::time[], $8::time[], $9::uuid[], $10::timestamptz[], $11::int[], $12::bigint[])
                      AS t(participant_code, phone, email, app_token, language, channels, quiet_from, quiet_until,
                           event_id, occurred_at, source_partition, source_offset)
        ON CONFLICT (participant_code) DO UPDATE SET
            phone = EXCLUDED.phone, email = EXCLUDED.email, app_token = EXCLUDED.app_token,
            language = EXCLUDED.language, channels = EXCLUDED.channels, quiet_from = EXCLUDED.quiet_from,
            quiet_until = EXCLUDED.quiet_until, event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at,
            source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset, updated_at = now(),
            erased_at = NULL
        WHERE (c.source_partition, c.source_offset) < (EXCLUDED.source_partition, EXCLUDED.source_offset)
        RETURNING participant_code""",
        [c.participant_code for c, *_ in rows], [c.phone for c, *_ in rows], [c.email for c, *_ in rows],
        [c.app_token for c, *_ in rows], [c.language for c, *_ in rows],
        # text[] per row travels as a '{...}' literal (unnest of a 2-D array would flatten it)
        [_array_literal(c.channels) for c, *_ in rows], [c.quiet_from for c, *_ in rows],
        [c.quiet_until for c, *_ in rows], [e for _, _, e in rows], [v.occurred_at for _, v, _ in rows],
        [v.partition for _, v, _ in rows], [v.offset for _, v, _ in rows])
    return [r["participant_code"] for r in stored]


async def erase_contacts(conn: asyncpg.Connection, rows: Sequence[EraseContact]) -> list[str]:
    """Empty each participant's contact details unless the stored record is as new or newer; the row stays
    (with the tombstone's partition and offset) so that a replay of an earlier record cannot restore them.
    Returns the participants erased."""
    if not rows:
        return []
    erased = await conn.fetch(f"""
        INSERT INTO {S}.contacts AS c (participant_code, language, channels, event_id, occurred_at, source_partition,
                                       source_offset, erased_at)
        SELECT code, NULL, '{{}}', event_id, NULL, p, o, now()
        FROM unnest($1::text[], $2::uuid[], $3::int[], $4::bigint[]) AS t(code, event_id, p, o)
        ON CONFLICT (participant_code) DO UPDATE SET
            phone = NULL, email = NULL, app_token = NULL, language = NULL, channels = '{{}}', quiet_from = NULL,
            quiet_until = NULL, event_id = EXCLUDED.event_id, occurred_at = NULL,
            source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset,
            erased_at = now(), updated_at = now()
        WHERE (c.source_partition, c.source_offset) < (EXCLUDED.source_partition, EXCLUDED.source_offset)
        RETURNING participant_code""",
        [r.participant_code for r in rows], [r.event_id for r in rows], [r.version.partition for r in rows],
        [r.version.offset for r in rows])
    return [r["participant_code"] for r in erased]


async def cancel_notifications(conn: asyncpg.Connection, codes: Sequence[str], reason: str) -> int:
    """Cancel every notification to ``codes`` not known to be sent, removing its address: pending ones, those
    in flight (``sending``: the dispatcher's outcome then finds the row cancelled and leaves it; what was
    handed to the channel already cannot be called back), and failed or uncertain ones (so no replay sends
    them). Returns how many."""
    if not codes:
        return 0
    done = await conn.fetch(f"""
        UPDATE {S}.notifications SET state = 'cancelled', last_error = $2, recipient = ''
        WHERE participant_code = ANY($1::text[]) AND state IN ('pending', 'sending', 'failed', 'uncertain')
        RETURNING id""", list(codes), reason)
    return len(done)


async def keep_triggers(conn: asyncpg.Connection, kept: Sequence[tuple[str, Trigger]], until: datetime) -> int:
    """Keep triggers that reached nobody until ``until``; one already kept (a redelivery) stays as it is.
    Returns how many were kept."""
    if not kept:
        return 0
    done = await conn.fetch(f"""
        INSERT INTO {S}.kept_triggers (event_id, participant_code, message_type, triggered_at, award_id, inputs,
                                       kept_until)
        SELECT e, p, t, at, a, i::jsonb, $7 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                                                        $5::text[], $6::text[]) AS k(e, p, t, at, a, i)
        ON CONFLICT DO NOTHING RETURNING event_id""",
        [t.event_id for _, t in kept], [p for p, _ in kept], [t.message_type for _, t in kept],
        [t.triggered_at for _, t in kept], [t.award_id for _, t in kept], [_inputs_json(t.inputs) for _, t in kept],
        until)
    return len(done)


async def kept_for(conn: asyncpg.Connection, codes: Sequence[str], now: datetime) -> list[Trigger]:
    """The unexpired kept triggers of ``codes``, locked (a concurrent sweep or redelivery waits), oldest first;
    each names its participant (``participant_code``)."""
    if not codes:
        return []
    rows = await conn.fetch(f"""SELECT * FROM {S}.kept_triggers WHERE participant_code = ANY($1::text[])
                                AND kept_until > $2 ORDER BY triggered_at FOR UPDATE""", list(codes), now)
    return [Trigger(r["message_type"], r["event_id"], r["triggered_at"], r["participant_code"],
                    _inputs_of(r["inputs"]), r["award_id"]) for r in rows]


async def forget_kept(conn: asyncpg.Connection, keys: Sequence[tuple[object, str]]) -> None:
    """Forget kept triggers by (event id, participant): told, so never again from here."""
    if keys:
        await conn.execute(f"""DELETE FROM {S}.kept_triggers k USING unnest($1::uuid[], $2::text[]) AS d(e, p)
                               WHERE k.event_id = d.e AND k.participant_code = d.p""",
                           [e for e, _ in keys], [p for _, p in keys])


async def forget_kept_of(conn: asyncpg.Connection, codes: Sequence[str]) -> int:
    """Forget every kept trigger of ``codes`` (their contact was erased). Returns how many."""
    if not codes:
        return 0
    return len(await conn.fetch(f"DELETE FROM {S}.kept_triggers WHERE participant_code = ANY($1::text[]) "
                                "RETURNING event_id", list(codes)))


async def forget_expired(conn: asyncpg.Connection, now: datetime) -> int:
    return len(await conn.fetch(f"DELETE FROM {S}.kept_triggers WHERE kept_until <= $1 RETURNING event_id", now))


def _inputs_json(inputs: dict) -> str:
    """Template inputs as JSON; dates and times tagged so they come back as they were (templates format them)."""
    def tagged(value):
        if isinstance(value, datetime):
            return {"$datetime": value.isoformat()}
        if isinstance(value, date):
            return {"$date": value.isoformat()}
        raise TypeError(f"cannot keep a {type(value).__name__} input")
    return json.dumps(inputs, default=tagged)


def _inputs_of(text: str) -> dict:
    def untagged(obj: dict):
        if obj.keys() == {"$datetime"}:
            return datetime.fromisoformat(obj["$datetime"])
        if obj.keys() == {"$date"}:
            return date.fromisoformat(obj["$date"])
        return obj
    return json.loads(text, object_hook=untagged)


def _array_literal(values: Iterable[str]) -> str:
    return "{" + ",".join(values) + "}"  # channel names are plain words: nothing to quote


async def contacts_of(conn: asyncpg.Connection, codes: Iterable[str]) -> dict[str, Contact]:
    rows = await conn.fetch(f"""
        SELECT participant_code, language, phone, email, app_token, channels, quiet_from, quiet_until
        FROM {S}.contacts WHERE participant_code = ANY($1::text[]) AND erased_at IS NULL""", list(set(codes)))
    return {r["participant_code"]: Contact(r["participant_code"], r["language"], r["phone"], r["email"],
                                           r["app_token"], tuple(r["channels"]), r["quiet_from"], r["quiet_until"])
            for r in rows}


async def upsert_awards(conn: asyncpg.Connection, awards: Sequence[AwardFacts]) -> None:
    """An award's beneficiary and type (BenefitAwarded); a channel change only updates the account digits.
    In stream order (an award, then its channel change), each run of one kind pipelined (executemany)."""
    for is_award, run in groupby(awards, key=lambda a: a.beneficiary_code is not None):
        run = list(run)
        if is_award:
            await conn.executemany(f"""
                INSERT INTO {S}.awards (award_id, beneficiary_code, benefit_type, account_last4)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (award_id) DO UPDATE SET beneficiary_code = EXCLUDED.beneficiary_code,
                    benefit_type = EXCLUDED.benefit_type, account_last4 = EXCLUDED.account_last4, updated_at = now()""",
                [(a.award_id, a.beneficiary_code, a.benefit_type, a.account_last4) for a in run])
        else:
            await conn.executemany(f"UPDATE {S}.awards SET account_last4 = $2, updated_at = now() WHERE award_id = $1",
                                   [(a.award_id, a.account_last4) for a in run])


async def awards_of(conn: asyncpg.Connection, award_ids: Iterable[str]) -> dict[str, AwardFacts]:
    rows = await conn.fetch(f"""SELECT award_id, beneficiary_code, benefit_type, account_last4 FROM {S}.awards
                                WHERE award_id = ANY($1::text[])""", list(set(award_ids)))
    return {r["award_id"]: AwardFacts(None, r["award_id"], r["beneficiary_code"], r["benefit_type"],
                                      r["account_last4"]) for r in rows}


async def record_assessments(conn: asyncpg.Connection, parts: Sequence[tuple[DigestPart, datetime, datetime]]) -> None:
    """Open each worker's digest for the month (if new) and keep each employer's latest revision.
    ``parts``: (part, the assessment's time, the digest's due time). Pipelined (executemany): a batch of
    assessments costs two round trips, and a key twice in a batch is fine (one statement per row)."""
    if not parts:
        return
    await conn.executemany(f"""INSERT INTO {S}.digests (worker_code, period, triggered_at, due_at)
                               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                           [(p.worker_code, p.period, at, due) for p, at, due in parts])
    await conn.executemany(f"""
        INSERT INTO {S}.digest_parts AS d (worker_code, period, employer_code, revision, declared_salary,
                                           employee_amount, employer_amount)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (worker_code, period, employer_code) DO UPDATE SET revision = EXCLUDED.revision,
            declared_salary = EXCLUDED.declared_salary, employee_amount = EXCLUDED.employee_amount,
            employer_amount = EXCLUDED.employer_amount
        WHERE d.revision < EXCLUDED.revision""",
        [(p.worker_code, p.period, p.employer_code, p.revision, p.declared_salary, p.employee_amount,
          p.employer_amount) for p, _, _ in parts])


async def record_adjustments(conn: asyncpg.Connection, deltas: Sequence[DigestPart]) -> None:
    """Add each later revision's differences to its employer's part, in order (an older or repeated revision
    changes nothing)."""
    if not deltas:
        return
    await conn.executemany(f"""
        UPDATE {S}.digest_parts SET revision = $4, declared_salary = $5, employee_amount = employee_amount + $6,
                                    employer_amount = employer_amount + $7
        WHERE worker_code = $1 AND period = $2 AND employer_code = $3 AND revision < $4""",
        [(d.worker_code, d.period, d.employer_code, d.revision, d.declared_salary, d.employee_amount,
          d.employer_amount) for d in deltas])


async def due_digests(conn: asyncpg.Connection, now: datetime,
                      limit: int) -> list[tuple[tuple[str, str], list[DigestPart], datetime]]:
    """Digests due by ``now`` and not emitted, locked (SKIP LOCKED: two sweeps never take the same one)."""
    heads = await conn.fetch(f"""SELECT worker_code, period, triggered_at FROM {S}.digests
                                 WHERE emitted_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2
                                 FOR UPDATE SKIP LOCKED""", now, limit)
    if not heads:
        return []
    parts = await conn.fetch(f"""
        SELECT p.* FROM {S}.digest_parts p
        JOIN unnest($1::text[], $2::text[]) AS h(worker_code, period) USING (worker_code, period)
        ORDER BY p.worker_code, p.period, p.employer_code""",
        [h["worker_code"] for h in heads], [h["period"] for h in heads])
    by_key: dict[tuple[str, str], list[DigestPart]] = {}
    for p in parts:
        by_key.setdefault((p["worker_code"], p["period"]), []).append(DigestPart(
            p["worker_code"], p["period"], p["employer_code"], p["revision"], p["declared_salary"],
            p["employee_amount"], p["employer_amount"]))
    return [((h["worker_code"], h["period"]), by_key.get((h["worker_code"], h["period"]), []), h["triggered_at"])
            for h in heads]


async def mark_digests_emitted(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> None:
    await conn.execute(f"""UPDATE {S}.digests d SET emitted_at = now() FROM unnest($1::text[], $2::text[])
                           AS k(worker_code, period) WHERE d.worker_code = k.worker_code AND d.period = k.period""",
                       [k[0] for k in keys], [k[1] for k in keys])


async def insert_notifications(conn: asyncpg.Connection, rows: Sequence[Notification]) -> list[tuple[str, str]]:
    """Insert pending notifications; one already there (same event, participant, channel) is left as it is.
    Returns (channel, message type) of each row created."""
    if not rows:
        return []
    created = await conn.fetch(f"""
        INSERT INTO {S}.notifications (event_id, participant_code, channel, type, language, recipient, subject, body,
                                       triggered_at)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                             $8::text[], $9::timestamptz[])
        ON CONFLICT (event_id, participant_code, channel) DO NOTHING
        RETURNING channel, type""",
        [r.event_id for r in rows], [r.participant_code for r in rows], [r.channel for r in rows],
        [r.message_type for r in rows], [r.language for r in rows], [r.recipient for r in rows],
        [r.subject for r in rows], [r.body for r in rows], [r.triggered_at for r in rows])
    return [(r["channel"], r["type"]) for r in created]
