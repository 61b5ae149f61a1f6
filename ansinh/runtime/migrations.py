"""Forward-only SQL migrations, one PostgreSQL schema and one role per service.

The role and schema come first, from an operator (``ansinh provision``, see ``ansinh.ops.provision``);
``migrate`` then applies ``services/<service>/migrations/NNNN_*.sql`` in order *as the service's role*,
recording each in ``<schema>.schema_migrations`` in the same transaction. Re-running is a no-op, and a
changed migration that was already applied is an error (migrations are never edited, only added).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg

# Shared tables every service gets first: inbox (dedupe) and outbox (events to publish). Both folders are
# package resources, so an installed service (the image) finds them without the repository.
PLATFORM_MIGRATIONS = files("ansinh.runtime") / "sql"


class MigrationError(RuntimeError):
    """A migration failed or the ledger disagrees with the files on disk."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Traversable

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _sql_files(folder: Traversable) -> list[Traversable]:
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)


def migrations_for(service: str) -> list[Migration]:
    found = [Migration(f"0000_platform_{f.name.removesuffix('.sql')}", f) for f in _sql_files(PLATFORM_MIGRATIONS)]
    found += [Migration(f.name.removesuffix(".sql"), f) for f in _sql_files(files(f"services.{service}") / "migrations")]
    return found


async def migrate(conn: asyncpg.Connection, service: str) -> list[str]:
    """Apply pending migrations on a connection logged in as the service's role; returns applied versions."""
    schema = service
    await conn.execute(f"""
        CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
            version text PRIMARY KEY,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())""")
    applied = []
    async with conn.transaction():
        await conn.execute(f"LOCK TABLE {schema}.schema_migrations IN EXCLUSIVE MODE")
        ledger = dict(await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations"))
        for migration in migrations_for(service):
            if migration.version in ledger:
                if ledger[migration.version] != migration.checksum:
                    raise MigrationError(f"{service}: migration {migration.version} changed after it was "
                                         "applied; add a new migration instead of editing an old one")
                continue
            sql = migration.path.read_text().replace("{schema}", schema)
            try:
                await conn.execute(f"SET LOCAL search_path = {schema}; {sql}")
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{service}: migration {migration.version} failed: {exc}") from exc
            await conn.execute(f"INSERT INTO {schema}.schema_migrations (version, checksum) VALUES ($1, $2)",
                               migration.version, migration.checksum)
            applied.append(migration.version)
    return applied
