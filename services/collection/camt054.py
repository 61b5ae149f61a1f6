"""Read an ISO 20022 camt.054 (bank-to-customer debit/credit notification) into payments received.

How a document is read, in order:

1. Size: over 900,000 characters (the wire contract's limit) it is refused before any parsing.
2. Safety first, in one expat pass with the handlers defusedxml would install (``_SafetyGate``): a DOCTYPE,
   an entity declaration (entity expansion, "billion laughs"), an external entity or reference, or nesting
   deeper than ``MAX_DEPTH`` is refused; nothing is expanded and nothing outside the string is ever opened.
   Only then the C ElementTree parser builds the tree (defusedxml's own parser is pure Python: 0.23 s against
   0.02 s for a 900 KB document).
3. Validation and decoding in one pass with ``xmlschema`` against the official ISO 20022 XSD of the
   document's version (``xsd/``: camt.054.001.02 and .08 are supported; another version is added by dropping
   its XSD there). xmlschema rather than xsdata/pyiso20022: it validates against the official XSD itself
   (pyiso20022 ships generated classes but no XSD, and xsdata's parser does not validate facets), decodes to
   plain dicts with ``Decimal`` amounts, and is already a dependency. It is handed the tree built above, so
   its own XML loading (and its ``defuse`` option) never runs on a bank's text; schema location hints in the
   document are ignored.

Problems of the whole document (not XML, unsafe, not camt.054 of a supported version, refused by the XSD)
raise a subclass of ``InvalidRemittance``: the message goes to the DLQ. Everything else is decided per entry
(``Ntry``) and per transaction (``TxDtls``), so one odd entry never sinks the other payments:

- Not credited, listed in ``refused`` with a code: debits (``debit``), reversals (``RvslInd`` true:
  ``reversal``), entries not booked (``not_booked``), entries not in VND (``currency``: a VND suspense list
  cannot hold them), entry amounts with a non-zero fraction (``fractional_amount``: VND has no minor unit and
  we never round money), zero amounts (``zero_amount``), entries without a readable value or booking date
  (``no_value_date``).
- A credit entry is split into its transactions: each ``TxDtls`` with its own amount (``TxDtls/Amt`` or
  ``AmtDtls/TxAmt/Amt``; a lone transaction may leave the amount to the entry), its own reference and its own
  remittance information. Amounts are XSD decimals: ``1500000.00`` is 1,500,000 VND.
- If the entry cannot be split safely (the transactions do not add up to the entry amount: ``sum_mismatch``;
  a transaction with a non-zero fraction: ``fractional_amount``; one without an amount: ``missing_amount``;
  two different amounts for one transaction: ``amount_conflict``; one in another currency:
  ``transaction_currency``; a debit inside the credit entry: ``debit_in_credit_entry``), its money still
  arrived: it is returned as ONE unidentified credit for the whole entry amount, never attributed by guessing.
- A transaction whose employer cannot be read is an unidentified credit (``employer_code`` None) with a
  reason code: ``no_reference`` (no unit code at all), ``unknown_unit_code_format`` (a reference or a
  ``BHXH ...`` text whose code is not 2-15 capital letters/digits), ``ambiguous_unit_code`` (several codes).
  Reasons and details never contain remittance text, names or account numbers.

The employer is the structured creditor reference (``RmtInf/Strd/CdtrRefInf/Ref``) or, failing that,
``BHXH <unit code>`` in the unstructured text (``RmtInf/Ustrd``). The value date is ``ValDt`` (else
``BookgDt``), as ``Dt`` or as ``DtTm`` turned into the business date in Asia/Ho_Chi_Minh (a ``DtTm``
without offset is taken as local time there).

Payment ids are ``<bank_bin>-<reference>``, deterministic (the same document delivered twice gives the same
ids) and unique per bank; see ``_transaction_references``.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from pathlib import Path
from xml.etree import ElementTree
from xml.etree.ElementTree import Element
from xml.parsers import expat
from zoneinfo import ZoneInfo

import xmlschema

from schemas.base import MAX_VND, YEARS
from services.collection.domain.errors import (DocumentTooLarge, MalformedXml, NotCamt054,
                                               SchemaInvalidDocument, UnsafeXml)

MAX_DOCUMENT_CHARS = 900_000   # the wire contract's limit (schemas.collection.CreditNotificationReceived)
MAX_SCHEMA_ERRORS = 3  # shown in a refusal (the DLQ reason is bounded)
MAX_DEPTH = 64  # camt.054 nests ~16 deep; xmlschema recurses per level (RecursionError near ~300)
BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."
XSD_DIR = Path(__file__).parent / "xsd"
SUPPORTED = {p.name[len("camt.054.001."):-len(".xsd")]: p for p in sorted(XSD_DIR.glob("camt.054.001.*.xsd"))}

UNIT_CODE = re.compile(r"[A-Z0-9]{2,15}")
EMPLOYER_IN_TEXT = re.compile(r"\bBHXH[\s:/-]*([A-Z0-9]{2,15})\b")
BHXH_WORD = re.compile(r"\bBHXH", re.IGNORECASE)
# A payment id must fit the contracts' Identifier (^[A-Za-z0-9._:/-]{1,64}$) after "<6-digit BIN>-".
SAFE_REFERENCE = re.compile(r"[A-Za-z0-9._:/-]{1,57}")
_NAMESPACE = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class CreditEntry:
    """One credit transaction: money an employer (or, unidentified, someone) paid in."""

    payment_id: str            # "<bank_bin>-<reference>", unique per bank, deterministic
    employer_code: str | None  # None: unidentified (goes to the suspense list)
    amount: int                # VND, > 0
    value_date: date
    bank_reference: str        # the reference used in payment_id (no personal data)
    unidentified_reason: str | None = None  # a code, see the module docstring
    detail: str | None = None               # a human reason, no personal data


@dataclass(frozen=True)
class RefusedEntry:
    """An entry (or a transaction) of the document that is not credited, and why."""

    reference: str
    code: str
    reason: str


@dataclass(frozen=True)
class CreditNotification:
    credits: list[CreditEntry]
    refused: list[RefusedEntry]


def parse_credit_notification(document: str, bank_bin: str) -> CreditNotification:
    """Every credit of the document, and every entry not credited; raises ``InvalidRemittance`` subclasses
    for problems of the whole document."""
    root = _parse_safely(document)
    version = _version_of(root)
    data = _decode(root, version)
    credits: list[CreditEntry] = []
    refused: list[RefusedEntry] = []
    for notification in _as_list(data.get("BkToCstmrDbtCdtNtfctn", {}).get("Ntfctn")):
        for position, ntry in enumerate(_as_list(notification.get("Ntry")), start=1):
            entry_credits, entry_refused = _read_entry(ntry, _entry_reference(notification, ntry, position),
                                                       bank_bin)
            credits += entry_credits
            refused += entry_refused
    return CreditNotification(credits, refused)


# --- the document: size, safe parsing, version, XSD --------------------------------------------------------

def _parse_safely(document: str) -> Element:
    if len(document) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLarge(f"camt.054 document has {len(document):,} characters; the limit is "
                               f"{MAX_DOCUMENT_CHARS:,}")
    _SafetyGate().check(document)
    try:  # the C parser: 10x faster than a pure-Python one, and the text is known to be harmless now
        return ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:  # not expected after the gate; kept so nothing escapes unexplained
        raise MalformedXml(f"camt.054 document is not well-formed XML: {exc}") from None


class _Unsafe(Exception):
    pass


class _SafetyGate:
    """One expat pass over the text before any tree is built, with the handlers defusedxml installs: an entity
    declaration (internal: entity expansion such as "billion laughs"; external: a file or URL) or an external
    reference stops it at once, so nothing is expanded and nothing outside the string is ever opened. A DOCTYPE
    is noted and refused at the end, so that the entity reasons are the ones reported. Nesting is bounded."""

    def __init__(self) -> None:
        self.depth, self.doctype = 0, False
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler, self.parser.EndElementHandler = self.start, self.end
        self.parser.StartDoctypeDeclHandler = self.doctype_declared
        self.parser.EntityDeclHandler = self.parser.UnparsedEntityDeclHandler = self.entity_declared
        self.parser.ExternalEntityRefHandler = self.external_reference

    def check(self, document: str) -> None:
        try:
            self.parser.Parse(document, True)
        except _Unsafe as exc:
            raise UnsafeXml(f"camt.054 document {exc}; that is not allowed") from None
        except UnicodeEncodeError as exc:  # a lone surrogate, as a JSON "\ud800" escape decodes to
            raise MalformedXml(f"camt.054 document has a character that is not Unicode text at position "
                               f"{exc.start}") from None
        except expat.ExpatError as exc:  # says what and where (line, column), never the text itself
            if not self.doctype:
                raise MalformedXml(f"camt.054 document is not well-formed XML: {expat.ErrorString(exc.code)}: "
                                   f"line {exc.lineno}, column {exc.offset}") from None
        if self.doctype:
            raise UnsafeXml("camt.054 document has a DOCTYPE declaration; DTDs are not allowed")

    def start(self, name, attributes) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unsafe(f"nests elements deeper than {MAX_DEPTH} levels")

    def end(self, name) -> None:
        self.depth -= 1

    def doctype_declared(self, *declaration) -> None:
        self.doctype = True

    def entity_declared(self, name, *rest) -> None:
        # EntityDeclHandler: (name, is_parameter, value, base, system_id, public_id, notation);
        # UnparsedEntityDeclHandler: (name, base, system_id, public_id, notation), always external
        external = len(rest) == 4 or bool(rest[3] or rest[4])
        raise _Unsafe("declares an external entity" if external else "declares an entity (entity expansion)")

    def external_reference(self, *reference) -> None:
        raise _Unsafe("refers to an external resource")


def _version_of(root: Element) -> str:
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        raise NotCamt054("not a camt.054 document: the root must be a Document in a "
                         f"'{NAMESPACE_PREFIX}NN' namespace")
    version = namespace[len(NAMESPACE_PREFIX):]
    if version not in SUPPORTED:
        supported = ", ".join(f"camt.054.001.{v}" for v in SUPPORTED)
        raise NotCamt054(f"camt.054.001.{version[:10]} is not a supported version (supported: {supported})")
    return version


@lru_cache(maxsize=None)
def _schema(version: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SUPPORTED[version]))


def _decode(root: Element, version: str) -> dict:
    try:
        return _schema(version).to_dict(root, validation="strict", strip_namespaces=True,
                                        use_location_hints=False)
    except xmlschema.XMLSchemaValidationError as exc:
        # a second, lax pass (only on this path) so the bank can fix several problems at once
        errors = list(islice(_schema(version).iter_errors(root, use_location_hints=False), MAX_SCHEMA_ERRORS + 1))
        shown = "; ".join(f"{_indexed_path(root, e.elem) or e.path}: {_schema_reason(e)}"
                          for e in (errors or [exc])[:MAX_SCHEMA_ERRORS])
        more = " (and more)" if len(errors) > MAX_SCHEMA_ERRORS else ""
        raise SchemaInvalidDocument(f"camt.054.001.{version} document is not valid against the ISO 20022 XSD: "
                                    f"{shown}{more}") from None
    except RecursionError:  # a safety net: _SafetyGate keeps documents far from this
        raise UnsafeXml("camt.054 document nests elements too deeply to validate") from None


_FACET_REASONS = {  # the XSD's words for what is wrong, without the offending value (it may be personal)
    "XsdPatternFacets": "the value does not match the pattern the XSD requires",
    "XsdEnumerationFacets": "the value is not one of the codes the XSD allows",
    "XsdMinLengthFacet": "the value is shorter than the XSD allows",
    "XsdMaxLengthFacet": "the value is longer than the XSD allows",
    "XsdLengthFacet": "the value does not have the length the XSD requires",
    "XsdMinInclusiveFacet": "the value is below the minimum the XSD allows",
    "XsdMinExclusiveFacet": "the value is below the minimum the XSD allows",
    "XsdMaxInclusiveFacet": "the value is above the maximum the XSD allows",
    "XsdMaxExclusiveFacet": "the value is above the maximum the XSD allows",
    "XsdTotalDigitsFacet": "the value has more digits than the XSD allows",
    "XsdFractionDigitsFacet": "the value has more fraction digits than the XSD allows",
}


_STRUCTURE_REASONS = [  # xmlschema's wording of structural problems, with at most a short XML name kept
    (re.compile(r"missing required attribute '(\w{1,35})'"), "the required attribute {} is missing"),
    (re.compile(r"'(\w{1,35})' attribute not allowed"), "the attribute {} is not allowed here"),
    (re.compile(r"attribute not allowed"), "an attribute is not allowed here"),
    (re.compile(r"character data between child elements not allowed"), "text between child elements is not allowed"),
    (re.compile(r"can't have child elements"), "child elements are not allowed here"),
]


def _schema_reason(error: xmlschema.XMLSchemaValidationError) -> str:
    reason = error.reason or ""
    if isinstance(error, xmlschema.XMLSchemaChildrenValidationError):
        return _NAMESPACE.sub("", reason)  # names the unexpected and the expected tags, never text
    attribute = re.match(r"attribute (\w+)=", reason)
    prefix = f"attribute {attribute.group(1)}: " if attribute else ""
    facet = _FACET_REASONS.get(type(error.validator).__name__)
    if facet:
        return prefix + facet
    for pattern, template in _STRUCTURE_REASONS:
        found = pattern.search(reason)
        if found:
            return template.format(*found.groups())
    type_name = getattr(error.validator, "local_name", None) or getattr(error.validator, "name", None)
    return prefix + (f"the value is not a valid {_NAMESPACE.sub('', type_name)}" if type_name
                     else "the content is not what the XSD allows here")


def _indexed_path(root: Element, target: Element | None) -> str | None:
    """/Document/.../Ntry[3]/Amt: which element, by position, so an operator can find it."""
    if target is None:
        return None
    parents = {child: parent for parent in root.iter() for child in parent}
    parts, node = [], target
    while node is not root:
        parent = parents.get(node)
        if parent is None:
            return None
        same = [c for c in parent if c.tag == node.tag]
        parts.append(_NAMESPACE.sub("", node.tag) + (f"[{same.index(node) + 1}]" if len(same) > 1 else ""))
        node = parent
    parts.append(_NAMESPACE.sub("", root.tag))
    return "/" + "/".join(reversed(parts))


# --- entries -------------------------------------------------------------------------------------------------

def _read_entry(ntry: dict, reference: str, bank_bin: str) -> tuple[list[CreditEntry], list[RefusedEntry]]:
    why_not = _not_credited(ntry)
    if why_not:
        return [], [RefusedEntry(reference, *why_not)]
    amount = int(ntry["Amt"]["$"])  # whole, checked by _not_credited
    # The booking date stands in only for a missing value date, never for an unreadable one.
    value_date = _business_date(ntry["ValDt"] if ntry.get("ValDt") else ntry.get("BookgDt"))
    if value_date is None:
        return [], [RefusedEntry(reference, "no_value_date", f"entry has no readable ValDt or BookgDt in {YEARS[0]}-{YEARS[1]}")]
    transactions = [tx or {} for details in _as_list(ntry.get("NtryDtls"))
                    for tx in _as_list((details or {}).get("TxDtls"))] or [{}]
    amounts = _transaction_amounts(transactions, amount)
    if isinstance(amounts, tuple):  # cannot be split safely: the whole entry waits for an operator
        code, detail = amounts
        return [CreditEntry(f"{bank_bin}-{reference}", None, amount, value_date, reference, code, detail)], []
    credits, refused = [], []
    count = len(transactions)
    for index, (tx, tx_amount, tx_reference) in enumerate(
            zip(transactions, amounts, _transaction_references(transactions, reference)), start=1):
        if tx_amount == 0:
            refused.append(RefusedEntry(tx_reference, "zero_amount", f"transaction {index} of {count} is 0 VND"))
            continue
        employer, code, detail = _employer(tx)
        credits.append(CreditEntry(f"{bank_bin}-{tx_reference}", employer, tx_amount, value_date, tx_reference,
                                   code, detail and (f"transaction {index} of {count}: " if count > 1 else "")
                                   + detail))
    return credits, refused


def _not_credited(ntry: dict) -> tuple[str, str] | None:
    if ntry.get("CdtDbtInd") != "CRDT":
        return "debit", "a debit entry is not a payment received"
    if ntry.get("RvslInd") is True:
        return "reversal", "a reversal (RvslInd) undoes an earlier booking; it is not a payment received"
    status = ntry.get("Sts")
    code = status.get("Cd") if isinstance(status, dict) else status  # .08: <Sts><Cd>; .02: <Sts>BOOK</Sts>
    if code != "BOOK":
        shown = code if isinstance(code, str) and UNIT_CODE.fullmatch(code) else "proprietary"
        return "not_booked", f"entry status {shown}: only booked (BOOK) entries are credited"
    currency, value = ntry["Amt"]["@Ccy"], ntry["Amt"]["$"]
    if currency != "VND":
        return "currency", f"entry amount in {currency}: only VND is credited"
    if _whole_vnd(value) is None:
        return "fractional_amount", "entry amount has a non-zero fraction; VND has no minor unit"
    if value == 0:
        return "zero_amount", "entry amount is 0 VND"
    if value > MAX_VND:  # the XSD allows 18 digits; beyond this no event of ours can carry it
        return "amount_too_large", f"entry amount is above {MAX_VND:,} VND, the most one payment may carry"
    return None


def _entry_reference(notification: dict, ntry: dict, position: int) -> str:
    # The account servicer's reference is unique per bank; NtryRef is unique only within its notification,
    # so without AcctSvcrRef the entry is named by the notification's Id and its NtryRef (or its position).
    own = _text(ntry.get("AcctSvcrRef"))
    return _payment_reference(own or f"{_text(notification.get('Id'))}/{_text(ntry.get('NtryRef')) or position}")


# --- transactions --------------------------------------------------------------------------------------------

_CONFLICT = object()


def _transaction_amounts(transactions: list[dict], entry_amount: int) -> list[int] | tuple[str, str]:
    """Each transaction's whole-VND amount, or (reason code, detail) when the entry cannot be split safely."""
    count = len(transactions)
    amounts = []
    for index, tx in enumerate(transactions, start=1):
        which = f"transaction {index} of {count}"
        if tx.get("CdtDbtInd") == "DBIT":
            return "debit_in_credit_entry", f"{which} is a debit inside a credit entry"
        found = _transaction_amount(tx)
        if found is None and count == 1:
            return [entry_amount]  # a lone transaction may leave its amount to the entry
        if found is None:
            return "missing_amount", f"{which} has no amount (TxDtls/Amt or AmtDtls/TxAmt/Amt)"
        if found is _CONFLICT:
            return "amount_conflict", f"{which} gives two different amounts (TxDtls/Amt, AmtDtls/TxAmt/Amt)"
        value, currency = found
        if currency != "VND":
            return "transaction_currency", f"{which} is in {currency}, the entry in VND"
        whole = _whole_vnd(value)
        if whole is None:
            return "fractional_amount", f"{which} has a non-zero fraction; VND has no minor unit"
        amounts.append(whole)
    if sum(amounts) != entry_amount:
        return "sum_mismatch", (f"the {count} transactions add up to {sum(amounts):,} VND but the entry amount "
                                f"is {entry_amount:,} VND")
    return amounts


