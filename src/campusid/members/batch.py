"""Adding and moving a school's people in batches: plan every row first, then write it all.

One path for one person added by hand and for 100,000 imported from Excel. `RosterBuilder`
checks each row against the database (looked up in bulk beforehand) and against the rows before
it, and records what to do in a `Plan`; nothing is written until every row passed. `apply`
then writes the plan with bulk statements in the caller's transaction.

Attach, not duplicate: a person whose ID card number, phone or 学籍号 already belongs to an
account is attached to the school with that account, which keeps its password. New accounts
point at the school's default credential (学生默认密码) instead of carrying a hash of their own,
so an import costs no argon2 work at all (docs/import.md), and must change it at first sign-in.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pypinyin import lazy_pinyin
from pypinyin.constants import PHRASES_DICT
from sqlalchemy import String, insert, select, type_coerce, update
from sqlalchemy.orm import Session

from campusid.accounts.models import Gender, SchoolMembership, SchoolRole, User
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink, Relation
from campusid.i18n import N_
from campusid.identifiers import (
    InvalidIdentifier,
    name_problem,
    normalize_phone,
    validate_id_card_number,
    validate_registration_number,
)
from campusid.org.models import ClassKind, School, SchoolClass
from campusid.security import authz
from campusid.security.permissions import Role
from campusid.web import Refused

CHUNK = 500  # values per IN (...) and rows per INSERT batch

IDENTIFIER_LABELS = {
    "id_card_number": N_("身份证号"),
    "registration_number": N_("学籍号"),
    "phone": N_("手机号"),
}
RELATION_WORDS = {
    "父亲": Relation.FATHER,
    "爸爸": Relation.FATHER,
    "母亲": Relation.MOTHER,
    "妈妈": Relation.MOTHER,
    "其他监护人": Relation.OTHER,
    "其他": Relation.OTHER,
}
GENDER_WORDS = {"男": Gender.MALE, "女": Gender.FEMALE}
ROLE_PREFIX = {SchoolRole.STUDENT: "s", SchoolRole.PARENT: "p", SchoolRole.TEACHER: "t"}


class MemberError(Refused):
    """A row or a request is refused; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AttachRefused(MemberError):  # noqa: N818 - a refusal, like MemberError
    """A named account that does not match, or may not be attached in this role.

    Counted against the administrator and the identifier (`members.service.AttachGuard`), like
    a failed 关联孩子: whoever types names and numbers to see what they answer is slowed down.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TransferNeeded(AttachRefused):
    """The named account is a student of another school: a transfer request, not an attach."""

    def __init__(self, message: str, *, student_id: int) -> None:
        super().__init__(message, reason="student_elsewhere")
        self.student_id = student_id


ADULT_NOT_STUDENT = authz.ADULT_NOT_STUDENT
CHILD_NOT_ADULT = authz.CHILD_NOT_ADULT
STUDENT_ELSEWHERE = authz.STUDENT_ELSEWHERE
NOT_HOME_SCHOOL = N_("该账号同时属于其他学校或为成年人账号，本校不能修改其身份证号。")


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most `size` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class Person:
    """Validated facts about a person, as typed on a form or a spreadsheet row."""

    real_name: str
    gender: Gender | None = None
    id_card_number: str | None = None
    registration_number: str | None = None
    phone: str | None = None

    def identifiers(self) -> dict[str, str]:
        """The identifiers given, by column, in the order of IDENTIFIER_LABELS.

        Written out: an import asks this of every row's person three or four times.
        """
        found = {}
        if self.id_card_number is not None:
            found["id_card_number"] = self.id_card_number
        if self.registration_number is not None:
            found["registration_number"] = self.registration_number
        if self.phone is not None:
            found["phone"] = self.phone
        return found


_CONTROL = re.compile(r"[\x00-\x1f]")  # a character below 32
# A name's problem depends on the name alone, and names repeat (an import of 100,000 pupils
# holds a few thousand distinct ones): each is looked at once.
_name_problem = functools.lru_cache(maxsize=1 << 16)(name_problem)


def person_from(
    *,
    real_name: str,
    today: date,
    gender: str | None = None,
    id_card_number: str | None = None,
    registration_number: str | None = None,
    phone: str | None = None,
    label: str = "",
    require_name: bool = True,
) -> Person:
    """Check and normalise what was typed about a person; MemberError with every problem."""
    problems = []
    name = " ".join((real_name or "").split())
    if not name:
        if require_name:
            problems.append(N_("请填写%(label)s姓名", label=label))
    elif len(name) > 64:
        problems.append(N_("%(label)s姓名过长", label=label))
    elif name.startswith(("=", "+", "-", "@")) or _CONTROL.search(name):
        problems.append(N_("%(label)s姓名格式不正确", label=label))
    elif (problem := _name_problem(name)) is not None:
        problems.append(f"{label}{problem}")
    person = Person(real_name=name)
    gender_text = (gender or "").strip()
    if gender_text:
        if gender_text in GENDER_WORDS:
            person.gender = GENDER_WORDS[gender_text]
        elif gender_text in {g.value for g in Gender}:
            person.gender = Gender(gender_text)
        else:
            problems.append(N_("%(label)s性别须为男或女", label=label))
    for column, value, check in (
        ("id_card_number", id_card_number, lambda v: validate_id_card_number(v, today=today)),
        ("registration_number", registration_number, validate_registration_number),
        ("phone", phone, normalize_phone),
    ):
        if value and value.strip():
            try:
                setattr(person, column, check(value))
            except InvalidIdentifier as exc:
                problems.append(f"{label}{exc.message}")
    if problems:
        raise MemberError(";".join(problems))
    return person


def relation_from(text: str | None) -> Relation:
    """父亲 / 母亲 / 其他监护人 (or the enum value)."""
    value = (text or "").strip()
    if value in RELATION_WORDS:
        return RELATION_WORDS[value]
    try:
        return Relation(value)
    except ValueError:
        raise MemberError(N_("家长关系须为父亲、母亲或其他监护人")) from None


@dataclass(eq=False)
class Account:
    """An account the plan refers to: one that exists (user_id) or one it will create."""

    real_name: str
    username: str | None = None
    id_card_number: str | None = None
    registration_number: str | None = None
    phone: str | None = None
    user_id: int | None = None
    gender: Gender | None = None
    role: SchoolRole | None = None  # for new accounts: the role that created it
    row: str = ""  # where a new account was first named (for duplicate messages)

    @property
    def is_new(self) -> bool:
        """Whether the plan creates this account."""
        return self.user_id is None

    @property
    def id(self) -> int:
        """The account's id (after `apply` for new accounts)."""
        assert self.user_id is not None
        return self.user_id


