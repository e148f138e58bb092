"""Ops console at /admin: sign-in, dashboard, components, incidents, maintenance, page
settings, staff and the audit log.

Every POST view validates its form, calls one domain operation and redirects; a refused
operation re-renders the form with the operation's message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_login.utils import _user_context_processor
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from .. import components as comp
from .. import devmail, scheduler, site, staff
from .. import incidents as inc
from .. import notifications as notify
from .. import subscriptions as subs
from ..components import Component, ComponentGroup
from ..dbtypes import utcnow
from ..errors import DomainError, NotFound
from ..extensions import db, login_manager
from ..incidents import Incident, IncidentKind
from .forms import (
    COMPONENT_STATUS_CHOICES,
    ActiveForm,
    ApiKeyForm,
    ComponentForm,
    ComponentStatusForm,
    GroupForm,
    IncidentEditForm,
    LoginForm,
    MaintenanceEditForm,
    MaintenanceForm,
    MaintenanceUpdateForm,
    MoveForm,
    NotifyForm,
    PageSettingsForm,
    PostmortemForm,
    RoleForm,
    SubscriberImportForm,
    UpdateTextForm,
    UserForm,
    incident_update_form,
    new_incident_form,
    show_domain_error,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Flash categories, used the same way on every page (the layout styles them).
SUCCESS, ERROR, INFO = "success", "error", "info"
PER_PAGE = 25
AUDIT_PER_PAGE = 50
FIX_FIELDS = "Nothing was saved: please correct the marked fields."

View = TypeVar("View", bound=Callable[..., Any])
Page = str | tuple[str, int] | Response


# --- access --------------------------------------------------------------------------------------

@bp.before_request
def require_login() -> Response | None:
    """Every console page needs a signed-in user; the sign-in page itself does not."""
    if request.endpoint == "admin.login" or current_user.is_authenticated:
        return None
    return cast(Response, login_manager.unauthorized())


def admin_required(view: View) -> View:
    """Let only admins through; editors get 403."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, description="Only admins can do this.")
        return view(*args, **kwargs)
    return cast(View, wrapped)


def load_user(user_id: str) -> staff.User | None:
    """The signed-in user, unless deleted or deactivated since (which signs them out)."""
    try:
        user = staff.get_user(user_id)
    except NotFound:
        return None
    return user if user.active else None


def forget_cached_user() -> None:
    """Load the signed-in user afresh for every request.

    Flask-Login caches the user on ``g``, which outlives a request whenever the application
    context was pushed before it (as the test suite and scripts do); without this, one
    client's user could answer another client's request.
    """
    g.pop("_login_user", None)


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    target = (target or "").strip()
    parts = urlsplit(target)
    # Browsers drop control characters and read backslashes as slashes, so "/\t/x" or "/\x"
    # could still leave the site.
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target)):
        return fallback
    return target


def _actor() -> str:
    return cast(str, current_user.email)


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _done(message: str, endpoint: str, **values: Any) -> Response:
    flash(message, SUCCESS)
    return redirect(url_for(endpoint, **values))


def _invalid(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    """The form page again; 422 when it was submitted with errors."""
    status = 200
    if form.is_submitted():
        flash(FIX_FIELDS, ERROR)
        status = 422
    return render_template(template, form=form, **context), status


def _confirmed(context: dict[str, Any], operation: Callable[[], object], message: str,
               endpoint: str, **values: Any) -> Page:
    """GET asks on the confirmation page; POST runs ``operation`` or shows why it was refused."""
    if request.method == "GET":
        return render_template("admin/confirm.html", **context)
    try:
        operation()
    except DomainError as exc:
        return _refused("admin/confirm.html", None, exc, **context)
    return _done(message, endpoint, **values)


def report_refusal(exc: DomainError, form: FlaskForm | None = None) -> bool:
    """Undo the refused operation's changes and show why: next to the field of ``form`` it
    names (True), else as a flash (False)."""
    db.session.rollback()  # an operation may have touched objects before it refused
    if form is not None and show_domain_error(form, exc):
        return True
    flash(exc.message, ERROR)
    return False


def _refused(template: str, form: FlaskForm | None, exc: DomainError,
             **context: Any) -> tuple[str, int]:
    """The page again with the operation's message next to its field, or as a flash."""
    if report_refusal(exc, form):
        flash(FIX_FIELDS, ERROR)
    if form is not None:
        context["form"] = form
    return render_template(template, **context), exc.status_code


# --- signing in ----------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    """Sign in with email and password."""
    form = LoginForm(next=request.args.get("next", ""))
    home = url_for(".dashboard")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(form.next.data, home))
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), 422 if form.is_submitted() else 200
    user = staff.authenticate(form.email.data, form.password.data)
    if user is None:
        # One message for both cases, so the form does not reveal which addresses exist.
        flash("Wrong email or password.", ERROR)
        return render_template("admin/login.html", form=form)
    login_user(user)
    flash(f"Signed in as {user.email}.", SUCCESS)
    return redirect(safe_next(form.next.data, home))


