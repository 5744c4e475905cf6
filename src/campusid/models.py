"""Every table, imported once so that Alembic and the app see the whole schema."""

from campusid.accounts.models import (
    DefaultCredential,
    FactorGrace,
    FactorRecoveryCode,
    PendingSignIn,
    SchoolMembership,
    SecondFactor,
    User,
)
from campusid.audit.models import AuditEvent
from campusid.badges.models import Badge, BadgeSchoolSetting, BadgeStageSetting
from campusid.classes.models import (
    CadrePosition,
    ClassParent,
    ClassStudent,
    ClassTeacher,
    GradeLeader,
    JoinRequest,
)
from campusid.db import Base
from campusid.families.models import ParentLink
from campusid.legal.models import LegalConsent, LegalDocument
from campusid.messaging.models import Notice
from campusid.oidc.models import AuthorizationCode, Consent, OAuthClient, OAuthToken, SigningKey
from campusid.oneroster.models import RosterDeletion, RosterGrant
from campusid.org.models import (
    Campus,
    CountDelta,
    CountedDistrictPerson,
    CountedSchoolPerson,
    CountsPause,
    District,
    Grade,
    School,
    SchoolClass,
    StageUnit,
)
from campusid.passkeys.models import PasskeyChallenge, PasskeyCredential
from campusid.recovery.models import RecoveryFlow, TeacherRecoveryRequest

# school administration (issue 3)
from campusid.roster.models import ImportErrorFile
from campusid.security.captcha import CaptchaChallenge
from campusid.security.models import SessionRecord
from campusid.security.onetime import OneTimeCode
from campusid.senders import OutboxMessage

# servicedesk
from campusid.servicedesk.models import (
    DeskActivity,
    ServiceDay,
    ServiceYear,
    Ticket,
    TicketCheck,
)

# transfers (issue 16)
from campusid.transfers.models import TransferRequest

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "Badge",
    "BadgeSchoolSetting",
    "BadgeStageSetting",
    "Base",
    "CadrePosition",
    "Campus",
    "CaptchaChallenge",
    "ClassParent",
    "ClassStudent",
    "ClassTeacher",
    "Consent",
    "CountDelta",
    "CountedDistrictPerson",
    "CountedSchoolPerson",
    "CountsPause",
    "DefaultCredential",
    "DeskActivity",
    "District",
    "FactorGrace",
    "FactorRecoveryCode",
    "Grade",
    "GradeLeader",
    "ImportErrorFile",
    "JoinRequest",
    "LegalConsent",
    "LegalDocument",
    "Notice",
    "OAuthClient",
    "OAuthToken",
    "OneTimeCode",
    "OutboxMessage",
    "ParentLink",
    "PasskeyChallenge",
    "PasskeyCredential",
    "PendingSignIn",
    "RecoveryFlow",
    "RosterDeletion",
    "RosterGrant",
    "School",
    "SchoolClass",
    "SchoolMembership",
    "SecondFactor",
    "ServiceDay",
    "ServiceYear",
    "SessionRecord",
    "SigningKey",
    "StageUnit",
    "TeacherRecoveryRequest",
    "Ticket",
    "TicketCheck",
    "TransferRequest",
    "User",
]
