"""pain.002 documents mutated at random, through the real broker and the running service: each one ends
processed (its event id claimed) or in payments.bank-status.dlq with a reason that quotes nothing of it, the
service stays ready, and a good report sent after them all is applied."""
from __future__ import annotations

import json
import random

import pytest

from schemas import payments as wire
from schemas.envelope import encode, new_envelope
from services.payments.iso.errors import InvalidStatusReport
from services.payments.iso.pain002 import parse_status_report
from tests.integration.payments.status_world import status_world
from tests.kafka_helpers import publish
from tests.unit.payments.pain002_documents import pain002
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration
SECRET = "0011001234567"
JUNK = ["<", ">", "&", "]]>", "<!DOCTYPE x>", "&x;", SECRET, "\ud800", "<TxSts>", "</Document>", "é", "\t"]


def mutate(text: str, rng: random.Random) -> str:
    """Half the time a change the XSD accepts (another status, reason, payment, message, a repeated
    transaction), half the time broken bytes or structure."""
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["status", "reason", "payment", "message", "repeat"])
            if kind == "status":
                text = text.replace(rng.choice(["ACSC", "RJCT"]), rng.choice(["RJCT", "ACTC", "PDNG", "ACCC", "ACSC"]), 1)
            elif kind == "reason":
                text = text.replace("<Cd>AC04</Cd>", f"<Cd>{rng.choice(['AM04', 'BE01', 'MS03', 'AC01'])}</Cd>", 1)
            elif kind == "payment":
                text = text.replace("<OrgnlEndToEndId>PMT", "<OrgnlEndToEndId>PMT9", 1)  # a payment never sent
            elif kind == "message":
                text = text.replace("<OrgnlMsgId>", "<OrgnlMsgId>X", 1)
            else:
                start, end = text.find("<TxInfAndSts>"), text.find("</TxInfAndSts>") + len("</TxInfAndSts>")
                text = text[:end] + text[start:end] + text[end:]
        return text
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(text) + 1)
        junk = rng.choice(JUNK)
        kind = rng.choice(["delete", "insert", "replace"])
        if kind == "delete":
            text = text[:at] + text[at + rng.randint(1, 30):]
        elif kind == "insert":
            text = text[:at] + junk + text[at:]
        else:
            text = text[:at] + junk + text[at + len(junk):]
    return text


def refused_by_parser(document: str) -> bool:
    try:
        parse_status_report(document)
    except InvalidStatusReport:
        return True
    return False


async def test_mutated_status_reports_are_each_processed_or_dead_lettered_and_the_service_goes_on(isolated):
    rng = random.Random(20260205)
    async with status_world(isolated) as world:
        pay = world.payment_of
        base = pain002(world.message_of["970436"], group_status="PART",
                       transactions=[(pay[3], "ACSC", None), (pay[6], "RJCT", "AC04")])
        documents = [mutate(base, rng) for _ in range(60)]
        envelopes = []
        for document in documents:
            # a lone surrogate cannot travel as UTF-8 JSON: the sender would have sent something else
            document = document.encode("utf-8", "replace").decode("utf-8")
            envelope = new_envelope(wire.BankStatusReportReceived.model_construct(bank_bin="970436",
                                                                                 document=document), "bank")
            envelopes.append((envelope, document))
        await publish(isolated.bootstrap, isolated.topic("payments.bank-status"),
                      [(b"970436", encode(e)) for e, _ in envelopes])
        await world.isolated.wait_until_idle("payments")

        letters = await world.dead_letters("payments.bank-status", expect=1)
        dead = {json.loads(value)["event_id"]: reason for reason, value in letters}
        claimed = {str(r["event_id"]) for r in await world.fetch(
            "SELECT event_id FROM inbox WHERE consumer = 'payments.bank-status'")}
        ids = [e["event_id"] for e, _ in envelopes]
        assert set(ids) == set(dead) | claimed, "every message is processed or dead-lettered"
        assert not set(dead) & claimed, "never both"
        assert len(dead) >= 10 and len(claimed) >= 5, (len(dead), len(claimed))  # the corpus exercises both paths
        for (envelope, document) in envelopes:
            if refused_by_parser(document):
                assert envelope["event_id"] in dead
        assert all(reason and SECRET not in reason for reason in dead.values())
        assert world.service.get("/ready", token=None)[0] == 200

        # A good report after all of them is applied.
        await world.bank_json("970418", pay[2], "ACSC")
        await world.until_states({pay[2]: "settled"})
        await eventually_async(lambda: world.service.get("/ready", token=None)[0], until=lambda s: s == 200,
                               what="the service stays ready")
