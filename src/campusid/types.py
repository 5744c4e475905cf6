"""Column helpers and small values shared by the domains."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Enum as SAEnum


def enum_by_value(enum_cls: type[Enum], length: int = 32) -> SAEnum:
    """Store an enum by its value (not its name), as a portable VARCHAR with a CHECK."""
    return SAEnum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=length,
        validate_strings=True,
        create_constraint=True,
        name=enum_cls.__name__.lower(),
    )


def json_default() -> dict[str, Any]:
    """A fresh empty JSON object."""
    return {}


# The largest id a row can have (PostgreSQL's INTEGER). Ids that come from a URL or a form are
# checked against it, so an absurd number is a clear 4xx rather than an overflow in the driver.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from (recorded with audit events)."""

    address: str | None = None
    user_agent: str | None = None
