"""What the management API reads: request bodies and query strings, one pydantic model each.

JSON and form bodies reach the same model (see ``bodies``). The models are lenient about
spelling, as Statuspage's clients are (form fields are all text, ``"0"`` is false), and strict
about shape; the domain operations check the rest, so the console and the API refuse the same
things in the same words. A refusal is the domain's ``ValidationError`` naming the field, raised
by the first field that fails, in the order the fields are declared.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self

from flask import request
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from ... import components as comp
from ... import incidents as inc
from ...dbtypes import parse_id
from ...languages import DEFAULT_LANGUAGE, LANGUAGES
from ...validation import NotFound, ValidationError
from ...vocabulary import ComponentStatus, Impact, IncidentKind, IncidentStatus, MaintenanceStatus
from .bodies import check

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})
MAINTENANCE_STATUSES = tuple(s.value for s in MaintenanceStatus)

# --- the lenient field types ------------------------------------------------------------------

def _text(value: Any, info: ValidationInfo) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise ValidationError(f"{info.field_name} must be text.", info.field_name)


def _flag(value: Any, info: ValidationInfo) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ValidationError(f"{info.field_name} must be true or false.", info.field_name)


def _time(value: Any, info: ValidationInfo) -> datetime:
    name = info.field_name or "time"
    try:
        parsed = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        # Far-off years overflow on the way to UTC; a status page needs none of them.
        if (parsed is not None and parsed.tzinfo is not None
                and not 1970 <= parsed.astimezone(UTC).year <= 9000):
            parsed = None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(f"{name.replace('_', ' ').capitalize()} must be an ISO 8601 date "
                              "and time with an offset, e.g. 2026-05-20T02:00:00Z.", name)
    return parsed


def _time_or_none(value: Any, info: ValidationInfo) -> datetime | None:
    return None if value in (None, "") else _time(value, info)


def _day(value: Any, info: ValidationInfo) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{info.field_name} must be a date such as 2024-05-14.",
                              info.field_name) from None


def _ids(value: Any, info: ValidationInfo) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value if str(v).strip()]
    raise ValidationError(f"{info.field_name} must be a list of ids.", info.field_name)


def _status_map(value: Any, info: ValidationInfo) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError("components must map component ids to statuses.", "components")
    return {str(k): v for k, v in value.items()}


def group_key(value: Any, field: str) -> int:
    """A group id as the v2 API spells it ("g3") or bare ("3")."""
    text = str(value).strip() if isinstance(value, str | int) else None
    match = re.fullmatch(r"g?(\d+)", text or "")
    key = parse_id(match.group(1)) if match else None
    if key is None:
        raise ValidationError(f"Unknown component group {value!r}.", field)
    return key


def _group(value: Any, info: ValidationInfo) -> int | None:
    if value in (None, ""):
        return None
    group = comp.find(comp.ComponentGroup, group_key(value, "group_id"))
    if group is None:
        raise ValidationError(f"Unknown component group {value!r}.", "group_id")
    return group.id


def _known_components(value: Any, info: ValidationInfo) -> list[comp.Component]:
    found = []
    for raw in _ids(value, info):
        try:
            found.append(comp.get_component(raw))
        except NotFound:
            raise ValidationError(f"Unknown component {raw!r}.", info.field_name) from None
    return found


def _choice(*enums: Any) -> Any:
    """Text that should be one of the enums' values (the operation that takes it checks)."""
    values = [str(m) for enum in enums for m in enum]
    return Annotated[str | None, BeforeValidator(_text),
                     WithJsonSchema({"type": "string", "enum": list(dict.fromkeys(values))})]


def _status_of(kind: IncidentKind) -> Any:
    def status(value: Any, info: ValidationInfo) -> str | None:
        """The status, if it is one this kind of incident takes."""
        text = _text(value, info)
        return None if text is None else inc.parse_status(kind, text)

    enum = MaintenanceStatus if kind is IncidentKind.MAINTENANCE else IncidentStatus
    values = [s.value for s in enum if s is not IncidentStatus.POSTMORTEM]
    return Annotated[str | None, BeforeValidator(status),
                     WithJsonSchema({"type": "string", "enum": values})]


def _impact(value: Any, info: ValidationInfo) -> str | None:
    inc.parse_impact(value)
    return _text(value, info)


