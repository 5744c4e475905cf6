"""The finding's attack (issue 18, finding 3) run against the captcha: glyphs matched by colour.

The attack is bench/captcha_attack.py's. On the old images it reads nearly every sum (the
finding: 199 of 200); on the new ones it must read under 5 % of 100 images, with the old
templates and with templates cut from the very font the images use.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow  # a minute of image work: CI runs it, `-m "not slow"` skips it

N = 100


@pytest.fixture(scope="module")
def attack() -> ModuleType:
    path = Path(__file__).parents[3] / "bench" / "captcha_attack.py"
    spec = importlib.util.spec_from_file_location("captcha_attack", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_attack_reads_the_old_captcha(attack: ModuleType) -> None:
    images = attack.make("legacy", 40)
    solved = sum(attack.glyph_attack(png, "bitmap", None) == a for a, png in images.values())
    # About 89 % of the old images are read; 70 % of 40 leaves random draws no room to fail.
    assert solved >= 28, solved  # the attack works: a low score below is the images' doing


@pytest.mark.parametrize("templates", ["bitmap", "truetype"])
def test_the_attack_reads_under_five_percent_of_the_new_captcha(
    attack: ModuleType, templates: str
) -> None:
    images = attack.make("current", N)
    solved = sum(attack.glyph_attack(png, templates, 4) == a for a, png in images.values())
    assert solved < N * 5 // 100, solved
