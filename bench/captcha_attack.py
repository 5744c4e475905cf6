"""How often do bots read the image captcha? (issue 18, finding 3; results in docs/captcha.md)

Two attacks, each on N fresh images whose answers the script knows:

1. glyph matching, as in the finding's 60-line script: split the ink from the background, group
   it by colour (the old captcha drew every character in one solid colour), cut each group to its
   bounding box and match it against templates. `bitmap` uses the old captcha's own templates
   (Pillow's built-in bitmap font, scaled 3x, rotated -10..10 degrees); `truetype` is the same
   attack adapted to the new images: templates from the shipped font (DroidSans Mono) at the
   three sizes and at rotations -25..25, and, when colour gives too few groups, the connected
   components of the dark ink instead. Both answer with digits only (the attacker knows the
   format).
2. ddddocr (PyPI), the common Chinese captcha OCR, with its default and its `beta` model. It is
   NOT a project dependency: install it in a throwaway venv and name that venv's python:
       python3 -m venv /tmp/ddvenv && /tmp/ddvenv/bin/pip install ddddocr
       PYTHONPATH=src .venv/bin/python bench/captcha_attack.py --n 300 \
           --ddddocr-python /tmp/ddvenv/bin/python
   The images are written to a temporary directory and read by that interpreter.

`--style legacy` draws the images of the captcha before issue 18 (`7 + 20 = ?`, for a baseline);
`--style library` draws the `captcha` package's own ImageCaptcha with default settings.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from campusid.security import captcha

Ink = set[tuple[int, int]]

# --------------------------------------------------------------------------- the old captcha


def legacy_png(text: str) -> bytes:
    """The captcha before issue 18: Pillow's bitmap font, 3x, a solid colour per character."""
    import io

    rand = captcha._rand
    font = ImageFont.load_default_imagefont()
    image = Image.new("RGB", (180, 52), (rand(235, 250), rand(238, 250), 250))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        draw.line(
            [(rand(0, 180), rand(0, 52)), (rand(0, 180), rand(0, 52))],
            fill=(rand(150, 210), rand(150, 210), rand(150, 210)),
        )
    x = 8
    for char in text:
        if char == " ":
            x += 6
            continue
        glyph = Image.new("L", (8, 13), 0)
        ImageDraw.Draw(glyph).text((1, 1), char, font=font, fill=255)
        glyph = glyph.resize((24, 39), Image.Resampling.NEAREST)
        glyph = glyph.rotate(rand(-10, 10), resample=Image.Resampling.BILINEAR, expand=True)
        image.paste((rand(10, 90), rand(10, 90), rand(60, 140)), (x, rand(0, 8)), glyph)
        x += 24 - rand(3, 6)
    for _ in range(3):
        draw.line(
            [(0, rand(0, 52)), (180, rand(0, 52))],
            fill=(rand(60, 160), rand(60, 160), rand(60, 160)),
        )
    for _ in range(240):
        draw.point((rand(0, 179), rand(0, 51)), fill=(rand(0, 255), rand(0, 255), rand(0, 255)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def legacy_challenge() -> tuple[str, str]:
    first, second = secrets.randbelow(30) + 1, secrets.randbelow(30) + 1
    return f"{first} + {second} = ?", str(first + second)


def library_png(text: str) -> bytes:
    """The `captcha` package's ImageCaptcha with its default settings."""
    from captcha.image import ImageCaptcha

    return ImageCaptcha().generate(text).getvalue()


# --------------------------------------------------------------------------- glyph matching

Template = tuple[str, frozenset[tuple[int, int]], int, int]
_SIZE = 24  # every blob and template is compared on a 24x24 grid


def _normalise(ink: Iterable[tuple[int, int]]) -> tuple[frozenset[tuple[int, int]], int, int]:
    points = list(ink)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, w, h = min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
    grid = {
        (min(_SIZE - 1, (x - x0) * _SIZE // w), min(_SIZE - 1, (y - y0) * _SIZE // h))
        for x, y in points
    }
    return frozenset(grid), w, h


def _templates_from(
    font_for: Callable[[], Iterable[ImageFont.ImageFont | ImageFont.FreeTypeFont]],
    chars: str,
    angles: Iterable[int],
    scale: int,
) -> list[Template]:
    out = []
    for font in font_for():
        for char in chars:
            glyph = Image.new("L", (80, 80), 0)
            ImageDraw.Draw(glyph).text((10, 10), char, font=font, fill=255)
            if scale > 1:
                glyph = glyph.resize((80 * scale, 80 * scale), Image.Resampling.NEAREST)
            for angle in angles:
                turned = glyph.rotate(angle, resample=Image.Resampling.BILINEAR)
                ink = [
                    (x, y)
                    for y in range(turned.height)
                    for x in range(turned.width)
                    if turned.getpixel((x, y)) > 128  # type: ignore[operator]
                ]
                if ink:
                    grid, w, h = _normalise(ink)
                    out.append((char, grid, w, h))
    return out


@lru_cache(maxsize=2)
def templates(kind: str) -> list[Template]:
    if kind == "bitmap":
        return _templates_from(
            lambda: [ImageFont.load_default_imagefont()], "0123456789+=?", range(-10, 11, 5), 3
        )
    return _templates_from(captcha._fonts, "0123456789", range(-25, 26, 5), 1)


def _dilate(grid: frozenset[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    return frozenset((x + dx, y + dy) for x, y in grid for dx in (-1, 0, 1) for dy in (-1, 0, 1))


def _best(grid: frozenset[tuple[int, int]], w: int, h: int, kind: str) -> tuple[str, float]:
    """The template that covers the blob and is covered by it best (one cell of slack)."""
    best, score = "?", 0.0
    wide = _dilate(grid)
    for char, other, tw, th in templates(kind):
        aspect = min(w / h, tw / th) / max(w / h, tw / th)
        covered = len(grid & _dilated(kind, char, other)) / max(1, len(grid))
        covering = len(other & wide) / max(1, len(other))
        value = covered * covering * aspect
        if value > score:
            best, score = char, value
    return best, score


_DILATED: dict[tuple[str, str, frozenset[tuple[int, int]]], frozenset[tuple[int, int]]] = {}


def _dilated(kind: str, char: str, grid: frozenset[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    key = (kind, char, grid)
    if key not in _DILATED:
        _DILATED[key] = _dilate(grid)
    return _DILATED[key]


def _background(image: Image.Image) -> tuple[int, int, int]:
    counts = Counter(image.getdata())  # type: ignore[arg-type]
    return counts.most_common(1)[0][0]  # type: ignore[no-any-return]


def _ink_by_colour(image: Image.Image) -> list[Ink]:
    """Dark pixels grouped by their exact colour, largest groups first."""
    groups: dict[tuple[int, int, int], Ink] = {}
    pixels = image.load()
    assert pixels is not None
    for y in range(image.height):
        for x in range(image.width):
            r, g, b = pixels[x, y][:3]
            if r + g + b < 3 * 150:  # dark: characters, not background, blobs or pale noise
                groups.setdefault((r, g, b), set()).add((x, y))
    return sorted(groups.values(), key=len, reverse=True)


def _components(ink: Ink) -> list[Ink]:
    """The 8-connected pieces of a set of pixels."""
    left, pieces = set(ink), []
    while left:
        stack, piece = [left.pop()], set()
        while stack:
            x, y = stack.pop()
            piece.add((x, y))
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    nxt = (x + dx, y + dy)
                    if nxt in left:
                        left.remove(nxt)
                        stack.append(nxt)
        pieces.append(piece)
    return pieces


def glyph_attack(png: bytes, kind: str, length: int | None) -> str:
    """Read the digits of an image by colour groups (else dark components) and templates."""
    import io

    image = Image.open(io.BytesIO(png)).convert("RGB")
    groups = _ink_by_colour(image)
    # One solid colour per character: each large colour group is a character (lines are
    # groups too, but wide and thin: no template matches them).
    blobs = [g for g in groups if len(g) >= 25]
    if len(blobs) < (length or 3):  # colour did not separate them: the dark ink's pieces
        dark = set().union(*groups) if groups else set()
        blobs = [p for p in _components(dark) if len(p) >= 40]
    read = []
    for blob in blobs:
        grid, w, h = _normalise(blob)
        char, score = _best(grid, w, h, kind)
        if score > 0.2:
            read.append((min(x for x, _ in blob), char))
    read.sort()
    text = "".join(char for _, char in read)
    if kind == "bitmap" and "+" in text:  # the old format: "a + b = ?"
        first, _, rest = text.partition("+")
        second = ""
        for char in rest:  # the digits after "+", up to "=" or "?" (either may be missed)
            if not char.isdigit():
                break
            second += char
        if first.isdigit() and second:
            return str(int(first) + int(second))
    digits = "".join(c for c in text if c.isdigit())
    return digits[:length] if length else digits


# --------------------------------------------------------------------------- ddddocr

_DDDDOCR = """
import io, json, pathlib, sys
import ddddocr
from PIL import Image
folder = pathlib.Path(sys.argv[1])

def dark_only(data):  # a bot's first clean-up: keep the dark ink, drop pastel noise
    grey = Image.open(io.BytesIO(data)).convert("L").point(lambda v: 0 if v < 120 else 255)
    out = io.BytesIO()
    grey.convert("RGB").save(out, "PNG")
    return out.getvalue()

out = {}
for beta in (False, True):
    ocr = ddddocr.DdddOcr(show_ad=False, beta=beta)
    name = "beta" if beta else "default"
    files = sorted(folder.glob("*.png"))
    out[name] = {p.name: ocr.classification(p.read_bytes()) for p in files}
    out[name + ", dark ink only"] = {
        p.name: ocr.classification(dark_only(p.read_bytes())) for p in files
    }
print(json.dumps(out))
"""


def ddddocr_reads(python: str, images: dict[str, bytes]) -> dict[str, dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        for name, png in images.items():
            Path(folder, name).write_bytes(png)
        done = subprocess.run(
            [python, "-c", _DDDDOCR, folder], capture_output=True, text=True, check=True
        )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ddddocr_answer(read: str, style: str) -> str:
    """What a bot would submit from ddddocr's reading (the legacy sum computed)."""
    text = read.strip().upper().replace("O", "0")
    if style == "legacy":
        first, _, rest = text.partition("+")
        second = "".join(c for c in rest.split("=")[0] if c.isdigit())
        first = "".join(c for c in first if c.isdigit())
        return str(int(first) + int(second)) if first and second else ""
    return "".join(c for c in text if c.isdigit())


# --------------------------------------------------------------------------- main


def make(style: str, n: int) -> dict[str, tuple[str, bytes]]:
    """N images: name -> (answer, PNG)."""
    images = {}
    for index in range(n):
        if style == "legacy":
            text, answer = legacy_challenge()
            png = legacy_png(text)
        else:
            answer = captcha.new_text()
            png = library_png(answer) if style == "library" else captcha.render_png(answer)
        images[f"{index:05d}.png"] = (answer, png)
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--style", choices=("current", "legacy", "library"), default="current")
    parser.add_argument("--ddddocr-python", help="a python with ddddocr installed")
    parser.add_argument("--no-glyphs", action="store_true", help="skip the glyph attacks")
    args = parser.parse_args()
    images = make(args.style, args.n)
    length = None if args.style == "legacy" else captcha.LENGTH
    print(f"style={args.style} images={args.n}")
    if not args.no_glyphs:
        kinds = ("bitmap",) if args.style == "legacy" else ("bitmap", "truetype")
        for kind in kinds:
            solved = sum(glyph_attack(png, kind, length) == ans for ans, png in images.values())
            print(f"glyph matching ({kind}): {solved}/{args.n} = {100 * solved / args.n:.1f} %")
    if args.ddddocr_python:
        reads = ddddocr_reads(args.ddddocr_python, {k: v[1] for k, v in images.items()})
        for model, by_name in reads.items():
            solved = sum(
                ddddocr_answer(by_name[name], args.style) == answer
                for name, (answer, _) in images.items()
            )
            print(f"ddddocr ({model}): {solved}/{args.n} = {100 * solved / args.n:.1f} %")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
