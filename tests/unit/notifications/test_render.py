"""Rendering in both languages: wording, diacritics, amounts, dates, masking, SMS within two segments."""
from datetime import date

import pytest

from services.notifications.domain.errors import MissingTemplate
from services.notifications.domain.sms import segments
from services.notifications.render import Renderer, day, money, month, render
from services.notifications.triggers import MESSAGE_TYPES

CHANNELS = ("email", "sms", "push")
BENEFIT = dict(benefit_type="old_age_pension", account="****4567")
# Typical inputs of every message type, and the longest the contracts allow where it matters for SMS.
TYPICAL = {
    "contributions_recorded": dict(period="2025-07", declared_salary=12_345_678, employee_amount=1_296_296,
                                   employer_amount=2_654_321, total=3_950_617, employers=1, **BENEFIT),
    "contributions_unpaid": dict(employer_code="DN0001", periods=["2025-07", "2025-08"], as_of=date(2025, 10, 1),
                                 **BENEFIT),
    "benefit_awarded": dict(amount=5_500_000, recurrence="monthly", first_period="2025-07", last_period=None,
                            channel="bank", paying_office=None, citizen_id="****8901", **BENEFIT),
    "benefit_suspended": dict(from_period="2025-09", reason="Chưa cập nhật giấy tờ", **BENEFIT),
    "benefit_resumed": dict(from_period="2025-10", reason="Đã cập nhật giấy tờ", **BENEFIT),
    "benefit_ended": dict(from_period="2025-12", reason="Hết thời hạn hưởng", **BENEFIT),
    **{t: dict(amount=5_500_000, period="2025-07", reason_code="AC04", paying_office="BD-HN-01", channel="bank",
               pay_until=date(2025, 12, 31), unclaimed=6, **BENEFIT)
       for t in ("payment_sent", "payment_settled", "payment_rejected", "payment_rerouted_to_cash",
                 "payment_returned", "payments_suspended")},
}
LONGEST = {
    **TYPICAL,
    "contributions_recorded": dict(TYPICAL["contributions_recorded"], declared_salary=999_999_999_999,
                                   employee_amount=999_999_999, employer_amount=999_999_999, total=1_999_999_998),
    "contributions_unpaid": dict(TYPICAL["contributions_unpaid"], employer_code="A" * 15,
                                 periods=[f"2024-{m:02d}" for m in range(1, 13)]),
    "benefit_awarded": dict(TYPICAL["benefit_awarded"], benefit_type="accident_disease_allowance",
                            amount=999_999_999),
    **{t: dict(TYPICAL[t], benefit_type="accident_disease_allowance", amount=999_999_999, paying_office="X" * 64)
       for t in ("payment_sent", "payment_settled", "payment_rejected", "payment_rerouted_to_cash",
                 "payment_returned", "payments_suspended")},
}


def test_every_message_type_has_inputs_here():
    assert set(TYPICAL) == set(MESSAGE_TYPES)


# ---- formatting ------------------------------------------------------------------------------------------
def test_amounts_are_written_the_vietnamese_way_in_vietnamese():
    assert money(1_234_567, "vi") == "1.234.567 ₫"
    assert money(0, "vi") == "0 ₫"
    assert money(999_999_999_999_999, "vi") == "999.999.999.999.999 ₫"


def test_amounts_are_written_the_english_way_in_english():
    assert money(1_234_567, "en") == "VND 1,234,567"
    assert money(500, "en") == "VND 500"


def test_unaccented_sms_amounts_spell_the_currency_since_the_dong_sign_is_not_gsm7():
    assert money(1_234_567, "vi", plain=True) == "1.234.567 VND"


def test_dates_are_dd_mm_yyyy_in_both_languages_and_months_mm_yyyy():
    assert day(date(2025, 7, 5), "vi") == day(date(2025, 7, 5), "en") == "05/07/2025"
    assert month("2025-07") == "07/2025"


