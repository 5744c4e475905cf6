"""Tests of the password policy and temporary passwords."""

from __future__ import annotations

import pytest

from campusid.security.policy import (
    EMPTY_CONTEXT,
    LOOKALIKE_CHARACTERS,
    RULE_TEXT,
    PasswordContext,
    PasswordPolicy,
    check_password,
    common_passwords,
    generate_temporary_password,
    is_common_password,
)

CONTEXT = PasswordContext(
    username="s_xuesheng008",
    real_name="张小明",
    phone="+86 138 1234 5678",
    id_card_number="33010219900102123x",
    email="QQ88776655@qq.com",
)


def codes(password: str, context: PasswordContext = EMPTY_CONTEXT) -> list[str]:
    return [v.code for v in check_password(password, context=context)]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Kt7#mQ9z", []),  # exactly 8
        ("Kt7#mQ9", ["too_short"]),  # 7
        ("Kt7#mQ9zKt7#mQ9zKt7#", []),  # exactly 20
        ("Kt7#mQ9zKt7#mQ9zKt7#a", ["too_long"]),  # 21
        ("", ["too_short", "too_few_classes"]),
        ("kt7mq9zrw", ["too_few_classes"]),  # lower + digit
        ("KTMQZRWX", ["too_few_classes"]),  # upper only
        ("kt7mq9z#", []),  # lower + digit + symbol
        ("KT7MQ9Z#", []),  # upper + digit + symbol
        ("Ktmqzrw#", []),  # upper + lower + symbol
        ("Kt7mq9zr", []),  # upper + lower + digit
        ("Kt7 mQ9z", ["whitespace"]),
        ("Kt7\tmQ9z", ["whitespace"]),
        ("Kt7#mQ9z密码", ["invalid_chars"]),
        ("Kt7#mQ9zé", ["invalid_chars"]),
        ("Password1", ["common"]),
        ("PASSWORD1", ["too_few_classes", "common"]),  # case variants of the list
        ("pAsSwOrD1", ["common"]),
        ("P@ssw0rd", ["common"]),
        ("Aa123456", ["common"]),
        ("AA123456", ["too_few_classes", "common"]),
        ("aA123456", ["common"]),
        ("Aa123456!", ["common"]),
        ("woaini1314", ["too_few_classes", "common"]),
        ("123456", ["too_short", "too_few_classes", "common"]),
    ],
)
def test_policy_table(password: str, expected: list[str]) -> None:
    assert codes(password) == expected


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Kt7#mQ9z", []),
        ("S_xuesheng008!", ["contains_username"]),
        ("#S_XUESHENG008", ["contains_username"]),
        ("Ab#13812345678", ["contains_phone"]),
        ("Ab#12345678", ["contains_phone"]),  # last 8 digits
        ("Ab#1381234", []),
        ("Ab#0102123X", ["contains_id_card"]),  # last 6+ characters
        ("Ab#02123x!", ["contains_id_card"]),  # case-insensitive
        ("Ab#33010219900102123X", ["too_long", "contains_id_card"]),
        ("Ab#102123", []),  # only five of the last six
        ("Qq88776655!", ["contains_email"]),
    ],
)
def test_personal_data(password: str, expected: list[str]) -> None:
    assert codes(password, CONTEXT) == expected


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Zhangxiaoming1", ["contains_name"]),
        ("ZHANGXIAOMING#1", ["contains_name"]),
        ("Xiaoming2010!", ["contains_name"]),  # given name pinyin
        ("Zhang#2010xm", []),  # 'zhang' alone is too short to refuse
    ],
)
def test_name_pinyin(password: str, expected: list[str]) -> None:
    assert codes(password, CONTEXT) == expected


def test_name_itself_and_latin_names() -> None:
    assert "contains_name" in codes("张小明Ab1#", CONTEXT)
    latin = PasswordContext(real_name="Anna Lee")
    assert codes("Annalee#2010", latin) == ["contains_name"]
    assert codes("Kt7#mQ9z", PasswordContext(real_name="Li")) == []


def test_messages_are_chinese() -> None:
    messages = {v.code: v.message for v in check_password("", context=CONTEXT)}
    assert messages["too_short"] == "密码长度须为8-20位"
    assert messages["too_few_classes"] == "须包含大写字母、小写字母、数字或符号至少3种"
    assert check_password("Password1")[0].message == "密码过于常见，容易被猜到，请换一个"
    by_code = {v.code: v.message for v in check_password("S_xuesheng008张小明", context=CONTEXT)}
    assert by_code["contains_username"] == "密码不能包含用户名"
    assert by_code["contains_name"] == "密码不能包含姓名（含拼音）"
    assert RULE_TEXT.startswith("密码长度8-20位")


def test_custom_policy() -> None:
    policy = PasswordPolicy(min_length=10, max_length=16, min_classes=2)
    assert [v.code for v in check_password("kt7mq9zr", policy=policy)] == ["too_short"]
    assert check_password("kt7mq9zrwx", policy=policy) == []
    assert check_password("kt7mq9zr", policy=policy)[0].message == "密码长度须为10-16位"
    with pytest.raises(ValueError, match="min_length"):
        PasswordPolicy(min_length=21)
    with pytest.raises(ValueError, match="min_classes"):
        PasswordPolicy(min_classes=5)


def test_common_list() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    assert all(w == w.lower() for w in words)
    for word in ("123456", "password", "qwerty", "woaini1314", "a123456789", "qq123456",
                 "abc12345", "woaini520", "passw0rd"):  # fmt: skip
        assert is_common_password(word)
        assert is_common_password(word.upper())
    assert not is_common_password("Kt7#mQ9z")


def test_temporary_passwords() -> None:
    for _ in range(500):
        password = generate_temporary_password()
        assert len(password) == 10
        assert check_password(password) == []
        assert not set(password) & LOOKALIKE_CHARACTERS
        assert any(c.isupper() for c in password)
        assert any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)


@pytest.mark.parametrize("length", [8, 9, 11, 12])
def test_temporary_password_lengths(length: int) -> None:
    for _ in range(50):
        password = generate_temporary_password(length, context=CONTEXT)
        assert len(password) == length
        assert check_password(password, context=CONTEXT) == []


@pytest.mark.parametrize("length", [7, 13])
def test_temporary_password_length_bounds(length: int) -> None:
    with pytest.raises(ValueError, match=r"8\.\.12"):
        generate_temporary_password(length)
