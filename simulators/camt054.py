"""camt.054.001.08 credit notifications as a bank's core system writes them, built with ElementTree.

One ``Ntry`` per booking; a batch booking carries several employers' transfers as ``TxDtls``, each with its own
amount, end-to-end reference and remittance information (a structured creditor reference, or ``BHXH <code>`` in
free text, as people type it). The tests validate every document against the official XSD.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
AGENCY_ACCOUNT = "1234567890123"


@dataclass(frozen=True)
class Transfer:
    employer_code: str
    amount: int
    end_to_end_id: str
    structured: bool  # structured creditor reference, or "BHXH <code>" typed in the free text


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _path(parent: ET.Element, tags: str, text: str) -> None:
    for tag in tags.split("/"):
        parent = _sub(parent, tag)
    parent.text = text


def notification(message_id: str, booked: date, entries: list[tuple[str, date, list[Transfer]]]) -> str:
    """A document with one entry per (bank reference, value date, transfers)."""
    ET.register_namespace("", NS)
    document = ET.Element(f"{{{NS}}}Document")
    root = _sub(document, "BkToCstmrDbtCdtNtfctn")
    header = _sub(root, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", f"{booked.isoformat()}T17:00:00+07:00")
    notice = _sub(root, "Ntfctn")
    _sub(notice, "Id", message_id)
    _sub(notice, "CreDtTm", f"{booked.isoformat()}T17:00:00+07:00")
    _path(_sub(notice, "Acct"), "Id/Othr/Id", AGENCY_ACCOUNT)
    for number, (reference, value_date, transfers) in enumerate(entries, start=1):
        entry = _sub(notice, "Ntry")
        _sub(entry, "NtryRef", str(number))
        _sub(entry, "Amt", str(sum(t.amount for t in transfers)), Ccy="VND")
        _sub(entry, "CdtDbtInd", "CRDT")
        _path(entry, "Sts/Cd", "BOOK")
        _path(entry, "BookgDt/Dt", booked.isoformat())
        _path(entry, "ValDt/Dt", value_date.isoformat())
        _sub(entry, "AcctSvcrRef", reference)
        _path(entry, "BkTxCd/Prtry/Cd", "NTRF")
        details = _sub(entry, "NtryDtls")
        if len(transfers) > 1:
            _sub(_sub(details, "Btch"), "NbOfTxs", str(len(transfers)))
        for transfer in transfers:
            tx = _sub(details, "TxDtls")
            _path(tx, "Refs/EndToEndId", transfer.end_to_end_id)
            if len(transfers) > 1:
                _sub(_sub(_sub(tx, "AmtDtls"), "TxAmt"), "Amt", str(transfer.amount), Ccy="VND")
            info = _sub(tx, "RmtInf")
            if transfer.structured:
                _path(info, "Strd/CdtrRefInf/Ref", transfer.employer_code)
            else:
                _sub(info, "Ustrd", f"BHXH {transfer.employer_code} nop tien bao hiem")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, encoding="unicode")