class AccountIndex:
    """Accounts by identifier: loaded from the database in bulk, plus those the plan creates."""

    COLUMNS = ("id_card_number", "registration_number", "phone", "username")

    def __init__(self) -> None:
        self.by: dict[str, dict[str, Account]] = {c: {} for c in self.COLUMNS}
        self.by_id: dict[int, Account] = {}
        # The stored form of every value looked up in an encrypted column, by column: the
        # writer stores new accounts' identifiers without encrypting them again (`Plan.sealed`).
        self.sealed: dict[str, dict[str, Any]] = {}

    def load(self, db: Session, wanted: dict[str, set[str]]) -> None:
        """Load the accounts holding any of the wanted identifier values.

        An encrypted column's values are encrypted here, by the column's own bind processing,
        and compared as stored (the same SQL and the same ciphertexts as binding them to the
        column would give), so that `sealed` keeps them.
        """
        dialect = db.get_bind().dialect
        for column, values in wanted.items():
            todo = sorted(v for v in values if v and v not in self.by[column])
            attribute = getattr(User, column)
            seal = attribute.type.dialect_impl(dialect).bind_processor(dialect)
            sealed = self.sealed.setdefault(column, {}) if seal is not None else {}
            for part in chunks(todo):
                if seal is None:
                    condition = attribute.in_(part)
                else:
                    stored = [seal(value) for value in part]
                    sealed.update(zip(part, stored, strict=True))
                    condition = type_coerce(attribute, String).in_(stored)
                rows = db.execute(
                    select(
                        User.id,
                        User.real_name,
                        User.username,
                        User.id_card_number,
                        User.registration_number,
                        User.phone,
                    ).where(condition)
                )
                for row in rows:
                    self._remember(Account(row[1], row[2], row[3], row[4], row[5], row[0]))

    def load_ids(self, db: Session, user_ids: Iterable[int]) -> None:
        """Load accounts by id."""
        todo = sorted({i for i in user_ids if i not in self.by_id})
        for part in chunks(todo):
            for row in db.execute(
                select(
                    User.id,
                    User.real_name,
                    User.username,
                    User.id_card_number,
                    User.registration_number,
                    User.phone,
                ).where(User.id.in_(part))
            ):
                self._remember(Account(row[1], row[2], row[3], row[4], row[5], row[0]))

    def _remember(self, account: Account) -> None:
        if account.user_id is not None:
            if account.user_id in self.by_id:
                return
            self.by_id[account.user_id] = account
        for column in self.COLUMNS:
            value = getattr(account, column)
            if value:
                self.by[column][value] = account

    def add(self, account: Account) -> None:
        """Remember an account the plan will create, so later rows find it."""
        self._remember(account)

    def bind(self, account: Account, column: str, value: str) -> None:
        """Record an identifier the plan gives an account."""
        setattr(account, column, value)
        self.by[column][value] = account

    def find(self, column: str, value: str | None) -> Account | None:
        """The account holding this identifier value."""
        return self.by[column].get(value) if value else None

    def find_login(self, value: str) -> Account | None:
        """The account an identifier of any kind names (账号 column of a spreadsheet)."""
        text = (value or "").strip()
        if not text:
            return None
        for column, key in _login_keys(text).items():
            found = self.find(column, key)
            if found is not None:
                return found
        return None

    def match(self, person: Person) -> Account | None:
        """The one existing account this person is, by any identifier; refuse contradictions."""
        found: list[tuple[str, Account]] = []
        for column, value in person.identifiers().items():
            account = self.find(column, value)
            if account is not None:
                found.append((column, account))
        accounts = {id(a): a for _, a in found}
        if len(accounts) > 1:
            labels = "、".join(IDENTIFIER_LABELS[c] for c, _ in found)
            raise AttachRefused(
                N_("%(labels)s分别属于不同的账号，请核对", labels=labels), reason="mismatch"
            )
        if not found:
            return None
        column, account = found[0]
        if account.real_name != person.real_name:
            raise AttachRefused(
                N_(
                    "%(identifier)s已被其他姓名的账号使用，请核对",
                    identifier=IDENTIFIER_LABELS[column],
                ),
                reason="mismatch",
            )
        for other, value in person.identifiers().items():
            held = getattr(account, other)
            if held and held != value:
                raise AttachRefused(
                    N_(
                        "该%(identifier)s的账号已绑定其他%(other)s",
                        identifier=IDENTIFIER_LABELS[column],
                        other=IDENTIFIER_LABELS[other],
                    ),
                    reason="mismatch",
                )
        return account


