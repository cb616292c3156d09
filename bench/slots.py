"""Slot computation for one advocate over 21 days (target ≤ 5 ms, DESIGN.md §8).

Prints one JSON line. ``floor_ms`` times merely building the same number of aware datetimes,
so ``ratio`` stays comparable on a noisy machine; the two alternate run by run and their medians
are quoted.
"""

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

from matching.slots import Interval, SlotRules, Window, free_slots  # noqa: E402

RUNS = 200


def alternated_medians_ms(*works) -> list[float]:
    """Each work's median over RUNS runs, the works taking turns (the order flipped every run)."""
    timings: list[list[float]] = [[] for _ in works]
    for number in range(RUNS):
        order = range(len(works)) if number % 2 else reversed(range(len(works)))
        for index in order:
            started = time.perf_counter()
            works[index]()
            timings[index].append((time.perf_counter() - started) * 1000)
    return [statistics.median(values) for values in timings]


def main() -> None:
    zone = "America/New_York"
    windows = [Window(day, clock(9), clock(12)) for day in range(5)] + [
        Window(day, clock(14), clock(17)) for day in range(5)
    ]
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a window that crosses the DST change
    busy = [
        Interval(now + timedelta(days=d, hours=3), now + timedelta(days=d, hours=3, minutes=45))
        for d in range(1, 21, 2)
    ]
    rules = SlotRules(max_per_day=2)
    slots = free_slots(windows, zone=zone, now=now, busy=busy, rules=rules)
    tz = ZoneInfo(zone)

    def floor():
        day = now.date()
        for _ in range(21 * 12):
            datetime.combine(day, clock(9), tzinfo=tz).astimezone(UTC)

    compute_ms, floor_ms = alternated_medians_ms(
        lambda: free_slots(windows, zone=zone, now=now, busy=busy, rules=rules), floor
    )
    print(json.dumps({
        "bench": "slots",
        "days": rules.horizon_days,
        "slots": len(slots),
        "compute_ms": round(compute_ms, 3),
        "floor_ms": round(floor_ms, 3),
        "ratio": round(compute_ms / floor_ms, 2),
        "target_ms": 5,
        "ok": compute_ms <= 5,
    }))


if __name__ == "__main__":
    main()
