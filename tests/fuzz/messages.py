"""Reproducible corpora of hostile and valid messages for every input topic.

Hypothesis draws *recipes* (what to break and how); ``materialize`` turns recipe ``n`` into bytes with
identities unique in the run (event ids, worker codes, payment ids derived from the seed and ``n``).
Drawing is seeded (``@seed`` + ``@given``, no example database), so a seed names a corpus.

Every case carries the verdict the service must reach: ``bad`` for what is broken by construction
(random bytes, truncated or deeply nested JSON, tombstones, invalid UTF-8) and, for envelopes built
from the real models with one field changed, the verdict of the independent referee
(``tests/fuzz/referee.py``). The models' own verdict is kept beside it: a disagreement is a finding.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings, strategies as st

from schemas.topics import spec
from tests.fuzz.mutations import (BUSINESS_DATE, DEEP, MUTATION_NAMES, BUSINESS_PERIOD, get_at, month_shift,
                                  field_paths, set_at, mutate)
from tests.fuzz.payloads import PERSONAL_FIELDS, Builders, month_range
from tests.fuzz.referee import ERASING_TOMBSTONES, Verdict, law_limits, model_verdict, referee

# One record must fit the broker (message.max.bytes 1048588) with room for the producer's framing.
NEAR_LIMIT = 1_048_000
BAD_BYTES = {"cesu8_surrogate": b"\xed\xa0\x80", "overlong_nul": b"\xc0\x80", "cut_multibyte": b"\xe1\xbb",
             "byte_ff": b"\xff", "latin1": "Nguy\xeanx".encode("latin-1")}
# Headers as any client may write them (``kcat -H``): keys are bytes on the wire, not always UTF-8. Keys
# given as bytes are sent as they are (tests/raw_records.py); a key that is not UTF-8 makes the message bad.
RAW_HEADERS = {"ff_fe": [(b"\xff\xfe", b"v")],
               "control_and_cut": [(b"\x00\x1b[31m\xe1\xbb", None)],
               "latin1_after_good": [("trace", b"1"), ("Nguy\xeanx".encode("latin-1"), b"")],
               "lone_surrogate": [(b"\xed\xb3\xbf", b"x")],
               "null_values": [("a", None), ("", None)],
               "control_bytes_utf8": [(b"\x00\x07\x1b\x7f", b"\xff\xfe")],
               "many_headers": [(f"h{i}".encode(), b"") for i in range(1000)]}
WEIRD_HEADERS = [("", b""), ("x-\u00fcn\u00efcode-\u0643", "\u00e9\u200f".encode()), ("binary", b"\x00\xff\xfe"),
                 ("dup", b"1"), ("dup", b"2"), ("dlq.source_offset", b"-1"), ("dlq.reason", b"spoofed")]


# ---- what a topic carries ---------------------------------------------------------------------------------
def buildable_types(topic: str) -> list[str]:
    """Message types of ``topic`` we can build valid (camt.054 and pain.002 documents are fuzzed on their own)."""
    return [m.event_type for m in spec(topic).messages
            if m.event_type not in ("CreditNotificationReceived", "BankStatusReportReceived")]


def compacted(topic: str) -> bool:
    return spec(topic).config.get("cleanup.policy") == "compact"


# ---- recipes (what hypothesis draws) ----------------------------------------------------------------------
KINDS = ["random_bytes", "junk_json", "deep_nesting", "truncated", "tombstone", "invalid_utf8", "camt054",
         "raw_header", "mutated", "mutated", "mutated", "mutated", "mutated", "valid", "valid", "valid"]
KEY_VARIANTS = ["natural", "natural", "natural", "null", "empty", "binary", "long"]
VALID_VARIANTS = ["plain", "extra_field", "drop_optional", "unicode_name", "uuid_upper", "offset_plus_14",
                  "max_length_name", "reordered"]
_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JUNK_JSON = st.recursive(_json_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                        max_size=4), max_leaves=12)


def recipes() -> st.SearchStrategy[dict]:
    common = {"base": st.integers(0, 2**32), "key": st.sampled_from(KEY_VARIANTS),
              "weird_headers": st.sampled_from([False, False, False, True])}
    by_kind = {
        "random_bytes": {"bytes": st.binary(max_size=512)},
        "junk_json": {"json": JUNK_JSON},
        "deep_nesting": {"depth": st.sampled_from([1_000, 10_000, 50_000]),
                         "shape": st.sampled_from(["array", "object", "field"]), "pick": st.integers(0, 99)},
        "truncated": {"cut": st.floats(0.0, 0.999)},
        "tombstone": {},
        "invalid_utf8": {"bad": st.sampled_from(sorted(BAD_BYTES)), "pick": st.integers(0, 99)},
        "camt054": {"doc": st.sampled_from(sorted(CAMT_BAD))},
        "raw_header": {"headers": st.sampled_from(sorted(RAW_HEADERS))},
        "mutated": {"mutation": st.sampled_from(MUTATION_NAMES), "pick": st.integers(0, 99)},
        "valid": {"variant": st.sampled_from(VALID_VARIANTS)},
    }
    return st.sampled_from(KINDS).flatmap(
        lambda kind: st.fixed_dictionaries({"kind": st.just(kind), **common, **by_kind[kind]}))


def draw(count: int, seed: int) -> list[dict]:
    """``count`` recipes, the same for the same seed (and Hypothesis version)."""
    out: list[dict] = []
    attempt = 0
    while len(out) < count:
        @settings(max_examples=count - len(out), database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck))
        @hypothesis_seed(seed * 1000 + attempt)
        @given(recipes())
        def collect(recipe):
            out.append(recipe)

        collect()
        attempt += 1
    return out[:count]


# ---- camt.054 documents that no bank could mean -----------------------------------------------------------
_CAMT = ('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
         "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M1</MsgId><CreDtTm>2025-08-20T17:00:00+07:00</CreDtTm></GrpHdr>"
         "<Ntfctn><Id>N1</Id><CreDtTm>2025-08-20T17:00:00+07:00</CreDtTm>"
         "<Acct><Id><Othr><Id>1234567890123</Id></Othr></Id></Acct><Ntry><NtryRef>1</NtryRef>"
         '<Amt Ccy="VND">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
         "<BookgDt><Dt>2025-08-20</Dt></BookgDt><ValDt><Dt>2025-08-19</Dt></ValDt><AcctSvcrRef>FT1</AcctSvcrRef>"
         "<BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
         "<RmtInf><Ustrd>BHXH DN0001</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn>"
         "</Document>")
CAMT_BAD = {
    "not_xml": "this is not XML",
    "truncated": _CAMT.format(amount="1500000")[:300],
    "other_document": '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>',
    "billion_laughs": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                       + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'
                                 for i in range(1, 10))
                       + ']><Document>&lol9;</Document>'),
    "external_entity": ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        "<Document>&xxe;</Document>"),
    "negative_amount": _CAMT.format(amount="-1500000"),
    "huge_amount": _CAMT.format(amount="1" + "0" * 30),
    "nul_escape": _CAMT.format(amount="1500000").replace("BHXH DN0001", "BHXH &#0; DN0001"),
}


# ---- cases ---------------------------------------------------------------------------------------------------
@dataclass
class Case:
    n: int
    kind: str  # what was done, e.g. "mutated:int_2p63@payload.revision"
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    expect: str  # "good" or "bad": what the service must do
    why: str  # the referee's reason for a bad one
    model: str  # what the models (the runtime's Decoder) say: good, bad, crash:<exception>
    contract_good: bool | None  # the published schema alone
    event_id: str | None = None
    identity: tuple | None = None  # for a good one: the row it must leave (collection)
    personal: list[str] = field(default_factory=list)  # values a DLQ reason must not contain

    @property
    def disagrees(self) -> bool:
        """The models and the published contract disagree (a finding)."""
        return self.contract_good is not None and (self.model == "good") != self.contract_good


class Corpus:
    """Materializes recipes into cases for one topic and one seed."""

    def __init__(self, topic: str, seed: int):
        self.topic, self.seed, self.types = topic, seed, buildable_types(topic)
        declarable = month_range(tuple(map(int, law_limits().first_period.split("-"))),
                                 tuple(map(int, month_shift(BUSINESS_PERIOD, law_limits().max_periods_ahead)
                                           .split("-"))))
        self.builders = Builders(declarable, seed)

    def event_id(self, n: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ansinh-fuzz/{self.seed}/{self.topic}/{n}"))

    def envelope(self, n: int, rng: random.Random, event_type: str | None = None) -> dict:
        event_type = event_type or rng.choice(self.types)
        occurred = datetime(2025, 9, 15, 8, tzinfo=timezone(timedelta(hours=7))) - timedelta(minutes=rng.randrange(10**5))
        return {"event_id": self.event_id(n), "type": event_type, "schema_version": 1,
                "occurred_at": occurred.isoformat(), "producer": "fuzzer",
                "correlation_id": str(uuid.uuid5(uuid.NAMESPACE_OID, self.event_id(n))),
                "causation_id": None, "payload": self.builders.build(event_type, rng, n)}

    def case(self, n: int, recipe: dict) -> Case:
        rng = random.Random(f"{self.seed}/{n}/{recipe['base']}")
        doc = self.envelope(n, rng)
        personal = [str(v) for k, v in doc["payload"].items() if k in PERSONAL_FIELDS and len(str(v)) >= 6]
        for holder in doc["payload"].values():
            if isinstance(holder, dict):
                personal += [str(v) for k, v in holder.items() if k in PERSONAL_FIELDS and len(str(v)) >= 6]
        kind, value, ascii_only = recipe["kind"], None, False
        label = kind
        if kind == "random_bytes":
            value = recipe["bytes"]
        elif kind == "junk_json":
            value = json.dumps(recipe["json"], ensure_ascii=False).encode("utf-8", "surrogatepass")
        elif kind == "deep_nesting":
            value, label = self._deep(doc, recipe), f"deep_nesting:{recipe['shape']}:{recipe['depth']}"
        elif kind == "truncated":
            whole = _encode(doc)
            value = whole[:min(len(whole) - 1, int(len(whole) * recipe["cut"]))]
        elif kind == "invalid_utf8":
            value, label = self._invalid_utf8(doc, recipe), f"invalid_utf8:{recipe['bad']}"
        elif kind == "camt054" and self.topic == "collection.remittances":
            doc.update(type="CreditNotificationReceived",
                       payload={"bank_bin": "970436", "document": CAMT_BAD[recipe["doc"]]})
            value, label = _encode(doc), f"camt054:{recipe['doc']}"
        elif kind == "mutated":
            where = mutate(doc, recipe["mutation"], recipe["pick"], recipe.get("prefer", ()))
            label = f"mutated:{recipe['mutation']}@{where or '-'}"
            ascii_only = recipe["mutation"] == "lone_surrogate_escape"
        elif kind == "valid":
            label = f"valid:{self._valid_variant(doc, recipe['variant'], rng)}"
        if kind in ("mutated", "valid") or (kind == "camt054" and value is None):
            value = _encode(doc, ascii_only)
            if kind == "camt054":
                label = "valid:plain"
        if kind == "tombstone":
            value = None
        key = self._key(doc, recipe["key"], rng)
        if value is None and key is None:
            key = b"tombstone"  # aiokafka (like the broker for compacted topics) refuses a record with neither
        headers = list(WEIRD_HEADERS) if recipe["weird_headers"] else []
        if kind == "raw_header":  # a valid message, its headers as raw bytes
            value, label = _encode(doc), f"raw_header:{recipe['headers']}"
            headers = RAW_HEADERS[recipe["headers"]] + headers
        return self._judge(n, label, key, value, headers, personal)

    def _judge(self, n: int, label: str, key, value, headers, personal) -> Case:
        verdict = referee(self.topic, value, BUSINESS_DATE)
        if not _utf8_keys(headers):
            verdict = Verdict(False, "header key is not UTF-8")  # refused before any schema is looked at
        if label.split(":")[0] in ("random_bytes", "junk_json", "deep_nesting", "truncated", "tombstone",
                                   "invalid_utf8", "camt054"):
            verdict_good = False  # broken by construction, whatever else is true of it
            why = verdict.why if not verdict.good else "broken by construction"
        else:
            verdict_good, why = verdict.good, verdict.why
        if label.startswith("tombstone") and self.topic in ERASING_TOMBSTONES and _utf8_keys(headers):
            verdict_good = bool(key) and len(key) == 10 and key.isdigit()  # a participant code: erased
            why = "" if verdict_good else "tombstone key is not a participant code"
            verdict = Verdict(verdict_good, why)
        doc = _parse(value) if verdict_good and value is not None else None
        return Case(n, label, key, value, headers, "good" if verdict_good else "bad", why,
                    model_verdict(self.topic, key, value, headers), verdict.contract_good,
                    event_id=str(uuid.UUID(doc["event_id"])) if doc else _event_id_of(value),
                    identity=_identity(doc) if doc else None, personal=personal)

    def _deep(self, doc: dict, recipe: dict) -> bytes:
        depth = recipe["depth"]
        if recipe["shape"] == "array":
            return b"[" * depth + b"]" * depth
        if recipe["shape"] == "object":
            return b'{"a":' * depth + b"1" + b"}" * depth
        mutate(doc, "deep_10000", recipe["pick"])
        return _encode(doc).replace(b'"' + DEEP.format(10_000).encode() + b'"', b"[" * depth + b"]" * depth)

    def _invalid_utf8(self, doc: dict, recipe: dict) -> bytes:
        strings = [p for p in field_paths(doc["payload"]) if isinstance(get_at(doc["payload"], p), str)]
        path = strings[recipe["pick"] % len(strings)]
        marker = "\ue001MARK\ue001"
        set_at(doc["payload"], path, get_at(doc["payload"], path) + marker)
        return _encode(doc).replace(marker.encode(), BAD_BYTES[recipe["bad"]])

    def _valid_variant(self, doc: dict, variant: str, rng: random.Random) -> str:
        payload = doc["payload"]
        names = [k for k in ("worker_name", "beneficiary_name", "reason") if k in payload]
        if variant == "extra_field":
            payload["zz_future_field"] = {"nested": [1, "hai", None]}
            doc["zz_envelope_extra"] = True
        elif variant == "drop_optional":
            doc.pop("causation_id")
            for k in ("reduced_accident_rate", "bank_bin", "last_period", "currency", "phone", "email"):
                if k in payload and not (k == "bank_bin" and doc["type"] == "BankPaymentStatusReported"):
                    payload.pop(k)
        elif variant == "unicode_name" and names:
            payload[names[0]] = rng.choice(["\u200fمحمد Nguyễn", "Nguyễn 😀 Văn", "Ngô\u0301 Thị", "阮文安", "A"])
        elif variant == "max_length_name" and names:
            payload[names[0]] = ("Nguyễn Văn An " * 20)[:200]
        elif variant == "uuid_upper":
            doc["event_id"] = doc["event_id"].upper()
        elif variant == "offset_plus_14":
            doc["occurred_at"] = doc["occurred_at"][:19] + "+14:00"
        elif variant == "reordered":
            doc = dict(reversed(list(doc.items())))
        else:
            variant = "plain"
        return variant

    def _key(self, doc: dict, variant: str, rng: random.Random) -> bytes | None:
        payload = doc.get("payload") if isinstance(doc.get("payload"), dict) else {}
        natural = next((str(payload[k]) for k in ("employer_code", "award_id", "beneficiary_code", "participant_code",
                                                  "bank_bin", "paying_office") if k in payload), "k")
        # A 1 MB code field must not also make a 1 MB key: key and value together must fit one record.
        key = {"natural": natural.encode("utf-8", "surrogatepass")[:256], "null": None, "empty": b"",
               "binary": bytes(rng.randrange(256) for _ in range(16)), "long": b"K" * 10_000}[variant]
        if key is None and compacted(self.topic):
            return b"compacted-topics-refuse-null-keys"
        return key

    def valid(self, n: int) -> Case:
        """A plain valid message (the sentinel sent after the rest)."""
        return self.case(n, {"kind": "valid", "variant": "plain", "base": n, "key": "natural",
                             "weird_headers": False})


CODES = ("worker_code", "beneficiary_code", "participant_code", "employer_code", "bank_bin", "citizen_id")
NAMED = ("worker_name", "beneficiary_name", "reason", "bank_reference", "producer")
INTS = ("revision", "contribution_salary", "amount", "declared_salary", "region", "total", "credit_balance")
PERIODS = ("period", "first_period", "from_period")
DATES = ("value_date", "due_date", "date_of_death", "reported_at", "paid_at", "occurred_at")


def edges() -> list[dict]:
    """The issue's named cases, always in the corpus (Hypothesis may not reach them in a short run)."""
    mutated = [("int_2p63", INTS), ("int_1e30", INTS[1:]), ("int_neg_2p63_minus_1", INTS), ("revision_2p31", ()),
               ("period_year_0", PERIODS), ("period_year_9999", PERIODS), ("period_two_ahead", PERIODS),
               ("period_before_law", PERIODS), ("arabic_indic_digits", CODES), ("fullwidth_digits", CODES),
               ("rtl_mark", CODES), ("rtl_mark", NAMED), ("nul_inside", NAMED), ("lone_surrogate_escape", NAMED),
               ("megabyte_string", NAMED), ("extra_field_megabyte", ("payload",)), ("date_0001_01_01", DATES),
               ("date_9999_12_31", DATES), ("datetime_year_1", DATES), ("int_as_float", INTS),
               ("trailing_newline", CODES), ("datetime_no_offset", DATES), ("missing", INTS),
               ("schema_version_2", ()), ("payload_double_encoded", ()), ("as_string", INTS),
               ("unknown_value", ("funds", "benefit_type", "status", "outcome", "language", "fund")),
               ("empty_list", ("funds", "lines", "channels")), ("emoji", NAMED)]
    base = {"base": 7, "key": "natural", "weird_headers": False}
    raw = [{**base, "base": i, "kind": "raw_header", "headers": h} for i, h in enumerate(sorted(RAW_HEADERS))]
    # base varies, so a topic carrying several message types has each edge on a different one
    out = [{**base, "base": i, "kind": "mutated", "mutation": m, "pick": 0, "prefer": prefer}
           for i, (m, prefer) in enumerate(mutated)]
    out += [{**base, "kind": "deep_nesting", "depth": 10_000, "shape": s, "pick": 0} for s in ("array", "field")]
    out += [{**base, "kind": "tombstone"}, {**base, "kind": "tombstone", "key": "null"},
            {**base, "kind": "invalid_utf8", "bad": "cesu8_surrogate", "pick": 0},
            {**base, "kind": "random_bytes", "bytes": b""}, {**base, "kind": "random_bytes", "bytes": b"\x00" * 64},
            {**base, "kind": "valid", "variant": "plain", "key": "null"},
            {**base, "kind": "valid", "variant": "unicode_name", "weird_headers": True},
            {**base, "kind": "valid", "variant": "extra_field", "key": "binary"},
            {**base, "kind": "camt054", "doc": "billion_laughs"}, {**base, "kind": "camt054", "doc": "external_entity"}]
    return raw + out


