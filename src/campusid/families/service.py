"""Parent-child links (家长关联孩子) and what a linked parent may do for the child (route 2).

Linking must resist guessing a child's identity: whatever was wrong (the name, the ID card number,
no such student) the answer is the same; failed attempts are limited per parent account and per
target ID card number; a child has at most a configured number of parents; every attempt is
audited, with the ID card number masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from campusid.accounts import history
from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent
from campusid.clock import SHANGHAI, local_today
from campusid.context import Services
from campusid.families.avatars import AvatarError, reencode_avatar
from campusid.families.models import ParentLink, Relation
from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, mask_id_card, validate_id_card_number
from campusid.legal import service as legal
from campusid.legal.models import DocumentKind, LegalConsent, LegalDocument
from campusid.messaging import service as messaging
from campusid.org import service as org
from campusid.org.models import School
from campusid.org.schoolyear import calendar_for
from campusid.security.onetime import target_digest
from campusid.security.permissions import Principal, Role
from campusid.security.ratelimit import RateLimiter

LINK_FAILED = N_("关联失败：孩子的真实姓名或身份证号有误，或该孩子尚未在学校登记。请核对后重试。")
LINK_THROTTLED = N_("关联尝试次数过多，请稍后再试。")
LINK_ALREADY = N_("您已关联该孩子。")
NAME_REQUIRED = N_("请输入孩子的真实姓名")
RELATION_REQUIRED = N_("请选择您是孩子的父亲、母亲还是其他监护人")


def parent_limit_message(limit: int) -> str:
    """The parent cap is full. Strangers can fill it (issue 18), so the real parent is told who
    can help: the school sees who is linked, on the student's page, and removes a stranger."""
    return N_(
        "该孩子关联的家长已达上限（%(n)s位）。如果您是孩子的家长却无法关联，请联系孩子所在学校的"
        "管理员或班主任：学校可以看到是谁关联了孩子，核实后解除不认识的关联，您就可以关联了。",
        n=limit,
    )


def link(
    db: Session, *, parent: User, child: User, relation: Relation, now: datetime
) -> ParentLink:
    """Link a parent to a child."""
    row = ParentLink(parent_id=parent.id, child_id=child.id, relation=relation, created_at=now)
    db.add(row)
    db.flush()
    return row


# --------------------------------------------------------------------------- who may do what


def linked_child(db: Session, *, principal: Principal, child_id: int) -> ParentLink | None:
    """The link from this parent to this child, or None: the one check of every child page.

    Default deny: only a parent holding a link to exactly this child gets it; a parent of another
    child, a teacher of the child, even a school administrator get None.
    """
    if Role.PARENT not in principal.roles or child_id not in principal.child_ids:
        return None
    return db.scalar(
        select(ParentLink).where(
            ParentLink.parent_id == principal.user.id,
            ParentLink.child_id == child_id,
        )
    )


def school_link(db: Session, *, principal: Principal, link_id: int) -> ParentLink | None:
    """A link a school administrator may see and remove: the child is a student of their school."""
    if Role.SCHOOL_ADMIN not in principal.roles or not principal.admin_school_ids:
        return None
    return db.scalar(
        select(ParentLink).where(
            ParentLink.id == link_id,
            ParentLink.child_id.in_(_students_of(principal.admin_school_ids)),
        )
    )


def _students_of(school_ids: set[int]) -> Select[int]:
    return select(SchoolMembership.user_id).where(
        SchoolMembership.current(role=SchoolRole.STUDENT),
        SchoolMembership.school_id.in_(school_ids),
    )


# --------------------------------------------------------------------------- views of links


@dataclass
class ChildCard:
    """A linked child as the parent's and the school's lists show it."""

    link: ParentLink
    class_names: list[str] = field(default_factory=list)
    has_avatar: bool = False

    @property
    def child(self) -> User:
        """The child."""
        return self.link.child

    @property
    def parent(self) -> User:
        """The parent."""
        return self.link.parent


