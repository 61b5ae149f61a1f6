"""Property test (hypothesis): whatever text a bank sends as pain.002, the reader returns a report or refuses the
document with an InvalidStatusReport (the DLQ path); it never raises anything else and never quotes the text."""
from hypothesis import HealthCheck, given, settings, strategies as st

from services.payments.iso.errors import InvalidStatusReport
from services.payments.iso.pain002 import StatusReport, parse_status_report
from tests.unit.payments.pain002_documents import pain002

VALID = pain002("R202601-970436-1", group_status="PART", transactions=[("PMT1", "ACSC", None),
                                                                         ("PMT2", "RJCT", "AC04")])
SECRET = "0011001234567"


@st.composite
def mutated(draw) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "replace"]))
        junk = draw(st.text(min_size=0, max_size=12)) + draw(st.sampled_from(["", "<", ">", "&", "]]>", "<!DOCTYPE x>",
                                                                              "&x;", SECRET, "\x00", "\ud800"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "insert":
            text = text[:at] + junk + text[at:]
        else:
            text = text[:at] + junk + text[at + len(junk):]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_mutation_of_a_status_report_is_read_or_refused_with_a_reason_that_quotes_nothing(document):
    try:
        report = parse_status_report(document)
    except InvalidStatusReport as exc:
        assert SECRET not in str(exc)
        return
    assert isinstance(report, StatusReport)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_read_or_refused(document):
    try:
        parse_status_report(document)
    except InvalidStatusReport:
        pass
