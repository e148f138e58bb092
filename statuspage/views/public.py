"""Public pages: the status page, incident pages, history, feeds, and the subscriber's pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

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
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm

from .. import components as comp
from .. import feeds, followers, page, preferences, signup, subscriptions
from ..builds import Built
from ..extensions import csrf, db, limiter
from ..languages import DEFAULT_LANGUAGE, current_language, is_language
from ..pagecache import Resource
from ..subscriptions import Subscriber, TokenError, TokenExpired, TokenPurpose
from ..validation import N_, DomainError, normalise_email
from .channel_forms import ChannelSubscribeForm, FollowForm
from .forms import people_message, show_domain_error
from .http import built, cached
from .language import LANGUAGE_ARG, LANGUAGE_COOKIE
from .public_forms import (
    ConfirmChoiceForm,
    NewSubscriptionForm,
    SubscribeForm,
    SubscriptionChoiceForm,
    page_challenge,
)

bp = Blueprint("public", __name__)
MAX_HISTORY_PAGE = 10_000


@bp.get("/")
def index() -> Response:
    """The status page, built once per page version and day."""
    return cached(Resource("/", _index, daily=True))


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> Response:
    """One incident or maintenance with its full timeline."""
    return cached(Resource(f"/incidents/{incident_id}", lambda: built(render_template(
        "public/incident.html", incident=page.incident(incident_id)))))


@bp.get("/history")
def history() -> Response:
    """Past incidents and maintenance by month, a few months per page."""
    number = request.args.get("page", "1")
    if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= MAX_HISTORY_PAGE:
        abort(404)
    value = int(number)
    path = "/history" if value == 1 else f"/history?page={value}"
    return cached(Resource(path, lambda: built(render_template(
        "public/history.html", history=page.history(value))), daily=True))


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


@bp.get("/theme/<colour>.css")
def theme(colour: str) -> Response:
    """The page's accent colour as a stylesheet (the policy allows no inline style); the
    colour is in the address, so the file never changes and needs no database."""
    if not re.fullmatch(r"[0-9a-fA-F]{6}", colour):
        abort(404)
    response = Response(f":root {{ --accent: #{colour.lower()}; }}\n", content_type="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 365 * 86400
    response.cache_control.immutable = True
    return response


def _feed(kind: str, component_id: int | None = None) -> Response:
    def build() -> Built:
        # An unknown (or deleted) component is a 404, never kept.
        component = comp.get_component(component_id) if component_id is not None else None
        feed = feeds.build_feed(kind, component)
        return built(feed.body, feed.content_type, feed.updated_at)

    return cached(Resource(request.path, build))


# --- the language switcher ----------------------------------------------------------------------

LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@bp.get("/language/<code>")
def switch_language(code: str) -> Response:
    """Remember the visitor's language in a cookie and go back to the page in it."""
    if not is_language(code):
        abort(404)
    back = urlsplit(request.args.get("next", "/"))
    path = back.path if back.path.startswith("/") and not back.path.startswith("//") \
        and not back.scheme and not back.netloc and "\\" not in back.path else "/"
    query = [(k, v) for k, v in parse_qsl(back.query) if k != LANGUAGE_ARG]
    if code != DEFAULT_LANGUAGE:
        query.append((LANGUAGE_ARG, code))
    response = redirect(path + (f"?{urlencode(query)}" if query else ""), 303)
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_AGE, samesite="Lax",
                        httponly=True, secure=request.is_secure)
    response.cache_control.no_store = True
    return response


# --- subscribing, in the seed's order: an address, the choice, then the emailed link ------------

Page = str | Response | tuple[str, int]


# Each subscription emails an address nobody has confirmed yet: a client may ask a few times
# an hour, the whole page accepts a bounded number an hour (SUBSCRIBE_PER_*), and the address
# itself has a growing cooldown (subscriptions). Both limits answer 429 through views.init_app.
TOO_MANY_SUBSCRIPTIONS = lazy_gettext("Too many subscription requests for now.")


