"""学校管理 → 成员管理, one module a page: add students and parents (`students`), a member's
page and what is done to them (`member`), teachers and teaching (`teachers`), a teaching
class's students (`teaching`), and the school's settings (`settings`).

The app finds `router`; every handler takes the console's `Page` (org/deps.py). A refused act
(`MemberError`) goes to the app's handler, which draws the refusal page, except where a form is
drawn again with what was typed.
"""

from __future__ import annotations

from fastapi import APIRouter

from campusid.members.views import member, settings, students, teachers, teaching

router = APIRouter()
# 添加学生 (/members/add) before a member's page (/members/{user_id}), which would take "add".
router.include_router(students.router)
router.include_router(member.router)
router.include_router(teachers.router)
router.include_router(teaching.router)
router.include_router(settings.router)