def _cards(db: Session, services: Services, links: list[ParentLink]) -> list[ChildCard]:
    """The cards of many links in a fixed number of queries (never one per child)."""
    if not links:
        return []
    # Children and parents loaded at once and set on the links (no lazy load per card).
    wanted = {link.child_id for link in links} | {link.parent_id for link in links}
    people = {user.id: user for user in db.scalars(select(User).where(User.id.in_(wanted)))}
    for link in links:
        set_committed_value(link, "child", people[link.child_id])
        set_committed_value(link, "parent", people[link.parent_id])
    child_ids = list(dict.fromkeys(link.child_id for link in links))
    with_avatar = set(
        db.scalars(select(User.id).where(User.id.in_(child_ids), User.avatar.is_not(None)))
    )
    class_lists = classes.classes_of_students(db, student_ids=child_ids)
    cal = calendar_for(services.settings, services.clock)
    today, boundary = cal.today, cal.boundary
    return [
        ChildCard(
            link=row,
            class_names=[
                org.class_display_name(c, today, boundary) for c in class_lists[row.child_id]
            ],
            has_avatar=row.child_id in with_avatar,
        )
        for row in links
    ]


def children_of(db: Session, *, services: Services, parent_id: int) -> list[ChildCard]:
    """我的孩子: the parent's linked children, in the order they were linked."""
    links = db.scalars(
        select(ParentLink)
        .where(ParentLink.parent_id == parent_id)
        .order_by(ParentLink.created_at, ParentLink.id)
    )
    return _cards(db, services, list(links))


def child_card(db: Session, *, services: Services, link: ParentLink) -> ChildCard:
    """One linked child, with their classes."""
    return _cards(db, services, [link])[0]


def links_for_school(db: Session, *, services: Services, principal: Principal) -> list[ChildCard]:
    """Every parent link of the students of the administrator's schools, by child then date."""
    if Role.SCHOOL_ADMIN not in principal.roles or not principal.admin_school_ids:
        return []
    links = db.scalars(
        select(ParentLink)
        .join(User, User.id == ParentLink.child_id)
        .where(ParentLink.child_id.in_(_students_of(principal.admin_school_ids)))
        .order_by(User.real_name, ParentLink.created_at, ParentLink.id)
    )
    return _cards(db, services, list(links))


# --------------------------------------------------------------------------- linking


class LinkOutcome(StrEnum):
    """What came of an attempt to link a child."""

    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    FAILED = "failed"  # wrong name, wrong number, not a student: never told apart
    THROTTLED = "throttled"
    FULL = "full"
    INVALID = "invalid"  # the form itself is incomplete or malformed


@dataclass(frozen=True)
class LinkResult:
    """The outcome, the message for the page, and the link when made."""

    outcome: LinkOutcome
    message: str = ""
    link: ParentLink | None = None


def _link_limiters(services: Services) -> tuple[RateLimiter, RateLimiter]:
    s = services.settings
    return (
        services.limits.named(
            "families.link.parent",
            s.families_link_parent_limit,
            s.families_link_parent_window_seconds,
        ),
        services.limits.named(
            "families.link.target",
            s.families_link_target_limit,
            s.families_link_target_window_seconds,
        ),
    )


def clean_name(value: str) -> str:
    """A real name as typed, with surrounding and doubled spaces removed."""
    return " ".join(value.split())


def _same_name(given: str, stored: str) -> bool:
    # Spaces and letter case are not what a guesser is guessing; the characters are.
    return "".join(given.split()).casefold() == "".join(stored.split()).casefold()


