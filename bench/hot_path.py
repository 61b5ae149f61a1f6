"""CPU time per declaration of the service's pure half, in this process, without Kafka or PostgreSQL.

    .venv/bin/python -m bench.hot_path [--count 20000] [--seed 7]

Decodes the workload's declarations with the runtime's ``Decoder`` (JSON + pydantic), then runs
``Collection.prepare_declarations`` on them in batches of 2000 (checks, the law, the assessment row and
the ``ContributionAssessed`` event), under the service's collector threshold. It reports process CPU
time (``time.process_time``), which others' load on a shared machine disturbs far less than wall time.
At 20,000 declarations/s one process has 50 µs of one core per declaration for everything; what this
half takes is not available to the transaction, the relay and the event loop.
"""
from __future__ import annotations

import argparse
import gc
import time

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from bench.workload import BUSINESS_DATE, DECLARATIONS, generate
from schemas.topics import spec
from services.collection.domain.law import load_law
from services.collection.handlers import Collection

BATCH = 2000


def measure(count: int, seed: int, rounds: int = 3) -> dict[str, float]:
    """Best-of-``rounds`` CPU microseconds per declaration for decoding and for preparing."""
    work = generate(count, seed=seed)
    raws = [RawMessage(topic, i % 12, i, key, value) for i, (topic, key, value) in enumerate(work.messages)
            if topic == DECLARATIONS]
    decoder = Decoder(spec(DECLARATIONS).messages)
    handlers = Collection(lambda: None, load_law(), lambda: BUSINESS_DATE)
    gc.set_threshold(100_000, 20, 20)  # as the service runs
    best = {"decode": float("inf"), "prepare": float("inf")}
    for _ in range(rounds):
        started = time.process_time()
        decoded = [decoder.decode(raw) for raw in raws]
        best["decode"] = min(best["decode"], (time.process_time() - started) / len(raws) * 1e6)
        started = time.process_time()
        for first in range(0, len(decoded), BATCH):
            handlers.prepare_declarations(decoded[first:first + BATCH])
        best["prepare"] = min(best["prepare"], (time.process_time() - started) / len(raws) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    best = measure(args.count, args.seed)
    total = best["decode"] + best["prepare"]
    print(f"decode (JSON + pydantic):            {best['decode']:6.1f} µs CPU per declaration")
    print(f"prepare (check, law, row, event):    {best['prepare']:6.1f} µs CPU per declaration")
    print(f"pure half:                           {total:6.1f} µs  = {total / 50:.0%} of the 50 µs that "
          "20,000 declarations/s allows one process")


if __name__ == "__main__":
    main()
