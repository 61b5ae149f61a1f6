"""SMS length: GSM-7 (with its extension table) vs UCS-2, single and concatenated parts, unaccented text."""
from hypothesis import given, strategies as st

from services.notifications.domain.sms import (GSM7_BASIC, GSM7_EXTENSION, fits, segments, strip_diacritics,
                                               truncate_to_fit)


def test_plain_ascii_is_gsm7_and_160_characters_fit_one_sms():
    assert segments("a" * 160) == segments("a" * 160).__class__("gsm7", 160, 1)
    assert segments("a" * 161).count == 2


def test_concatenated_gsm7_parts_hold_153_characters_each():
    assert segments("a" * 306).count == 2
    assert segments("a" * 307).count == 3


def test_an_extension_character_costs_two_septets():
    text = "€" + "a" * 159  # 161 septets
    assert segments(text) == segments(text).__class__("gsm7", 161, 2)
    assert segments("{}" * 80).units == 320


def test_an_escape_pair_is_never_split_between_two_parts():
    # 152 plain septets then '€' (2 septets): the pair does not fit the first part's last septet, so it moves.
    text = "a" * 152 + "€" + "a" * 152
    assert segments(text).units == 306  # 306 septets would fill exactly two parts if a pair could be split
    assert segments(text).count == 3


def test_vietnamese_with_diacritics_is_ucs2_70_in_one_sms_and_67_per_part():
    one = "Đã chuyển " + "ạ" * 60
    assert len(one) == 70
    assert segments(one) == segments(one).__class__("ucs2", 70, 1)
    assert segments(one + "ư").count == 2
    assert segments("ơ" * 134).count == 2
    assert segments("ơ" * 135).count == 3


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2():
    assert segments("a" * 100).encoding == "gsm7"
    assert segments("a" * 100 + "ư").encoding == "ucs2"
    assert segments("a" * 100 + "ư").count == 2  # 101 UCS-2 units: two parts, where GSM-7 would take one


def test_the_gsm7_letters_vietnamese_shares_do_not_force_ucs2():
    assert segments("é è ù ì ò à").encoding == "gsm7"


def test_an_emoji_counts_two_ucs2_units_and_is_never_split():
    assert segments("😀").units == 2
    text = "a" * 66 + "😀" + "a" * 66  # 134 units; the pair cannot straddle the first part's end
    assert segments(text).units == 134
    assert segments(text).count == 3


def test_empty_text_takes_no_sms():
    assert segments("").count == 0


def test_unaccented_vietnamese_strips_every_mark_and_turns_d_bar_into_d():
    assert strip_diacritics("Đã chuyển tiền lương hưu tháng 07/2025") == "Da chuyen tien luong huu thang 07/2025"
    assert strip_diacritics("đơn vị Đồng Nai ạ ả ã á à ặ ẳ ẵ ắ ằ ậ ẩ ẫ ấ ầ ự ử ữ ứ ừ ợ ở ỡ ớ ờ") == \
        "don vi Dong Nai a a a a a a a a a a a a a a a u u u u u o o o o o"


def test_unaccented_text_is_the_same_from_composed_and_decomposed_input():
    import unicodedata
    text = "Người lao động đóng"
    assert strip_diacritics(unicodedata.normalize("NFD", text)) == strip_diacritics(text) == "Nguoi lao dong dong"


def test_unaccented_vietnamese_is_gsm7():
    text = strip_diacritics("Bảo hiểm xã hội Việt Nam: đã ghi nhận đóng BHXH, ỨNG DỤNG VssID")
    assert segments(text).encoding == "gsm7"


def test_truncation_cuts_at_a_word_and_fits_two_segments():
    text = " ".join(["chuyen"] * 80)
    cut = truncate_to_fit(text)
    assert fits(cut) and cut.endswith("...")
    assert cut[:-3].split(" ") == ["chuyen"] * len(cut[:-3].split(" "))  # whole words only
    assert not fits(cut + "chuyen")
    assert truncate_to_fit("short") == "short"


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION) + ["ư", "ạ", "😀", "Đ"]), max_size=400))
def test_segment_count_agrees_with_a_direct_packing(text):
    seg = segments(text)
    single, part = (160, 153) if seg.encoding == "gsm7" else (70, 67)
    if seg.units <= single:
        assert seg.count == (1 if text else 0)
    else:
        # every part but the last is full up to one unit (a pair moved on), and no part overflows
        assert (seg.count - 1) * (part - 1) < seg.units <= seg.count * part


@given(st.text(max_size=500))
def test_truncated_text_always_fits(text):
    assert fits(truncate_to_fit(text))
