"""One account per person, whatever schools they pass through."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Exists,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    and_,
    event,
    exists,
)
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, Rostered, UTCDateTime
from campusid.i18n import N_
from campusid.identifiers import name_problem
from campusid.security.crypto import EncryptedString
from campusid.types import enum_by_value


class Gender(StrEnum):
    """性别."""

    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"male": N_("男"), "female": N_("女")}[self.value]


class AccountStatus(StrEnum):
    """Whether the account may sign in."""

    ACTIVE = "active"
    DISABLED = "disabled"


class SchoolRole(StrEnum):
    """A person's role in a school."""

    STUDENT = "student"
    TEACHER = "teacher"
    PARENT = "parent"
    SCHOOL_ADMIN = "school_admin"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "student": N_("学生"),
            "teacher": N_("教师"),
            "parent": N_("家长"),
            "school_admin": N_("学校管理员"),
        }[self.value]


class User(Rostered, Base):
    """An account. Every identifier here signs in to it and is unique across the platform."""

    __tablename__ = "users"
    # OneRoster pages users by sourcedId in code-point order (COLLATE "C" on PostgreSQL).
    __table_args__ = (
        Index(
            "ix_users_sourced_id_c",
            "sourced_id",
            "id",
            postgresql_ops={"sourced_id": 'COLLATE "C"'},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    # Encrypted at rest (see security/crypto.py); equality look-ups work, LIKE does not.
    phone: Mapped[str | None] = mapped_column(EncryptedString("users.phone"), unique=True)
    id_card_number: Mapped[str | None] = mapped_column(
        EncryptedString("users.id_card_number"), unique=True, comment="身份证号"
    )
    registration_number: Mapped[str | None] = mapped_column(
        EncryptedString("users.registration_number"), unique=True, comment="学籍号"
    )
    email: Mapped[str | None] = mapped_column(
        EncryptedString("users.email", length=400), unique=True
    )
    # issue 21: when the phone or email was proved by a code sent to it (`*_verified` claims);
    # cleared whenever the identifier changes (the listener below), so a number an
    # administrator typed in is never reported verified.
    phone_verified_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="the phone proved by a code sent to it; cleared when it changes"
    )
    email_verified_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="the email proved by a code sent to it; cleared when it changes"
    )
    real_name: Mapped[str] = mapped_column(String(64))
    gender: Mapped[Gender | None] = mapped_column(enum_by_value(Gender))
    status: Mapped[AccountStatus] = mapped_column(
        enum_by_value(AccountStatus),
        default=AccountStatus.ACTIVE,
    )
    password_hash: Mapped[str | None] = mapped_column(
        String(255),
        comment="argon2id; NULL while the account uses its school's default password",
    )
    default_credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("default_credentials.id"),
        index=True,
        comment="set while the password is still the school's default (学生默认密码)",
    )
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_version: Mapped[int] = mapped_column(
        Integer,
        default=1,
        comment="bumped at every change; binds codes and tokens to it",
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # families: a parent who signed up has the parent role before any child is linked.
    is_parent: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        comment="家长: signed up or declared as a parent (linked children give the role too)",
    )
    avatar: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        deferred=True,
        comment="头像: a re-encoded JPEG, at most 256x256",
    )


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _no_invisible_characters(mapper: object, connection: object, user: User) -> None:
    """The last line of defence (issue 18): every form checks names, with a message, first."""
    if user.real_name is not None and name_problem(user.real_name) is not None:
        raise ValueError("a real name may not carry bidi, zero-width or control characters")


@event.listens_for(User.phone, "set", active_history=True)
def _phone_unverified(user: User, value: object, old: object, _initiator: object) -> None:
    """A changed phone is not proved until a code sent to it is (issue 21)."""
    if value != old:
        user.phone_verified_at = None


@event.listens_for(User.email, "set", active_history=True)
def _email_unverified(user: User, value: object, old: object, _initiator: object) -> None:
    """A changed email is not proved until a code sent to it is (issue 21)."""
    if value != old:
        user.email_verified_at = None


