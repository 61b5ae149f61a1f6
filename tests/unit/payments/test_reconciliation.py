"""Reconciliation, pure: what adds up and how a mismatch is worded (counts and VND only)."""
from services.payments.reconcile import Tally, check


def tallies(sent, settled, rejected, outstanding):
    return {"sent": Tally(*sent), "settled": Tally(*settled), "rejected": Tally(*rejected),
            "outstanding": Tally(*outstanding)}


def test_a_batch_whose_statuses_cover_what_was_sent_and_declared_adds_up():
    result = check("batch", "M1", tallies((3, 300), (1, 100), (1, 100), (1, 100)), Tally(3, 300))
    assert result.adds_up and result.as_dict()["mismatches"] == []


def test_payments_missing_from_every_bucket_are_a_mismatch():
    result = check("run", "2026-01", tallies((3, 300), (1, 100), (1, 100), (0, 0)), None)
    assert result.mismatches == ("settled + rejected + outstanding = 2 payments, 200 VND; sent = 3 payments, 300 VND",)


def test_a_batch_that_carries_other_than_it_declared_is_a_mismatch():
    result = check("batch", "M1", tallies((3, 300), (3, 300), (0, 0), (0, 0)), Tally(3, 301))
    assert not result.adds_up
    assert result.mismatches == ("declared 3 payments, 301 VND; sent 3 payments, 300 VND",)
