"""The sign-in's captcha step-up (accounts.throttle) drawn by the 找回密码 captcha.

The captcha keeps its answer on a recovery flow; for a sign-in a flow is made up in memory only
(never added to the database), bound to the browser's login challenge, and its answer digest
kept by the throttle's store between the image and the attempt. Only the captcha's public
functions are called, so a new image generator behind them changes nothing here.
"""

from __future__ import annotations

from datetime import datetime

from campusid.accounts.throttle import LoginCaptcha
from campusid.context import Services
from campusid.recovery import captcha, service
from campusid.recovery.models import RecoveryFlow


def _new(services: Services, binding: str) -> tuple[bytes, str, datetime]:
    flow = RecoveryFlow(token_digest=binding)
    png = service.new_captcha(flow, services=services)
    assert flow.captcha_digest is not None and flow.captcha_expires_at is not None
    return png, flow.captcha_digest, flow.captcha_expires_at


def _check(services: Services, binding: str, digest: str, expires: datetime, answer: str) -> bool:
    flow = RecoveryFlow(token_digest=binding, captcha_digest=digest, captcha_expires_at=expires)
    return captcha.check(
        flow, secret_key=services.settings.secret_key, now=services.clock.now(), answer=answer
    )


def answer_for_tests(services: Services, binding: str, digest: str) -> str | None:
    """Test hook: the answer of a login challenge (needs the secret key; no route exposes it)."""
    flow = RecoveryFlow(token_digest=binding, captcha_digest=digest)
    return captcha.answer_for_tests(flow, secret_key=services.settings.secret_key)


LOGIN_CAPTCHA = LoginCaptcha(new=_new, check=_check)
