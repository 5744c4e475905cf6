"""Password policy: length, character classes, common-password blocklist, personal data."""

from __future__ import annotations

import functools
import gzip
import secrets
import string
from dataclasses import dataclass
from importlib import resources

from pypinyin import lazy_pinyin

from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, normalize_phone

__all__ = [
    "DEFAULT_POLICY",
    "EMPTY_CONTEXT",
    "LOOKALIKE_CHARACTERS",
    "RULE_TEXT",
    "PasswordContext",
    "PasswordPolicy",
    "PolicyViolation",
    "check_password",
    "common_passwords",
    "generate_temporary_password",
    "is_common_password",
]

RULE_TEXT = N_("密码长度8-20位，须包含大写字母、小写字母、数字或符号至少3种或以上元素")

# Chinese-specific common passwords that satisfy the character-class rule; compared lower-case.
_EXTRA_COMMON = frozenset(
    p.lower()
    for p in (
        "woaini1314", "woaini520", "Woaini1314!", "a123456789", "qq123456", "Qq123456",
        "Qq123456!", "Aa123456", "Aa123456!", "Aa123456.", "Aa12345678", "Aa123456789",
        "Aa111111", "Aa666666", "Aa888888", "Aa@123456", "Abc12345", "Abc123456",
        "Abc@123456", "Abc123!@#", "Abcd1234", "Abcd@1234", "Abcd1234!", "Ab123456",
        "A1234567", "A12345678", "Zz123456", "Qwer1234", "Qwer@1234", "Asdf1234",
        "Zxcv1234", "1qaz2wsx", "1qaz@WSX", "1Qaz2wsx", "Qaz123456", "P@ssw0rd",
        "P@ssword1", "Passw0rd", "Passw0rd!", "Password1", "Password1!", "Password@123",
        "Admin123", "Admin@123", "Admin123456", "Test1234", "Test@123", "Zhang123456",
        "Wang123456", "Li123456", "Woaini@520", "I5201314", "Aa5201314", "Asd123456",
    )
)  # fmt: skip

# Characters a child could misread or mistype from a printed slip.
LOOKALIKE_CHARACTERS = frozenset("0Oo1lIi")
_TEMP_UPPER = "".join(c for c in string.ascii_uppercase if c not in LOOKALIKE_CHARACTERS)
_TEMP_LOWER = "".join(c for c in string.ascii_lowercase if c not in LOOKALIKE_CHARACTERS)
_TEMP_DIGITS = "".join(c for c in string.digits if c not in LOOKALIKE_CHARACTERS)
_TEMP_ALPHABET = _TEMP_UPPER + _TEMP_LOWER + _TEMP_DIGITS

_SYMBOLS = frozenset(string.punctuation)


@dataclass(frozen=True)
class PasswordPolicy:
    """Length limits and the minimum number of character classes."""

    min_length: int = 8
    max_length: int = 20
    min_classes: int = 3

    def __post_init__(self) -> None:
        """Reject inconsistent policies."""
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")
        if not 1 <= self.min_classes <= 4:
            raise ValueError("min_classes must be within 1..4")


@dataclass(frozen=True)
class PasswordContext:
    """Personal data of the account that the password must not contain."""

    username: str | None = None
    real_name: str | None = None
    phone: str | None = None
    id_card_number: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class PolicyViolation:
    """One broken rule: a stable ``code`` and a user-facing Chinese ``message``."""

    code: str
    message: str