Text = Annotated[str | None, BeforeValidator(_text), WithJsonSchema({"type": "string"})]
Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema({"type": "boolean"})]
Time = Annotated[datetime, BeforeValidator(_time),
                 WithJsonSchema({"type": "string", "format": "date-time"})]
TimeOrNone = Annotated[datetime | None, BeforeValidator(_time_or_none),
                       WithJsonSchema({"type": ["string", "null"], "format": "date-time"})]
Day = Annotated[date | None, BeforeValidator(_day),
                WithJsonSchema({"type": ["string", "null"], "format": "date"})]
Ids = Annotated[list[str], BeforeValidator(_ids),
                WithJsonSchema({"type": "array", "items": {"type": "string"}})]
KnownComponents = Annotated[list[Any], BeforeValidator(_known_components),
                            WithJsonSchema({"type": "array", "items": {"type": "string"}})]
StatusMap = Annotated[dict[str, Any], BeforeValidator(_status_map), WithJsonSchema({
    "type": "object", "description": "Component id to the status it moves to.",
    "additionalProperties": {"type": "string", "enum": [s.value for s in ComponentStatus]}})]
GroupRef = Annotated[int | None, BeforeValidator(_group), WithJsonSchema(
    {"type": ["string", "null"], "description": "A group id, g3 as v2 spells it, or 3."})]
ComponentStatusText = _choice(ComponentStatus)
IncidentStatusText = _status_of(IncidentKind.INCIDENT)
MaintenanceStatusText = _status_of(IncidentKind.MAINTENANCE)
IMPACTS = WithJsonSchema({"type": ["string", "null"],
                          "enum": [*(i.value for i in Impact), None]})
ImpactText = Annotated[str | None, BeforeValidator(_text), IMPACTS]  # the operation checks it
CheckedImpact = Annotated[str | None, BeforeValidator(_impact), IMPACTS]  # checked here


class Input(BaseModel):
    """Base of the request models: unknown fields are ignored, as Statuspage ignores them."""

    model_config = ConfigDict(extra="ignore")

    def given(self) -> dict[str, Any]:
        """The fields the client sent, by the names the operations take."""
        return self.model_dump(by_alias=True, include=self.model_fields_set)


# --- the bodies ---------------------------------------------------------------------------------

class PageInput(Input):
    """The page settings the management API can change."""

    name: Text = None
    url: Text = None
    time_zone: Text = Field(None, description="An IANA time zone name.")
    support_url: Text = None


class ComponentInput(Input):
    """A component's fields; a changed status is kept in its history."""

    name: Text = None
    description: Text = None
    status: ComponentStatusText = None
    group_id: GroupRef = None
    showcase: Flag = None  # type: ignore[assignment]
    only_show_if_degraded: Flag = None  # type: ignore[assignment]
    start_date: Day = None

    def create_args(self) -> dict[str, Any]:
        """What ``create_component`` takes: a name (empty when none was sent) and the rest."""
        return {**self.given(), "name": self.name or ""}


class ComponentGroupInput(Input):
    """A group's name, description and members (the description may sit beside the object,
    as Statuspage documents it)."""

    name: Text = None
    description: Text = None
    components: Ids = Field(default_factory=list, serialization_alias="component_ids")

    def create_args(self) -> dict[str, Any]:
        """What ``create_group`` takes: a name (empty when none was sent) and the rest."""
        return {**self.given(), "name": self.name or ""}


class IncidentInput(Input):
    """An incident's fields; a status, body or component statuses post an update."""

    status: IncidentStatusText = None
    name: Text = None
    body: Text = Field(None, description="Markdown; becomes the new update's body.")
    components: StatusMap = Field(default_factory=dict, description=(
        "Component id to the status it moves to, as part of this change; shows up as the new "
        "update's affected_components."))
    component_ids: KnownComponents = Field(default_factory=list, description=(
        "Components the update names at their current status."))
    impact_override: CheckedImpact = None
    deliver_notifications: Flag = True

    def component_changes(self) -> dict[str, Any]:
        """The ``components`` status map, plus ``component_ids`` at their current status."""
        changes = dict(self.components)
        for component in self.component_ids:
            changes.setdefault(str(component.id), component.status)
        return changes

    def change_args(self) -> dict[str, Any]:
        """What ``change_incident`` takes."""
        return {"edits": self.model_dump(include={"name", "impact_override"}
                                         & self.model_fields_set),
                "status": self.status, "body": self.body,
                "components": self.component_changes(),
                "deliver_notifications": self.deliver_notifications}


