"""The forms that subscribe a webhook, Slack or Teams channel, or follow one incident."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from .forms import strip_text


class ChannelSubscribeForm(FlaskForm):
    """A webhook (endpoint and contact email), or a Slack or Teams incoming-webhook URL."""

    channel = SelectField("Deliver to", default="webhook", choices=[
        SelectChoice("webhook", "A webhook (JSON in Statuspage's shape)"),
        SelectChoice("slack", "A Slack channel (incoming webhook)"),
        SelectChoice("teams", "A Microsoft Teams channel (incoming webhook)")])
    endpoint = StringField("Webhook URL", filters=[strip_text])
    email = EmailField("Contact email (webhooks)", filters=[strip_text])


class FollowForm(FlaskForm):
    """Follow one incident: by email, or by webhook (an endpoint and a contact email)."""

    email = EmailField("Email address", filters=[strip_text])
    endpoint = StringField("Or a webhook URL (the email is then its contact)",
                           filters=[strip_text])


class EndpointForm(ChannelSubscribeForm):
    """Ops add a webhook, Slack or Teams subscriber, confirmed at once when they may."""

    confirmed = BooleanField("Active at once (skip the confirmation)")
