"""Settings, read once from the environment (prefix ``ANSINH_``) with pydantic-settings.

Defaults describe the embedded local platform that ``ansinh platform up`` starts, so a newcomer
needs no configuration at all, with one exception: a service's database password. It is never a default
(no guessable passwords): the local platform generates one per service and passes it to the processes it
starts; anywhere else set ``ANSINH_DB_PASSWORD`` (or ``ANSINH_DB_URL``) for each service.
"""
from __future__ import annotations

import tempfile
from typing import Literal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit, quote

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ansinh.runtime.auth import ApiToken
from ansinh.runtime.prune import check_retention

# The checkout (or install prefix) the code runs from: only the default for ``state_dir`` (the local
# platform's files) is derived from it; nothing a service reads at run time is.
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("collection", "arrears", "payments", "notifications")
DEFAULT_WEB_PORTS = {"collection": 6061, "arrears": 6062, "payments": 6063, "notifications": 6064}


class MissingCredentials(RuntimeError):
    """A service was started without its database credentials; the message names what to set."""


class BrokerSettings(BaseSettings):
    """What every process reads: where Kafka is, the local platform's ports, and the topic prefix."""

    model_config = SettingsConfigDict(env_prefix="ANSINH_", extra="ignore")

    kafka_bootstrap: str = ""  # empty: the embedded broker on 127.0.0.1:<kafka_port>
    kafka_port: int = 19092
    pg_port: int = 54329
    topic_prefix: str = ""

    @model_validator(mode="after")
    def _embedded_broker(self) -> "BrokerSettings":
        if not self.kafka_bootstrap:
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        return self

    def topic(self, name: str) -> str:
        """The physical topic name for a catalogue name (tests isolate with a prefix)."""
        return f"{self.topic_prefix}{name}"


class PlatformSettings(BrokerSettings):
    """What operator tools and the local platform read: the admin (superuser) URL and the state directory.

    Service processes never read these: they get :class:`ServiceSettings`, which has no admin URL.
    """

    kafka_controller_port: int = 19093
    kafka_version: str = "4.4.0"
    prometheus_port: int = 9090
    # The local mailbox (ansinh.devplatform.mailbox): an SMTP sink and an SMS/push gateway for notifications.
    mailbox_smtp_port: int = 2525
    mailbox_http_port: int = 6070
    # The superuser URL for `ansinh provision` (roles, schemas, grants); DATABASE_URL wins when reachable.
    # The default is the local development cluster's (listening on 127.0.0.1 only).
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    state_dir: Path = REPO_ROOT / ".cache"

    @model_validator(mode="after")
    def _embedded_database(self) -> "PlatformSettings":
        if not self.database_url:
            self.database_url = f"postgresql://postgres:ansinh@127.0.0.1:{self.pg_port}/ansinh"
        return self

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
        netloc = f"{quote(user)}:{quote(password, safe='')}@{host}{port}"
        path = "/" + (database or self.database_name)
        return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


class ServiceSettings(BrokerSettings):
    """Settings of one running service; ``service`` names its schema, role and consumer group.

    The service logs in as its own role ``ansinh_<service>`` (created by ``ansinh provision``): with
    ``ANSINH_DB_URL``, or with ``ANSINH_DB_PASSWORD`` at ``ANSINH_DB_HOST``:``ANSINH_DB_PORT``/``ANSINH_DB_NAME``.
    It holds no superuser URL and starts only when given its credentials.
    """

    service: str
    web_host: str = "127.0.0.1"  # bind to loopback unless told otherwise (ANSINH_WEB_HOST=0.0.0.0 in a container)
    # Bearer tokens for protected endpoints (JSON list of {"principal", "token", "roles"}); none by default,
    # so protected endpoints answer 401 until an operator configures tokens.
    api_tokens: list[ApiToken] = Field(default_factory=list)
    web_port: int = 0
    db_url: str = ""  # the service role's full URL; wins over the parts below
    db_password: str = ""  # never defaulted: a service without it refuses to start
    db_host: str = "127.0.0.1"
    db_port: int = 0  # 0: ANSINH_PG_PORT, the local platform's port
    db_name: str = "ansinh"
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
    # A consumer whose transaction dead-letters this many messages in a row, nothing committed in between,
    # holds instead (a broken deploy, not broken data); 0: no limit. Pure-step failures never count. consumer.py.
    dead_letter_limit: int = 100
    # Days inbox and published outbox rows are kept (ansinh.runtime.prune); unset: the longest consumed
    # topic's retention plus the DLQ's, plus a margin. A shorter value is refused at start-up.
    inbox_retention_days: float | None = None
    prune_interval_s: float = 600  # seconds between pruning rounds
    # Where faust keeps its data folder (``<faust_dir>/<app id>``; it holds no tables of ours): a temporary
    # directory by default, so no ``<app id>-data`` folder is left in the current directory.
    faust_dir: Path = Path(tempfile.gettempdir()) / "ansinh-faust"
    # The server ends a relay session silent this long, freeing the relay lock of a frozen or cut-off relay
    # (a Kafka send taking longer costs a re-sent batch, not order).
    relay_session_timeout_s: float = 120

    @model_validator(mode="after")
    def _retention_covers_replays(self) -> "ServiceSettings":
        check_retention(self.service, self.inbox_retention_days)
        return self

    @property
    def role(self) -> str:
        return f"ansinh_{self.service}"

    @property
    def schema(self) -> str:
        return self.service

    @property
    def has_credentials(self) -> bool:
        return bool(self.db_url or self.db_password)

    @property
    def service_database_url(self) -> str:
        """The URL this service logs in with, as its own role; ``MissingCredentials`` when it has none."""
        if self.db_url:
            return self.db_url
        if not self.db_password:
            raise MissingCredentials(
                f"{self.service}: no database credentials. Set ANSINH_DB_PASSWORD to the password of role "
                f"{self.role} (given to `ansinh provision`), or ANSINH_DB_URL to its full URL; the service "
                "never uses the superuser's DATABASE_URL. The local platform (`./run services start`, "
                "`./run run SERVICE`, the demo) passes its generated password for you.")
        netloc = f"{quote(self.role)}:{quote(self.db_password, safe='')}@{self.db_host}:{self.db_port or self.pg_port}"
        return urlunsplit(("postgresql", netloc, "/" + self.db_name, "", ""))

    @property
    def effective_web_port(self) -> int:
        return self.web_port or DEFAULT_WEB_PORTS.get(self.service, 6060)

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}ansinh-{self.service}"
