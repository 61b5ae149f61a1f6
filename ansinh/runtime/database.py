"""Database wiring: migrate a service's schema and open its pool, both as the service's own role.

The role, its schema and its grants already exist: an operator created them with ``ansinh provision``
(the local platform and docker-compose's init step run it). A service never connects as the superuser.
"""
from __future__ import annotations

import asyncpg

from ansinh.runtime.migrations import migrate
from ansinh.runtime.settings import ServiceSettings


async def prepare_schema(settings: ServiceSettings) -> list[str]:
    """Apply the service's pending migrations as its own role; returns the versions applied."""
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        return await migrate(conn, settings.service)
    finally:
        await conn.close()


async def create_pool(settings: ServiceSettings, **overrides) -> asyncpg.Pool:
    options = dict(min_size=1, max_size=settings.pool_size, command_timeout=60,
                   server_settings={"search_path": settings.schema, "application_name": f"ansinh-{settings.service}",
                                    "timezone": "Asia/Ho_Chi_Minh"})
    options.update(overrides)
    return await asyncpg.create_pool(settings.service_database_url, **options)


async def connect(settings: ServiceSettings, application_name: str = "") -> asyncpg.Connection:
    """One connection of the service's role outside its pool, for a session that must stay its own: the
    outbox relay's, which holds the relay lock (a pool detaches a terminated connection from its proxy,
    which then cannot even say it is closed)."""
    return await asyncpg.connect(settings.service_database_url, command_timeout=60, server_settings={
        "search_path": settings.schema, "application_name": application_name or f"ansinh-{settings.service}",
        "timezone": "Asia/Ho_Chi_Minh"})
