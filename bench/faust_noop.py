"""How fast faust itself hands batches to an agent that does nothing, against plain aiokafka.

    .venv/bin/python -m bench.faust_noop [--count 200000]

The ceiling any faust-based consumer in this platform can reach on this machine: the collection
service's figures in bench/declarations.py are best read against it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from ansinh.devplatform import kafka
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings
from bench.kafka_io import publish_all

console = Console()

AGENT = """
import asyncio, os, sys, time, faust, uvloop
topic, n, bootstrap, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
app = faust.App("noop-" + topic, broker="kafka://" + bootstrap, topic_disable_leader=True, web_enabled=False,
                consumer_auto_offset_reset="earliest", stream_buffer_maxsize=16384, broker_max_poll_records=5000,
                consumer_max_fetch_size=16 * 1024 * 1024)
source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
state = {"n": 0, "t0": None}

@app.agent(source)
async def noop(stream):
    async for events in stream.take_events(2000, within=0.05):
        state["t0"] = state["t0"] or time.perf_counter()
        state["n"] += len(events)
        if state["n"] >= n:
            with open(result, "w") as f:  # faust captures stdout into its logs
                f.write(str(time.perf_counter() - state["t0"]))
            os._exit(0)

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
asyncio.set_event_loop(asyncio.new_event_loop())
sys.argv = sys.argv[:1] + ["worker", "--loglevel", "warning"]
faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
"""


async def prepare(bootstrap: str, topic: str, count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    await admin.close()
    await asyncio.sleep(1)
    await publish_all(bootstrap, topic, [(str(i % 4000).encode(), b"x" * 700) for i in range(count)])


async def plain(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"plain-{uuid.uuid4().hex[:6]}", fetch_max_bytes=16 * 1024 * 1024)
    await consumer.start()
    seen, started = 0, None
    try:
        while seen < count:
            got = await consumer.getmany(timeout_ms=200, max_records=2000)
            started = started or time.perf_counter()
            seen += sum(len(r) for r in got.values())
            await consumer.commit()
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def drop(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    args = parser.parse_args()
    settings = PlatformSettings()
    kafka.start_kafka(settings)
    topic = f"bench-noop-{uuid.uuid4().hex[:8]}"
    asyncio.run(prepare(settings.kafka_bootstrap, topic, args.count))
    try:
        result = settings.state_dir / f"{topic}.seconds"
        out = subprocess.run([sys.executable, "-c", AGENT, topic, str(args.count), settings.kafka_bootstrap,
                              str(result)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                             env=dict(os.environ))
        if not result.exists():
            raise SystemExit(f"the faust agent did not finish:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
        seconds = [float(result.read_text())]
        result.unlink()
        baseline = asyncio.run(plain(settings.kafka_bootstrap, topic, args.count))
    finally:
        asyncio.run(drop(settings.kafka_bootstrap, topic))
    table = Table("consumer", "messages", "seconds", "messages/s")
    table.add_row("faust agent, take_events, no-op", f"{args.count:,}", f"{seconds[0]:.1f}", f"{args.count / seconds[0]:,.0f}")
    table.add_row("plain aiokafka getmany + commit", f"{args.count:,}", f"{baseline:.1f}", f"{args.count / baseline:,.0f}")
    console.print(table)
    console.print(f"faust / plain throughput ratio: [bold]{baseline / seconds[0]:.1%}[/]")


if __name__ == "__main__":
    main()
