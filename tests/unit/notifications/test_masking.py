"""Personal identifiers in messages show their last 4 digits only."""
from services.notifications.domain.masking import last_digits, mask_digits


def test_a_citizen_id_shows_only_its_last_four_digits():
    assert mask_digits("001203004567") == "****4567"


def test_a_bank_account_shows_only_its_last_four_digits_and_not_its_length():
    assert mask_digits("0011001234567") == "****4567"
    assert mask_digits("1234567890123456789") == "****6789"
    assert len(mask_digits("12345")) == len(mask_digits("1234567890123456789"))


def test_a_value_of_four_digits_or_fewer_is_masked_whole():
    assert mask_digits("1234") == "****"
    assert mask_digits("1") == "****"


def test_nothing_to_mask_stays_nothing():
    assert mask_digits(None) is None


def test_only_the_last_four_digits_are_kept_for_later():
    assert last_digits("0011001234567") == "4567"
    assert last_digits("1234") is None
