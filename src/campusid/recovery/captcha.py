"""The image captcha of the 找回密码 page, kept in the browser's recovery flow.

The drawing, the answer (four digits), its keyed hash, the five minutes and the single use are
those of every form (`campusid.security.captcha`); here the holder is the flow itself, so the
answer is bound to the flow and dies with it.
"""

from __future__ import annotations

from campusid.security.captcha import (
    CAPTCHA_TTL,
    MSG_CAPTCHA,
    Holder,
    Solved,
    answer_for_tests,
    check,
    new_challenge,
    render_png,
    solve,
)

__all__ = [
    "CAPTCHA_TTL",
    "MSG_CAPTCHA",
    "Holder",
    "Solved",
    "answer_for_tests",
    "check",
    "new_challenge",
    "render_png",
    "solve",
]
