"""Ops console: components and groups."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ... import components as comp
from ... import incidents as inc
from ...components import Component, ComponentGroup
from ...validation import DomainError
from ..forms import (
    COMPONENT_STATUS_CHOICES,
    ComponentForm,
    ComponentStatusForm,
    GroupForm,
    MoveForm,
)
from . import (
    ERROR,
    SUCCESS,
    Page,
    actor,
    bp,
    confirmed,
    done,
    invalid,
    refused,
    report_refusal,
    safe_next,
)


def _components_page(status: int = 200) -> tuple[str, int]:
    return render_template("admin/components.html", tree=comp.component_tree(),
                           status_choices=COMPONENT_STATUS_CHOICES), status


@bp.get("/components")
def components() -> tuple[str, int]:
    """Groups and components in page order."""
    return _components_page()


@bp.route("/components/new", methods=["GET", "POST"])
def new_component() -> Page:
    """Create a component."""
    form = ComponentForm(group_id=request.args.get("group_id", ""))
    form.set_groups(comp.all_groups())
    context = {"component": None}
    if not form.validate_on_submit():
        return invalid("admin/component_form.html", form, **context)
    try:
        component = comp.create_component(**form.changes(), actor=actor())
    except DomainError as exc:
        return refused("admin/component_form.html", form, exc, **context)
    return done(f"Component “{component.name}” created.", ".components")


@bp.route("/components/<int:component_id>/edit", methods=["GET", "POST"])
def edit_component(component_id: int) -> Page:
    """Change a component's name, description, group and display flags."""
    component = comp.get_component(component_id)
    form = ComponentForm(obj=component)
    form.set_groups(comp.all_groups())
    context = {"component": component}
    if not form.validate_on_submit():
        return invalid("admin/component_form.html", form, **context)
    try:
        comp.update_component(component, actor=actor(), **form.changes())
    except DomainError as exc:
        return refused("admin/component_form.html", form, exc, **context)
    return done(f"Component “{component.name}” saved.", ".components")


@bp.post("/components/<int:component_id>/status")
def set_component_status(component_id: int) -> Page:
    """Set a component's status directly, outside any incident."""
    component = comp.get_component(component_id)
    form = ComponentStatusForm()
    if not form.validate_on_submit():
        flash("Choose a status.", ERROR)
        return _components_page(422)
    try:
        comp.set_component_status(component, form.status.data, actor=actor())
    except DomainError as exc:
        report_refusal(exc)
        return _components_page(exc.status_code)
    flash(f"{component.name} is now {component.status.label}.", SUCCESS)
    return redirect(safe_next(form.next.data, url_for(".components")))


def _move(item: Component | ComponentGroup) -> Response:
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400, description="Choose up or down.")
    comp.move(item, -1 if form.direction.data == "up" else 1, actor=actor())
    flash(f"Moved “{item.name}” {form.direction.data}.", SUCCESS)
    return redirect(url_for(".components"))


@bp.post("/components/<int:component_id>/move")
def move_component(component_id: int) -> Response:
    """Move a component up or down among its siblings."""
    return _move(comp.get_component(component_id))


@bp.route("/components/<int:component_id>/delete", methods=["GET", "POST"])
def delete_component(component_id: int) -> Page:
    """Ask, then delete a component; refused while an open incident names it."""
    component = comp.get_component(component_id)
    context = {
        "title": f"Delete component “{component.name}”?",
        "question": "Its status history goes with it. Past incidents keep its name.",
        "action": url_for(".delete_component", component_id=component.id),
        "button": "Delete component", "cancel": url_for(".components"),
    }
    return confirmed(context, lambda: inc.delete_component(component, actor=actor()),
                     f"Component “{component.name}” deleted.", ".components")


@bp.route("/groups/new", methods=["GET", "POST"])
def new_group() -> Page:
    """Create a component group."""
    form = GroupForm()
    if not form.validate_on_submit():
        return invalid("admin/group_form.html", form, group=None)
    try:
        group = comp.create_group(**form.changes(), actor=actor())
    except DomainError as exc:
        return refused("admin/group_form.html", form, exc, group=None)
    return done(f"Group “{group.name}” created.", ".components")


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(group_id: int) -> Page:
    """Rename or describe a group."""
    group = comp.get_group(group_id)
    form = GroupForm(obj=group)
    if not form.validate_on_submit():
        return invalid("admin/group_form.html", form, group=group)
    try:
        comp.update_group(group, actor=actor(), **form.changes())
    except DomainError as exc:
        return refused("admin/group_form.html", form, exc, group=group)
    return done(f"Group “{group.name}” saved.", ".components")


@bp.post("/groups/<int:group_id>/move")
def move_group(group_id: int) -> Response:
    """Move a group up or down the page."""
    return _move(comp.get_group(group_id))


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
def delete_group(group_id: int) -> Page:
    """Ask, then delete a group; its components stay, ungrouped."""
    group = comp.get_group(group_id)
    context = {
        "title": f"Delete group “{group.name}”?",
        "question": "Its components stay on the page, outside any group.",
        "action": url_for(".delete_group", group_id=group.id),
        "button": "Delete group", "cancel": url_for(".components"),
    }
    return confirmed(context, lambda: comp.delete_group(group, actor=actor()),
                     f"Group “{group.name}” deleted.", ".components")


