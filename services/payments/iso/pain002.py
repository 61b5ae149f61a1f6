"""Read an ISO 20022 pain.002 (CustomerPaymentStatusReport) into statuses per original message and payment.

1. Size: over 950,000 characters (the wire contract's limit) it is refused before any parsing.
2. Safety: parsed with ``defusedxml`` (DTDs, entity declarations and external references refused; nothing is
   expanded or fetched), nesting bounded.
3. Validation with ``lxml`` (libxml2) against the official XSD of the document's version
   (``xsd/pain.002.001.NN.xsd``: .03, .12 and .14); entities are never resolved, nothing is fetched, schema
   location hints are not followed. lxml rather than xmlschema here: a bank answers every transfer, 3.4 million
   a month, and xmlschema validated 5,300 transactions/s against lxml's ~960,000/s on this machine; with
   xmlschema, validation was half of the status handler's time (``bench/payments_status.py``).
4. The statuses are read from the tree ``defusedxml`` built.

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
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException
from lxml import etree

from services.payments.iso.errors import (DocumentTooLarge, MalformedXml, NotPain002, SchemaInvalidDocument,
                                          UnsafeXml)

MAX_DOCUMENT_CHARS = 950_000  # schemas.payments.BankStatusReportReceived.document
MAX_DEPTH = 64                # pain.002 nests ~12 deep
MAX_SCHEMA_ERRORS = 3
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:pain.002.001."
XSD_DIR = Path(__file__).parent / "xsd"
SUPPORTED = {p.name[len("pain.002.001."):-len(".xsd")]: p for p in sorted(XSD_DIR.glob("pain.002.001.*.xsd"))}


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
    _validate(document, version)
    ns = {"p": NAMESPACE_PREFIX + version}
    report = root.find("p:CstmrPmtStsRpt", ns)
    group = report.find("p:OrgnlGrpInfAndSts", ns)
    blocks = tuple(_block(b, ns) for b in report.iterfind("p:OrgnlPmtInfAndSts", ns))
    return StatusReport(report.findtext("p:GrpHdr/p:MsgId", namespaces=ns), group.findtext("p:OrgnlMsgId", namespaces=ns),
                        group.findtext("p:GrpSts", namespaces=ns), _reason(group, ns), blocks)


def _block(block: Element, ns: dict) -> BlockStatus:
    transactions = tuple(TransactionStatus(tx.findtext("p:OrgnlEndToEndId", namespaces=ns),
                                           tx.findtext("p:TxSts", namespaces=ns), _reason(tx, ns))
                         for tx in block.iterfind("p:TxInfAndSts", ns))
    return BlockStatus(block.findtext("p:OrgnlPmtInfId", namespaces=ns), block.findtext("p:PmtInfSts", namespaces=ns),
                       _reason(block, ns), transactions)


def _reason(level: Element, ns: dict) -> str | None:
    for code in level.iterfind("p:StsRsnInf/p:Rsn/p:Cd", ns):
        if code.text:
            return code.text
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
def _schema(version: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SUPPORTED[version]), _PARSER))


# Never resolve an entity, load a DTD or touch the network (the text passed defusedxml already); no huge trees.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _validate(document: str, version: str) -> None:
    schema = _schema(version)
    try:
        tree = etree.fromstring(document.encode("utf-8"), _PARSER)
    except (etree.XMLSyntaxError, ValueError):  # accepted by expat, refused by libxml2 (rare): still malformed
        raise MalformedXml("pain.002 document is not well-formed XML") from None
    if schema.validate(tree):
        return
    errors = list(schema.error_log)
    shown = "; ".join(_schema_reason(e) for e in errors[:MAX_SCHEMA_ERRORS])
    more = " (and more)" if len(errors) > MAX_SCHEMA_ERRORS else ""
    raise SchemaInvalidDocument(f"pain.002.001.{version} document is not valid against the ISO 20022 XSD: "
                                f"{shown}{more}")


_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([A-Za-z0-9]{1,35})'")
_FACET = re.compile(r"\[facet '([A-Za-z]{1,20})'\]")


def _schema_reason(error) -> str:
    """libxml2's complaint without the offending value (it quotes it: it may be a name or an account number):
    the element, the line and the kind of rule."""
    message = error.message or ""
    element = _ELEMENT.search(message)
    where = f"line {error.line}, {element.group(1) if element else 'an element'}"
    facet = _FACET.search(message)
    if facet:
        return f"{where}: the value breaks the XSD's {facet.group(1)} rule"
    if "not expected" in message:
        return f"{where}: this element is not expected here"
    if "Missing child element" in message:
        return f"{where}: a required child element is missing"
    if "is not a valid value" in message:
        return f"{where}: the value is not a valid value of its XSD type"
    return f"{where}: the content is not what the XSD allows here"
