"""A payment id names one payment of one bank: the same id again is a duplicate, the same id with other content
is refused loudly (DLQ with a reason, metric) and the recorded payment stays as it was."""
from __future__ import annotations

from datetime import date

import pytest

from schemas.collection import CreditNotificationReceived, RemittanceReceived
from schemas.envelope import new_envelope
from tests.integration.collection.conftest import remittance
from tests.integration.collection.test_remittances import CAMT054, declare_june_and_july
from tests.integration.collection.test_suspense import wait_for_metric
from tests.kafka_helpers import header, publish

pytestmark = pytest.mark.integration

TWO_ENTRIES = CAMT054.replace("</Ntfctn>", """<Ntry><NtryRef>2</NtryRef><Amt Ccy="VND">250000</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2025-08-20</Dt></BookgDt><ValDt><Dt>2025-08-19</Dt></ValDt>
    <AcctSvcrRef>FT25232TWO</AcctSvcrRef><BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
     <RmtInf><Ustrd>BHXH DN0001 T07</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
  </Ntfctn>""")


def from_bank(payment_id: str, amount: int, bank_bin: str | None, value_date: str = "2025-08-20") -> dict:
    return new_envelope(RemittanceReceived(payment_id=payment_id, employer_code="DN0001", amount=amount,
                                           value_date=date.fromisoformat(value_date), bank_reference=f"FT{payment_id}",
                                           bank_bin=bank_bin), "bank")


async def recorded(collection) -> list[tuple]:
    rows = await collection.sql("SELECT payment_id, employer_code, amount, value_date, bank_bin "
                                "FROM collection.remittances ORDER BY payment_id")
    return [(r["payment_id"], r["employer_code"], r["amount"], r["value_date"].isoformat(), r["bank_bin"]) for r in rows]


async def test_the_same_payment_id_with_another_amount_or_value_date_is_dead_lettered_and_changes_nothing(collection):
    await declare_june_and_july(collection)
    await collection.pay(remittance("P7", 1_000_000))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="recorded"} 1.0')
    await collection.pay(remittance("P7", 1_500_000), remittance("P7", 1_000_000, value_date="2025-08-21"),
                         remittance("P7", 1_000_000))
    first, second = await collection.dead("collection.remittances", expect=2)
    assert header(first, "dlq.error_class") == "PaymentIdConflict"
    assert header(first, "dlq.reason").startswith("payment id P7 is already recorded with a different amount;")
    assert "1500000" not in header(first, "dlq.reason") and "1,500,000" not in header(first, "dlq.reason")
    assert header(second, "dlq.reason").startswith("payment id P7 is already recorded with a different value_date;")
    await wait_for_metric(collection, b'collection_remittances_total{outcome="conflict"} 2.0')
    await wait_for_metric(collection, b'collection_remittances_total{outcome="duplicate_payment"} 1.0')
    assert await recorded(collection) == [("P7", "DN0001", 1_000_000, "2025-08-20", None)]
    assert len(await collection.events("collection.allocations", expect=1, settle=1.0)) == 1
    # A conflict is not claimed in the inbox: replayed, it is checked again and refused again.
    conflicting = remittance("P7", 1_500_000)
    await collection.pay(conflicting)
    await wait_for_metric(collection, b'collection_remittances_total{outcome="conflict"} 3.0')
    await collection.pay(conflicting)
    await wait_for_metric(collection, b'collection_remittances_total{outcome="conflict"} 4.0')


async def test_payment_ids_are_unique_per_bank_and_one_transfer_reported_twice_is_one_payment(collection):
    await declare_june_and_july(collection)
    await collection.pay(from_bank("P9", 100_000, "970436"), from_bank("P9", 200_000, "970418"),
                         from_bank("FT25232ABC", 500_000, "970436", value_date="2025-08-19"))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="recorded"} 3.0')
    # The bank's camt.054 for the transfer it already reported as FT25232ABC: the same payment.
    camt = CAMT054.format(amount=500_000, ref="FT25232ABC", rmt="<Ustrd>BHXH DN0001 T06</Ustrd>")
    await collection.pay(new_envelope(CreditNotificationReceived(bank_bin="970436", document=camt), "bank-970436"))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="duplicate_payment"} 1.0')
    assert await recorded(collection) == [("970418-P9", "DN0001", 200_000, "2025-08-20", "970418"),
                                          ("970436-FT25232ABC", "DN0001", 500_000, "2025-08-19", "970436"),
                                          ("970436-P9", "DN0001", 100_000, "2025-08-20", "970436")]


async def test_a_notification_with_one_conflicting_credit_takes_the_others_and_shows_the_conflict_in_the_dlq(
        collection):
    await declare_june_and_july(collection)
    await collection.pay(from_bank("FT25232ABC", 999_000, "970436"))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="recorded"} 1.0')
    document = TWO_ENTRIES.format(amount=500_000, ref="FT25232ABC", rmt="<Ustrd>BHXH DN0001 T06</Ustrd>")
    envelope = new_envelope(CreditNotificationReceived(bank_bin="970436", document=document), "bank-970436")
    await collection.pay(envelope)
    [dead] = await collection.dead("collection.remittances", expect=1)
    assert header(dead, "dlq.error_class") == "CreditsRefused"
    reason = header(dead, "dlq.reason")
    assert "the document's other 1 credit(s) were taken" in reason
    assert "payment id 970436-FT25232ABC is already recorded with a different amount, value_date" in reason
    assert [r[0] for r in await recorded(collection)] == ["970436-FT25232ABC", "970436-FT25232TWO"]

    # Replayed as it is (the DLQ keeps the original bytes): the good credit is not taken twice, the conflict
    # is reported again.
    await publish(collection.isolated.bootstrap, collection.isolated.topic("collection.remittances"),
                  [(dead.key, dead.value)])
    assert len(await collection.dead("collection.remittances", expect=2)) == 2
    await wait_for_metric(collection, b'collection_remittances_total{outcome="duplicate_payment"} 1.0')
    [row] = await collection.sql("SELECT sum(amount) AS total FROM collection.remittances")
    assert row["total"] == 999_000 + 250_000
    assert len(await collection.events("collection.allocations", expect=2, settle=1.0)) == 2
