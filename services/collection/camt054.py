"""Read an ISO 20022 camt.054 (bank-to-customer debit/credit notification) into payments received.

Only booked credit entries in VND count. The employer is named in the remittance information: the
structured creditor reference (``RmtInf/Strd/CdtrRefInf/Ref``) or, failing that, ``BHXH <unit code>``
in the unstructured text. The payment id is the bank's own reference (``AcctSvcrRef``), made unique per
bank with its BIN.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

from services.collection.domain.errors import InvalidRemittance

EMPLOYER_IN_TEXT = re.compile(r"\bBHXH[\s:/-]*([A-Z0-9]{2,15})\b")


@dataclass(frozen=True)
class CreditEntry:
    payment_id: str
    employer_code: str
    amount: int
    value_date: date
    bank_reference: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node: ET.Element, path: str) -> ET.Element | None:
    """Namespace-agnostic ``find`` over a slash-separated path of local names."""
    current = [node]
    for name in path.split("/"):
        current = [c for n in current for c in n.iter() if _local(c.tag) == name and c is not n]
        if not current:
            return None
    return current[0]


def _text(node: ET.Element, path: str) -> str | None:
    found = _find(node, path)
    return found.text.strip() if found is not None and found.text else None


def parse_credit_notification(document: str, bank_bin: str) -> list[CreditEntry]:
    """Every booked VND credit in the document; raises ``InvalidRemittance`` saying what is wrong."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise InvalidRemittance(f"camt.054 document is not well-formed XML: {exc}") from exc
    if not any(_local(n.tag) == "BkToCstmrDbtCdtNtfctn" for n in root.iter()):
        raise InvalidRemittance("not a camt.054 document: no BkToCstmrDbtCdtNtfctn element")
    entries = []
    for ntry in (n for n in root.iter() if _local(n.tag) == "Ntry"):
        if _text(ntry, "CdtDbtInd") != "CRDT" or (_text(ntry, "Sts/Cd") or _text(ntry, "Sts") or "BOOK") != "BOOK":
            continue
        amt = _find(ntry, "Amt")
        if amt is None or amt.get("Ccy") != "VND":
            raise InvalidRemittance(f"camt.054 entry {_text(ntry, 'NtryRef')}: amount missing or not in VND")
        try:
            amount = int(amt.text.strip())  # VND has no minor unit: "1500000" (a "1500000.50" is refused)
            value_date = date.fromisoformat(_text(ntry, "ValDt/Dt") or _text(ntry, "BookgDt/Dt") or "")
        except (ValueError, AttributeError) as exc:
            raise InvalidRemittance(f"camt.054 entry {_text(ntry, 'NtryRef')}: {exc}") from exc
        reference = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
        employer = _text(ntry, "CdtrRefInf/Ref")
        if not employer:
            match = EMPLOYER_IN_TEXT.search(_text(ntry, "Ustrd") or "")
            employer = match.group(1) if match else None
        if not reference or not employer:
            raise InvalidRemittance(f"camt.054 entry {reference or '?'}: no bank reference or no employer "
                                    "code (expected RmtInf/Strd/CdtrRefInf/Ref or 'BHXH <unit code>')")
        entries.append(CreditEntry(f"{bank_bin}-{reference}", employer, amount, value_date, reference))
    if not entries:
        raise InvalidRemittance("camt.054 document holds no booked VND credit entry")
    return entries
