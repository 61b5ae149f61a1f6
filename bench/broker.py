"""The broker's own limit on this machine: kcat (librdkafka, C) producing and consuming the same bytes.

No Python client can beat these numbers on the same broker and cores, so they show where the ceiling
is. Producing uses the guarantees the services use (idempotent, acks=all; linger 20 ms, 1 MB batches,
no compression); consuming reads as many messages from the start. Each is the best of two runs, and
includes kcat's start-up and metadata round trips (30-50 ms): measure with enough messages.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "kcat is not installed (Debian: apt-get install -y kcat); the broker limit is not measured"


@dataclass(frozen=True)
class Rate:
    messages: int
    bytes: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.bytes / self.seconds / 1e6


@dataclass(frozen=True)
class BrokerLimit:
    produce: Rate
    consume: Rate


def available() -> bool:
    return shutil.which("kcat") is not None


def measure(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> BrokerLimit:
    """Produce ``messages`` (key, value) to ``topic`` (which must exist, empty), then consume them all."""
    size = sum(len(k) + len(v) for k, v in messages)
    with tempfile.TemporaryDirectory(prefix="ansinh-kcat-") as tmp:
        path = Path(tmp) / "messages"
        # One message a line, key and value split by a tab: JSON never contains a raw tab or newline.
        with open(path, "wb") as f:
            for key, value in messages:
                if b"\t" in key or b"\n" in value or b"\n" in key:
                    raise ValueError("a key or value contains a tab or newline; kcat's line format cannot carry it")
                f.write(key + b"\t" + value + b"\n")
        produce = _best_of(2, ["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-l", str(path),
                          "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=20",
                          "-X", "batch.size=1048576", "-X", "compression.codec=none"])
    consume = _best_of(2, ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                      "-c", str(len(messages)), "-f", "%k\t%s\n",
                      "-X", "fetch.max.bytes=33554432", "-X", "max.partition.fetch.bytes=4194304"])
    return BrokerLimit(Rate(len(messages), size, produce), Rate(len(messages), size, consume))


def _best_of(runs: int, command: list[str]) -> float:
    """The fastest of ``runs`` runs: a limit is what the broker can do, and a shared machine only slows it.
    (Producing twice leaves two copies on the topic; consuming reads the first copy only.)"""
    return min(_timed(command) for _ in range(runs))


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return seconds
