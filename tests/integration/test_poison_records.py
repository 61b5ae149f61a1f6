"""Records that break the fetch itself, not the decode: a header key that is not UTF-8 (any client can
write one: ``kcat -H $'\\xff\\xfe=v'``), and the other odd shapes a batch can hold (a null header value, a
null key, an empty value, thousands of headers). Through the real broker and running services, on the
bulk path (collection.declarations, BulkSource) and the faust path (collection.remittances,
participants.contacts): the bad record is dead-lettered with its reason, the good records before and
after it in the same batch are processed, and the service stays ready.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from ansinh.runtime.settings import REPO_ROOT
from schemas.envelope import encode
from tests.fuzz.runner import ReadinessWatch
from tests.integration.collection.conftest import declaration, remittance
from tests.integration.test_consumer_plumbing import contact, sample
from tests.kafka_helpers import header, read_topic
from tests.raw_records import publish_raw

pytestmark = pytest.mark.integration

BAD_KEY = b"\xff\xfe"


def shapes(good):
    """One batch, in this order: good, bad header key, good with a null header value, a null key,
    an empty value, a good one with 2,000 headers, a second bad header key (no other header), good."""
    return [(b"a", encode(good(1)), [("trace", b"1")]),
            (b"b", encode(good(2)), [("trace", b"2"), (BAD_KEY, b"v")]),
            (b"c", encode(good(3)), [("nothing", None)]),
            (None, encode(good(4)), []),
            (b"e", b"", []),
            (b"f", encode(good(6)), [(f"h{i}", b"x") for i in range(2000)]),
            (b"g", b"\x00not json", [(b"\xc3(", None)]),
            (b"h", encode(good(8)), [])]


async def dead_letters(isolated, service, topic: str, expect: int):
    """The DLQ of ``topic`` once ``expect`` dead letters are there and ``service`` is idle."""
    dlq = isolated.topic(topic) + ".dlq"
    await read_topic(isolated.bootstrap, dlq, expect)
    await isolated.wait_until_idle(service)
    return {int(header(r, "dlq.source_offset")): r for r in await read_topic(isolated.bootstrap, dlq, expect)}


def check_dead_letters(dead: dict, offsets: list[int], sent) -> None:
    assert sorted(dead) == [offsets[1], offsets[4], offsets[6]], {o: header(r, "dlq.reason") for o, r in dead.items()}
    for index, reason in ((1, "header key is not UTF-8 (header 2 of 2)"),
                          (6, "header key is not UTF-8 (header 1 of 1)")):
        record = dead[offsets[index]]
        assert (record.key, record.value) == (sent[index][0], sent[index][1])  # the original key and bytes
        assert (header(record, "dlq.reason"), header(record, "dlq.stage")) == (reason, "decode")
        assert header(record, "dlq.error_class") == "DecodeError"
    assert [k for k, _ in dead[offsets[1]].headers][:2] == ["trace", "\\xff\\xfe"]  # the bad key, escaped
    assert header(dead[offsets[4]], "dlq.reason").startswith("malformed JSON")


@pytest.mark.timeout(180)
async def test_bad_header_keys_on_the_bulk_path_are_dead_lettered_and_the_rest_of_the_batch_is_assessed(isolated):
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE="2025-09-15")
    sent = shapes(lambda i: declaration(worker=f"000000000{i}"))
    with ReadinessWatch([("collection", service.port, service.proc)]) as watch:
        offsets = await publish_raw(isolated.bootstrap, isolated.topic("collection.declarations"), sent)
        dead = await dead_letters(isolated, "collection", "collection.declarations", 3)
    check_dead_letters(dead, offsets, sent)
    shown = subprocess.run([sys.executable, "-m", "ansinh.cli", "dlq", "show", "collection.declarations"],
                           cwd=REPO_ROOT, env=isolated.env(), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.count("header key is not UTF-8") == 2, shown.stderr[-2000:]
    rows = await _sql(isolated, "SELECT DISTINCT worker_code FROM collection.assessments ORDER BY 1")
    assert [r["worker_code"] for r in rows] == [f"000000000{i}" for i in (1, 3, 4, 6, 8)]
    assert (watch.failures, watch.exited) == ([], {}), "the service did not stay ready"
    status, metrics = service.get("/metrics")
    assert sample(metrics, "collection_declarations_rejected_total", reason="invalid_header") == 2.0
    assert sample(metrics, "ansinh_dlq_messages_total", topic="collection.declarations", stage="decode",
                  error_class="DecodeError") == 3.0


@pytest.mark.timeout(180)
async def test_bad_header_keys_on_the_faust_path_are_dead_lettered_and_the_rest_of_the_batch_is_recorded(isolated):
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE="2025-09-15")
    sent = shapes(lambda i: remittance(f"P{i}", 1_000_000 + i))
    with ReadinessWatch([("collection", service.port, service.proc)]) as watch:
        offsets = await publish_raw(isolated.bootstrap, isolated.topic("collection.remittances"), sent)
        dead = await dead_letters(isolated, "collection", "collection.remittances", 3)
    check_dead_letters(dead, offsets, sent)
    rows = await _sql(isolated, "SELECT bank_reference FROM collection.remittances ORDER BY 1")
    assert [r["bank_reference"] for r in rows] == [f"FTP{i}" for i in (1, 3, 4, 6, 8)]
    assert (watch.failures, watch.exited) == ([], {}), "the service did not stay ready"
    status, metrics = service.get("/metrics")
    assert sample(metrics, "ansinh_dlq_messages_total", topic="collection.remittances", stage="decode",
                  error_class="DecodeError") == 3.0


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
@pytest.mark.timeout(180)
async def test_a_header_key_written_by_kcat_does_not_stop_a_faust_consumer(isolated):
    # As the issue reproduced it, with a client that is not ours: printf x | kcat -P -t T -H $'\xff\xfe=v'
    service = isolated.start_service("notifications")
    topic = isolated.topic("participants.contacts")
    first, second = contact("1111111111"), contact("2222222222")
    for value, extra in ((encode(first), []), (b"x", ["-H", b"\xff\xfe=v"]), (encode(second), [])):
        subprocess.run(["kcat", "-P", "-b", isolated.bootstrap, "-t", topic, "-p", "0", "-k", "k", *extra],
                       input=value, check=True, timeout=30)
    dead = await dead_letters(isolated, "notifications", "participants.contacts", 1)
    [record] = dead.values()
    assert (record.value, header(record, "dlq.reason")) == (b"x", "header key is not UTF-8 (header 1 of 1)")
    claimed = await _sql(isolated, "SELECT event_id::text FROM notifications.inbox", service="notifications")
    assert sorted(r["event_id"] for r in claimed) == sorted([first["event_id"], second["event_id"]])
    assert service.get("/ready")[0] == 200


async def _sql(isolated, query: str, service: str = "collection"):
    import asyncpg

    conn = await asyncpg.connect(isolated.service(service).service_database_url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()
