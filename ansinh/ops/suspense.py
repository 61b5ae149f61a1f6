"""Operators' view of unidentified receipts: list the suspense list and assign a receipt to an employer.

Talks to the collection service's HTTP API (``GET /suspense``, ``POST /suspense/{id}/assign``) with the
operator's own bearer token from ``ANSINH_OPERATOR_TOKEN``, so the service checks the roles and writes the
audit record under the operator's name; this module never touches the database.
"""
from __future__ import annotations

from dataclasses import dataclass

from ansinh.ops.service_api import OperatorError, ServiceClient

class SuspenseError(OperatorError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    api: ServiceClient

    @classmethod
    def from_environment(cls) -> "Client":
        return cls(ServiceClient.from_environment(
            "collection", "roles suspense:read, and suspense:assign to assign", SuspenseError))

    def receipts(self, status: str = "open") -> dict:
        return self.api.json("GET", f"/suspense?status={status}")

    def assign(self, receipt_id: int, employer_code: str, reason: str) -> dict:
        return self.api.json("POST", f"/suspense/{receipt_id}/assign",
                             {"employer_code": employer_code, "reason": reason})
