"""Ops console: incidents and scheduled maintenance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, render_template, request, url_for

from ... import audience, history, postmortems
from ... import components as comp
from ... import incident_templates as templates_room
from ... import incidents as inc
from ... import maintenance as maint
from ... import notifications as notify
from ...incidents import Incident
from ...validation import DomainError
from ...vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    UPCOMING_MAINTENANCE_STATUSES,
    IncidentKind,
    IncidentStatus,
)
from ..forms import (
    IncidentEditForm,
    MaintenanceEditForm,
    MaintenanceForm,
    MaintenanceUpdateForm,
    NotifyForm,
    PostmortemForm,
    ResolveForm,
    UpdateTextForm,
    incident_update_form,
    new_incident_form,
)
from . import (
    ERROR,
    FIX_FIELDS,
    PER_PAGE,
    Page,
    actor,
    bp,
    components_in_page_order,
    confirmed,
    detail_endpoint,
    done,
    invalid,
    page_number,
    refused,
    report_refusal,
)
from .templates import chosen_template, template_defaults

# --- incidents -----------------------------------------------------------------------------------

def _incident(incident_id: int) -> Incident:
    return inc.get_incident(incident_id, IncidentKind.INCIDENT)


def _incident_page(incident: Incident, *, update_form: Any = None,
                   postmortem_form: PostmortemForm | None = None) -> str:
    """The incident's console page; forms not being re-shown start fresh."""
    ordered = components_in_page_order()
    if update_form is None:
        default = incident.status if incident.is_open else IncidentStatus.RESOLVED.value
        update_form = incident_update_form(ordered, formdata=None, data={
            "status": default, **template_defaults(chosen_template(request.args.get("template")))})
    if postmortem_form is None:
        postmortem_form = PostmortemForm(formdata=None, postmortem=incident.postmortem_body)
    # The update announces the incident's components plus those it changes.
    announced = [c.id for c in incident.components]
    return render_template("admin/incident.html", incident=incident, form=update_form,
                           postmortem_form=postmortem_form, tree=comp.component_tree(),
                           notify_form=ResolveForm(formdata=None), announced=announced,
                           templates=templates_room.templates(),
                           reach=audience.reach_by_channel(
                               [*announced, *update_form.component_changes()],
                               impact=incident.impact, incident_id=incident.id),
                           deliveries=notify.delivery_counts(u.id for u in incident.updates))


@bp.get("/incidents")
def incidents() -> str:
    """Open incidents first, then the finished ones, newest first, a page at a time."""
    page_no = page_number()
    past, more = history.past(IncidentKind.INCIDENT, page=page_no, per_page=PER_PAGE)
    return render_template("admin/incidents.html", page_no=page_no, more=more, past=past,
                           open_incidents=inc.open_incidents() if page_no == 1 else [])


@bp.route("/incidents/new", methods=["GET", "POST"])
def new_incident() -> Page:
    """Open an incident with its first update."""
    form = new_incident_form(components_in_page_order(), data=template_defaults(
        chosen_template(request.args.get("template"))))
    context = {"tree": comp.component_tree(), "announced": [],
               "templates": templates_room.templates(),
               "reach": audience.reach_by_channel(form.component_changes())}
    if not form.validate_on_submit():
        return invalid("admin/incident_new.html", form, **context)
    try:
        incident = inc.open_incident(**form.opening(), author=actor())
    except DomainError as exc:
        return refused("admin/incident_new.html", form, exc, **context)
    return done(f"Incident “{incident.name}” opened.", ".incident", incident_id=incident.id)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> str:
    """An incident's timeline, with forms to update, resolve, edit and write the postmortem."""
    return _incident_page(_incident(incident_id))


