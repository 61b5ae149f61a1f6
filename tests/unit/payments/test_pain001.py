"""pain.001 batches: valid against the official XSD, split under 1 MB, refused when they do not add up."""
import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import xmlschema

from services.payments.iso.pain001 import (NAMESPACE, BatchDoesNotAddUp, Debtor, Pain001Part, TransferItem,
                                           build_batches, check_part)

XSD = Path(__file__).resolve().parents[3] / "services/payments/iso/xsd/pain.001.001.09.xsd"
SCHEMA = xmlschema.XMLSchema(str(XSD))
DEBTOR = Debtor("Bảo hiểm xã hội Việt Nam", "1234567890123", "970415")
AT = datetime(2026, 2, 2, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def items(n, start=1, amount=4_500_000):
    return [TransferItem(f"PMT{i}", amount + i, f"Nguyễn Văn Số {i} & <Co>", "970436", f"{1000000000 + i}",
                         "BHXH 2026-02 lương hưu") for i in range(start, start + n)]


def build(payments, **kw):
    kw.setdefault("message_id_prefix", "R202602-970436")
    return build_batches(DEBTOR, "970436", date(2026, 2, 2), payments, created_at=AT, **kw)


def test_a_batch_is_one_valid_pain001_document_with_group_header_and_one_payment_block():
    [part] = build(items(3))
    SCHEMA.validate(part.document)
    data = SCHEMA.to_dict(part.document)
    header = data["CstmrCdtTrfInitn"]["GrpHdr"]
    assert header["MsgId"] == "R202602-970436-1"
    assert (header["NbOfTxs"], int(header["CtrlSum"])) == ("3", 3 * 4_500_000 + 6)
    [block] = data["CstmrCdtTrfInitn"]["PmtInf"]
    assert block["ReqdExctnDt"]["Dt"] == "2026-02-02"
    assert block["DbtrAcct"]["Id"]["Othr"]["Id"] == "1234567890123"
    assert [t["PmtId"]["EndToEndId"] for t in block["CdtTrfTxInf"]] == ["PMT1", "PMT2", "PMT3"]
    assert block["CdtTrfTxInf"][0]["Cdtr"]["Nm"] == "Nguyễn Văn Số 1 & <Co>"


def test_the_document_is_what_the_xsd_library_encodes_from_the_same_data():
    [part] = build(items(2))
    data = SCHEMA.to_dict(part.document)
    encoded = SCHEMA.encode(data, path="Document", namespaces={"": NAMESPACE})
    ElementTree.register_namespace("", NAMESPACE)
    reference = ElementTree.tostring(encoded, encoding="unicode")
    ours = ElementTree.canonicalize(part.document.split("?>", 1)[1], strip_text=True)
    assert ours == ElementTree.canonicalize(reference, strip_text=True)


def test_a_big_batch_is_split_into_parts_under_one_megabyte_each_valid_and_adding_up():
    payments = items(4000)
    parts = build(payments, max_document_bytes=300_000)
    assert len(parts) > 1
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert all(p.parts == len(parts) for p in parts)
    assert sum(p.number_of_transactions for p in parts) == 4000
    assert sum(p.control_sum for p in parts) == sum(i.amount for i in payments)
    assert [e for p in parts for e in p.end_to_end_ids] == [i.end_to_end_id for i in payments]
    for part in parts:
        assert len(json.dumps(part.document, ensure_ascii=False).encode()) <= 300_000
        SCHEMA.validate(part.document)
    assert len({p.message_id for p in parts}) == len(parts)


def test_the_default_limit_keeps_a_record_with_its_envelope_under_the_topics_one_megabyte():
    parts = build(items(6000))
    for part in parts:
        envelope = json.dumps({"payload": {"document": part.document, "message_id": part.message_id},
                               "pad": "x" * 2000}, ensure_ascii=False).encode()
        assert len(envelope) < 1_048_588
    assert len(parts) >= 2


def test_a_batch_whose_items_do_not_add_up_to_its_declared_total_is_refused():
    payments = items(3)
    with pytest.raises(BatchDoesNotAddUp, match="declares 3 transfers"):
        build(payments, declared=(3, sum(i.amount for i in payments) + 1))
    with pytest.raises(BatchDoesNotAddUp, match="declares 4 transfers"):
        build(payments, declared=(4, sum(i.amount for i in payments)))


def test_a_part_whose_header_was_tampered_with_is_refused_before_sending():
    [part] = build(items(3))
    forged = part.document.replace("<NbOfTxs>3</NbOfTxs>", "<NbOfTxs>4</NbOfTxs>", 1)
    with pytest.raises(BatchDoesNotAddUp, match="group header declares 4"):
        check_part(replace(part, document=forged))
    with pytest.raises(BatchDoesNotAddUp, match="part declares"):
        check_part(replace(part, control_sum=part.control_sum - 1))


def test_two_transfers_with_one_end_to_end_id_are_refused():
    payments = items(2)
    with pytest.raises(BatchDoesNotAddUp, match="same EndToEndId"):
        build([payments[0], replace(payments[1], end_to_end_id=payments[0].end_to_end_id)])


def test_a_name_longer_than_iso_allows_is_cut_to_140_characters_and_stays_valid():
    [part] = build([replace(items(1)[0], creditor_name="Á" * 200)])
    SCHEMA.validate(part.document)
    tx = SCHEMA.to_dict(part.document)["CstmrCdtTrfInitn"]["PmtInf"][0]["CdtTrfTxInf"][0]
    assert tx["Cdtr"]["Nm"] == "Á" * 140


def test_an_empty_batch_builds_nothing():
    assert build([]) == []


def test_a_too_long_message_id_prefix_is_refused():
    with pytest.raises(ValueError, match="prefix too long"):
        build(items(1), message_id_prefix="X" * 40)


def test_parts_are_pain001_parts():
    assert all(isinstance(p, Pain001Part) for p in build(items(2)))
