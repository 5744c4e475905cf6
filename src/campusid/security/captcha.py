"""The image captcha in front of every form that sends a message (issue 18, finding 3).

What a person sees: four digits (2-6, 8, 9: no 0, 1 or 7, which children mix up with O, l and 1)
in the TrueType font DroidSans Mono, which ships inside the `captcha` package (Apache License
2.0; nothing is fetched at run time). What a bot meets, measured in docs/captcha.md with
bench/captcha_attack.py:
- every digit its own dark colour, size, rotation and perspective warp, placed with jitter;
- pastel blobs under the digits, so no colour or threshold separates digits from background;
- six background-coloured curves cut through the strokes (a person joins the pieces, an OCR
  model reads them as other shapes), then an elastic warp of the whole image and a wave.

The answer is kept only as a keyed hash (HMAC with the secret key, bound to its holder), for five
minutes, and is single use: the first check clears it, right or wrong, so each try costs one
solved image. A holder is anything with `token_digest`, `captcha_digest` and
`captcha_expires_at`: the 找回密码 flow (`recovery.captcha`), or a `CaptchaChallenge` row, one per
browser and form, for every other form (`issue`/`verify` below, served at `/captcha/{form}`).
The browser is known by a random id in an HttpOnly cookie, stored only hashed.

A right answer whose form then refuses for a reason of its own (a limit on the phone, the wait
between two codes) is given back (`Solved.give_back`, `give_back`): the person keeps the image
they solved and tries again later without a new one. Each message sent still costs one image.

Limits: one address may draw `captcha_image_limit` images and give `captcha_failure_limit` wrong
answers per window; past the first, images are refused (429); past the second, every answer is
wrong. The forms behind the captcha keep their own limits (per phone, per account, per address).
"""

from __future__ import annotations

import hmac
import io
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from captcha.image import DEFAULT_FONTS
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from campusid.context import Services
from campusid.db import Base, UTCDateTime
from campusid.i18n import N_
from campusid.security.onetime import target_digest

CAPTCHA_TTL = timedelta(minutes=5)
COOKIE = "campusid_captcha"
COOKIE_MAX_AGE = 24 * 3600
ALPHABET = "2345689"  # no 0/1/7: confusable with O, l, I and with each other
LENGTH = 4
WIDTH, HEIGHT = 220, 76
# The forms that may hold a captcha of their own (a browser has one live image per form).
FORMS = frozenset({"signup", "bind_phone", "bind_email", "login"})

MSG_CAPTCHA = N_("图片验证码不正确或已失效，请重新输入图中的数字")
MSG_CAPTCHA_MISSING = N_("请输入图片验证码")

_FONT_SIZES = (42, 46, 50)
_CUTS = 6  # background-coloured curves through the strokes
_ELASTIC = 6  # pixels of random displacement on a 20-pixel grid
_BLOBS = 28


class Holder(Protocol):
    """What keeps a captcha answer: a recovery flow or a `CaptchaChallenge`."""

    token_digest: str
    captcha_digest: str | None
    captcha_expires_at: datetime | None


class CaptchaChallenge(Base):
    """The live captcha of one browser on one form (the answer only as a keyed hash)."""

    __tablename__ = "captcha_challenges"

    token_digest: Mapped[str] = mapped_column(
        String(64), primary_key=True, comment="HMAC of the form and the browser's captcha cookie"
    )
    form: Mapped[str] = mapped_column(String(32))
    captcha_digest: Mapped[str | None] = mapped_column(String(64))
    captcha_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


# --------------------------------------------------------------------------- the answer


def _answer_digest(secret_key: str, holder: Holder, answer: str) -> str:
    return target_digest(secret_key, "captcha", f"{holder.token_digest}:{answer}")


def new_text() -> str:
    """A fresh answer: LENGTH digits from ALPHABET (CSPRNG)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def new_challenge(holder: Holder, *, secret_key: str, now: datetime) -> str:
    """Give the holder a fresh answer (replacing any earlier one); returns the text to draw."""
    text = new_text()
    holder.captcha_digest = _answer_digest(secret_key, holder, text)
    holder.captcha_expires_at = now + CAPTCHA_TTL
    return text


def _clean(answer: str) -> str | None:
    value = answer.strip().replace(" ", "")
    if len(value) != LENGTH or not value.isascii() or not value.isdigit():
        return None
    return value


@dataclass(frozen=True)
class Solved:
    """A rightly answered image as it stood before the check used it up."""

    captcha_digest: str
    captcha_expires_at: datetime

    def give_back(self, holder: Holder) -> None:
        """Make the holder's image count again (the form refused for a reason of its own)."""
        holder.captcha_digest = self.captcha_digest
        holder.captcha_expires_at = self.captcha_expires_at


