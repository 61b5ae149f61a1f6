"""The consume loop isolates bad messages (pure: a fake handler and a recording DLQ, no broker or database).

What users rely on: whatever one message does, it ends processed or dead-lettered with a reason that
names no value, the other messages of its batch are processed in offset order, and faults that are not
the message's are waited out, never dead-lettered.
"""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from ansinh.runtime import health
from ansinh.runtime.consumer import BatchConsumer, until_done
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import DeadLetters, RawMessage
from ansinh.runtime.errors import PermanentError
from ansinh.runtime.metrics import DEAD_LETTERS_IN_A_ROW, HELD
from schemas.benefits import ContactDetailsChanged
from schemas.envelope import encode, new_envelope

SERVICE, TOPIC = "unit-consumer", "participants.contacts"
POISON = "9999999999"


class RecordingDeadLetters(DeadLetters):
    def __init__(self):
        super().__init__(None, SERVICE, TOPIC)  # type: ignore[arg-type]
        self.routed: list[tuple[RawMessage, str, str, str]] = []

    async def route(self, message, reason, error_class, stage="transaction"):
        self.routed.append((message, reason, error_class, stage))


def raws(codes: list[str]) -> list[RawMessage]:
    return [RawMessage(TOPIC, 0, offset, code.encode(),
                       encode(new_envelope(ContactDetailsChanged(participant_code=code, phone="+84912345678"),
                                           "registry")))
            for offset, code in enumerate(codes)]


def codes_of(batch) -> list[str]:
    return [item.message.participant_code for item in batch]


def consumer(handler, prepare=None, dead=None) -> BatchConsumer:
    return BatchConsumer(SERVICE, TOPIC, Decoder((ContactDetailsChanged,)), handler, dead or RecordingDeadLetters(),
                         prepare=prepare, initial_backoff_s=0.001, max_backoff_s=0.01)


def unique_violation() -> asyncpg.PostgresError:
    return asyncpg.PostgresError.new({"C": "23505", "M": "duplicate key", "n": "probe_pkey", "t": "probe",
                                      "D": f"Key (code)=({POISON}) already exists."})


def int64_overflow() -> Exception:
    """What asyncpg 0.31 raises for a Python int that does not fit a bigint parameter of execute/executemany:
    a DataError (SQLSTATE class 22) of its own, quoting the value, with the OverflowError as its cause."""
    try:
        raise OverflowError("int too big to convert")
    except OverflowError as cause:
        try:
            raise asyncpg.DataError(f"invalid input for query argument $3: {POISON}123456789123 "
                                    "(value out of int64 range)") from cause
        except asyncpg.DataError as exc:
            return exc


def copy_overflow() -> Exception:
    """What ``copy_records_to_table`` raises for the same value: the codec's bare OverflowError."""
    return OverflowError(f"int too big to convert: {POISON}")


class Store:
    """A fake transactional handler: commits a batch unless it contains a poison code."""

    def __init__(self, failure, poison=(POISON,)):
        self.committed: list[str] = []
        self.transactions = 0
        self.failure, self.poison = failure, set(poison)

    async def handle(self, batch):
        self.transactions += 1
        if self.poison & set(codes_of(batch)):
            raise self.failure()
        self.committed += codes_of(batch)


@pytest.mark.parametrize("failure", [unique_violation, int64_overflow, copy_overflow, lambda: KeyError(POISON)],
                         ids=["unique violation", "int64 overflow", "int64 overflow in COPY", "handler KeyError"])
async def test_a_message_that_fails_the_transaction_is_dead_lettered_alone_and_the_rest_commits_in_order(failure):
    codes = [f"10000000{i:02d}" for i in range(37)]
    codes[23] = POISON
    store, dead = Store(failure), RecordingDeadLetters()
    await consumer(store.handle, dead=dead).process(raws(codes))

    assert store.committed == [c for c in codes if c != POISON]
    [(message, reason, error_class, stage)] = dead.routed
    assert message.offset == 23 and stage == "transaction"
    assert error_class == type(failure()).__name__
    assert POISON not in reason and "123456789123" not in reason
    assert store.transactions <= 2 * 6 + 3  # bisection: two transactions per level, not one per message


