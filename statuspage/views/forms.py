"""WTForms for the public pages and the ops console.

Forms check the shape of input (present, not too long, a date that parses); the domain
operations check the rules and the vocabulary, so their messages are the ones people see for
an unknown status. Field names follow the operations' argument names, so that a DomainError's
``field`` points at the field to show it next to.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import available_timezones

from flask_babel import gettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import components as comp
from .. import incidents as inc
from .. import vocabulary
from ..languages import DEFAULT_LANGUAGE, current_language
from ..site import get_page_settings
from ..staff import PASSWORD_MAX, Role
from ..validation import DomainError
from ..vocabulary import ComponentStatus, Impact, IncidentStatus, MaintenanceStatus

# --- shared pieces -------------------------------------------------------------------------------


def strip_text(value: Any) -> Any:
    """A text field's value without surrounding whitespace (a filter)."""
    return value.strip() if isinstance(value, str) else value


_strip = strip_text


def required(label: str) -> DataRequired:
    """The "must not be empty" check, worded as the domain words it."""
    return DataRequired(message=f"{label} must not be empty.")


def at_most(label: str, length: int) -> Length:
    """The length check, worded as the domain words it."""
    return Length(max=length, message=f"{label} must be at most {length} characters.")


def page_zone() -> tzinfo:
    """The page's time zone: datetime-local inputs are read and shown in it."""
    return get_page_settings().zone


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


COMPONENT_STATUS_CHOICES = [SelectChoice(s.value, s.label) for s in ComponentStatus]
INCIDENT_STATUS_CHOICES = [SelectChoice(s.value, vocabulary.STATUS_LABELS[s.value])
                           for s in IncidentStatus if s is not IncidentStatus.POSTMORTEM]
MAINTENANCE_STATUS_CHOICES = [SelectChoice(s.value, vocabulary.STATUS_LABELS[s.value])
                              for s in MaintenanceStatus]
IMPACT_CHOICES = [SelectChoice("", "Derive from the components"),
                  *(SelectChoice(i.value, i.value.capitalize()) for i in Impact
                    if i is not Impact.MAINTENANCE)]


def show_domain_error(form: FlaskForm, exc: DomainError) -> bool:
    """Put ``exc``'s message next to its field; False when the form has no such field."""
    field = form._fields.get(exc.field or "")
    if field is None:
        return False
    # Process-time errors are a tuple until validation ran; a list is needed to append.
    field.errors = [*field.errors, people_message(exc.message)]
    return True


class NotifyForm(FlaskForm):
    """A button that changes state and may tell subscribers: resolve, start, complete, cancel."""

    deliver_notifications = BooleanField("Notify subscribers", default=True)


class ResolveForm(NotifyForm):
    """Resolve an incident (complete a maintenance) with a closing message of one's own."""

    body = TextAreaField("Closing message", filters=[_strip], validators=[
        at_most("Message", inc.BODY_MAX)])


# --- ops console: signing in ----------------------------------------------------------------------


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[required("Email"), at_most("Email", 254)],
                       filters=[_strip])
    password = PasswordField("Password", validators=[required("Password"),
                                                     at_most("Password", PASSWORD_MAX)])
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField("Code", filters=[_strip], validators=[
        required("Code"), at_most("Code", 40)])


class RequireTwoFactorForm(FlaskForm):
    required = HiddenField()


# --- ops console: components and groups ----------------------------------------------------------


