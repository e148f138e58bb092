"""The language of each answer: which answers speak it, how it is chosen, and what it says.

Pages for people speak the visitor's language; the APIs, feeds, badges and the console speak
English. ``languages.negotiate`` decides (the URL's ``?lang=``, the switcher's cookie,
``Accept-Language``, English), here for Flask and in ``fastlane`` for the answers it replays.
"""

from __future__ import annotations

from typing import Any

from flask import Response, has_request_context, request

from ..languages import DEFAULT_LANGUAGE, current_language, is_language, negotiate

LANGUAGE_COOKIE = "lang"
# Set in the WSGI environ when the language cookie may have chosen the answer (keeps Vary:
# Cookie, see http.PublicResponseSessionInterface).
COOKIE_DEPENDENT = "statuspage.cookie_dependent"
LANGUAGE_ARG = "lang"
# Pages for people live on these blueprints; everything else (the APIs, the console) is English.
TRANSLATED_BLUEPRINTS = frozenset({"public", "embeds"})
# ... except these answers for machines and feed readers, which stay English like the APIs.
ENGLISH_ENDPOINTS = frozenset({
    "public.history_rss", "public.history_atom", "public.component_rss",
    "public.component_atom", "public.switch_language", "public.theme", "embeds.badge",
    "embeds.component_badge", "embeds.maintenance_calendar", "embeds.favicon",
    "embeds.favicon_ico", "embeds.robots",
})
_ENGLISH_PATHS = ("/api/", "/v1/", "/admin/", "/static/")


def is_translated() -> bool:
    """Whether this request answers a person (a page in their language) rather than a machine."""
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the error page of a stray URL
        return not request.path.startswith(_ENGLISH_PATHS)
    return request.blueprint in TRANSLATED_BLUEPRINTS and endpoint not in ENGLISH_ENDPOINTS


def explicit_language() -> str | None:
    """The language the URL names (``?lang=pl``), if it names one the page speaks."""
    value = request.args.get(LANGUAGE_ARG)
    return value if is_language(value) else None


def select_language() -> str:
    """Flask-Babel's locale selector: the language of this answer (English outside a request,
    where emails choose theirs with ``force_locale``)."""
    if not has_request_context() or not is_translated():
        return DEFAULT_LANGUAGE
    return negotiate(request.args.get(LANGUAGE_ARG), request.cookies.get(LANGUAGE_COOKIE),
                     request.headers.get("Accept-Language"))


def link_in_language(endpoint: str, values: dict[str, Any]) -> None:
    """URL defaults: a page in Polish links on in Polish, so that following a link never
    changes language; an explicit lang=None asks for the page without one (the switcher)."""
    if (has_request_context() and LANGUAGE_ARG not in values and endpoint.partition(".")[0]
            in TRANSLATED_BLUEPRINTS and endpoint not in ENGLISH_ENDPOINTS
            and is_translated() and current_language() != DEFAULT_LANGUAGE):
        values[LANGUAGE_ARG] = current_language()


def language_headers(response: Response) -> Response:
    """Content-Language on pages for people, and ``Vary: Accept-Language, Cookie`` on those
    whose language the visitor's headers chose (no ``?lang=``)."""
    if not is_translated():
        return response
    response.content_language.add(current_language())
    if explicit_language() is None:
        # Chosen by the visitor's headers: a shared cache must keep one copy per choice.
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        request.environ[COOKIE_DEPENDENT] = True
    return response