async def test_a_database_refusal_is_described_by_sqlstate_and_constraint_not_by_its_text():
    store, dead = Store(unique_violation), RecordingDeadLetters()
    await consumer(store.handle, dead=dead).process(raws(["1000000001", POISON]))
    reason = dead.routed[0][1]
    assert "SQLSTATE 23505" in reason and "probe_pkey" in reason and "already exists" not in reason


async def test_a_value_the_driver_cannot_encode_names_the_argument_not_the_value():
    store, dead = Store(int64_overflow), RecordingDeadLetters()
    await consumer(store.handle, dead=dead).process(raws([POISON]))
    reason = dead.routed[0][1]
    assert "query argument $3" in reason and "OverflowError" in reason and POISON not in reason


async def test_several_poison_messages_are_all_found_and_everything_else_commits():
    codes = [f"20000000{i:02d}" for i in range(50)]
    poison = {codes[0], codes[17], codes[18], codes[49]}
    store, dead = Store(unique_violation, poison), RecordingDeadLetters()
    await consumer(store.handle, dead=dead).process(raws(codes))
    assert store.committed == [c for c in codes if c not in poison]
    assert sorted(m.offset for m, *_ in dead.routed) == [0, 17, 18, 49]


async def test_two_messages_that_conflict_only_together_are_both_committed_apart():
    store, dead = Store(unique_violation), RecordingDeadLetters()

    async def handle(batch):  # e.g. ON CONFLICT DO UPDATE touching the same row twice in one statement
        codes = codes_of(batch)
        if "3000000001" in codes and "3000000002" in codes:
            raise asyncpg.PostgresError.new({"C": "21000", "M": "cannot affect row a second time"})
        store.committed += codes

    await consumer(handle, dead=dead).process(raws(["3000000001", "3000000002"]))
    assert store.committed == ["3000000001", "3000000002"] and dead.routed == []


async def test_a_failure_that_does_not_repeat_alone_is_not_dead_lettered():
    """E.g. a unique violation from a concurrent writer: the message is fine once the race is over."""
    for batch, failures in ((["1000000001", POISON], [True, True]), ([POISON], [True])):
        store, dead, failing = Store(unique_violation), RecordingDeadLetters(), iter(failures)

        async def handle(items):  # fails the first times it is tried (the batch, then alone once), then passes
            if POISON in codes_of(items) and next(failing, False):
                raise unique_violation()
            store.committed += codes_of(items)

        await consumer(handle, dead=dead).process(raws(batch))
        assert store.committed == batch and dead.routed == []


async def test_a_refusal_raised_by_the_handler_keeps_its_own_reason():
    class Refused(PermanentError):
        pass

    store, dead = Store(lambda: Refused("phone: not a number this operator serves")), RecordingDeadLetters()
    await consumer(store.handle, dead=dead).process(raws(["1000000001", POISON]))
    assert store.committed == ["1000000001"]
    assert dead.routed[0][1:] == ("phone: not a number this operator serves", "Refused", "transaction")


async def test_refusals_returned_by_the_handler_are_dead_lettered_at_the_check_stage():
    class Refused(PermanentError):
        pass

    async def handle(batch):
        return [(item, Refused("participant_code: not registered")) for item in batch
                if item.message.participant_code == POISON]

    dead = RecordingDeadLetters()
    await consumer(handle, dead=dead).process(raws(["1000000001", POISON]))
    assert [(m.offset, stage) for m, _, _, stage in dead.routed] == [(1, "check")]


async def test_transient_faults_are_retried_in_place_and_readiness_is_red_meanwhile():
    store, dead, seen_ready = Store(unique_violation), RecordingDeadLetters(), []
    faults = iter([asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), ConnectionRefusedError(),
                   asyncpg.exceptions.DeadlockDetectedError("deadlock")])
    health.of(SERVICE).start()

    async def handle(batch):
        seen_ready.append(health.of(SERVICE).ready)
        fault = next(faults, None)
        if fault is not None:
            raise fault
        store.committed += codes_of(batch)

    await consumer(handle, dead=dead).process(raws(["1000000001", "1000000002"]))
    assert store.committed == ["1000000001", "1000000002"] and dead.routed == []
    assert seen_ready == [True, False, False, False]  # red from the first retry until it passed
    assert health.of(SERVICE).ready


