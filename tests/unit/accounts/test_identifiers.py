"""Tests of identifier validation, normalisation and masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campusid.identifiers import (
    ID_CARD_PROVINCE_CODES,
    InvalidIdentifier,
    birth_date_from_id_card,
    id_card_check_digit,
    is_valid_id_card_number,
    login_lookup_keys,
    mask_email,
    mask_id_card,
    mask_phone,
    mask_registration_number,
    name_problem,
    normalize_email,
    normalize_login,
    normalize_phone,
    validate_id_card_number,
    validate_real_name,
    validate_registration_number,
    validate_username,
)

GB_EXAMPLE = "11010519491231002X"  # the example of GB 11643-1999
HANGZHOU = "33010219900102123X"  # a computed valid number, used for masking
TODAY = date(2025, 6, 1)


def _message(excinfo: pytest.ExceptionInfo[InvalidIdentifier]) -> str:
    return excinfo.value.message


# ------------------------------------------------------------------------ ID card numbers


def test_gb_examples_are_valid() -> None:
    assert validate_id_card_number(GB_EXAMPLE) == GB_EXAMPLE
    assert validate_id_card_number("11010519491231002x") == GB_EXAMPLE
    assert validate_id_card_number(" 110105 19491231 002x ") == GB_EXAMPLE
    assert validate_id_card_number(HANGZHOU) == HANGZHOU
    assert id_card_check_digit(GB_EXAMPLE[:17]) == "X"
    assert birth_date_from_id_card(GB_EXAMPLE) == date(1949, 12, 31)


def test_wrong_check_digit() -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_id_card_number("110105194912310021")
    assert _message(excinfo) == "身份证号校验位不正确"
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("position", range(18))
def test_changing_any_single_character_fails(position: int) -> None:
    for replacement in "0123456789X":
        if replacement == GB_EXAMPLE[position] or (position < 17 and replacement == "X"):
            continue
        changed = GB_EXAMPLE[:position] + replacement + GB_EXAMPLE[position + 1 :]
        assert not is_valid_id_card_number(changed), changed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "身份证号格式不正确"),
        ("11010519491231002", "身份证号格式不正确"),
        ("11010519491231002XX", "身份证号格式不正确"),
        ("1101051949123100AX", "身份证号格式不正确"),
        ("X10105194912310021", "身份证号格式不正确"),
        ("100105194912310021", "身份证号格式不正确"),  # region 10 does not exist
        ("910105194912310021", "身份证号格式不正确"),
        ("110105" + "20230230" + "0010", "身份证号中的出生日期不正确"),  # 30 February
        ("110105" + "19491301" + "0010", "身份证号中的出生日期不正确"),
        ("110105" + "18991231" + "0010", "身份证号中的出生日期不正确"),
        ("110105" + "20300101" + "0010", "身份证号中的出生日期不正确"),  # future
    ],
)
def test_invalid_id_card_numbers(value: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_id_card_number(value, today=TODAY)
    assert _message(excinfo) == message


def test_birth_date_relative_to_today() -> None:
    first17 = "110105" + "20250601" + "001"
    number = first17 + id_card_check_digit(first17)
    assert is_valid_id_card_number(number, today=date(2025, 6, 1))
    assert not is_valid_id_card_number(number, today=date(2025, 5, 31))


def test_check_digit_needs_17_digits() -> None:
    with pytest.raises(InvalidIdentifier):
        id_card_check_digit("1234")


@st.composite
def id_prefixes(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(sorted(ID_CARD_PROVINCE_CODES)))
    area = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(0, 999))
    return f"{region}{area:04d}{born:%Y%m%d}{sequence:03d}"


@given(id_prefixes())
def test_computed_check_digit_is_the_only_valid_one(first17: str) -> None:
    check = id_card_check_digit(first17)
    assert validate_id_card_number(first17 + check, today=TODAY) == first17 + check
    born = birth_date_from_id_card(first17 + check, today=TODAY)
    assert born.strftime("%Y%m%d") == first17[6:14]
    for other in "0123456789X":
        if other != check:
            assert not is_valid_id_card_number(first17 + other, today=TODAY)


# ------------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    "value",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "8613812345678",
        "0086 13812345678",
        " 13812345678 ",
        "１３８１２３４５６７８",  # full width, as a Chinese input method types it (issue 18)
        "＋８６ １３８－１２３４－５６７８",
    ],
)
def test_phone_forms(value: str) -> None:
    assert normalize_phone(value) == "13812345678"


@pytest.mark.parametrize(
    "value",
    ["", "1381234567", "138123456789", "12812345678", "23812345678", "+1 13812345678",
     "1381234567a", "+86 12812345678"],
)  # fmt: skip
def test_bad_phones(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        normalize_phone(value)
    assert _message(excinfo) == "手机号格式不正确"


# ------------------------------------------------------------------------ usernames, emails


@pytest.mark.parametrize(
    ("value", "expected"),
    [("s_xuesheng008", "s_xuesheng008"), ("Zhang_San", "zhang_san"), ("abcd", "abcd"),
     ("a" * 32, "a" * 32)],
)  # fmt: skip
def test_good_usernames(value: str, expected: str) -> None:
    assert validate_username(value) == expected


@pytest.mark.parametrize(
    "value",
    ["abc", "a" * 33, "13812345678", "_abc1", "1abcd", "zhang san", "zhang-san", "张三abcd",
     "zhäng", GB_EXAMPLE],
)  # fmt: skip
def test_bad_usernames(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_username(value)
    assert _message(excinfo).startswith("用户名")


def test_email() -> None:
    assert normalize_email(" Zhang.San@Example.COM ") == "zhang.san@example.com"
    for bad in ["", "a@b", "a@@b.com", "a b@c.com", "@c.com", "a@.com", "a@c.", "a@c..com",
                "a" * 250 + "@b.com"]:  # fmt: skip
        with pytest.raises(InvalidIdentifier) as excinfo:
            normalize_email(bad)
        assert _message(excinfo) == "邮箱格式不正确"


# ------------------------------------------------------------------------ 学籍号


def test_registration_numbers() -> None:
    assert validate_registration_number("g" + GB_EXAMPLE.lower()) == "G" + GB_EXAMPLE
    assert validate_registration_number("L" + HANGZHOU) == "L" + HANGZHOU
    assert validate_registration_number("zj2019001234") == "ZJ2019001234"
    assert validate_registration_number("1234567890") == "1234567890"
    for bad in ["G110105194912310021", "123456789", "A" * 21, "ZJ-2019-0012", "学籍号1234567890"]:
        with pytest.raises(InvalidIdentifier) as excinfo:
            validate_registration_number(bad)
        assert _message(excinfo) == "学籍号格式不正确"


# ------------------------------------------------------------------------ login


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" +86 138-1234-5678 ", "13812345678"),
        ("11010519491231002x", GB_EXAMPLE),
        (" S_Xuesheng008 ", "s_xuesheng008"),
        ("Zhang@Example.com", "zhang@example.com"),
        ("G" + GB_EXAMPLE, "g" + GB_EXAMPLE.lower()),
    ],
)
def test_normalize_login(value: str, expected: str) -> None:
    assert normalize_login(value) == expected


def test_login_lookup_keys() -> None:
    assert login_lookup_keys("+86 13812345678") == {"phone": "13812345678"}
    assert login_lookup_keys("11010519491231002x") == {
        "id_card_number": GB_EXAMPLE,
        "registration_number": GB_EXAMPLE,
    }
    assert login_lookup_keys("S_Xuesheng008") == {"username": "s_xuesheng008"}
    assert login_lookup_keys("zhangsan2010") == {
        "registration_number": "ZHANGSAN2010",
        "username": "zhangsan2010",
    }
    assert login_lookup_keys("a@Example.com") == {"email": "a@example.com"}
    assert login_lookup_keys("!!") == {}


# ------------------------------------------------------------------------ masking


def test_masking_examples() -> None:
    assert mask_id_card(HANGZHOU) == "3301**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_registration_number("G" + HANGZHOU) == "G3*************123X"


def test_masking_tolerates_none_and_short_values() -> None:
    for mask in (mask_id_card, mask_phone, mask_email, mask_registration_number):
        assert mask(None) == ""
        assert mask("") == ""
        assert set(mask("123")) == {"*"}
    assert mask_id_card("12345678") == "********"
    assert mask_email("a@example.com") == "***@example.com"
    assert mask_email("not-an-email") == "*" * len("not-an-email")


# ------------------------------------------------------------------------ issue 18: Unicode


def test_full_width_identifiers_are_the_same_identifiers() -> None:
    full_width_id = "１１０１０５１９４９１２３１００２ｘ"
    assert validate_id_card_number(full_width_id, today=TODAY) == GB_EXAMPLE
    assert validate_username("ｃｈｅｎｘｉａｏｋａｉ") == "chenxiaokai"
    assert normalize_email("ＣＨＥＮ＠ｅｘａｍｐｌｅ．ｃｏｍ") == "chen@example.com"
    assert validate_registration_number("Ｇ" + GB_EXAMPLE) == "G" + GB_EXAMPLE
    keys = login_lookup_keys("１３８０００００００１")
    assert keys["phone"] == "13800000001"
    assert login_lookup_keys("ｃｈｅｎｘｉａｏｋａｉ")["username"] == "chenxiaokai"


@pytest.mark.parametrize(
    "name",
    ["李\u202e遥逍", "李逍\u200b遥", "\ufeff李逍遥", "李\u2066逍遥\u2069", "李\u200d逍遥",
     "李\x07逍遥", "李\u2028逍遥", "李\u00ad逍遥", "Ann\u202aa"],
)  # fmt: skip
def test_names_with_invisible_or_control_characters_are_refused(name: str) -> None:
    assert name_problem(name) is not None
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_real_name(name)
    assert "不可见字符" in _message(excinfo)


@pytest.mark.parametrize("name", ["李逍遥", "买买提·艾力", "Anna Lee", "欧阳 娜娜", "O'Neil"])
def test_ordinary_names_pass(name: str) -> None:
    assert name_problem(name) is None
    assert validate_real_name(name) == name
