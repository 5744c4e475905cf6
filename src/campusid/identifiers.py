"""Validation, normalisation and masking of account identifiers (pure functions, no DB).

Identifiers: username, mainland mobile phone, resident ID card number (身份证号, GB 11643),
student registration number (学籍号) and email. All of them log in to the same account.

Issue 18: every identifier is NFKC-normalised before anything else (`fold`), so what a Chinese
input method types in full width (``１３８…``, ``ｃｈｅｎ…``, ``＠``) is the same identifier
wherever it is typed (sign-in, recovery, every search), because every one of those goes through
the functions here. Real names are checked by `validate_real_name`: no bidi controls, zero-width
or other invisible format characters, no control characters.
"""

from __future__ import annotations

import contextlib
import operator
import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from campusid.i18n import N_

__all__ = [
    "ID_CARD_PROVINCE_CODES",
    "InvalidIdentifier",
    "birth_date_from_id_card",
    "fold",
    "id_card_check_digit",
    "is_valid_id_card_number",
    "login_lookup_keys",
    "mask_email",
    "mask_id_card",
    "mask_name",
    "mask_phone",
    "mask_registration_number",
    "mask_username",
    "name_problem",
    "normalize_email",
    "normalize_login",
    "normalize_phone",
    "validate_id_card_number",
    "validate_real_name",
    "validate_registration_number",
    "validate_username",
]

_CHINA_TZ = ZoneInfo("Asia/Shanghai")

# GB 11643-1999 / ISO 7064 MOD 11-2: weight of position i is 2**(17 - i) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"

# Province-level codes (GB/T 2260) plus 81/82/83, used by the residence permits of Hong Kong,
# Macao and Taiwan residents, which follow the same 18-character format.
ID_CARD_PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_USERNAME_CHARS = re.compile(r"[a-z0-9_]+")
_REG_NATIONAL = re.compile(r"[GLJ][0-9]{17}[0-9X]")
_REG_GENERIC = re.compile(r"[A-Z0-9]{10,20}")
_WHITESPACE = re.compile(r"\s+")

MSG_ID_FORMAT = N_("身份证号格式不正确")
MSG_ID_CHECK = N_("身份证号校验位不正确")
MSG_ID_BIRTH = N_("身份证号中的出生日期不正确")
MSG_PHONE = N_("手机号格式不正确")
MSG_USERNAME_LENGTH = N_("用户名长度须为4-32位")
MSG_USERNAME_CHARS = N_("用户名只能包含小写英文字母、数字和下划线")
MSG_USERNAME_START = N_("用户名须以英文字母开头")
MSG_EMAIL = N_("邮箱格式不正确")
MSG_REGISTRATION = N_("学籍号格式不正确")
MSG_NAME_CHARACTERS = N_("姓名含有不可见字符或控制字符，请删除后重新输入")


class InvalidIdentifier(ValueError):  # noqa: N818 - name fixed by the API
    """An identifier failed validation; ``message`` is a user-facing Chinese message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _today() -> date:
    """Return today's date in China Standard Time."""
    return datetime.now(_CHINA_TZ).date()


def fold(value: str) -> str:
    """NFKC: full-width letters, digits and signs become their ASCII forms (``１``, ``Ａ``, ``＠``).

    The first step of every identifier function here, so sign-in, recovery and searches agree.
    """
    return unicodedata.normalize("NFKC", value)


def _strip_spaces(value: str) -> str:
    """Remove all whitespace, including inner spaces (after folding full-width forms)."""
    return _WHITESPACE.sub("", fold(value))


# --------------------------------------------------------------------------- real names

# Categories a name never needs: Cc (controls), Cf (format: the bidi controls U+202A-202E and
# U+2066-2069, the zero-width U+200B-200F, U+FEFF, soft hyphen...), Cs, Co, Cn (surrogates,
# private use, unassigned), Zl and Zp (line and paragraph separators).
_NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def name_problem(value: str) -> str | None:
    """The message if a real name carries invisible or control characters, else None."""
    for ch in value:
        if unicodedata.category(ch) in _NAME_FORBIDDEN_CATEGORIES:
            return MSG_NAME_CHARACTERS
    return None


