"""The languages people read the page and its emails in, and how a language is spelled.

A language is its ISO 639-1 code. English is the default: the APIs and the ops console speak it
whatever a visitor prefers, and any text without a translation falls back to it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_babel import get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .validation import ValidationError

DEFAULT_LANGUAGE = "en"
# Each language by its own name, as a switcher offers it to people who may not read the page's.
LANGUAGES: dict[str, str] = {"en": "English", "pl": "Polski"}
# For Open Graph (og:locale) and the like, which want a territory.
TERRITORIES = {"en": "en_US", "pl": "pl_PL"}


def is_language(value: Any) -> bool:
    """True when ``value`` is the code of a language the page speaks."""
    return isinstance(value, str) and value in LANGUAGES


def parse_language(value: Any, field: str = "language") -> str:
    """The language code spelled by ``value`` (any case, surrounding space), or
    ValidationError naming the languages there are."""
    text = str(value or "").strip().lower()
    if not is_language(text):
        raise ValidationError(f"Unknown language {value!r}; use one of "
                              f"{', '.join(LANGUAGES)}.", field)
    return text


def current_language() -> str:
    """The language of the page or email being made (English outside a request)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


@lru_cache(maxsize=1024)
def best_accepted(header: str) -> str | None:
    """The language ``Accept-Language`` prefers among those the page speaks, as Werkzeug's
    ``best_match`` reads it; kept per header text, since browsers send few distinct ones."""
    return parse_accept_header(header, LanguageAccept).best_match(LANGUAGES)


def negotiate(explicit: str | None, cookie: str | None, accept: str | None) -> str:
    """The language of a page for people: one the URL names, else the switcher's cookie, else
    the best of ``Accept-Language``, else English. Flask and the fast lane both decide by it."""
    if is_language(explicit):
        return explicit  # type: ignore[return-value]
    if is_language(cookie):
        return cookie  # type: ignore[return-value]
    return (best_accepted(accept) if accept else None) or DEFAULT_LANGUAGE
