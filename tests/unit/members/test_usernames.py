"""The username base is the name's pinyin, read exactly as pypinyin reads the whole name."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import lazy_pinyin

from campusid.members.batch import _pinyin, _random_digits, _username_base

# Common name characters, polyphonic ones (乐 行 长 单 曾 重 朴 仇) and a few that make phrases.
NAME_CHARS = "王李张刘陈杨黄赵吴周徐孙子涵欣怡梓萱浩然宇轩思远一诺俊杰明晨曦乐行长单曾重朴仇银行"


def whole(name: str) -> str:
    return "".join(lazy_pinyin(name)).lower()


@settings(max_examples=500)
@given(st.text(alphabet=NAME_CHARS + "·Ab ", min_size=1, max_size=6))
def test_the_cached_reading_is_the_whole_names_reading(name: str) -> None:
    assert _pinyin(name) == whole(name)


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), max_size=4))
def test_any_chinese_name(name: str) -> None:
    assert _pinyin(name) == whole(name)


def test_phrases_inside_a_name_are_read_as_phrases() -> None:
    # 银行 is a dictionary phrase: 行 reads háng in it, xíng alone.
    assert _pinyin("李银行") == whole("李银行") == "liyinhang"
    assert _username_base("李逍遥", "s") == "lixiaoyao"
    assert _username_base("·", "t") == "t"


def test_the_random_digits_are_any_digits_each_as_likely() -> None:
    for digits in (4, 5, 8):
        drawn = [_random_digits(digits) for _ in range(200)]
        assert all(len(d) == digits and d.isascii() and d.isdigit() for d in drawn)
    firsts = Counter(_random_digits(4)[0] for _ in range(5000))
    lasts = Counter(_random_digits(4)[-1] for _ in range(5000))
    for counts in (firsts, lasts):  # a leading zero too; 500 expected, 400 is 4.5 sigma off
        assert set(counts) == set("0123456789")
        assert min(counts.values()) > 400
