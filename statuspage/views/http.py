"""HTTP answers that every view shares: conditional responses for what the public caches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Response, current_app, request

Body = str | bytes


def conditional(etag: str, build: Callable[[], Body | tuple[Body, datetime]],
                content_type: str, *, last_modified: datetime | None = None) -> Response:
    """A public response revalidated by ``etag``: built only when the client lacks it, 304
    otherwise; ``Cache-Control: public, max-age=PAGE_CACHE_SECONDS``.

    ``build`` returns the body, or the body and its Last-Modified time.
    """
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        built = build()
        body, last_modified = built if isinstance(built, tuple) else (built, last_modified)
        response = Response(body, content_type=content_type)
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)
