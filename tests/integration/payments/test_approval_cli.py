"""The operator's CLI (`ansinh payments`) against the running service: prepare with a progress bar and the
summary, an approval by the preparer refused with the reason, an approval by a second operator sent."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ansinh.runtime.settings import REPO_ROOT
from tests.integration.payments.core_helpers import API_TOKENS, TOKENS, seed

pytestmark = pytest.mark.timeout(240)


def ansinh(isolated, service, who: str, *args: str) -> subprocess.CompletedProcess:
    env = isolated.env(ANSINH_OPERATOR_TOKEN=TOKENS[who], ANSINH_PAYMENTS_URL=f"http://127.0.0.1:{service.port}",
                       COLUMNS="160")
    return subprocess.run([sys.executable, "-m", "ansinh.cli", "payments", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_an_operator_prepares_and_another_approves_from_the_command_line(isolated):
    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="100")
    await seed(isolated, 600)
    prepared = ansinh(isolated, service, "clerk", "prepare", "2026-01", "--reason", "January pensions")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    assert "entitlements examined" in prepared.stdout and "600/600" in prepared.stdout
    assert "run 2026-01: prepared; 600 payments" in prepared.stdout.replace("[bold]", "")
    assert "by bank" in prepared.stdout and "change from last month" in prepared.stdout

    refused = ansinh(isolated, service, "clerk", "approve", "2026-01", "--reason", "mine")
    assert refused.returncode == 1 and "403" in refused.stdout and "maker-checker" in refused.stdout

    sent = ansinh(isolated, service, "checker", "approve", "2026-01", "--reason", "checked", "--expect-payments", "600")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "payments sent" in sent.stdout and "run 2026-01: sent" in sent.stdout
    assert "approved by checker" in sent.stdout
