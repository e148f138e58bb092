"""Settings: parsed strictly from the environment, and documented in the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from statuspage import config
from statuspage.config import SETTINGS, ConfigError, from_env

README = Path(__file__).resolve().parent.parent / "README.md"
STRONG_KEY = "9f1c2e7a4b8d3f6e0a5c9b2d7e4f1a8c"


@pytest.mark.parametrize(("env", "raw", "key", "expected"), [
    ("MAIL_PORT", "2525", "MAIL_PORT", 2525),
    ("MAIL_PORT", " 587 ", "MAIL_PORT", 587),
    ("MAIL_USE_TLS", "yes", "MAIL_USE_TLS", True),
    ("MAIL_USE_TLS", "TRUE", "MAIL_USE_TLS", True),
    ("MAIL_USE_SSL", "0", "MAIL_USE_SSL", False),
    ("SCHEDULER_IN_PROCESS", "on", "SCHEDULER_IN_PROCESS", True),
    ("SCHEDULER_IN_PROCESS", "off", "SCHEDULER_IN_PROCESS", False),
    ("DEV_MAIL_CATCHER", "", "DEV_MAIL_CATCHER", False),
    ("PAGE_CACHE_SECONDS", "0", "PAGE_CACHE_SECONDS", 0),
    ("HISTORY_PAGE_SIZE", "6", "HISTORY_PAGE_SIZE", 6),
    ("DATABASE_URL", "postgres://u:p@db/status", "SQLALCHEMY_DATABASE_URI",
     "postgresql+psycopg://u:p@db/status"),
    ("DATABASE_URL", "postgresql://u@db:5433/status", "SQLALCHEMY_DATABASE_URI",
     "postgresql+psycopg://u@db:5433/status"),
    ("DATABASE_URL", "postgresql+psycopg://u@db/status", "SQLALCHEMY_DATABASE_URI",
     "postgresql+psycopg://u@db/status"),
    ("DATABASE_URL", "sqlite:////var/lib/status.db", "SQLALCHEMY_DATABASE_URI",
     "sqlite:////var/lib/status.db"),
    ("SECRET_KEY", "s3cret", "SECRET_KEY", "s3cret"),
    ("SECRET_KEY_FALLBACKS", "old-key", "SECRET_KEY_FALLBACKS", ["old-key"]),
    ("BASE_URL", "https://status.example.com", "BASE_URL", "https://status.example.com"),
    ("RATE_LIMIT_STORAGE_URL", " redis://cache:6379/2 ", "RATELIMIT_STORAGE_URI",
     "redis://cache:6379/2"),
    ("RATE_LIMIT_STORAGE_URL", "memory://", "RATELIMIT_STORAGE_URI", "memory://"),
])
def test_environment_values_are_parsed_into_settings(env: str, raw: str, key: str,
                                                     expected: Any) -> None:
    assert from_env({env: raw})[key] == expected


@pytest.mark.parametrize(("env", "raw", "reason"), [
    ("MAIL_PORT", "abc", "invalid literal"),
    ("MAIL_PORT", "-1", "expected a number >= 0"),
    ("MAIL_PORT", "25.5", "invalid literal"),
    ("PAGE_CACHE_SECONDS", "ten", "invalid literal"),
    ("HISTORY_PAGE_SIZE", "", "invalid literal"),
    ("SCHEDULER_IN_PROCESS", "maybe", "expected true or false, got 'maybe'"),
    ("MAIL_USE_TLS", "2", "expected true or false"),
    ("DEV_MAIL_CATCHER", "enabled", "expected true or false"),
    ("DATABASE_URL", "  ", "must not be empty"),
    ("RATE_LIMIT_STORAGE_URL", "cache:6379", "expected memory:// or redis://host:port/db"),
])
def test_a_bad_environment_value_is_refused_naming_the_variable(env: str, raw: str,
                                                               reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({env: raw})
    assert str(caught.value).startswith(f"{env}: ")
    assert reason in str(caught.value)


def test_unset_variables_take_their_documented_defaults() -> None:
    values = from_env({})
    assert values == {s.key: s.default for s in SETTINGS}
    assert values["SQLALCHEMY_DATABASE_URI"] == "sqlite:///statuspage.db"
    assert values["SCHEDULER_IN_PROCESS"] is False
    assert values["SECRET_KEY"] is None


def test_every_setting_has_a_unique_variable_and_an_explanation() -> None:
    envs = [s.env for s in SETTINGS]
    assert len(envs) == len(set(envs))
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)
    for setting in SETTINGS:
        assert setting.help.endswith((".", "`.", ")")), setting.env
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", setting.env)


@pytest.mark.parametrize(("values", "message"), [
    ({}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": STRONG_KEY, "MAIL_USE_TLS": True, "MAIL_USE_SSL": True},
     "MAIL_USE_TLS and MAIL_USE_SSL cannot both be true"),
    ({"SECRET_KEY": STRONG_KEY, "PAGE_VERSION_CHECK_MS": 1001},
     "PAGE_VERSION_CHECK_MS: at most 1000"),
])
def test_settings_that_cannot_work_stop_start_up(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.check(values)


@pytest.mark.parametrize("values", [
    {"SECRET_KEY": STRONG_KEY},
    {"DEBUG": True},
    {"TESTING": True},
    {"SECRET_KEY": STRONG_KEY, "MAIL_USE_TLS": True},
    {"SECRET_KEY": STRONG_KEY, "PAGE_VERSION_CHECK_MS": 1000},
    {"SECRET_KEY": STRONG_KEY, "PAGE_VERSION_CHECK_MS": 0},
    {"SECRET_KEY": "short", "DEBUG": True},
    {"SECRET_KEY": "changeme", "TESTING": True},
    {"SECRET_KEY": STRONG_KEY, "SECRET_KEY_FALLBACKS": ["b" * 12 + STRONG_KEY]},
])
def test_settings_that_can_work_pass_the_check(values: dict[str, Any]) -> None:
    config.check(values)


@pytest.mark.parametrize(("values", "message"), [
    ({"SECRET_KEY": "a"}, "SECRET_KEY is too short"),
    ({"SECRET_KEY": "changeme"}, "SECRET_KEY is too short"),
    ({"SECRET_KEY": "x" * 31}, "SECRET_KEY is too short"),
    ({"SECRET_KEY": "change-me-to-a-long-random-secret-key"}, "SECRET_KEY is a well-known value"),
    ({"SECRET_KEY": "0" * 64}, "SECRET_KEY is a well-known value"),
    ({"SECRET_KEY": "abababababababababababababababab"}, "SECRET_KEY is a well-known value"),
    ({"SECRET_KEY": STRONG_KEY, "SECRET_KEY_FALLBACKS": ["changeme"]},
     "SECRET_KEY_FALLBACKS: an old key is too short"),
])
def test_a_weak_secret_key_stops_start_up_in_production(values: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.check(values)


def test_secret_key_fallbacks_are_read_newest_first_from_a_comma_separated_list() -> None:
    values = from_env({"SECRET_KEY_FALLBACKS": " newer , older,"})
    assert values["SECRET_KEY_FALLBACKS"] == ["newer", "older"]
    assert from_env({})["SECRET_KEY_FALLBACKS"] is None


# --- the README documents every setting ----------------------------------------------------------

def readme_default(value: Any) -> str:
    """How the README's configuration table writes a default."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def readme_row(setting: config.Setting) -> str:
    """The README row for ``setting``; the table is written from SETTINGS with this."""
    return f"| `{setting.env}` | {readme_default(setting.default)} | {setting.help} |"


def test_every_setting_variable_appears_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"README.md does not mention {missing}"


def test_readme_configuration_table_matches_the_settings() -> None:
    text = README.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()
            if re.match(r"\| `[A-Z][A-Z0-9_]+` \|", line)]
    expected = [readme_row(s) for s in SETTINGS]
    assert rows == expected, "Rewrite the README's table with:\n" + "\n".join(expected)
