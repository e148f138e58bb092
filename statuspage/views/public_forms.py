"""WTForms of the public pages: the address, the choice of components and language, the
button that confirms a pending choice, and the proof of work of every form that subscribes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from .. import challenge, preferences
from ..languages import DEFAULT_LANGUAGE, LANGUAGES
from ..vocabulary import Impact
from .forms import MultiCheckboxField

NOT_SOLVED = lazy_gettext("We could not check that a person sent this form. Wait until it says "
                          "“Ready” below the button (JavaScript must be on), then send it again.")


def solved_challenge(form: FlaskForm, field: Field) -> None:
    """The proof of work the page asked for, when SUBSCRIBE_CHALLENGE is on."""
    if current_app.config["SUBSCRIBE_CHALLENGE"] and not challenge.verify(field.data):
        raise ValidationError(str(NOT_SOLVED))


def page_challenge() -> dict[str, Any] | None:
    """A fresh challenge for a page's ChallengeForm (each solution is good for one send), or
    None when SUBSCRIBE_CHALLENGE is off."""
    return challenge.new_challenge() if current_app.config["SUBSCRIBE_CHALLENGE"] else None


class ChallengeForm(FlaskForm):
    """A public form that makes the site write to an address or URL the visitor names (a
    confirmation email, a POST): it is refused without the proof of work the page asked for
    (templates/public/_challenge.html draws it, static/challenge.js solves it)."""

    altcha = HiddenField(validators=[solved_challenge])


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class SubscribeForm(FlaskForm):
    # No validators: subscriptions.normalise_email decides, so its message is the one shown.
    email = EmailField(lazy_gettext("Email address"), filters=[_strip])


ALL_COMPONENTS = "all"
SOME_COMPONENTS = "some"


def language_choices() -> list[SelectChoice]:
    """The languages an email can be in, each by its own name."""
    return [SelectChoice(code, name) for code, name in LANGUAGES.items()]


class SubscriptionChoiceForm(FlaskForm):
    """All components, or the ticked components and groups (a group stands for its members),
    and the language of the emails.

    The template draws the radios and the tree of checkboxes itself; these fields read them.
    Unknown ids are left to the operations, which refuse them and change nothing.
    """

    scope = SelectField(lazy_gettext("Send me updates about"), default=ALL_COMPONENTS, choices=[
        SelectChoice(ALL_COMPONENTS, lazy_gettext("All components, including ones added later")),
        SelectChoice(SOME_COMPONENTS, lazy_gettext("Only the components I tick")),
    ], validators=[InputRequired(message=lazy_gettext("Choose all components or some."))])
    component_ids = MultiCheckboxField("Components", choices=[], validate_choice=False)
    group_ids = MultiCheckboxField("Groups", choices=[], validate_choice=False)
    language = SelectField(lazy_gettext("Language of the emails"), choices=language_choices(),
                           default=DEFAULT_LANGUAGE)
    notify = SelectField(lazy_gettext("Tell me about"), default="both", choices=[
        SelectChoice("both", lazy_gettext("Incidents and maintenance")),
        SelectChoice("incidents", lazy_gettext("Incidents only")),
        SelectChoice("maintenance", lazy_gettext("Maintenance only"))])
    min_impact = SelectField(lazy_gettext("Incidents of"), default="none", choices=[
        SelectChoice("none", lazy_gettext("Any impact")),
        SelectChoice("minor", lazy_gettext("Minor impact and worse")),
        SelectChoice("major", lazy_gettext("Major and critical impact")),
        SelectChoice("critical", lazy_gettext("Critical impact only"))])
    # Shown to webhooks only; absent from a submitted form, it reads as unticked.
    component_events = BooleanField(lazy_gettext("Component status changes outside incidents"))

    def show(self, all_components: bool, component_ids: Iterable[int],
             language: str | None = None,
             preferences: preferences.Preferences | None = None) -> None:
        """Fill the form with a saved choice, language and preferences."""
        self.scope.data = ALL_COMPONENTS if all_components else SOME_COMPONENTS
        self.component_ids.data = [str(i) for i in component_ids]
        if language is not None:
            self.language.data = language
        if preferences is not None:
            self.notify.data = ("both" if preferences.notify_incidents
                                and preferences.notify_maintenance else
                                "incidents" if preferences.notify_incidents else "maintenance")
            self.min_impact.data = str(preferences.min_impact)
            self.component_events.data = preferences.component_events

    def choice(self) -> dict[str, Any]:
        """The arguments subscriptions.choose takes, as entered."""
        return {"all_components": self.scope.data == ALL_COMPONENTS,
                "component_ids": self.component_ids.data or [],
                "group_ids": self.group_ids.data or [], "language": self.language.data,
                "preferences": preferences.Preferences(
                    notify_incidents=self.notify.data in ("both", "incidents"),
                    notify_maintenance=self.notify.data in ("both", "maintenance"),
                    min_impact=Impact(self.min_impact.data),
                    component_events=bool(self.component_events.data))}


class NewSubscriptionForm(ChallengeForm, SubscriptionChoiceForm):
    """The choice of a new subscription, carrying the address checked in the step before, and
    the proof of work that lets it ask for an email to a stranger."""

    ticket = HiddenField()

    def choice(self) -> dict[str, Any]:
        """What signup.request_subscription takes: preferences are set later, on the manage
        page (a new subscription hears everything its components concern)."""
        return {k: v for k, v in super().choice().items() if k != "preferences"}


class ConfirmChoiceForm(FlaskForm):
    """The button that confirms the pending choice the page shows."""

    request_id = HiddenField()
