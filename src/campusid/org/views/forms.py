"""The organisation pages' forms, as FastAPI form models (`form: Annotated[XForm, Form()]`).

Numbers are read leniently, as the pages always have: a blank or a non-number counts as 0 and the
service names the problem (班号须在1-50之间 …) on the redrawn form, never a bare 400/422.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from campusid.org.schoolyear import SchoolSystem

TEXT = 200  # longer than any name a service accepts: the service's own message says the limit


def _whole(value: object) -> object:
    """A typed whole number; anything else counts as 0."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return 0
    return value


def _ticked(value: object) -> object:
    """A ticked checkbox (its value "on", or 1/true/yes)."""
    return isinstance(value, str) and value.strip() in {"on", "1", "true", "yes"}


Whole = Annotated[int, BeforeValidator(_whole)]
Ticked = Annotated[bool, BeforeValidator(_ticked)]


class OrgForm(BaseModel):
    """Text is stripped, as typed fields always were."""

    model_config = ConfigDict(str_strip_whitespace=True)

    def redraw(self) -> dict[str, object]:
        """The fields to draw the form again with (a number read as 0, never valid here, blank)."""
        return {
            key: "" if type(value) is int and value == 0 else value
            for key, value in self.model_dump().items()
        }


def system_of(text: str) -> SchoolSystem:
    """The school system a form names (六三制 when blank or unknown)."""
    try:
        return SchoolSystem(text or SchoolSystem.SIX_THREE.value)
    except ValueError:
        return SchoolSystem.SIX_THREE


class SearchForm(OrgForm):
    """搜索组织与成员."""

    q: str = ""


class StagesForm(OrgForm):
    """快速创建 / 新增学段: the ticked stages and, per grade, `classes_<stage>_<year>`."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="allow")

    campus_name: str = Field("", max_length=TEXT)
    school_system: str = Field("", max_length=16)
    stage_primary: Ticked = False
    stage_junior: Ticked = False
    stage_senior: Ticked = False

    @property
    def system(self) -> SchoolSystem:
        return system_of(self.school_system)

    def ticked(self, stage: str) -> bool:
        """Whether the stage's box is ticked."""
        return bool(getattr(self, f"stage_{stage}", False))

    def typed(self, prefix: str) -> dict[str, str]:
        """The dynamic fields whose names start with `prefix`, by the rest of the name."""
        extra = self.model_extra or {}
        return {
            key[len(prefix) :]: value.strip()
            for key, value in extra.items()
            if key.startswith(prefix) and isinstance(value, str)
        }


class GradeForm(OrgForm):
    """新增年级."""

    enrollment_year: Whole = 0
    first: Whole = 0
    last: Whole = 0
    school_system: str = Field("", max_length=16)


class ClassesForm(OrgForm):
    """新增班级: one class, or a batch 从…班 到…班."""

    batch: str = Field("", max_length=8)
    first: Whole = 0
    last: Whole = 0


class CampusForm(OrgForm):
    """编辑校区's fields."""

    name: str = Field("", max_length=64)


class NamingForm(OrgForm):
    """学段设置: 年级命名, one `name_<year>` field per year of the stage."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="allow")

    def names(self) -> dict[int, str]:
        """The typed names by year."""
        extra = self.model_extra or {}
        return {
            int(key[5:]): value.strip()
            for key, value in extra.items()
            if key.startswith("name_") and key[5:].isdigit() and isinstance(value, str)
        }


class ClassForm(OrgForm):
    """编辑班级: its number (a teaching class: name and subject)."""

    number: Whole = 0
    name: str = Field("", max_length=TEXT)
    subject: str = Field("", max_length=TEXT)


class TeachingForm(OrgForm):
    """新增教学班."""

    campus_id: Whole = 0
    name: str = Field("", max_length=TEXT)
    subject: str = Field("", max_length=TEXT)


class LeaderForm(OrgForm):
    """设置年级组长."""

    teacher_id: Whole = 0


class SystemForm(OrgForm):
    """学段设置: 更正学制 (the value must name a 学制: a blank is not 六三制 here)."""

    school_system: str = Field("", max_length=16)

    def system(self) -> SchoolSystem | None:
        """The 学制 chosen, or None."""
        try:
            return SchoolSystem(self.school_system)
        except ValueError:
            return None


class EnrollmentForm(OrgForm):
    """年级设置: 更正入学年份."""

    enrollment_year: Whole = 0
