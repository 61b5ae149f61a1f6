"""Settings, read once from the environment (prefix ``ANSINH_``) with pydantic-settings.

Defaults describe the embedded local platform that ``ansinh platform up`` starts, so a newcomer
needs no configuration at all.
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit, quote

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ansinh.runtime.auth import ApiToken

# The checkout (or install prefix) the code runs from: only the default for ``state_dir`` (the local
# platform's files) is derived from it; nothing a service reads at run time is.
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("collection", "arrears", "payments", "notifications")
DEFAULT_WEB_PORTS = {"collection": 6061, "arrears": 6062, "payments": 6063, "notifications": 6064}


class PlatformSettings(BaseSettings):
    """Where Kafka and PostgreSQL are, and how names are isolated (topic prefix, database)."""

    model_config = SettingsConfigDict(env_prefix="ANSINH_", extra="ignore")

    kafka_bootstrap: str = ""  # empty: the embedded broker on 127.0.0.1:<kafka_port>
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_version: str = "4.4.0"
    pg_port: int = 54329
    # The superuser URL used for migrations and role management; DATABASE_URL wins when reachable.
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    topic_prefix: str = ""
    state_dir: Path = REPO_ROOT / ".cache"

    @model_validator(mode="after")
    def _embedded_defaults(self) -> "PlatformSettings":
        if not self.kafka_bootstrap:
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        if not self.database_url:
            self.database_url = f"postgresql://postgres:ansinh@127.0.0.1:{self.pg_port}/ansinh"
        return self

    def topic(self, name: str) -> str:
        """The physical topic name for a catalogue name (tests isolate with a prefix)."""
        return f"{self.topic_prefix}{name}"

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/") or "postgres"

    def with_database(self, database: str) -> str:
        """The admin URL pointing at another database."""
        parts = urlsplit(self.database_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))

    def url_for(self, user: str, password: str, database: str | None = None) -> str:
        """The admin URL's host and database with other credentials."""
        parts = urlsplit(self.database_url)
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{quote(user)}:{quote(password)}@{host}{port}"
        path = "/" + (database or self.database_name)
        return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


class ServiceSettings(PlatformSettings):
    """Settings of one running service; ``service`` names its schema, role and consumer group."""

    service: str
    web_host: str = "127.0.0.1"  # bind to loopback unless told otherwise (ANSINH_WEB_HOST=0.0.0.0 in a container)
    # Bearer tokens for protected endpoints (JSON list of {"principal", "token", "roles"}); none by default,
    # so protected endpoints answer 401 until an operator configures tokens.
    api_tokens: list[ApiToken] = Field(default_factory=list)
    web_port: int = 0
    db_password: str = ""
    batch_size: int = 2000
    batch_window_s: float = 0.05
    pool_size: int = 4
    log_level: str = "info"
    # uvloop: a faster event loop (libuv); turn off to debug with the standard loop.
    uvloop: bool = True
    # "inline": the service publishes its own outbox; "external": `ansinh outbox relay SERVICE` does,
    # in its own process (a second core for the busiest services).
    relay: Literal["inline", "external"] = "inline"
    # How bulk topics are consumed: plain aiokafka batches (fast) or a faust agent like the others.
    bulk_engine: Literal["aiokafka", "faust"] = "aiokafka"

    @property
    def role(self) -> str:
        return f"ansinh_{self.service}"

    @property
    def schema(self) -> str:
        return self.service

    @cached_property
    def role_password(self) -> str:
        return self.db_password or f"ansinh-dev-{self.service}"

    @property
    def service_database_url(self) -> str:
        return self.url_for(self.role, self.role_password)

    @property
    def effective_web_port(self) -> int:
        return self.web_port or DEFAULT_WEB_PORTS.get(self.service, 6060)

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}ansinh-{self.service}"