class SchoolMembership(Base):
    """A person's relationship with a school in one role; ended, never deleted."""

    __tablename__ = "school_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[SchoolRole] = mapped_column(enum_by_value(SchoolRole))
    campus_id: Mapped[int | None] = mapped_column(
        ForeignKey("campuses.id"),
        comment="where a student out of any class is parked (校区存放)",
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("school_id", "user_id", "role"),)

    @classmethod
    def current(
        cls,
        *,
        school_id: int | ColumnElement[int] | None = None,
        user_id: int | ColumnElement[int] | None = None,
        role: SchoolRole | None = None,
    ) -> ColumnElement[bool]:
        """The where-clause of current (not ended) memberships, of this school, person and role
        when given: the one definition of "an active member" every query uses."""
        clauses: list[ColumnElement[bool]] = [cls.active.is_(True)]
        if school_id is not None:
            clauses.append(cls.school_id == school_id)
        if user_id is not None:
            clauses.append(cls.user_id == user_id)
        if role is not None:
            clauses.append(cls.role == role)
        return and_(*clauses)

    @classmethod
    def held(cls, user_id: int, role: SchoolRole) -> Exists:
        """EXISTS a current membership of the person in the role, in any school
        (`db.scalar(select(SchoolMembership.held(...)))` is True or False)."""
        return exists().where(cls.current(user_id=user_id, role=role))


class DefaultCredential(Base):
    """A school's default student password: shown to its admins, hashed once for every account.

    Accounts created with the default password point here instead of carrying a hash of their
    own, so an import of 100,000 students costs one argon2 hash, not 100,000. The plain value is
    kept (encrypted in production, see SECURITY.md) because the guide has administrators read it.
    """

    __tablename__ = "default_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    plain_value: Mapped[str] = mapped_column(String(64), comment="visible to school admins")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PasswordHistory(Base):
    """A password the account had before (issue 18): its argon2id hash, never the password.

    The holder may not choose it again while it is among the last few
    (`CAMPUSID_PASSWORD_HISTORY`); older rows are deleted as new ones come in.
    """

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id")
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- two-step verification (issue 19) ---------------------------------------------------------


class FactorKind(StrEnum):
    """The kinds of second factor a person may hold (TOTP now; passkeys and SMS to come)."""

    TOTP = "totp"
    WEBAUTHN = "webauthn"
    SMS = "sms"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "totp": N_("动态验证码（身份验证器应用）"),
            "webauthn": N_("通行密钥 / 安全密钥"),
            "sms": N_("短信验证码"),
        }[self.value]


class SecondFactor(Base):
    """A second factor of a person: what it is, when it was added and last used.

    A TOTP factor keeps its shared secret encrypted at rest (security/crypto.py) and the last
    time step it accepted, so a code is never accepted twice. A factor is usable once confirmed
    (the enrolment's first code); an unconfirmed one is the enrolment in progress.
    """

    __tablename__ = "second_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), comment="totp, webauthn or sms (FactorKind)")
    label: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str | None] = mapped_column(
        EncryptedString("second_factors.secret", length=255),
        comment="TOTP shared secret (AES-SIV ciphertext, security/crypto.py)",
    )
    last_used_step: Mapped[int | None] = mapped_column(
        Integer, comment="TOTP: the last accepted time step (a replayed code is refused)"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FactorRecoveryCode(Base):
    """One of a person's ten single-use recovery codes: its SHA-256, never the code (80 bits)."""

    __tablename__ = "factor_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PendingSignIn(Base):
    """A sign-in whose password was right and whose second step is still to come.

    Not a session: it opens no page. Its random token lives in a cookie of the browser that
    typed the password, stored here only as a SHA-256; it is short-lived and single-use.
    """

    __tablename__ = "pending_sign_ins"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_path: Mapped[str] = mapped_column(String(512), default="/")


class FactorGrace(Base):
    """When a person whose role requires a second factor must have enrolled one by."""

    __tablename__ = "factor_grace"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TwoStepRolePolicy(Base):
    """平台管理 → 两步验证策略: what the platform administrator set for one group of roles
    (security.authz.POLICY_GROUPS); a group with no row follows the environment settings.

    `need` is kept for the groups the page lets choose (teachers); the others' is fixed by
    the rule. 0 `remember_days`: the second step offers no 记住此设备.
    """

    __tablename__ = "two_step_role_policies"

    role_group: Mapped[str] = mapped_column(String(32), primary_key=True)
    need: Mapped[str | None] = mapped_column(String(16), comment="required or optional")
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    remember_days: Mapped[int] = mapped_column(Integer, default=0)
    allow_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TwoStepSchoolPolicy(Base):
    """学校设置 → 两步验证: a school requiring a second factor of its teachers where the
    platform leaves it optional (it tightens, never loosens)."""

    __tablename__ = "two_step_school_policies"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    teachers_required: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RememberedDevice(Base):
    """记住此设备: a browser that skips the second step until `expires_at`.

    Its random token lives in an HttpOnly cookie (path /login), stored here only as a SHA-256.
    It is bound to the password version it was made under (a password change or reset ends
    it) and deleted with every change to the person's factors.
    """

    __tablename__ = "remembered_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_version: Mapped[int] = mapped_column(Integer)
    factor: Mapped[str] = mapped_column(String(16), comment="the factor used when remembered")
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
