"""教学班: the school's teaching classes, and 新增教学班."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.org import building
from campusid.org.building import Invalid
from campusid.org.deps import Page
from campusid.org.views import lookup
from campusid.org.views.forms import TeachingForm

router = APIRouter(prefix="/school/{school_id}/teaching")


@router.get("")
def teaching_tab(page: Page) -> Response:
    """教学班: the school's teaching classes."""
    return page.render("org/teaching.html", loaded=page.tree(), tab="teaching")


@router.get("/new")
def new_teaching_page(page: Page) -> Response:
    """新增教学班."""
    return page.render(
        "org/new_teaching.html", tab="teaching", form={"name": "", "subject": "", "campus_id": ""}
    )


@router.post("/new")
def new_teaching_submit(page: Page, form: Annotated[TeachingForm, Form()]) -> Response:
    """Create a teaching class on a campus."""
    campus = lookup.campus(page, form.campus_id)
    try:
        school_class = building.create_teaching_class(
            page.db, campus=campus, name=form.name, subject=form.subject, now=page.now
        )
    except Invalid as exc:
        return page.refuse("org/new_teaching.html", exc, tab="teaching", form=form.redraw())
    return page.go(f"/classes/{school_class.id}", created=1)
