"""The platform's main job, end to end, on a fresh machine.

Brings the platform up, starts the four services, then plays a month of collection: three employers'
payroll systems declare their workers (one below the regional minimum wage, one above the cap, one
correction), one declaration is malformed, banks report payments (a partial one, an overpayment, a
camt.054 notification), and the demo shows what operators and workers see: statements, a worker's unpaid
months and the dead-letter reason.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from ansinh.ops.credentials import LocalSecrets
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, SERVICES, PlatformSettings
from schemas.collection import CreditNotificationReceived, RemittanceReceived, SalaryDeclared
from schemas.envelope import encode, new_envelope

FUNDS = ["sickness_maternity", "accident", "retirement", "health", "unemployment"]
# A bank's credit notification, valid against the ISO 20022 camt.054.001.08 XSD the service checks.
CAMT054 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
<GrpHdr><MsgId>{ref}</MsgId><CreDtTm>{day}T17:00:00+07:00</CreDtTm></GrpHdr><Ntfctn><Id>{ref}</Id>
<CreDtTm>{day}T17:00:00+07:00</CreDtTm><Acct><Id><Othr><Id>1234567890123</Id></Othr></Id></Acct>
<Ntry><NtryRef>1</NtryRef><Amt Ccy="VND">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
<BkTxCd><Prtry><Cd>NTRF</Cd></Prtry></BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<RmtInf><Ustrd>BHXH {employer} nop tien</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Ntfctn>
</BkToCstmrDbtCdtNtfctn></Document>"""


def _periods(today: date) -> tuple[str, str]:
    last = (today.year * 12 + today.month - 2)
    prev = last - 1
    return f"{prev // 12}-{prev % 12 + 1:02d}", f"{last // 12}-{last % 12 + 1:02d}"


