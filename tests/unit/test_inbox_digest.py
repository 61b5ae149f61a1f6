"""The content digest the inbox stores with each claim, and how the consume loop sets aside a reused id
(pure: decoded messages, a fake handler and a recording DLQ; the claim itself runs against the real
database in tests/integration/test_inbox_claim.py).

What users rely on: a producer re-sending an event (same id, same facts, new timestamp or serialisation)
is a duplicate; the same id with other facts (another amount) is refused loudly, alone, and the rest of
its batch commits.
"""
from __future__ import annotations

import json
import uuid

from ansinh.runtime.consumer import BatchConsumer
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import EventIdReused
from ansinh.runtime.inbox import DIGEST_SIZE, DIGEST_VERSION
from schemas.collection import CreditNotificationReceived, RemittanceReceived
from schemas.envelope import encode, new_envelope
from tests.unit.test_consumer_isolation import RecordingDeadLetters

DECODER = Decoder((RemittanceReceived, CreditNotificationReceived))
EVENT_ID = uuid.UUID("0b7f9a3c-2a4e-4a8e-9a41-6c1e2f0d5b17")


def remittance(amount: int = 1_500_000, **fields) -> RemittanceReceived:
    return RemittanceReceived(**{"payment_id": "FT2501", "employer_code": "DN0001", "amount": amount,
                                 "value_date": "2025-08-20", "bank_reference": "FT2501", **fields})


def envelope(message, event_id=EVENT_ID, **head) -> dict:
    return new_envelope(message, head.pop("producer", "bank-970436"), event_id=event_id, **head)


def decoded(value: dict | bytes, offset: int = 0):
    raw = value if isinstance(value, bytes) else encode(value)
    return DECODER.decode(RawMessage("collection.remittances", 0, offset, b"DN0001", raw))


def test_the_same_event_sent_again_later_by_another_process_hashes_the_same():
    first = envelope(remittance(), occurred_at=None, producer="bank-970436")
    again = envelope(remittance(), correlation_id=uuid.uuid4(), causation_id=uuid.uuid4(), producer="bank-retry",
                     occurred_at="2026-01-01T09:00:00+07:00")
    assert first["occurred_at"] != again["occurred_at"]
    assert decoded(first).digest == decoded(again).digest


def test_key_order_whitespace_escapes_and_a_field_left_at_its_default_do_not_change_the_digest():
    sent = envelope(remittance())
    payload = dict(reversed(list(sent["payload"].items())))
    payload.pop("currency")  # "VND" is the default: saying it or not is the same fact
    rewritten = json.dumps({**sent, "payload": payload}, indent=2, ensure_ascii=True).encode()
    assert rewritten != encode(sent)
    assert decoded(rewritten).digest == decoded(sent).digest


def test_unknown_fields_do_not_count_they_are_not_part_of_the_contract():
    sent = envelope(remittance())
    extra = {**sent, "payload": {**sent["payload"], "note_from_a_newer_producer": "x"}}
    assert decoded(extra).digest == decoded(sent).digest


def test_a_changed_amount_value_date_or_employer_changes_the_digest():
    digests = {decoded(envelope(m)).digest for m in (
        remittance(), remittance(amount=1_500_001), remittance(value_date="2025-08-21"),
        remittance(employer_code="DN0002"), remittance(bank_bin="970436"))}
    assert len(digests) == 5


def test_the_digest_is_versioned_and_sized_for_the_inbox_column():
    digest = decoded(envelope(remittance())).digest
    assert len(digest) == DIGEST_SIZE and digest[:1] == DIGEST_VERSION


class ClaimingStore:
    """A fake handler that claims like ``inbox.claim`` with digests: an id first seen with one digest and
    then another is refused with ``EventIdReused``, and nothing of that transaction is kept."""

    def __init__(self):
        self.claimed: dict[uuid.UUID, bytes] = {}
        self.committed: list[int] = []
        self.transactions = 0

    async def handle(self, batch):
        self.transactions += 1
        seen = dict(self.claimed)
        reused = []
        for item in batch:
            kept = seen.setdefault(item.envelope.event_id, item.digest)
            if kept != item.digest:
                reused.append((item.envelope.event_id, item.digest))
        if reused:
            raise EventIdReused("collection.remittances", reused)
        self.claimed = seen
        self.committed += [item.raw.offset for item in batch]


def batch_of(envelopes: list[dict]) -> list[RawMessage]:
    return [decoded(e, offset).raw for offset, e in enumerate(envelopes)]


async def test_a_reused_id_in_a_batch_is_dead_lettered_alone_without_bisection_and_the_rest_commits():
    store, dead = ClaimingStore(), RecordingDeadLetters()
    first = envelope(remittance())
    store.claimed[EVENT_ID] = decoded(first).digest
    others = [envelope(remittance(payment_id=f"FT3{i:03d}"), event_id=uuid.uuid4()) for i in range(40)]
    batch = others[:17] + [envelope(remittance(amount=9_000_000))] + others[17:] + [first]
    consumer = BatchConsumer("unit", "collection.remittances", DECODER, store.handle, dead)

    await consumer.process(batch_of(batch))

    [(message, reason, error_class, stage)] = dead.routed
    assert (message.offset, error_class, stage) == (17, "EventIdReused", "transaction")
    assert f"event id {EVENT_ID} already used for different content" in reason
    assert "9000000" not in reason and "DN0001" not in reason
    assert store.committed == [o for o in range(len(batch)) if o != 17]
    assert store.transactions == 2  # the refused one, then the rest: the claim named the culprit


async def test_the_first_of_two_contents_under_one_id_in_the_same_batch_is_kept():
    store, dead = ClaimingStore(), RecordingDeadLetters()
    batch = [envelope(remittance()), envelope(remittance(payment_id="FT9"), event_id=uuid.uuid4()),
             envelope(remittance(amount=2_000_000))]
    await BatchConsumer("unit", "collection.remittances", DECODER, store.handle, dead).process(batch_of(batch))
    assert [m.offset for m, *_ in dead.routed] == [2]
    assert store.committed == [0, 1] and store.claimed[EVENT_ID] == decoded(batch[0]).digest
