"""The image captcha: four digits as a PNG, the answer kept hashed, single use, five minutes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from campusid.recovery import captcha
from campusid.recovery.models import RecoveryFlow
from campusid.security.captcha import ALPHABET, HEIGHT, LENGTH, WIDTH

KEY = "test-key"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _flow() -> RecoveryFlow:
    return RecoveryFlow(token_digest="f" * 64)


def test_the_answer_is_short_and_readable():
    for _ in range(50):
        text = captcha.new_challenge(_flow(), secret_key=KEY, now=NOW)
        assert len(text) == LENGTH == 4
        assert set(text) <= set(ALPHABET)
    assert not set("017") & set(ALPHABET)  # nothing to mix up with O, l, I or each other


def test_the_answer_is_kept_only_as_a_keyed_hash():
    flow = _flow()
    text = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    assert flow.captcha_digest is not None and len(flow.captcha_digest) == 64
    assert text not in flow.captcha_digest
    assert captcha.answer_for_tests(flow, secret_key=KEY) == text
    assert captcha.answer_for_tests(flow, secret_key="other-key") is None


def test_right_answer_once_then_never_again():
    flow = _flow()
    answer = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    assert captcha.check(flow, secret_key=KEY, now=NOW, answer=f" {answer} ")
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=answer)


def test_a_wrong_answer_uses_the_image_up():
    flow = _flow()
    answer = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    wrong = "2222" if answer != "2222" else "3333"
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=wrong)
    assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=answer)


def test_answers_expire_and_are_bound_to_the_flow():
    flow = _flow()
    answer = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    assert not captcha.check(flow, secret_key=KEY, now=NOW + timedelta(minutes=5), answer=answer)
    other = RecoveryFlow(token_digest="e" * 64)
    text = captcha.new_challenge(flow, secret_key=KEY, now=NOW)
    other.captcha_digest, other.captcha_expires_at = flow.captcha_digest, flow.captcha_expires_at
    assert not captcha.check(other, secret_key=KEY, now=NOW, answer=text)


def test_garbage_answers_are_refused():
    for junk in ("", "abc", "２３４５", "99999", "-123", "234"):
        flow = _flow()
        captcha.new_challenge(flow, secret_key=KEY, now=NOW)
        assert not captcha.check(flow, secret_key=KEY, now=NOW, answer=junk)


def test_the_image_is_a_png_and_differs_each_time():
    first = captcha.render_png("2345")
    second = captcha.render_png("2345")
    image = Image.open(io.BytesIO(first))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    assert first != second  # noise and distortion are random