def _login_keys(text: str) -> dict[str, str]:
    from campusid.identifiers import login_lookup_keys

    keys = login_lookup_keys(text)
    return {c: v for c, v in keys.items() if c in AccountIndex.COLUMNS}


def wanted_identifiers(
    persons: Iterable[Person], logins: Iterable[str] = ()
) -> dict[str, set[str]]:
    """Every identifier value the rows name, by column, for one bulk look-up."""
    wanted: dict[str, set[str]] = {c: set() for c in AccountIndex.COLUMNS}
    for person in persons:
        for column, value in person.identifiers().items():
            wanted[column].add(value)
    for login in logins:
        for column, value in _login_keys(login).items():
            wanted[column].add(value)
    return wanted


@dataclass
class Placement:
    """Where a student is in this school now (or will be, once the plan is applied)."""

    member: bool = False  # an active student membership
    class_student_id: int | None = None  # row in an administrative class of this school
    class_id: int | None = None
    row: str = ""  # the row of this batch that placed them already


@dataclass
class Plan:
    """What a batch will write, once every row passed."""

    new_accounts: list[Account] = field(default_factory=list)
    joins: list[tuple[Account, SchoolRole]] = field(default_factory=list)
    placements: list[tuple[Account, int, str | None]] = field(default_factory=list)
    moves: list[tuple[Account, int, str | None]] = field(default_factory=list)  # existing only
    binds: list[tuple[Account, str, str]] = field(default_factory=list)
    links: list[tuple[Account, Account, Relation]] = field(default_factory=list)
    created: int = 0
    attached: int = 0
    moved: int = 0
    parents_linked: int = 0
    id_cards_bound: int = 0
    # Identifiers already encrypted for the look-ups, by column (`AccountIndex.sealed`): not
    # part of what is written, only a shortcut for writing it.
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """The counts the administrator is shown."""
        return {
            "created": self.created,
            "attached": self.attached,
            "moved": self.moved,
            "parents_linked": self.parents_linked,
            "id_cards_bound": self.id_cards_bound,
        }