@bp.post("/logout")
def logout() -> Response:
    """Sign out (POST only, so a link on another site cannot sign anyone out)."""
    logout_user()
    flash("Signed out.", INFO)
    return redirect(url_for(".login"))


# --- dashboard -----------------------------------------------------------------------------------

@bp.get("/")
def dashboard() -> str:
    """Open incidents, active and upcoming maintenance, components with a status quick-set."""
    return render_template(
        "admin/dashboard.html",
        open_incidents=inc.open_incidents(),
        active_maintenance=inc.maintenances(inc.ACTIVE_MAINTENANCE_STATUSES),
        upcoming_maintenance=inc.maintenances(inc.UPCOMING_MAINTENANCE_STATUSES),
        tree=comp.component_tree(),
        status_choices=COMPONENT_STATUS_CHOICES,
    )


# --- components and groups -----------------------------------------------------------------------

def _components_page(status: int = 200) -> tuple[str, int]:
    return render_template("admin/components.html", tree=comp.component_tree(),
                           status_choices=COMPONENT_STATUS_CHOICES), status


def _components_in_page_order() -> list[Component]:
    ordered: list[Component] = []
    for item in comp.component_tree():
        ordered.extend(item.components if isinstance(item, ComponentGroup) else [item])
    return ordered


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
        return _invalid("admin/component_form.html", form, **context)
    try:
        component = comp.create_component(**form.changes(), actor=_actor())
    except DomainError as exc:
        return _refused("admin/component_form.html", form, exc, **context)
    return _done(f"Component “{component.name}” created.", ".components")


@bp.route("/components/<int:component_id>/edit", methods=["GET", "POST"])
def edit_component(component_id: int) -> Page:
    """Change a component's name, description, group and display flags."""
    component = comp.get_component(component_id)
    form = ComponentForm(obj=component)
    form.set_groups(comp.all_groups())
    context = {"component": component}
    if not form.validate_on_submit():
        return _invalid("admin/component_form.html", form, **context)
    try:
        comp.update_component(component, actor=_actor(), **form.changes())
    except DomainError as exc:
        return _refused("admin/component_form.html", form, exc, **context)
    return _done(f"Component “{component.name}” saved.", ".components")


@bp.post("/components/<int:component_id>/status")
def set_component_status(component_id: int) -> Page:
    """Set a component's status directly, outside any incident."""
    component = comp.get_component(component_id)
    form = ComponentStatusForm()
    if not form.validate_on_submit():
        flash("Choose a status.", ERROR)
        return _components_page(422)
    try:
        comp.set_component_status(component, form.status.data, actor=_actor())
    except DomainError as exc:
        report_refusal(exc)
        return _components_page(exc.status_code)
    flash(f"{component.name} is now {component.status.label}.", SUCCESS)
    return redirect(safe_next(form.next.data, url_for(".components")))


def _move(item: Component | ComponentGroup) -> Response:
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400, description="Choose up or down.")
    comp.move(item, -1 if form.direction.data == "up" else 1, actor=_actor())
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
    return _confirmed(context, lambda: comp.delete_component(component, actor=_actor()),
                      f"Component “{component.name}” deleted.", ".components")


