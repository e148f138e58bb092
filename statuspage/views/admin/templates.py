"""Ops console: incident templates, and the previews ops read before they post (the Markdown
as it will show, the email and how many it reaches, in each language)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from ... import audience, emails
from ... import components as comp
from ... import incident_templates as templates_room
from ...markup import render_markdown
from ...validation import DomainError
from ..forms import incident_template_form
from ..http import json_error
from . import Page, actor, bp, components_in_page_order, confirmed, done, invalid, refused


@bp.get("/templates")
def incident_templates() -> str:
    """The incident templates, by name."""
    return render_template("admin/templates.html", templates=templates_room.templates())


@bp.route("/templates/new", methods=["GET", "POST"])
def new_incident_template() -> Page:
    """Keep a name, status, message and component statuses to start incidents from."""
    form = incident_template_form(components_in_page_order())
    return _save(form, None)


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
def edit_incident_template(template_id: int) -> Page:
    """Change a template."""
    template = templates_room.get_template(template_id)
    form = incident_template_form(components_in_page_order(),
                                  data=template_defaults(template, name=template.name))
    return _save(form, template)


@bp.route("/templates/<int:template_id>/delete", methods=["GET", "POST"])
def delete_incident_template(template_id: int) -> Page:
    """Ask, then delete a template."""
    template = templates_room.get_template(template_id)
    context = {
        "title": f"Delete template “{template.name}”?",
        "question": "Incidents started from it stay as they are.",
        "action": url_for(".delete_incident_template", template_id=template.id),
        "button": "Delete template", "cancel": url_for(".incident_templates"),
    }
    return confirmed(context, lambda: templates_room.delete_template(template, actor=actor()),
                     f"Template “{template.name}” deleted.", ".incident_templates")


def _save(form: Any, template: templates_room.IncidentTemplate | None) -> Page:
    context = {"incident_template": template, "tree": comp.component_tree()}
    if not form.validate_on_submit():
        return invalid("admin/template_form.html", form, **context)
    try:
        saved = templates_room.save_template(template, **form.template(), actor=actor())
    except DomainError as exc:
        return refused("admin/template_form.html", form, exc, **context)
    return done(f"Template “{saved.name}” saved.", ".incident_templates")


def template_defaults(template: templates_room.IncidentTemplate | None, **extra: Any
                      ) -> dict[str, Any]:
    """The form data a template starts an incident or an update form with."""
    if template is None:
        return extra
    return {"name": template.title, "title": template.title, "status": template.status,
            "body": template.body, **{f"component-{key}": status
                                      for key, status in template.components.items()},
            **extra}


def chosen_template(raw: str | None) -> templates_room.IncidentTemplate | None:
    """The template ``?template=`` names, if it names one."""
    try:
        return templates_room.get_template(raw) if raw else None
    except DomainError:
        return None


# --- previews, before posting ---------------------------------------------------------------

@bp.post("/preview/markdown")
def preview_markdown() -> Response:
    """A message's Markdown as the page will show it (JSON)."""
    text = str((request.get_json(silent=True) or {}).get("text") or "")
    return jsonify(html=str(render_markdown(text)))


@bp.post("/preview/email")
def preview_email() -> Response | tuple[Response, int]:
    """The email an update would send, in each language, and whom it would reach (JSON)."""
    data = request.get_json(silent=True) or {}
    components = {str(k): str(v) for k, v in (data.get("components") or {}).items() if v}
    try:
        reach = audience.reach_by_language([*data.get("announced", []), *components])
        letters = {language: emails.preview_update(
            name=str(data.get("name") or ""), status=str(data.get("status") or ""),
            body=str(data.get("body") or ""), components=components,
            incident_id=data.get("incident_id"), language=language) for language in reach}
    except DomainError as exc:
        return json_error(exc.status_code, "Unprocessable Entity", exc.message, exc.field)
    return jsonify(reach=reach, total=sum(reach.values()), emails=letters)