def link_child(
    db: Session,
    *,
    services: Services,
    parent: User,
    real_name: str,
    id_card_number: str,
    relation: Relation,
    client: ClientInfo,
) -> LinkResult:
    """关联孩子: link the student whose real name and ID card number both match.

    A malformed ID card number is told (it reveals nothing); any mismatch gets one answer and
    counts against both the parent and the ID number; once either is used up, every attempt is
    refused for the window, even a right one, so guessing cannot go on. A success does not clear
    the counts (unlinking and relinking a known child must not buy more guesses).
    """
    now = services.clock.now()
    name = clean_name(real_name)
    if not name:
        return LinkResult(LinkOutcome.INVALID, NAME_REQUIRED)
    try:
        number = validate_id_card_number(id_card_number, today=local_today(services.clock))
    except InvalidIdentifier as exc:
        return LinkResult(LinkOutcome.INVALID, exc.message)

    by_parent, by_target = _link_limiters(services)
    parent_key = str(parent.id)
    # A keyed digest, so the limiter storage never holds an ID card number.
    target_key = target_digest(services.settings.secret_key, "families.link", number)
    detail: dict[str, object] = {"id_card": mask_id_card(number), "relation": relation.value}

    def record(
        outcome: Outcome, reason: str, child: User | None = None, school: int | None = None
    ) -> None:
        audit.record(
            db,
            now=now,
            action=AuditAction.CHILD_LINK,
            outcome=outcome,
            actor_id=parent.id,
            actor_role=Role.PARENT.value,
            target_user_id=child.id if child else None,
            school_id=school,
            route=Route.PARENT,
            client=client,
            detail={**detail, "reason": reason},
        )

    if by_parent.exceeded(parent_key) or by_target.exceeded(target_key):
        record(Outcome.DENIED, "throttled")
        return LinkResult(LinkOutcome.THROTTLED, LINK_THROTTLED)

    child = db.scalar(select(User).where(User.id_card_number == number))
    school_ids = (
        accounts.active_school_ids(db, user_id=child.id, role=SchoolRole.STUDENT) if child else []
    )
    school_id = school_ids[0] if school_ids else None
    if (
        child is None
        or not school_ids
        or child.id == parent.id
        or child.status is not AccountStatus.ACTIVE
        or not _same_name(name, child.real_name)
    ):
        by_parent.hit(parent_key)
        by_target.hit(target_key)
        reason = "no_student" if child is None or not school_ids else "mismatch"
        record(Outcome.FAILURE, reason, child if school_ids else None, school_id)
        return LinkResult(LinkOutcome.FAILED, LINK_FAILED)

    existing = db.scalar(
        select(ParentLink).where(ParentLink.parent_id == parent.id, ParentLink.child_id == child.id)
    )
    if existing is not None:
        record(Outcome.FAILURE, "already_linked", child, school_id)
        return LinkResult(LinkOutcome.ALREADY_LINKED, LINK_ALREADY, existing)

    limit = services.settings.families_max_parents_per_child
    count = db.scalar(
        select(func.count()).select_from(ParentLink).where(ParentLink.child_id == child.id)
    )
    if (count or 0) >= limit:
        record(Outcome.DENIED, "parent_limit", child, school_id)
        return LinkResult(LinkOutcome.FULL, parent_limit_message(limit))

    row = link(db, parent=parent, child=child, relation=relation, now=now)
    parent.is_parent = True
    record(Outcome.SUCCESS, "linked", child, school_id)
    when = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    messaging.notify(
        db,
        user_id=child.id,
        kind="child_linked",
        now=now,
        actor_id=parent.id,
        title=N_("家长关联了您的账号"),
        body=N_(
            "%(parent)s（%(relation)s）已于 %(when)s 关联您的账号，"
            "可以为您修改密码。如不认识此人，请立即告诉班主任。",
            parent=parent.real_name,
            relation=relation.label,
            when=when,
        ),
    )
    for teacher_id in classes.homeroom_teacher_ids(db, student_id=child.id):
        messaging.notify(
            db,
            user_id=teacher_id,
            kind="child_linked",
            now=now,
            actor_id=parent.id,
            title=N_("学生家长关联"),
            body=N_(
                "%(parent)s（%(relation)s）已于 %(when)s 关联学生%(child)s的账号。"
                "如有疑问，可请学校管理员在「家长关联」中解除。",
                parent=parent.real_name,
                relation=relation.label,
                when=when,
                child=child.real_name,
            ),
        )
    return LinkResult(LinkOutcome.LINKED, N_("已成功关联孩子%(child)s", child=child.real_name), row)


