"""Ops console: webhook, Slack and Teams subscribers added by hand."""

from __future__ import annotations

from ... import followers
from ...validation import DomainError
from ..channel_forms import EndpointForm
from . import Page, actor, admin_required, bp, done, invalid, refused


@bp.route("/subscribers/endpoints/new", methods=["GET", "POST"])
@admin_required
def new_endpoint() -> Page:
    """Add a webhook (URL and contact email), a Slack or a Teams channel."""
    form = EndpointForm()
    if not form.validate_on_submit():
        return invalid("admin/subscriber_endpoint.html", form)
    try:
        subscriber = followers.add_endpoint(
            form.channel.data, form.endpoint.data, email=form.email.data or None,
            confirmed=form.confirmed.data, actor=actor())
    except DomainError as exc:
        return refused("admin/subscriber_endpoint.html", form, exc)
    state = "active" if subscriber.confirmed else "waiting for its confirmation link"
    return done(f"{subscriber.channel.value.capitalize()} subscriber added, {state}.",
                ".subscribers")
