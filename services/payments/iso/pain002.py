"""Read an ISO 20022 pain.002 (CustomerPaymentStatusReport) into statuses per original message and payment.

1. Size: over 950,000 characters (the wire contract's limit) it is refused before any parsing.
2. Safety: parsed with ``defusedxml`` (DTDs, entity declarations and external references refused; nothing is
   expanded or fetched), nesting bounded.
3. Validation and decoding in one pass with ``xmlschema`` against the official XSD of the document's version
   (``xsd/pain.002.001.NN.xsd``: .03, .12 and .14), schema location hints ignored.

Statuses are read at every level the standard has: the group (``OrgnlGrpInfAndSts/GrpSts``), the payment
information block (``OrgnlPmtInfAndSts/PmtInfSts``) and the transaction (``TxInfAndSts/TxSts`` with
``OrgnlEndToEndId``), each with its first reason code (``StsRsnInf/Rsn/Cd``). Applying a group or block status
to the transactions it covers needs the original message's contents, which only the database knows
(``status.py``). Reasons never quote the document's values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
import xmlschema
from defusedxml import DefusedXmlException

from services.payments.iso.errors import (DocumentTooLarge, MalformedXml, NotPain002, SchemaInvalidDocument,
                                          UnsafeXml)

MAX_DOCUMENT_CHARS = 950_000  # schemas.payments.BankStatusReportReceived.document
MAX_DEPTH = 64                # pain.002 nests ~12 deep; xmlschema recurses per level
MAX_SCHEMA_ERRORS = 3
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:pain.002.001."
XSD_DIR = Path(__file__).parent / "xsd"
SUPPORTED = {p.name[len("pain.002.001."):-len(".xsd")]: p for p in sorted(XSD_DIR.glob("pain.002.001.*.xsd"))}
_NAMESPACE = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class TransactionStatus:
    end_to_end_id: str | None      # None: the bank did not quote it (then it cannot be matched)
    status: str | None             # None: no status at this level (the block's or group's applies)
    reason_code: str | None


@dataclass(frozen=True)
class BlockStatus:
    payment_information_id: str
    status: str | None
    reason_code: str | None
    transactions: tuple[TransactionStatus, ...]


@dataclass(frozen=True)
class StatusReport:
    message_id: str
    original_message_id: str
    group_status: str | None
    group_reason: str | None
    blocks: tuple[BlockStatus, ...]


def parse_status_report(document: str) -> StatusReport:
    """The statuses of a pain.002 document; raises ``InvalidStatusReport`` subclasses for the whole document."""
    root = _parse_safely(document)
    version = _version_of(root)
    data = _decode(root, version)["CstmrPmtStsRpt"]
    group = data["OrgnlGrpInfAndSts"]
    group = group[0] if isinstance(group, list) else group
    blocks = tuple(_block(b) for b in _as_list(data.get("OrgnlPmtInfAndSts")))
    return StatusReport(data["GrpHdr"]["MsgId"], group["OrgnlMsgId"], group.get("GrpSts"),
                        _reason(group), blocks)


def _block(block: dict) -> BlockStatus:
    transactions = tuple(TransactionStatus(tx.get("OrgnlEndToEndId"), tx.get("TxSts"), _reason(tx))
                         for tx in _as_list(block.get("TxInfAndSts")))
    return BlockStatus(block["OrgnlPmtInfId"], block.get("PmtInfSts"), _reason(block), transactions)


def _reason(level: dict) -> str | None:
    for info in _as_list(level.get("StsRsnInf")):
        code = ((info or {}).get("Rsn") or {}).get("Cd")
        if code:
            return code
    return None


def _parse_safely(document: str) -> Element:
    if len(document) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLarge(f"pain.002 document has {len(document):,} characters; the limit is "
                               f"{MAX_DOCUMENT_CHARS:,}")
    try:
        root = SafeTree.fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXml(f"pain.002 document {_unsafe_reason(exc)}; that is not allowed") from None
    except ParseError as exc:  # says where, never the text
        line, column = exc.position
        raise MalformedXml(f"pain.002 document is not well-formed XML (line {line}, column {column})") from None
    except (UnicodeEncodeError, ValueError):
        raise MalformedXml("pain.002 document has a character that is not Unicode text") from None
    if _depth(root) > MAX_DEPTH:
        raise UnsafeXml(f"pain.002 document nests elements deeper than {MAX_DEPTH} levels; that is not allowed")
    return root


def _unsafe_reason(exc: DefusedXmlException) -> str:
    name = type(exc).__name__
    return {"DTDForbidden": "has a DOCTYPE declaration", "EntitiesForbidden": "declares an entity",
            "ExternalReferenceForbidden": "refers to an external resource"}.get(name, "uses a forbidden construct")


def _depth(root: Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _version_of(root: Element) -> str:
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        raise NotPain002(f"not a pain.002 document: the root must be a Document in a '{NAMESPACE_PREFIX}NN' "
                         "namespace")
    version = namespace[len(NAMESPACE_PREFIX):]
    if version not in SUPPORTED:
        supported = ", ".join(f"pain.002.001.{v}" for v in SUPPORTED)
        raise NotPain002(f"pain.002.001.{version[:10]} is not a supported version (supported: {supported})")
    return version


@lru_cache(maxsize=None)
def _schema(version: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SUPPORTED[version]))


def _decode(root: Element, version: str) -> dict:
    try:
        return _schema(version).to_dict(root, validation="strict", strip_namespaces=True, use_location_hints=False)
    except xmlschema.XMLSchemaValidationError as exc:
        errors = list(islice(_schema(version).iter_errors(root, use_location_hints=False), MAX_SCHEMA_ERRORS + 1))
        shown = "; ".join(f"{_NAMESPACE.sub('', e.path or '')}: {_schema_reason(e)}"
                          for e in (errors or [exc])[:MAX_SCHEMA_ERRORS])
        more = " (and more)" if len(errors) > MAX_SCHEMA_ERRORS else ""
        raise SchemaInvalidDocument(f"pain.002.001.{version} document is not valid against the ISO 20022 XSD: "
                                    f"{shown}{more}") from None
    except RecursionError:
        raise UnsafeXml("pain.002 document nests elements too deeply to validate") from None


def _schema_reason(error: xmlschema.XMLSchemaValidationError) -> str:
    """The XSD's complaint without the offending value (it may be a name or an account number)."""
    if isinstance(error, xmlschema.XMLSchemaChildrenValidationError):
        return _NAMESPACE.sub("", error.reason or "unexpected child element")
    validator = type(error.validator).__name__
    if "Facet" in validator:
        return f"the value breaks the XSD's {validator.removeprefix('Xsd').removesuffix('Facets').removesuffix('Facet').lower()} rule"
    return "the content is not what the XSD allows here"


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
