"""The image captcha: a sum as a PNG, its answer kept hashed, single use, five minutes."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from PIL import Image

from campusid.recovery import captcha
from campusid.recovery.models import RecoveryFlow

KEY = "test-key"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _flow() -> RecoveryFlow:
    return RecoveryFlow(token_digest="f" * 64)


def _answer(text: str) -> int:
    first, second = map(int, re.fullmatch(r"(\d+) \+ (\d+) = \?", text).groups())
    return first + second


def test_the_answer_is_kept_only_as_a_keyed_hash():
    flow = _flow()
    text = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    assert flow.captcha_digest is not None and len(flow.captcha_digest) == 64
    assert captcha.answer_for_tests(flow, secret_key=KEY) == _answer(text)
    assert captcha.answer_for_tests(flow, secret_key="other-key") is None


def test_right_answer_once_then_never_again():
    flow = _flow()
    answer = str(_answer(captcha.new_challenge(flow, secret_key=KEY, now=NOW)))
    assert captcha.check(flow, secret_key=KEY, now=NOW, answer=f" {answer} ")
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=answer)


def test_a_wrong_answer_uses_the_image_up():
    flow = _flow()
    answer = _answer(captcha.new_challenge(flow, secret_key=KEY, now=NOW))
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=str(answer + 1))
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=str(answer))


def test_answers_expire_and_are_bound_to_the_flow():
    flow = _flow()
    answer = str(_answer(captcha.new_challenge(flow, secret_key=KEY, now=NOW)))
    assert not captcha.check(flow, secret_key=KEY, now=NOW + timedelta(minutes=5), answer=answer)
    other = RecoveryFlow(token_digest="e" * 64)
    text = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    other.captcha_digest, other.captcha_expires_at = flow.captcha_digest, flow.captcha_expires_at
    assert not captcha.check(other, secret_key=KEY, now=NOW, answer=str(_answer(text)))


def test_garbage_answers_are_refused():
    for junk in ("", "abc", "１２", "9999", "-1"):
        flow = _flow()
        captcha.new_challenge(flow, secret_key=KEY, now=NOW)
        assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=junk)


def test_the_image_is_a_png_and_differs_each_time():
    first = captcha.render_png("7 + 20 = ?")
    second = captcha.render_png("7 + 20 = ?")
    image = Image.open(io.BytesIO(first))
    assert image.format == "PNG" and image.size == (180, 52)
    assert first != second  # noise and jitter are random
