"""Ops console, admins only: page settings, staff, API keys and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, make_response, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ... import site, staff, two_factor
from ...validation import DomainError
from ..forms import ActiveForm, ApiKeyForm, PageSettingsForm, RoleForm, UserForm
from . import (
    ERROR,
    FIX_FIELDS,
    Page,
    actor,
    admin_required,
    bp,
    confirmed,
    done,
    invalid,
    page_number,
    refused,
    report_refusal,
)

AUDIT_PER_PAGE = 50

# --- page settings, staff, audit log (admins only) ------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings() -> Page:
    """The page's name, address, time zone, links and colour."""
    form = PageSettingsForm(obj=site.get_page_settings())
    if not form.validate_on_submit():
        return invalid("admin/settings.html", form)
    try:
        site.update_page_settings(actor=actor(), **form.changes())
    except DomainError as exc:
        return refused("admin/settings.html", form, exc)
    return done("Page settings saved.", ".settings")


def _staff_page(form: UserForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("admin/staff.html", users=staff.all_users(),
                           form=form or UserForm(formdata=None),
                           two_factor_required=two_factor.two_factor_required()), status


@bp.get("/staff")
@admin_required
def staff_list() -> tuple[str, int]:
    """Every ops user, with a form to add one."""
    return _staff_page()


@bp.post("/staff")
@admin_required
def create_user() -> Page:
    """Add an ops user."""
    form = UserForm()
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _staff_page(form, 422)
    try:
        user = staff.create_user(form.email.data, form.password.data, role=form.role.data,
                                 actor=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _staff_page(form, exc.status_code)
    return done(f"Added {user.email} as {user.role}.", ".staff_list")


def _change_user(user_id: int, form: FlaskForm, changes: Callable[[], dict[str, Any]],
                 message: str) -> Page:
    user = staff.get_user(user_id)
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], ERROR)
        return _staff_page(status=422)
    try:
        staff.update_user(user, actor=actor(), **changes())
    except DomainError as exc:
        report_refusal(exc)
        return _staff_page(status=exc.status_code)
    return done(message.format(email=user.email, role=user.role), ".staff_list")


@bp.post("/staff/<int:user_id>/role")
@admin_required
def change_role(user_id: int) -> Page:
    """Make a user an admin or an editor."""
    form = RoleForm()
    return _change_user(user_id, form, lambda: {"role": form.role.data},
                        "{email} is now {role}.")


@bp.post("/staff/<int:user_id>/active")
@admin_required
def change_active(user_id: int) -> Page:
    """Deactivate a user (signed out at once) or let them back in."""
    form = ActiveForm()
    active = form.active.data == "1"
    return _change_user(user_id, form, lambda: {"active": active},
                        "{email} can sign in again." if active else "{email} is deactivated.")


@bp.route("/staff/<int:user_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_user(user_id: int) -> Page:
    """Ask, then delete a user."""
    user = staff.get_user(user_id)
    context = {
        "title": f"Delete {user.email}?",
        "question": "They can no longer sign in. The audit log keeps their address.",
        "action": url_for(".delete_user", user_id=user.id),
        "button": "Delete user", "cancel": url_for(".staff_list"),
    }
    return confirmed(context, lambda: staff.delete_user(user, actor=actor()),
                     f"Deleted {user.email}.", ".staff_list")


@bp.get("/audit")
@admin_required
def audit() -> str:
    """The audit log, newest first."""
    page_no = page_number()
    entries, more = staff.audit_log(page=page_no, per_page=AUDIT_PER_PAGE)
    return render_template("admin/audit.html", entries=entries, more=more, page_no=page_no)


# --- API keys -------------------------------------------------------------------------------------

def _api_keys_page(form: ApiKeyForm | None = None, status: int = 200,
                   new_key: tuple[staff.ApiKey, str] | None = None) -> Response:
    response = make_response(render_template(
        "admin/api_keys.html", keys=staff.all_api_keys(), new_key=new_key,
        form=form or ApiKeyForm(formdata=None)), status)
    # The page may show a key in plain text: keep it out of every cache and the history.
    response.cache_control.no_store = True
    return response


@bp.get("/api-keys")
@admin_required
def api_keys() -> Response:
    """Every API key with its prefix, scope, last use and creator, and a form for a new one."""
    return _api_keys_page()


@bp.post("/api-keys")
@admin_required
def create_api_key() -> Response:
    """Create a key and show it this once (rendered, never flashed into the session)."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _api_keys_page(form, 422)
    try:
        new_key = staff.create_api_key(form.name.data, scope=form.scope.data,
                                       subscribers=form.subscribers.data, actor=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _api_keys_page(form, exc.status_code)
    return _api_keys_page(new_key=new_key, status=201)


@bp.route("/api-keys/<int:key_id>/revoke", methods=["GET", "POST"])
@admin_required
def revoke_api_key(key_id: int) -> Page:
    """Ask, then revoke a key; it stops working at once."""
    key = staff.get_api_key(key_id)
    context = {
        "title": f"Revoke API key “{key.name}”?",
        "question": "Scripts using it get 401 from now on. This cannot be undone.",
        "action": url_for(".revoke_api_key", key_id=key.id),
        "button": "Revoke key", "cancel": url_for(".api_keys"),
    }
    return confirmed(context, lambda: staff.revoke_api_key(key, actor=actor()),
                     f"API key “{key.name}” revoked.", ".api_keys")


