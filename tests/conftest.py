"""Fixtures: the real platform (started once), and per-test isolation by topic prefix and database."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from ansinh.ops.credentials import LocalSecrets, password_env
from ansinh.ops.provision import provision_all
from ansinh.ops.topics import ensure_topics
from ansinh.runtime.settings import REPO_ROOT, SERVICES, PlatformSettings, ServiceSettings
from tests.kafka_helpers import assigned_topics, consumed_topics, uncommitted
from tests.waiting import GiveUp, NotYet, eventually, eventually_async


# A token holding every role, given to the services the tests start; requests send it unless told otherwise.
OPERATOR_TOKEN = secrets.token_hex(24)
API_TOKENS = json.dumps([{"principal": "test-operator", "token": OPERATOR_TOKEN,
                          "roles": ["personal_data:read", "suspense:read", "suspense:assign",
                                    "arrears:read", "arrears:run"]}])


@pytest.fixture(scope="session")
def platform() -> PlatformSettings:
    """Kafka and PostgreSQL, started by the platform code itself (idempotent: reuses running servers)."""
    from ansinh.devplatform import kafka, postgres

    settings = PlatformSettings()
    kafka.start_kafka(settings)
    postgres.start_postgres(settings)
    return settings


# Variables carrying database credentials: a test's processes get only the ones it gives them.
CREDENTIAL_VARIABLES = {"DATABASE_URL", "ANSINH_DB_URL", "ANSINH_DB_PASSWORD"} | {
    password_env(s) for s in SERVICES}


@dataclass
class Isolated:
    """One test's private world: topics under ``prefix`` and a fresh database, provisioned (as the admin)
    for every service; service processes get only their own role's credentials."""

    platform: PlatformSettings
    prefix: str
    database_url: str  # the admin URL of the test's database: for provisioning, never given to a service
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.platform.kafka_bootstrap

    @property
    def database(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def topic(self, name: str) -> str:
        return self.prefix + name

    def service(self, name: str, **overrides) -> ServiceSettings:
        """Settings of service ``name`` in this test's world: its own role's credentials, no admin URL."""
        credentials = {"db_password": LocalSecrets(self.platform.state_dir).db_password(name)}
        return ServiceSettings(service=name, topic_prefix=self.prefix, **{**self._database(), **credentials,
                                                                          **overrides})

    def _database(self) -> dict[str, str]:
        parts = urlsplit(self.database_url)
        return {"db_host": parts.hostname or "127.0.0.1", "db_port": str(parts.port or 5432),
                "db_name": self.database}

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process of this test (the CLI, a service): where the database is, but no
        credentials; the CLI finds the local platform's, ``start_service`` gives a service its own."""
        env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
        env.update({f"ANSINH_{k.upper()}": v for k, v in self._database().items()})
        env.update({"ANSINH_TOPIC_PREFIX": self.prefix, "ANSINH_LOG_LEVEL": "info", "ANSINH_API_TOKENS": API_TOKENS})
        env.update(extra)
        return env

    async def wait_until_idle(self, name: str, timeout: float = 40) -> None:
        """Until service ``name`` has committed everything published to its input topics and published
        everything in its outbox: from then on, what it wrote is all it will write (no fixed "settle")."""
        group = f"{self.prefix}ansinh-{name}"
        topics = [self.topic(t) for t in consumed_topics(name)]

        async def backlog() -> dict[str, int]:
            behind = await uncommitted(self.bootstrap, group, topics)
            conn = await asyncpg.connect(self.service(name).service_database_url)
            try:
                behind["unpublished outbox rows"] = await conn.fetchval(
                    f"SELECT count(*) FROM {name}.outbox WHERE published_at IS NULL")
            finally:
                await conn.close()
            return behind

        await eventually_async(backlog, timeout, interval=0.3, until=lambda b: not any(b.values()),
                               what=f"{name} has consumed its input and published its outbox")

    def start_service(self, name: str, **extra_env: str) -> "RunningService":
        port = free_port()
        log = open(self.platform.state_dir / f"test-{self.prefix}{name}.log", "wb")
        password = LocalSecrets(self.platform.state_dir).db_password(name)
        proc = subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=REPO_ROOT,
                                env=self.env(ANSINH_WEB_PORT=str(port), ANSINH_DB_PASSWORD=password, **extra_env),
                                stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        running = RunningService(name, proc, port, log.name, self.prefix, self.bootstrap)
        running.wait_ready()
        return running


@dataclass
class RunningService:
    name: str
    proc: subprocess.Popen
    port: int
    log_path: str
    prefix: str = ""
    bootstrap: str = ""

    def get(self, path: str, token: str | None = OPERATOR_TOKEN) -> tuple[int, bytes]:
        """GET ``path``, presenting ``token`` as a bearer token (None: no Authorization header)."""
        return self.request("GET", path, token=token)

    def request(self, method: str, path: str, body: dict | None = None,
                token: str | None = OPERATOR_TOKEN) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until ``/ready`` says 200 and the broker shows the service's consumer groups holding the
        partitions of every topic it consumes (no fixed sleep for the group to "settle")."""
        def ready() -> bool:
            self._check_alive()
            status, body = self.get("/ready")
            assert status == 200, f"/ready answered {status}: {body[:300]!r}"
            held = run_async(assigned_topics(self.bootstrap, self.group))
            held = set().union(*(t for g, t in held.items() if g == self.group or g.startswith(self.group + ".")))
            missing = {self.prefix + t for t in consumed_topics(self.name)} - held
            assert not missing, f"no partitions assigned yet for {sorted(missing)} (groups hold {sorted(held)})"
            return True

        try:
            eventually(ready, timeout, interval=0.3, what=f"{self.name} ready and consuming")
        except NotYet as exc:
            raise NotYet(f"{exc}; log: {self.log_tail()}") from None

    @property
    def group(self) -> str:
        return f"{self.prefix}ansinh-{self.name}"

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise GiveUp(f"{self.name} exited ({self.proc.returncode}); log: {self.log_tail()}")

    def log_tail(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_async(coroutine):
    """Run ``coroutine`` to completion from synchronous code, even inside a test's running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def isolated_world(platform: PlatformSettings, name: str = "t", remove: bool = True):
    """A private world on ``platform``: topics under a fresh prefix and a fresh database, provisioned as the
    operator step does (roles, schemas, grants of every service, as the admin). Afterwards the service
    processes started in it stop, and (with ``remove``) the database and the topics go."""
    tag = uuid.uuid4().hex[:10]
    prefix, dbname = f"{name}{tag}.", f"{name}_{tag}"
    admin = await asyncpg.connect(platform.database_url)
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    local = LocalSecrets(platform.state_dir)
    await provision_all(platform.with_database(dbname), {s: local.db_password(s) for s in SERVICES})
    await ensure_topics(platform.kafka_bootstrap, prefix)
    world = Isolated(platform, prefix, platform.with_database(dbname))
    try:
        yield world
    finally:
        for proc in world.processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if remove:
            admin = await asyncpg.connect(platform.database_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await admin.close()
            client = AIOKafkaAdminClient(bootstrap_servers=platform.kafka_bootstrap)
            await client.start()
            try:
                await client.delete_topics([t for t in await client.list_topics() if t.startswith(prefix)])
            finally:
                await client.close()


@pytest.fixture
async def isolated(platform: PlatformSettings):
    async with isolated_world(platform) as world:
        yield world