def unlink(
    db: Session,
    *,
    services: Services,
    link: ParentLink,
    actor: User,
    client: ClientInfo,
    by_school: bool = False,
) -> None:
    """解除关联: end the link (by the parent, or by the school); the child and parent are told."""
    now = services.clock.now()
    parent, child = link.parent, link.child
    school_ids = accounts.active_school_ids(db, user_id=child.id, role=SchoolRole.STUDENT)
    audit.record(
        db,
        now=now,
        action=AuditAction.CHILD_UNLINKED,
        actor_id=actor.id,
        actor_role=(Role.SCHOOL_ADMIN if by_school else Role.PARENT).value,
        target_user_id=child.id,
        school_id=school_ids[0] if school_ids else None,
        route=Route.PARENT,
        client=client,
        detail={"parent_id": parent.id, "relation": link.relation.value, "by_school": by_school},
    )
    # Said as it happened: the school ended the link, or the parent ended their own.
    body = (
        N_(
            "学校管理员已解除%(parent)s（%(relation)s）与您账号的关联。",
            parent=parent.real_name,
            relation=link.relation.label,
        )
        if by_school
        else N_(
            "%(parent)s（%(relation)s）已解除与您账号的关联。",
            parent=parent.real_name,
            relation=link.relation.label,
        )
    )
    told = [(child.id, N_("家长关联已解除"), body)]
    if by_school:
        told.append(
            (
                parent.id,
                N_("孩子关联已解除"),
                N_(
                    "学校管理员已解除您与孩子%(child)s的关联。如有疑问，请联系学校。",
                    child=child.real_name,
                ),
            )
        )
    for user_id, title, body in told:
        messaging.notify(
            db,
            user_id=user_id,
            kind="child_unlinked",
            now=now,
            actor_id=actor.id,
            title=title,
            body=body,
        )
    db.delete(link)
    db.flush()


# --------------------------------------------------------------------------- the child's account


def school_forces_change(db: Session, *, child: User) -> bool:
    """Whether a school of the child makes them choose their own password after a parent set
    one (`force_change_after_parent`): the parent is told so, before and after."""
    school_ids = accounts.active_school_ids(db, user_id=child.id, role=SchoolRole.STUDENT)
    schools = [db.get(School, school_id) for school_id in school_ids]
    return any(s.force_change_after_parent for s in schools if s is not None)


def change_child_password(
    db: Session,
    *,
    services: Services,
    link: ParentLink,
    new_password: str,
    confirm: str,
    client: ClientInfo,
) -> list[str]:
    """修改孩子密码: the linked parent sets the child's password; returns the problems, if any.

    The same policy as everywhere; on success the child's sessions end and the child is told
    (by `set_password`). The parent chose it, so the child need not change it again, unless a
    school of the child asks for that (`force_change_after_parent`), or the password is one the
    child could not choose (the current one, a school default, a recent one: issue 18). That is
    not refused here, which would tell the parent the child's passwords and the school's
    default; the child must replace it at next sign-in instead, as after any reset.
    """
    child = link.child
    problems = accounts.password_problems(child, new_password, confirm)
    if problems:
        return problems
    school_ids = accounts.active_school_ids(db, user_id=child.id, role=SchoolRole.STUDENT)
    reused = history.is_reused(db, services=services, user=child, password=new_password)
    accounts.set_password(
        db,
        services=services,
        user=child,
        new_password=new_password,
        route=Route.PARENT,
        actor=link.parent,
        must_change=reused or school_forces_change(db, child=child),
        client=client,
        school_id=school_ids[0] if school_ids else None,
        detail={"relation": link.relation.value},
    )
    return []


def set_child_avatar(
    db: Session,
    *,
    services: Services,
    link: ParentLink,
    data: bytes,
    client: ClientInfo,
) -> list[str]:
    """头像: check and re-encode the upload, and store it as the child's avatar."""
    try:
        image = reencode_avatar(data, max_bytes=services.settings.families_avatar_max_bytes)
    except AvatarError as exc:
        return [exc.message]
    link.child.avatar = image
    audit.record(
        db,
        now=services.clock.now(),
        action=AuditAction.AVATAR_CHANGED,
        actor_id=link.parent_id,
        actor_role=Role.PARENT.value,
        target_user_id=link.child_id,
        route=Route.PARENT,
        client=client,
    )
    return []


