"""ansinh.runtime.kafka_records: a header key that is not UTF-8 no longer stops a partition.

These tests also guard the patch against an aiokafka upgrade: they fail if aiokafka's readers stop
raising on such a key (our decoder would then miss it), if the fetcher no longer builds its batches from
the module-level ``MemoryRecords`` we replace, or if the pure-Python reader we extend reads differently
from the C reader the services use.
"""
from __future__ import annotations

import inspect

import pytest
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatch, _DefaultRecordBatchPy
from aiokafka.record.memory_records import MemoryRecords, _MemoryRecordsPy

from ansinh.runtime import kafka_records
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from ansinh.runtime.kafka_records import TolerantMemoryRecords, _LenientBatch, not_utf8, printable_key
from schemas.collection import SalaryDeclared
from tests.raw_records import build_batch

GZIP = 1  # lz4, snappy, zstd need libraries the services do not install
BAD = b"\xff\xfe"
MIXED = [(b"k1", b"good before", [("trace", b"1")]),
         (b"k2", b"x", [(BAD, b"v"), ("ok", b"w")]),
         (None, b"good after", []),
         (b"k4", b"second bad", [(b"a\x00\xc3(", None)]),
         (b"k5", b"last good", [("h", None)])]


def read_all(memory_records) -> list[tuple]:
    """What aiokafka's fetcher does with a fetched partition: every record of every batch, in order."""
    out = []
    while memory_records.has_next():
        batch = memory_records.next_batch()
        assert batch.validate_crc()
        for record in batch:
            out.append((record.offset, record.timestamp, record.timestamp_type, record.key, record.value,
                        list(record.headers)))
    return out


@pytest.mark.parametrize("reader", [MemoryRecords, _MemoryRecordsPy], ids=["C", "pure-Python"])
def test_aiokafka_itself_cannot_read_a_batch_holding_a_header_key_that_is_not_utf8(reader):
    # The reason for the patch. If this fails, aiokafka reads such keys now: check how they arrive
    # (the decoder dead-letters keys with lone surrogates, kafka_records.not_utf8) before dropping the patch.
    with pytest.raises((UnicodeDecodeError, CorruptRecordException)):
        read_all(reader(build_batch(MIXED)))


@pytest.mark.parametrize("compression", [0, GZIP], ids=["plain", "gzip"])
def test_every_record_of_a_batch_is_read_when_header_keys_are_not_utf8(compression):
    data = build_batch(MIXED, compression) + build_batch([(b"n", b"next batch", [(BAD, b"")])], compression,
                                                         base_offset=5)
    records = read_all(TolerantMemoryRecords(data))
    assert [(r[0], r[4]) for r in records] == [(0, b"good before"), (1, b"x"), (2, b"good after"),
                                               (3, b"second bad"), (4, b"last good"), (5, b"next batch")]
    assert records[1][5] == [("\udcff\udcfe", b"v"), ("ok", b"w")]
    assert records[3][5] == [("a\x00\udcc3(", None)]
    assert [not_utf8(k) for r in records for k, _ in r[5]] == [False, True, False, True, False, True]


def test_the_tolerant_reader_reads_good_batches_exactly_as_aiokafka_does():
    corpus = [(None, None, []), (b"", b"", [("", b"")]), (b"k", b"v" * 70_000, [("h", None), ("h", b"")]),
              (b"k", b"many", [(f"h{i}", str(i).encode()) for i in range(5000)]),
              ("ключ".encode(), "giá trị".encode(), [("tiêu đề", "đ".encode()), ("\x00\x7f", b"\x00")])]
    for compression in (0, GZIP):
        data = b"".join(build_batch(corpus[i:i + 2], compression, base_offset=10 * i) for i in range(len(corpus)))
        assert read_all(TolerantMemoryRecords(data)) == read_all(MemoryRecords(data))


def test_the_lenient_reader_is_aiokafkas_pure_python_reader_but_for_header_keys():
    # _LenientBatch overrides _read_msg of aiokafka's pure-Python reader: its fields must still be there
    # and it must read what the original reads.
    data = build_batch([(b"k", b"v", [("h", b"1"), ("g", None)]), (None, b"w", [])], GZIP, base_offset=3)
    original, lenient = _DefaultRecordBatchPy(data), _LenientBatch(data)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in original] == \
        [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in lenient]
    assert lenient.next_offset == DefaultRecordBatch(data).next_offset == 5


def test_install_replaces_the_memory_records_aiokafkas_fetcher_builds_from_a_fetch_response():
    kafka_records.install()
    assert fetcher.MemoryRecords is TolerantMemoryRecords and kafka_records.installed()
    # The fetcher must still look the name up in its module at fetch time for the replacement to count.
    assert "MemoryRecords(" in inspect.getsource(fetcher.Fetcher._proc_fetch_request)


def test_a_key_that_is_not_utf8_is_written_back_with_escapes_and_others_unchanged():
    assert printable_key("\udcff\udcfeab") == "\\xff\\xfeab"
    assert printable_key("tiêu đề") == "tiêu đề"
    assert not not_utf8("tiêu đề") and not_utf8("a\udc80")


def test_the_decoder_refuses_a_message_whose_header_key_is_not_utf8_naming_no_value():
    raw = RawMessage("t", 0, 7, None, b"{}", (("trace", b"1"), ("\udcff\udcfe", b"secret")))
    with pytest.raises(DecodeError) as refused:
        Decoder((SalaryDeclared,)).decode(raw)
    assert refused.value.code == "invalid_header"
    assert str(refused.value) == "header key is not UTF-8 (header 2 of 2)"
