"""Ops console: the signed-in user's own sign-in security. The second step of signing in (a
code from an authenticator app, or a recovery code), setting two-factor sign-in up (a QR code
drawn here, recovery codes shown once), and what admins decide for everyone."""

from __future__ import annotations

import time

import pyotp
import segno
from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from ... import staff, two_factor
from ...extensions import limiter
from ...site import get_page_settings
from ...validation import DomainError
from ..forms import CodeForm, RequireTwoFactorForm
from . import (
    CLIENT_LIMITS,
    ERROR,
    PENDING_SECONDS,
    PENDING_SIGN_IN,
    SIGN_IN_FAILED,
    SUCCESS,
    Page,
    actor,
    admin_required,
    bp,
    done,
    report_refusal,
    safe_next,
    sign_in_failed,
)

# Six digits are a million guesses: a few a minute, fewer and fewer, per account.
CODE_LIMITS = "5/minute;10/15 minutes;20/hour;40/day"
TOO_MANY_CODES = "Too many wrong codes. Wait a while, then sign in again."


# --- the second step of signing in ---------------------------------------------------------------

def pending_account() -> str:
    """The account whose code is being entered (the limits count per account)."""
    return "account:" + str((session.get(PENDING_SIGN_IN) or {}).get("user", ""))


def _pending() -> tuple[staff.User | None, str]:
    pending = session.get(PENDING_SIGN_IN) or {}
    fresh = time.time() - float(pending.get("at", 0)) <= PENDING_SECONDS
    user = staff.session_user(str(pending.get("user", ""))) if fresh else None
    if user is None:
        session.pop(PENDING_SIGN_IN, None)
    return user, str(pending.get("next", ""))


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(CODE_LIMITS, key_func=pending_account, methods=["POST"], scope="sign-in-code",
               deduct_when=sign_in_failed, error_message=TOO_MANY_CODES)
@limiter.limit(CLIENT_LIMITS, methods=["POST"], scope="sign-in-code-client",
               deduct_when=sign_in_failed, error_message=TOO_MANY_CODES)
def login_code() -> Page:
    """The second sign-in step: the code the authenticator app shows, or a recovery code."""
    user, next_url = _pending()
    if user is None:
        return redirect(url_for(".login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("admin/login_code.html", form=form), 422 if form.is_submitted() \
            else 200
    if not two_factor.check_second_factor(user, form.code.data, source=request.remote_addr):
        request.environ[SIGN_IN_FAILED] = True
        form.code.errors = [two_factor.WRONG_CODE]
        return render_template("admin/login_code.html", form=form), 422
    session.pop(PENDING_SIGN_IN, None)
    login_user(staff.record_sign_in(user, source=request.remote_addr))
    flash(f"Signed in as {user.email}.", SUCCESS)
    return redirect(safe_next(next_url, url_for(".dashboard")))


# --- the user's own two-factor sign-in ---------------------------------------------------------

def _account_page(status: int = 200, form: CodeForm | None = None,
                  codes: list[str] | None = None) -> Response:
    user = current_user._get_current_object()
    qr = None
    if user.totp_secret and not user.two_factor_enabled:
        uri = pyotp.TOTP(user.totp_secret).provisioning_uri(
            name=user.email, issuer_name=f"{get_page_settings().name} status")
        qr = Markup(segno.make(uri, error="m").svg_inline(
            scale=4, dark="#000", light="#fff", svgclass="totp-qr", title="QR code to scan"))
    response = make_response(render_template(
        "admin/account.html", form=form or CodeForm(formdata=None), qr=qr, codes=codes,
        required=two_factor.two_factor_required(),
        codes_left=two_factor.recovery_codes_left(user)), status)
    response.cache_control.no_store = True  # it may show a secret or recovery codes
    return response


@bp.get("/account")
def account() -> Response:
    """The user's sign-in security: two-factor sign-in on or off, recovery codes left."""
    return _account_page()


@bp.post("/account/two-factor/start")
def start_two_factor() -> Response:
    """Make a new secret and show it as a QR code to scan (the CSRF check is app-wide)."""
    try:
        two_factor.begin_two_factor(current_user)
    except DomainError as exc:
        report_refusal(exc)
    return redirect(url_for(".account"))


@bp.post("/account/two-factor/confirm")
def confirm_two_factor() -> Response:
    """Turn two-factor sign-in on with a first code; show the recovery codes this once."""
    form = CodeForm()
    if not form.validate_on_submit():
        return _account_page(422, form)
    try:
        codes = two_factor.enable_two_factor(current_user, form.code.data)
    except DomainError as exc:
        report_refusal(exc, form)
        return _account_page(exc.status_code, form)
    login_user(current_user._get_current_object())  # this session, under the new generation
    flash("Two-factor sign-in is on. Keep the recovery codes below somewhere safe.", SUCCESS)
    return _account_page(codes=codes)


@bp.post("/account/recovery-codes")
def new_recovery_codes() -> Response:
    """Replace the recovery codes, for a current code; show the new ones this once."""
    form = CodeForm()
    try:
        codes = two_factor.new_recovery_codes(current_user, form.code.data or "")
    except DomainError as exc:
        report_refusal(exc, form)
        return _account_page(exc.status_code, form)
    flash("New recovery codes: the old ones no longer work.", SUCCESS)
    return _account_page(codes=codes)


@bp.post("/account/two-factor/disable")
def disable_two_factor() -> Page:
    """Turn two-factor sign-in off, for a current code (not while admins require it)."""
    form = CodeForm()
    try:
        two_factor.disable_two_factor(current_user, form.code.data or "")
    except DomainError as exc:
        report_refusal(exc, form)
        return _account_page(exc.status_code, form)
    login_user(current_user._get_current_object())
    return done("Two-factor sign-in is off.", ".account")


# --- what admins decide -------------------------------------------------------------------------

@bp.post("/staff/two-factor")
@admin_required
def require_two_factor() -> Page:
    """Require two-factor sign-in of every user, or make it optional again."""
    form = RequireTwoFactorForm()
    if not form.validate_on_submit():
        flash("The form was incomplete; nothing changed.", ERROR)
        return redirect(url_for(".staff_list"))
    required = form.required.data == "1"
    two_factor.set_two_factor_required(required, actor=actor())
    return done("Everyone now signs in with a second factor." if required else
                "Two-factor sign-in is now each user's choice.", ".staff_list")


@bp.post("/staff/<int:user_id>/two-factor/reset")
@admin_required
def reset_two_factor(user_id: int) -> Page:
    """Take a user's second factor away (a lost phone); their sessions end."""
    user = staff.get_user(user_id)
    two_factor.reset_two_factor(user, actor=actor())
    return done(f"{user.email} signs in with the password alone until they set up two-factor "
                "sign-in again.", ".staff_list")
