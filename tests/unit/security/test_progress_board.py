"""Issue 17: the in-process progress board keeps each entry for its owner, and forgets it."""

from __future__ import annotations

from campusid.security.progress import MemoryProgressBoard, State, valid_key


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_memory_board_answers_only_its_owner_and_forgets_after_its_time():
    ticks = Ticks()
    board = MemoryProgressBoard(ttl_seconds=60, clock=ticks)
    key = "a" * 32
    assert board.read(key, "1@1") is None
    board.report(key, "1@1", State(0, 10, "check"))
    board.report(key, "1@1", State(10, 10, "done"))
    assert board.read(key, "1@1") == State(10, 10, "done")
    assert board.read(key, "1@2") is None  # same admin, other school
    assert board.read(key, "2@1") is None  # other admin
    board.report(key, "2@1", State(0, 1, "check"))  # nobody takes over a live key
    assert board.read(key, "1@1") == State(10, 10, "done")
    assert board.read(key, "2@1") is None
    ticks.now = 61
    assert board.read(key, "1@1") is None


def test_keys_are_url_safe_and_long_enough():
    assert valid_key("0123456789abcdef")
    assert not valid_key("short")
    assert not valid_key("../" + "a" * 20)
    assert not valid_key("a" * 65)
