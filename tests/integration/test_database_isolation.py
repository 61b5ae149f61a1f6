"""Each service owns its schema, migrates it forward only, and cannot read anyone else's."""
from __future__ import annotations

import asyncpg
import pytest

from ansinh.runtime.database import prepare_schema
from ansinh.runtime.migrations import MigrationError, migrate, migrations_for

pytestmark = pytest.mark.integration


async def test_migrations_are_recorded_once_and_a_rerun_applies_nothing(isolated):
    settings = isolated.service("arrears")
    first = await prepare_schema(settings)
    assert first == [m.version for m in migrations_for("arrears")]
    assert await prepare_schema(settings) == []
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        rows = await conn.fetch("SELECT version FROM arrears.schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == first
    finally:
        await conn.close()


async def test_an_edited_migration_is_refused(isolated, tmp_path, monkeypatch):
    settings = isolated.service("payments")
    await prepare_schema(settings)
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        await conn.execute("UPDATE payments.schema_migrations SET checksum = 'edited' "
                           "WHERE version = (SELECT min(version) FROM payments.schema_migrations)")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "payments")
    finally:
        await conn.close()


async def test_a_service_role_cannot_read_or_write_another_services_schema(isolated):
    collection, arrears = isolated.service("collection"), isolated.service("arrears")
    await prepare_schema(collection)
    await prepare_schema(arrears)
    conn = await asyncpg.connect(arrears.service_database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM collection.inbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("INSERT INTO collection.outbox (event_id, topic, value) "
                               "VALUES (gen_random_uuid(), 'x', 'x')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.sneaky (id int)")
        assert await conn.fetchval("SELECT count(*) FROM arrears.inbox") == 0
    finally:
        await conn.close()