def per_client_rate() -> str:
    """The per-client subscribe limit in the limiter's words."""
    return f"{current_app.config['SUBSCRIBE_PER_CLIENT_PER_HOUR']}/hour"


def total_rate() -> str:
    """The page's subscribe limit in the limiter's words."""
    return f"{current_app.config['SUBSCRIBE_PER_HOUR']}/hour"


def accepted(response: Response) -> bool:
    """A subscription that was taken (the "check your inbox" page); only those count toward
    the page's total, so junk cannot use it up."""
    return response.status_code == 200 and request.method == "POST"


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> Page:
    """Every way to follow the page; an address ("Subscribe via email") leads on to the choice.

    Nothing is looked up or written here, so the answer is the same for any valid address.
    """
    form = SubscribeForm(meta={"csrf": False})  # it changes nothing; cached pages carry it
    if request.method == "GET":
        return render_template("public/subscribe.html", form=form)
    try:
        address = normalise_email(form.email.data)
    except DomainError as exc:
        show_domain_error(form, exc)
        return render_template("public/subscribe.html", form=form), exc.status_code
    choice = NewSubscriptionForm(formdata=None, ticket=signup.address_ticket(address),
                                 language=current_language())
    return _new_choice_page(choice, address)


@bp.post("/subscribe/components")
@limiter.limit(per_client_rate, scope="subscribe-client",
               exempt_when=lambda: not current_app.config["SUBSCRIBE_PER_CLIENT_PER_HOUR"],
               error_message=TOO_MANY_SUBSCRIPTIONS)
@limiter.limit(total_rate, key_func=lambda: "page", scope="subscribe-total",
               exempt_when=lambda: not current_app.config["SUBSCRIBE_PER_HOUR"],
               deduct_when=accepted, error_message=TOO_MANY_SUBSCRIPTIONS)
def choose_components() -> Page:
    """Save the choice for the address; a worker emails the link that confirms it. The same
    answer, after the same work, whoever the address belongs to."""
    form = NewSubscriptionForm()
    try:
        address = signup.ticket_address(form.ticket.data or "")
    except TokenError as exc:
        return _address_again(exc)
    if not form.validate():
        return _new_choice_page(form, address, 422)
    try:
        signup.request_subscription(address, **form.choice())
    except DomainError as exc:
        db.session.rollback()
        form.form_errors.append(people_message(exc.message))
        return _new_choice_page(form, address, exc.status_code)
    return render_template("public/subscribe_sent.html", address=address)


# The pages behind a signed link, per client. Not the one-click unsubscribe: mail providers
# send every recipient's from a handful of addresses, right after a notification goes out.
signed_link_pages = limiter.shared_limit("30/minute;300/hour", scope="subscriber-links",
                                         error_message=lazy_gettext(
                                             "Too many requests for this page."))
# Every form that subscribes shares the subscribe form's budgets, per client and for the page.
subscribe_limits = (
    limiter.shared_limit(per_client_rate, scope="subscribe-client", methods=["POST"],
                         exempt_when=lambda: not current_app.config[
                             "SUBSCRIBE_PER_CLIENT_PER_HOUR"],
                         error_message=TOO_MANY_SUBSCRIPTIONS),
    limiter.shared_limit(total_rate, key_func=lambda: "page", scope="subscribe-total",
                         methods=["POST"], deduct_when=accepted,
                         exempt_when=lambda: not current_app.config["SUBSCRIBE_PER_HOUR"],
                         error_message=TOO_MANY_SUBSCRIPTIONS))


