"""Reading a request body: JSON wrapped in the resource name (``{"incident": {...}}``; an
unwrapped one is read too) or Rails-style form fields (``incident[name]=...``), which
``unflatten_form`` turns into the same nested dict, so that one model checks both.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic
from flask import request
from pydantic import BaseModel
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from ...validation import ValidationError

M = TypeVar("M", bound=BaseModel)


_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def unflatten_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """Rails-style form fields (``incident[components][3]=x``, ``incident[ids][]=1``) as a
    nested dict."""
    out: dict[str, Any] = {}
    for raw_key, value in form.items(multi=True):
        match = _FORM_KEY.match(raw_key)
        if not match:
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        is_list = len(parts) > 1 and parts[-1] == ""
        if is_list:
            parts.pop()
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if is_list:
            if not isinstance(node.get(parts[-1]), list):
                node[parts[-1]] = []
            node[parts[-1]].append(value)
        else:
            node[parts[-1]] = value
    return out


# Statuspage's bodies nest four deep at most; a deeper one is an attack on the parser.
MAX_DEPTH = 32


def _check_json(data: Any) -> None:
    """Refuse what parses as JSON but no operation could store: lone surrogates (``\ud800``
    is valid JSON, not text UTF-8 or a database can hold) and deep nesting."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest("The body is nested too deeply.")
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not _encodes(value):
            raise BadRequest("The body contains text that is not valid Unicode.")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def request_data() -> dict[str, Any]:
    """The whole request body, JSON or form fields, as a dict."""
    if request.is_json:
        try:
            data = request.get_json(silent=True) if request.get_data() else {}
        except RecursionError:  # the parser's own limit, long before MAX_DEPTH is checked
            raise BadRequest("The body is nested too deeply.") from None
        if data is None:
            raise BadRequest("The body is not valid JSON.")
        _check_json(data)
    else:
        data = unflatten_form(request.form)
    if not isinstance(data, dict):
        raise ValidationError("The body must be an object.", "body")
    return data


def read(model: type[M], resource: str, *, beside: tuple[str, ...] = ()) -> M:
    """The body's ``resource`` object checked by ``model``; ``beside`` names fields that may
    also sit next to the wrapped object."""
    data = request_data()
    fields = data.get(resource, data)
    if not isinstance(fields, dict):
        raise ValidationError(f"{resource} must be an object.", resource)
    return check(model, {**{k: data[k] for k in beside if k in data}, **fields})


def check(model: type[M], data: dict[str, Any]) -> M:
    """``data`` checked by ``model``; pydantic's own refusals become a ValidationError too."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        raise ValidationError(error["msg"], str(error["loc"][0]) if error["loc"] else None
                              ) from None
