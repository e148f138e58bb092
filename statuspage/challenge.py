"""A proof of work for the public forms that subscribe (views.public_forms.ChallengeForm), in
ALTCHA's protocol, served and checked here.

The page carries a challenge: a salt, the SHA-256 of the salt and a secret number, and our
HMAC of that hash. The visitor's browser (static/challenge.js) finds the number by trying;
the form sends it back, and we check the HMAC, the hash and the expiry. Each solution is good
for one submission: its signature is marked used in the rate limiter's storage (shared by
every process when that is Redis). No third-party service, no cookie, nothing about the
visitor is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from altcha import ChallengeOptionsV1, create_challenge_v1, extract_params_v1, verify_solution_v1
from flask import current_app
from limits import RateLimitItemPerMinute

from .dbtypes import utcnow
from .extensions import limiter

EXPIRES = timedelta(minutes=10)
ALGORITHM = "SHA-256"
_USED = RateLimitItemPerMinute(1, int(EXPIRES.total_seconds() // 60) + 1)
log = logging.getLogger(__name__)


def _key() -> str:
    # A key of its own, derived from SECRET_KEY, so a challenge can sign nothing else.
    return hmac.new(str(current_app.secret_key).encode(), b"statuspage.challenge",
                    hashlib.sha256).hexdigest()


def new_challenge(*, now: datetime | None = None) -> dict[str, Any]:
    """A fresh challenge for one form, as the page hands it to the browser."""
    challenge = create_challenge_v1(ChallengeOptionsV1(
        algorithm=ALGORITHM, hmac_key=_key(),
        max_number=current_app.config["SUBSCRIBE_CHALLENGE_MAX_NUMBER"],
        expires=(now or utcnow()) + EXPIRES))
    return {"algorithm": challenge.algorithm, "challenge": challenge.challenge,
            "maxnumber": challenge.max_number, "salt": challenge.salt,
            "signature": challenge.signature}


def verify(payload: str | None, *, now: datetime | None = None) -> bool:
    """Whether ``payload`` (what the browser sent) solves a challenge of ours, still fresh,
    and not used before; using it marks it used."""
    try:
        data = json.loads(base64.b64decode(payload or "", validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        return False
    if not (isinstance(data, dict) and isinstance(data.get("salt"), str)
            and isinstance(data.get("signature"), str)):
        return False
    ok, _reason = verify_solution_v1(data, _key(), check_expires=False)  # type: ignore[arg-type]
    try:
        expires = int(extract_params_v1(data)["expires"][0])  # type: ignore[arg-type]
    except (KeyError, IndexError, ValueError):
        return False
    return ok and expires >= (now or utcnow()).timestamp() and _first_use(data["signature"])


def _first_use(signature: str) -> bool:
    try:
        return bool(limiter.limiter.hit(_USED, "challenge-used", signature))
    except Exception:  # the shared storage is down: a solved challenge still counts
        log.warning("Rate limit storage unreachable; a challenge was not marked used.")
        return True
