"""The forms that subscribe a webhook, Slack or Teams channel, or follow one incident.

The visitors' forms carry the proof of work of the email subscribe form (``ChallengeForm``):
each makes the site email an address or post to a URL that the visitor names."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from .forms import strip_text
from .public_forms import ChallengeForm


class EndpointFields(FlaskForm):
    """A webhook (endpoint and contact email), or a Slack or Teams incoming-webhook URL."""

    channel = SelectField(lazy_gettext("Deliver to"), default="webhook", choices=[
        SelectChoice("webhook", lazy_gettext("A webhook (JSON in Statuspage's shape)")),
        SelectChoice("slack", lazy_gettext("A Slack channel (incoming webhook)")),
        SelectChoice("teams", lazy_gettext("A Microsoft Teams channel (incoming webhook)"))])
    endpoint = StringField(lazy_gettext("Webhook URL"), filters=[strip_text])
    email = EmailField(lazy_gettext("Contact email (webhooks)"), filters=[strip_text])


class ChannelSubscribeForm(ChallengeForm, EndpointFields):
    """A visitor subscribes a webhook, Slack or Teams channel to the whole page."""


class FollowForm(ChallengeForm):
    """Follow one incident: by email, or by webhook (an endpoint and a contact email)."""

    email = EmailField(lazy_gettext("Email address"), filters=[strip_text])
    endpoint = StringField(lazy_gettext("Or a webhook URL (the email is then its contact)"),
                           filters=[strip_text])


class EndpointForm(EndpointFields):
    """Ops add a webhook, Slack or Teams subscriber, confirmed at once when they may (signed
    in, they are asked for no proof of work)."""

    confirmed = BooleanField("Active at once (skip the confirmation)")