class NewIncident(IncidentInput):
    """A new incident: investigating unless another status is given."""

    impact_override: ImpactText = None

    @model_validator(mode="before")
    @classmethod
    def investigating_by_default(cls, data: Any) -> Any:
        """No status, or an empty one, is investigating."""
        if isinstance(data, dict) and data.get("status") in (None, ""):
            return {**data, "status": IncidentStatus.INVESTIGATING.value}
        return data

    def open_args(self) -> dict[str, Any]:
        """What ``open_incident`` takes."""
        return {"name": self.name or "", "status": self.status, "body": self.body,
                "components": self.component_changes(),
                "impact_override": self.impact_override,
                "deliver_notifications": self.deliver_notifications}


class MaintenanceInput(Input):
    """A maintenance's fields: its window and automation change it; a status, body or component
    statuses post an update. The automation flags carry Statuspage's names; the names the
    operations take are their aliases."""

    status: MaintenanceStatusText = None
    name: Text = None
    scheduled_for: Time = None  # type: ignore[assignment]
    scheduled_until: Time = None  # type: ignore[assignment]
    body: Text = Field(None, description="Markdown; becomes the new update's body.")
    component_ids: Ids = Field(default_factory=list, description="The planned components.")
    components: StatusMap = Field(default_factory=dict)
    deliver_notifications: Flag = True
    scheduled_auto_in_progress: Flag = Field(True, serialization_alias="auto_start")
    scheduled_auto_completed: Flag = Field(True, serialization_alias="auto_complete")
    auto_transition_to_maintenance_state: Flag = Field(
        True, serialization_alias="to_maintenance_state")
    auto_transition_to_operational_state: Flag = Field(
        True, serialization_alias="to_operational_state")
    scheduled_remind_prior: Flag = Field(True, serialization_alias="remind_prior")

    def change_args(self) -> dict[str, Any]:
        """What ``change_maintenance`` takes."""
        edits = {"name", "scheduled_for", "scheduled_until", "component_ids",
                 *MAINTENANCE_FLAGS}
        return {"edits": self.model_dump(by_alias=True, include=edits & self.model_fields_set),
                "status": self.status, "body": self.body, "components": self.components,
                "deliver_notifications": self.deliver_notifications}


# A maintenance's automation flags: Statuspage's name -> the operations' name.
MAINTENANCE_FLAGS = {name: f.serialization_alias
                     for name, f in MaintenanceInput.model_fields.items() if f.serialization_alias}


class NewMaintenance(MaintenanceInput):
    """A new maintenance: created as scheduled, with a window."""

    model_config = ConfigDict(json_schema_extra={"required": ["status", "name", "scheduled_for",
                                                              "scheduled_until"]})

    status: Literal["scheduled"] = Field(MaintenanceStatus.SCHEDULED.value,  # type: ignore
                                         description="A maintenance is created scheduled.")
    scheduled_for: Time = Field(None, validate_default=True)  # type: ignore[assignment]
    scheduled_until: Time = Field(None, validate_default=True)  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def only_scheduled(cls, data: Any) -> Any:
        """In progress, verifying and completed are posted as updates, not created."""
        if isinstance(data, dict) and data.get("status") != MaintenanceStatus.SCHEDULED:
            raise ValidationError("A maintenance is created as scheduled; post in_progress, "
                                  "verifying or completed as updates.", "status")
        return data

    def schedule_args(self) -> dict[str, Any]:
        """What ``schedule_maintenance`` takes; the status map's ids are planned too."""
        flags = self.model_dump(by_alias=True, include=set(MAINTENANCE_FLAGS)
                                & self.model_fields_set)
        return {"name": self.name or "", "scheduled_for": self.scheduled_for,
                "scheduled_until": self.scheduled_until, "body": self.body,
                "component_ids": [*self.component_ids, *self.components],
                "deliver_notifications": self.deliver_notifications, **flags}


def _kind(data: Any) -> str:
    status = data.get("status") if isinstance(data, dict) else None
    return "maintenance" if status in MAINTENANCE_STATUSES else "incident"


