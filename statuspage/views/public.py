"""Public pages: the status page, incident pages, history, feeds, and the subscriber's pages."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm

from .. import components as comp
from .. import feeds, followers, page, subscriptions
from ..extensions import csrf, db
from ..site import page_version
from ..subscriptions import Subscriber, TokenError, TokenExpired, TokenPurpose
from ..validation import DomainError
from .forms import (
    ChannelSubscribeForm,
    FollowForm,
    SubscribeForm,
    SubscriptionChoiceForm,
    show_domain_error,
)
from .http import conditional

bp = Blueprint("public", __name__)
MAX_HISTORY_PAGE = 10_000


@bp.get("/")
def index() -> Response:
    """The status page, answered from the cached snapshot and revalidated by ETag."""
    snap = page.snapshot()
    return conditional(snap.etag, lambda: _rendered_index(snap), "text/html; charset=utf-8",
                       last_modified=snap.modified_at)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> str:
    """One incident or maintenance with its full timeline."""
    return render_template("public/incident.html", incident=page.incident(incident_id))


@bp.get("/history")
def history() -> str:
    """Past incidents and maintenance by month, a few months per page."""
    number = request.args.get("page", "1")
    if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= MAX_HISTORY_PAGE:
        abort(404)
    return render_template("public/history.html", history=page.history(int(number)))


@bp.get("/history.rss")
def history_rss() -> Response:
    """Incident history as RSS 2.0."""
    return _feed("rss")


@bp.get("/history.atom")
def history_atom() -> Response:
    """Incident history as Atom 1.0."""
    return _feed("atom")


@bp.get("/components/<int:component_id>/history.rss")
def component_rss(component_id: int) -> Response:
    """One component's incident history as RSS 2.0."""
    return _feed("rss", component_id)


@bp.get("/components/<int:component_id>/history.atom")
def component_atom(component_id: int) -> Response:
    """One component's incident history as Atom 1.0."""
    return _feed("atom", component_id)


def _feed(kind: str, component_id: int | None = None) -> Response:
    # Looked up first so that an unknown component is a 404, even for a reader with an ETag.
    component = comp.get_component(component_id) if component_id is not None else None
    etag = f"{kind}-{component_id or 'all'}-v{page_version()}"

    def build() -> tuple[bytes, datetime]:
        feed = feeds.build_feed(kind, component)
        return feed.body, feed.updated_at

    return conditional(etag, build, feeds.CONTENT_TYPES[kind])


# --- subscribing: every page past /subscribe is reached through a signed link from an email ---

Page = str | Response | tuple[str, int]


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> Page:
    """Ask for email updates; the answer is the same whether the address was known or not."""
    form = SubscribeForm()
    if not form.validate_on_submit():
        return render_template("public/subscribe.html", form=form)
    try:
        address = subscriptions.subscribe(form.email.data)
    except DomainError as exc:
        db.session.rollback()
        show_domain_error(form, exc)
        return render_template("public/subscribe.html", form=form), exc.status_code
    return render_template("public/subscribe_sent.html", address=address)


@bp.route("/subscribe/channel", methods=["GET", "POST"])
def subscribe_channel() -> Page:
    """Ask for updates at a webhook, or in a Slack or Teams channel."""
    form = ChannelSubscribeForm()
    if not form.validate_on_submit():
        return render_template("public/subscribe_channel.html", form=form)
    try:
        followers.subscribe_endpoint(form.channel.data, form.endpoint.data,
                                     email=form.email.data or None)
    except DomainError as exc:
        _refused(form, exc)
        return render_template("public/subscribe_channel.html", form=form), exc.status_code
    return render_template("public/subscribe_posted.html", channel=form.channel.data,
                           address=form.email.data)


@bp.route("/incidents/<int:incident_id>/subscribe", methods=["GET", "POST"])
def follow_incident(incident_id: int) -> Page:
    """Follow one incident by email or webhook, until it is resolved."""
    incident, form = page.incident(incident_id), FollowForm()
    if not form.validate_on_submit():
        return render_template("public/follow.html", form=form, incident=incident)
    try:
        if form.endpoint.data:
            followers.subscribe_endpoint("webhook", form.endpoint.data,
                                         email=form.email.data, incident_id=incident_id)
        else:
            followers.follow_by_email(incident_id, form.email.data or "")
    except DomainError as exc:
        _refused(form, exc)
        return render_template("public/follow.html", form=form, incident=incident), \
            exc.status_code
    return render_template("public/subscribe_posted.html", address=form.email.data,
                           channel="webhook" if form.endpoint.data else "email")


