"""Benchmark: ten years of a typed food diary scored, against the release before FNDDS (47978f4).

29,200 entries (8 a day for 3,650 days) drawn from 15 distinct texts, as a long diary of
repeated breakfasts looks. gutaxis reads the log, matches every entry (cached per distinct
text), resolves portions and nutrients and computes daily and weekly scores; the target is
under 10 s. The previous release (commit 47978f4, SR28 single-item matcher, no cache) is run
on the same file in a git worktree; it takes minutes per year, so by default it is timed on the
first 120 days and scaled linearly to ten years (``--full-baseline`` times it on all ten years).

Run: .venv/bin/python bench/bench_diary.py [--full-baseline]   (needs ../shared beside the checkout)
The last line prints the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BASELINE = "47978f4"
TEXTS = [
    "porridge with blueberries",
    "1 medium banana",
    "2 eggs",
    "1 cup cooked brown rice",
    "greek yogurt",
    "handful of almonds",
    "glass of orange juice",
    "200g chicken breast",
    "1 cup kimchi",
    "an apple",
    "2 slices whole wheat bread",
    "1 cup whole milk",
    "150 g salmon",
    "1 cup cooked lentils",
    "a glass of red wine",
]


def make_log(path: Path, days: int) -> int:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2016-01-01")
    ts = [start + pd.Timedelta(days=d, hours=7 + 2 * k) for d in range(days) for k in range(8)]
    pd.DataFrame(
        {"timestamp": [t.strftime("%Y-%m-%dT%H:%M") for t in ts], "text": rng.choice(TEXTS, size=len(ts))}
    ).to_csv(path, index=False)
    return len(ts)


OURS = f"""
import time, sys
t = time.perf_counter()
from gutaxis.lifestyle.fooddb import load_food_database
from gutaxis.lifestyle.logs import read_meal_log
from gutaxis.lifestyle.scores import resolve_meals, daily_scores, weekly_scores
S = {str(SHARED)!r} + "/"
db = load_food_database(S + "fndds_portions", S + "usda_sr28_full", usda_path=S + "usda_sr28_abbrev/ABBREV.txt",
    nova_path=S + "nova_fndds_sr_grocerydb/"
    "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv")
t_db = time.perf_counter()
items = resolve_meals(read_meal_log(sys.argv[1]), db)
d = daily_scores(items, db); w = weekly_scores(d)
print(time.perf_counter() - t, time.perf_counter() - t_db, len(items), len(d))
"""

OLD = f"""
import time, sys, warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
from gutaxis.lifestyle.foods import load_food_table
from gutaxis.lifestyle.logs import read_meal_log
from gutaxis.lifestyle.scores import resolve_meals, daily_scores, weekly_scores
S = {str(SHARED)!r} + "/"
foods = load_food_table(S + "usda_sr28_abbrev/ABBREV.txt",
    S + "nova_fndds_sr_grocerydb/"
    "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv")
items = resolve_meals(read_meal_log(sys.argv[1]), foods)
d = daily_scores(items, foods); w = weekly_scores(d)
print(time.perf_counter() - t, 0, len(items), len(d))
"""


def run(code: str, log: Path, pythonpath: str | None = None) -> list[float]:
    env = None
    if pythonpath:
        import os

        env = {**os.environ, "PYTHONPATH": pythonpath}
    r = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True, env=env, check=True)
    return [float(x) for x in r.stdout.split()]


def main() -> None:
    full = "--full-baseline" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log = tmp / "ten_years.csv"
        n = make_log(log, 3650)
        total, matching, _n_items, n_days = run(OURS, log)
        print(
            f"gutaxis: {n:,} entries ({n_days:,} days) scored in {total:.1f} s "
            f"({matching:.1f} s after loading the food tables); target < 10 s: {'yes' if total < 10 else 'NO'}"
        )
        wt = tmp / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), BASELINE], capture_output=True, check=True
        )
        try:
            days = 3650 if full else 120
            small = tmp / "baseline_log.csv"
            m = make_log(small, days)
            old = run(OLD, small, str(wt / "src"))[0]
            scaled = old * 3650 / days
            how = "measured" if full else f"measured on {days} days ({m:,} entries): {old:.1f} s, scaled linearly"
            print(f"release {BASELINE}: ten years {scaled:.0f} s ({how})")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], capture_output=True)
        print(f"ratio (release {BASELINE} / gutaxis) on ten years of diary: {scaled / total:.0f}x")


if __name__ == "__main__":
    main()
