"""The shared client-side pacer: request counts and weighted budgets (a venue that prices requests by weight
and charges fill answers by their size: the worst case before, the answer's own weight after)."""

from __future__ import annotations

import time

from perpvol_core.exchanges._http import Pacer, RateLimit


def test_counted_requests_wait_for_the_nth_previous_start() -> None:
    pacer = Pacer([RateLimit(2, 0.3)], margin=0.0)
    assert pacer.acquire() == 0.0
    assert pacer.acquire() == 0.0
    assert pacer.acquire() > 0.0  # the third of 2 per window waits for the first to leave it


def test_a_heavy_request_waits_until_the_window_has_room_for_its_weight() -> None:
    pacer = Pacer([RateLimit(100, 0.3)], margin=0.0)
    assert pacer.acquire(weight=60) == 0.0
    assert pacer.acquire(weight=30) == 0.0  # 90 of 100
    assert pacer.acquire(weight=20) > 0.0  # 110 would exceed the budget


def test_settling_to_the_answers_weight_frees_the_budget_at_once() -> None:
    pacer = Pacer([RateLimit(100, 60.0)], margin=0.0)
    assert pacer.acquire(weight=90) == 0.0
    pacer.settle(10)  # the answer was small
    assert pacer.acquire(weight=90) == 0.0  # 100 of 100: no wait (it would wait a minute unsettled)


def test_a_weight_above_the_budget_is_capped_instead_of_waiting_for_ever() -> None:
    pacer = Pacer([RateLimit(50, 60.0)], margin=0.0)
    assert pacer.acquire(weight=500) == 0.0


def test_stamping_answers_counts_a_request_from_its_answer_not_its_start() -> None:
    for stamp in (False, True):
        pacer = Pacer([RateLimit(1, 60.0)], margin=0.0, stamp_answers=stamp)
        assert pacer.acquire() == 0.0
        started = time.monotonic()
        time.sleep(0.05)  # the answer takes a while
        pacer.settle()  # it has arrived
        answered = time.monotonic()
        asked: list[float] = []

        def record(s: float, asked: list[float] = asked) -> None:
            asked.append(s)
            raise StopIteration  # the wait itself is not needed

        try:
            pacer.acquire(record)
        except StopIteration:
            pass
        next_start = time.monotonic() + asked[0]  # when the next request could start
        # from the answer when stamping (unstamped, it would be from the start: 50 ms earlier)
        assert next_start >= (answered if stamp else started) + 60.0
        assert stamp or next_start < answered + 60.0
