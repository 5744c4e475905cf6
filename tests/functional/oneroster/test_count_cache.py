"""issue 22: `X-Total-Count` is counted once per client and query for a while (counts.py).

A sync walking a collection's pages pays for the total once; the remembered total is that
client's own; a roster that grows during the walk is still walked to its end (a full page
always links to the next); past `oneroster_count_seconds` the total is counted again.
"""

from __future__ import annotations

import re
import secrets

import redis
from sqlalchemy import select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole, User
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from campusid.clock import FixedClock
from campusid.counts import (
    MemoryCountCache,
    NoCountCache,
    RedisCountCache,
    make_count_cache,
)
from tests.functional.oneroster.test_rostering import _grant

REDIS_URL = "redis://127.0.0.1:6379/0"


def _walk(app, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every record's sourcedId, two a page, following the Link header's `next`."""
    found: list[str] = []
    page = app.get(path, limit=2)
    while True:
        assert page.status_code == 200, page.text
        found += [u["sourcedId"] for u in page.json()["users"]]
        link = re.search(r'<([^>]+)>; rel="next"', page.headers["Link"])
        if link is None:
            return found
        page = app.server.get(link.group(1), headers={"Authorization": f"Bearer {app.token}"})


def test_a_walk_counts_once_and_still_reaches_a_student_added_during_it(
    db, world, clock, make_roster_app
):
    sync, other = make_roster_app("作业本"), make_roster_app("阅读")
    _grant(db, world, clock, sync)
    _grant(db, world, clock, other)
    class51 = world.class51
    path = f"/classes/{class51.sourced_id}/students"
    before = _walk(sync, path)
    total = int(sync.get(path).headers["X-Total-Count"])
    # Even, so the pupil who joins falls on a page past the remembered total.
    assert total == len(before) >= 2 and total % 2 == 0

    # A pupil joins 五年级1班 while the walk's total is remembered.
    now = clock.now()
    pupil = accounts.new_user(db, username="xinlai", real_name="辛来", now=now, password_hash="x")
    db.flush()
    accounts.join_school(
        db, user=pupil, school_id=class51.school_id, role=SchoolRole.STUDENT, now=now
    )
    enrolment.enrol(db, school_class=class51, student=pupil, now=now)
    mover = pupil.id
    db.commit()
    db.expire_all()
    clock.advance(seconds=30)

    assert sync.get(path).headers["X-Total-Count"] == str(total)  # remembered: not counted again
    walked = _walk(sync, path)
    assert len(walked) == total + 1  # ... yet the walk reaches the pupil who joined
    assert db.get(User, mover).sourced_id in walked  # type: ignore[union-attr]
    # Another application's total is its own, counted now.
    assert other.get(path).headers["X-Total-Count"] == str(total + 1)

    clock.advance(seconds=31)  # past oneroster_count_seconds (60): counted again
    assert sync.get(path).headers["X-Total-Count"] == str(total + 1)


def test_a_full_last_page_offers_one_more_page_which_is_empty(db, world, clock, make_roster_app):
    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    path = f"/classes/{world.class51.sourced_id}/students"
    total = int(app.get(path).headers["X-Total-Count"])
    last = app.get(path, limit=1, offset=total - 1)
    assert len(last.json()["users"]) == 1
    assert 'rel="next"' in last.headers["Link"]
    # The page is full, so a next page is offered (the total may be behind); it is empty.
    following = app.get(path, limit=1, offset=total)
    assert following.json()["users"] == [] and 'rel="next"' not in following.headers["Link"]


def test_memory_cache_forgets_after_its_seconds():
    clock = FixedClock()
    cache = MemoryCountCache(clock, ttl_seconds=60)
    cache.put("k", 7)
    clock.advance(seconds=59)
    assert cache.get("k") == 7 and cache.get("other") is None
    clock.advance(seconds=1)
    assert cache.get("k") is None


def test_zero_seconds_counts_every_call():
    cache = make_count_cache(FixedClock(), 0, None, "x")
    assert isinstance(cache, NoCountCache)
    cache.put("k", 7)
    assert cache.get("k") is None


def test_redis_cache_keeps_the_total_for_its_seconds_in_redis():
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"test-{secrets.token_hex(6)}"
    cache = make_count_cache(FixedClock(), 60, client, prefix)
    assert isinstance(cache, RedisCountCache)
    try:
        assert cache.get("k") is None
        cache.put("k", 12_345)
        assert cache.get("k") == 12_345
        # Another process's cache on the same Redis finds it.
        assert RedisCountCache(client, prefix=prefix, ttl_seconds=60).get("k") == 12_345
        assert 0 < client.ttl(f"{prefix}:oneroster-count:k") <= 60
    finally:
        for name in client.scan_iter(f"{prefix}:*"):
            client.delete(name)
        client.close()


def test_a_walk_goes_on_from_the_last_page_and_skips_nobody_when_one_leaves(
    db, world, clock, make_roster_app
):
    """Page after page in the collection's order, a walk continues from the previous page's
    last record (remembered with the total): a pupil leaving the class while the walk runs
    does not shift the next page over a pupil the walk has not read yet."""
    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    path = f"/classes/{world.class51.sourced_id}/students"
    everyone = [u["sourcedId"] for u in app.get(path, limit=100).json()["users"]]
    assert len(everyone) >= 5
    first = app.get(path, limit=2)
    read = [u["sourcedId"] for u in first.json()["users"]]
    assert read == everyone[:2]

    # The first pupil read leaves the class (移出班级) before the next page is asked for.
    leaving = db.scalar(select(User).where(User.sourced_id == read[0]))
    place = db.scalar(
        select(ClassStudent).where(
            ClassStudent.student_id == leaving.id, ClassStudent.class_id == world.class51.id
        )
    )
    db.delete(place)
    db.commit()
    clock.advance(seconds=5)

    offset = 2
    while True:
        page = app.get(path, limit=2, offset=offset).json()["users"]
        if not page:
            break
        read += [u["sourcedId"] for u in page]
        offset += 2
    assert read == everyone  # nobody skipped (counting off 2 would have skipped everyone[2])
