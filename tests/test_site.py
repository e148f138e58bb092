"""Page settings and the page version that page-visible writes bump by themselves."""

from __future__ import annotations

import pytest

from statuspage import site
from statuspage.components import set_component_status
from statuspage.staff import create_user
from statuspage.validation import ValidationError


def test_page_visible_writes_bump_the_version_once_per_transaction(db, make_component):
    before = site.page_version()
    api = make_component("API")
    after_create = site.page_version()
    assert after_create == before + 1
    set_component_status(api, "major_outage")
    assert site.page_version() == after_create + 1


def test_writes_the_page_does_not_show_leave_the_version_alone(db):
    before = site.page_version()
    create_user("ops@example.com", "correct horse battery", role="admin")
    assert site.page_version() == before


def test_settings_are_validated_and_stored(db):
    settings = site.update_page_settings(name="Pagero", time_zone="Europe/Stockholm",
                                         support_url="https://pagero.example/support",
                                         accent_color="#0A6ED1")
    assert (settings.name, settings.time_zone, settings.accent_color) == (
        "Pagero", "Europe/Stockholm", "#0a6ed1")
    assert settings.zone.key == "Europe/Stockholm"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"support_url": "javascript:alert(1)"}, "support_url"),
        ({"logo_url": "ftp://example.com/logo.png"}, "logo_url"),
        ({"accent_color": "red"}, "accent_color"),
        ({"colour": "#fff"}, "colour"),
    ],
)
def test_bad_settings_are_refused(db, changes, field):
    with pytest.raises(ValidationError) as caught:
        site.update_page_settings(**changes)
    assert caught.value.field == field
    db.session.rollback()
    assert site.get_page_settings().name == "Acme"
