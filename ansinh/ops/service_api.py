"""An operator's HTTP client for a service's API: the operator's own bearer token, clear refusals.

Every operator command (``ansinh suspense``, ``arrears``, ``payments``, ``notifications``) talks to its service
through this client, with the token from ``ANSINH_OPERATOR_TOKEN``: the service checks the roles and writes the
audit record under the operator's name; no command touches a database. ``ANSINH_<SERVICE>_URL`` points a
command at another address than the local platform's.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from ansinh.runtime.settings import DEFAULT_WEB_PORTS

TOKEN_VARIABLE = "ANSINH_OPERATOR_TOKEN"


class OperatorError(RuntimeError):
    """The request could not be made or was refused; the text says why and what to do. ``status`` is the
    service's HTTP status when it answered (None: not reachable)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def url_variable(service: str) -> str:
    return f"ANSINH_{service.upper()}_URL"


@dataclass(frozen=True)
class ServiceClient:
    service: str
    base_url: str
    token: str
    error: type[OperatorError] = OperatorError

    @classmethod
    def from_environment(cls, service: str, roles: str, error: type[OperatorError] = OperatorError) -> "ServiceClient":
        """The client for ``service``; ``roles`` names what the token must hold (said when it is missing)."""
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise error(f"no operator token: set {TOKEN_VARIABLE} to your bearer token ({roles}; see "
                        "ANSINH_API_TOKENS)")
        url = os.environ.get(url_variable(service)) or f"http://127.0.0.1:{DEFAULT_WEB_PORTS[service]}"
        return cls(service, url.rstrip("/"), token, error)

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise self.error(f"{exc.code}: {error_text(exc.read())}", exc.code) from None
        except OSError as exc:
            raise self.error(f"{self.service} is not reachable at {self.base_url} ({exc}); is it running? "
                             f"(set {url_variable(self.service)} for another address)") from None

    def json(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0) -> dict:
        return json.loads(self.call(method, path, body, timeout))


def error_text(body: bytes) -> str:
    """The service's refusal as an operator reads it: the error, and for a 400 which fields and why."""
    try:
        answer = json.loads(body)
        problems = "; ".join(f"{p['field']}: {p['problem']}" for p in answer.get("problems", []))
        return f"{answer['error']} ({problems})" if problems else answer["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body.decode(errors="replace")[:200]