async def test_a_bug_of_ours_holds_the_consumer_instead_of_dead_lettering_every_message():
    """SQLSTATE 42 (undefined table, permission denied): every message would fail; nothing may move on."""
    dead, attempts, committed = RecordingDeadLetters(), [], []
    health.of(SERVICE).start()

    async def handle(batch):
        attempts.append((health.of(SERVICE).ready, HELD.labels(SERVICE, TOPIC)._value.get()))
        if len(attempts) < 5:  # until "someone deploys the fix"
            raise asyncpg.exceptions.UndefinedTableError('relation "probe" does not exist')
        committed.extend(codes_of(batch))

    await consumer(handle, dead=dead).process(raws(["1000000001", "1000000002", "1000000003"]))
    assert dead.routed == [] and committed == ["1000000001", "1000000002", "1000000003"]
    assert attempts[0] == (True, 0) and all(a == (False, 1) for a in attempts[1:])
    assert health.of(SERVICE).ready and HELD.labels(SERVICE, TOPIC)._value.get() == 0


async def test_a_prepare_step_that_raises_on_one_message_dead_letters_only_that_message():
    prepared_batches, applied = [], []

    def prepare(batch):
        for item in batch:
            if item.message.participant_code == POISON:
                raise ValueError("year 0 is out of range")  # e.g. date(0, 7, 1)
        prepared_batches.append(codes_of(batch))
        return codes_of(batch)

    async def apply(prepared):
        applied.extend(prepared)

    dead = RecordingDeadLetters()
    await consumer(apply, prepare=prepare, dead=dead).process(raws(["1000000001", POISON, "1000000003"]))
    assert applied == ["1000000001", "1000000003"]
    [(message, reason, error_class, stage)] = dead.routed
    assert (message.offset, error_class, stage) == (1, "ValueError", "prepare")
    assert reason.startswith("prepare failed: ValueError at ") and "test_consumer_isolation.py" in reason


async def test_a_decoder_crash_of_any_class_dead_letters_that_message_and_the_batch_goes_on():
    class Exploding(Decoder):
        def decode(self, raw):
            if raw.key == POISON.encode():
                raise RecursionError("maximum recursion depth exceeded")
            return super().decode(raw)

    applied, dead, undecodable = [], RecordingDeadLetters(), []

    async def handle(batch):
        applied.extend(codes_of(batch))

    batch_consumer = BatchConsumer(SERVICE, TOPIC, Exploding((ContactDetailsChanged,)), handle, dead,
                                   on_undecodable=undecodable.append)
    await batch_consumer.process(raws(["1000000001", POISON, "1000000003"]))
    assert applied == ["1000000001", "1000000003"]
    assert [(m.offset, cls, stage) for m, _, cls, stage in dead.routed] == [(1, "RecursionError", "decode")]
    assert len(undecodable) == 1


async def test_undecodable_messages_are_described_without_their_values():
    envelope = new_envelope(ContactDetailsChanged(participant_code="1000000001", phone="+84912345678"), "registry")
    envelope["payload"]["participant_code"] = "０１２３４５６７８９"  # not ASCII digits; personal data
    envelope["payload"]["phone"] = "0912345678"
    envelope["payload"]["0123456789"] = "Nguyễn Văn A"  # an unexpected key that is itself personal data
    envelope["type"] = 7
    bad = [RawMessage(TOPIC, 0, 0, b"k", encode(envelope))]
    envelope["type"] = "ContactDetailsChanged"
    bad.append(RawMessage(TOPIC, 0, 1, b"k", encode(envelope)))
    dead = RecordingDeadLetters()

    async def handle(batch):
        raise AssertionError("nothing here is valid")

    await consumer(handle, dead=dead).process(bad)
    assert len(dead.routed) == 2
    for _, reason, error_class, stage in dead.routed:
        assert (error_class, stage) == ("DecodeError", "decode")
        for value in ("0123456789", "０１２３４５６７８９", "0912345678", "Nguyễn"):
            assert value not in reason, reason
    assert "payload.phone" in dead.routed[1][1]


async def test_until_done_holds_on_an_unexpected_error_and_returns_when_it_passes():
    calls = []
    health.of(SERVICE).start()

    async def step():
        calls.append(health.of(SERVICE).ready)
        if len(calls) < 3:
            raise RuntimeError("a bug in the runtime")
        return "done"

    assert await asyncio.wait_for(until_done(step, SERVICE, TOPIC), 30) == "done"
    assert calls == [True, False, False] and health.of(SERVICE).ready


