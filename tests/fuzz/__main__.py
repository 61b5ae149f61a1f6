"""The long fuzz run: ``.venv/bin/python -m tests.fuzz --count 10000 [--topic T ...] [--seed S]``.

Starts its own world on the running local platform (a topic prefix, a fresh database, the services that
consume the chosen topics as real processes), sends ``--count`` generated messages per topic, accounts
for every one, prints the tables and removes the world. Exit status 1 when anything is unaccounted for.
"""
from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.topics import CATALOGUE, spec
from tests.fuzz.report import disagreements, reasons, summary
from ansinh.runtime.settings import SERVICES
from tests.fuzz.world import SERVICE_ENV, fuzz_topic, private_world

INPUT_TOPICS = [t.name for t in CATALOGUE if t.dlq and set(t.consumers) & set(SERVICES)]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages per topic (default 10000)")
    parser.add_argument("--topic", action="append", choices=INPUT_TOPICS,
                        help="a topic to fuzz (repeatable; default: every input topic)")
    parser.add_argument("--seed", type=int, default=None, help="corpus seed (default: random, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the topics and database afterwards")
    return parser.parse_args(argv)


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    topics = args.topic or INPUT_TOPICS
    seed = args.seed if args.seed is not None else secrets.randbelow(10**9)
    console = Console(width=max(220, Console().width))  # the summary has 15 columns
    console.print(f"seed {seed}: repeat with --seed {seed} --count {args.count} "
                  + " ".join(f"--topic {t}" for t in topics))
    outcomes = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        for topic in topics:
            # A world per topic with only its consumers running: in one world the skeletons would also
            # receive (and park) the events the real collection service publishes from the good messages.
            async with private_world(args.keep) as isolated:
                names = sorted(set(spec(topic).consumers) & set(SERVICES))
                running = {n: isolated.start_service(n, **SERVICE_ENV.get(n, {})) for n in names}
                task = bar.add_task(topic, total=None)
                outcomes.append(await fuzz_topic(
                    isolated, topic, running, args.count, seed,
                    progress=lambda done, total, task=task: bar.update(task, completed=done, total=total)))
    for table in (summary(outcomes), reasons(outcomes), disagreements(outcomes)):
        console.print(table)
    problems = [f"{o.topic}: {p}" for o in outcomes for p in o.problems()]
    for p in problems:
        console.print(f"[red]{p}[/red]")
    console.print(f"seed {seed}; {'FAILED' if problems else 'every message accounted for'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
