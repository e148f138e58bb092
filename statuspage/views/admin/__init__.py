"""Ops console at /admin: the blueprint, its access rules and shared helpers, sign-in and the
dashboard. Each area has its own module: components, incidents (and maintenance), subscribers
(and email), settings (page settings, staff, API keys, audit log).

Every POST view validates its form, calls one domain operation and redirects; a refused
operation re-renders the form with the operation's message and changes nothing.
"""

from __future__ import annotations

import hashlib
import time
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
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ... import components as comp
from ... import incidents as inc
from ... import maintenance as maint
from ... import notifications as notify
from ... import scheduler, staff, two_factor
from ...extensions import db, limiter, login_manager
from ...incidents import Incident
from ...validation import DomainError, normalise_email
from ...vocabulary import ACTIVE_MAINTENANCE_STATUSES, UPCOMING_MAINTENANCE_STATUSES
from ..forms import COMPONENT_STATUS_CHOICES, LoginForm, show_domain_error

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Flash categories, used the same way on every page (the layout styles them).
SUCCESS, ERROR, INFO = "success", "error", "info"
PER_PAGE = 25
MAX_PAGE = 1_000_000
FIX_FIELDS = "Nothing was saved: please correct the marked fields."

View = TypeVar("View", bound=Callable[..., Any])
Page = str | tuple[str, int] | Response


# --- access --------------------------------------------------------------------------------------

SIGN_IN_PAGES = frozenset({"admin.login", "admin.login_code"})
# What a user may open while the page requires a second factor they have not set up yet.
ENROLMENT_PAGES = frozenset({"admin.account", "admin.start_two_factor",
                             "admin.confirm_two_factor", "admin.logout"})


@bp.before_request
def require_login() -> Response | None:
    """Every console page needs a signed-in user (the sign-in pages themselves do not), and,
    when admins require it, one with a second factor: others are sent to set it up."""
    if request.endpoint in SIGN_IN_PAGES:
        return None
    if not current_user.is_authenticated:
        return cast(Response, login_manager.unauthorized())
    if (request.endpoint not in ENROLMENT_PAGES and not current_user.two_factor_enabled
            and two_factor.two_factor_required()):
        flash("Two-factor sign-in is required on this page: set it up to continue.", INFO)
        return redirect(url_for(".account"))
    return None


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


def load_user(session_id: str) -> staff.User | None:
    """The signed-in user, unless deleted, deactivated or signed out everywhere since."""
    return staff.session_user(session_id)


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
    """The ``page`` query argument: 1 unless a positive number, at most MAX_PAGE (a larger
    one would overflow the database's OFFSET)."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def components_in_page_order() -> list[comp.Component]:
    """Every component, group members in place, as the public page orders them."""
    ordered: list[comp.Component] = []
    for item in comp.component_tree():
        ordered.extend(item.components if isinstance(item, comp.ComponentGroup) else [item])
    return ordered


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

# Failed sign-ins are counted per account and per client address, and checked before any
# password is hashed, so a flood of guesses costs no CPU. The windows stack, so the wait grows
# with the failures: after 5 a minute, after 10 a quarter of an hour, then an hour, then a day.
# The right password waits out a lockout like any other.
ACCOUNT_LIMITS = "5/minute;10/15 minutes;15/hour;30/day"
CLIENT_LIMITS = "20/minute;100/hour;300/day"
LOCKED_OUT = ("Too many failed sign-ins. The account is locked for a while; the right password "
              "works again once the wait is over.")


SIGN_IN_FAILED = "statuspage.sign_in_failed"  # kept on the request: g outlives it in tests
# Between the password and the code: who, since when, where to go after.
PENDING_SIGN_IN = "two_factor_pending"
PENDING_SECONDS = 300


def sign_in_failed(response: Response) -> bool:
    """Whether this sign-in attempt counts against the limits: a wrong password or code."""
    return bool(request.environ.get(SIGN_IN_FAILED))


def attempted_account() -> str:
    """The account a sign-in attempt names, counted whether or not it exists."""
    raw = request.form.get("email", "")
    try:
        address = normalise_email(raw)
    except DomainError:
        address = raw.strip().lower()
    return "account:" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ACCOUNT_LIMITS, key_func=attempted_account, methods=["POST"],
               scope="sign-in-account", deduct_when=sign_in_failed, error_message=LOCKED_OUT)
@limiter.limit(CLIENT_LIMITS, methods=["POST"], scope="sign-in-client",
               deduct_when=sign_in_failed, error_message=LOCKED_OUT)
def login() -> Page:
    """Sign in with email and password."""
    form = LoginForm(next=request.args.get("next", ""))
    home = url_for(".dashboard")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(form.next.data, home))
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form), 422 if form.is_submitted() else 200
    user = staff.authenticate(form.email.data, form.password.data, source=request.remote_addr)
    if user is None:
        request.environ[SIGN_IN_FAILED] = True
        # One message for both cases, so the form does not reveal which addresses exist.
        flash("Wrong email or password.", ERROR)
        return render_template("admin/login.html", form=form)
    return _password_accepted(user, form.next.data or "")


def _password_accepted(user: staff.User, next_url: str) -> Response:
    # Signed in, or on to the second step, which remembers who for a few minutes.
    if user.two_factor_enabled:
        session[PENDING_SIGN_IN] = {"user": user.get_id(), "at": int(time.time()),
                                    "next": next_url}
        return redirect(url_for(".login_code"))
    login_user(user)
    flash(f"Signed in as {user.email}.", SUCCESS)
    return redirect(safe_next(next_url, url_for(".dashboard")))


@bp.post("/logout")
def logout() -> Response:
    """Sign out (POST only, so a link on another site cannot sign anyone out): every session
    of the user ends, copies of this cookie included."""
    staff.end_sessions(current_user)
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
from . import (  # noqa: E402, F401
    account,
    components,
    endpoints,
    incidents,
    settings,
    subscribers,
    templates,
)


def init_app(app: Flask) -> None:
    """Wire sign-in and register the blueprint."""
    login_manager.user_loader(load_user)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = INFO
    app.register_blueprint(bp)