@bp.route("/groups/new", methods=["GET", "POST"])
def new_group() -> Page:
    """Create a component group."""
    form = GroupForm()
    if not form.validate_on_submit():
        return _invalid("admin/group_form.html", form, group=None)
    try:
        group = comp.create_group(**form.changes(), actor=_actor())
    except DomainError as exc:
        return _refused("admin/group_form.html", form, exc, group=None)
    return _done(f"Group “{group.name}” created.", ".components")


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(group_id: int) -> Page:
    """Rename or describe a group."""
    group = comp.get_group(group_id)
    form = GroupForm(obj=group)
    if not form.validate_on_submit():
        return _invalid("admin/group_form.html", form, group=group)
    try:
        comp.update_group(group, actor=_actor(), **form.changes())
    except DomainError as exc:
        return _refused("admin/group_form.html", form, exc, group=group)
    return _done(f"Group “{group.name}” saved.", ".components")


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
    return _confirmed(context, lambda: comp.delete_group(group, actor=_actor()),
                      f"Group “{group.name}” deleted.", ".components")


# --- incidents -----------------------------------------------------------------------------------

def _incident(incident_id: int) -> Incident:
    return inc.get_incident(incident_id, IncidentKind.INCIDENT)


def _incident_page(incident: Incident, *, update_form: Any = None,
                   postmortem_form: PostmortemForm | None = None) -> str:
    """The incident's console page; forms not being re-shown start fresh."""
    ordered = _components_in_page_order()
    if update_form is None:
        default = incident.status if incident.is_open else inc.IncidentStatus.RESOLVED.value
        update_form = incident_update_form(ordered, formdata=None, status=default)
    if postmortem_form is None:
        postmortem_form = PostmortemForm(formdata=None, postmortem=incident.postmortem_body)
    # The update announces the incident's components plus those it changes.
    announced = [c.id for c in incident.components]
    return render_template("admin/incident.html", incident=incident, form=update_form,
                           postmortem_form=postmortem_form, tree=comp.component_tree(),
                           notify_form=NotifyForm(formdata=None), announced=announced,
                           reach=subs.count_reach([*announced, *update_form.component_changes()]),
                           deliveries=notify.delivery_counts(u.id for u in incident.updates))


@bp.get("/incidents")
def incidents() -> str:
    """Open incidents first, then the finished ones, newest first, a page at a time."""
    page_no = _page_number()
    past, more = inc.past(IncidentKind.INCIDENT, page=page_no, per_page=PER_PAGE)
    return render_template("admin/incidents.html", page_no=page_no, more=more, past=past,
                           open_incidents=inc.open_incidents() if page_no == 1 else [])


@bp.route("/incidents/new", methods=["GET", "POST"])
def new_incident() -> Page:
    """Open an incident with its first update."""
    form = new_incident_form(_components_in_page_order())
    context = {"tree": comp.component_tree(), "announced": [],
               "reach": subs.count_reach(form.component_changes())}
    if not form.validate_on_submit():
        return _invalid("admin/incident_new.html", form, **context)
    try:
        incident = inc.open_incident(**form.opening(), author=_actor())
    except DomainError as exc:
        return _refused("admin/incident_new.html", form, exc, **context)
    return _done(f"Incident “{incident.name}” opened.", ".incident", incident_id=incident.id)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> str:
    """An incident's timeline, with forms to update, resolve, edit and write the postmortem."""
    return _incident_page(_incident(incident_id))


