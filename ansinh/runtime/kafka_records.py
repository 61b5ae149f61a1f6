"""Fetched record batches that a record's header key cannot break (installed once, at start-up).

Kafka header keys are a protocol ``String``, but neither producers nor the broker check that they are
UTF-8: any client can publish ``\\xff\\xfe=v`` (``kcat -H``). aiokafka decodes header keys as UTF-8 while
unpacking a fetched batch (``aiokafka/record/_crecords`` and ``default_records.py``), so ``getmany``
raises ``UnicodeDecodeError`` on every attempt and nothing of that partition is delivered again: one
record stops every consumer of its partition, the bulk source and the faust agents alike (faust fetches
through aiokafka).

``install()`` replaces the ``MemoryRecords`` that aiokafka's fetcher builds from each fetch response with
``TolerantMemoryRecords``: batches are still read by aiokafka's fast C reader; when a batch raises because
a header key is not UTF-8, that batch alone is read again, from its first unread record, by aiokafka's
pure-Python reader with header keys decoded with ``surrogateescape``. Every record of the batch is
delivered, the good ones before and after included, in offset order; the bad key arrives as a string with
lone surrogates (``not_utf8(key)``), which the decoder dead-letters ("header key is not UTF-8", stage
decode) and the DLQ writes back escaped (``printable_key``). Re-reading the whole fetch and seeking past
the record instead would have dead-lettered it by coordinates only and cost a fetch per bad record.

The patch touches aiokafka's internals (the fetcher's module-level ``MemoryRecords`` and the pure-Python
batch's ``_read_msg``); ``tests/unit/test_kafka_records.py`` fails if an aiokafka upgrade breaks either.
"""
from __future__ import annotations

import struct
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record import default_records
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.legacy_records import LegacyRecordBatch, _LegacyRecordBatchPy
from aiokafka.record.util import decode_varint

_ORIGINAL = fetcher.MemoryRecords


def install() -> None:
    """Make every aiokafka consumer of this process read batches with ``TolerantMemoryRecords`` (idempotent)."""
    fetcher.MemoryRecords = TolerantMemoryRecords


def installed() -> bool:
    return fetcher.MemoryRecords is TolerantMemoryRecords


def not_utf8(key: str) -> bool:
    """True for a header key read from bytes that are not UTF-8 (they arrive as lone surrogates)."""
    return any("\udc80" <= ch <= "\udcff" for ch in key)


def printable_key(key: str) -> str:
    """A header key a producer can write back: invalid bytes as ``\\xNN`` escapes, anything else as is."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") if not_utf8(key) else key


class TolerantMemoryRecords:
    """aiokafka's ``MemoryRecords`` (the batches of one fetched partition), each v2 batch wrapped in a
    ``_TolerantBatch``. Same framing as ``aiokafka.record.memory_records._MemoryRecordsPy``: every
    message format starts with Offset (int64) and Length (int32), the magic byte is at offset 16."""

    LENGTH_OFFSET, LOG_OVERHEAD, MAGIC_OFFSET = 8, 12, 16
    MIN_SLICE = LOG_OVERHEAD + _LegacyRecordBatchPy.RECORD_OVERHEAD_V0

    def __init__(self, data: bytes):
        self._buffer = data
        self._pos = 0
        self._next: memoryview | None = None
        self._cache_next()

    def size_in_bytes(self) -> int:
        return len(self._buffer)

    def _cache_next(self) -> None:
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos < self.LOG_OVERHEAD:
            self._next = None  # a partial batch at the end of the fetch: the fetcher asks again from there
            return
        end = pos + self.LOG_OVERHEAD + struct.unpack_from(">i", buffer, pos + self.LENGTH_OFFSET)[0]
        if end > len(buffer):
            self._next = None
            return
        self._next = memoryview(buffer)[pos:end]
        self._pos = end

    def has_next(self) -> bool:
        return self._next is not None

    def next_batch(self) -> Any:
        data = self._next
        if data is None:
            return None
        if len(data) < self.MIN_SLICE:
            raise CorruptRecordException(f"Record size is less than the minimum record overhead "
                                         f"({self.MIN_SLICE - self.LOG_OVERHEAD})")
        self._cache_next()
        magic = data[self.MAGIC_OFFSET]
        if magic >= 2:
            return _TolerantBatch(data, default_records.DefaultRecordBatch(data))
        return LegacyRecordBatch(data, magic)  # v0/v1 records have no headers


def _bad_header_key(exc: BaseException) -> bool:
    """The C reader raises ``UnicodeDecodeError``; the pure-Python one wraps it in CorruptRecordException."""
    return isinstance(exc, UnicodeDecodeError) or (
        isinstance(exc, CorruptRecordException) and isinstance(exc.__cause__, UnicodeDecodeError))


class _TolerantBatch:
    """One v2 record batch: aiokafka's reader, and ``_LenientBatch`` from the first record it could not read."""

    __slots__ = ("_data", "_batch")

    def __init__(self, data: memoryview, batch: Any):
        self._data, self._batch = data, batch

    def __getattr__(self, name: str) -> Any:  # base_offset, next_offset, validate_crc, is_control_batch...
        return getattr(self._batch, name)

    def __next__(self):  # the fetcher reads a control batch's marker with next(); those carry no headers
        return next(self._batch)

    def __iter__(self):
        """The records in order (a generator: cheaper per record than a ``__next__`` of ours)."""
        read = 0
        try:
            for record in iter(self._batch):  # iter() decompresses, as aiokafka's ``__iter__`` does
                yield record
                read += 1
            return
        except (UnicodeDecodeError, CorruptRecordException) as exc:
            if not _bad_header_key(exc):
                raise
        lenient = iter(_LenientBatch(self._data))
        for _ in range(read):  # the records already delivered
            next(lenient)
        yield from lenient


class _LenientBatch(_DefaultRecordBatchPy):
    """aiokafka's pure-Python v2 batch reader, except that header keys are decoded with ``surrogateescape``
    (``_read_msg`` is aiokafka 0.14's, that one call changed)."""

    def _read_msg(self, decode_varint=decode_varint) -> _DefaultRecordPy:
        buffer = self._buffer
        pos = self._pos
        length, pos = decode_varint(buffer, pos)
        start_pos = pos
        _, pos = decode_varint(buffer, pos)  # attributes
        ts_delta, pos = decode_varint(buffer, pos)
        timestamp = self.max_timestamp if self.timestamp_type == self.LOG_APPEND_TIME \
            else self.first_timestamp + ts_delta
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable_bytes(buffer, pos)
        value, pos = _nullable_bytes(buffer, pos)
        header_count, pos = decode_varint(buffer, pos)
        if header_count < 0:
            raise CorruptRecordException(f"Found invalid number of record headers {header_count}")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            h_key_len, pos = decode_varint(buffer, pos)
            if h_key_len < 0:
                raise CorruptRecordException(f"Invalid negative header key size {h_key_len}")
            h_key = bytes(buffer[pos:pos + h_key_len]).decode("utf-8", "surrogateescape")
            pos += h_key_len
            h_value, pos = _nullable_bytes(buffer, pos)
            headers.append((h_key, h_value))
        if pos - start_pos != length:
            raise CorruptRecordException(f"Invalid record size: expected to read {length} bytes in record "
                                         f"payload, but instead read {pos - start_pos}")
        self._pos = pos
        return _DefaultRecordPy(self.base_offset + offset_delta, timestamp, self.timestamp_type, key, value,
                                headers)


def _nullable_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos:pos + size]), pos + size
