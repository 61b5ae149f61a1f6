"""The local platform's generated secrets: one database password per service and an operator API token.

They are random (``secrets``), created once per checkout in ``<state>/secrets.json`` with mode 0600, and
given only to what needs them: each service process gets its own role's password, never another's and
never the superuser's URL. Outside the local platform nothing reads this file: operators set
``ANSINH_<SERVICE>_DB_PASSWORD`` for ``ansinh provision`` and ``ANSINH_DB_PASSWORD`` for each service.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Mapping

from ansinh.runtime.auth import PERSONAL_DATA_READ, SUSPENSE_ASSIGN, SUSPENSE_READ
from ansinh.runtime.settings import SERVICES, PlatformSettings

OPERATOR = "local-operator"
# The local operator prepares payment runs and runs everything else; public money leaves only after a second
# person approves (maker-checker), so approval is another principal's token: the local approver's.
OPERATOR_ROLES = [PERSONAL_DATA_READ, SUSPENSE_READ, SUSPENSE_ASSIGN, "arrears:read", "arrears:run",
                  "payments:prepare", "payments:read", "notifications:read", "notifications:replay"]
APPROVER = "local-approver"
APPROVER_ROLES = ["payments:approve", "payments:read"]


def password_env(service: str) -> str:
    """The variable ``ansinh provision`` reads a service's password from (ANSINH_COLLECTION_DB_PASSWORD)."""
    return f"ANSINH_{service.upper()}_DB_PASSWORD"


def role_of(service: str) -> str:
    return f"ansinh_{service}"


class LocalSecrets:
    """``<state>/secrets.json``: read it, creating it (0600) on first use."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "secrets.json"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict:
        if not self.path.exists():
            self._create({"db_passwords": {}, "operator_token": secrets.token_hex(24),
                          "approver_token": secrets.token_hex(24)})
        data = json.loads(self.path.read_text())
        missing = [s for s in SERVICES if s not in data["db_passwords"]]
        if missing:  # a service added since the file was made
            data["db_passwords"].update({s: secrets.token_urlsafe(24) for s in missing})
            self._replace(data)
        return data

    def db_password(self, service: str) -> str:
        return self.load()["db_passwords"][service]

    def operator_token(self) -> str:
        return self.load()["operator_token"]

    def approver_token(self) -> str:
        data = self.load()
        if "approver_token" not in data:  # a file made before approvals existed
            data["approver_token"] = secrets.token_hex(24)
            self._replace(data)
        return data["approver_token"]

    def _create(self, data: dict) -> None:
        data["db_passwords"] = {s: secrets.token_urlsafe(24) for s in SERVICES}
        temp = self._write_private(data)
        try:
            os.link(temp, self.path)  # atomic; a concurrent first run keeps whichever file came first
        except FileExistsError:
            pass
        finally:
            temp.unlink()

    def _replace(self, data: dict) -> None:
        os.replace(self._write_private(data), self.path)

    def _write_private(self, data: dict) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".secrets.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        return temp


def operator_tokens_json(local: LocalSecrets, configured: str | None = None) -> str:
    """``ANSINH_API_TOKENS``: the tokens already configured plus the local operator's and approver's."""
    tokens = json.loads(configured) if configured else []
    tokens = [t for t in tokens if t.get("principal") not in (OPERATOR, APPROVER)]
    tokens.append({"principal": OPERATOR, "token": local.operator_token(), "roles": OPERATOR_ROLES})
    tokens.append({"principal": APPROVER, "token": local.approver_token(), "roles": APPROVER_ROLES})
    return json.dumps(tokens)


# Variables that carry database credentials: a service process started here gets only its own.
_CREDENTIAL_VARS = ("DATABASE_URL", "ANSINH_DB_URL", "ANSINH_DB_PASSWORD")


def local_service_env(settings: PlatformSettings, service: str, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a service process on the local platform: ``base`` without anyone's database
    credentials, plus this service's role URL and the local operator token."""
    local = LocalSecrets(settings.state_dir)
    others = {password_env(s) for s in SERVICES}
    env = {k: v for k, v in base.items() if k not in _CREDENTIAL_VARS and k not in others}
    env["ANSINH_DB_URL"] = settings.url_for(role_of(service), local.db_password(service))
    env["ANSINH_API_TOKENS"] = operator_tokens_json(local, base.get("ANSINH_API_TOKENS"))
    if service == "notifications":  # deliver to the local mailbox unless told otherwise
        for variable, value in local_channels(settings).items():
            env.setdefault(variable, value)
    return env


def local_channels(settings: PlatformSettings) -> dict[str, str]:
    """Where the local platform's notifications go: its mailbox (an SMTP sink and an SMS/push gateway on
    loopback), so nothing leaves the machine."""
    gateway = f"http://127.0.0.1:{settings.mailbox_http_port}"
    return {"ANSINH_SMTP_HOST": "127.0.0.1", "ANSINH_SMTP_PORT": str(settings.mailbox_smtp_port),
            "ANSINH_GATEWAY_SMS_URL": f"{gateway}/sms", "ANSINH_GATEWAY_PUSH_URL": f"{gateway}/push"}
