"""``inbox.claim`` with content digests, against the real database (a fresh one per test, migrated).

What users rely on: an event id claimed once is a duplicate when it comes back saying the same thing,
and refused (``EventIdReused``, naming it) when it comes back saying something else; rows claimed
without a digest (before migration 0005, or by an id-only caller) still dedupe as before.
"""
from __future__ import annotations

import uuid

import pytest

from ansinh.runtime import inbox
from ansinh.runtime.database import create_pool, prepare_schema
from ansinh.runtime.errors import EventIdReused

pytestmark = pytest.mark.integration

SERVICE = SCHEMA = "notifications"
CONSUMER = "test.consumer"
D1, D2 = inbox.DIGEST_VERSION + b"a" * 15, inbox.DIGEST_VERSION + b"b" * 15


@pytest.fixture
async def conn(isolated):
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    pool = await create_pool(settings)
    async with pool.acquire() as connection:
        yield connection
    await pool.close()


async def claim(conn, ids, digests=None) -> set[uuid.UUID]:
    async with conn.transaction():
        return await inbox.claim(conn, SCHEMA, CONSUMER, ids, digests)


async def stored(conn) -> dict[uuid.UUID, bytes | None]:
    return {r["event_id"]: r["digest"] for r in await conn.fetch(f"SELECT event_id, digest FROM {SCHEMA}.inbox")}


async def test_a_new_id_is_claimed_with_its_digest_and_the_same_content_again_is_a_silent_duplicate(conn):
    a, b = uuid.uuid4(), uuid.uuid4()
    assert await claim(conn, [a, b], [D1, D2]) == {a, b}
    assert await claim(conn, [a, b], [D1, D2]) == set()
    assert await stored(conn) == {a: D1, b: D2}


async def test_an_id_claimed_before_with_other_content_is_refused_naming_it_and_nothing_is_claimed(conn):
    reused, fresh = uuid.uuid4(), uuid.uuid4()
    await claim(conn, [reused], [D1])
    with pytest.raises(EventIdReused) as refused:
        await claim(conn, [fresh, reused], [D1, D2])
    assert refused.value.reused == ((reused, D2),) and refused.value.code == "event_id_reused"
    assert str(reused) in str(refused.value)
    assert await stored(conn) == {reused: D1}  # the first content kept; the batch's transaction rolled back


async def test_the_same_id_twice_in_one_batch_with_two_contents_refuses_the_later_one(conn):
    event = uuid.uuid4()
    with pytest.raises(EventIdReused) as refused:
        await claim(conn, [event, event, event], [D1, D1, D2])
    assert refused.value.reused == ((event, D2),)


async def test_a_batch_repeating_the_stored_content_after_a_contradicting_copy_refuses_only_the_contradiction(conn):
    event = uuid.uuid4()
    await claim(conn, [event], [D2])
    with pytest.raises(EventIdReused) as refused:
        await claim(conn, [event, event], [D1, D2])
    assert refused.value.reused == ((event, D1),)


async def test_an_id_claimed_without_a_digest_is_an_unknown_content_and_dedupes_as_before(conn):
    old, other_version = uuid.uuid4(), uuid.uuid4()
    assert await claim(conn, [old]) == {old}  # an id-only caller, or a row from before migration 0005
    await claim(conn, [other_version], [b"\x09" + b"z" * 15])  # a digest of another (future) algorithm
    assert await claim(conn, [old, other_version], [D1, D2]) == set()
    assert await claim(conn, [old], None) == set()
    assert await stored(conn) == {old: None, other_version: b"\x09" + b"z" * 15}


async def test_unclaim_gives_back_several_claims_of_this_transaction(conn):
    a, b, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with conn.transaction():
        assert await inbox.claim(conn, SCHEMA, CONSUMER, [a, b, kept], [D1, D1, D2]) == {a, b, kept}
        await inbox.unclaim(conn, SCHEMA, CONSUMER, [a, b])
    assert set(await stored(conn)) == {kept}
    async with conn.transaction():
        await inbox.unclaim(conn, SCHEMA, CONSUMER, kept)  # one id, as before
    assert await stored(conn) == {}
