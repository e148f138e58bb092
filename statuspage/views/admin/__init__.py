"""Ops console at /admin: the blueprint, its access rules and shared helpers, sign-in and the
dashboard. Each area has its own module: components, incidents (and maintenance), subscribers
(and email), settings (page settings, staff, API keys, audit log).

Every POST view validates its form, calls one domain operation and redirects; a refused
operation re-renders the form with the operation's message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ... import components as comp
from ... import incidents as inc
from ... import maintenance as maint
from ... import notifications as notify
from ... import scheduler, staff
from ...extensions import db, login_manager
from ...incidents import Incident
from ...validation import DomainError, NotFound
from ...vocabulary import ACTIVE_MAINTENANCE_STATUSES, UPCOMING_MAINTENANCE_STATUSES
from ..forms import COMPONENT_STATUS_CHOICES, LoginForm, show_domain_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Flash categories, used the same way on every page (the layout styles them).
SUCCESS, ERROR, INFO = "success", "error", "info"
PER_PAGE = 25
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


@bp.context_processor
def mail_health() -> dict[str, Any]:
    """Worker and queue state for the layout's warning banner and the dashboard."""
    if not current_user.is_authenticated:
        return {}
    return {"worker": scheduler.worker_status(), "mail_queue": notify.queue_status()}


# --- shared helpers ------------------------------------------------------------------------------

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


def actor() -> str:
    """The signed-in user's address, as operations record who acted."""
    return cast(str, current_user.email)


def page_number() -> int:
    """The ``page`` query argument: 1 unless a positive number."""
    return max(request.args.get("page", 1, type=int) or 1, 1)


def detail_endpoint(incident: Incident) -> str:
    """The console page of an incident or of a maintenance."""
    return ".maintenance" if incident.is_maintenance else ".incident"


def done(message: str, endpoint: str, **values: Any) -> Response:
    """Flash success and redirect to ``endpoint``."""
    flash(message, SUCCESS)
    return redirect(url_for(endpoint, **values))


def invalid(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    """The form page again; 422 when it was submitted with errors."""
    status = 200
    if form.is_submitted():
        flash(FIX_FIELDS, ERROR)
        status = 422
    return render_template(template, form=form, **context), status


def report_refusal(exc: DomainError, form: FlaskForm | None = None) -> bool:
    """Roll back a refused operation; show why next to its field (True) or as a flash."""
    db.session.rollback()  # an operation may have touched objects before it refused
    if form is not None and show_domain_error(form, exc):
        return True
    flash(exc.message, ERROR)
    return False


def refused(template: str, form: FlaskForm | None, exc: DomainError,
            **context: Any) -> tuple[str, int]:
    """The page again with the operation's message next to its field, or as a flash."""
    if report_refusal(exc, form):
        flash(FIX_FIELDS, ERROR)
    if form is not None:
        context["form"] = form
    return render_template(template, **context), exc.status_code


def confirmed(context: dict[str, Any], operation: Callable[[], object], message: str,
              endpoint: str, **values: Any) -> Page:
    """GET asks on the confirmation page; POST runs ``operation`` or shows why it was refused."""
    if request.method == "GET":
        return render_template("admin/confirm.html", **context)
    try:
        operation()
    except DomainError as exc:
        return refused("admin/confirm.html", None, exc, **context)
    return done(message, endpoint, **values)


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
        active_maintenance=maint.windows(ACTIVE_MAINTENANCE_STATUSES),
        upcoming_maintenance=maint.windows(UPCOMING_MAINTENANCE_STATUSES),
        tree=comp.component_tree(),
        status_choices=COMPONENT_STATUS_CHOICES,
    )


# The areas' routes register on ``bp`` as their modules are imported; they need the names above.
from . import components, endpoints, incidents, settings, subscribers  # noqa: E402, F401


def init_app(app: Flask) -> None:
    """Wire sign-in and register the blueprint."""
    login_manager.user_loader(load_user)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = INFO
    app.register_blueprint(bp)
