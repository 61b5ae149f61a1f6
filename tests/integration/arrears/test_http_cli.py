"""``ansinh arrears run|overdue|statement``: the operator's CLI, an HTTP client of the running service.

DN0001 owes 1,400,000 for 2025-07 (due 2025-08-31), unpaid: one day late on 2025-09-01, 420 dong of interest.
"""
from __future__ import annotations

import subprocess
import sys

import asyncpg

from tests.conftest import OPERATOR_TOKEN
from tests.integration.arrears.ops_ledger import assessed, send, until


def cli(isolated, service, *args: str, token: str | None = OPERATOR_TOKEN) -> subprocess.CompletedProcess:
    env = isolated.env(ANSINH_ARREARS_URL=f"http://127.0.0.1:{service.port}")
    env.pop("ANSINH_OPERATOR_TOKEN", None)
    if token:
        env["ANSINH_OPERATOR_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "ansinh.cli", "arrears", *args], env=env, capture_output=True,
                          text=True, timeout=120)


async def test_an_operator_runs_a_date_lists_late_employers_and_reads_a_statement_from_the_cli(isolated):
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    await send(isolated, "collection.assessments", assessed("DN0001", "2025-07", "0000000001", 1_400_000,
                                                            "2025-08-31"))
    await until(isolated, "SELECT sum(principal) FROM arrears.debts", 1_400_000)

    missing = cli(isolated, service, "overdue", token=None)
    assert missing.returncode == 1 and "ANSINH_OPERATOR_TOKEN" in missing.stdout

    ran = cli(isolated, service, "run", "--date", "2025-09-01", "--reason", "nightly job missed")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "arrears run for 2025-09-01" in ran.stdout and "420 VND interest assessed" in ran.stdout

    listed = cli(isolated, service, "overdue", "--days", "0", "--as-of", "2025-09-01", "--csv")
    assert listed.stdout.splitlines() == ["employer_code,overdue_principal,days_late,periods,oldest_period",
                                          "DN0001,1400000,1,1,2025-07"]

    statement = cli(isolated, service, "statement", "DN0001", "--as-of", "2025-09-01")
    assert statement.returncode == 0 and "1,400,420 VND due" in statement.stdout

    refused = cli(isolated, service, "run", "--date", "2025-13-01")
    assert refused.returncode == 1 and "business_date" in refused.stdout

    conn = await asyncpg.connect(isolated.service("arrears").service_database_url)
    try:
        assert await conn.fetchval("SELECT reason FROM arrears.audit_log") == "nightly job missed"
    finally:
        await conn.close()