async def test_a_consumer_that_would_dead_letter_everything_holds_at_its_dead_letter_limit():
    """A handler bug that fails every message (a broken deploy) must not empty the topic into its DLQ."""
    codes = [f"40000000{i:02d}" for i in range(6)]
    dead, fixed, committed = RecordingDeadLetters(), asyncio.Event(), []
    health.of(SERVICE).start()

    async def handle(batch):
        if not fixed.is_set():
            raise TypeError("'NoneType' object is not subscriptable")  # the same bug for every message
        committed.extend(codes_of(batch))

    batch_consumer = BatchConsumer(SERVICE, TOPIC, Decoder((ContactDetailsChanged,)), handle, dead,
                                   initial_backoff_s=0.001, max_backoff_s=0.01, dead_letter_limit=2)
    processing = asyncio.create_task(batch_consumer.process(raws(codes)))
    deadline = asyncio.get_running_loop().time() + 10
    while health.of(SERVICE).ready and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert not health.of(SERVICE).ready and HELD.labels(SERVICE, TOPIC)._value.get() == 1
    assert [m.offset for m, *_ in dead.routed] == [0, 1] and not processing.done()
    assert DEAD_LETTERS_IN_A_ROW.labels(SERVICE, TOPIC)._value.get() == 3  # the limit, and the one held

    fixed.set()  # the fix is deployed (here: the same process, so the held message passes)
    await asyncio.wait_for(processing, 10)
    assert committed == codes[2:] and len(dead.routed) == 2
    assert health.of(SERVICE).ready and HELD.labels(SERVICE, TOPIC)._value.get() == 0
    assert DEAD_LETTERS_IN_A_ROW.labels(SERVICE, TOPIC)._value.get() == 0


async def test_dead_letters_separated_by_commits_never_reach_the_limit():
    codes = [f"50000000{i:02d}" for i in range(12)]
    poison = set(codes[::2])  # every other message is bad: the good ones commit in between
    store, dead = Store(unique_violation, poison), RecordingDeadLetters()
    batch_consumer = BatchConsumer(SERVICE, TOPIC, Decoder((ContactDetailsChanged,)), store.handle, dead,
                                   initial_backoff_s=0.001, max_backoff_s=0.01, dead_letter_limit=2)
    await asyncio.wait_for(batch_consumer.process(raws(codes)), 10)
    assert len(dead.routed) == 6 and store.committed == codes[1::2]


async def test_a_prepare_step_that_fails_every_message_dead_letters_them_all_and_never_holds():
    """A pure step's failure is the sender's (101 poison messages in a row must not stop a consumer):
    past the limit, each is still dead-lettered and the consumer stays ready."""
    dead, applied = RecordingDeadLetters(), []
    health.of(SERVICE).start()

    def prepare(batch):
        if any(code.endswith("9") for code in codes_of(batch)):
            raise ZeroDivisionError("division by zero")
        return codes_of(batch)

    async def apply(prepared):
        applied.extend(prepared)

    batch_consumer = BatchConsumer(SERVICE, TOPIC, Decoder((ContactDetailsChanged,)), apply, dead, prepare=prepare,
                                   initial_backoff_s=0.001, max_backoff_s=0.01, dead_letter_limit=3)
    codes = [f"6000000{i:02d}9" for i in range(10)] + ["6000000100"]
    await asyncio.wait_for(batch_consumer.process(raws(codes)), 10)
    assert [(m.offset, stage) for m, _, _, stage in dead.routed] == [(i, "prepare") for i in range(10)]
    assert applied == ["6000000100"] and health.of(SERVICE).ready
    assert HELD.labels(SERVICE, TOPIC)._value.get() == 0


async def test_refusals_the_handler_raises_do_not_count_towards_the_dead_letter_limit():
    class Refused(PermanentError):
        pass

    async def handle(batch):
        raise Refused("participant_code: not registered")

    dead = RecordingDeadLetters()
    batch_consumer = BatchConsumer(SERVICE, TOPIC, Decoder((ContactDetailsChanged,)), handle, dead,
                                   initial_backoff_s=0.001, max_backoff_s=0.01, dead_letter_limit=1)
    await asyncio.wait_for(batch_consumer.process(raws([f"70000000{i:02d}" for i in range(4)])), 10)
    assert [m.offset for m, *_ in dead.routed] == [0, 1, 2, 3]
