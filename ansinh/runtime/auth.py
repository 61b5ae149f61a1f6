"""Operator and reader access to a service's HTTP endpoints: bearer tokens with roles, and an audit trail.

Tokens come from configuration (``ANSINH_API_TOKENS``, a JSON list of ``{"principal", "token", "roles"}``),
never from code. Every configured token is compared with the presented one in constant time
(``hmac.compare_digest``), so the time a request takes does not reveal how much of a token was right.
Operator actions are written to ``<schema>.audit_log`` in the same transaction as the change they make.

Roles used today:

* ``personal_data:read``: read endpoints that show personal data (a worker's history);
* ``suspense:read`` / ``suspense:assign``: list unidentified receipts, assign one to an employer.
"""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Iterable, Mapping

import asyncpg
from pydantic import BaseModel, Field

PERSONAL_DATA_READ = "personal_data:read"
SUSPENSE_READ = "suspense:read"
SUSPENSE_ASSIGN = "suspense:assign"


class ApiToken(BaseModel):
    """One configured credential: who holds it, the secret, and what it may do."""

    principal: str = Field(min_length=1, max_length=100)
    token: str = Field(min_length=16, description="At least 16 characters; generate with `openssl rand -hex 32`")
    roles: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]


class AccessDenied(Exception):
    """The request may not proceed; ``status`` is 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def authenticate(tokens: Iterable[ApiToken], authorization: str | None) -> Principal | None:
    """The principal whose token is presented as ``Authorization: Bearer <token>``, or None."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    presented = authorization.removeprefix("Bearer ").strip().encode()
    found = None
    for candidate in tokens:  # compare with every token (no early exit), each in constant time
        if hmac.compare_digest(candidate.token.encode(), presented) and found is None:
            found = Principal(candidate.principal, frozenset(candidate.roles))
    return found


def require(tokens: Iterable[ApiToken], headers: Mapping[str, str], role: str) -> Principal:
    """The caller, if it presents a valid token holding ``role``; else ``AccessDenied`` (401 or 403)."""
    principal = authenticate(tokens, headers.get("Authorization"))
    if principal is None:
        raise AccessDenied(401, "a bearer token is required (Authorization: Bearer <token>)")
    if role not in principal.roles:
        raise AccessDenied(403, f"the token of {principal.name} lacks the role {role}")
    return principal


async def audit(conn: asyncpg.Connection, schema: str, principal: Principal, action: str, subject: str,
                reason: str, details: dict | None = None) -> None:
    """Record an operator action (who, what, on what, why); call inside the action's transaction."""
    await conn.execute(
        f"INSERT INTO {schema}.audit_log (principal, action, subject, reason, details) VALUES ($1, $2, $3, $4, $5::jsonb)",
        principal.name, action, subject, reason, json.dumps(details or {}))
