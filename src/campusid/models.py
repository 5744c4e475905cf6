"""Every table, imported once so that Alembic and the app see the whole schema."""

from campusid.accounts.models import SchoolMembership, User
from campusid.audit.models import AuditEvent
from campusid.classes.models import (
    CadrePosition,
    ClassStudent,
    ClassTeacher,
    GradeLeader,
    JoinRequest,
)
from campusid.db import Base
from campusid.families.models import ParentLink
from campusid.messaging.models import Notice, OutboxMessage
from campusid.org.models import (
    Campus,
    DefaultCredential,
    District,
    Grade,
    School,
    SchoolClass,
    StageUnit,
)

# school administration (issue 3)
from campusid.roster.models import ImportErrorFile
from campusid.security.models import SessionRecord
from campusid.security.onetime import OneTimeCode

__all__ = [
    "AuditEvent",
    "Base",
    "CadrePosition",
    "Campus",
    "ClassStudent",
    "ClassTeacher",
    "DefaultCredential",
    "District",
    "Grade",
    "GradeLeader",
    "ImportErrorFile",
    "JoinRequest",
    "Notice",
    "OneTimeCode",
    "OutboxMessage",
    "ParentLink",
    "School",
    "SchoolClass",
    "SchoolMembership",
    "SessionRecord",
    "StageUnit",
    "User",
]