def _declarations(run: str, periods: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    employers = {f"DEMO{run}A": (1, [9_000_000, 12_500_000, 60_000_000]),     # one above the social cap
                 f"DEMO{run}B": (2, [3_000_000, 8_000_000]),                  # one below the region II floor
                 f"DEMO{run}C": (4, [6_200_000, 7_100_000, 5_400_000, 4_000_000])}
    out = []
    for e_index, (employer, (region, salaries)) in enumerate(employers.items()):
        for period in periods:
            for w_index, salary in enumerate(salaries):
                worker = f"9{run}{e_index}{w_index:04d}"[:10].ljust(10, "0")
                message = SalaryDeclared(employer_code=employer, employer_tax_code="0312345678", region=region,
                                         period=period, worker_code=worker, worker_name=f"Người lao động {w_index + 1}",
                                         citizen_id=f"0790{run}{e_index}{w_index:03d}"[:12].ljust(12, "0"),
                                         contribution_salary=salary, funds=FUNDS, revision=0)
                out.append((employer.encode(), encode(new_envelope(message, "demo-payroll"))))
    correction = SalaryDeclared(employer_code=f"DEMO{run}A", employer_tax_code="0312345678", region=1,
                                period=periods[1], worker_code=f"9{run}00000"[:10].ljust(10, "0"),
                                worker_name="Người lao động 1", citizen_id=f"0790{run}0000"[:12].ljust(12, "0"),
                                contribution_salary=9_500_000, funds=FUNDS, revision=1)
    out.append((correction.employer_code.encode(), encode(new_envelope(correction, "demo-payroll"))))
    bad = json.loads(out[0][1])
    bad["payload"]["contribution_salary"] = "9.000.000"  # a payroll vendor formatting the number as text
    out.append((b"DEMO", json.dumps(bad).encode()))
    return out


def _remittances(run: str, today: date) -> list[tuple[bytes, bytes]]:
    def rem(employer: str, pid: str, amount: int) -> tuple[bytes, bytes]:
        msg = RemittanceReceived(payment_id=f"{pid}-{run}", employer_code=employer, amount=amount,
                                 value_date=today, bank_reference=f"FT{run}{pid}")
        return employer.encode(), encode(new_envelope(msg, "demo-bank-970436"))
    camt = CAMT054.format(ref=f"FT{run}CAMT", day=today.isoformat(), amount=5_000_000, employer=f"DEMO{run}C")
    return [rem(f"DEMO{run}A", "P1", 20_000_000),          # partial: oldest month first
            rem(f"DEMO{run}B", "P2", 9_000_000),           # more than owed: credit
            (b"970436", encode(new_envelope(CreditNotificationReceived(bank_bin="970436", document=camt),
                                            "demo-bank-970436")))]


def _get(path: str, token: str | None = None) -> dict:
    """GET from the collection service; ``token`` (the local operator's) for endpoints showing personal data."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{DEFAULT_WEB_PORTS['collection']}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


async def _publish(settings: PlatformSettings, topic: str, items) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(settings.topic(topic), value, key=key)
    finally:
        await producer.stop()


async def _dead_letters(settings: PlatformSettings, topic: str, run: str) -> list[str]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(settings.topic(topic) + ".dlq", bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [dict(r.headers).get("dlq.reason", b"").decode() for rs in batch.values() for r in rs
                if f"DEMO{run}".encode() in (r.value or b"")]
    finally:
        await consumer.stop()


def _wait_for(predicate, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _show_collection(console: Console, settings: PlatformSettings) -> int:
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    run = uuid.uuid4().hex[:4].upper().replace("E", "F")
    run = "".join(c if c.isdigit() else str(ord(c) % 10) for c in run)
    periods = _periods(today)
    console.rule(f"payroll systems declare {periods[0]} and {periods[1]}")
    declarations = _declarations(run, periods)
    asyncio.run(_publish(settings, "collection.declarations", declarations))
    console.print(f"published {len(declarations)} declarations (one correction, one malformed)")
    employers = [f"DEMO{run}{x}" for x in "ABC"]
    expected = {f"DEMO{run}A": 2, f"DEMO{run}B": 2, f"DEMO{run}C": 2}
    if not _wait_for(lambda: all(len(_get(f"/employers/{e}/statement")["periods"]) == n for e, n in expected.items())):
        console.print("[red]declarations were not assessed in time; see .cache/services/collection.log[/]")
        return 1
    console.rule("banks report payments")
    asyncio.run(_publish(settings, "collection.remittances", _remittances(run, today)))
    if not _wait_for(lambda: all(_get(f"/employers/{e}/statement")["totals"]["paid"] > 0 for e in employers)):
        console.print("[yellow]not every payment was allocated in time; the statements show what was[/]")
    table = Table("employer", "period", "due", "assessed", "paid", "outstanding", "credit", title="Employer statements (VND)")
    for employer in employers:
        statement = _get(f"/employers/{employer}/statement")
        for i, p in enumerate(statement["periods"]):
            table.add_row(employer if i == 0 else "", p["period"], p["due_date"], f"{p['assessed']:,}", f"{p['paid']:,}",
                          f"{p['outstanding']:,}", f"{statement['credit_balance']:,}" if i == 0 else "")
    console.print(table)
    worker = f"9{run}00000"[:10].ljust(10, "0")
    # A worker's history is personal data: the service answers only to a token holding personal_data:read
    # (the local operator's, generated once in .cache/secrets.json and given to the services it starts).
    history = _get(f"/workers/{worker}/history", LocalSecrets(settings.state_dir).operator_token())
    console.print(f"worker {worker}: months not yet paid by the employer: {history['unpaid_months'] or 'none'}")
    for reason in asyncio.run(_dead_letters(settings, "collection.declarations", run)):
        console.print(f"[yellow]dead-lettered declaration:[/] {reason}")
    console.print("metrics: http://127.0.0.1:6061/metrics · statement API: http://127.0.0.1:6061/openapi.json")
    return 0


def run_demo(console: Console, args: argparse.Namespace) -> int:
    from ansinh.devplatform import platform
    from ansinh.ops.processes import health_table, start_service, stop_service, wait_ready

    settings = PlatformSettings()
    console.rule("ansinh demo")
    if platform.up(console) != 0:
        return 1
    for service in SERVICES:
        start_service(settings, service)
    with console.status("Starting the four services (migrations, Kafka group join)..."):
        status = wait_ready(SERVICES, timeout=180)
    console.print(health_table(status))
    code = 0 if all(status.values()) else 1
    if code == 0:
        code = _show_collection(console, settings)
    else:
        console.print(f"[red]some services are not ready; see {settings.state_dir / 'services'}/*.log[/]")
    if not args.keep_running:
        for service in SERVICES:
            stop_service(settings, service)
        console.print("services stopped (the platform keeps running; `./run platform down` stops it)")
    return code