# ---- every type, channel and language ------------------------------------------------------------------
@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("message_type", sorted(TYPICAL))
def test_every_message_renders_on_every_channel_with_a_subject_where_the_channel_has_one(message_type, language):
    for channel in CHANNELS:
        text = render(message_type, channel, language, TYPICAL[message_type])
        assert text.body.strip() and "{{" not in text.body and "{%" not in text.body
        assert (text.subject is None) == (channel == "sms")
        if channel != "email":
            assert "\n" not in text.body


@pytest.mark.parametrize("message_type", sorted(TYPICAL))
def test_a_typical_vietnamese_sms_fits_two_segments_with_its_diacritics(message_type):
    text = render(message_type, "sms", "vi", TYPICAL[message_type])
    assert not text.unaccented and not text.truncated
    assert segments(text.body).encoding == "ucs2" and segments(text.body).count <= 2


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("message_type", sorted(LONGEST))
def test_the_longest_sms_still_fits_two_segments_without_being_cut(message_type, language):
    text = render(message_type, "sms", language, LONGEST[message_type])
    assert segments(text.body).count <= 2
    assert not text.truncated, text.body


@pytest.mark.parametrize("message_type", sorted(TYPICAL))
def test_an_english_sms_is_gsm7(message_type):
    assert segments(render(message_type, "sms", "en", TYPICAL[message_type]).body).encoding == "gsm7"


# ---- wording in Vietnamese (diacritics as a reader expects them) -------------------------------------------
def test_the_vietnamese_digest_email_reads_with_correct_diacritics_and_amounts():
    text = render("contributions_recorded", "email", "vi", TYPICAL["contributions_recorded"])
    assert text.subject == "Đã ghi nhận đóng bảo hiểm xã hội tháng 07/2025"
    assert "Kính gửi Quý ông/bà," in text.body
    assert "- Người lao động đóng: 1.296.296 ₫" in text.body
    assert "- Đơn vị sử dụng lao động đóng: 2.654.321 ₫" in text.body
    assert "- Tổng cộng: 3.950.617 ₫" in text.body
    assert "Bảo hiểm xã hội Việt Nam" in text.body


def test_the_english_digest_email_reads_in_english_with_english_amounts():
    text = render("contributions_recorded", "email", "en", TYPICAL["contributions_recorded"])
    assert text.subject == "Your social insurance contributions for 07/2025 were recorded"
    assert "- Paid by you: VND 1,296,296" in text.body
    assert "- Total: VND 3,950,617" in text.body
    assert "₫" not in text.body


def test_a_vietnamese_payment_sms_names_the_benefit_amount_month_and_masked_account():
    text = render("payment_sent", "sms", "vi", TYPICAL["payment_sent"])
    assert text.body == "BHXH: Đã chuyển 5.500.000 ₫ lương hưu tháng 07/2025 vào TK ****4567."


def test_an_english_payment_sms_names_the_benefit_amount_month_and_masked_account():
    text = render("payment_sent", "sms", "en", TYPICAL["payment_sent"])
    assert text.body == "VSS: VND 5,500,000 (old-age pension, 07/2025) sent to account ****4567."


def test_unpaid_months_are_listed_and_the_rest_counted_in_both_languages():
    inputs = dict(TYPICAL["contributions_unpaid"], periods=["2025-01", "2025-02", "2025-03", "2025-04"])
    vi = render("contributions_unpaid", "sms", "vi", inputs).body
    en = render("contributions_unpaid", "sms", "en", inputs).body
    assert vi == "BHXH: Đến 01/10/2025, đơn vị DN0001 chưa đóng BHXH cho bạn tháng 01/2025, 02/2025 và 2 tháng khác."
    assert en == ("VSS: as of 01/10/2025, employer DN0001 has not paid your contributions for "
                  "01/2025, 02/2025, 03/2025 and 1 more.")
    assert "01/2025, 02/2025, 03/2025, 04/2025" in render("contributions_unpaid", "email", "vi", inputs).body


def test_a_rejected_payment_gives_its_reason_code():
    assert "(mã AC04)" in render("payment_rejected", "sms", "vi", TYPICAL["payment_rejected"]).body
    assert "(reason code AC04)" in render("payment_rejected", "email", "en", TYPICAL["payment_rejected"]).body