def _transaction_amount(tx: dict) -> tuple[Decimal, str] | object | None:
    direct = tx.get("Amt")
    nested = (((tx.get("AmtDtls") or {}).get("TxAmt")) or {}).get("Amt")
    if direct and nested and (direct["$"], direct["@Ccy"]) != (nested["$"], nested["@Ccy"]):
        return _CONFLICT
    chosen = direct or nested
    return None if chosen is None else (chosen["$"], chosen["@Ccy"])


def _transaction_references(transactions: list[dict], entry_reference: str) -> list[str]:
    """The reference of each transaction, for its payment id: unique per bank and the same on redelivery.

    1. The transaction's own ``Refs/AcctSvcrRef`` (the bank's, unique per bank), if no other transaction
       of the entry repeats it;
    2. a lone transaction: the entry's reference (it is the transaction's booking);
    3. the entry's reference + the ``Refs/EndToEndId`` (set by the payer, so unique only together with the
       bank's entry reference), if present, not NOTPROVIDED and not repeated within the entry;
    4. otherwise the transaction has no reference of its own: the entry's reference + its 1-based position in
       the entry. Deterministic as long as the bank re-sends the entry in the same order, as it does when it
       delivers the same document again.
    """
    refs = [tx.get("Refs") or {} for tx in transactions]
    own = [_text(r.get("AcctSvcrRef")) for r in refs]
    if len(transactions) == 1:
        return [_payment_reference(own[0]) if own[0] else entry_reference]
    end_to_end = [_text(r.get("EndToEndId")) for r in refs]
    end_to_end = [e if e and e.upper() != "NOTPROVIDED" else None for e in end_to_end]
    own_count, e2e_count = Counter(own), Counter(end_to_end)
    references = []
    for index, (acct_svcr_ref, e2e) in enumerate(zip(own, end_to_end), start=1):
        if acct_svcr_ref and own_count[acct_svcr_ref] == 1:
            references.append(_payment_reference(acct_svcr_ref))
        elif e2e and e2e_count[e2e] == 1:
            references.append(_payment_reference(f"{entry_reference}/e2e:{e2e}"))
        else:
            references.append(_payment_reference(f"{entry_reference}/n:{index}"))
    if len(set(references)) < len(references):
        # A bank's own reference can still repeat one built here: then every transaction is named by its
        # position alone (unique within the entry), never two payments under one id.
        references = [_payment_reference(f"{entry_reference}/n:{index}") for index in range(1, len(refs) + 1)]
    return references


