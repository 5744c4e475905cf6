"""用户协议 and 隐私政策: the current version of each, publishing a new one, and consents.

A text is never changed in place: 平台管理 publishes a new version (numbered, dated), and the
pages show the newest. A consent names the version agreed to, so a new version of the privacy
policy asks again (`has_agreed`, `guardian_consent` only count the current version).

A child under 14 (PIPL art. 31) needs a guardian's consent: `needs_guardian` decides from the
birth date of the child's ID card when known, and counts a pupil as a child otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, birth_date_from_id_card
from campusid.legal.defaults import DEFAULTS
from campusid.legal.models import ConsentVia, DocumentKind, LegalConsent, LegalDocument

# PIPL art. 31: the personal information of a minor under fourteen needs a guardian's consent.
GUARDIAN_AGE = 14
MAX_CHARS = 20_000
TEXT_REQUIRED = N_("请填写中文和英文文本")
TEXT_TOO_LONG = N_("文本过长，每种语言不超过%(num)s个字符", num=MAX_CHARS)
TEXT_UNCHANGED = N_("文本与当前版本相同，无需发布新版本")
PUBLISHED = N_("已发布新版本")


def current(db: Session, kind: DocumentKind, *, now: datetime) -> LegalDocument:
    """The newest version of the text (version 1, the shipped template, made at first read if
    the migration's row is missing)."""
    found = db.scalar(
        select(LegalDocument)
        .where(LegalDocument.kind == kind)
        .order_by(LegalDocument.version.desc())
        .limit(1)
    )
    if found is not None:
        return found
    zh, en = DEFAULTS[kind.value]
    made = LegalDocument(kind=kind, version=1, body_zh=zh, body_en=en, published_at=now)
    try:
        with db.begin_nested():  # two first readers at once: the second reads the first's row
            db.add(made)
    except IntegrityError:
        return current(db, kind, now=now)
    return made


def history(db: Session, kind: DocumentKind) -> list[LegalDocument]:
    """Every version of the text, newest first."""
    return list(
        db.scalars(
            select(LegalDocument)
            .where(LegalDocument.kind == kind)
            .order_by(LegalDocument.version.desc())
        )
    )


def version_of(db: Session, kind: DocumentKind, version: int) -> LegalDocument | None:
    """One published version (an older one stays readable as it was agreed to)."""
    return db.scalar(
        select(LegalDocument).where(LegalDocument.kind == kind, LegalDocument.version == version)
    )


@dataclass
class Published:
    """The new version, or why nothing was published."""

    document: LegalDocument | None = None
    problems: list[str] | None = None


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip()


def publish(
    db: Session,
    *,
    kind: DocumentKind,
    body_zh: str,
    body_en: str,
    actor_id: int,
    client: ClientInfo,
    now: datetime,
) -> Published:
    """Publish a new version of the text (the next number, dated now); audited."""
    zh, en = _clean(body_zh), _clean(body_en)
    if not zh or not en:
        return Published(problems=[TEXT_REQUIRED])
    if len(zh) > MAX_CHARS or len(en) > MAX_CHARS:
        return Published(problems=[TEXT_TOO_LONG])
    before = current(db, kind, now=now)
    if (before.body_zh, before.body_en) == (zh, en):
        return Published(problems=[TEXT_UNCHANGED])
    last = db.scalar(select(func.max(LegalDocument.version)).where(LegalDocument.kind == kind))
    document = LegalDocument(
        kind=kind,
        version=(last or 0) + 1,
        body_zh=zh,
        body_en=en,
        published_at=now,
        published_by_id=actor_id,
    )
    db.add(document)
    db.flush()
    audit.record(
        db,
        now=now,
        action=AuditAction.LEGAL_TEXT_PUBLISHED,
        actor_id=actor_id,
        actor_role="platform_admin",
        client=client,
        detail={"document": kind.value, "version": document.version},
    )
    return Published(document=document)


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (separated by a blank line), for the page."""
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def summary(document: LegalDocument, language: str) -> str:
    """The text's first paragraph: the notice shown to a guardian asked to consent."""
    parts = paragraphs(document.body(language))
    return parts[0] if parts else ""


# --------------------------------------------------------------------------- one's own consent


def _agreed_versions(
    db: Session, *, subject_id: int, kinds: list[DocumentKind]
) -> set[tuple[DocumentKind, int]]:
    return {
        (kind, version)
        for kind, version in db.execute(
            select(LegalConsent.kind, LegalConsent.version).where(
                LegalConsent.subject_id == subject_id, LegalConsent.kind.in_(kinds)
            )
        )
    }


def has_agreed(db: Session, *, user_id: int, now: datetime) -> bool:
    """Whether the person agreed, for themselves, to the current 用户协议 and 隐私政策."""
    kinds = list(DocumentKind)
    agreed = _agreed_versions(db, subject_id=user_id, kinds=kinds)
    return all((kind, current(db, kind, now=now).version) in agreed for kind in kinds)


def agree(
    db: Session, *, user_id: int, via: ConsentVia, client: ClientInfo, now: datetime
) -> list[LegalConsent]:
    """Record that the person agreed to the current version of both texts; audited. Agreeing
    again (a double submit, two requests at once) records nothing new."""
    documents = [current(db, kind, now=now) for kind in DocumentKind]
    given = _given(db, user_id=user_id, subject_id=user_id, documents=documents)
    rows = [
        LegalConsent(
            user_id=user_id,
            subject_id=user_id,
            document_id=document.id,
            kind=document.kind,
            version=document.version,
            via=via,
            agreed_at=now,
        )
        for document in documents
        if document.id not in given
    ]
    if not rows or not _insert_once(db, rows):
        return list(_given(db, user_id=user_id, subject_id=user_id, documents=documents).values())
    versions = {document.kind: document.version for document in documents}
    audit.record(
        db,
        now=now,
        action=AuditAction.CONSENT_GIVEN,
        actor_id=user_id,
        target_user_id=user_id,
        client=client,
        detail={
            "terms_version": versions[DocumentKind.TERMS],
            "privacy_version": versions[DocumentKind.PRIVACY],
        },
    )
    return rows


# --------------------------------------------------------------------------- a guardian's consent


def _given(
    db: Session, *, user_id: int, subject_id: int, documents: list[LegalDocument]
) -> dict[int, LegalConsent]:
    """The consents this person already gave, for this subject, to these documents."""
    return {
        row.document_id: row
        for row in db.scalars(
            select(LegalConsent).where(
                LegalConsent.user_id == user_id,
                LegalConsent.subject_id == subject_id,
                LegalConsent.document_id.in_([d.id for d in documents]),
            )
        )
    }


def _insert_once(db: Session, rows: list[LegalConsent]) -> bool:
    """Insert the consents; False if another request recorded them first (the unique key)."""
    try:
        with db.begin_nested():
            db.add_all(rows)
            db.flush()
    except IntegrityError:
        return False
    return True


def age_on(born: date, today: date) -> int:
    """Whole years from the birth date to today."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def needs_guardian(db: Session, *, child: User, today: date) -> bool:
    """Whether the account is a child's under 14: by the ID card's birth date when known; with no
    (readable) ID card, a pupil (a current student anywhere) counts as a child."""
    if child.id_card_number:
        try:
            born = birth_date_from_id_card(child.id_card_number, today=today)
        except InvalidIdentifier:
            born = None
        if born is not None:
            return age_on(born, today) < GUARDIAN_AGE
    return bool(db.scalar(select(SchoolMembership.held(child.id, SchoolRole.STUDENT))))


def guardian_consent(db: Session, *, child_id: int, now: datetime) -> LegalConsent | None:
    """A guardian's consent for the child to the current 隐私政策, if any guardian gave it."""
    privacy = current(db, DocumentKind.PRIVACY, now=now)
    return db.scalar(
        select(LegalConsent)
        .where(
            LegalConsent.subject_id == child_id,
            LegalConsent.via == ConsentVia.GUARDIAN,
            LegalConsent.kind == DocumentKind.PRIVACY,
            LegalConsent.version == privacy.version,
        )
        .order_by(LegalConsent.agreed_at.desc())
        .limit(1)
    )


def last_guardian_consent(db: Session, *, child_id: int) -> LegalConsent | None:
    """The newest guardian's consent for the child, whatever its version."""
    return db.scalar(
        select(LegalConsent)
        .where(LegalConsent.subject_id == child_id, LegalConsent.via == ConsentVia.GUARDIAN)
        .order_by(LegalConsent.agreed_at.desc(), LegalConsent.id.desc())
        .limit(1)
    )


def consent_for_child(
    db: Session, *, parent_id: int, child_id: int, client: ClientInfo, now: datetime
) -> LegalConsent:
    """Record a linked parent's consent, for their child, to the current 隐私政策; audited.

    The caller checked the link (`authz.check_guardian_consent`). Agreeing twice to the same
    version records nothing new.
    """
    given = guardian_consent(db, child_id=child_id, now=now)
    if given is not None and given.user_id == parent_id:
        return given
    privacy = current(db, DocumentKind.PRIVACY, now=now)
    own = _given(db, user_id=parent_id, subject_id=child_id, documents=[privacy])
    if privacy.id in own:  # given before, not the newest: still nothing new
        return own[privacy.id]
    row = LegalConsent(
        user_id=parent_id,
        subject_id=child_id,
        document_id=privacy.id,
        kind=privacy.kind,
        version=privacy.version,
        via=ConsentVia.GUARDIAN,
        agreed_at=now,
    )
    if not _insert_once(db, [row]):
        return _given(db, user_id=parent_id, subject_id=child_id, documents=[privacy])[privacy.id]
    audit.record(
        db,
        now=now,
        action=AuditAction.GUARDIAN_CONSENT_GIVEN,
        actor_id=parent_id,
        actor_role="parent",
        target_user_id=child_id,
        client=client,
        detail={"privacy_version": privacy.version},
    )
    return row