def _refused(form: FlaskForm, exc: DomainError) -> None:
    db.session.rollback()
    if not show_domain_error(form, exc):
        form.form_errors.append(exc.message)


@bp.route("/subscriptions/confirm/<token>", methods=["GET", "POST"])
def confirm_subscription(token: str) -> Page:
    """The emailed link: choose components; saving the choice confirms the subscription."""
    subscriber = subscriptions.load_token(TokenPurpose.CONFIRM, token)
    return _choice_page(subscriber, "public/subscription_confirm.html",
                        "Your subscription is confirmed.")


@bp.post("/subscriptions/confirm/<token>/resend")
def resend_confirmation(token: str) -> Page:
    """Email a fresh link in place of an expired one (a forged one gets nothing)."""
    subscriptions.resend_link(token)
    return render_template("public/subscribe_sent.html", address=None)


@bp.route("/subscriptions/manage/<token>", methods=["GET", "POST"])
def manage_subscription(token: str) -> Page:
    """See and change what a subscriber hears about."""
    subscriber = subscriptions.load_token(TokenPurpose.MANAGE, token)
    leave = subscriptions.make_token(subscriber, TokenPurpose.UNSUBSCRIBE)
    return _choice_page(subscriber, "public/subscription_manage.html", "Your choice is saved.",
                        unsubscribe_url=url_for(".unsubscribe_page", token=leave))


@bp.get("/subscriptions/unsubscribe/<token>")
def unsubscribe_page(token: str) -> str:
    """Ask before unsubscribing: a GET (a link scanner, a preview) must change nothing."""
    subscriber = subscriptions.load_token(TokenPurpose.UNSUBSCRIBE, token)
    return render_template("public/subscription_unsubscribe.html", subscriber=subscriber)


@bp.post("/subscriptions/unsubscribe/<token>")
def unsubscribe(token: str) -> str:
    """Unsubscribe, from the page's button or a mail client's one-click unsubscribe."""
    subscriber = subscriptions.load_token(TokenPurpose.UNSUBSCRIBE, token)
    address = subscriber.email
    subscriptions.unsubscribe(subscriber)
    return render_template("public/subscription_unsubscribed.html", address=address)


@bp.errorhandler(TokenError)
def link_refused(exc: TokenError) -> tuple[str, int]:
    """A tampered, expired or revoked link: say so, change nothing, offer a way on."""
    db.session.rollback()
    token = (request.view_args or {}).get("token")
    resend_url = (url_for(".resend_confirmation", token=token)
                  if isinstance(exc, TokenExpired) and token else None)
    return render_template("public/subscription_link_error.html", exc=exc,
                           resend_url=resend_url), exc.status_code


@bp.after_request
def keep_links_private(response: Response) -> Response:
    """Pages under a signed link are never cached, and never leak the link as a Referer."""
    if "token" in (request.view_args or {}):
        response.cache_control.no_store = True
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _choice_page(subscriber: Subscriber, template: str, saved: str, **context: str) -> Page:
    form = SubscriptionChoiceForm()
    status = 200
    if not form.is_submitted():
        if subscriber.confirmed:  # a new subscriber starts from "all components"
            form.show(subscriber.all_components, [c.id for c in subscriber.components],
                      subscriptions.preferences_of(subscriber))
        else:
            form.component_events.data = True
    elif not form.validate():
        status = 422
    else:
        try:
            subscriptions.choose(subscriber, **form.choice())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = exc.status_code
        else:
            flash(saved)
            return redirect(url_for(".manage_subscription", token=subscriptions.make_token(
                subscriber, TokenPurpose.MANAGE)))
    tree = [item for item in comp.component_tree()
            if not isinstance(item, comp.ComponentGroup) or item.components]
    return render_template(template, form=form, subscriber=subscriber, tree=tree,
                           answers=followers.last_answers(subscriber), **context), status


_RENDERED = "statuspage.rendered_index"


def _rendered_index(snap: page.Snapshot) -> str:
    # The page is the same for every visitor until the snapshot changes, so its HTML is kept
    # beside it; a swap of one (snapshot, html) tuple is atomic, so no lock is needed.
    cached = current_app.extensions.get(_RENDERED)
    if cached is None or cached[0] is not snap:
        cached = (snap, render_template("public/index.html", snap=snap))
        current_app.extensions[_RENDERED] = cached
    return cached[1]


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    # Mail clients POST `List-Unsubscribe=One-Click` without a CSRF token (RFC 8058); the
    # signed link itself is the proof that the request comes from the subscriber.
    csrf.exempt(unsubscribe)
    app.register_blueprint(bp)
