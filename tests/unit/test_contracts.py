"""The committed contract files match the models, and existing consumers never break silently."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from schemas import generate
from schemas.collection import SalaryDeclared
from schemas.compat import breaking_changes
from schemas.envelope import Envelope, encode, new_envelope
from schemas.topics import CATALOGUE, all_messages


def declaration(**overrides) -> SalaryDeclared:
    fields = dict(employer_code="DN0001", employer_tax_code="0101234567", region=1, period="2025-07",
                  worker_code="0123456789", worker_name="Nguyễn Văn An", citizen_id="001090012345",
                  contribution_salary=10_000_000, funds=["retirement", "health"], revision=0)
    fields.update(overrides)
    return SalaryDeclared(**fields)


def test_the_committed_json_schemas_and_asyncapi_document_match_the_models():
    assert generate.drift() == [], "run `ansinh schemas generate` and commit the result"


@pytest.mark.parametrize("message", all_messages(), ids=lambda m: f"{m.event_type}.v{m.schema_version}")
def test_each_model_is_backward_compatible_with_its_released_schema(message):
    released = generate.RELEASED_DIR / generate.file_name(message)
    assert released.exists(), f"{released.name} was never released; run `ansinh schemas generate`"
    problems = breaking_changes(json.loads(released.read_text()), generate.message_schema(message))
    assert problems == [], f"bump {message.__name__}.schema_version: {problems}"


def test_removing_a_required_field_is_a_breaking_change():
    old = generate.message_schema(SalaryDeclared)
    new = json.loads(json.dumps(old))
    del new["properties"]["payload"]["properties"]["citizen_id"]
    assert any("citizen_id: removed or renamed" in p for p in breaking_changes(old, new))


def test_changing_a_field_type_is_a_breaking_change():
    old = generate.message_schema(SalaryDeclared)
    new = json.loads(json.dumps(old))
    new["properties"]["payload"]["properties"]["contribution_salary"] = {"type": "string"}
    assert any("contribution_salary: type changed" in p for p in breaking_changes(old, new))


def test_making_a_required_field_optional_is_a_breaking_change():
    old = generate.message_schema(SalaryDeclared)
    new = json.loads(json.dumps(old))
    new["properties"]["payload"]["required"].remove("period")
    assert any("period: no longer required" in p for p in breaking_changes(old, new))


def test_adding_an_optional_field_is_compatible():
    old = generate.message_schema(SalaryDeclared)
    new = json.loads(json.dumps(old))
    new["properties"]["payload"]["properties"]["department"] = {"type": "string"}
    assert breaking_changes(old, new) == []


def test_the_asyncapi_document_describes_every_topic_with_key_producers_and_consumers():
    doc = generate.asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    for spec in CATALOGUE:
        channel = addresses[spec.name]
        assert channel["x-producers"] and channel["x-consumers"]
        for message in spec.messages:
            ref = doc["components"]["messages"][message.event_type]
            assert ref["bindings"]["kafka"]["key"]["description"] == spec.key
            assert (generate.JSON_DIR / ref["payload"]["$ref"].split("/")[-1]).exists()


def raw(value: bytes) -> RawMessage:
    return RawMessage("collection.declarations", 0, 0, b"DN0001", value)


def test_a_number_sent_as_text_is_rejected_not_coerced():
    envelope = new_envelope(declaration(), "payroll")
    envelope["payload"]["contribution_salary"] = "12000000"
    with pytest.raises(DecodeError, match="payload.contribution_salary: Input should be a valid integer"):
        Decoder((SalaryDeclared,)).decode(raw(encode(envelope)))


def test_an_envelope_without_a_timezone_is_rejected():
    envelope = new_envelope(declaration(), "payroll")
    envelope["occurred_at"] = "2025-07-01T08:00:00"
    with pytest.raises(DecodeError, match="occurred_at"):
        Decoder((SalaryDeclared,)).decode(raw(encode(envelope)))


def test_an_unknown_message_type_names_the_types_the_topic_accepts():
    envelope = new_envelope(declaration(), "payroll")
    envelope["type"] = "SalaryDeclard"
    with pytest.raises(DecodeError, match="expected one of: SalaryDeclared v1"):
        Decoder((SalaryDeclared,)).decode(raw(encode(envelope)))


def test_a_valid_declaration_decodes_to_the_same_model():
    message = declaration(period="2026-01", region=4)
    decoded = Decoder((SalaryDeclared,)).decode(raw(encode(new_envelope(message, "payroll"))))
    assert decoded.message == message
    assert isinstance(decoded.envelope, Envelope) and decoded.envelope.occurred_at.tzinfo is not None


@pytest.mark.parametrize("field,value", [("worker_code", "12345"), ("citizen_id", "00109001234X"),
                                         ("period", "2025-13"), ("region", 5), ("contribution_salary", -1),
                                         ("funds", []), ("employer_tax_code", "01012345"),
                                         # the crashers: past bigint, year 0, Unicode digits, NUL
                                         ("revision", 2**64), ("contribution_salary", 10**20),
                                         ("period", "0000-07"), ("period", "9999-12"),
                                         ("worker_code", "٠١٢٣٤٥٦٧٨٩"), ("citizen_id", "٠٠١٠٩٠٠١٢٣٤٥"),
                                         ("employer_tax_code", "０１０１２３４５６７"), ("worker_name", "An\x00"),
                                         ("worker_name", "A" * 201), ("worker_code", "0123456789\n")])
def test_declarations_with_malformed_fields_are_rejected(field, value):
    with pytest.raises(ValidationError):
        declaration(**{field: value})


def test_a_declaration_refused_for_a_bad_field_says_which_field_through_the_decoder():
    envelope = new_envelope(declaration(), "payroll")
    envelope["payload"]["period"] = "0000-07"
    with pytest.raises(DecodeError, match="payload.period: String should match pattern"):
        Decoder((SalaryDeclared,)).decode(raw(encode(envelope)))


def test_an_integer_written_with_a_zero_fraction_is_that_integer_as_json_schema_says():
    envelope = new_envelope(declaration(), "payroll")
    envelope["payload"]["contribution_salary"] = 12_000_000.0
    decoded = Decoder((SalaryDeclared,)).decode(raw(encode(envelope)))
    assert decoded.message.contribution_salary == 12_000_000
    assert type(decoded.message.contribution_salary) is int


def test_dates_and_timestamps_built_in_python_keep_to_the_same_years_as_the_wire():
    from datetime import date, datetime, timezone

    from schemas.collection import RemittanceReceived
    from schemas.payments import CashPaymentReported

    fields = dict(payment_id="P1", employer_code="DN0001", amount=1, bank_reference="ref")
    assert RemittanceReceived(value_date=date(2100, 12, 31), **fields).value_date.year == 2100
    for day in (date(9999, 12, 31), date(1, 1, 1), date(1994, 12, 31)):
        with pytest.raises(ValidationError, match="year must be within 1995-2100"):
            RemittanceReceived(value_date=day, **fields)
    with pytest.raises(ValidationError, match="year must be within"):
        CashPaymentReported(payment_id="P1", paying_office="HN1", outcome="paid",
                            paid_at=datetime(9999, 12, 31, tzinfo=timezone.utc))


def _nodes(node, where="$"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _nodes(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _nodes(value, f"{where}[{i}]")


@pytest.mark.parametrize("message", all_messages(), ids=lambda m: m.event_type)
def test_every_integer_string_and_list_in_a_published_schema_is_bounded(message):
    unbounded = []
    for where, node in _nodes(generate.message_schema(message)):
        kind = node.get("type")
        if "const" in node or "enum" in node or where.endswith(".not"):
            continue
        if kind == "integer" and not ("minimum" in node or "exclusiveMinimum" in node) or \
                kind == "integer" and "maximum" not in node:
            unbounded.append(f"{where}: integer without minimum and maximum")
        if kind == "string" and not ("maxLength" in node or "pattern" in node):
            unbounded.append(f"{where}: string without maxLength or pattern")
        if kind == "string" and "not" not in node:
            unbounded.append(f"{where}: string that does not refuse control characters")
        if kind == "string" and "\\d" in node.get("pattern", ""):
            unbounded.append(f"{where}: \\d matches any Unicode digit; write [0-9]")
        if kind == "array" and "maxItems" not in node:
            unbounded.append(f"{where}: list without maxItems")
    assert unbounded == []


def test_an_outbox_event_carries_the_same_envelope_as_the_generic_builder():
    import uuid

    from ansinh.runtime import outbox

    message, eid, cid, cause = declaration(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    built = outbox.event("collection.declarations", "DN0001", message, "collection", event_id=eid,
                         correlation_id=cid, causation_id=cause)
    generic = new_envelope(message, "collection", event_id=eid, correlation_id=cid, causation_id=cause)
    sent = json.loads(built.value)
    assert {k: v for k, v in sent.items() if k != "occurred_at"} == {
        k: v for k, v in generic.items() if k != "occurred_at"}
    decoded = Decoder((SalaryDeclared,)).decode(raw(built.value))
    assert decoded.message == message and decoded.envelope.occurred_at.tzinfo is not None
    assert built.headers == {"type": "SalaryDeclared", "correlation_id": str(cid)}