def solve(holder: Holder, *, secret_key: str, now: datetime, answer: str) -> Solved | None:
    """The image, if the answer solves it (to give back); the image is used up either way."""
    expected, expires = holder.captcha_digest, holder.captcha_expires_at
    holder.captcha_digest = None
    holder.captcha_expires_at = None
    value = _clean(answer)
    if expected is None or expires is None or now >= expires or value is None:
        return None
    if not hmac.compare_digest(expected, _answer_digest(secret_key, holder, value)):
        return None
    return Solved(expected, expires)


def check(holder: Holder, *, secret_key: str, now: datetime, answer: str) -> bool:
    """Whether the answer solves the holder's current image; the image is used up either way."""
    return solve(holder, secret_key=secret_key, now=now, answer=answer) is not None


def _all_answers() -> list[str]:
    answers = [""]
    for _ in range(LENGTH):
        answers = [a + c for a in answers for c in ALPHABET]
    return answers


def answer_for_tests(holder: Holder, *, secret_key: str) -> str | None:
    """Test hook: the answer of the holder's current image, found by trying every answer.

    Only possible with the secret key; no HTTP route exposes it.
    """
    if holder.captcha_digest is None:
        return None
    for candidate in _all_answers():
        if hmac.compare_digest(
            holder.captcha_digest, _answer_digest(secret_key, holder, candidate)
        ):
            return candidate
    return None


# --------------------------------------------------------------------------- any form


def _holder_digest(services: Services, form: str, token: str) -> str:
    return target_digest(services.settings.secret_key, "captcha.holder", f"{form}:{token}")


def new_token() -> str:
    """A browser's captcha id, for its cookie."""
    return secrets.token_urlsafe(32)


def image_allowed(services: Services, *, address: str | None) -> bool:
    """Count one image drawn for the address; False once it has drawn its fill."""
    s = services.settings
    images = services.limits.named(
        "captcha.images", s.captcha_image_limit, s.captcha_window_seconds
    )
    return images.hit(address or "unknown")


def issue(db: Session, *, services: Services, form: str, token: str) -> str:
    """A fresh answer for this browser on this form (the earlier image stops counting)."""
    if form not in FORMS:
        raise ValueError(form)
    now = services.clock.now()
    digest = _holder_digest(services, form, token)
    # Dead images of anyone are cleared as new ones are drawn (the table stays small).
    db.execute(delete(CaptchaChallenge).where(CaptchaChallenge.captcha_expires_at < now))
    row = db.get(CaptchaChallenge, digest)
    if row is None:
        row = CaptchaChallenge(token_digest=digest, form=form)
        db.add(row)
    text = new_challenge(row, secret_key=services.settings.secret_key, now=now)
    db.flush()
    return text


@dataclass(frozen=True)
class SolvedForm:
    """A rightly answered image of a form (a `CaptchaChallenge` as it stood), to give back."""

    token_digest: str
    form: str
    image: Solved


def verify(
    db: Session,
    *,
    services: Services,
    form: str,
    token: str | None,
    answer: str,
    address: str | None,
) -> SolvedForm | None:
    """The image, if the answer solves this browser's image for the form; used up either way.

    A wrong answer counts against the address; past its limit every answer is wrong.
    """
    s = services.settings
    failures = services.limits.named(
        "captcha.failures", s.captcha_failure_limit, s.captcha_window_seconds
    )
    key = address or "unknown"
    row = None
    if token and form in FORMS:
        row = db.get(CaptchaChallenge, _holder_digest(services, form, token))
    solved = None
    if row is not None:
        image = solve(row, secret_key=s.secret_key, now=services.clock.now(), answer=answer)
        solved = SolvedForm(row.token_digest, row.form, image) if image else None
        db.delete(row)
        db.flush()
    if failures.exceeded(key):
        return None
    if solved is None:
        failures.hit(key)
    return solved


def give_back(db: Session, solved: SolvedForm | None) -> None:
    """Make a solved image count again after its form refused for a reason of its own; unless
    the browser has drawn a newer image meanwhile (that one is what the page shows)."""
    if solved is None or db.get(CaptchaChallenge, solved.token_digest) is not None:
        return
    row = CaptchaChallenge(token_digest=solved.token_digest, form=solved.form)
    solved.image.give_back(row)
    db.add(row)
    db.flush()


def answer_of(db: Session, *, services: Services, form: str, token: str) -> str | None:
    """Test hook: the answer of this browser's image for the form (needs the secret key)."""
    db.expire_all()
    row = db.scalar(
        select(CaptchaChallenge).where(
            CaptchaChallenge.token_digest == _holder_digest(services, form, token)
        )
    )
    if row is None:
        return None
    return answer_for_tests(row, secret_key=services.settings.secret_key)


# --------------------------------------------------------------------------- the image


def _rand(low: int, high: int) -> int:
    """A random integer in [low, high] (CSPRNG)."""
    return low + secrets.randbelow(high - low + 1)


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * secrets.randbits(32) / 2**32


def _colour(low: int, high: int) -> tuple[int, int, int]:
    return (_rand(low, high), _rand(low, high), _rand(low, high))


@lru_cache(maxsize=1)
def _fonts() -> tuple[ImageFont.FreeTypeFont, ...]:
    return tuple(ImageFont.truetype(DEFAULT_FONTS[0], size) for size in _FONT_SIZES)