class ComponentForm(FlaskForm):
    name = StringField("Name", validators=[required("Name"), at_most("Name", comp.NAME_MAX)],
                       filters=[_strip])
    description = TextAreaField("Description", filters=[_strip], validators=[
        at_most("Description", comp.DESCRIPTION_MAX)])
    group_id = SelectField("Group", choices=[SelectChoice("", "No group")])
    showcase = BooleanField("Show uptime bars", default=True)
    only_show_if_degraded = BooleanField("Only show when it is not operational")
    start_date = DateField("Start date (uptime is counted from here)", validators=[Optional()])

    def set_groups(self, groups: Iterable[comp.ComponentGroup]) -> None:
        """Offer these groups in the group select."""
        self.group_id.choices = [SelectChoice("", "No group"),
                                 *(SelectChoice(str(g.id), g.name) for g in groups)]

    def changes(self) -> dict[str, Any]:
        """The fields that create_component and update_component take, as entered."""
        return {"name": self.name.data, "description": self.description.data,
                "group_id": self.group_id.data or None, "showcase": self.showcase.data,
                "only_show_if_degraded": self.only_show_if_degraded.data,
                "start_date": self.start_date.data}


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[required("Name"), at_most("Name", comp.NAME_MAX)],
                       filters=[_strip])
    description = TextAreaField("Description", filters=[_strip], validators=[
        at_most("Description", comp.DESCRIPTION_MAX)])
    collapsed = BooleanField("Collapsed on the public page", default=True)

    def changes(self) -> dict[str, Any]:
        """The fields that create_group and update_group take, as entered."""
        return {"name": self.name.data, "description": self.description.data,
                "collapsed": self.collapsed.data}


class ComponentStatusForm(FlaskForm):
    # The domain checks the vocabulary and names the allowed values in its message.
    status = SelectField("Status", choices=COMPONENT_STATUS_CHOICES, validate_choice=False,
                         validators=[InputRequired(message="Choose a status.")])
    next = HiddenField()


class MoveForm(FlaskForm):
    direction = SelectField("Direction", choices=[SelectChoice("up", "Up"),
                                                       SelectChoice("down", "Down")],
                            validators=[InputRequired(message="Choose up or down.")])


# --- ops console: incidents -----------------------------------------------------------------------

COMPONENT_FIELD_PREFIX = "component-"


class _ComponentChoices:
    """Adds one select per component (``component-<id>``) whose blank option means "not
    affected", and reads them back as the {id: status} mapping the operations take."""

    def component_fields(self) -> list[Field]:
        """The per-component selects, in page order."""
        return [f for name, f in self._fields.items()
                if name.startswith(COMPONENT_FIELD_PREFIX)]

    def component_changes(self) -> dict[int, str]:
        """The chosen status of every affected component."""
        return {int(f.name.removeprefix(COMPONENT_FIELD_PREFIX)): f.data
                for f in self.component_fields() if f.data}


def _with_component_selects(base: type[FlaskForm],
                            components: Iterable[comp.Component]) -> type[FlaskForm]:
    attrs = {
        f"{COMPONENT_FIELD_PREFIX}{c.id}": SelectField(
            c.name, choices=[SelectChoice("", "Not affected"), *COMPONENT_STATUS_CHOICES],
            validate_choice=False, default="")
        for c in components
    }
    return type(base.__name__, (base,), attrs)


class _IncidentUpdateFields(_ComponentChoices, FlaskForm):
    status = SelectField("Status", choices=INCIDENT_STATUS_CHOICES, validate_choice=False,
                         validators=[InputRequired(message="Choose a status.")])
    body = TextAreaField("Message", filters=[_strip], validators=[
        required("Message"), at_most("Message", inc.BODY_MAX)])
    deliver_notifications = BooleanField("Notify subscribers", default=True)

    def update(self) -> dict[str, Any]:
        """The arguments incidents.post_update takes, as entered."""
        return {"status": self.status.data, "body": self.body.data,
                "components": self.component_changes(),
                "deliver_notifications": self.deliver_notifications.data}


class _NewIncidentFields(_IncidentUpdateFields):
    name = StringField("Name", validators=[required("Name"), at_most("Name", inc.NAME_MAX)],
                       filters=[_strip])
    impact_override = SelectField("Impact", choices=IMPACT_CHOICES, validate_choice=False,
                                  default="")

    def opening(self) -> dict[str, Any]:
        """The arguments incidents.open_incident takes, as entered: the first update too."""
        return {"name": self.name.data, "impact_override": self.impact_override.data,
                **self.update()}


def new_incident_form(components: Iterable[comp.Component], **kwargs: Any) -> Any:
    """The form that opens an incident, with a status select per component."""
    return _with_component_selects(_NewIncidentFields, components)(**kwargs)


def incident_update_form(components: Iterable[comp.Component], **kwargs: Any) -> Any:
    """The form that posts an update to an incident, with a status select per component."""
    return _with_component_selects(_IncidentUpdateFields, components)(**kwargs)


