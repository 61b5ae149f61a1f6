"""``ansinh provision``: the operator step that gives each service its role, schema and grants.

It runs with the admin (superuser) URL, once per database: the local platform runs it at ``platform up``,
docker-compose in its ``provision`` init container, the tests for each fresh database. Services then log
in as their own role only and apply their own migrations; they never see the admin URL.

Each service ``X`` gets role ``ansinh_X`` (LOGIN, and nothing else: no superuser, no CREATEROLE, no
CREATEDB), schema ``X`` owned by that role and closed to everyone else, CONNECT on the database, and no
CREATE on ``public``. Re-running is safe: what exists stays, and the password is set only when it differs.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

import asyncpg

from ansinh.ops.credentials import password_env, role_of

ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
MIN_PASSWORD_LENGTH = 16


class ProvisionError(RuntimeError):
    """Provisioning was refused (a weak password, a missing one); the message says what to set."""


def check_password(service: str, password: str | None) -> str:
    if not password:
        raise ProvisionError(f"no password for {role_of(service)}: set {password_env(service)} "
                             "(e.g. `openssl rand -hex 24`); the service gets the same value as ANSINH_DB_PASSWORD")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ProvisionError(f"{password_env(service)} is shorter than {MIN_PASSWORD_LENGTH} characters; "
                             "use a random one (e.g. `openssl rand -hex 24`)")
    return password


async def provision(admin: asyncpg.Connection, service: str, password: str, database: str) -> None:
    """Create (or bring up to date) the role and schema of ``service`` in ``database``."""
    role, schema = role_of(service), service
    check_password(service, password)
    await _ensure_role(admin, role, password)
    await admin.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')
    await admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
    # Only the owner may touch the schema; the public schema is closed to service roles.
    await admin.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    await admin.execute(f'ALTER ROLE {role} IN DATABASE "{database}" SET search_path = {schema}')


async def _ensure_role(admin: asyncpg.Connection, role: str, password: str) -> None:
    # Roles are cluster-wide while advisory locks are per database, so two databases being provisioned at
    # once (parallel test runs) may race: creating twice is caught, and the password is rewritten only
    # when it differs (rewriting the same catalogue row concurrently fails in PostgreSQL).
    quoted = password.replace("'", "''")
    stored = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    if stored is None:
        try:
            await admin.execute(f"CREATE ROLE {role} {ROLE_ATTRIBUTES} PASSWORD '{quoted}'")
            return
        except asyncpg.DuplicateObjectError:
            stored = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    await admin.execute(f"ALTER ROLE {role} {ROLE_ATTRIBUTES}")
    if not scram_matches(stored or "", password):
        await admin.execute(f"ALTER ROLE {role} PASSWORD '{quoted}'")


def scram_matches(stored: str, password: str) -> bool:
    """Whether a ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` verifier is ``password``'s."""
    try:
        method, rest = stored.split("$", 1)
        iterations_salt, keys = rest.split("$")
        iterations, salt = iterations_salt.split(":")
        stored_key = keys.split(":")[0]
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


async def provision_all(admin_url: str, passwords: dict[str, str]) -> list[str]:
    """Provision every service of ``passwords`` in the admin URL's database; returns what was done."""
    admin = await asyncpg.connect(admin_url)
    try:
        database = await admin.fetchval("SELECT current_database()")
        done = []
        for service, password in passwords.items():
            await provision(admin, service, password, database)
            done.append(f"{service}: role {role_of(service)}, schema {service} in database {database}")
        return done
    finally:
        await admin.close()