def test_an_award_by_cash_names_the_paying_office_instead_of_an_account():
    inputs = dict(TYPICAL["benefit_awarded"], channel="cash", account=None, paying_office="BD-HN-01")
    body = render("benefit_awarded", "email", "vi", inputs).body
    assert "tiền mặt tại điểm chi trả BD-HN-01" in body and "tài khoản" not in body


def test_an_award_shows_the_citizen_id_and_account_only_masked():
    for language in ("vi", "en"):
        body = render("benefit_awarded", "email", language, TYPICAL["benefit_awarded"]).body
        assert "****8901" in body and "****4567" in body


def test_an_unknown_benefit_type_gets_a_generic_name_in_both_languages():
    inputs = dict(TYPICAL["payment_sent"], benefit_type=None)
    assert "chế độ bảo hiểm xã hội" in render("payment_sent", "sms", "vi", inputs).body
    assert "social insurance benefit" in render("payment_sent", "sms", "en", inputs).body


# ---- the unaccented variant ------------------------------------------------------------------------------
def test_the_unaccented_variant_is_sent_where_configured_and_is_gsm7():
    text = Renderer(sms_unaccented=True).render("payment_sent", "sms", "vi", TYPICAL["payment_sent"])
    assert text.unaccented
    assert text.body == "BHXH: Da chuyen 5.500.000 VND luong huu thang 07/2025 vao TK ****4567."
    assert segments(text.body).encoding == "gsm7"


def test_a_vietnamese_sms_too_long_with_diacritics_goes_unaccented_instead_of_being_cut():
    inputs = dict(TYPICAL["payment_rerouted_to_cash"], amount=999_999_999, paying_office="X" * 64)
    office = "X" * 64
    accented = f"BHXH: Khoản 999.999.999 ₫ tháng 07/2025 sẽ chi trả bằng tiền mặt tại {office} đến 31/12/2025. " \
               "Mang theo căn cước."
    assert segments(accented).count == 3
    text = render("payment_rerouted_to_cash", "sms", "vi", inputs)
    assert text.unaccented and not text.truncated
    assert text.body == f"BHXH: Khoan 999.999.999 VND thang 07/2025 se chi tra bang tien mat tai {office} " \
                        "den 31/12/2025. Mang theo can cuoc."


def test_email_and_push_keep_their_diacritics_when_sms_is_unaccented():
    renderer = Renderer(sms_unaccented=True)
    email = renderer.render("payment_sent", "email", "vi", TYPICAL["payment_sent"])
    assert "đã chuyển 5.500.000 ₫ lương hưu" in email.body
    assert "đã được chuyển" in renderer.render("payment_sent", "push", "vi", TYPICAL["payment_sent"]).body


# ---- refusals ------------------------------------------------------------------------------------------
def test_a_language_without_templates_is_refused_naming_it():
    with pytest.raises(MissingTemplate, match="'fr'"):
        render("payment_sent", "sms", "fr", TYPICAL["payment_sent"])


def test_a_message_type_without_a_template_is_refused_naming_it():
    with pytest.raises(MissingTemplate, match="'payment_lost'"):
        render("payment_lost", "sms", "vi", {})


def test_text_arriving_decomposed_is_sent_composed_so_an_sms_is_not_counted_twice_as_long():
    import unicodedata
    reason = unicodedata.normalize("NFD", "Chưa cập nhật giấy tờ")
    assert len(reason) > len("Chưa cập nhật giấy tờ")
    inputs = dict(TYPICAL["benefit_suspended"], reason=reason)
    body = render("benefit_suspended", "email", "vi", inputs).body
    assert "Lý do: Chưa cập nhật giấy tờ" in body and unicodedata.is_normalized("NFC", body)


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("message_type", sorted(TYPICAL))
def test_every_rendered_text_is_composed_unicode(message_type, language):
    import unicodedata
    for channel in CHANNELS:
        text = render(message_type, channel, language, TYPICAL[message_type])
        assert unicodedata.is_normalized("NFC", text.body) and unicodedata.is_normalized("NFC", text.subject or "")