class _IncidentTemplateFields(_ComponentChoices, FlaskForm):
    name = StringField("Template name", filters=[_strip], validators=[
        required("Name"), at_most("Name", inc.NAME_MAX)])
    title = StringField("Incident name", filters=[_strip], validators=[
        required("Incident name"), at_most("Incident name", inc.NAME_MAX)])
    status = SelectField("Status", choices=INCIDENT_STATUS_CHOICES, validate_choice=False,
                         validators=[InputRequired(message="Choose a status.")])
    body = TextAreaField("Message", filters=[_strip], validators=[
        at_most("Message", inc.BODY_MAX)])

    def template(self) -> dict[str, Any]:
        """The arguments incident_templates.save_template takes, as entered."""
        return {"name": self.name.data, "title": self.title.data, "status": self.status.data,
                "body": self.body.data, "components": self.component_changes()}


def incident_template_form(components: Iterable[comp.Component], **kwargs: Any) -> Any:
    """The form of an incident template, with a status select per component."""
    return _with_component_selects(_IncidentTemplateFields, components)(**kwargs)


class IncidentEditForm(FlaskForm):
    name = StringField("Name", validators=[required("Name"), at_most("Name", inc.NAME_MAX)],
                       filters=[_strip])
    impact_override = SelectField("Impact", choices=IMPACT_CHOICES, validate_choice=False)

    def changes(self) -> dict[str, Any]:
        """The edits that incidents.change_incident takes, as entered."""
        return {"name": self.name.data, "impact_override": self.impact_override.data}


class UpdateTextForm(FlaskForm):
    body = TextAreaField("Message", filters=[_strip], validators=[
        required("Message"), at_most("Message", inc.BODY_MAX)])


class PostmortemForm(FlaskForm):
    postmortem = TextAreaField("Postmortem (Markdown)", filters=[_strip], validators=[
        at_most("Postmortem", inc.BODY_MAX * 5)])


# --- ops console: maintenance ---------------------------------------------------------------------


