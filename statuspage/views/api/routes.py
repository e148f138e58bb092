"""The URL surface of both APIs as data: each view is declared once, with its path, methods and
shapes, and both its URL rules and its part of the OpenAPI document come from that declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from werkzeug.routing import BaseConverter


@dataclass(frozen=True)
class Body:
    """A request body: the model of the object wrapped in ``resource`` (``{"incident": ...}``),
    and the fields that may sit beside the wrapped object."""

    resource: str
    model: type[BaseModel]
    beside: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """One declared view: what the OpenAPI document says about it."""

    path: str  # the Flask rule at the API's first root, e.g. /api/v1/pages/<page_id>
    methods: tuple[str, ...]
    endpoint: str
    summary: str
    response: Any = None  # a model, a list of models, or None for an empty answer
    status: int = 200
    body: Body | None = None
    query: type[BaseModel] | None = None
    public: bool = False


def summary_of(view: Callable[..., Any]) -> str:
    """The first line of a view's docstring, which is what the document says it does."""
    return (view.__doc__ or view.__name__).strip().splitlines()[0]


class JsonSuffix(BaseConverter):
    """An optional ``.json`` closing a path, so ``/incidents`` and ``/incidents.json`` are one
    rule (which keeps the URL map, and application start-up, small).

    Matched after the variable before it, which is greedy: the lookbehind stops a bare match
    right after text ending in ``.json``, so ``5.json`` is id ``5`` with the suffix.
    """

    regex = r"\.json|(?<!\.json)"

    def to_python(self, value: str) -> str:
        """The suffix as sent: ``.json`` or empty."""
        return value

    def to_url(self, value: Any) -> str:
        """No suffix unless one is asked for."""
        return str(value or "")
