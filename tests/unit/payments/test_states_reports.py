"""Which payment and attempt a status is about, and how a pain.002's levels become one status per payment."""
from services.payments.iso.pain002 import parse_status_report
from services.payments.status import attempt_of, reports_of_document
from tests.unit.payments.pain002_documents import pain002


def test_an_end_to_end_id_names_the_payment_and_its_attempt():
    assert attempt_of("PMT17") == ("PMT17", 1)
    assert attempt_of("PMT17-R02") == ("PMT17", 2)
    assert attempt_of("PMT17-R01") == ("PMT17-R01", 1)  # never issued: R01 is not a retry


def test_transaction_statuses_are_reported_and_the_group_status_covers_the_rest():
    report = parse_status_report(pain002("M1", group_status="ACTC", transactions=[("PMT1", "RJCT", "AC04"),
                                                                                  ("PMT2-R02", "ACSC", None)]))
    reports, fallback = reports_of_document(report)
    assert [(r.payment_id, r.attempt, r.status, r.reason_code) for r in reports] == [
        ("PMT1", 1, "RJCT", "AC04"), ("PMT2", 2, "ACSC", None)]
    assert (fallback.message_id, fallback.status, fallback.listed) == ("M1", "ACTC", frozenset({"PMT1", "PMT2-R02"}))


def test_a_partly_accepted_group_says_nothing_about_the_transactions_it_does_not_list():
    report = parse_status_report(pain002("M1", group_status="PART", transactions=[("PMT1", "ACSC", None)]))
    reports, fallback = reports_of_document(report)
    assert [r.payment_id for r in reports] == ["PMT1"] and fallback is None


def test_a_rejected_group_gives_its_reason_to_every_transaction_it_covers():
    reports, fallback = reports_of_document(parse_status_report(pain002("M1", group_status="RJCT",
                                                                        group_reason="DU01")))
    assert reports == [] and (fallback.status, fallback.reason_code, fallback.listed) == ("RJCT", "DU01", frozenset())


def test_a_pending_transaction_changes_nothing():
    reports, _ = reports_of_document(parse_status_report(pain002("M1", transactions=[("PMT1", "PDNG", None)])))
    assert reports == []
