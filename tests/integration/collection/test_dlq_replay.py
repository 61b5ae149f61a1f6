"""An operator replays dead letters once the cause is fixed; what was refused is then processed."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ansinh.runtime.settings import REPO_ROOT
from tests.integration.collection.conftest import declaration

pytestmark = pytest.mark.integration


def cli(isolated, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ansinh.cli", *args], cwd=REPO_ROOT, env=isolated.env(),
                          capture_output=True, text=True, timeout=60)


async def test_a_replayed_dead_letter_is_processed_after_the_fix_and_only_once(collection):
    early = declaration(period="2025-11")  # refused on 2025-09-15: more than a month ahead
    await collection.declare(early)
    await collection.dead("collection.declarations", expect=1)
    shown = cli(collection.isolated, "dlq", "show", "collection.declarations")
    assert shown.returncode == 0 and "PeriodTooFarAhead" in shown.stdout and "2025-11" in shown.stdout

    collection.service.stop()  # the fix: the business date has moved on
    collection.service = collection.isolated.start_service("collection", ANSINH_BUSINESS_DATE="2025-10-20")
    for _ in range(2):  # replaying twice is harmless: the inbox knows the event
        replayed = cli(collection.isolated, "dlq", "replay", "collection.declarations")
        assert replayed.returncode == 0 and "replayed 1 messages" in replayed.stdout
    [event] = await collection.events("collection.assessments", expect=1, settle=2.0)
    assert event["payload"]["period"] == "2025-11" and event["causation_id"] == early["event_id"]
