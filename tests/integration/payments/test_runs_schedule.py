"""A run prepared by schedule: on the configured day the service prepares next month's run by itself (as
principal "schedule", audited); it still waits for an operator's approval."""
from datetime import date

import pytest

from tests.integration.payments.core_helpers import API_TOKENS, payments_db, seed_entitlements, sql, wait_for_state

pytestmark = pytest.mark.timeout(180)


async def test_on_the_configured_day_next_months_run_is_prepared_and_waits_for_approval(isolated):
    async with payments_db(isolated) as (pool, _):  # migrated and seeded before the service starts
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 50, first=date(2026, 2, 1))
    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_PREPARE_ON_DAY="20",
                                     ANSINH_BUSINESS_DATE="2026-01-20")
    view = wait_for_state(service, "2026-02", {"prepared"})
    assert view["preparers"] == ["schedule"] and view["approved_by"] is None and view["payments"] == 50
    audit = [(r["principal"], r["action"], r["subject"]) for r in await sql(isolated, "SELECT * FROM payments.audit_log")]
    assert audit == [("schedule", "payments.prepare", "2026-02")]
    assert await sql(isolated, "SELECT 1 FROM payments.outbox WHERE topic <> 'payments.events'") == []