def near_limit_case(corpus: Corpus, n: int) -> Case:
    """A record as large as the broker takes: its dead letter (bytes plus reason headers) is larger."""
    value = b'{"not an envelope":"' + b"z" * (NEAR_LIMIT - 23) + b'"}'
    return corpus._judge(n, "near_broker_limit", b"big", value, [], [])


def build(topic: str, count: int, seed: int, with_edges: bool = True) -> list[Case]:
    """``count`` cases for ``topic`` (the issue's named edge cases first), reproducible from ``seed``."""
    corpus = Corpus(topic, seed)
    fixed = edges() if with_edges else []
    cases = [corpus.case(n, r) for n, r in enumerate(fixed[:count])]
    if with_edges and count > len(cases):
        cases.append(near_limit_case(corpus, len(cases)))
    for recipe in draw(max(0, count - len(cases)), seed):
        cases.append(corpus.case(len(cases), recipe))
    return cases


# ---- encoding --------------------------------------------------------------------------------------------------
def _encode(doc: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _utf8_keys(headers) -> bool:
    """Every header key is UTF-8 (str keys are; bytes keys are checked)."""
    try:
        for k, _ in headers:
            if isinstance(k, bytes):
                k.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse(value: bytes) -> dict:
    return json.loads(value)


def _event_id_of(value: bytes | None) -> str | None:
    """The event id a broken message carries, when one can be read (to prove it was never claimed)."""
    try:
        return str(uuid.UUID(json.loads(value)["event_id"]))
    except Exception:  # noqa: BLE001 - broken messages are broken in every way
        return None


def _identity(doc: dict) -> tuple | None:
    p = doc["payload"]
    if doc["type"] == "SalaryDeclared":
        return ("assessment", p["employer_code"], p["worker_code"], p["period"])
    if doc["type"] == "RemittanceReceived":
        return ("remittance", p["bank_reference"])  # unique per good one (payment ids get scoped by bank)
    return None
