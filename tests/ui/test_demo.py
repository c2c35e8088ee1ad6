"""The demo's live rate: a typical day's volume spread over 24 hours (not a burst a minute)."""

from __future__ import annotations

from decimal import Decimal

from perpvol_app.serve import simulator
from perpvol_core.exchanges import VENUES

NOW_MS = 1_790_000_000_000


def test_live_fills_add_up_to_a_typical_day_in_24h() -> None:
    interval_s = 4.0
    for exchange in VENUES:  # each registered venue's demo simulator (never started here)
        history = simulator(exchange).demo_venue(7, 20_000, NOW_MS, 730).history
        typical = history.typical_day_usd()
        days = sorted(Decimal(r["volume_usd"]) for r in history.expected_daily().values())
        assert typical == days[len(days) // 2] and typical > 0
        per_fill = history.live_notional_usd(interval_s)
        assert per_fill == float(typical) * interval_s / 86_400
        n = int(86_400 / interval_s)  # one simulated day of live fills
        start = len(history.fills)
        for i in range(n):
            history.add_live_fill(ts_ms=NOW_MS + 1 + int(i * interval_s * 1000), notional_usd=per_fill)
        live = history.fills[start:]
        day_volume = sum((f.price * f.size for f in live), Decimal(0))
        # lognormal sizes around the target, rounded to whole lots: within a factor 2 of a typical day
        assert typical / 2 < day_volume < typical * 2, (exchange, typical, day_volume)
        assert all(f.size > 0 for f in live)
        # every few seconds a visible move: no fill rounds to nothing
        assert min(f.price * f.size for f in live) > 0
