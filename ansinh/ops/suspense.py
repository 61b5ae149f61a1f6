"""Operators' view of unidentified receipts: list the suspense list and assign a receipt to an employer.

Talks to the collection service's HTTP API (``GET /suspense``, ``POST /suspense/{id}/assign``) with the
operator's own bearer token from ``ANSINH_OPERATOR_TOKEN``, so the service checks the roles and writes the
audit record under the operator's name; this module never touches the database.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from ansinh.runtime.settings import DEFAULT_WEB_PORTS

TOKEN_VARIABLE = "ANSINH_OPERATOR_TOKEN"
URL_VARIABLE = "ANSINH_COLLECTION_URL"


class SuspenseError(RuntimeError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    base_url: str
    token: str

    @classmethod
    def from_environment(cls) -> "Client":
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise SuspenseError(f"no operator token: set {TOKEN_VARIABLE} to your bearer token (one holding the "
                                "roles suspense:read, and suspense:assign to assign; see ANSINH_API_TOKENS)")
        url = os.environ.get(URL_VARIABLE) or f"http://127.0.0.1:{DEFAULT_WEB_PORTS['collection']}"
        return cls(url.rstrip("/"), token)

    def receipts(self, status: str = "open") -> dict:
        return self._call("GET", f"/suspense?status={status}")

    def assign(self, receipt_id: int, employer_code: str, reason: str) -> dict:
        return self._call("POST", f"/suspense/{receipt_id}/assign",
                          {"employer_code": employer_code, "reason": reason})

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise SuspenseError(f"{exc.code}: {_error_text(exc.read())}") from None
        except OSError as exc:
            raise SuspenseError(f"collection is not reachable at {self.base_url} ({exc}); is it running? "
                                f"(set {URL_VARIABLE} for another address)") from None


def _error_text(body: bytes) -> str:
    """The service's refusal as an operator reads it: the error, and for a 400 which fields and why."""
    try:
        answer = json.loads(body)
        problems = "; ".join(f"{p['field']}: {p['problem']}" for p in answer.get("problems", []))
        return f"{answer['error']} ({problems})" if problems else answer["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body.decode(errors="replace")[:200]
