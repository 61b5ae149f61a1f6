"""Unidentified receipts: held on the suspense list, seen by an operator (HTTP and CLI), assigned to an
employer with an audited decision, then allocated with their original payment id and value date."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from schemas.collection import CreditNotificationReceived
from schemas.envelope import new_envelope
from services.collection.http import OPENAPI
from tests.conftest import OPERATOR_TOKEN
from tests.integration.collection.conftest import BUSINESS_DATE, CollectionUnderTest, declaration, remittance
from tests.integration.collection.test_remittances import CAMT054, declare_june_and_july, lines
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration

READER_TOKEN = "reader-token-0123456789abcdef"
TOKENS = json.dumps([
    {"principal": "test-operator", "token": OPERATOR_TOKEN,
     "roles": ["personal_data:read", "suspense:read", "suspense:assign"]},
    {"principal": "auditor", "token": READER_TOKEN, "roles": ["suspense:read"]}])


def conforms(answer: dict, schema: str) -> bool:
    """The answer is what services/collection/openapi.json promises."""
    document = json.loads(OPENAPI.read_text())
    jsonschema.validate(answer, {"$ref": f"#/components/schemas/{schema}", "components": document["components"]})
    return True


def notification(amount: int, ref: str, remittance_text: str) -> dict:
    document = CAMT054.format(amount=amount, ref=ref, rmt=f"<Ustrd>{remittance_text}</Ustrd>")
    return new_envelope(CreditNotificationReceived(bank_bin="970436", document=document), "bank-970436")


@pytest.fixture
async def collection(isolated):
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE, ANSINH_BATCH_WINDOW_S="0.05",
                                     ANSINH_API_TOKENS=TOKENS)
    yield CollectionUnderTest(isolated, service)


async def hold_two_unidentified_receipts(collection) -> list[dict]:
    await declare_june_and_july(collection)  # DN0001 is known; ZZ9999 never declared nor paid
    await collection.pay(notification(300_000, "FT25232NOREF", "chuyen tien"),
                         notification(700_000, "FT25232UNK", "BHXH ZZ9999 nop tien"))
    receipts = await wait_for_suspense(collection, 2)
    return receipts


async def wait_for_metric(collection, line: bytes) -> None:
    family = line.split(b"{")[0].split(b" ")[0]
    await eventually_async(lambda: [m for m in collection.service.get("/metrics")[1].splitlines() if m.startswith(family)],
                           30, until=lambda lines: line in lines, what=f"{line!r} on /metrics")


async def wait_for_suspense(collection, count: int) -> list[dict]:
    status, seen = await eventually_async(lambda: collection.get("/suspense"), 30,
                                          until=lambda answer: answer[0] == 200 and answer[1]["count"] == count,
                                          what=f"the suspense list holding {count} receipts")
    return seen["receipts"]


def assign(collection, receipt_id, body, token=OPERATOR_TOKEN):
    status, answer = collection.service.request("POST", f"/suspense/{receipt_id}/assign", body, token=token)
    return status, json.loads(answer)


async def test_credits_without_a_known_employer_wait_on_the_suspense_list_with_only_what_an_operator_needs(
        collection):
    receipts = await hold_two_unidentified_receipts(collection)
    assert [(r["payment_id"], r["bank_bin"], r["bank_reference"], r["amount"], r["value_date"], r["reason"])
            for r in receipts] == [("970436-FT25232NOREF", "970436", "FT25232NOREF", 300_000, "2025-08-19",
                                    "no_reference"),
                                   ("970436-FT25232UNK", "970436", "FT25232UNK", 700_000, "2025-08-19",
                                    "unknown_employer")]
    assert conforms(collection.get("/suspense")[1], "SuspenseList")
    assert set(receipts[0]) == {"id", "payment_id", "bank_bin", "bank_reference", "amount", "value_date", "reason",
                                "held_at", "assigned_to", "assigned_at"}
    assert (receipts[0]["assigned_to"], receipts[0]["assigned_at"]) == (None, None)
    assert await collection.dead("collection.remittances", expect=0) == []
    # No credit was made up for an employer collection has never seen.
    assert await collection.sql("SELECT * FROM collection.employers WHERE employer_code = 'ZZ9999'") == []
    metrics = collection.service.get("/metrics")[1]
    assert b"collection_suspense_receipts 2.0" in metrics and b"collection_suspense_vnd 1e+06" in metrics
    assert collection.service.get("/suspense", token=None)[0] == 401
    assert collection.service.get("/suspense", token=READER_TOKEN)[0] == 200
    # A restarted service reports what waits before any new payment arrives.
    collection.service.stop()
    collection.service = collection.isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE,
                                                           ANSINH_API_TOKENS=TOKENS)
    await wait_for_metric(collection, b"collection_suspense_receipts 2.0")


async def test_an_operator_assigns_a_receipt_and_it_is_allocated_with_its_original_payment_id_and_value_date(
        collection):
    receipts = await hold_two_unidentified_receipts(collection)
    receipt = receipts[1]["id"]
    status, refused = assign(collection, receipt, {"employer_code": "DN0001"})
    assert (status, [(p["in"], p["field"]) for p in refused["problems"]]) == (400, [("body", "reason")])
    status, refused = assign(collection, receipt, {"employer_code": "DN0001", "reason": "   "})
    assert status == 400 and "say why" in refused["problems"][0]["problem"]
    assert assign(collection, receipt, {"employer_code": "DN0001", "reason": "called"}, token=READER_TOKEN)[0] == 403
    assert assign(collection, receipt, {"employer_code": "DN0001", "reason": "called"}, token=None)[0] == 401
    assert assign(collection, 99999, {"employer_code": "DN0001", "reason": "x"})[0] == 404
    assert assign(collection, "abc", {"employer_code": "DN0001", "reason": "x"})[0] == 404
    assert assign(collection, receipt, {"employer_code": "DN0404", "reason": "typo"})[0] == 422

    status, answer = assign(collection, receipt, {"employer_code": "DN0001",
                                                   "reason": "employer phoned: ZZ9999 was a typo for DN0001"})
    assert status == 200, answer
    assert conforms(answer, "Assigned")
    assert (answer["payment_id"], answer["amount"], answer["value_date"], answer["allocated"],
            answer["credit_balance"]) == ("970436-FT25232UNK", 700_000, "2025-08-19", 700_000, 0)
    [event] = await collection.events("collection.allocations", expect=1)
    assert (event["payload"]["payment_id"], event["payload"]["value_date"]) == ("970436-FT25232UNK", "2025-08-19")
    assert lines(event) == [("2025-06", "health", 450_000), ("2025-06", "unemployment", 200_000),
                            ("2025-06", "accident", 50_000)]
    assert assign(collection, receipt, {"employer_code": "DN0001", "reason": "again"})[0] == 409

    [audit] = await collection.sql("SELECT principal, action, subject, reason, details FROM collection.audit_log")
    assert (audit["principal"], audit["action"], audit["subject"]) == ("test-operator", "suspense.assign", str(receipt))
    assert audit["reason"] == "employer phoned: ZZ9999 was a typo for DN0001"
    assert json.loads(audit["details"]) == {"employer_code": "DN0001", "payment_id": "970436-FT25232UNK",
                                            "amount": 700_000}
    status, still_open = collection.get("/suspense")
    assert [r["payment_id"] for r in still_open["receipts"]] == ["970436-FT25232NOREF"]
    status, assigned = collection.get("/suspense?status=assigned")
    assert conforms(assigned, "SuspenseList")
    assert [(r["payment_id"], r["assigned_to"]) for r in assigned["receipts"]] == [("970436-FT25232UNK", "DN0001")]
    assert b"collection_suspense_receipts 1.0" in collection.service.get("/metrics")[1]

    # The bank sends the same notification again: the receipt is the same payment, nothing moves.
    await collection.pay(notification(700_000, "FT25232UNK", "BHXH ZZ9999 nop tien"))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="duplicate_payment"} 1.0')
    assert len(await collection.events("collection.allocations", expect=1, settle=1.0)) == 1
    [row] = await collection.sql("SELECT count(*) AS n, sum(amount) AS total FROM collection.remittances")
    assert (row["n"], row["total"]) == (2, 1_000_000)


async def test_the_operator_cli_lists_and_assigns_receipts_with_the_operators_own_token(collection):
    receipts = await hold_two_unidentified_receipts(collection)
    env = dict(os.environ, ANSINH_COLLECTION_URL=f"http://127.0.0.1:{collection.service.port}", COLUMNS="200")
    env.pop("ANSINH_OPERATOR_TOKEN", None)

    def cli(*args, token=None):
        run_env = dict(env, **({"ANSINH_OPERATOR_TOKEN": token} if token else {}))
        return subprocess.run([sys.executable, "-m", "ansinh.cli", "suspense", *args], env=run_env,
                              capture_output=True, text=True, timeout=60)

    missing = cli("list")
    assert missing.returncode == 1 and "ANSINH_OPERATOR_TOKEN" in missing.stdout
    listed = cli("list", token=OPERATOR_TOKEN)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "FT25232NOREF" in listed.stdout and "unknown_employer" in listed.stdout and "1,000,000 VND" in listed.stdout
    refused = cli("assign", str(receipts[0]["id"]), "DN0001", "--reason", "remitter identified", token=READER_TOKEN)
    assert refused.returncode == 1 and "403" in refused.stdout
    assigned = cli("assign", str(receipts[0]["id"]), "DN0001", "--reason", "remitter identified",
                   token=OPERATOR_TOKEN)
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert "970436-FT25232NOREF" in assigned.stdout and "assigned to DN0001" in assigned.stdout
    [audit] = await collection.sql("SELECT principal, reason FROM collection.audit_log")
    assert (audit["principal"], audit["reason"]) == ("test-operator", "remitter identified")


async def test_a_credit_for_an_employer_known_only_later_stays_one_receipt_in_suspense(collection):
    await collection.pay(notification(500_000, "FT25232EARLY", "BHXH DN0007 nop tien"))
    [held] = await wait_for_suspense(collection, 1)
    assert held["reason"] == "unknown_employer"
    await collection.declare(declaration(employer="DN0007"))
    await collection.events("collection.assessments", expect=1)
    # Redelivered once the employer is known: the money is already on the suspense list, not paid twice.
    await collection.pay(notification(500_000, "FT25232EARLY", "BHXH DN0007 nop tien"))
    await wait_for_metric(collection, b'collection_remittances_total{outcome="duplicate_payment"} 1.0')
    assert await collection.events("collection.allocations", expect=0, settle=1.0) == []
    [row] = await collection.sql("SELECT count(*) AS n FROM collection.remittances")
    assert row["n"] == 1
    assert (await wait_for_suspense(collection, 1))[0]["id"] == held["id"]


async def test_a_payment_naming_its_employer_is_recorded_to_it_even_beside_a_credit_that_reads_the_same_code(collection):
    # A RemittanceReceived names its employer in a validated field: it is trusted, whatever else is in its batch
    # (a camt.054 credit that reads the same, never-seen code from free text must not send it to suspense).
    await collection.pay(notification(300_000, "FT25232SAMEBATCH", "BHXH DN0008 nop tien"),
                         remittance("P-DN0008", 200_000, employer="DN0008"))
    rows = await eventually_async(lambda: collection.sql("SELECT payment_id, employer_code FROM collection.remittances"),
                                  30, until=lambda found: len(found) == 2, what="both payments recorded")
    assert ("P-DN0008", "DN0008") in [(r["payment_id"], r["employer_code"]) for r in rows]