def validate_real_name(value: str) -> str:
    """A real name as typed, spaces collapsed; InvalidIdentifier if it carries any character
    that could hide or reorder what a list shows (a spoofed name in lists and exports)."""
    problem = name_problem(value or "")
    if problem is not None:
        raise InvalidIdentifier(problem)
    return " ".join((value or "").split())


# --------------------------------------------------------------------------- ID card numbers


def id_card_check_digit(first17: str) -> str:
    """Return the GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdentifier(MSG_ID_FORMAT)
    return _ID_CHECK_CHARS[sum(map(operator.mul, map(int, first17), _ID_WEIGHTS)) % 11]


def _birth_date(number: str) -> date | None:
    """Parse YYYYMMDD at positions 7-14 of a shape-checked ID number, or None if impossible."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def validate_id_card_number(value: str, *, today: date | None = None) -> str:
    """Validate an 18-character ID card number and return it normalised (spaces out, X upper)."""
    number = _strip_spaces(value).upper()
    if not _ID_SHAPE.fullmatch(number) or number[:2] not in ID_CARD_PROVINCE_CODES:
        raise InvalidIdentifier(MSG_ID_FORMAT)
    born = _birth_date(number)
    if born is None or born.year < 1900 or born > (today or _today()):
        raise InvalidIdentifier(MSG_ID_BIRTH)
    if id_card_check_digit(number[:17]) != number[17]:
        raise InvalidIdentifier(MSG_ID_CHECK)
    return number


def is_valid_id_card_number(value: str, *, today: date | None = None) -> bool:
    """Return True if ``value`` is a valid ID card number."""
    try:
        validate_id_card_number(value, today=today)
    except InvalidIdentifier:
        return False
    return True


def birth_date_from_id_card(value: str, *, today: date | None = None) -> date:
    """Return the birth date encoded in a (validated) ID card number."""
    number = validate_id_card_number(value, today=today)
    born = _birth_date(number)
    assert born is not None  # guaranteed by validate_id_card_number
    return born


# --------------------------------------------------------------------------- other identifiers


def normalize_phone(value: str) -> str:
    """Normalise a mainland mobile number (spaces, dashes, +86/0086/86 allowed) to 11 digits."""
    digits = _strip_spaces(value).replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isascii() or not _PHONE.fullmatch(digits):
        raise InvalidIdentifier(MSG_PHONE)
    return digits


def validate_username(value: str) -> str:
    """Validate a username (4-32 of a-z, 0-9, _; first a letter) and return it lower-case."""
    name = fold(value).strip().lower()
    if not 4 <= len(name) <= 32:
        raise InvalidIdentifier(MSG_USERNAME_LENGTH)
    if not name.isascii() or not _USERNAME_CHARS.fullmatch(name):
        raise InvalidIdentifier(MSG_USERNAME_CHARS)
    if not ("a" <= name[0] <= "z"):
        raise InvalidIdentifier(MSG_USERNAME_START)
    return name


def normalize_email(value: str) -> str:
    """Sanity-check an email address and return it lower-cased.

    The whole address is lower-cased (not only the domain): the providers our families use
    treat the local part without case, and one stored form keeps sign-in and uniqueness simple.
    """
    email = fold(value).strip()
    if len(email) > 254 or email.count("@") != 1 or _WHITESPACE.search(email):
        raise InvalidIdentifier(MSG_EMAIL)
    local, domain = email.split("@")
    domain = domain.lower()
    if (
        not local
        or len(local) > 64
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or ".." in domain
    ):
        raise InvalidIdentifier(MSG_EMAIL)
    return f"{local.lower()}@{domain}"


def validate_registration_number(value: str) -> str:
    """Validate a 学籍号 and return it upper-case.

    Accepted: the national form ``G``/``L``/``J`` + a valid 18-character ID card number, or any
    other 10-20 upper-case letters/digits. A value shaped like the national form must carry a
    valid ID card number.
    """
    number = _strip_spaces(value).upper()
    if not number.isascii():
        raise InvalidIdentifier(MSG_REGISTRATION)
    if _REG_NATIONAL.fullmatch(number):
        if not is_valid_id_card_number(number[1:]):
            raise InvalidIdentifier(MSG_REGISTRATION)
        return number
    if not _REG_GENERIC.fullmatch(number):
        raise InvalidIdentifier(MSG_REGISTRATION)
    return number


