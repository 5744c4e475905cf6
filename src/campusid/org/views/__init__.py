"""学校管理 → 组织管理, one module per page.

- `tree`: the tree's pages (school, campus, stage, grade, class), 毕业班级, the search;
- `creation`: the guide's four creation cases (快速创建, 新增学段, 新增年级, 新增班级);
- `nodes`: edits, 年级命名 and deletes of campuses, stages, grades and classes;
- `grades`: 年级设置 (年级组长, 升级 and 毕业 by hand);
- `teaching`: 教学班;
- `districts`: 区县组织, for platform administrators.

School console handlers take the one `Page` dependency (`org.deps`); forms are the models of
`forms`; the objects a URL names are found inside the school by `lookup`.
"""

from fastapi import APIRouter

from campusid.org.views import creation, districts, grades, nodes, teaching, tree

router = APIRouter()
router.include_router(tree.home)
router.include_router(tree.grade_home)  # issue 23: 年级
for _module in (tree, creation, nodes, grades, teaching, districts):
    router.include_router(_module.router)
