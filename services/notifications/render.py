"""Rendering (pure): a message type, channel, language and inputs in, the text a participant reads out.

Templates are files a translator edits: ``templates/<language>/<message type>.j2``, one per message type
and language, each setting ``subject`` and ``email`` (e-mail), ``sms``, ``push_title`` and ``push``; words
shared by every message (benefit names, lists of months) are in ``templates/<language>/_common.j2``.
Numbers and dates are formatted by Babel from CLDR data, so translators never write a separator:
amounts ``1.234.567 ₫`` (vi) and ``VND 1,234,567`` (en), dates ``DD/MM/YYYY``, months ``MM/YYYY``.

Output is composed Unicode (NFC): a template or an input saved decomposed (NFD, as some editors and
macOS file systems do) would otherwise spend two UCS-2 units on each accented letter and show differently.
SMS must fit two segments (``domain/sms.py``). A Vietnamese SMS is UCS-2 (134 characters in two parts);
when configured (``unaccented``) or when the accented text does not fit, the unaccented variant is sent
(GSM-7, 306 characters in two parts); a text that still does not fit is cut at a word with "...".
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Mapping, Sequence

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, pass_context

from services.notifications.domain.errors import MissingTemplate
from services.notifications.domain.sms import fits, strip_diacritics, truncate_to_fit

LANGUAGES = ("vi", "en")
CHANNELS = ("email", "sms", "push")
SMS_SEGMENTS = 2
# CLDR patterns: the grouping separator and the currency's place come from the locale.
_MONEY = {"vi": "#,##0 ¤", "en": "¤¤ #,##0"}
_LOCALE = {"vi": "vi_VN", "en": "en_US"}


@dataclass(frozen=True)
class Rendered:
    subject: str | None  # e-mail subject or push title; None for SMS
    body: str
    unaccented: bool = False  # SMS sent without diacritics
    truncated: bool = False   # SMS cut to fit (a template too long for its inputs)


@lru_cache(maxsize=65536)  # CLDR formatting costs ~0.1 ms; a message formats the same amount in every channel
def money(amount: int, language: str, plain: bool = False) -> str:
    """``1.234.567 ₫`` (vi), ``VND 1,234,567`` (en); plain (unaccented SMS): ``1.234.567 VND`` (₫ is not GSM-7).

    A plain space rather than CLDR's no-break space: SMS gateways and mail clients mangle U+00A0.
    """
    text = format_currency(amount, "VND", locale=_LOCALE[language], format=_MONEY[language],
                           currency_digits=True).replace("\xa0", " ")
    return text.replace("₫", "VND") if plain else text


def day(value: date, language: str) -> str:
    return format_date(value, "dd/MM/yyyy", locale=_LOCALE[language])


def month(period: str) -> str:
    """``2025-07`` -> ``07/2025``."""
    year, mm = period.split("-")
    return f"{mm}/{year}"


@pass_context
def _money(ctx, amount: int) -> str:
    return money(amount, ctx["_language"], ctx["_plain"])


@pass_context
def _date(ctx, value: date) -> str:
    return day(value, ctx["_language"])


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("services.notifications", "templates"), undefined=StrictUndefined,
                      autoescape=False,  # plain-text e-mail, SMS and push: nothing is HTML
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update(money=_money, date=_date, month=month)
    return env


class Renderer:
    """Renders every channel of a message; ``sms_unaccented``: always send Vietnamese SMS unaccented."""

    def __init__(self, sms_unaccented: bool = False):
        self.sms_unaccented = sms_unaccented

    def render(self, message_type: str, channel: str, language: str, inputs: Mapping[str, Any]) -> Rendered:
        return self.render_all(message_type, language, inputs, (channel,))[channel]

    def render_all(self, message_type: str, language: str, inputs: Mapping[str, Any],
                   channels: Sequence[str]) -> dict[str, Rendered]:
        """Every channel of ``channels`` from one evaluation of the template (the unaccented SMS needs another)."""
        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}")
        parts = self._parts(message_type, language, inputs, plain=False)
        out = {}
        if "email" in channels:
            out["email"] = Rendered(_line(parts.subject), _paragraphs(parts.email))
        if "sms" in channels:
            out["sms"] = self._sms(message_type, language, inputs, parts)
        if "push" in channels:
            out["push"] = Rendered(_line(parts.push_title), _line(parts.push))
        return out

    def _sms(self, message_type: str, language: str, inputs: Mapping[str, Any], accented) -> Rendered:
        if not self.sms_unaccented:
            text = _line(accented.sms)
            if fits(text, SMS_SEGMENTS):
                return Rendered(None, text)
        text = strip_diacritics(_line(self._parts(message_type, language, inputs, plain=True).sms))
        cut = truncate_to_fit(text, SMS_SEGMENTS)
        return Rendered(None, cut, unaccented=True, truncated=cut != text)

    def _parts(self, message_type: str, language: str, inputs: Mapping[str, Any], plain: bool):
        if language not in LANGUAGES:
            raise MissingTemplate(f"no templates for language {language!r}; expected one of {LANGUAGES}")
        try:
            template = environment().get_template(f"{language}/{message_type}.j2")
        except TemplateNotFound:
            raise MissingTemplate(f"no template for message type {message_type!r} in {language!r}") from None
        return template.make_module({**inputs, "_language": language, "_plain": plain})


def render(message_type: str, channel: str, language: str, inputs: Mapping[str, Any], *,
           sms_unaccented: bool = False) -> Rendered:
    return Renderer(sms_unaccented).render(message_type, channel, language, inputs)


def _line(text: Any) -> str:
    """SMS and push: one line, single spaces, composed (NFC)."""
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def _paragraphs(text: Any) -> str:
    """E-mail: lines as written, without trailing spaces or blank runs at both ends, composed (NFC)."""
    return unicodedata.normalize("NFC", "\n".join(line.rstrip() for line in str(text).strip().splitlines()))
