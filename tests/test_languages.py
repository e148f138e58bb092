"""Languages: the catalogues are complete, and each answer is in the language it should be."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from statuspage import ROOT

TRANSLATIONS = ROOT / "translations"
LANGUAGES_TO_CHECK = ["pl"]


def _keywords() -> dict[str, Any]:
    """gettext's marks plus those the Makefile's KEYWORDS names, as `make messages` uses."""
    line = next(li for li in (ROOT / "Makefile").read_text().splitlines()
                if li.startswith("KEYWORDS :="))
    names = [w for w in shlex.split(line.split(":=", 1)[1]) if w != "-k"]
    return {**DEFAULT_KEYWORDS, **parse_keywords(names)}


@pytest.fixture(scope="module")
def extracted() -> dict[str, Any]:
    """Every message the code and templates mark, by msgid (singular)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, Any] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=_keywords()):
        found[message[0] if isinstance(message, tuple) else message] = message
    return found


def _catalogue(language: str) -> Any:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


@pytest.mark.parametrize("language", LANGUAGES_TO_CHECK)
def test_every_marked_message_is_translated_and_none_is_fuzzy(extracted: dict[str, Any],
                                                              language: str) -> None:
    catalogue = _catalogue(language)
    missing = sorted(m for m in extracted if m not in catalogue)
    untranslated = sorted(m.id if isinstance(m.id, str) else m.id[0] for m in catalogue
                          if m.id and (not m.string or (isinstance(m.string, tuple)
                                                        and not all(m.string))))
    fuzzy = sorted(str(m.id) for m in catalogue if m.id and m.fuzzy)

    assert missing == [], "run `make messages`, then translate"
    assert untranslated == []
    assert fuzzy == []
    assert len(catalogue.plural_forms) and catalogue.num_plurals == 3


@pytest.mark.parametrize("language", LANGUAGES_TO_CHECK)
def test_translations_keep_every_placeholder(language: str) -> None:
    problems = [(str(m.id), [str(e) for e in errors])
                for m, errors in _catalogue(language).check() if errors]

    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES_TO_CHECK)
def test_the_compiled_catalogue_is_the_current_one(language: str) -> None:
    compiled = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert compiled.exists(), "run `make` to compile the catalogues"
    def entries(catalogue: Any) -> dict[Any, Any]:
        return {tuple(m.id) if isinstance(m.id, list | tuple) else m.id:
                tuple(m.string) if isinstance(m.string, list | tuple) else m.string
                for m in catalogue if m.id}

    with compiled.open("rb") as mo:
        built = entries(read_mo(mo))
    source = entries(_catalogue(language))

    assert built == source, "the .mo is older than the .po: run `make`"


def test_plural_forms_follow_polish_rules(app: Any) -> None:
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("pl"):
        words = [ngettext("%(num)d component", "%(num)d components", n)
                 for n in (1, 2, 5, 12, 22, 25)]

    assert words == ["1 usługa", "2 usługi", "5 usług", "12 usług", "22 usługi", "25 usług"]


# --- which language an answer is in ---------------------------------------------------------------