@bp.post("/incidents/<int:incident_id>/updates")
def post_incident_update(incident_id: int) -> Page:
    """Post an update: status, message, component changes, whether to notify."""
    incident = _incident(incident_id)
    form = incident_update_form(components_in_page_order())
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _incident_page(incident, update_form=form), 422
    try:
        inc.post_update(incident, **form.update(), author=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _incident_page(incident, update_form=form), exc.status_code
    return done(f"Update posted: {incident.status_label}.", ".incident",
                incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/resolve")
def resolve_incident(incident_id: int) -> Page:
    """Resolve an incident; its components return to operational."""
    incident = _incident(incident_id)
    form = ResolveForm()  # a checkbox and a free text cannot be invalid; CSRF was checked
    try:
        inc.resolve_incident(incident, body=form.body.data or None, author=actor(),
                             deliver_notifications=form.deliver_notifications.data)
    except DomainError as exc:
        report_refusal(exc)
        return _incident_page(incident), exc.status_code
    return done(f"Incident “{incident.name}” resolved.", ".incident", incident_id=incident.id)


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
def edit_incident(incident_id: int) -> Page:
    """Rename an incident or override its impact."""
    incident = _incident(incident_id)
    form = IncidentEditForm(obj=incident)
    if not form.validate_on_submit():
        return invalid("admin/incident_edit.html", form, incident=incident)
    try:
        inc.change_incident(incident, edits=form.changes(), author=actor())
    except DomainError as exc:
        return refused("admin/incident_edit.html", form, exc, incident=incident)
    return done("Incident saved.", ".incident", incident_id=incident.id)


@bp.route("/incidents/<int:incident_id>/updates/<int:update_id>/edit",
          methods=["GET", "POST"])
def edit_update(incident_id: int, update_id: int) -> Page:
    """Correct the text of a posted update (incident or maintenance)."""
    incident = inc.get_incident(incident_id)
    update = inc.get_update(incident, update_id)
    form = UpdateTextForm(obj=update)
    back = detail_endpoint(incident)
    context = {"incident": incident, "update": update, "back": back}
    if not form.validate_on_submit():
        return invalid("admin/update_edit.html", form, **context)
    try:
        inc.edit_update(update, body=form.body.data, actor=actor())
    except DomainError as exc:
        return refused("admin/update_edit.html", form, exc, **context)
    return done("Update text saved.", back, incident_id=incident.id)


@bp.route("/incidents/<int:incident_id>/delete", methods=["GET", "POST"])
def delete_incident(incident_id: int) -> Page:
    """Ask, then delete an incident and its updates."""
    incident = _incident(incident_id)
    context = {
        "title": f"Delete incident “{incident.name}”?",
        "question": "It disappears from the status page and its history, with every update. "
                    "Component statuses stay as they are.",
        "action": url_for(".delete_incident", incident_id=incident.id),
        "button": "Delete incident",
        "cancel": url_for(".incident", incident_id=incident.id),
    }
    return confirmed(context, lambda: inc.delete_incident(incident, actor=actor()),
                     f"Incident “{incident.name}” deleted.", ".incidents")


@bp.post("/incidents/<int:incident_id>/postmortem")
def save_postmortem(incident_id: int) -> Page:
    """Save the postmortem draft."""
    incident = _incident(incident_id)
    form = PostmortemForm()
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _incident_page(incident, postmortem_form=form), 422
    try:
        postmortems.save_postmortem(incident, form.postmortem.data, actor=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _incident_page(incident, postmortem_form=form), exc.status_code
    return done("Postmortem draft saved.", ".incident", incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/postmortem/publish")
def publish_postmortem(incident_id: int) -> Page:
    """Publish the saved postmortem."""
    incident = _incident(incident_id)
    try:
        postmortems.publish_postmortem(incident, notify=request.form.get("notify") == "y",
                                       actor=actor())
    except DomainError as exc:
        report_refusal(exc)
        return _incident_page(incident), exc.status_code
    return done("Postmortem published.", ".incident", incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/postmortem/revert")
def revert_postmortem(incident_id: int) -> Page:
    """Take the published postmortem back to draft."""
    incident = _incident(incident_id)
    postmortems.revert_postmortem(incident, actor=actor())
    return done("Postmortem taken back to draft.", ".incident", incident_id=incident.id)


# --- maintenance ---------------------------------------------------------------------------------

def _maintenance(maintenance_id: int) -> Incident:
    return inc.get_incident(maintenance_id, IncidentKind.MAINTENANCE)


def _maintenance_page(maintenance: Incident, *, update_form: Any = None) -> str:
    if update_form is None:
        default = maintenance.status
        update_form = MaintenanceUpdateForm(formdata=None, status=default)
    return render_template("admin/maintenance.html", incident=maintenance, form=update_form,
                           notify_form=ResolveForm(formdata=None),
                           reminder_lead=maint.reminder_lead(maintenance),
                           deliveries=notify.delivery_counts(u.id for u in maintenance.updates))


@bp.get("/maintenance")
def maintenance_list() -> str:
    """Active and upcoming maintenance, then the finished ones, a page at a time."""
    page_no = page_number()
    past, more = history.past(IncidentKind.MAINTENANCE, page=page_no, per_page=PER_PAGE)
    first = page_no == 1
    return render_template(
        "admin/maintenance_list.html", page_no=page_no, more=more, past=past,
        active=maint.windows(ACTIVE_MAINTENANCE_STATUSES) if first else [],
        upcoming=maint.windows(UPCOMING_MAINTENANCE_STATUSES) if first else [])


@bp.route("/maintenance/new", methods=["GET", "POST"])
def new_maintenance() -> Page:
    """Schedule a maintenance window."""
    form = MaintenanceForm()
    form.set_components(components_in_page_order())
    if not form.validate_on_submit():
        return invalid("admin/maintenance_form.html", form, maintenance=None)
    try:
        maintenance = maint.schedule_maintenance(
            **form.changes(), body=form.body.data,
            deliver_notifications=form.deliver_notifications.data, author=actor())
    except DomainError as exc:
        return refused("admin/maintenance_form.html", form, exc, maintenance=None)
    return done(f"Maintenance “{maintenance.name}” scheduled.", ".maintenance",
                incident_id=maintenance.id)


@bp.get("/maintenance/<int:incident_id>")
def maintenance(incident_id: int) -> str:
    """A maintenance's window, timeline and controls."""
    return _maintenance_page(_maintenance(incident_id))


@bp.route("/maintenance/<int:incident_id>/edit", methods=["GET", "POST"])
def edit_maintenance(incident_id: int) -> Page:
    """Change a maintenance's name, window, components or automation."""
    maintenance = _maintenance(incident_id)
    form = MaintenanceEditForm(obj=maintenance,
                               component_ids=[c.id for c in maintenance.components])
    form.set_components(components_in_page_order())
    if not form.validate_on_submit():
        return invalid("admin/maintenance_form.html", form, maintenance=maintenance)
    try:
        maint.change_maintenance(maintenance, edits=form.changes(), author=actor())
    except DomainError as exc:
        return refused("admin/maintenance_form.html", form, exc, maintenance=maintenance)
    return done("Maintenance saved.", ".maintenance", incident_id=maintenance.id)


@bp.post("/maintenance/<int:incident_id>/updates")
def post_maintenance_update(incident_id: int) -> Page:
    """Post an update to a maintenance."""
    maintenance = _maintenance(incident_id)
    form = MaintenanceUpdateForm()
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _maintenance_page(maintenance, update_form=form), 422
    try:
        inc.post_update(maintenance, **form.update(), author=actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _maintenance_page(maintenance, update_form=form), exc.status_code
    return done(f"Update posted: {maintenance.status_label}.", ".maintenance",
                incident_id=maintenance.id)


def _maintenance_step(incident_id: int, operation: Callable[..., Any],
                      message: str, *, with_body: bool = False) -> Page:
    maintenance = _maintenance(incident_id)
    form = ResolveForm()  # a checkbox and a free text cannot be invalid; CSRF was checked
    closing = {"body": form.body.data or None} if with_body else {}
    try:
        operation(maintenance, author=actor(),
                  deliver_notifications=form.deliver_notifications.data, **closing)
    except DomainError as exc:
        report_refusal(exc)
        return _maintenance_page(maintenance), exc.status_code
    return done(message, ".maintenance", incident_id=maintenance.id)


@bp.post("/maintenance/<int:incident_id>/start")
def start_maintenance(incident_id: int) -> Page:
    """Start a scheduled maintenance now."""
    return _maintenance_step(incident_id, maint.start_maintenance, "Maintenance started.")


@bp.post("/maintenance/<int:incident_id>/complete")
def complete_maintenance(incident_id: int) -> Page:
    """Complete a maintenance now."""
    return _maintenance_step(incident_id, inc.resolve_incident, "Maintenance completed.",
                             with_body=True)


@bp.route("/maintenance/<int:incident_id>/cancel", methods=["GET", "POST"])
def cancel_maintenance(incident_id: int) -> Page:
    """Ask, then cancel a maintenance."""
    maintenance = _maintenance(incident_id)
    if request.method == "GET":
        return render_template(
            "admin/confirm.html", title=f"Cancel maintenance “{maintenance.name}”?",
            question="Subscribers see it as cancelled; its components return to operational.",
            action=url_for(".cancel_maintenance", incident_id=maintenance.id),
            button="Cancel maintenance", notify_form=NotifyForm(formdata=None),
            cancel=url_for(".maintenance", incident_id=maintenance.id))
    return _maintenance_step(incident_id, maint.cancel_maintenance, "Maintenance cancelled.")


