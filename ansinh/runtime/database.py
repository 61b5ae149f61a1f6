"""Database wiring: provision and migrate a service's schema, then open its pool as its own role."""
from __future__ import annotations

import asyncpg

from ansinh.runtime.migrations import migrate, provision
from ansinh.runtime.settings import ServiceSettings


async def prepare_schema(settings: ServiceSettings) -> list[str]:
    """Create role and schema (as the superuser) and apply migrations (as the service's role)."""
    admin = await asyncpg.connect(settings.database_url)
    try:
        await provision(admin, settings.service, settings.role_password, settings.database_name)
    finally:
        await admin.close()
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
