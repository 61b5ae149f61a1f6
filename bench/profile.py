"""Profile a running process with py-spy and summarise where its CPU time goes.

    .venv/bin/python -m bench.profile RAW_FILE [--top 20]     # summarise a py-spy ``--format raw`` file

``bench.declarations --profile`` records the collection service during the system run with
``py-spy record --pid PID --format raw --rate 100`` (idle samples excluded; ``--native`` adds the C and
Cython frames: uvloop, asyncpg's protocol, aiokafka's record codec) and prints this summary.
Frames are grouped by function (``name (file)``), without line numbers; "self" counts samples where the
function itself was running, "total" samples where it was anywhere on the stack. Percentages are of the
samples where a thread was running (py-spy drops idle ones; with ``--native`` the loop's waits in epoll
stay in and are shown as "waiting in epoll").
"""
from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Where a frame's file lives -> the area the summary charges it to (first match wins).
AREAS = (("/services/collection/", "collection service"), ("/ansinh/runtime/", "ansinh runtime"),
         ("/schemas/", "schemas (envelope)"), ("/aiokafka/", "aiokafka"), ("/kafka/", "aiokafka"),
         ("/asyncpg/", "asyncpg"), ("/pydantic", "pydantic"), ("/faust/", "faust + mode"),
         ("/mode/", "faust + mode"), ("/orjson", "orjson"), ("/json/", "json (stdlib)"),
         ("/uvloop/", "uvloop"), ("/asyncio/", "asyncio"), ("/prometheus_client/", "prometheus_client"),
         ("/uuid.py", "uuid (stdlib)"), ("/logging/", "logging"), ("<string>", "generated __init__ (dataclasses)"),
         ("/threading.py", "threads"), ("/libpython", "CPython (native)"), ("/python3.11", "CPython (native)"))
# Python frames under which the event loop runs native code (uvloop, asyncpg's Cython protocol, C codecs):
# without --native, time spent there is charged to them.
LOOP_ENTRIES = {"Worker.execute_from_commandline", "ServiceThread._start_thread", "run_until_complete", "run"}
# With --native py-spy keeps the samples where the loop sleeps in the kernel waiting for sockets.
IDLE_LEAVES = {"epoll_pwait", "epoll_wait", "__GI_epoll_pwait", "__GI_epoll_wait"}
OURS = ("services/", "ansinh/", "schemas/")  # the inclusive table shows only frames of this repository


@dataclass
class Summary:
    samples: int
    by_self: Counter
    by_total: Counter
    by_area: Counter

    def table(self, counter: Counter, top: int) -> list[tuple[str, str, float]]:
        return [(name, file, 100 * n / self.samples) for (name, file), n in counter.most_common(top)]

    def markdown(self, top: int = 20) -> str:
        out = [f"{self.samples:,} samples of a running thread\n", "| self % | function | file |", "|---:|---|---|"]
        out += [f"| {p:.1f} | `{n}` | `{_short(f)}` |" for n, f, p in self.table(self.by_self, top)]
        ours = Counter({k: n for k, n in self.by_total.items() if _short(k[1]).startswith(OURS)})
        out += ["", "| total % | function (this repository's code, callees included) | file |", "|---:|---|---|"]
        out += [f"| {p:.1f} | `{n}` | `{_short(f)}` |" for n, f, p in self.table(ours, top)]
        out += ["", "| self % | area |", "|---:|---|"]
        out += [f"| {100 * n / self.samples:.1f} | {area} |" for area, n in self.by_area.most_common()]
        return "\n".join(out)


def summarise(raw: Path) -> Summary:
    """Read py-spy's raw (collapsed stacks) output: ``frame;frame;...;leaf COUNT`` per line."""
    by_self, by_total, by_area, samples = Counter(), Counter(), Counter(), 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ") and
                  not f.startswith("thread ")]
        if not frames:
            continue
        samples += n
        by_self[frames[-1]] += n
        leaf = frames[-1][0]
        by_area["waiting in epoll (idle: database or broker)" if leaf in IDLE_LEAVES else
                "event loop + native code under it (see --native)" if leaf in LOOP_ENTRIES else
                _area(frames[-1][1])] += n
        for frame in set(frames):
            by_total[frame] += n
    return Summary(samples, by_self, by_total, by_area)


def _frame(text: str) -> tuple[str, str]:
    m = FRAME.match(text.strip())
    return (m["name"], m["file"]) if m else (text.strip(), "")


def _area(file: str) -> str:
    for fragment, area in AREAS:
        if fragment in "/" + file:  # py-spy gives paths relative to their sys.path entry
            return area
    return "other (" + (Path(file).name or "no file: native code") + ")"


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


class Recorder:
    """``py-spy record`` attached to ``pid`` until ``stop`` (SIGINT makes py-spy write its output)."""

    def __init__(self, pid: int, raw: Path, py_spy: str, rate: int = 100, native: bool = False):
        self.raw = raw
        self.proc = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
                                      "--output", str(raw)] + (["--native"] if native else []),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> Summary:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("py-spy did not write its profile within 60 s")
        if not self.raw.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode()[-800:]}")
        return summarise(self.raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    print(summarise(args.raw).markdown(args.top))


if __name__ == "__main__":
    sys.exit(main())