def _glyph(char: str, colour: tuple[int, int, int]) -> Image.Image:
    """One digit: a random size, rotated, then warped in perspective (transparent around)."""
    font = secrets.choice(_fonts())
    _, _, right, bottom = font.getbbox(char)
    pad = 6
    image = Image.new("RGBA", (int(right) + 2 * pad, int(bottom) + 2 * pad))
    ImageDraw.Draw(image).text((pad, pad), char, font=font, fill=(*colour, 255))
    box = image.getbbox()
    if box:
        image = image.crop(box)
    image = image.rotate(_uniform(-25, 25), Image.Resampling.BILINEAR, expand=True)
    w, h = image.size
    dx, dy = w * _uniform(0.1, 0.3), h * _uniform(0.2, 0.3)
    x1, y1 = int(_uniform(-dx, dx)), int(_uniform(-dy, dy))
    x2, y2 = int(_uniform(-dx, dx)), int(_uniform(-dy, dy))
    w2, h2 = w + abs(x1) + abs(x2), h + abs(y1) + abs(y2)
    image = image.resize((w2, h2))
    return image.transform(
        (w, h),
        Image.Transform.QUAD,
        (x1, y1, -x1, h2 - y2, w2 + x2, h2 + y2, w2 - x2, -y1),
        Image.Resampling.BILINEAR,
    )


def _curves(image: Image.Image, count: int, colour: tuple[int, int, int]) -> None:
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        y0, y1 = _rand(HEIGHT // 4, 3 * HEIGHT // 4), _rand(HEIGHT // 4, 3 * HEIGHT // 4)
        phase, amplitude, period = _uniform(0, 2 * math.pi), _rand(6, 14), _rand(40, 120)
        points = [
            (x, y0 + (y1 - y0) * x / WIDTH + amplitude * math.sin(2 * math.pi * x / period + phase))
            for x in range(-4, WIDTH + 5, 3)
        ]
        draw.line(points, fill=colour, width=2)


def _elastic(image: Image.Image, amount: int, cell: int = 20) -> Image.Image:
    """Move the corners of a coarse grid at random; the image follows, bent but whole."""
    nx, ny = WIDTH // cell + 2, HEIGHT // cell + 2
    moves = [
        [(_uniform(-amount, amount), _uniform(-amount, amount)) for _ in range(ny)]
        for _ in range(nx)
    ]

    def corner(i: int, j: int) -> tuple[float, float]:
        return (i * cell + moves[i][j][0], j * cell + moves[i][j][1])

    mesh = [
        (
            (i * cell, j * cell, (i + 1) * cell, (j + 1) * cell),
            (*corner(i, j), *corner(i, j + 1), *corner(i + 1, j + 1), *corner(i + 1, j)),
        )
        for i in range(nx - 1)
        for j in range(ny - 1)
    ]
    return image.transform(
        image.size,
        Image.Transform.MESH,
        mesh,
        Image.Resampling.BILINEAR,
        fillcolor=image.getpixel((0, 0)),
    )


def _wave(image: Image.Image) -> Image.Image:
    amplitude, period, phase = _rand(3, 6), _rand(60, 120), _uniform(0, 2 * math.pi)
    step = 4
    mesh = []
    for x in range(0, WIDTH, step):
        dy0 = amplitude * math.sin(2 * math.pi * x / period + phase)
        dy1 = amplitude * math.sin(2 * math.pi * (x + step) / period + phase)
        mesh.append(
            (
                (x, 0, x + step, HEIGHT),
                (x, dy0, x, HEIGHT + dy0, x + step, HEIGHT + dy1, x + step, dy1),
            )
        )
    return image.transform(
        image.size,
        Image.Transform.MESH,
        mesh,
        Image.Resampling.BILINEAR,
        fillcolor=image.getpixel((0, 0)),
    )


def render_image(text: str) -> Image.Image:
    """Draw the text as described in the module's docstring."""
    background = _colour(225, 255)
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    for _ in range(_BLOBS):
        x, y, r = _rand(0, WIDTH), _rand(0, HEIGHT), _rand(6, 18)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(150, 240))
    slot = (WIDTH - 16) / max(len(text), 1)
    for index, char in enumerate(text):
        glyph = _glyph(char, _colour(10, 100))
        w, h = glyph.size
        cx = 8 + slot * (index + 0.5) + _uniform(-slot * 0.12, slot * 0.12)
        cy = HEIGHT / 2 + _uniform(-6, 6)
        image.paste(glyph, (int(cx - w / 2), int(cy - h / 2)), glyph)
    _curves(image, _CUTS, background)
    image = _elastic(image, _ELASTIC)
    image = _wave(image)
    return image.filter(ImageFilter.SMOOTH)


def render_png(text: str) -> bytes:
    """The image of the text, as PNG bytes."""
    out = io.BytesIO()
    render_image(text).save(out, format="PNG")
    return out.getvalue()