def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def test_a_polish_browser_gets_the_page_in_polish(client: Any, make_component: Any) -> None:
    make_component("API")

    response = client.get("/", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.8"})

    html = _html(response)
    assert _lang(html) == "pl"
    assert "Wszystkie systemy działają" in html and "All Systems Operational" not in html
    assert response.headers["Content-Language"] == "pl"
    assert set(response.vary) >= {"Accept-Language", "Cookie"}


def test_a_browser_without_a_known_language_gets_english(client: Any, db: Any) -> None:
    for header in ({}, {"Accept-Language": "de-DE,fr;q=0.8"}):
        html = _html(client.get("/", headers=header))
        assert _lang(html) == "en" and "All Systems Operational" in html


def test_the_url_choice_wins_over_the_browser_and_keeps_out_of_vary(client: Any,
                                                                    db: Any) -> None:
    response = client.get("/?lang=en", headers={"Accept-Language": "pl"})

    assert _lang(_html(response)) == "en"
    assert "Accept-Language" not in response.vary and "Cookie" not in response.vary


def test_the_remembered_choice_wins_over_the_browser(client: Any, db: Any) -> None:
    client.set_cookie("lang", "pl")

    assert _lang(_html(client.get("/", headers={"Accept-Language": "en"}))) == "pl"


def test_a_page_in_polish_links_on_in_polish(client: Any, make_incident: Any) -> None:
    incident = make_incident("Slow API")

    html = _html(client.get("/", headers={"Accept-Language": "pl"}))

    assert f'href="/incidents/{incident.id}?lang=pl"' in html
    assert 'href="/history?lang=pl"' in html
    english = _html(client.get("/", headers={"Accept-Language": "en"}))
    assert f'href="/incidents/{incident.id}"' in english


@pytest.mark.parametrize("path", ["/api/v2/status.json", "/api/v2/summary.json"])
def test_the_api_answers_english_to_a_polish_client(client: Any, make_component: Any,
                                                    path: str) -> None:
    make_component("API")

    response = client.get(path, headers={"Accept-Language": "pl"})

    assert "All Systems Operational" in _html(response)
    assert "Content-Language" not in response.headers
    assert "Accept-Language" not in response.vary


def test_feeds_and_badges_stay_english(client: Any, make_incident: Any) -> None:
    make_incident("Slow API", body="Looking.")

    for path in ("/history.rss", "/badge.svg"):
        body = _html(client.get(path, headers={"Accept-Language": "pl"}))
        assert "Analizujemy" not in body and "Wszystkie" not in body, path


def test_the_console_stays_english(logged_in: Any) -> None:
    html = _html(logged_in.client.get("/admin/", headers={"Accept-Language": "pl"}))

    assert _lang(html) == "en"


def test_an_unknown_page_says_so_in_polish(client: Any, db: Any) -> None:
    response = client.get("/no-such-page", headers={"Accept-Language": "pl"})

    html = _html(response)
    assert response.status_code == 404
    assert _lang(html) == "pl" and "Nie znaleziono strony" in html
    assert "Not Found" not in html


# --- emails in the subscriber's language ----------------------------------------------------------

def _raw_text(message: Any) -> str:
    """The text part as a mail client reads it: its bytes undone from their transfer encoding
    and decoded in the charset the part names."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_payload(decode=True).decode(part.get_content_charset())


def test_a_choice_saved_in_polish_is_confirmed_by_a_polish_email(app: Any, client: Any,
                                                                 smtp: Any,
                                                                 make_component: Any) -> None:
    from statuspage import scheduler

    api = make_component("API")
    chooser = client.post("/subscribe?lang=pl", data={"email": "czytelnik@example.com"})
    html = _html(chooser)
    assert _lang(html) == "pl" and "Wybierz powiadomienia" in html
    ticket = re.search(r'name="ticket" type="hidden" value="([^"]+)"', html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    sent = client.post("/subscribe/components?lang=pl", data={
        "csrf_token": token, "ticket": ticket, "scope": "some",
        "component_ids": [str(api.id)], "language": "pl"})
    scheduler.run_once(app)

    assert "Sprawdź skrzynkę odbiorczą" in _html(sent)
    [email] = smtp.to("czytelnik@example.com")
    assert email["Subject"] == "[Acme] Potwierdź subskrypcję"
    text = _raw_text(email)
    assert "Otwórz ten link, aby potwierdzić wybór:" in text and "- API" in text
    assert "Link jest ważny przez 7 dni." in text
    prose = re.sub(r"https?://\S+", "", text)
    assert not re.search(r"\b(Confirm|subscription|Someone|link works|Unsubscribe)\b", prose)


def test_each_subscriber_reads_an_update_in_their_own_language(app: Any, smtp: Any,
                                                               make_incident: Any) -> None:
    from statuspage import notifications
    from statuspage import subscriptions as subs
    from statuspage.site import update_page_settings

    update_page_settings(time_zone="Europe/Warsaw")
    for address, language in (("polak@example.com", "pl"), ("brit@example.com", "en")):
        subs.add_subscriber(address, confirmed=True, language=language)
    from datetime import UTC, datetime

    make_incident("Slow API", body=None, now=datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    notifications.deliver()

    [polish] = smtp.to("polak@example.com")
    [english] = smtp.to("brit@example.com")
    # One subject per incident, so clients thread its emails; the status leads the body.
    assert polish["Subject"] == english["Subject"] == "[Acme] Slow API"
    text = _raw_text(polish)
    assert text.startswith("Analizujemy - 1 grudnia 2026, 22:00 CET")
    assert _raw_text(english).startswith("Investigating - Dec 1, 2026 22:00 CET")
    assert "Analizujemy ten problem." in text and "Zobacz incydent:" in text
    assert "Zrezygnuj z subskrypcji:" in text
    assert "We are currently investigating this issue." in _raw_text(english)


def test_a_postmortem_reaches_a_polish_subscriber_in_polish(app: Any, smtp: Any,
                                                            make_incident: Any) -> None:
    from statuspage import incidents, notifications, postmortems
    from statuspage import subscriptions as subs

    subs.add_subscriber("polak@example.com", confirmed=True, language="pl")
    incident = make_incident("Slow API")
    incidents.resolve_incident(incident, body="Fixed.")
    notifications.deliver()
    smtp.clear()
    postmortems.save_postmortem(incident, "A disk **filled up**.")
    postmortems.publish_postmortem(incident, notify=True)
    notifications.deliver()

    [email] = smtp.to("polak@example.com")
    text = _raw_text(email)
    assert text.startswith("Analiza po incydencie - ")
    assert "A disk filled up." in text and "Przeczytaj analizę po incydencie: http" in text
    part = email.get_body(preferencelist=("html",))
    markup = part.get_payload(decode=True).decode(part.get_content_charset())
    assert "<strong>Analiza po incydencie</strong>" in markup
    assert ">Przeczytaj analizę po incydencie</a>" in markup
    assert "Postmortem" not in text + markup and "Read the" not in text + markup


def test_the_manage_page_changes_the_language_of_the_emails(actions: Any, db: Any) -> None:
    from statuspage import subscriptions as subs

    subscriber = subs.add_subscriber("reader@example.com", confirmed=True, language="pl")
    link = f"/subscriptions/manage/{subs.make_token(subscriber, 'manage')}"
    page = _html(actions.client.get(link, headers={"Accept-Language": "pl"}))
    assert '<option selected value="pl">Polski</option>' in page

    actions.post(link, {"scope": "all", "language": "en"})

    db.session.rollback()
    assert subs.find_subscriber("reader@example.com").language == "en"


def test_the_demo_page_can_be_written_in_polish(client: Any, db: Any) -> None:
    from statuspage import demo

    demo.load(login_password="correct horse battery", language="pl")

    html = _html(client.get("/?lang=pl"))
    assert "Portal internetowy" in html and "Opóźnione doręczenia AS2" in html
    assert "Web portal" not in html and "Delayed AS2 deliveries" not in html
