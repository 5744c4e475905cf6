"""Resetting a student's password for them: the school's mode, the parents told, shown once.

The new password exists in plain text only in the return value, for the one page that shows it
to the person who reset it; it is hashed by `accounts.set_password`, never stored or logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import DefaultCredential, User
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Route
from campusid.classes import service as classes
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.families import service as families
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.org.models import ResetMode, School, SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.security.permissions import Principal
from campusid.security.policy import generate_temporary_password

MODE_HINTS = {
    ResetMode.DEFAULT_PASSWORD: N_("您可以将他的密码重置为默认密码"),
    ResetMode.RANDOM: N_("您可以将他的密码重置为一次性临时密码"),
}


@dataclass(frozen=True)
class ResetResult:
    """One reset, as the page shows it once: name, username and the new password."""

    student_id: int
    real_name: str
    username: str
    password: str


def mode_hint(school: School) -> str:
    """What the 重置密码 row says under the school's reset mode."""
    return MODE_HINTS[school.reset_mode]


def _new_password(db: Session, *, school: School, student: User) -> tuple[str, ResetMode]:
    """The school's default password, or a fresh random one (also when no default is set)."""
    if school.reset_mode is ResetMode.DEFAULT_PASSWORD and school.default_credential_id:
        credential = db.get(DefaultCredential, school.default_credential_id)
        if credential is not None:
            return credential.plain_value, ResetMode.DEFAULT_PASSWORD
    return generate_temporary_password(
        10, context=accounts.password_context(student)
    ), ResetMode.RANDOM


def reset_password(
    db: Session,
    *,
    services: Services,
    actor: User,
    student: User,
    school: School,
    route: Route,
    actor_role: str,
    client: ClientInfo,
    detail: dict[str, object] | None = None,
) -> str:
    """Reset one account's password for its holder (the caller has checked the authority).

    The holder must change it at next sign-in and every session of theirs ends (both done by
    `set_password`, which also audits and tells the holder); the linked parents are told, in the
    platform and by SMS to a bound phone. Returns the new password, to be shown once.
    """
    password, mode = _new_password(db, school=school, student=student)
    accounts.set_password(
        db,
        services=services,
        user=student,
        new_password=password,
        route=route,
        actor=actor,
        must_change=True,
        client=client,
        keep_session=None,
        school_id=school.id,
        detail={"mode": mode.value, "actor_role": actor_role, **(detail or {})},
    )
    now = services.clock.now()
    when = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    how = accounts.ROUTE_LABELS.get(route, route.value)
    for parent in families.parents_of(db, child=student):
        messaging.notify(
            db,
            user_id=parent.id,
            kind="child_password_reset",
            now=now,
            actor_id=actor.id,
            title=N_("孩子的密码已重置"),
            body=N_(
                "您的孩子%(name)s的账号密码已于%(when)s由%(actor)s通过「%(how)s」重置，"
                "孩子下次登录时须设置新密码。如有疑问，请联系学校。",
                name=student.real_name,
                when=when,
                actor=actor.real_name,
                how=how,
            ),
        )
        if parent.phone:
            services.sms.send(
                db,
                parent.phone,
                "child_password_reset",
                {"name": student.real_name, "time": when, "actor": actor.real_name, "route": how},
            )
    return password


def reset_students(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    student_ids: Sequence[int],
    client: ClientInfo,
    school_class: SchoolClass | None = None,
) -> list[ResetResult]:
    """重置密码 for each named student: all of them, or none if any is refused.

    The rule is `security.authz.student_authority` (the homeroom teacher of each student's
    current class, the administrators of the student's school); with `school_class`, the
    students must be in that class. A refusal raises `authz.Denied` (audited by the handler).
    """
    granted = classes.authorize_students(
        db,
        principal=principal,
        school_class=school_class,
        student_ids=student_ids,
        act=authz.StudentAct.RESET_PASSWORD,
        action=AuditAction.PASSWORD_RESET,
        cal=calendar_for(services.settings, services.clock),
        route=Route.TEACHER,
    )
    results = []
    for authority in granted:
        student = accounts.get_user(db, authority.student_id)
        assert student is not None
        password = reset_password(
            db,
            services=services,
            actor=principal.user,
            student=student,
            school=authority.school,
            route=authority.route,
            actor_role=authority.basis.value,
            client=client,
            detail={
                "class_id": authority.school_class.id if authority.school_class else None,
                "batch_size": len(granted),
            },
        )
        results.append(ResetResult(student.id, student.real_name, student.username, password))
    return results
