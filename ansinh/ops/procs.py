"""Small process helpers: pid files, detached starts, port probes and who holds a port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holders(port: int) -> list[tuple[int, str]]:
    """The processes listening on TCP ``port`` as (pid, command line), found through /proc; empty when the
    listener belongs to a process we may not inspect (another user's, when we are not root)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    holders = []
    for proc in Path("/proc").iterdir() if wanted else ():
        if proc.name.isdigit() and any(_link(fd) in wanted for fd in _fds(proc)):
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:  # exited meanwhile
                continue
            holders.append((int(proc.name), cmdline))
    return holders


def _fds(proc: Path) -> list[Path]:
    try:
        return list((proc / "fd").iterdir())
    except OSError:  # gone meanwhile, or not ours to inspect
        return []


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed between listing and reading (a busy server opens and closes files all the time)
        return ""


class PortTaken(RuntimeError):
    """A port we need is held by a process that is not ours; the message names it and the way out."""


def check_port_is_ours(port: int, ours: set[int], what: str, variable: str = "") -> bool:
    """True when ``port`` is held by one of the ``ours`` pids, False when it is free; ``PortTaken`` when
    another process holds it (never adopt a server we did not start: it may be another checkout's)."""
    if not port_open("127.0.0.1", port):
        return False
    holders = port_holders(port)
    if any(pid in ours for pid, _ in holders):
        return True
    who = "; ".join(f"pid {pid}: {cmd[:200]}" for pid, cmd in holders) or "a process this user cannot inspect"
    other = (f", or choose another port: {variable}=<port> ./run ... (set it for every command of this checkout)"
             if variable else " (another checkout's: `./run platform down` there)")
    raise PortTaken(f"port {port}, which {what} needs, is held by another process ({who}). Stop it{other}")


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_detached(cmd: list[str], logfile: Path, pidfile: Path, env: dict | None = None,
                   cwd: Path | None = None) -> int:
    """Start ``cmd`` in its own session (it outlives this process) and record its pid."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, cwd=cwd)
    pidfile.write_text(str(proc.pid))
    return proc.pid


def stop_pid(pidfile: Path, timeout: float = 60.0) -> bool:
    """SIGTERM the recorded process and wait for it to exit; True if something was stopped."""
    pid = read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if read_pid(pidfile) is None:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f}s")
