"""Secrets seen by the suite, and every log record it produced: no secret may be in the logs.

Form helpers remember every password and code they submit, sign-in remembers session ids, the
world fixture remembers ID card and phone numbers; at the end of the session conftest scans the
captured log lines for any of them and fails the run if one is found.
"""

from __future__ import annotations

import logging
import re

from campusid.logs import JsonFormatter

SECRETS: set[str] = set()
SECRET_FIELD = re.compile(r"password|code|captcha|token|secret", re.IGNORECASE)


def remember(*values: object) -> None:
    """Remember values that must never appear in a log."""
    for value in values:
        if isinstance(value, str) and len(value) >= 6:
            SECRETS.add(value)


class LogCapture(logging.Handler):
    """Keeps every formatted log line of the test session."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(str(record.msg))


CAPTURE = LogCapture()


def _shows(secret: str, line: str) -> bool:
    if secret not in line:
        return False
    if not secret.isdigit():
        return True
    # A code or number counts where it stands alone, not inside a longer run of letters and
    # digits (a fuzzed id 99999999 or a request id is not the wrong code 999999 a test typed).
    pattern = rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])"
    return re.search(pattern, line) is not None


def leaks() -> list[tuple[str, str]]:
    """Each (secret, log line) pair where a secret shows up."""
    found = []
    for line in CAPTURE.lines:
        for secret in SECRETS:
            if _shows(secret, line):
                found.append((secret[:3] + "…", line[:300]))
    return found
