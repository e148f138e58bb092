"""Settings: documented defaults, read from the environment, parsed strictly.

Every setting is listed once in ``SETTINGS`` with its default and meaning; the README's
configuration table is written from the same list. A bad value stops start-up with a message
that names the variable, instead of surfacing later as a confusing failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask


class ConfigError(ValueError):
    """A setting in the environment has a value that cannot be used."""


def parse_bool(raw: str) -> bool:
    """Read yes/no spellings; anything else is an error rather than a silent False."""
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_int(raw: str) -> int:
    """Read a non-negative whole number."""
    value = int(raw.strip())
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {raw!r}")
    return value


def parse_database_url(raw: str) -> str:
    """Accept the URLs hosting platforms hand out and point them at psycopg 3."""
    url = raw.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url:
        raise ValueError("must not be empty")
    return url


def parse_key_list(raw: str) -> list[str]:
    """Read a comma-separated list of keys, dropping empty entries."""
    return [part.strip() for part in raw.split(",") if part.strip()]


RATE_LIMIT_STORAGES = ("memory://", "redis://", "rediss://", "redis+unix://")


def parse_rate_limit_storage(raw: str) -> str:
    """Accept the rate-limit storages we support: in memory, or Redis."""
    url = raw.strip()
    if not url.startswith(RATE_LIMIT_STORAGES):
        raise ValueError(f"expected memory:// or redis://host:port/db, got {raw!r}")
    return url


MAX_VERSION_CHECK_MS = 1000
SECRET_KEY_MIN = 32
# Values copied from examples and tutorials; an attacker tries these first.
WELL_KNOWN_KEYS = frozenset({
    "change-me-to-a-long-random-secret-key", "change-this-to-a-long-random-secret-key",
    "changeme-changeme-changeme-changeme", "your-secret-key-here-change-in-production",
    "please-change-this-secret-key-in-production", "super-secret-key-change-me-in-production",
    "this-is-a-very-long-and-secret-key-for-development",
    "development-secret-key-not-for-production", "insecure-secret-key-for-development-only",
    "dev-secret-key-change-in-production",
})
# A key of fewer distinct characters than this ("aaaa...", "0000...", "abab...") was typed,
# not generated.
SECRET_KEY_MIN_DISTINCT = 8


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", "SECRET_KEY", None, str,
            "Signs sessions, CSRF tokens and subscriber links. Required outside development: "
            f"at least {SECRET_KEY_MIN} random characters (a short or well-known value stops "
            "start-up)."),
    Setting("SECRET_KEY_FALLBACKS", "SECRET_KEY_FALLBACKS", None, parse_key_list,
            "Previous values of SECRET_KEY, comma-separated, newest first: sessions and "
            "subscriber links signed with them stay valid, so a key can be rotated. New "
            "signatures always use SECRET_KEY."),
    Setting("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "sqlite:///statuspage.db",
            parse_database_url,
            "SQLAlchemy URL; `postgres://` URLs are accepted. The default SQLite file lives in "
            "`instance/`."),
    Setting("BASE_URL", "BASE_URL", "http://127.0.0.1:5000", str,
            "Public address of the page, used in emails, feeds and API links. When it is "
            "`https://`, cookies are marked Secure and responses carry HSTS."),
    Setting("PROXY_COUNT", "PROXY_COUNT", 0, parse_int,
            "Reverse proxies in front of the web processes whose `X-Forwarded-For` and "
            "`X-Forwarded-Proto` are believed (werkzeug's ProxyFix): 1 behind one TLS proxy. "
            "0 believes none, so clients cannot forge their address or scheme."),
    Setting("SECURE_COOKIES", "SECURE_COOKIES", False, parse_bool,
            "Mark the session cookie Secure even when BASE_URL is `http://` (it is whenever "
            "BASE_URL is `https://`)."),
    Setting("HSTS_SECONDS", "HSTS_SECONDS", 31536000, parse_int,
            "`Strict-Transport-Security: max-age` of https responses (and of every response "
            "when BASE_URL is `https://`). 0 sends none."),
    Setting("MAIL_SERVER", "MAIL_SERVER", "127.0.0.1", str, "SMTP relay host."),
    Setting("MAIL_PORT", "MAIL_PORT", 1025, parse_int, "SMTP relay port."),
    Setting("MAIL_USE_TLS", "MAIL_USE_TLS", False, parse_bool, "Use STARTTLS."),
    Setting("MAIL_USE_SSL", "MAIL_USE_SSL", False, parse_bool, "Use implicit TLS."),
    Setting("MAIL_USERNAME", "MAIL_USERNAME", None, str, "SMTP user name, if the relay needs one."),
    Setting("MAIL_PASSWORD", "MAIL_PASSWORD", None, str, "SMTP password."),
    Setting("MAIL_DEFAULT_SENDER", "MAIL_DEFAULT_SENDER", "status@localhost", str,
            "From address of every email."),
    Setting("MAIL_REPLY_TO", "MAIL_REPLY_TO", None, str,
            "Reply-To address of subscriber emails (e.g. your support desk); none if unset."),
    Setting("MAIL_RETRY_LIMIT", "MAIL_RETRY_LIMIT", 3, parse_int,
            "Attempts before an email the server rejects permanently (5xx) is marked failed "
            "and its address quarantined. Temporary failures (4xx, no connection) retry with "
            "back-off for up to two days."),
    Setting("MAIL_BATCH_SIZE", "MAIL_BATCH_SIZE", 100, parse_int,
            "Emails one SMTP connection claims at a time and marks sent in one statement; a "
            "worker killed mid-batch may repeat up to this many per connection."),
    Setting("MAIL_CONNECTIONS", "MAIL_CONNECTIONS", 4, parse_int,
            "SMTP connections each worker sends over at once, each with batches of its own."),
    Setting("MAIL_TIMEOUT_SECONDS", "MAIL_TIMEOUT_SECONDS", 20, parse_int,
            "Longest wait for the relay: connecting, each SMTP command, and one whole message. "
            "A relay that stays silent longer ends the batch; what was not sent is retried."),
    Setting("MAIL_LEASE_SECONDS", "MAIL_LEASE_SECONDS", 45, parse_int,
            "Seconds a worker owns the emails it claimed, renewed every third of it while the "
            "batch runs; the unsent emails of a worker that died are taken over after this. "
            "At least twice MAIL_TIMEOUT_SECONDS."),
    Setting("MAIL_RETRY_BACKOFF_SECONDS", "MAIL_RETRY_BACKOFF_SECONDS", 30, parse_int,
            "Wait before the first retry of an email that failed for a temporary reason; it "
            "doubles with each attempt, up to an hour."),
    Setting("MAIL_DKIM_KEY_FILE", "MAIL_DKIM_KEY_FILE", None, str,
            "PEM file of the RSA private key that DKIM-signs every email (with "
            "MAIL_DKIM_SELECTOR); unset: no DKIM signature (or let the relay sign)."),
    Setting("MAIL_DKIM_SELECTOR", "MAIL_DKIM_SELECTOR", None, str,
            "DKIM selector: the public key is published at SELECTOR._domainkey.DOMAIN."),
    Setting("MAIL_DKIM_DOMAIN", "MAIL_DKIM_DOMAIN", None, str,
            "DKIM signing domain (`d=`); the domain of MAIL_DEFAULT_SENDER if unset."),
    Setting("WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_TIMEOUT_SECONDS", 30, parse_int,
            "Seconds a webhook, Slack or Teams endpoint has to answer a POST (connecting, "
            "sending and the answer's head); no 2xx within it is a failure, retried with "
            "back-off. Less than MAIL_LEASE_SECONDS."),
    Setting("WEBHOOK_CONNECTIONS", "WEBHOOK_CONNECTIONS", 2, parse_int,
            "HTTP delivery loops per worker, each posting one request at a time."),
    Setting("WEBHOOK_BATCH_SIZE", "WEBHOOK_BATCH_SIZE", 20, parse_int,
            "HTTP deliveries claimed at once by one loop."),
    Setting("WEBHOOK_DISABLE_AFTER_FAILURES", "WEBHOOK_DISABLE_AFTER_FAILURES", 10, parse_int,
            "Failed requests in a row after which an endpoint is disabled and its contact "
            "emailed."),
    Setting("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False,
            parse_bool,
            "Allow endpoints on loopback, private, link-local and reserved addresses "
            "(tests, closed networks). Off: such endpoints are refused when given and at "
            "every send."),
    Setting("MAINTENANCE_REMINDER_MINUTES", "MAINTENANCE_REMINDER_MINUTES", 60, parse_int,
            "How long before a scheduled maintenance starts its reminder is emailed."),
    Setting("CONFIRM_TOKEN_MAX_AGE_DAYS", "CONFIRM_TOKEN_MAX_AGE_DAYS", 7, parse_int,
            "Days a subscription confirmation link stays valid; unconfirmed addresses are "
            "deleted after the same time."),
    Setting("SCHEDULER_IN_PROCESS", "SCHEDULER_IN_PROCESS", False, parse_bool,
            "Run the scheduler inside the web process (development); production runs "
            "`flask --app wsgi worker`."),
    Setting("DEV_MAIL_CATCHER", "DEV_MAIL_CATCHER", False, parse_bool,
            "Start a local SMTP catcher on MAIL_SERVER:MAIL_PORT and show caught mail in the "
            "admin (development only)."),
    Setting("PAGE_CACHE_SECONDS", "PAGE_CACHE_SECONDS", 10, parse_int,
            "`Cache-Control: max-age` of public pages and feeds."),
    Setting("PAGE_STALE_WHILE_REVALIDATE_SECONDS", "PAGE_STALE_WHILE_REVALIDATE_SECONDS", 30,
            parse_int, "`stale-while-revalidate` of public pages and feeds: how long a shared "
            "cache may answer with an expired copy while it fetches the new one."),
    Setting("PAGE_STALE_IF_ERROR_SECONDS", "PAGE_STALE_IF_ERROR_SECONDS", 86400, parse_int,
            "`stale-if-error` of public pages and feeds: how long a shared cache may answer "
            "with an expired copy while this site answers errors."),
    Setting("PAGE_VERSION_CHECK_MS", "PAGE_VERSION_CHECK_MS", 500, parse_int,
            "How often each web process reads the page version, in milliseconds (at most "
            "1000). Cached pages answer without touching the database, and a process learns "
            "of a change within this time; it serves the previous page until the new one is "
            "built. 0 reads the version on every request and builds there (tests)."),
    Setting("HISTORY_PAGE_SIZE", "HISTORY_PAGE_SIZE", 3, parse_int,
            "Months of incidents shown per page of /history."),
    Setting("API_RATE_LIMIT_PER_MINUTE", "API_RATE_LIMIT_PER_MINUTE", 300, parse_int,
            "Management API requests each key may make in any minute (a moving window, kept "
            "where `RATE_LIMIT_STORAGE_URL` says); beyond it the API answers 429 with "
            "`Retry-After`. 0 turns the limit off."),
    Setting("SUBSCRIBE_PER_CLIENT_PER_HOUR", "SUBSCRIBE_PER_CLIENT_PER_HOUR", 10, parse_int,
            "Subscribe requests one client address may send in any hour; beyond it the form "
            "answers 429. 0 turns the limit off."),
    Setting("SUBSCRIBE_PER_HOUR", "SUBSCRIBE_PER_HOUR", 600, parse_int,
            "Subscriptions the whole page accepts in any hour (each sends an email to an "
            "address nobody has confirmed yet). 0 turns the limit off."),
    Setting("SUBSCRIBE_CHALLENGE", "SUBSCRIBE_CHALLENGE", True, parse_bool,
            "Ask every public form that subscribes (by email, webhook, Slack or Teams, or to "
            "one incident) for a proof of work that the visitor's browser solves in a moment "
            "(ALTCHA's protocol, served from this site: no third party, no cookie). Without "
            "JavaScript these forms cannot be sent while it is on."),
    Setting("SUBSCRIBE_CHALLENGE_MAX_NUMBER", "SUBSCRIBE_CHALLENGE_MAX_NUMBER", 100000,
            parse_int,
            "How hard the proof of work is: the browser tries on average half this many "
            "SHA-256 hashes."),
    Setting("RATE_LIMIT_STORAGE_URL", "RATELIMIT_STORAGE_URI", "memory://",
            parse_rate_limit_storage,
            "Where rate limits are counted: `memory://` counts in each web process (with N "
            "gunicorn workers a key gets N times its limit); `redis://host:port/db` shares the "
            "counts between all processes and hosts."),
)


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings read from ``environ`` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            values[setting.key] = setting.default
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}: {exc}") from None
    return values


def init_app(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Settings from the environment, the fixed ones, then ``overrides`` (tests pass a plain
    mapping); refuses an unusable combination before anything is served."""
    app.config.from_mapping(from_env())
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        WTF_CSRF_TIME_LIMIT=None,  # the session bounds a form's life; no surprise expiries
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if overrides:
        app.config.from_mapping(overrides)
    secure = app.config["SECURE_COOKIES"] or app.config["BASE_URL"].startswith("https://")
    app.config.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure)
    if not app.config.get("SECRET_KEY") and (app.debug or app.testing):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    check(app.config)


