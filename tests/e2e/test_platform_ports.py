"""`platform up` on a machine where something else already holds a port, or where the checkout is private."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ansinh.devplatform import kafka, postgres, prometheus
from ansinh.ops.procs import PortTaken, check_port_is_ours, port_holders
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings

pytestmark = pytest.mark.e2e


@pytest.fixture
def squatter():
    """A plain listening socket of this test process: an unrelated server on a port we want."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_the_holder_of_a_port_is_found_with_its_pid_and_command(squatter):
    assert (os.getpid(), " ".join(_cmdline(os.getpid()))) in port_holders(squatter)


def test_a_port_held_by_another_process_is_refused_naming_it_and_the_variable_to_change(squatter):
    with pytest.raises(PortTaken) as refused:
        check_port_is_ours(squatter, {os.getpid() + 1}, "this checkout's Kafka broker", "ANSINH_KAFKA_PORT")
    message = str(refused.value)
    assert f"port {squatter}" in message and f"pid {os.getpid()}" in message and "pytest" in message
    assert "ANSINH_KAFKA_PORT=<port>" in message


def test_a_port_held_by_our_own_server_is_adopted_and_a_free_port_is_free(squatter):
    assert check_port_is_ours(squatter, {os.getpid()}, "x", "ANSINH_X") is True
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert check_port_is_ours(free, set(), "x", "ANSINH_X") is False


def test_kafka_postgres_and_prometheus_each_refuse_a_port_held_by_another_process(squatter, tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    state = tmp_path / "state"
    starts = {"ANSINH_KAFKA_PORT": lambda: kafka.start_kafka(PlatformSettings(kafka_port=squatter, state_dir=state)),
              "ANSINH_PG_PORT": lambda: postgres.start_postgres(PlatformSettings(pg_port=squatter, state_dir=state)),
              "ANSINH_PROMETHEUS_PORT": lambda: prometheus.start_prometheus(
                  PlatformSettings(prometheus_port=squatter, state_dir=state))}
    for variable, start in starts.items():
        with pytest.raises(PortTaken, match=variable):
            start()
    assert not (state / "kafka" / "data").exists()  # refused before doing anything


def test_platform_up_stops_and_says_who_holds_the_port_and_how_to_choose_another(squatter, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(ANSINH_KAFKA_PORT=str(squatter), ANSINH_STATE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "ansinh.cli", "platform", "up"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out
    assert f"port {squatter}" in out and f"pid {os.getpid()}" in out and "ANSINH_KAFKA_PORT=<port>" in out


def test_the_shared_platform_on_the_default_ports_is_recognised_as_this_checkouts(platform):
    assert "already running" in kafka.start_kafka(platform)
    assert "local cluster" in postgres.start_postgres(platform) or "DATABASE_URL" in os.environ


def test_a_checkout_the_postgres_user_cannot_enter_gets_its_cluster_in_the_postgres_home(tmp_path):
    private = tmp_path / "home"
    (private / "clone").mkdir(parents=True)
    private.chmod(0o700)
    first = PlatformSettings(state_dir=private / "clone" / ".cache")
    second = PlatformSettings(state_dir=private / "other-clone" / ".cache")
    root = postgres.cluster_root(first)
    if os.geteuid() != 0:  # the cluster runs as ourselves: the checkout is always reachable
        assert root == first.state_dir / "postgres"
        return
    assert not root.is_relative_to(private) and root.name.startswith("ansinh-")
    assert postgres.cluster_root(first) == root  # remembered for this checkout
    assert (first.state_dir / "postgres.location").read_text().strip() == str(root)
    assert postgres.cluster_root(second) != root  # another clone, another cluster
    reachable = PlatformSettings(state_dir=Path("/var/tmp") / f"ansinh-test-{os.getpid()}")
    assert postgres.cluster_root(reachable) == reachable.state_dir / "postgres"
    os.rmdir(reachable.state_dir)


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def listen_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(local.rsplit(":", 1)[0])
    return found


async def test_a_service_listens_on_loopback_only_unless_told_otherwise(isolated):
    service = isolated.start_service("payments")
    assert listen_addresses(service.port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0 or ::