class RosterBuilder:
    """Checks rows one by one and builds the plan; call `preload` with every row's data first."""

    def __init__(
        self,
        db: Session,
        *,
        school: School,
        class_names: dict[int, str],
        today: date | None = None,
    ) -> None:
        self.db = db
        self.school = school
        self.class_names = class_names  # active administrative classes of the school
        self.today = today or datetime.now(UTC).date()
        # What the attach rule knows of each existing account, across the whole platform.
        self.facts: dict[int, authz.AccountFacts] = {}
        self.index = AccountIndex()
        self.plan = Plan(sealed=self.index.sealed)
        self.placement: dict[int, Placement] = {}  # by id() of the Account
        self.roles: dict[tuple[int, SchoolRole], bool] = {}
        self.linked: set[tuple[int, int]] = set()

    # ----------------------------------------------------------------- loading

    def preload(self, persons: Iterable[Person], logins: Iterable[str] = ()) -> None:
        """Look up, in bulk, every account and school relation the rows could touch."""
        self.index.load(self.db, wanted_identifiers(persons, logins))
        self.load_state([a.user_id for a in self.index.by_id.values() if a.user_id])

    def load_state(self, user_ids: list[int]) -> None:
        """Load the school memberships, class places and parent links of these accounts."""
        for part in chunks(sorted(set(user_ids))):
            for user_id, role, active in self.db.execute(
                select(
                    SchoolMembership.user_id, SchoolMembership.role, SchoolMembership.active
                ).where(
                    SchoolMembership.school_id == self.school.id,
                    SchoolMembership.user_id.in_(part),
                )
            ):
                self.roles[(user_id, role)] = bool(active)
            for row_id, student_id, class_id in self.db.execute(
                select(ClassStudent.id, ClassStudent.student_id, ClassStudent.class_id)
                .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
                .where(
                    SchoolClass.school_id == self.school.id,
                    SchoolClass.kind == ClassKind.ADMINISTRATIVE,
                    SchoolClass.id.in_(list(self.class_names)),
                    ClassStudent.student_id.in_(part),
                )
            ):
                account = self.index.by_id[student_id]
                self.placement[id(account)] = Placement(True, row_id, class_id)
            for parent_id, child_id in self.db.execute(
                select(ParentLink.parent_id, ParentLink.child_id).where(
                    (ParentLink.parent_id.in_(part)) | (ParentLink.child_id.in_(part))
                )
            ):
                self.linked.add((parent_id, child_id))
            self._load_facts(part)

    def _load_facts(self, user_ids: Sequence[int]) -> None:
        """The platform-wide facts of these accounts the attach rule reads (`authz.may_attach`)."""
        self.facts.update(classes.attach_facts(self.db, user_ids=user_ids, today=self.today))

    def facts_of(self, user_id: int) -> authz.AccountFacts:
        """What the attach rule knows of an existing account (loaded if not yet)."""
        if user_id not in self.facts:
            self._load_facts([user_id])
        return self.facts[user_id]

    def check_attach(self, account: Account, role: Role) -> None:
        """Refuse an existing account where the attach rule says no (`authz.may_attach`)."""
        if account.is_new:
            return
        decision = authz.may_attach(role, self.facts_of(account.id), self.school.id)
        if decision is authz.AttachDecision.TRANSFER:
            raise TransferNeeded(STUDENT_ELSEWHERE, student_id=account.id)
        if decision is authz.AttachDecision.REFUSE_ADULT:
            raise AttachRefused(ADULT_NOT_STUDENT, reason=decision.value)
        if decision is authz.AttachDecision.REFUSE_CHILD:
            raise AttachRefused(CHILD_NOT_ADULT, reason=decision.value)

    def _place(self, account: Account) -> Placement:
        place = self.placement.get(id(account))
        if place is None:
            member = bool(account.user_id and self.roles.get((account.user_id, SchoolRole.STUDENT)))
            place = Placement(member=member)
            self.placement[id(account)] = place
        return place

    # ----------------------------------------------------------------- helpers

    def _account_for(self, person: Person, role: SchoolRole, row: str) -> tuple[Account, bool]:
        """The existing account this person is, or a new one; and whether it is new."""
        account = self.index.match(person)
        if account is not None:
            return account, False
        account = Account(
            real_name=person.real_name,
            id_card_number=person.id_card_number,
            registration_number=person.registration_number,
            phone=person.phone,
            gender=person.gender,
            role=role,
            row=row,
        )
        return account, True

    def _join(self, account: Account, role: SchoolRole) -> None:
        key = (account.user_id or -id(account), role)
        if not self.roles.get(key):
            self.roles[key] = True
            self.plan.joins.append((account, role))

    def _register(self, account: Account) -> None:
        self.plan.new_accounts.append(account)
        self.index.add(account)
        self.plan.created += 1

    def class_label(self, class_id: int) -> str:
        """The display name of one of the school's classes."""
        return self.class_names.get(class_id, N_("其他班级"))

    # ----------------------------------------------------------------- operations

    def add_student(
        self,
        person: Person,
        *,
        class_id: int,
        student_number: str | None,
        row: str = "",
    ) -> Account:
        """新建: a student into a class (a new account, or an existing one attached)."""
        if class_id not in self.class_names:
            raise MemberError(N_("班级不存在或已毕业"))
        number = _student_number(student_number)
        account, is_new = self._account_for(person, SchoolRole.STUDENT, row)
        if not is_new:  # a new account has no place yet: it gets its own below
            place = self._place(account)
            self.check_attach(account, Role.STUDENT)
            if account.is_new:
                raise MemberError(N_("与%(row)s是同一学生，请勿重复填写", row=account.row))
            if place.row:
                raise MemberError(N_("该学生已在%(row)s处理，请勿重复填写", row=place.row))
            if place.class_id is not None:
                raise MemberError(
                    N_(
                        "该学生已在本校%(class_name)s，如需换班请将操作填写为换班",
                        class_name=self.class_label(place.class_id),
                    )
                )
        if is_new:
            self._register(account)
        else:
            self.plan.attached += 1
        self._join(account, SchoolRole.STUDENT)
        self.plan.placements.append((account, class_id, number))
        self.placement[id(account)] = Placement(True, None, class_id, row or N_("本次"))
        return account

    def find_student(self, login: str, *, real_name: str | None = None) -> Account:
        """An existing student of this school named by any identifier (账号 column)."""
        account = self.index.find_login(login)
        if account is None or account.is_new or not self._place(account).member:
            raise MemberError(N_("找不到该学生，请核对账号"))
        if real_name and account.real_name != real_name:
            raise MemberError(N_("姓名与账号不一致，请核对"))
        return account

    def move_student(
        self, account: Account, *, class_id: int, student_number: str | None, row: str = ""
    ) -> None:
        """换班: into another class (or out of 校区存放 into a class)."""
        if class_id not in self.class_names:
            raise MemberError(N_("班级不存在或已毕业"))
        number = _student_number(student_number)
        place = self._place(account)
        if place.row:
            raise MemberError(N_("该学生已在%(row)s处理，请勿重复填写", row=place.row))
        if place.class_id == class_id:
            raise MemberError(N_("该学生已在%(class_name)s", class_name=self.class_label(class_id)))
        self.plan.moves.append((account, class_id, number))
        self.plan.moved += 1
        self.placement[id(account)] = Placement(
            True, place.class_student_id, class_id, row or N_("本次")
        )

    def bind_id_card(self, account: Account, id_card_number: str) -> None:
        """绑身份证: give a student without one their ID card number."""
        holder = self.index.find("id_card_number", id_card_number)
        if holder is account:
            raise MemberError(N_("该学生已绑定此身份证号"))
        if holder is not None:
            raise MemberError(N_("该身份证号已被其他账号使用"))
        if account.id_card_number:
            raise MemberError(N_("该学生已绑定其他身份证号"))
        if not account.is_new and not authz.is_home_school(
            self.facts_of(account.id), self.school.id
        ):
            raise MemberError(NOT_HOME_SCHOOL)
        self.index.bind(account, "id_card_number", id_card_number)
        self.plan.binds.append((account, "id_card_number", id_card_number))
        self.plan.id_cards_bound += 1

    def add_parent(
        self, child: Account, parent: Person, relation: Relation, row: str = ""
    ) -> Account:
        """绑家长: a parent (new, or an existing account attached) linked to a student."""
        if not parent.phone:
            raise MemberError(N_("请填写家长手机号"))
        account, is_new = self._account_for(parent, SchoolRole.PARENT, row)
        if account is child:
            raise MemberError(N_("家长不能是学生本人"))
        if not is_new:
            self.check_attach(account, Role.PARENT)
        if is_new:
            self._register(account)
        self._join(account, SchoolRole.PARENT)
        pair = (account.user_id or -id(account), child.user_id or -id(child))
        if pair in self.linked:
            if not account.is_new and not child.is_new:
                raise MemberError(N_("该家长已关联此学生"))
            raise MemberError(N_("该家长与学生的关联重复"))
        self.linked.add(pair)
        self.plan.links.append((account, child, relation))
        self.plan.parents_linked += 1
        return account

    def add_teacher(self, person: Person, row: str = "") -> Account:
        """A teacher (new, or an existing account attached)."""
        if not person.phone:
            raise MemberError(N_("请填写老师手机号"))
        account, is_new = self._account_for(person, SchoolRole.TEACHER, row)
        if not is_new and account.user_id and self.roles.get((account.user_id, SchoolRole.TEACHER)):
            raise MemberError(N_("该老师已在本校"))
        if not is_new:
            self.check_attach(account, Role.TEACHER)
        if is_new:
            self._register(account)
        else:
            self.plan.attached += 1
        self._join(account, SchoolRole.TEACHER)
        return account