def linked_parent_ids(class_id: Any) -> Select[int]:
    """The parents linked to the students of a class (for a class id or a correlated column)."""
    return (
        select(ParentLink.parent_id)
        .join(ClassStudent, ClassStudent.student_id == ParentLink.child_id)
        .where(ClassStudent.class_id == class_id)
    )


def parent_ids_of_children(db: Session, *, child_ids: Any) -> list[int]:
    """The distinct parents linked to any of these children (a list or a subquery of ids)."""
    return list(
        db.scalars(
            select(ParentLink.parent_id).where(ParentLink.child_id.in_(child_ids)).distinct()
        )
    )


def parents_among(db: Session, user_ids: Sequence[int]) -> set[int]:
    """Which of these accounts have a child linked to them."""
    return set(db.scalars(select(ParentLink.parent_id).where(ParentLink.parent_id.in_(user_ids))))


def parents_of(db: Session, *, child: User) -> list[User]:
    """The parents linked to a child."""
    return list(
        db.scalars(
            select(User)
            .join(ParentLink, ParentLink.parent_id == User.id)
            .where(ParentLink.child_id == child.id)
            .order_by(ParentLink.id)
        )
    )


def load_roles(db: Session, principal: Principal) -> None:
    """The children linked to a person (the parent role follows, see principal_for)."""
    principal.child_ids = set(
        db.scalars(select(ParentLink.child_id).where(ParentLink.parent_id == principal.user.id))
    )


# --------------------------------------------------------------------------- the school's view


def parent_links_of(db: Session, *, child_id: int) -> list[ParentLink]:
    """Who is linked to the child (oldest first), with each parent loaded: what fills the cap."""
    return list(
        db.scalars(
            select(ParentLink)
            .where(ParentLink.child_id == child_id)
            .order_by(ParentLink.created_at, ParentLink.id)
            .options(joinedload(ParentLink.parent))
        )
    )


def refused_for_limit(db: Session, *, child_id: int, since: datetime) -> int:
    """How many attempts to link the child were refused because the cap was full, since then."""
    details = db.scalars(
        select(AuditEvent.detail).where(
            AuditEvent.action == AuditAction.CHILD_LINK,
            AuditEvent.target_user_id == child_id,
            AuditEvent.outcome == Outcome.DENIED,
            AuditEvent.occurred_at >= since,
        )
    )
    return sum(1 for detail in details if (detail or {}).get("reason") == "parent_limit")


# --------------------------------------------------------------------------- consent (issue 23)


@dataclass(frozen=True)
class ChildConsent:
    """A child's guardian consent (PIPL art. 31) as the parent's child page shows it."""

    needed: bool  # a child under 14 (or a pupil of unknown age)
    given: LegalConsent | None  # a guardian's consent to the current 隐私政策
    previous: LegalConsent | None  # the newest one to any version (an older one: asked again)
    privacy: LegalDocument  # the current 隐私政策

    @property
    def due(self) -> bool:
        """Whether the parent is asked to consent now."""
        return self.needed and self.given is None


def child_consent(db: Session, *, services: Services, child: User) -> ChildConsent:
    """Whether the child needs a guardian's consent, and the one given to the current version."""
    now = services.clock.now()
    return ChildConsent(
        needed=legal.needs_guardian(db, child=child, today=local_today(services.clock)),
        given=legal.guardian_consent(db, child_id=child.id, now=now),
        previous=legal.last_guardian_consent(db, child_id=child.id),
        privacy=legal.current(db, DocumentKind.PRIVACY, now=now),
    )


def consent_for_child(
    db: Session, *, services: Services, link: ParentLink, client: ClientInfo
) -> LegalConsent:
    """同意: the linked parent consents, for the child, to the current 隐私政策 (audited)."""
    return legal.consent_for_child(
        db,
        parent_id=link.parent_id,
        child_id=link.child_id,
        client=client,
        now=services.clock.now(),
    )
