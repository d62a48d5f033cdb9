"""The ``patterns`` job: N-of-1 diary patterns over all of a person's entries.

Which foods, fermented foods, high-sugar meals, stress and practices go with which symptoms 0-48 h
later, tested by :func:`gutaxis.lifestyle.n_of_1` with Benjamini-Hochberg control, on the same
tables the CLI's ``gutaxis insights`` reads (:mod:`gutaxis.web.frames`).
"""

from __future__ import annotations

import warnings

from sqlalchemy import select

from ..errors import InputError
from . import food, jobs
from .frames import meal_rows, stress_frame, symptom_frame
from .models import MealEntry, StressEntry, SymptomEntry

__all__ = ["MIN_SYMPTOM_DAYS", "patterns", "symptom_days"]

#: days with a symptom rating before patterns are looked for (n_of_1 needs 7 days with and 7 without a factor)
MIN_SYMPTOM_DAYS = 14
TOP = 20


def symptom_days(db, person_id: int) -> int:
    """Distinct days with a symptom rating."""
    days = {
        e.at.date()
        for e in db.scalars(
            select(SymptomEntry).where(SymptomEntry.person_id == person_id, SymptomEntry.rating.is_not(None))
        )
    }
    return len(days)


@jobs.handler("patterns")
def patterns(db, job, settings, progress) -> dict:
    from ..lifestyle.insights import factor_events, n_of_1, symptom_observations

    pid = job.person_id
    n_days = symptom_days(db, pid)
    if n_days < MIN_SYMPTOM_DAYS:
        raise InputError(
            f"symptoms were rated on {n_days} days",
            source="your diary",
            hint=f"patterns need at least {MIN_SYMPTOM_DAYS} days with a symptom rating",
        )
    progress("reading your diary")
    meals = db.scalars(select(MealEntry).where(MealEntry.person_id == pid).order_by(MealEntry.eaten_at)).all()
    sym = db.scalars(select(SymptomEntry).where(SymptomEntry.person_id == pid).order_by(SymptomEntry.at)).all()
    st = db.scalars(select(StressEntry).where(StressEntry.person_id == pid).order_by(StressEntry.at)).all()
    items = None
    if meals:
        progress("matching the foods")
        try:
            items = food.resolve(settings, food.meal_frame(meal_rows(meals)))
        except food.FoodDataMissing as exc:
            raise InputError(str(exc), source="food tables") from None
    progress("testing each factor, symptom and lag")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = n_of_1(factor_events(items, stress_frame(st) if st else None), symptom_observations(symptom_frame(sym)))
    table = res.table
    top = []
    if len(table):
        t = table.sort_values(["passes", "q_value"], ascending=[False, True]).head(TOP)
        top = [
            {k: (None if v != v else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
            for r in t.to_dict("records")
        ]
    return {
        "statement": res.statement,
        "findings": list(res.findings),
        "tests": len(table),
        "skipped": len(res.skipped),
        "top": top,
        "days": n_days,
        "url": "/patterns",
    }
