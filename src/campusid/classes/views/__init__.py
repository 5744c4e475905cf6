"""The class pages, one module a page: 任教班级 and the class home (`teaching`), 班级管理
(`manage`, `manage_students`, `requests`, `positions`), 加入班级 (`join`) and the phone pages
(`mobile`). What every handler needs comes from one dependency (`page`)."""

from __future__ import annotations

from fastapi import APIRouter

from campusid.classes.views import (
    join,
    manage,
    manage_students,
    mobile,
    positions,
    requests,
    teaching,
)

router = APIRouter()
for module in (mobile, teaching, manage, manage_students, requests, positions, join):
    router.include_router(module.router)
