"""The person's weekly diary: the week's entries by day and charts of the scores of
:mod:`gutaxis.lifestyle` (fiber, fermented servings, NOVA-4 share, inflammatory score, stress,
symptoms). Scores are computed once per week and state of the entries, and kept in memory until
an entry of that week changes.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from time import monotonic

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from .. import charts, food
from ..deps import get_db, person_user, render, settings_of
from ..frames import meal_rows, stress_frame, symptom_frame
from ..models import MealEntry, StressEntry, SymptomEntry, User
from ..records import entries_between
from .person import _now

router = APIRouter()

_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 512  # weeks kept per app: (person, week, settings) -> (entries fingerprint, computed at, scores)
#: while entries keep arriving, a week's charts are recomputed at most this often (seconds); the page says
#: how many newer entries they do not show yet. Scoring a week costs tens of milliseconds of pandas work,
#: too much to redo on every view right after every entry when many people log at once.
REFRESH_S = 20.0


def _app_cache(app) -> OrderedDict:
    cache = getattr(app.state, "diary_cache", None)
    if cache is None:
        cache = app.state.diary_cache = OrderedDict()
    return cache


def _week_scores(request: Request, user: User, monday, meals, symptoms, stress, days) -> tuple[dict, int]:
    """The week's scores (cached) and how many of the week's entries they do not include yet."""
    key = (user.id, monday, bool(user.hide_numbers), user.sex, user.age)
    ids = (
        frozenset(("m", r.id) for r in meals)
        | frozenset(("y", r.id) for r in symptoms)
        | frozenset(("s", r.id) for r in stress)
    )
    now = monotonic()
    with _CACHE_LOCK:  # one cache per app (per database), never shared between apps in one process
        cache = _app_cache(request.app)
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
    if hit is not None:
        seen, at, scores = hit
        if seen == ids:
            return scores, 0
        if ids >= seen and now - at < REFRESH_S:  # only additions, recently scored: show them, say what is new
            return scores, len(ids - seen)
    scores = _diary_scores(request, user, meals, symptoms, stress, days)
    scores["computed_at"] = datetime.now().strftime("%H:%M:%S")
    with _CACHE_LOCK:
        cache[key] = (ids, now, scores)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return scores, 0


def _week_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _parse_week(value: str | None) -> date | None:
    m = re.fullmatch(r"(\d{4})-W(\d{1,2})", (value or "").strip(), flags=re.IGNORECASE)
    if not m:
        return None
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        return None


def _week_label(monday: date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def _vals(frame: pd.DataFrame | None, col: str, days: list[pd.Timestamp], ok: dict | None = None) -> list:
    if frame is None or col not in getattr(frame, "columns", []):
        return [None] * len(days)
    s = pd.to_numeric(frame[col], errors="coerce")
    s.index = pd.to_datetime(s.index).normalize()
    out = []
    for d in days:
        v = s.get(d)
        v = None if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v) else float(v)
        if ok is not None and not ok.get(d, False):
            v = None  # the day's entries were mostly not counted: no value rather than a wrong one
        out.append(v)
    return out


def _weeks_with_data(db: Session, user: User) -> list[date]:
    """Mondays of the weeks with any entry (one row per day from the database, not every entry)."""
    days = db.scalars(
        union(
            *(
                select(func.date(col).label("day")).where(who == user.id)  # one round trip
                for col, who in (
                    (MealEntry.eaten_at, MealEntry.person_id),
                    (SymptomEntry.at, SymptomEntry.person_id),
                    (StressEntry.at, StressEntry.person_id),
                )
            )
        )
    ).all()
    return sorted({_week_of(date.fromisoformat(str(d)[:10])) for d in days if d is not None}, reverse=True)


def _diary_scores(request: Request, user: User, meals, symptoms, stress, days: list[pd.Timestamp]) -> dict:
    """Everything the diary shows, from gutaxis.lifestyle: coverage, daily/weekly scores, charts."""
    from ...lifestyle import coverage, coverage_by_day, daily_scores, weekly_scores
    from ...lifestyle.stress import daily_stress
    from ...lifestyle.symptoms import daily_symptoms

    s = settings_of(request)
    labels = [d.strftime("%a %d") for d in days]
    out: dict = {
        "labels": labels,
        "charts": [],
        "coverage": None,
        "weekly": None,
        "food_problem": None,
        "limited": False,
        "daily": None,
    }
    hide = bool(user.hide_numbers)
    if meals:
        try:
            items = food.resolve(s, food.meal_frame(meal_rows(meals)))
        except food.FoodDataMissing as exc:
            out["food_problem"] = str(exc)
            items = None
        if items is not None and len(items):
            cov = coverage(items)
            out["coverage"] = cov
            db_tables, _ = food.tables(s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                daily = daily_scores(items, db_tables, sex=user.sex, age=user.age)
                weekly = weekly_scores(daily)
            out["daily"] = daily
            out["weekly"] = weekly.iloc[0].to_dict() if len(weekly) else None
            # a day whose entries were mostly not counted shows no diet values (lifestyle's coverage rule)
            by_day = coverage_by_day(items)["ok"].to_dict()
            out["limited"] = any(e.source == "myfitnesspal" for e in meals)
            target = float(daily["fiber_target_g"].iloc[0]) if len(daily) else None
            if hide:
                out["charts"].append(
                    charts.bar_chart(
                        "fiber",
                        "Fiber, share of your daily target",
                        labels,
                        _vals(daily, "fiber_pct_target", days, by_day),
                        value_name="% of target",
                        fmt="{:.0f}",
                        y_unit="% of target",
                        target=100.0,
                        target_label="target",
                    )
                )
            else:
                out["charts"].append(
                    charts.bar_chart(
                        "fiber",
                        "Fiber per day",
                        labels,
                        _vals(daily, "fiber_g", days, by_day),
                        value_name="fiber (g)",
                        fmt="{:.0f}",
                        y_unit="g",
                        target=target,
                        target_label=f"target {target:.0f} g" if target else "",
                    )
                )
            out["charts"].append(
                charts.bar_chart(
                    "fermented",
                    "Fermented servings with live cultures",
                    labels,
                    _vals(daily, "fermented_servings", days, by_day),
                    value_name="servings",
                    fmt="{:.1f}",
                    y_unit="servings",
                )
            )
            upf = [None if v is None else 100.0 * v for v in _vals(daily, "upf_energy_share", days, by_day)]
            out["charts"].append(
                charts.bar_chart(
                    "upf",
                    "Ultra-processed (NOVA 4) share of energy",
                    labels,
                    upf,
                    value_name="% of energy",
                    fmt="{:.0f}",
                    y_unit="% energy",
                    y_max=100.0,
                    note="Only foods with a known NOVA group count; imported files give no NOVA groups.",
                )
            )
            out["charts"].append(
                charts.bar_chart(
                    "dii",
                    "Dietary inflammatory score",
                    labels,
                    _vals(daily, "inflammatory_score", days, by_day),
                    value_name="score",
                    fmt="{:.1f}",
                    y_unit="score",
                    note="Computed from the published DII parameters your foods give; lower is less inflammatory. "
                    "It informs a conversation with your dietitian and diagnoses nothing.",
                )
            )
    else:
        out["charts"].append(
            charts.not_enough(
                "Diet", 0, "Log meals on the Log page to see fiber, fermented foods and the ultra-processed share."
            )
        )
    st = stress_frame(stress) if stress else None
    ds = daily_stress(st) if st is not None and len(st) else None
    out["charts"].append(
        charts.bar_chart(
            "stress",
            "Stress (0-10)",
            labels,
            _vals(ds, "stress_rating", days),
            value_name="stress",
            fmt="{:.0f}",
            y_unit="0-10",
            y_max=10.0,
        )
    )
    sy = symptom_frame(symptoms) if symptoms else None
    dsy = daily_symptoms(sy) if sy is not None and len(sy) else None
    series: dict[str, Sequence[float | None]] = {}
    if dsy is not None:
        for c in dsy.columns:
            if c not in ("bristol_mean", "bristol_n"):
                series[c] = _vals(dsy, c, days)
    out["charts"].append(
        charts.line_chart(
            "symptoms", "Symptoms (worst of the day, 0-10)", labels, series, fmt="{:.0f}", y_unit="0-10", y_max=10.0
        )
    )
    return out


@router.get("/diary")
def diary_page(
    request: Request, week: str | None = None, user: User = Depends(person_user), db: Session = Depends(get_db)
):
    this_monday = _week_of(_now().date())
    weeks = _weeks_with_data(db, user)
    monday = _parse_week(week) if week else this_monday
    error = notice = None
    if monday is None:
        error = "Week: write it as YYYY-Www, for example 2026-W49. Showing this week."
        monday = this_monday
    elif not week and weeks and this_monday not in weeks:
        # on a Monday morning "this week" is empty; open on the latest week the person logged, and say so
        monday = next((w for w in weeks if w < this_monday), this_monday)
        if monday != this_monday:
            notice = (
                f"Nothing logged yet in the week of {this_monday.strftime('%d %B %Y')}; "
                f"showing your latest week with entries."
            )
    start, end = datetime.combine(monday, time()), datetime.combine(monday + timedelta(days=7), time())
    meals, symptoms, stress = entries_between(db, user.id, start, end)
    days = [pd.Timestamp(monday + timedelta(days=i)) for i in range(7)]
    scores, behind = _week_scores(request, user, monday, meals, symptoms, stress, days)
    from .sharing import shared_notes  # the dietitian's shared notes on a day of this week

    day_notes: dict[str, list[dict]] = {}
    for n in shared_notes(db, user.id):
        if n["target"].startswith("day:"):
            day_notes.setdefault(n["target"][4:], []).append(n)
    by_day = []
    for d in days:
        dd = d.date()
        by_day.append(
            {
                "date": dd,
                "notes": day_notes.get(dd.isoformat(), []),
                "meals": [m for m in meals if m.eaten_at.date() == dd],
                "symptoms": [x for x in symptoms if x.at.date() == dd],
                "stress": [x for x in stress if x.at.date() == dd],
            }
        )
    return render(
        request,
        "diary.html",
        {
            "title": "Diary",
            "week": _week_label(monday),
            "monday": monday,
            "sunday": monday + timedelta(days=6),
            "prev": _week_label(monday - timedelta(days=7)),
            "next": _week_label(monday + timedelta(days=7)),
            "this_week": _week_label(this_monday),
            "notice": notice,
            "weeks": [(_week_label(w), w) for w in weeks[:26]],
            "by_day": by_day,
            "s": scores,
            "behind": behind,
            "error": error,
            "hide": bool(user.hide_numbers),
            "nova_names": food.NOVA_NAMES,
            "status_text": food.STATUS_TEXT,
            "n_meals": len(meals),
        },
        status_code=200,
    )
