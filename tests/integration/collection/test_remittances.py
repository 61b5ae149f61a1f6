"""Employers' payments through Kafka and PostgreSQL: allocation order, credit, duplicates, statements."""
from __future__ import annotations

import json

import pytest

from schemas.collection import CreditNotificationReceived
from schemas.envelope import new_envelope
from tests.integration.collection.conftest import declaration, remittance

pytestmark = pytest.mark.integration


def lines(event: dict) -> list[tuple[str, str, int]]:
    return [(l["period"], l["fund"], l["amount"]) for l in event["payload"]["lines"]]


async def declare_june_and_july(collection) -> None:
    await collection.declare(declaration(period="2025-06"), declaration(period="2025-07"))
    await collection.events("collection.assessments", expect=2)


async def test_a_partial_payment_covers_the_oldest_month_first_then_funds_in_order(collection):
    await declare_june_and_july(collection)
    await collection.pay(remittance("P1", 4_000_000))
    [event] = await collection.events("collection.allocations", expect=1)
    assert lines(event) == [
        ("2025-06", "health", 450_000), ("2025-06", "unemployment", 200_000), ("2025-06", "accident", 50_000),
        ("2025-06", "sickness_maternity", 300_000), ("2025-06", "retirement", 2_200_000),
        ("2025-07", "health", 450_000), ("2025-07", "unemployment", 200_000), ("2025-07", "accident", 50_000),
        ("2025-07", "sickness_maternity", 100_000)]
    assert event["payload"]["value_date"] == "2025-08-20" and event["payload"]["credit_balance"] == 0

    status, statement = collection.get("/employers/DN0001/statement?from=2025-06&to=2025-07")
    assert status == 200
    assert statement["totals"] == {"assessed": 6_400_000, "paid": 4_000_000, "outstanding": 2_400_000}
    july = statement["periods"][1]
    assert july["funds"]["retirement"] == {"assessed": 2_200_000, "paid": 0, "outstanding": 2_200_000}
    assert july["due_date"] == "2025-08-31" and statement["periods"][0]["due_date"] == "2025-06-30"
    # The statement is the sum of the events: assessed from ContributionAssessed, paid from RemittanceAllocated.
    assessed = await collection.events("collection.assessments", expect=2)
    assert statement["totals"]["assessed"] == sum(e["payload"]["total"] for e in assessed)
    assert statement["totals"]["paid"] == sum(a for _, _, a in lines(event))

    status, refused = collection.get("/employers/DN0001/statement?from=2025-13")
    assert (status, [(p["in"], p["field"]) for p in refused["problems"]]) == (400, [("query", "from")])
    assert "2025-13" not in json.dumps(refused)
    assert collection.get("/workers/12345/history")[0] == 400
    assert collection.service.get("/workers/0000000001/history", token=None)[0] == 401
    assert collection.service.get("/workers/0000000001/history", token="not-the-token-at-all")[0] == 401
    status, history = collection.get("/workers/0000000001/history")
    assert status == 200 and history["unpaid_months"] == ["2025-07"]
    assert history["months"][1]["funds"]["health"] == {"amount": 450_000, "employer_paid": "paid"}
    assert history["months"][1]["funds"]["sickness_maternity"]["employer_paid"] == "partially_paid"


async def test_an_overpayment_is_kept_as_credit_and_used_on_the_next_obligation(collection):
    await declare_june_and_july(collection)
    await collection.pay(remittance("P2", 7_000_000))
    [paid] = await collection.events("collection.allocations", expect=1)
    assert paid["payload"]["amount"] == 6_400_000 and paid["payload"]["credit_balance"] == 600_000
    assert b"collection_credit_balance_vnd 600000.0" in collection.service.get("/metrics")[1]
    await collection.declare(declaration(period="2025-08"))
    events = await collection.events("collection.allocations", expect=2)
    credit_use = events[1]["payload"]
    assert (credit_use["payment_id"], credit_use["value_date"]) == ("P2", "2025-08-20")
    assert lines(events[1]) == [("2025-08", "health", 450_000), ("2025-08", "unemployment", 150_000)]
    assert credit_use["credit_balance"] == 0
    assert b"collection_credit_balance_vnd 0.0" in collection.service.get("/metrics")[1]
    status, statement = collection.get("/employers/DN0001/statement")
    assert statement["credit_balance"] == 0 and statement["totals"]["paid"] == 7_000_000


async def test_a_payment_before_any_declaration_is_held_and_applied_when_the_declaration_arrives(collection):
    await collection.pay(remittance("P3", 1_000_000, value_date="2025-07-25"))
    [held] = await collection.events("collection.allocations", expect=1)
    assert held["payload"]["lines"] == [] and held["payload"]["credit_balance"] == 1_000_000
    await collection.declare(declaration(period="2025-07"))
    events = await collection.events("collection.allocations", expect=2)
    assert events[1]["payload"]["value_date"] == "2025-07-25"
    assert sum(a for _, _, a in lines(events[1])) == 1_000_000


async def test_the_same_payment_id_reported_twice_is_one_payment(collection):
    await declare_june_and_july(collection)
    await collection.pay(remittance("P4", 1_000_000), remittance("P4", 1_000_000))
    events = await collection.events("collection.allocations", expect=1, settle=2.0)
    assert len(events) == 1
    [row] = await collection.sql("SELECT count(*) AS n, sum(amount) AS total FROM collection.remittances")
    assert (row["n"], row["total"]) == (1, 1_000_000)


CAMT054 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>NTF-20250820-01</MsgId><CreDtTm>2025-08-20T17:00:00+07:00</CreDtTm></GrpHdr>
  <Ntfctn><Id>N1</Id><CreDtTm>2025-08-20T17:00:00+07:00</CreDtTm>
   <Acct><Id><Othr><Id>1234567890123</Id></Othr></Id></Acct>
   <Ntry><NtryRef>1</NtryRef><Amt Ccy="VND">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2025-08-20</Dt></BookgDt><ValDt><Dt>2025-08-19</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
    <BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
     <RmtInf>{rmt}</RmtInf></TxDtls></NtryDtls></Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>"""


async def test_a_camt054_credit_notification_is_recorded_like_any_payment(collection):
    await declare_june_and_july(collection)
    good = CAMT054.format(amount=500_000, ref="FT25232ABC", rmt="<Ustrd>BHXH DN0001 nop tien T06</Ustrd>")
    anonymous = CAMT054.format(amount=100_000, ref="FT25232XYZ", rmt="<Ustrd>chuyen tien</Ustrd>")
    await collection.pay(new_envelope(CreditNotificationReceived(bank_bin="970436", document=good), "bank-970436"),
                         new_envelope(CreditNotificationReceived(bank_bin="970436", document=anonymous), "bank-970436"))
    [event] = await collection.events("collection.allocations", expect=1)
    assert event["payload"]["payment_id"] == "970436-FT25232ABC" and event["payload"]["value_date"] == "2025-08-19"
    assert lines(event) == [("2025-06", "health", 450_000), ("2025-06", "unemployment", 50_000)]
    # The credit that names no employer is not lost: it waits on the suspense list for an operator.
    status, suspense = collection.get("/suspense")
    assert status == 200 and [(r["payment_id"], r["amount"], r["value_date"], r["reason"])
                              for r in suspense["receipts"]] == [("970436-FT25232XYZ", 100_000, "2025-08-19",
                                                                  "no_reference")]
    assert await collection.dead("collection.remittances", expect=0) == []