# --------------------------------------------------------------------------- login lookup


def normalize_login(value: str) -> str:
    """Normalise a login field into one lookup key (phone, ID, else lower-cased text).

    Rules: all whitespace is removed; a value that parses as a mainland mobile becomes its 11
    digits (``+86 138-1234-5678`` -> ``13812345678``); an 18-character ID shape gets an upper-case
    X; anything else (username, email, 学籍号) is lower-cased.

    How the caller matches the key: ``phone == key`` and ``id_card_number == key`` exactly;
    ``username``, ``email`` and ``registration_number`` case-insensitively, i.e.
    ``func.lower(column) == key.lower()`` (usernames are stored lower-case already; 学籍号 are
    stored upper-case). If more than one account matches, refuse the login as ambiguous. For
    exact per-column values use :func:`login_lookup_keys` instead.
    """
    key = _strip_spaces(value)
    try:
        return normalize_phone(key)
    except InvalidIdentifier:
        pass
    if len(key) == 18 and _ID_SHAPE.fullmatch(key.upper()):
        return key.upper()
    return key.lower()


def login_lookup_keys(value: str) -> dict[str, str]:
    """Map each identifier column the login value could belong to onto its normalised value.

    Keys are column names (``phone``, ``id_card_number``, ``registration_number``, ``username``,
    ``email``); only columns whose validator accepts the value are present, so the caller can run
    ``OR`` of exact ``column == value`` comparisons. The check digit of an ID card is verified,
    but not its birth date against today.
    """
    raw = fold(value).strip()
    keys: dict[str, str] = {}
    with contextlib.suppress(InvalidIdentifier):
        keys["phone"] = normalize_phone(raw)
    compact = _strip_spaces(raw).upper()
    if (
        _ID_SHAPE.fullmatch(compact)
        and compact[:2] in ID_CARD_PROVINCE_CODES
        and id_card_check_digit(compact[:17]) == compact[17]
    ):
        keys["id_card_number"] = compact
    for column, validator in (
        ("registration_number", validate_registration_number),
        ("username", validate_username),
        ("email", normalize_email),
    ):
        try:
            keys[column] = validator(raw)
        except InvalidIdentifier:
            continue
    return keys


# --------------------------------------------------------------------------- masking


def _mask(value: str | None, head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters, star the rest."""
    if value is None:
        return ""
    text = value.strip()
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


def mask_id_card(value: str | None) -> str:
    """Mask an ID card number: ``3301**********123X`` (first 4 and last 4 shown)."""
    return _mask(value, 4, 4)


def mask_phone(value: str | None) -> str:
    """Mask a phone number: ``138****5678`` (first 3 and last 4 shown)."""
    if value is None:
        return ""
    with contextlib.suppress(InvalidIdentifier):
        value = normalize_phone(value)
    return _mask(value, 3, 4)


def mask_email(value: str | None) -> str:
    """Mask an email address: ``z***@example.com`` (first character of the local part shown)."""
    if value is None:
        return ""
    text = value.strip()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        return "*" * len(text)
    if len(local) < 2:
        return f"***@{domain}"
    return f"{local[0]}***@{domain}"


def mask_registration_number(value: str | None) -> str:
    """Mask a 学籍号: first 2 and last 4 characters shown."""
    return _mask(value, 2, 4)


def mask_name(value: str | None) -> str:
    """Mask a real name: ``李*遥``, ``李*`` (first character, and the last of three or more)."""
    if not value:
        return ""
    text = value.strip()
    if len(text) <= 2:
        return text[:1] + "*" * (len(text) - 1)
    return _mask(text, 1, 1)


def mask_username(value: str | None) -> str:
    """Mask a username: first 2 and last character shown (usernames are often a name's pinyin)."""
    return _mask(value, 2, 1)


def mask_login(value: str) -> str:
    """A loggable form of what was typed as a login or a search (it may be a mistyped password)."""
    keys = login_lookup_keys(value)
    if "id_card_number" in keys:
        return mask_id_card(keys["id_card_number"])
    if "phone" in keys:
        return mask_phone(keys["phone"])
    if "email" in keys:
        return mask_email(keys["email"])
    if "registration_number" in keys and "username" not in keys:
        return keys["registration_number"][:2] + "***"
    return mask_username(value.strip()[:32])
