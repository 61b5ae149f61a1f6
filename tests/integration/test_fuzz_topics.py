"""Hypothesis-generated hostile messages on every input topic, through the real broker and services.

Per topic: every bad message ends in ``<topic>.dlq`` (once, original key and bytes, a reason without
personal data), every good one is processed, nothing in the database bears a bad one, ``/ready`` stays
200 and the process never exits; a valid message sent after all of them is processed.
``tests/fuzz`` builds the corpora (seeded; ``FUZZ_SEED`` picks another) and does the accounting;
``python -m tests.fuzz --count 10000`` is the long run.
"""
from __future__ import annotations

import os

import pytest

from tests.fuzz.report import table_text
from tests.fuzz.world import SERVICE_ENV, fuzz_topic

COUNT = int(os.environ.get("FUZZ_COUNT", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "20251125"))


async def _fuzz(isolated, services: list[str], topics: list[str]) -> None:
    running = {name: isolated.start_service(name, **SERVICE_ENV.get(name, {})) for name in services}
    outcomes = [await fuzz_topic(isolated, topic, running, COUNT, SEED) for topic in topics]
    print(table_text(outcomes))
    problems = [f"{o.topic}: {p}" for o in outcomes for p in o.problems()]
    assert not problems, f"seed {SEED}:\n" + "\n".join(problems)


@pytest.mark.timeout(240)
async def test_collection_accounts_for_every_fuzzed_declaration_and_remittance(isolated):
    await _fuzz(isolated, ["collection"], ["collection.declarations", "collection.remittances"])


@pytest.mark.timeout(240)
async def test_payments_accounts_for_every_fuzzed_award_bank_status_and_cash_status(isolated):
    await _fuzz(isolated, ["payments"], ["benefits.awards", "payments.bank-status", "payments.cash-status"])


@pytest.mark.timeout(240)
async def test_arrears_and_notifications_account_for_every_fuzzed_event_they_consume(isolated):
    await _fuzz(isolated, ["arrears", "notifications"],
                ["collection.assessments", "collection.allocations", "participants.contacts", "benefits.awards",
                 "arrears.events", "payments.events"])