def _student_number(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > 32:
        raise MemberError(N_("学号不能超过32位"))
    return text or None


# --------------------------------------------------------------------------- writing the plan


@functools.lru_cache(maxsize=16384)
def _char_pinyin(char: str) -> str:
    return "".join(lazy_pinyin(char)).lower()


def _pinyin(real_name: str) -> str:
    """The name's pinyin, lower-case, as `lazy_pinyin` gives it for the whole name.

    pypinyin reads a name word by word from its phrase dictionary, else character by
    character; a name holding no dictionary phrase (most names) is read from a per-character
    cache instead, five times faster on a list of distinct names and the same letters
    (a phrase inside the name falls back to the whole call).
    """
    for start in range(len(real_name) - 1):
        for end in range(start + 2, len(real_name) + 1):
            if real_name[start:end] in PHRASES_DICT:
                return "".join(lazy_pinyin(real_name)).lower()
    return "".join(map(_char_pinyin, real_name))


def _username_base(real_name: str, prefix: str) -> str:
    letters = "".join(ch for ch in _pinyin(real_name) if "a" <= ch <= "z")
    return (letters or prefix)[:20]


def _random_digits(digits: int) -> str:
    """`digits` random decimal digits, each equally likely (one draw for them all, not one
    draw a digit: the same strings, equally likely, at a fifth of the cost)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def assign_usernames(db: Session, accounts: list[Account]) -> None:
    """Readable, unique usernames: the name's pinyin and random digits (lixiaoyao4821)."""
    pending = list(accounts)
    digits = 4
    taken: set[str] = set()
    bases: dict[tuple[str, str], str] = {}  # names repeat: each is read once
    while pending:
        for account in pending:
            prefix = ROLE_PREFIX.get(account.role or SchoolRole.STUDENT, "s")
            key = (account.real_name, prefix)
            base = bases.get(key)
            if base is None:
                base = bases[key] = _username_base(account.real_name, prefix)
            account.username = base + _random_digits(digits)
        names = [a.username for a in pending if a.username]
        clash = set(taken)
        for part in chunks(names):
            clash |= set(db.scalars(select(User.username).where(User.username.in_(part))))
        again = []
        for account in pending:
            if account.username in clash:
                again.append(account)
            else:
                clash.add(account.username or "")
                taken.add(account.username or "")
        pending = again
        digits = min(digits + 1, 8)


def new_account_row(account: Account, credential_id: int | None, now: datetime) -> dict[str, Any]:
    """The `users` row of an account the plan creates: on the school's default password."""
    return {
        "username": account.username,
        "real_name": account.real_name,
        "gender": account.gender,
        "id_card_number": account.id_card_number,
        "registration_number": account.registration_number,
        "phone": account.phone,
        "password_hash": None,
        "default_credential_id": credential_id,
        "must_change_password": True,
        "created_at": now,
        "updated_at": now,  # OneRoster dateLastModified (issue 22)
    }


def apply(
    db: Session,
    *,
    plan: Plan,
    school: School,
    now: datetime,
    act: enrolment.Act | None = None,
) -> dict[str, int]:
    """Write a checked plan in the current transaction; returns the summary counts.

    Existing students are enrolled and moved by `classes.enrolment` (its one audit action and
    notices for each 换班, on `act`'s behalf), not by rules of this module's own.
    """
    if plan.moves and act is None:
        raise ValueError("moving students needs who acts (act)")
    credential_id = school.default_credential_id
    # Accounts made here have no memberships or class places yet: nothing to look up for them.
    created = {id(a) for a in plan.new_accounts}
    assign_usernames(db, plan.new_accounts)
    for part in chunks(plan.new_accounts):
        rows = [new_account_row(a, credential_id, now) for a in part]
        ids = db.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), rows).all()
        for account, user_id in zip(part, ids, strict=True):
            account.user_id = user_id

    _write_joins(db, plan, school, now, created)
    _write_placements(db, plan, now, created)
    for account, class_id, number in plan.moves:
        assert act is not None
        student, school_class = db.get(User, account.id), db.get(SchoolClass, class_id)
        assert student is not None and school_class is not None
        enrolment.move(
            db, student=student, school_class=school_class, act=act, student_number=number
        )
    for account, column, value in plan.binds:
        db.execute(update(User).where(User.id == account.id).values({column: value}))
    for part in chunks(plan.links):
        db.execute(
            insert(ParentLink),
            [
                {"parent_id": p.id, "child_id": c.id, "relation": r, "created_at": now}
                for p, c, r in part
            ],
        )
    db.expire_all()
    return plan.summary()


