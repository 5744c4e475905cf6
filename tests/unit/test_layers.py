"""The base runs without any domain: importing it loads no domain module.

`make lint` checks the layers statically (.importlinter); the two imports it lets through name
the accounts User for the type checker only. This test makes sure they stay type-only.
"""

from __future__ import annotations

import json
import subprocess
import sys

BASE = [
    "campusid.asgi",
    "campusid.clock",
    "campusid.config",
    "campusid.context",
    "campusid.db",
    "campusid.i18n",
    "campusid.identifiers",
    "campusid.logs",
    "campusid.nav",
    "campusid.security.permissions",
    "campusid.security.policy",
    "campusid.senders",
    "campusid.types",
    "campusid.web",
]
DOMAINS = {
    "accounts",
    "audit",
    "classes",
    "families",
    "members",
    "messaging",
    "oidc",
    "org",
    "passkeys",
    "platform",
    "profile",
    "recovery",
    "resets",
    "roster",
    "servicedesk",
}


def test_importing_the_base_loads_no_domain() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {BASE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('campusid.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    assert "campusid.web" in loaded
    assert [m for m in loaded if m.split(".")[1] in DOMAINS] == []