@bp.post("/incidents/<int:incident_id>/updates")
def post_incident_update(incident_id: int) -> Page:
    """Post an update: status, message, component changes, whether to notify."""
    incident = _incident(incident_id)
    form = incident_update_form(_components_in_page_order())
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _incident_page(incident, update_form=form), 422
    try:
        inc.post_update(incident, **form.update(), author=_actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _incident_page(incident, update_form=form), exc.status_code
    return _done(f"Update posted: {incident.status_label}.", ".incident",
                 incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/resolve")
def resolve_incident(incident_id: int) -> Page:
    """Resolve an incident; its components return to operational."""
    incident = _incident(incident_id)
    form = NotifyForm()  # a lone checkbox cannot be invalid; CSRFProtect checked the token
    try:
        inc.resolve_incident(incident, author=_actor(),
                             deliver_notifications=form.deliver_notifications.data)
    except DomainError as exc:
        report_refusal(exc)
        return _incident_page(incident), exc.status_code
    return _done(f"Incident “{incident.name}” resolved.", ".incident", incident_id=incident.id)


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
def edit_incident(incident_id: int) -> Page:
    """Rename an incident or override its impact."""
    incident = _incident(incident_id)
    form = IncidentEditForm(obj=incident)
    if not form.validate_on_submit():
        return _invalid("admin/incident_edit.html", form, incident=incident)
    try:
        inc.update_incident(incident, actor=_actor(), **form.changes())
    except DomainError as exc:
        return _refused("admin/incident_edit.html", form, exc, incident=incident)
    return _done("Incident saved.", ".incident", incident_id=incident.id)


@bp.route("/incidents/<int:incident_id>/updates/<int:update_id>/edit",
          methods=["GET", "POST"])
def edit_update(incident_id: int, update_id: int) -> Page:
    """Correct the text of a posted update (incident or maintenance)."""
    incident = inc.get_incident(incident_id)
    update = inc.get_update(incident, update_id)
    form = UpdateTextForm(obj=update)
    back = _detail_endpoint(incident)
    context = {"incident": incident, "update": update, "back": back}
    if not form.validate_on_submit():
        return _invalid("admin/update_edit.html", form, **context)
    try:
        inc.edit_update(update, body=form.body.data, actor=_actor())
    except DomainError as exc:
        return _refused("admin/update_edit.html", form, exc, **context)
    return _done("Update text saved.", back, incident_id=incident.id)


def _detail_endpoint(incident: Incident) -> str:
    return ".maintenance" if incident.is_maintenance else ".incident"


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
    return _confirmed(context, lambda: inc.delete_incident(incident, actor=_actor()),
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
        inc.save_postmortem(incident, form.postmortem.data, actor=_actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _incident_page(incident, postmortem_form=form), exc.status_code
    return _done("Postmortem draft saved.", ".incident", incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/postmortem/publish")
def publish_postmortem(incident_id: int) -> Page:
    """Publish the saved postmortem."""
    incident = _incident(incident_id)
    try:
        inc.publish_postmortem(incident, actor=_actor())
    except DomainError as exc:
        report_refusal(exc)
        return _incident_page(incident), exc.status_code
    return _done("Postmortem published.", ".incident", incident_id=incident.id)


@bp.post("/incidents/<int:incident_id>/postmortem/revert")
def revert_postmortem(incident_id: int) -> Page:
    """Take the published postmortem back to draft."""
    incident = _incident(incident_id)
    inc.revert_postmortem(incident, actor=_actor())
    return _done("Postmortem taken back to draft.", ".incident", incident_id=incident.id)


# --- maintenance ---------------------------------------------------------------------------------

def _maintenance(maintenance_id: int) -> Incident:
    return inc.get_incident(maintenance_id, IncidentKind.MAINTENANCE)


def _maintenance_page(maintenance: Incident, *, update_form: Any = None) -> str:
    if update_form is None:
        default = maintenance.status
        update_form = MaintenanceUpdateForm(formdata=None, status=default)
    return render_template("admin/maintenance.html", incident=maintenance, form=update_form,
                           notify_form=NotifyForm(formdata=None),
                           deliveries=notify.delivery_counts(u.id for u in maintenance.updates))


@bp.get("/maintenance")
def maintenance_list() -> str:
    """Active and upcoming maintenance, then the finished ones, a page at a time."""
    page_no = _page_number()
    past, more = inc.past(IncidentKind.MAINTENANCE, page=page_no, per_page=PER_PAGE)
    first = page_no == 1
    return render_template(
        "admin/maintenance_list.html", page_no=page_no, more=more, past=past,
        active=inc.maintenances(inc.ACTIVE_MAINTENANCE_STATUSES) if first else [],
        upcoming=inc.maintenances(inc.UPCOMING_MAINTENANCE_STATUSES) if first else [])


@bp.route("/maintenance/new", methods=["GET", "POST"])
def new_maintenance() -> Page:
    """Schedule a maintenance window."""
    form = MaintenanceForm()
    form.set_components(_components_in_page_order())
    if not form.validate_on_submit():
        return _invalid("admin/maintenance_form.html", form, maintenance=None)
    try:
        maintenance = inc.schedule_maintenance(
            **form.changes(), body=form.body.data,
            deliver_notifications=form.deliver_notifications.data, author=_actor())
    except DomainError as exc:
        return _refused("admin/maintenance_form.html", form, exc, maintenance=None)
    return _done(f"Maintenance “{maintenance.name}” scheduled.", ".maintenance",
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
    form.set_components(_components_in_page_order())
    if not form.validate_on_submit():
        return _invalid("admin/maintenance_form.html", form, maintenance=maintenance)
    try:
        inc.edit_maintenance(maintenance, actor=_actor(), **form.changes())
    except DomainError as exc:
        return _refused("admin/maintenance_form.html", form, exc, maintenance=maintenance)
    return _done("Maintenance saved.", ".maintenance", incident_id=maintenance.id)


@bp.post("/maintenance/<int:incident_id>/updates")
def post_maintenance_update(incident_id: int) -> Page:
    """Post an update to a maintenance."""
    maintenance = _maintenance(incident_id)
    form = MaintenanceUpdateForm()
    if not form.validate_on_submit():
        flash(FIX_FIELDS, ERROR)
        return _maintenance_page(maintenance, update_form=form), 422
    try:
        inc.post_update(maintenance, **form.update(), author=_actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _maintenance_page(maintenance, update_form=form), exc.status_code
    return _done(f"Update posted: {maintenance.status_label}.", ".maintenance",
                 incident_id=maintenance.id)


def _maintenance_step(incident_id: int, operation: Callable[..., Any], done: str) -> Page:
    maintenance = _maintenance(incident_id)
    form = NotifyForm()  # a lone checkbox cannot be invalid; CSRFProtect checked the token
    try:
        operation(maintenance, author=_actor(),
                  deliver_notifications=form.deliver_notifications.data)
    except DomainError as exc:
        report_refusal(exc)
        return _maintenance_page(maintenance), exc.status_code
    return _done(done, ".maintenance", incident_id=maintenance.id)


@bp.post("/maintenance/<int:incident_id>/start")
def start_maintenance(incident_id: int) -> Page:
    """Start a scheduled maintenance now."""
    return _maintenance_step(incident_id, inc.start_maintenance, "Maintenance started.")


@bp.post("/maintenance/<int:incident_id>/complete")
def complete_maintenance(incident_id: int) -> Page:
    """Complete a maintenance now."""
    return _maintenance_step(incident_id, inc.resolve_incident, "Maintenance completed.")


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
    return _maintenance_step(incident_id, inc.cancel_maintenance, "Maintenance cancelled.")


# --- subscribers and email -----------------------------------------------------------------------

SUBSCRIBERS_PER_PAGE = 50


@bp.context_processor
def mail_health() -> dict[str, Any]:
    """Worker and queue state for the layout's warning banner and the dashboard."""
    if not current_user.is_authenticated:
        return {}
    return {"worker": scheduler.worker_status(), "mail_queue": notify.queue_status()}


def _subscriber_action(subscriber_id: int, operation: Callable[..., Any], done: str) -> Response:
    subscriber = subs.get_subscriber(subscriber_id)
    email = subscriber.email
    try:
        operation(subscriber, actor=_actor())
    except DomainError as exc:
        report_refusal(exc)
    else:
        flash(done.format(email=email), SUCCESS)
    return redirect(safe_next(request.form.get("next"), url_for(".subscribers")))


@bp.get("/subscribers")
@admin_required
def subscribers() -> str:
    """Counts, search by address, and each subscriber's choice (addresses: admins only)."""
    query = request.args.get("q", "").strip()[:254]
    page_no = _page_number()
    found = subs.search_subscribers(query, limit=SUBSCRIBERS_PER_PAGE + 1,
                                    offset=(page_no - 1) * SUBSCRIBERS_PER_PAGE)
    return render_template(
        "admin/subscribers.html", counts=subs.subscriber_counts(), query=query,
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
    return Response(subs.export_csv(actor=_actor()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@bp.route("/subscribers/import", methods=["GET", "POST"])
@admin_required
def import_subscribers() -> Page:
    """Add the addresses of a CSV file; confirmed only when ops tick that they consented."""
    form = SubscriberImportForm()
    if not form.validate_on_submit():
        return _invalid("admin/subscribers_import.html", form, result=None)
    text = form.csv_text()
    if text is None:
        return render_template("admin/subscribers_import.html", form=form, result=None), 422
    result = subs.import_subscribers(text, confirmed=form.confirmed.data, actor=_actor())
    what = "confirmed subscribers" if form.confirmed.data else "addresses to confirm by email"
    flash(f"Imported {len(result.added)} {what}.", SUCCESS if result.added else INFO)
    return render_template("admin/subscribers_import.html",
                           form=SubscriberImportForm(formdata=None), result=result,
                           confirmed=form.confirmed.data)


@bp.get("/reach")
def reach() -> Response | tuple[Response, int]:
    """How many subscribers an update about these components would reach (JSON)."""
    try:
        count = subs.count_reach(request.args.getlist("component"))
    except DomainError as exc:
        return jsonify(error=exc.message), exc.status_code
    return jsonify(reach=count)


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/retry")
def retry_update_deliveries(incident_id: int, update_id: int) -> Response:
    """Queue an update's failed emails again."""
    incident = inc.get_incident(incident_id)
    update = inc.get_update(incident, update_id)
    count = notify.retry_failed(update_id=update.id, actor=_actor())
    return _done(f"{count} failed email{'' if count == 1 else 's'} queued again.",
                 _detail_endpoint(incident), incident_id=incident.id)


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
    count = notify.retry_failed(actor=_actor())
    return _done(f"{count} failed email{'' if count == 1 else 's'} queued again.",
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


@bp.get("/mail/<message_id>")
@admin_required
def mail_message(message_id: str) -> str:
    """One caught email, its HTML shown sandboxed, with its links to follow."""
    message = devmail.caught_message(_mail_directory(), message_id)
    if message is None:
        abort(404)
    return render_template("admin/mail_message.html", message=message)


# --- page settings, staff, audit log (admins only) ------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings() -> Page:
    """The page's name, address, time zone, links and colour."""
    form = PageSettingsForm(obj=site.get_page_settings())
    if not form.validate_on_submit():
        return _invalid("admin/settings.html", form)
    try:
        site.update_page_settings(actor=_actor(), **form.changes())
    except DomainError as exc:
        return _refused("admin/settings.html", form, exc)
    return _done("Page settings saved.", ".settings")


def _staff_page(form: UserForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("admin/staff.html", users=staff.all_users(),
                           form=form or UserForm(formdata=None)), status


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
                                 actor=_actor())
    except DomainError as exc:
        report_refusal(exc, form)
        return _staff_page(form, exc.status_code)
    return _done(f"Added {user.email} as {user.role}.", ".staff_list")


def _change_user(user_id: int, form: FlaskForm, changes: Callable[[], dict[str, Any]],
                 done: str) -> Page:
    user = staff.get_user(user_id)
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], ERROR)
        return _staff_page(status=422)
    try:
        staff.update_user(user, actor=_actor(), **changes())
    except DomainError as exc:
        report_refusal(exc)
        return _staff_page(status=exc.status_code)
    return _done(done.format(email=user.email, role=user.role), ".staff_list")


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
    return _confirmed(context, lambda: staff.delete_user(user, actor=_actor()),
                      f"Deleted {user.email}.", ".staff_list")


@bp.get("/audit")
@admin_required
def audit() -> str:
    """The audit log, newest first."""
    page_no = _page_number()
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
        new_key = staff.create_api_key(form.name.data, scope=form.scope.data, actor=_actor())
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
    return _confirmed(context, lambda: staff.revoke_api_key(key, actor=_actor()),
                      f"API key “{key.name}” revoked.", ".api_keys")


def init_app(app: Flask) -> None:
    """Wire sign-in and register the blueprint."""
    login_manager.user_loader(load_user)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = INFO
    app.before_request(forget_cached_user)
    # Flask-Login's context processor loads the user (and so reads the session) on every
    # render, which makes public pages `Vary: Cookie` and defeats shared caches. The proxy
    # loads the user only in templates that use it.
    processors = app.template_context_processors[None]
    if _user_context_processor in processors:
        processors.remove(_user_context_processor)
    app.context_processor(lambda: {"current_user": current_user})
    app.register_blueprint(bp)