NewIncidentOrMaintenance = Annotated[
    Annotated[NewIncident, Tag("incident")] | Annotated[NewMaintenance, Tag("maintenance")],
    Discriminator(_kind)]


class IncidentCreate(RootModel[NewIncidentOrMaintenance]):
    """An incident, or a maintenance (status ``scheduled`` and a window)."""


class IncidentUpdateInput(Input):
    """A correction of an update: its text, displayed time or notification flag."""

    body: Text = None
    display_at: TimeOrNone = None
    deliver_notifications: Flag = None  # type: ignore[assignment]

    def edit_args(self, update: inc.IncidentUpdate) -> dict[str, Any]:
        """What ``edit_update`` takes; an update keeps its body unless a new one is sent."""
        return {"body": update.body if self.body is None else self.body,
                "display_at": self.display_at,
                "deliver_notifications": self.deliver_notifications}


class PostmortemInput(Input):
    """The postmortem draft, as ``body_draft`` (or ``body``), Markdown."""

    body_draft: Text = None
    body: Text = None

    def text(self) -> str:
        """The draft sent, empty when none was."""
        return (self.body_draft if "body_draft" in self.model_fields_set else self.body) or ""


LanguageText = _choice(LANGUAGES)


class PublishInput(Input):
    """Whether publishing the postmortem tells the incident's subscribers."""

    notify_subscribers: Flag = False
    notify_twitter: Flag = False  # accepted, as Statuspage's clients send it; nothing tweets


class SubscriberInput(Input):
    """An email subscriber, or a webhook (``endpoint`` and a contact ``email``), its
    components (groups as g3), whether to skip confirming, and the language of its emails."""

    email: Text = Field(None, json_schema_extra={"format": "email"})
    endpoint: Text = Field(None, json_schema_extra={"format": "uri"},
                           description="A webhook's URL: Statuspage-shaped JSON is POSTed "
                                       "to it; ``email`` is then its contact.")
    component_ids: Ids = Field(default_factory=list)
    skip_confirmation_notification: Flag = False
    language: LanguageText = Field(None, description="The language of its emails (en, pl).")

    def add_args(self) -> dict[str, Any]:
        """What ``add_subscriber`` (or ``add_endpoint``) takes: components and groups apart."""
        groups = [i for i in self.component_ids if i.startswith("g")]
        args: dict[str, Any] = {
            "email": self.email or "",
            "component_ids": [i for i in self.component_ids if i not in groups],
            "group_ids": [group_key(i, "component_ids") for i in groups],
            "confirmed": self.skip_confirmation_notification,
            "language": self.language or DEFAULT_LANGUAGE}
        if self.endpoint is not None:
            args.update(channel="webhook", endpoint=self.endpoint, email=self.email)
        return args


class SubscriberChangeInput(Input):
    """What may change of a subscriber through the API: the language of its emails."""

    language: LanguageText = Field(None, description="The language of its emails (en, pl).")


# --- query strings ------------------------------------------------------------------------------

def _whole(low: int, high: int) -> Any:
    def whole(value: Any) -> int:
        """The number, clamped into range."""
        try:
            return min(max(int(value), low), high)
        except (TypeError, ValueError):
            raise ValidationError("page and limit must be whole numbers.", "limit") from None

    return BeforeValidator(whole)


PAGE_NUMBER = WithJsonSchema({"type": "integer", "minimum": 1})


class Paging(Input):
    """Search text and one page of a long list."""

    q: str = Field("", description="Search text (incident names, subscriber addresses).")
    page: Annotated[int, _whole(1, MAX_PAGE), PAGE_NUMBER] = 1
    limit: Annotated[int, _whole(1, MAX_PER_PAGE), PAGE_NUMBER] = Field(
        DEFAULT_PER_PAGE, validation_alias=AliasChoices("limit", "per_page"))

    @classmethod
    def of_request(cls) -> Self:
        """The paging the query string asks for."""
        return check(cls, request.args.to_dict())

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.limit


class FollowerInput(Input):
    """A follower of one incident: an ``email``, or a webhook ``endpoint`` with its contact
    ``email``, and whether to skip confirming."""

    email: Text = Field(None, json_schema_extra={"format": "email"})
    endpoint: Text = Field(None, json_schema_extra={"format": "uri"})
    skip_confirmation_notification: Flag = False
