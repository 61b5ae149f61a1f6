"""PostgreSQL for the platform: ``DATABASE_URL`` when it is set and answers, else a local cluster.

The local cluster lives in ``<state>/postgres`` and is run by the ``postgres`` OS user when we are
root (PostgreSQL refuses to run as root). When that user cannot enter the checkout (a clone in root's
home, mode 0700), the cluster lives in the postgres user's home instead, in a directory named after the
checkout (so each clone has its own), remembered in ``<state>/postgres.location``. Debian's ``postgresql``
package is installed when missing. A server on our port that is not this checkout's cluster is never
adopted: ``platform up`` names the process holding the port and says how to choose another.
"""
from __future__ import annotations

import asyncio
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import asyncpg

from ansinh.ops.procs import check_port_is_ours
from ansinh.runtime.settings import PlatformSettings

SUPERUSER_PASSWORD = "ansinh"


class PostgresPlatformError(RuntimeError):
    """The local PostgreSQL cluster could not be set up or started."""


async def _can_connect(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return False
    await conn.close()
    return True


def reachable(url: str) -> bool:
    return asyncio.run(_can_connect(url))


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True,
                       capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresPlatformError("no PostgreSQL server found: install Debian's 'postgresql' package")
    return Path(found[-1]).parent


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _chown_for_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(_as_owner(cmd), capture_output=True, text=True)
    if result.returncode != 0:
        raise PostgresPlatformError(f"{what} failed:\n{result.stdout}{result.stderr}")


def _postgres_can_enter(path: Path) -> bool:
    return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)],
                          capture_output=True).returncode == 0


def cluster_root(settings: PlatformSettings) -> Path:
    """This checkout's cluster directory (data, socket, log): ``<state>/postgres`` when the server's user
    can reach it, else a directory of its own in the postgres user's home (remembered per checkout)."""
    pointer = settings.state_dir / "postgres.location"
    if pointer.exists():
        return Path(pointer.read_text().strip())
    default = settings.state_dir / "postgres"
    if os.geteuid() != 0 or (default / "data" / "PG_VERSION").exists():
        return default
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if _postgres_can_enter(settings.state_dir):
        return default
    checkout = hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()[:12]
    root = Path(pwd.getpwnam("postgres").pw_dir) / f"ansinh-{checkout}"
    pointer.write_text(f"{root}\n")
    return root


def cluster_outside_checkout(settings: PlatformSettings) -> Path | None:
    """Where this checkout's cluster lives when it is not inside the checkout (None when it is)."""
    pointer = settings.state_dir / "postgres.location"
    return Path(pointer.read_text().strip()) if pointer.exists() else None


def _local_paths(settings: PlatformSettings) -> tuple[Path, Path, Path]:
    root = cluster_root(settings)
    return root / "data", root / "run", root / "postgres.log"


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _init_cluster(settings: PlatformSettings, bindir: Path) -> None:
    data, run, log = _local_paths(settings)
    for path in (data.parent, run):
        path.mkdir(parents=True, exist_ok=True)
        _chown_for_postgres(path)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    _chown_for_postgres(data)
    pwfile = data.parent / "pwfile"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    _chown_for_postgres(pwfile)
    _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile),
          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
         "initdb")
    pwfile.unlink()
    with open(data / "postgresql.conf", "a") as conf:
        conf.write("\n# ansinh local platform\n"
                   f"port = {settings.pg_port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{run}'\nmax_connections = 300\n"
                   "shared_buffers = 512MB\nwal_compression = on\nmax_wal_size = 4GB\n"
                   "timezone = 'UTC'\n")


def start_postgres(settings: PlatformSettings) -> str:
    """Make the admin URL answer; returns a one-line description of where PostgreSQL is."""
    if "DATABASE_URL" in os.environ:  # the operator's server: theirs to choose
        if reachable(settings.database_url):
            return f"PostgreSQL reachable at {settings.database_url.split('@')[-1]}"
        print(f"DATABASE_URL does not answer; starting the local cluster on port {settings.pg_port}")
    bindir = _bin_dir()
    data, run, log = _local_paths(settings)
    ours = {pid} if (pid := _postmaster_pid(data)) else set()
    if not check_port_is_ours(settings.pg_port, ours, "this checkout's PostgreSQL", "ANSINH_PG_PORT"):
        _init_cluster(settings, bindir)
        if not log.exists():
            log.touch()
            _chown_for_postgres(log)
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"],
             "starting PostgreSQL")
    local_url = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{settings.pg_port}/postgres"
    asyncio.run(_ensure_database(local_url, "ansinh"))
    where = f"local cluster {data}"
    if not data.is_relative_to(settings.state_dir):
        where += f", outside the checkout because the postgres user cannot enter {settings.state_dir}"
    return f"PostgreSQL ({where}) on 127.0.0.1:{settings.pg_port}"


async def _ensure_database(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def stop_postgres(settings: PlatformSettings) -> bool:
    data, _, _ = _local_paths(settings)
    if not (data / "postmaster.pid").exists():
        return False
    _run([str(_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stopping PostgreSQL")
    return True
