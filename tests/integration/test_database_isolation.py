"""Each service owns its schema, migrates it forward only, cannot read anyone else's, and runs with its
own role's credentials only (roles, schemas and grants are the operator's `ansinh provision`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from ansinh.runtime.database import prepare_schema
from ansinh.runtime.migrations import MigrationError, migrate, migrations_for
from ansinh.runtime.settings import REPO_ROOT

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


async def test_a_service_role_can_create_neither_roles_nor_databases_nor_raise_its_privileges(isolated):
    settings = isolated.service("collection")
    await prepare_schema(settings)
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE ROLE sneaky LOGIN PASSWORD 'sneaky-sneaky-sneaky'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE DATABASE sneaky")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("ALTER ROLE ansinh_collection SUPERUSER")
        assert await conn.fetchval("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                                   "WHERE rolname = current_user") is False
    finally:
        await conn.close()


def process_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def test_a_service_process_runs_with_its_own_credentials_and_no_admin_url(isolated):
    service = isolated.start_service("arrears")
    assert service.get("/ready")[0] == 200
    env = process_environment(service.proc.pid)
    assert "DATABASE_URL" not in env and "ANSINH_DB_URL" not in env
    assert env["ANSINH_DB_PASSWORD"] == isolated.service("arrears").db_password
    assert not {k for k in env if k.endswith("_DB_PASSWORD") and k != "ANSINH_DB_PASSWORD"}
    conn = await asyncpg.connect(isolated.service("arrears").service_database_url)
    try:  # it migrated its schema as its own role
        owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE schemaname = 'arrears' "
                                    "AND tablename = 'schema_migrations'")
        assert owner == "ansinh_arrears"
    finally:
        await conn.close()


def test_a_service_started_without_credentials_refuses_with_the_variable_to_set(isolated):
    env = isolated.env()  # where the database is, but no password (and no admin URL)
    result = subprocess.run([sys.executable, "-m", "services.payments"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "ANSINH_DB_PASSWORD" in result.stderr, result.stderr[-2000:]
    assert "ansinh_payments" in result.stderr


def test_a_service_given_only_the_admin_url_still_refuses(isolated):
    env = isolated.env(DATABASE_URL=isolated.database_url)
    result = subprocess.run([sys.executable, "-m", "services.notifications"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "ANSINH_DB_PASSWORD" in result.stderr, result.stderr[-2000:]


async def test_provisioning_again_with_the_same_password_leaves_the_role_as_it_was(isolated):
    from ansinh.ops.credentials import LocalSecrets
    from ansinh.ops.provision import provision_all, scram_matches

    password = LocalSecrets(isolated.platform.state_dir).db_password("payments")
    admin = await asyncpg.connect(isolated.database_url)
    try:
        stored = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = 'ansinh_payments'")
        await provision_all(isolated.database_url, {"payments": password})
        again = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = 'ansinh_payments'")
    finally:
        await admin.close()
    assert again == stored  # the SCRAM verifier was checked, not rewritten (no catalogue churn, no races)
    assert scram_matches(stored, password) and not scram_matches(stored, password + "x")
