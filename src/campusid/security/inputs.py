"""App-wide input hygiene: text with a NUL character is refused before any handler runs.

PostgreSQL cannot store or compare a string holding NUL (the driver raises), and nobody types
one: such a request is a 400 (422 under /api) with the usual "incomplete or malformed" answer,
whatever the route. Uploaded files are bytes and are not looked at.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request
from fastapi.exceptions import RequestValidationError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _holding_nul(place: str, items: Iterable[tuple[str, object]]) -> list[dict[str, object]]:
    return [
        {"loc": (place, key.replace("\x00", "")), "msg": "NUL character", "type": "value_error"}
        for key, value in items
        if "\x00" in key or (isinstance(value, str) and "\x00" in value)
    ]


async def refuse_nul(request: Request) -> None:
    """App-wide dependency: refuse a query string or form field that holds a NUL character."""
    errors = _holding_nul("query", request.query_params.multi_items())
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()  # parsed once; the handler's Form() reads the same
        errors += _holding_nul("body", form.multi_items())
    if errors:
        raise RequestValidationError(errors)