def _payment_reference(raw: str) -> str:
    """The reference as is when it fits a payment id; else a stable digest of it (Max35Text allows any
    character, and composite references can be longer than the 64 characters a payment id may have)."""
    if SAFE_REFERENCE.fullmatch(raw):
        return raw
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _employer(tx: dict) -> tuple[str | None, str | None, str | None]:
    """(unit code, None, None) or (None, reason code, detail without the remittance text)."""
    remittance = tx.get("RmtInf") or {}
    structured = [_text(c.get("Ref")) for s in _as_list(remittance.get("Strd"))
                  for c in _as_list((s or {}).get("CdtrRefInf")) if c and _text(c.get("Ref"))]
    unstructured = [t for t in _as_list(remittance.get("Ustrd")) if t]
    malformed = False
    for texts, whole in ((structured, True), (unstructured, False)):  # the structured reference wins
        codes, bad = _unit_codes(texts, whole)
        malformed |= bad
        if len(codes) == 1:
            return codes.pop(), None, None
        if codes:
            return None, "ambiguous_unit_code", "the remittance information names more than one unit code"
    if malformed:
        return None, "unknown_unit_code_format", ("the remittance information has a unit code that is not 2-15 "
                                                  "capital letters or digits")
    return None, "no_reference", ("the remittance information names no unit code (expected "
                                  "RmtInf/Strd/CdtrRefInf/Ref or 'BHXH <unit code>' in RmtInf/Ustrd)")