class PageTimeField(DateTimeLocalField):
    """A local date and time in the page's zone, refused when the zone skips it (clocks go
    forward) or it lies outside the years a status page deals with."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is None:
            return
        local = self.data
        try:
            round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
        except OverflowError:
            round_trip = None
        if round_trip is None or not 1970 <= local.year <= 9000:
            self.data = None
            raise ValueError("Enter a date between 1970 and 9000.")
        if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
            self.data = None
            raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {local.tzinfo} "
                             "(the clocks change then).")


class MaintenanceEditForm(FlaskForm):
    name = StringField("Name", validators=[required("Name"), at_most("Name", inc.NAME_MAX)],
                       filters=[_strip])
    scheduled_for = PageTimeField(
        "Starts", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        tz=page_zone, validators=[InputRequired(message="Enter when it starts.")])
    scheduled_until = PageTimeField(
        "Ends", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        tz=page_zone, validators=[InputRequired(message="Enter when it ends.")])
    component_ids = MultiCheckboxField("Components", coerce=int, choices=[])
    auto_start = BooleanField("Start automatically at the start time", default=True)
    auto_complete = BooleanField("Complete automatically at the end time", default=True)
    to_maintenance_state = BooleanField("Move the components to Under Maintenance when it "
                                        "starts", default=True)
    to_operational_state = BooleanField("Move them back to Operational when it completes",
                                        default=True)
    remind_prior = BooleanField("Remind subscribers before it starts", default=True)
    reminder_minutes = IntegerField("Minutes before the start to remind them", validators=[
        Optional(), NumberRange(min=1, max=10080, message="Between 1 minute and 7 days.")])

    def set_components(self, components: Iterable[comp.Component]) -> None:
        """Offer these components as checkboxes."""
        self.component_ids.choices = [SelectChoice(c.id, c.name) for c in components]

    def changes(self) -> dict[str, Any]:
        """The edits that maintenance.change_maintenance takes, as entered."""
        return {name: self._fields[name].data for name in (
            "name", "scheduled_for", "scheduled_until", "component_ids", "auto_start",
            "auto_complete", "to_maintenance_state", "to_operational_state", "remind_prior",
            "reminder_minutes")}


class MaintenanceForm(MaintenanceEditForm):
    body = TextAreaField("Message", filters=[_strip], validators=[
        at_most("Message", inc.BODY_MAX)])
    deliver_notifications = BooleanField("Notify subscribers now", default=True)


class MaintenanceUpdateForm(FlaskForm):
    status = SelectField("Status", choices=MAINTENANCE_STATUS_CHOICES, validate_choice=False,
                         validators=[InputRequired(message="Choose a status.")])
    body = TextAreaField("Message", filters=[_strip], validators=[
        required("Message"), at_most("Message", inc.BODY_MAX)])
    deliver_notifications = BooleanField("Notify subscribers", default=True)

    def update(self) -> dict[str, Any]:
        """The arguments incidents.post_update takes, as entered."""
        return {"status": self.status.data, "body": self.body.data,
                "deliver_notifications": self.deliver_notifications.data}


# --- ops console: subscribers -------------------------------------------------------------------


class SubscriberImportForm(FlaskForm):
    file = FileField("CSV file", validators=[
        FileRequired(message="Choose a CSV file."),
        FileAllowed(["csv", "txt"], message="Upload a .csv or .txt file.")])
    confirmed = BooleanField(
        "These people already agreed to receive our email: subscribe them to all components "
        "now, without a confirmation email")

    def csv_text(self) -> str | None:
        """The uploaded file as text; None, with the reason on the field, unless UTF-8."""
        try:
            return self.file.data.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            self.file.errors = ["The file is not UTF-8 text. Save it as CSV (UTF-8) and retry."]
            return None


# --- ops console: page settings and staff ---------------------------------------------------------


def time_zone_choices() -> list[SelectChoice]:
    """Every IANA time zone, sorted."""
    return [SelectChoice(name) for name in sorted(available_timezones())]


class PageSettingsForm(FlaskForm):
    name = StringField("Page name", validators=[required("Name"), at_most("Name", 100)],
                       filters=[_strip])
    url = StringField("Public URL", filters=[_strip], validators=[at_most("Url", 255)])
    time_zone = SelectField("Time zone", validate_choice=False)
    support_url = StringField("Support URL", filters=[_strip],
                              validators=[at_most("Support url", 255)])
    logo_url = StringField("Logo URL", filters=[_strip], validators=[at_most("Logo url", 255)])
    accent_color = StringField("Accent colour", filters=[_strip],
                               validators=[required("Accent colour")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone.choices = time_zone_choices()

    def changes(self) -> dict[str, Any]:
        """The settings that update_page_settings takes, as entered."""
        return {name: self._fields[name].data for name in (
            "name", "url", "time_zone", "support_url", "logo_url", "accent_color")}


ROLE_CHOICES = [SelectChoice(r.value, r.value.capitalize()) for r in Role]


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[required("Email"), at_most("Email", 254)],
                       filters=[_strip])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False,
                       default=Role.EDITOR.value)
    password = PasswordField("Password", validators=[required("Password"),
                                                     at_most("Password", PASSWORD_MAX)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False,
                       validators=[InputRequired(message="Choose a role.")])


class ActiveForm(FlaskForm):
    active = SelectField("Active", choices=[SelectChoice("1", "Active"),
                                            SelectChoice("0", "Deactivated")],
                         validators=[InputRequired(message="Choose active or deactivated.")])


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[required("Name"), at_most("Name", 100)],
                       filters=[_strip])
    scope = SelectField("Scope", default="read", validate_choice=False, choices=[
        SelectChoice("read", "Read: look only"),
        SelectChoice("write", "Write: open incidents, change components and the page"),
    ])
    subscribers = BooleanField("Subscriber addresses: may list them (and, with write, add "
                               "and remove subscribers)")


# --- public: a domain message as a visitor reads it --------------------------------------------


def people_message(message: str) -> str:
    """A domain message as a visitor reads it: its translation, or a general one where the
    message has none (one naming an id only a tampered form can send)."""
    translated = gettext(message)
    if translated == message and current_language() != DEFAULT_LANGUAGE:
        return gettext("This cannot be used; check the form and try again.")
    return translated
