"""pain.002 status reports: read at group, block and transaction level, validated, unsafe XML refused."""
import pytest

from services.payments.iso.errors import MalformedXml, NotPain002, SchemaInvalidDocument, UnsafeXml
from services.payments.iso.pain002 import parse_status_report
from tests.unit.payments.pain002_documents import pain002


@pytest.mark.parametrize("version", ["03", "12", "14"])
def test_transaction_statuses_with_reason_codes_are_read_in_every_supported_version(version):
    report = parse_status_report(pain002("R202602-970436-1", version=version, group_status="PART",
                                         transactions=[("PMT1", "ACSC", None), ("PMT2", "RJCT", "AC04"),
                                                       ("PMT3", "ACTC", None)]))
    assert report.original_message_id == "R202602-970436-1"
    assert report.group_status == "PART"
    [block] = report.blocks
    assert block.payment_information_id == "R202602-970436-1-1"
    assert [(t.end_to_end_id, t.status, t.reason_code) for t in block.transactions] == [
        ("PMT1", "ACSC", None), ("PMT2", "RJCT", "AC04"), ("PMT3", "ACTC", None)]


def test_a_group_level_rejection_with_its_reason_is_read():
    report = parse_status_report(pain002("R202602-970436-2", group_status="RJCT", group_reason="DU01"))
    assert (report.group_status, report.group_reason, report.blocks) == ("RJCT", "DU01", ())


def test_a_block_level_status_is_read():
    report = parse_status_report(pain002("R202602-970436-3", block_status="ACTC"))
    assert report.blocks[0].status == "ACTC" and report.blocks[0].transactions == ()


def test_a_document_with_a_doctype_is_refused_as_unsafe():
    evil = pain002("M1", group_status="ACTC").replace(
        "<Document", '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document', 1)
    with pytest.raises(UnsafeXml):
        parse_status_report(evil.replace('<?xml version="1.0" encoding="UTF-8"?>\n', ""))


def test_an_entity_expansion_bomb_is_refused_before_anything_expands():
    bomb = ('<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12">&b;</Document>')
    with pytest.raises(UnsafeXml):
        parse_status_report(bomb)


def test_malformed_xml_is_refused_with_where_not_what():
    with pytest.raises(MalformedXml, match="line") as refused:
        parse_status_report("<Document><CstmrPmtStsRpt>Nguyễn Văn A 0011001234567</Document>")
    assert "0011001234567" not in str(refused.value)


def test_another_message_is_refused():
    with pytest.raises(NotPain002):
        parse_status_report('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"/>')
    with pytest.raises(NotPain002, match="not a supported version"):
        parse_status_report('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.99"/>')


def test_a_document_the_xsd_refuses_is_refused_without_quoting_its_values():
    bad = pain002("M1", transactions=[("PMT1", "ACSC", None)]).replace("<TxSts>ACSC</TxSts>",
                                                                     "<TxSts>0011001234567</TxSts>")
    with pytest.raises(SchemaInvalidDocument) as refused:
        parse_status_report(bad)
    assert "0011001234567" not in str(refused.value)


def test_absurd_nesting_is_refused():
    deep = ('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12">' + "<a>" * 200 + "</a>" * 200
            + "</Document>")
    with pytest.raises(UnsafeXml, match="deeper"):
        parse_status_report(deep)