def _write_joins(db: Session, plan: Plan, school: School, now: datetime, created: set[int]) -> None:
    existing: dict[tuple[int, SchoolRole], int] = {}
    known = sorted({a.id for a, _ in plan.joins if id(a) not in created})
    for part in chunks(known):
        for row_id, user_id, role in db.execute(
            select(SchoolMembership.id, SchoolMembership.user_id, SchoolMembership.role).where(
                SchoolMembership.school_id == school.id, SchoolMembership.user_id.in_(part)
            )
        ):
            existing[(user_id, role)] = row_id
    again = [existing[(a.id, r)] for a, r in plan.joins if (a.id, r) in existing]
    for part in chunks(again):
        db.execute(
            update(SchoolMembership)
            .where(SchoolMembership.id.in_(part))
            .values(active=True, left_at=None, joined_at=now)
        )
    fresh = [(a, r) for a, r in plan.joins if (a.id, r) not in existing]
    for part in chunks(fresh):
        db.execute(
            insert(SchoolMembership),
            [
                {
                    "school_id": school.id,
                    "user_id": a.id,
                    "role": r,
                    "campus_id": None,
                    "active": True,
                    "joined_at": now,
                }
                for a, r in part
            ],
        )


def _write_placements(db: Session, plan: Plan, now: datetime, created: set[int]) -> None:
    """Put students in their classes: new accounts in bulk, existing ones by `enrolment.enrol`."""
    fresh: list[dict[str, Any]] = []
    for account, class_id, number in plan.placements:
        if id(account) in created:
            fresh.append(
                {
                    "class_id": class_id,
                    "student_id": account.id,
                    "student_number": number,
                    "joined_at": now,
                }
            )
            continue
        student, school_class = db.get(User, account.id), db.get(SchoolClass, class_id)
        assert student is not None and school_class is not None
        enrolment.enrol(
            db, school_class=school_class, student=student, now=now, student_number=number
        )
    for part in chunks(fresh):
        db.execute(insert(ClassStudent), list(part))