@bp.route("/subscribe/channel", methods=["GET", "POST"])
@subscribe_limits[0]
@subscribe_limits[1]
def subscribe_channel() -> Page:
    """Ask for updates at a webhook, or in a Slack or Teams channel."""
    form = ChannelSubscribeForm()
    if not form.validate_on_submit():  # the proof of work is checked before anything else
        return _channel_page(form, _unsent(form))
    try:
        followers.subscribe_endpoint(form.channel.data, form.endpoint.data,
                                     email=form.email.data or None, language=current_language())
    except DomainError as exc:
        _refused(form, exc)
        return _channel_page(form, exc.status_code)
    return render_template("public/subscribe_posted.html", channel=form.channel.data,
                           address=form.email.data)


@bp.route("/incidents/<int:incident_id>/subscribe", methods=["GET", "POST"])
@subscribe_limits[0]
@subscribe_limits[1]
def follow_incident(incident_id: int) -> Page:
    """Follow one incident by email or webhook, until it is resolved. By email, a worker
    emails the link: the same answer, after the same work, whoever the address is."""
    incident, form = page.incident(incident_id), FollowForm()
    if not form.validate_on_submit():  # the proof of work is checked before anything else
        return _follow_page(form, incident, _unsent(form))
    try:
        if form.endpoint.data:
            followers.subscribe_endpoint("webhook", form.endpoint.data, email=form.email.data,
                                         incident_id=incident_id, language=current_language())
        else:
            signup.request_follow(incident_id, form.email.data or "",
                                  language=current_language())
    except DomainError as exc:
        _refused(form, exc)
        return _follow_page(form, incident, exc.status_code)
    return render_template("public/subscribe_posted.html", address=form.email.data,
                           channel="webhook" if form.endpoint.data else "email")


def _unsent(form: FlaskForm) -> int:
    # The empty form, or a submitted one refused (a missing proof of work among the reasons).
    return 422 if form.is_submitted() else 200


def _channel_page(form: ChannelSubscribeForm, status: int) -> Page:
    return render_template("public/subscribe_channel.html", form=form,
                           challenge=page_challenge()), status


def _follow_page(form: FollowForm, incident: page.IncidentView, status: int) -> Page:
    return render_template("public/follow.html", form=form, incident=incident,
                           challenge=page_challenge() if incident.is_open else None), status


def _refused(form: FlaskForm, exc: DomainError) -> None:
    db.session.rollback()
    if not show_domain_error(form, exc):
        form.form_errors.append(people_message(exc.message))


@bp.route("/subscriptions/confirm/<token>", methods=["GET", "POST"])
@signed_link_pages
def confirm_subscription(token: str) -> Page:
    """The emailed link: confirm the choice made before it was sent (or, for a subscriber whom
    ops added, choose now); nothing changes until the button is pressed."""
    subscriber = subscriptions.load_token(TokenPurpose.CONFIRM, token)
    pending = signup.pending_request(subscriber)
    if pending is not None:
        return _confirm_pending(subscriber, pending)
    if subscriber.confirmed:  # the link was followed before: the subscription is as chosen
        return _to_manage_page(subscriber, gettext("Your subscription is confirmed."))
    return _choice_page(subscriber, "public/subscription_confirm.html",
                        gettext("Your subscription is confirmed."))


@bp.post("/subscriptions/confirm/<token>/resend")
@signed_link_pages
def resend_confirmation(token: str) -> Page:
    """Email a fresh link in place of an expired one (a forged one gets nothing)."""
    subscriptions.resend_link(token)
    return render_template("public/subscribe_sent.html", address=None)


@bp.route("/subscriptions/manage/<token>", methods=["GET", "POST"])
@signed_link_pages
def manage_subscription(token: str) -> Page:
    """See and change what a subscriber hears about, and in which language."""
    subscriber = subscriptions.load_token(TokenPurpose.MANAGE, token)
    leave = subscriptions.make_token(subscriber, TokenPurpose.UNSUBSCRIBE)
    return _choice_page(subscriber, "public/subscription_manage.html",
                        gettext("Your choice is saved."),
                        unsubscribe_url=url_for(".unsubscribe_page", token=leave))


