"""Fixtures of the OneRoster tests: a registered application with OneRoster scopes, its token,
and a validator of the binding's JSON Schemas (tests/functional/oneroster/schemas/)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from campusid.audit.service import ClientInfo
from campusid.oidc import service as oidc
from campusid.oneroster import service as roster
from tests.support.oidc import register
from tests.support.rawrp import http, service_token

SCHEMAS = Path(__file__).parent / "schemas"
API = roster.BASE_PATH


def schema_for(file: str, name: str) -> dict[str, Any]:
    """The definition `name` of a schema file, with the shared definitions beside it."""
    common = json.loads((SCHEMAS / "common.json").read_text())["$defs"]
    own = json.loads((SCHEMAS / f"{file}.json").read_text())["$defs"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {**common, **own},
        "$ref": f"#/$defs/{name}",
    }


def validate(body: Any, file: str, name: str) -> Any:
    """Validate a response body against the binding's schema; the body back."""
    schema = schema_for(file, name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)
    return body


@dataclass
class App:
    """A registered application and a bearer token of its client credentials."""

    row: Any
    secret: str
    token: str
    server: httpx.Client

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET a binding path with the token."""
        return self.server.get(
            API + path, params=params, headers={"Authorization": f"Bearer {self.token}"}
        )


def make_app(client, db, world, clock, name: str, *scopes: str) -> App:  # type: ignore[no-untyped-def]
    """Register an application with service scopes and take a client_credentials token."""
    row, secret = register(db, world["pt_admin"], clock.now(), name=name)
    form = replace(oidc.ClientForm.of(row), service_scopes=list(scopes))
    oidc.update_client(
        db, row=row, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
    )
    db.commit()
    server = http(client)
    issued = service_token(server, row.client_id, secret)
    assert issued.status_code == 200, issued.text
    return App(row, secret, issued.json()["access_token"], server)


@pytest.fixture
def make_roster_app(client, db, world, clock):  # type: ignore[no-untyped-def]
    """A factory of applications: make_roster_app(name, *scopes)."""

    def make(name: str, *scopes: str) -> App:
        return make_app(client, db, world, clock, name, *(scopes or (roster.ROSTER,)))

    return make
