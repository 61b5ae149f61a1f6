"""Which payment an id names, when a repeated id is the same payment, and what an operator's assignment must say."""
from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from services.collection.commands import AssignReceipt, recorded_payment_id
from services.collection.domain.errors import InvalidRemittance, PaymentIdConflict, ReceiptNotFound
from services.collection.handlers import check_same_payment
from services.collection.api import Assignment, assignment

RECORDED = {"employer_code": "DN0001", "amount": 1_000_000, "value_date": date(2025, 8, 20)}


def test_a_payment_id_is_qualified_by_its_bank_when_the_bank_is_named():
    assert recorded_payment_id("FT25232ABC", "970436") == "970436-FT25232ABC"
    assert recorded_payment_id("P1", None) == "P1"
    assert len(recorded_payment_id("X" * 57, "970436")) == 64
    with pytest.raises(InvalidRemittance, match="so at most 57 are left for it"):
        recorded_payment_id("X" * 58, "970436")


def test_the_same_id_with_the_same_content_is_the_same_payment():
    check_same_payment("P1", RECORDED, "DN0001", 1_000_000, date(2025, 8, 20))
    # A receipt held in suspense (no employer) and the same credit read with an employer agree.
    check_same_payment("P1", {**RECORDED, "employer_code": None}, "DN0001", 1_000_000, date(2025, 8, 20))
    check_same_payment("P1", RECORDED, None, 1_000_000, date(2025, 8, 20))


def test_the_same_id_with_other_content_names_the_fields_that_differ_but_not_their_values():
    with pytest.raises(PaymentIdConflict) as refused:
        check_same_payment("P1", RECORDED, "DN0002", 1_500_000, date(2025, 8, 20))
    assert str(refused.value).startswith("payment id P1 is already recorded with a different amount, employer_code;")
    assert "1500000" not in str(refused.value) and "DN0002" not in str(refused.value)
    with pytest.raises(PaymentIdConflict, match="different value_date;"):
        check_same_payment("P1", RECORDED, "DN0001", 1_000_000, date(2025, 8, 21))


def test_an_assignment_needs_a_well_formed_employer_and_a_reason():
    body = lambda **kw: json.dumps(kw).encode()  # noqa: E731
    valid = Assignment.model_validate_json(body(employer_code="DN0001", reason=" phoned "))
    assert assignment("17", valid) == AssignReceipt(17, "DN0001", "phoned")
    for bad in (b"", b"[]", b"{not json", body(employer_code="dn0001", reason="x"), body(employer_code="DN0001"),
                body(employer_code="DN0001", reason=""), body(employer_code="DN0001", reason="   "),
                body(employer_code="DN0001", reason="x" * 501), body(employer_code="DN0001", reason="a\x00b")):
        with pytest.raises(ValidationError):
            Assignment.model_validate_json(bad)
    for not_an_id in ("abc", "١٧", "-1", "1" * 19):
        with pytest.raises(ReceiptNotFound):
            assignment(not_an_id, valid)