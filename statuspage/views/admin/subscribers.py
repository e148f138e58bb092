"""Ops console: subscribers, their deliveries and reach, and the development mail catcher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ... import audience, devmail, subscriber_csv, subscriber_lists
from ... import incidents as inc
from ... import notifications as notify
from ... import subscriptions as subs
from ...dbtypes import utcnow
from ...validation import DomainError
from ..forms import SubscriberImportForm
from ..http import json_error
from . import (
    INFO,
    SUCCESS,
    Page,
    actor,
    admin_required,
    bp,
    detail_endpoint,
    done,
    invalid,
    page_number,
    report_refusal,
    safe_next,
)

SUBSCRIBERS_PER_PAGE = 50


def _subscriber_action(subscriber_id: int, operation: Callable[..., Any],
                       message: str) -> Response:
    subscriber = subs.get_subscriber(subscriber_id)
    email = subscriber.target
    try:
        operation(subscriber, actor=actor())
    except DomainError as exc:
        report_refusal(exc)
    else:
        flash(message.format(email=email), SUCCESS)
    return redirect(safe_next(request.form.get("next"), url_for(".subscribers")))


@bp.get("/subscribers")
@admin_required
def subscribers() -> str:
    """Counts, search by address, and each subscriber's choice (addresses: admins only)."""
    query = request.args.get("q", "").strip()[:254]
    page_no = page_number()
    found = subscriber_lists.list_subscribers(
        query, limit=SUBSCRIBERS_PER_PAGE + 1, offset=(page_no - 1) * SUBSCRIBERS_PER_PAGE,
        actor=actor())
    return render_template(
        "admin/subscribers.html", counts=subscriber_lists.subscriber_counts(), query=query,
        subscribers=found[:SUBSCRIBERS_PER_PAGE], more=len(found) > SUBSCRIBERS_PER_PAGE,
        page_no=page_no, import_form=SubscriberImportForm(formdata=None))


@bp.post("/subscribers/<int:subscriber_id>/resend")
@admin_required
def resend_confirmation(subscriber_id: int) -> Response:
    """Email the subscriber a fresh confirmation (or manage) link now."""
    return _subscriber_action(subscriber_id, subs.resend_confirmation,
                              "A new link is on its way to {email}.")


@bp.post("/subscribers/<int:subscriber_id>/unquarantine")
@admin_required
def clear_quarantine(subscriber_id: int) -> Response:
    """Let a quarantined address receive email again."""
    return _subscriber_action(subscriber_id, subs.clear_quarantine,
                              "{email} receives email again.")


@bp.route("/subscribers/<int:subscriber_id>/delete", methods=["GET", "POST"])
@admin_required
def remove_subscriber(subscriber_id: int) -> Page:
    """Ask, then remove a subscriber; their queued emails are cancelled."""
    subscriber = subs.get_subscriber(subscriber_id)
    if request.method == "GET":
        return render_template(
            "admin/confirm.html", title=f"Remove {subscriber.email}?",
            question="They get no more email from this page, and their links stop working. "
                     "They can subscribe again.",
            action=url_for(".remove_subscriber", subscriber_id=subscriber.id),
            button="Remove subscriber", cancel=url_for(".subscribers"))
    return _subscriber_action(subscriber_id, subs.unsubscribe, "Removed {email}.")


@bp.get("/subscribers/export.csv")
@admin_required
def export_subscribers() -> Response:
    """Every subscriber as a CSV download (audited: it is personal data)."""
    filename = f"subscribers-{utcnow():%Y-%m-%d}.csv"
    return Response(subscriber_csv.export_csv(actor=actor()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@bp.route("/subscribers/import", methods=["GET", "POST"])
@admin_required
def import_subscribers() -> Page:
    """Add the addresses of a CSV file; confirmed only when ops tick that they consented."""
    form = SubscriberImportForm()
    if not form.validate_on_submit():
        return invalid("admin/subscribers_import.html", form, result=None)
    text = form.csv_text()
    if text is None:
        return render_template("admin/subscribers_import.html", form=form, result=None), 422
    try:
        result = subscriber_csv.import_subscribers(text, confirmed=form.confirmed.data,
                                                   actor=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return render_template("admin/subscribers_import.html", form=form, result=None), 422
    what = "confirmed subscribers" if form.confirmed.data else "addresses to confirm by email"
    flash(f"Imported {len(result.added)} {what}.", SUCCESS if result.added else INFO)
    return render_template("admin/subscribers_import.html",
                           form=SubscriberImportForm(formdata=None), result=result,
                           confirmed=form.confirmed.data)


@bp.get("/reach")
def reach() -> Response | tuple[Response, int]:
    """How many subscribers an update about these components would reach, in all and per
    channel (JSON)."""
    try:
        counts = audience.reach_by_channel(request.args.getlist("component"))
    except DomainError as exc:
        return json_error(exc.status_code, "Unprocessable Entity", exc.message, exc.field)
    return jsonify(reach=sum(counts.values()), channels={str(c): n for c, n in counts.items()})


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/retry")
def retry_update_deliveries(incident_id: int, update_id: int) -> Response:
    """Queue an update's failed emails again."""
    incident = inc.get_incident(incident_id)
    update = inc.get_update(incident, update_id)
    count = notify.retry_failed(update_id=update.id, actor=actor())
    return done(f"{count} failed email{'' if count == 1 else 's'} queued again.",
                detail_endpoint(incident), incident_id=incident.id)


@bp.get("/deliveries/failed")
@admin_required
def failed_deliveries() -> str:
    """Emails that gave up, with the relay's last answer."""
    return render_template("admin/subscribers_failed.html",
                           deliveries=notify.failed_deliveries())


@bp.post("/deliveries/retry")
@admin_required
def retry_all_deliveries() -> Response:
    """Queue every failed email again."""
    count = notify.retry_failed(actor=actor())
    return done(f"{count} failed email{'' if count == 1 else 's'} queued again.",
                ".failed_deliveries")


def _mail_directory() -> Path:
    # The caught mail exists only while developing with the catcher on.
    if not current_app.config.get("DEV_MAIL_CATCHER"):
        abort(404)
    return devmail.mail_directory(current_app)


@bp.get("/mail")
@admin_required
def mail() -> str:
    """The emails the development catcher received, newest first."""
    return render_template("admin/mail.html",
                           messages=devmail.caught_messages(_mail_directory()))


def _caught(message_id: str) -> devmail.CaughtMessage:
    message = devmail.caught_message(_mail_directory(), message_id)
    if message is None:
        abort(404)
    return message


@bp.get("/mail/<message_id>")
@admin_required
def mail_message(message_id: str) -> str:
    """One caught email, its HTML shown sandboxed, with its links to follow."""
    return render_template("admin/mail_message.html", message=_caught(message_id))


@bp.get("/mail/<message_id>/html")
@admin_required
def mail_message_html(message_id: str) -> Response:
    """The email's HTML part as its own document, for the viewer's sandboxed frame (under a
    policy of its own, see views.init_app); its links open outside the frame."""
    html = _caught(message_id).html
    if not html:
        abort(404)
    return Response('<base target="_blank">' + html, content_type="text/html; charset=utf-8")