def _unit_codes(texts: list[str], whole: bool) -> tuple[set[str], bool]:
    codes, malformed = set(), False
    for text in texts:
        if whole and UNIT_CODE.fullmatch(text):
            codes.add(text)
            continue
        found = EMPLOYER_IN_TEXT.findall(text)
        codes.update(found)
        malformed |= not found and (whole or bool(BHXH_WORD.search(text)))
    return codes, malformed


# --- values --------------------------------------------------------------------------------------------------

def _whole_vnd(value: Decimal) -> int | None:
    """1500000, 1500000.00 -> 1500000; 1500000.50 -> None (never rounded)."""
    return int(value) if value == value.to_integral_value() else None


_XS_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")  # [0-9]: ASCII digits only


def _business_date(choice: dict | None) -> date | None:
    """ValDt/BookgDt as a business date: Dt as written; DtTm converted to Asia/Ho_Chi_Minh. None when
    unreadable or outside the years the contracts carry (``schemas.base.YEARS``): such a date could not
    travel in ``RemittanceAllocated`` and would sink the whole document inside the transaction."""
    day = _read_business_date(choice)
    return day if day is not None and YEARS[0] <= day.year <= YEARS[1] else None


def _read_business_date(choice: dict | None) -> date | None:
    if not isinstance(choice, dict):
        return None
    try:
        if choice.get("Dt"):
            match = _XS_DATE.fullmatch(choice["Dt"].strip())
            return date(*map(int, match.groups())) if match else None
        if choice.get("DtTm"):
            moment = datetime.fromisoformat(re.sub(r"\.[0-9]+", "", choice["DtTm"].strip()))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=BUSINESS_TZ)
            return moment.astimezone(BUSINESS_TZ).date()
    except (ValueError, OverflowError):
        return None
    return None


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
