"""The image captcha of the 找回密码 page: a sum such as "7 + 20 = ?" drawn as a noisy PNG.

The answer lives in the recovery flow, as a keyed hash bound to the flow, for five minutes; it is
single use (cleared by the first check, right or wrong), so each message sent costs one solved
image. Drawing uses Pillow's built-in bitmap font, scaled up, so no font has to be installed.
"""

from __future__ import annotations

import hmac
import io
import secrets
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from campusid.recovery.models import RecoveryFlow
from campusid.security.onetime import target_digest

CAPTCHA_TTL = timedelta(minutes=5)
_MAX_TERM = 30  # answers stay below 2 * _MAX_TERM + 1
_SCALE = 3
_WIDTH, _HEIGHT = 180, 52


def _answer_digest(secret_key: str, flow: RecoveryFlow, answer: int) -> str:
    return target_digest(secret_key, "captcha", f"{flow.token_digest}:{answer}")


def new_challenge(flow: RecoveryFlow, *, secret_key: str, now: datetime) -> str:
    """Give the flow a fresh sum (replacing any earlier one); returns the text to draw."""
    first = secrets.randbelow(_MAX_TERM) + 1
    second = secrets.randbelow(_MAX_TERM) + 1
    flow.captcha_digest = _answer_digest(secret_key, flow, first + second)
    flow.captcha_expires_at = now + CAPTCHA_TTL
    return f"{first} + {second} = ?"


def check(flow: RecoveryFlow, *, secret_key: str, now: datetime, answer: str) -> bool:
    """Whether the answer solves the flow's current image; the image is used up either way."""
    expected, expires = flow.captcha_digest, flow.captcha_expires_at
    flow.captcha_digest = None
    flow.captcha_expires_at = None
    value = answer.strip()
    if expected is None or expires is None or now >= expires:
        return False
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        return False
    return hmac.compare_digest(expected, _answer_digest(secret_key, flow, int(value)))


def answer_for_tests(flow: RecoveryFlow, *, secret_key: str) -> int | None:
    """Test hook: the answer of the flow's current image, found by trying every possible sum.

    Only possible with the secret key; no HTTP route exposes it.
    """
    if flow.captcha_digest is None:
        return None
    for candidate in range(2 * _MAX_TERM + 1):
        if hmac.compare_digest(flow.captcha_digest, _answer_digest(secret_key, flow, candidate)):
            return candidate
    return None


def _rand(low: int, high: int) -> int:
    """A random integer in [low, high]."""
    return low + secrets.randbelow(high - low + 1)


def render_png(text: str) -> bytes:
    """Draw the text with per-character jitter, lines and speckles; PNG bytes."""
    font = ImageFont.load_default_imagefont()
    image = Image.new("RGB", (_WIDTH, _HEIGHT), (_rand(235, 250), _rand(238, 250), 250))
    draw = ImageDraw.Draw(image)
    for _ in range(5):  # background lines under the text
        draw.line(
            [(_rand(0, _WIDTH), _rand(0, _HEIGHT)), (_rand(0, _WIDTH), _rand(0, _HEIGHT))],
            fill=(_rand(150, 210), _rand(150, 210), _rand(150, 210)),
            width=1,
        )
    x = 8
    for char in text:
        if char == " ":
            x += 6
            continue
        glyph = Image.new("L", (8, 13), 0)
        ImageDraw.Draw(glyph).text((1, 1), char, font=font, fill=255)
        glyph = glyph.resize((8 * _SCALE, 13 * _SCALE), Image.Resampling.NEAREST)
        glyph = glyph.rotate(_rand(-10, 10), resample=Image.Resampling.BILINEAR, expand=True)
        colour = (_rand(10, 90), _rand(10, 90), _rand(60, 140))
        image.paste(colour, (x, _rand(0, 8)), glyph)
        x += 8 * _SCALE - _rand(3, 6)
    for _ in range(3):  # lines across the text
        draw.line(
            [(0, _rand(0, _HEIGHT)), (_WIDTH, _rand(0, _HEIGHT))],
            fill=(_rand(60, 160), _rand(60, 160), _rand(60, 160)),
            width=1,
        )
    for _ in range(240):  # speckles
        draw.point(
            (_rand(0, _WIDTH - 1), _rand(0, _HEIGHT - 1)),
            fill=(_rand(0, 255), _rand(0, 255), _rand(0, 255)),
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