GENERATE_KEY = "`python -c 'import secrets; print(secrets.token_hex(32))'`"


def weak_key_reason(key: str | bytes) -> str | None:
    """Why ``key`` is unfit to sign anything in production, or None when it is fit."""
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    if len(text) < SECRET_KEY_MIN:
        return f"is too short ({len(text)} characters; at least {SECRET_KEY_MIN} are needed)"
    if text.strip().lower() in WELL_KNOWN_KEYS or len(set(text)) < SECRET_KEY_MIN_DISTINCT:
        return "is a well-known value, not a random one"
    return None


def check(config: Mapping[str, Any]) -> None:
    """Refuse combinations that cannot work, before anything is served."""
    developing = config.get("DEBUG") or config.get("TESTING")
    if not config.get("SECRET_KEY") and not developing:
        raise ConfigError(f"SECRET_KEY is not set. Set it to a long random value, e.g. "
                          f"{GENERATE_KEY}.")
    if not developing:
        reason = weak_key_reason(config["SECRET_KEY"])
        if reason:
            raise ConfigError(f"SECRET_KEY {reason}. Anyone who guesses it can sign in as "
                              f"any user. Set a long random value, e.g. {GENERATE_KEY}.")
        for old in config.get("SECRET_KEY_FALLBACKS") or ():
            reason = weak_key_reason(old)
            if reason:
                raise ConfigError(f"SECRET_KEY_FALLBACKS: an old key {reason}; links signed "
                                  "with it could be forged. Drop it from the list.")
    if (config.get("PAGE_VERSION_CHECK_MS") or 0) > MAX_VERSION_CHECK_MS:
        raise ConfigError(f"PAGE_VERSION_CHECK_MS: at most {MAX_VERSION_CHECK_MS}, so that a "
                          "page is never more than a second behind a change.")
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise ConfigError("MAIL_USE_TLS and MAIL_USE_SSL cannot both be true.")
    for key in ("MAIL_BATCH_SIZE", "MAIL_CONNECTIONS", "MAIL_TIMEOUT_SECONDS"):
        if key in config and int(config[key]) < 1:
            raise ConfigError(f"{key} must be at least 1.")
    timeout, lease = config.get("MAIL_TIMEOUT_SECONDS"), config.get("MAIL_LEASE_SECONDS")
    if timeout is not None and lease is not None and lease < 2 * timeout:
        # A send may block for the timeout; the lease must outlast it with a renewal to spare.
        raise ConfigError(f"MAIL_LEASE_SECONDS ({lease}) must be at least twice "
                          f"MAIL_TIMEOUT_SECONDS ({timeout}).")
    for key in ("WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_CONNECTIONS", "WEBHOOK_BATCH_SIZE",
                "WEBHOOK_DISABLE_AFTER_FAILURES"):
        if key in config and int(config[key]) < 1:
            raise ConfigError(f"{key} must be at least 1.")
    posting = config.get("WEBHOOK_TIMEOUT_SECONDS")
    if posting is not None and lease is not None and lease <= posting:
        raise ConfigError(f"MAIL_LEASE_SECONDS ({lease}) must be more than "
                          f"WEBHOOK_TIMEOUT_SECONDS ({posting}).")
    if bool(config.get("MAIL_DKIM_KEY_FILE")) != bool(config.get("MAIL_DKIM_SELECTOR")):
        raise ConfigError("MAIL_DKIM_KEY_FILE and MAIL_DKIM_SELECTOR are set together or not "
                          "at all.")
    key_file = config.get("MAIL_DKIM_KEY_FILE")
    if key_file and not os.path.isfile(key_file):
        raise ConfigError(f"MAIL_DKIM_KEY_FILE: no such file {key_file!r}.")
