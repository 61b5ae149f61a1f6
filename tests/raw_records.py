"""Kafka records as any client may write them, including what aiokafka's producer refuses to build:
header keys that are not UTF-8 (``bytes`` keys below). For tests of ``ansinh.runtime.kafka_records``.

aiokafka's pure-Python batch builder writes a header key with ``key.encode("utf-8")``; ``RawKey`` is a
``str`` whose ``encode`` gives back the raw bytes it was made from. ``raw_header_keys()`` makes this
process's aiokafka producers build batches with that builder, so ``producer.send(..., headers=[(b"\\xff",
b"v")])`` puts the bytes on the wire as they are, like ``kcat -H``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Sequence

from aiokafka.producer import message_accumulator, producer
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

Header = tuple[str | bytes, bytes | None]
Record = tuple[bytes | None, bytes | None, Sequence[Header]]  # key, value, headers


class RawKey(str):
    """A header key whose UTF-8 encoding is the given bytes, whatever they are."""

    def __new__(cls, raw: bytes) -> "RawKey":
        made = super().__new__(cls, raw.decode("utf-8", "backslashreplace"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:  # noqa: ARG002
        return self.raw


def raw_headers(headers: Iterable[Header] | None) -> list[tuple[str, bytes | None]] | None:
    """Headers with ``bytes`` keys turned into ``RawKey``s (other keys as they are)."""
    if headers is None:
        return None
    return [(RawKey(k) if isinstance(k, bytes) else k, v) for k, v in headers]


def build_batch(records: Sequence[Record], compression: int = 0, base_offset: int = 0) -> bytes:
    """One v2 record batch holding ``records`` at offsets ``base_offset``... (compression: aiokafka's codes)."""
    builder = _DefaultRecordBatchBuilderPy(magic=2, compression_type=compression, is_transactional=0,
                                           producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                           batch_size=64 * 1024 * 1024)
    for i, (key, value, headers) in enumerate(records):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=key, value=value, headers=raw_headers(headers))
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big", signed=True)  # BaseOffset is outside the CRC
    return bytes(data)


@contextmanager
def raw_header_keys():
    """aiokafka producers created inside build batches with the builder that writes ``RawKey``s as bytes."""
    modules = (message_accumulator, producer)  # the batches, and the producer's size estimate
    originals = [m.DefaultRecordBatchBuilder for m in modules]
    for m in modules:
        m.DefaultRecordBatchBuilder = _DefaultRecordBatchBuilderPy
    try:
        yield
    finally:
        for m, original in zip(modules, originals):
            m.DefaultRecordBatchBuilder = original


async def publish_raw(bootstrap: str, topic: str, records: Sequence[Record], partition: int = 0) -> list[int]:
    """Publish ``records`` to one partition in one producer batch (so one fetch returns them together),
    header keys written as given; returns their offsets."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    with raw_header_keys():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=100,
                                    max_batch_size=8 * 1024 * 1024, max_request_size=8 * 1024 * 1024)
        await producer.start()
        try:
            futures = [await producer.send(topic, value, key=key, partition=partition, headers=raw_headers(headers))
                       for key, value, headers in records]
            return [m.offset for m in await asyncio.gather(*futures)]
        finally:
            await producer.stop()