@bp.get("/subscriptions/unsubscribe/<token>")
@signed_link_pages
def unsubscribe_page(token: str) -> str:
    """Ask before unsubscribing: a GET (a link scanner, a preview) must change nothing."""
    subscriber = subscriptions.load_token(TokenPurpose.UNSUBSCRIBE, token)
    return render_template("public/subscription_unsubscribe.html", subscriber=subscriber)


@bp.post("/subscriptions/unsubscribe/<token>")
def unsubscribe(token: str) -> str:
    """Unsubscribe, from the page's button or a mail client's one-click unsubscribe."""
    subscriber = subscriptions.load_token(TokenPurpose.UNSUBSCRIBE, token)
    address = subscriber.target
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
                           message=people_message(exc.message),
                           resend_url=resend_url), exc.status_code


@bp.after_request
def keep_links_private(response: Response) -> Response:
    """Pages under a signed link are never cached, and never leak the link as a Referer."""
    if "token" in (request.view_args or {}):
        response.cache_control.no_store = True
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _tree() -> list[comp.Component | comp.ComponentGroup]:
    return [item for item in comp.component_tree()
            if not isinstance(item, comp.ComponentGroup) or item.components]


def _new_choice_page(form: NewSubscriptionForm, address: str, status: int = 200) -> Page:
    return render_template("public/subscribe_choose.html", form=form, address=address,
                           tree=_tree(), challenge=page_challenge()), status


def _address_again(exc: TokenError) -> Page:
    form = SubscribeForm(meta={"csrf": False})
    form.email.errors = [people_message(exc.message)]
    return render_template("public/subscribe.html", form=form), 422


def _to_manage_page(subscriber: Subscriber, message: str) -> Response:
    flash(message)
    return redirect(url_for(".manage_subscription", token=subscriptions.make_token(
        subscriber, TokenPurpose.MANAGE)))


def _confirm_pending(subscriber: Subscriber, pending: signup.SubscriptionRequest) -> Page:
    form = ConfirmChoiceForm(request_id=str(pending.id))
    status = 200
    if form.is_submitted():
        try:
            if not form.validate():
                raise DomainError(N_("The form was too old; press the button again."))
            signup.activate(subscriber, form.request_id.data)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(people_message(exc.message))
            pending = signup.pending_request(subscriber) or pending
            form.request_id.data, status = str(pending.id), exc.status_code
        else:
            return _to_manage_page(subscriber, gettext("Your subscription is confirmed."))
    return render_template("public/subscription_confirm_choice.html", form=form,
                           subscriber=subscriber, pending=pending,
                           chosen=signup.pending_components(pending)), status


def _choice_page(subscriber: Subscriber, template: str, saved: str, **context: str) -> Page:
    form = SubscriptionChoiceForm()
    status = 200
    if not form.is_submitted():
        form.language.data = subscriber.language
        if subscriber.confirmed:  # a new subscriber starts from "all components"
            form.show(subscriber.all_components, [c.id for c in subscriber.components],
                      preferences=preferences.preferences_of(subscriber))
        else:
            form.component_events.data = True
    elif not form.validate():
        status = 422
    else:
        try:
            subscriptions.choose(subscriber, **form.choice())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(people_message(exc.message))
            status = exc.status_code
        else:
            return _to_manage_page(subscriber, saved)
    return render_template(template, form=form, subscriber=subscriber, tree=_tree(),
                           answers=followers.last_answers(subscriber), **context), status


def _index() -> Built:
    snap = page.snapshot()
    return built(render_template("public/index.html", snap=snap), last_modified=snap.modified_at)


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    # Mail clients POST `List-Unsubscribe=One-Click` without a CSRF token (RFC 8058); the
    # signed link itself is the proof that the request comes from the subscriber. The address
    # step changes nothing, and its form sits on pages every visitor shares.
    csrf.exempt(unsubscribe)
    csrf.exempt(subscribe)
    app.register_blueprint(bp)
