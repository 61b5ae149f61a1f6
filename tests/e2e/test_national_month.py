"""The demo's national month, small and seeded, through all four services and the simulators on the real broker
and database: every figure the platform reports agrees with the simulators' ledgers (ansinh/devplatform/month.py).

Money assessed = collected + outstanding per fund; interest equals an independent day-by-day computation; one
payment per award and month, none after a suspension or death; rejected accounts end in cash or returned; the
mailbox received each notification once; workers whose employer did not pay are told.
"""
from __future__ import annotations

import json
import secrets

import pytest
from rich.console import Console

from ansinh.devplatform import month
from ansinh.devplatform.mailbox import Gateway, SmtpSink
from ansinh.runtime.settings import PlatformSettings

pytestmark = pytest.mark.e2e

MAKER, CHECKER = secrets.token_hex(24), secrets.token_hex(24)
TOKENS = json.dumps([
    {"principal": "maker", "token": MAKER,
     "roles": ["personal_data:read", "suspense:read", "suspense:assign", "arrears:read", "arrears:run",
               "payments:prepare", "payments:read", "notifications:read", "notifications:replay"]},
    {"principal": "checker", "token": CHECKER, "roles": ["payments:approve", "payments:read"]}])


async def test_a_small_seeded_month_agrees_with_the_simulators_ledgers_in_every_service(isolated):
    sink = SmtpSink(keep=False).start()
    gateway = Gateway(keep=False, smtp_count=lambda: sink.count).start()
    try:
        channels = {"ANSINH_SMTP_HOST": "127.0.0.1", "ANSINH_SMTP_PORT": str(sink.port),
                    "ANSINH_GATEWAY_SMS_URL": gateway.sms_url, "ANSINH_GATEWAY_PUSH_URL": gateway.push_url,
                    # Quiet hours are tested on their own; here every SMS may go at once.
                    "ANSINH_SMS_QUIET_HOURS": ""}
        ports = {}
        for name in ("collection", "arrears", "payments", "notifications"):
            extra = channels if name == "notifications" else {}
            ports[name] = isolated.start_service(name, ANSINH_API_TOKENS=TOKENS, **extra).port
        settings = PlatformSettings(kafka_bootstrap=isolated.bootstrap, topic_prefix=isolated.prefix,
                                    database_url=isolated.database_url)
        endpoints = month.Endpoints(ports, MAKER, CHECKER, gateway.port)
        scenario = month.Scenario(employers=12, workers=240, beneficiaries=40, months=2, seed=7)
        console = Console(record=True, width=200)
        played = await month.run(console, settings, scenario, endpoints)
        assert month.report(console, played), console.export_text()
        assert {check.stage for check in played.checks} == set(month.STAGES)
        assert len(played.checks) >= 20 and not played.notes
    finally:
        gateway.stop()
        sink.stop()