DEFAULT_POLICY = PasswordPolicy()
EMPTY_CONTEXT = PasswordContext()


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the lower-cased blocklist (Django's 20,000 list plus Chinese extras), loaded once."""
    data = resources.files("campusid.security").joinpath("data/common-passwords.txt.gz")
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    words = {line.strip().lower() for line in text.splitlines()}
    words.discard("")
    return frozenset(words) | _EXTRA_COMMON


def is_common_password(password: str) -> bool:
    """Return True if the password (case-insensitive) is on the common-password list."""
    return password.lower() in common_passwords()


def _character_classes(password: str) -> int:
    """Count the classes (upper, lower, digit, symbol) present in an ASCII password."""
    return sum(
        (
            any(c in string.ascii_uppercase for c in password),
            any(c in string.ascii_lowercase for c in password),
            any(c in string.digits for c in password),
            any(c in _SYMBOLS for c in password),
        )
    )


def _name_variants(real_name: str) -> set[str]:
    """Return lower-case forms of a name to refuse: itself and its pinyin (4+ letters)."""
    name = "".join(real_name.split())
    variants: set[str] = set()
    if not name:
        return variants
    if name.isascii():
        if len(name) >= 4:
            variants.add(name.lower())
        return variants
    variants.add(name.lower())
    syllables = [s.lower() for s in lazy_pinyin(name) if s.isascii()]
    full = "".join(syllables)
    given = "".join(syllables[1:])  # without a one-character surname
    for candidate in (full, given):
        if len(candidate) >= 4 and candidate.isalpha():
            variants.add(candidate)
    return variants


def _phone_variants(phone: str) -> set[str]:
    """Return the phone number and its last 8 digits."""
    try:
        digits = normalize_phone(phone)
    except InvalidIdentifier:
        digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    if len(digits) < 8:
        return set()
    return {digits, digits[-8:]}


def check_password(
    password: str,
    *,
    context: PasswordContext = EMPTY_CONTEXT,
    policy: PasswordPolicy = DEFAULT_POLICY,
) -> list[PolicyViolation]:
    """Check a password against the policy; an empty list means it is acceptable."""
    violations: list[PolicyViolation] = []
    lowered = password.lower()

    if any(c.isspace() for c in password):
        violations.append(PolicyViolation("whitespace", N_("密码不能包含空格")))
    if any(not c.isspace() and not ("!" <= c <= "~") for c in password):
        violations.append(
            PolicyViolation("invalid_chars", N_("密码只能包含英文字母、数字和英文符号"))
        )
    length_message = N_(
        "密码长度须为%(min)s-%(max)s位", min=policy.min_length, max=policy.max_length
    )
    if len(password) < policy.min_length:
        violations.append(PolicyViolation("too_short", length_message))
    if len(password) > policy.max_length:
        violations.append(PolicyViolation("too_long", length_message))
    if _character_classes(password) < policy.min_classes:
        violations.append(
            PolicyViolation(
                "too_few_classes",
                N_("须包含大写字母、小写字母、数字或符号至少%(n)s种", n=policy.min_classes),
            )
        )
    if password and is_common_password(password):
        violations.append(PolicyViolation("common", N_("密码过于常见，容易被猜到，请换一个")))

    username = (context.username or "").strip().lower()
    if len(username) >= 3 and username in lowered:
        violations.append(PolicyViolation("contains_username", N_("密码不能包含用户名")))
    if context.real_name and any(v in lowered for v in _name_variants(context.real_name)):
        violations.append(PolicyViolation("contains_name", N_("密码不能包含姓名（含拼音）")))
    if context.phone and any(v in password for v in _phone_variants(context.phone)):
        violations.append(PolicyViolation("contains_phone", N_("密码不能包含手机号")))
    id_number = "".join((context.id_card_number or "").split()).lower()
    if len(id_number) >= 6 and id_number[-6:] in lowered:
        violations.append(PolicyViolation("contains_id_card", N_("密码不能包含身份证号")))
    email_local = (context.email or "").strip().rpartition("@")[0].lower()
    if len(email_local) >= 4 and email_local in lowered:
        violations.append(PolicyViolation("contains_email", N_("密码不能包含邮箱地址")))
    return violations


def generate_temporary_password(
    length: int = 10, *, context: PasswordContext = EMPTY_CONTEXT
) -> str:
    """Generate a policy-compliant temporary password of 8-12 characters without look-alikes."""
    if not 8 <= length <= 12:
        raise ValueError("temporary password length must be within 8..12")
    rng = secrets.SystemRandom()
    while True:
        chars = [
            secrets.choice(_TEMP_UPPER),
            secrets.choice(_TEMP_LOWER),
            secrets.choice(_TEMP_DIGITS),
            *(secrets.choice(_TEMP_ALPHABET) for _ in range(length - 3)),
        ]
        rng.shuffle(chars)
        candidate = "".join(chars)
        if not check_password(candidate, context=context):
            return candidate
