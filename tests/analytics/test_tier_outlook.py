"""Tier progress, the reach date and the tier-loss date against HAND-WORKED examples.

The days, volumes and tables below are written here; every expected figure was worked out by hand in the
comments (not taken from the code's output).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from perpvol_core.analytics.fee_schedule import FeeTable, FeeTier
from perpvol_core.analytics.tier_outlook import bps, project, window_total

D = Decimal
TODAY = date(2026, 3, 10)
#: one account's counted perp volume per UTC day (03-02 and 03-06 had no fill; 03-10 is today, in progress)
DAYS = {
    date(2026, 3, 1): D(700),
    date(2026, 3, 3): D(100),
    date(2026, 3, 4): D(600),
    date(2026, 3, 5): D(300),
    date(2026, 3, 7): D(200),
    date(2026, 3, 8): D(100),
    date(2026, 3, 9): D(800),
    date(2026, 3, 10): D(50),
}


def _table(above: bool, *rungs: tuple[str, int]) -> FeeTable:
    return FeeTable(kind="retail", window_days=5, above=above,
                    tiers=[FeeTier(name=n, min_volume=D(v)) for n, v in rungs])  # fmt: skip


def test_reach_and_loss_dates_worked_by_hand() -> None:
    table = _table(False, ("VIP 0", 0), ("VIP 1", 1000), ("VIP 2", 1500), ("VIP 3", 5000))
    p = project(DAYS, TODAY, table)
    # window = 03-06..03-10 = 0 + 200 + 100 + 800 + 50 = 1150 (03-05's 300 is one day too old)
    assert p.volume == D(1150)
    assert p.tier == "VIP 1"  # 1000 <= 1150 < 1500
    # pace = the 7 whole days before today, 03-03..03-09: 100+600+300+0+200+100+800 = 2100 / 7 = 300
    assert p.pace == D(300)
    assert (p.next_tier, p.next_threshold, p.needed) == ("VIP 2", D(1500), D(350))  # 1500 - 1150
    # at 300 a day from 03-11: 03-11 window 03-07..03-11 = 200+100+800+50+300 = 1450 (< 1500);
    # 03-12 window 03-08..03-12 = 100+800+50+300+300 = 1550 (>= 1500) -> reached on 03-12
    assert p.reach_date == date(2026, 3, 12)
    # stopping today: 03-11 = 200+100+800+50 = 1150 (keeps VIP 1); 03-12 = 100+800+50 = 950 < 1000 -> lost 03-12
    assert p.loss_date == date(2026, 3, 12)


def test_strict_thresholds_and_the_lowest_tier_worked_by_hand() -> None:
    # "> threshold" tiers (a venue whose tier needs volume above its cutoff)
    table = _table(True, ("Tier 0", 0), ("Tier 1", 1150), ("Tier 2", 1450))
    p = project(DAYS, TODAY, table)
    assert p.volume == D(1150) and p.tier == "Tier 0"  # 1150 is not above 1150
    assert p.needed == D(0)  # the threshold itself is reached: one more dollar is needed
    # 03-11's window is 1450 (above 1150, not above 1450): Tier 1 on 03-11
    assert (p.next_tier, p.reach_date) == ("Tier 1", date(2026, 3, 11))
    assert p.loss_date is None  # the lowest tier (from 0) is never lost


def test_never_reached_at_this_pace_and_top_tier() -> None:
    # VIP 3 at 5000: at 300 a day the window tops out at 5 x 300 = 1500 -> never reached
    table = _table(False, ("VIP 2", 1500), ("VIP 3", 5000))
    p = project(DAYS, TODAY, table)
    assert p.tier is None and p.next_tier == "VIP 2" and p.needed == D(350)
    assert p.reach_date == date(2026, 3, 12)  # below the first rung, the first rung is next
    high = {**DAYS, TODAY: D(9000)}  # window 1100 + 9000 = 10100 -> VIP 3, the top
    q = project(high, TODAY, table)
    assert q.tier == "VIP 3" and q.next_tier is None and q.needed is None and q.reach_date is None
    # stopping: 03-11 = 200+100+800+9000 = 10100; 03-12 = 9900; 03-13 = 9800; 03-14 = 9000; 03-15 = 0 -> 03-15
    assert q.loss_date == date(2026, 3, 15)
    p2 = project(DAYS, TODAY, _table(False, ("VIP 1", 1000), ("VIP 3", 5000)))
    assert p2.next_tier == "VIP 3" and p2.reach_date is None  # 1500 a window at most


def test_window_total_and_bps() -> None:
    assert window_total(DAYS, date(2026, 3, 5), 3) == D(1000)  # 03-03..03-05: 100 + 600 + 300
    assert bps(D("4.5"), D(10000)) == D("4.5")  # 4.5 / 10000 = 0.00045 = 4.5 bps
    assert bps(D(-1), D(20000)) == D("-0.5")  # a rebate
    assert bps(D(1), D(0)) is None
    table = FeeTable(kind="vip", window_days=14, published=False)
    assert project(DAYS, TODAY, table).tier is None  # no published table: no tier, no dates
