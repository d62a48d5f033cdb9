"""The person's logging side: meals, symptoms, stress and the PSS-10 (the diary and imports have their own modules).

Every form is a plain POST answered by a 303 redirect (no JavaScript needed) and carries the
session's CSRF token and a client id drawn with the form, stored through
:func:`~gutaxis.web.idempotency.store_once`, so a retried submit stores one row. Every number
shown comes from :mod:`gutaxis.lifestyle`; this module validates, stores and shapes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TypeVar

import numpy as np
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...lifestyle.logs import MEAL_SLOTS
from ...lifestyle.stress import PSS10_ANSWERS, pss10_questions
from .. import food
from ..deps import get_db, person_user, render, settings_of
from ..idempotency import derived_client_id, new_client_id, store_once, valid_client_id
from ..models import MealEntry, StressEntry, SymptomEntry, User
from ..records import entries_between

router = APIRouter()

SYMPTOMS = ("pain", "joint pain", "fatigue", "bloating")
RECENT_N = 8
MAX_TEXT = 500
FUTURE_SLACK = timedelta(hours=24)  # the server's clock and the person's may differ by a time zone
# Perceived Stress Scale, 10 items (Cohen S, Kamarck T, Mermelstein R. J Health Soc Behav 1983;24:385-96;
# 10-item form: Cohen S, Williamson G 1988). Scoring is gutaxis.lifestyle.score_pss10 (package data).


def _now() -> datetime:
    """The server's local wall-clock time (entries keep local time as logged)."""
    return datetime.now().replace(second=0, microsecond=0)


def _day_bounds(d: date) -> tuple[datetime, datetime]:
    start = datetime.combine(d, time())
    return start, start + timedelta(days=1)


def _parse_local(value: str, what: str) -> tuple[datetime | None, str | None]:
    """A date-time from a ``datetime-local`` input (or ISO text); None when blank; an error sentence."""
    v = (value or "").strip()
    if not v:
        return None, None
    try:
        dt = datetime.fromisoformat(v.replace(" ", "T"))
    except ValueError:
        return None, f"{what}: {v[:40]!r} is not a date and time (for example 2026-12-01 08:30)."
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None)  # local wall-clock time as written
    if dt > _now() + FUTURE_SLACK:
        return None, f"{what}: {dt:%Y-%m-%d %H:%M} is in the future."
    if dt.year < 1900:
        return None, f"{what}: {dt:%Y-%m-%d} is too long ago."
    return dt.replace(second=0, microsecond=0), None


def _number(value: str, what: str, lo: float, hi: float, *, integer: bool = False) -> tuple[float | None, str | None]:
    v = (value or "").strip()
    if not v:
        return None, None
    try:
        x = float(v)
    except ValueError:
        x = float("nan")
    if not np.isfinite(x) or x < lo or x > hi or (integer and x != int(x)):
        kind = "a whole number" if integer else "a number"
        return None, f"{what}: {v[:20]!r} is not allowed; give {kind} from {lo:g} to {hi:g}."
    return x, None


#: the person's own rows that a page links to by id
_Owned = TypeVar("_Owned", MealEntry, StressEntry, SymptomEntry)


def _owned(db: Session, model: type[_Owned], user: User, row_id) -> _Owned | None:
    try:
        rid = int(row_id)
    except (TypeError, ValueError):
        return None
    return db.scalar(select(model).where(model.id == rid, model.person_id == user.id))


# ----------------------------------------------------------------------------- the log page


def _recent_texts(db: Session, user: User) -> list[tuple[str, str]]:
    """The last distinct typed entries (text, meal slot), newest first."""
    rows = [  # whole rows: the text may be sealed with the person's key (gutaxis.web.person_keys opens it on load)
        (m.text, m.meal)
        for m in db.scalars(
            select(MealEntry)
            .where(MealEntry.person_id == user.id, MealEntry.source.in_(("typed", "repeat")))
            .order_by(MealEntry.created_at.desc(), MealEntry.id.desc())
            .limit(200)
        )
    ]
    seen, out = set(), []
    for text, meal in rows:
        k = " ".join(text.lower().split())
        if k and k not in seen:
            seen.add(k)
            out.append((text, meal))
        if len(out) >= RECENT_N:
            break
    return out


def _log_context(
    request: Request, db: Session, user: User, *, errors: dict | None = None, form: dict | None = None
) -> dict:
    s = settings_of(request)
    today = _now().date()
    start, end = _day_bounds(today)
    meals, symptoms, stress = entries_between(db, user.id, start, end)
    q = request.query_params
    new_entry = _owned(db, MealEntry, user, q.get("entry")) if q.get("entry") else None
    errors = errors or {}
    form = form or {}

    def cid(name: str) -> str:  # a form that failed keeps its id: fixing and resending stores once
        old = form.get(name, {}).get("client_id") if name in errors else None
        try:
            return valid_client_id(old) if old else new_client_id()
        except HTTPException:
            return new_client_id()

    recent = _recent_texts(db, user)
    from ...lifestyle.symptoms import bristol_scale

    bristol = [(int(t), str(r["description"]), str(r["group"])) for t, r in bristol_scale().iterrows()]
    from ...lifestyle.stress import PRACTICES

    return {
        "title": "Log",
        "today": today,
        "meals": meals,
        "symptoms": symptoms,
        "stress": stress,
        "new_entry": new_entry,
        "recent": [(t, m, new_client_id()) for t, m in recent],
        "food_problem": food.food_problem(s),
        "slots": MEAL_SLOTS,
        "symptom_choices": SYMPTOMS,
        "practices": PRACTICES,
        "bristol_types": bristol,
        "errors": errors,
        "form": form,
        "cid": {k: cid(k) for k in ("meal", "symptom", "bristol", "stress", "repeat")},
        "now_local": _now().strftime("%Y-%m-%dT%H:%M"),
        "nova_names": food.NOVA_NAMES,
        "status_text": food.STATUS_TEXT,
        "hide": bool(user.hide_numbers),
        "msg": q.get("msg", ""),
        "repeated": q.get("repeated") if (q.get("repeated") or "x").isdigit() else None,
    }


@router.get("/log")
def log_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return render(request, "log.html", _log_context(request, db, user))


def _log_error(request, db, user, which: str, message: str | list[str], form: dict):
    msgs = [message] if isinstance(message, str) else message
    return render(
        request, "log.html", _log_context(request, db, user, errors={which: msgs}, form={which: form}), status_code=400
    )


@router.post("/log/meal")
def log_meal(
    request: Request,
    text: str = Form(""),
    meal: str = Form(""),
    eaten_at: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    form = {"text": text, "meal": meal, "eaten_at": eaten_at, "client_id": client_id}
    cid = valid_client_id(client_id)
    text = " ".join(text.split())
    errors = []
    if not text:
        errors.append("Write what you ate, for example '1 cup kimchi' or '2 eggs and toast'.")
    elif len(text) > MAX_TEXT:
        errors.append(f"That is {len(text)} characters; one entry holds at most {MAX_TEXT}. Split it into two.")
    meal = meal.strip().lower()
    if meal and meal not in MEAL_SLOTS:
        errors.append(f"Meal: choose one of {', '.join(MEAL_SLOTS)}, or leave it empty.")
    when, err = _parse_local(eaten_at, "When")
    if err:
        errors.append(err)
    if errors:
        return _log_error(request, db, user, "meal", errors, form)
    when = when or _now()
    existing = db.scalar(select(MealEntry).where(MealEntry.person_id == user.id, MealEntry.client_id == cid))
    if existing is None:
        items = food.match_meal(settings_of(request), text, when, meal)
        existing, _ = store_once(
            db, MealEntry, "person_id", user.id, cid, eaten_at=when, meal=meal, text=text, items=items, source="typed"
        )
    return RedirectResponse(f"/log?entry={existing.id}#new-entry", status_code=303)


@router.post("/log/repeat-yesterday")
def repeat_yesterday(
    request: Request, client_id: str = Form(""), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    cid = valid_client_id(client_id)
    today = _now().date()
    start, end = _day_bounds(today - timedelta(days=1))
    rows = db.scalars(
        select(MealEntry)
        .where(MealEntry.person_id == user.id, MealEntry.eaten_at >= start, MealEntry.eaten_at < end)
        .order_by(MealEntry.eaten_at, MealEntry.id)
    ).all()
    for e in rows:
        store_once(
            db,
            MealEntry,
            "person_id",
            user.id,
            derived_client_id("repeat", cid, e.id),
            eaten_at=datetime.combine(today, e.eaten_at.time()),
            meal=e.meal,
            text=e.text,
            items=list(e.items or []),
            source="repeat",
            nutrients=dict(e.nutrients) if e.nutrients else None,
        )
    return RedirectResponse(f"/log?repeated={len(rows)}", status_code=303)


@router.post("/log/symptom")
def log_symptom(
    request: Request,
    which: str = Form("symptom"),
    symptom: str = Form(""),
    symptom_other: str = Form(""),
    rating: str = Form(""),
    onset: str = Form(""),
    bristol: str = Form(""),
    note: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    from ...errors import InputError
    from ...lifestyle import bristol_group
    from ...lifestyle.symptoms import normalize_symptom

    which = "bristol" if which == "bristol" else "symptom"
    form = {
        "symptom": symptom,
        "symptom_other": symptom_other,
        "rating": rating,
        "onset": onset,
        "bristol": bristol,
        "note": note,
        "client_id": client_id,
    }
    cid = valid_client_id(client_id)
    errors = []
    name = symptom_other if symptom == "other" else symptom
    name = normalize_symptom(name) if name.strip() else ""
    if symptom and symptom != "other" and symptom not in SYMPTOMS:
        errors.append(f"Symptom: choose one of {', '.join(SYMPTOMS)}, or 'other' and name it.")
    if symptom == "other" and not name:
        errors.append("Name the symptom (for example 'headache').")
    if len(name) > 60:
        errors.append("Symptom: at most 60 characters.")
    value, err = _number(rating, "Rating", 0, 10)
    if err:
        errors.append(err)
    if name and value is None and not err:
        errors.append(f"Rate {name} from 0 (none) to 10 (worst).")
    if value is not None and not name:
        errors.append("Choose the symptom this rating is for.")
    btype = None
    if bristol.strip():
        try:
            bristol_group(bristol.strip())  # the scale's own check (whole number 1-7)
            btype = int(bristol.strip())
        except InputError as exc:
            errors.append(f"Stool type: {exc.problem} ({exc.hint}).")
    if not name and value is None and btype is None and not errors:
        errors.append(
            "Choose a symptom and rate it 0-10, or choose a stool type (1-7)."
            if which == "symptom"
            else "Choose a stool type (1-7)."
        )
    when_start, err = _parse_local(onset, "Started")
    if err:
        errors.append(err)
    if len(note) > 500:
        errors.append("Note: at most 500 characters.")
    if errors:
        return _log_error(request, db, user, which, errors, form)
    now = _now()
    onset_at = when_start or now
    # the server's clock may run behind the person's: a symptom is never noted before it started
    store_once(
        db,
        SymptomEntry,
        "person_id",
        user.id,
        cid,
        at=max(now, onset_at),
        onset=onset_at,
        symptom=name,
        rating=value,
        bristol=btype,
        note=note.strip(),
    )
    return RedirectResponse(f"/log?msg={which}#{which}", status_code=303)


@router.post("/log/stress")
def log_stress(
    request: Request,
    rating: str = Form(""),
    practice: str = Form(""),
    minutes: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    from ...lifestyle.stress import PRACTICES

    form = {"rating": rating, "practice": practice, "minutes": minutes, "client_id": client_id}
    cid = valid_client_id(client_id)
    errors = []
    value, err = _number(rating, "Stress today", 0, 10)
    if err:
        errors.append(err)
    practice = practice.strip().lower()
    if practice and practice not in PRACTICES:
        errors.append(f"Practice: choose one of {', '.join(PRACTICES)}.")
    mins, err = _number(minutes, "Minutes", 0, 1440)
    if err:
        errors.append(err)
    if practice and mins is None and not err:
        errors.append(f"Give the minutes of {practice} (0-1440).")
    if mins is not None and not practice:
        errors.append("Choose the practice these minutes are for.")
    if value is None and not practice and mins is None and not errors:
        errors.append("Rate today's stress 0-10, or give a practice with its minutes.")
    if errors:
        return _log_error(request, db, user, "stress", errors, form)
    store_once(db, StressEntry, "person_id", user.id, cid, at=_now(), rating=value, practice=practice, minutes=mins)
    return RedirectResponse("/log?msg=stress#stress", status_code=303)


# ----------------------------------------------------------------------------- PSS-10


def _pss_context(db: Session, user: User, request: Request, **extra) -> dict:
    from ...lifestyle import PSS10_BAND_CAVEAT

    last = db.scalar(
        select(StressEntry)
        .where(StressEntry.person_id == user.id, StressEntry.pss_total.is_not(None))
        .order_by(StressEntry.at.desc(), StressEntry.id.desc())
        .limit(1)
    )
    shown = (
        _owned(db, StressEntry, user, request.query_params.get("entry")) if request.query_params.get("entry") else None
    )
    if shown is not None and shown.pss_total is None:
        shown = None
    band = None
    if shown is not None:
        from ...lifestyle import pss10_band

        band = pss10_band(shown.pss_total)
    ctx = {
        "title": "Stress questionnaire (PSS-10)",
        "items": list(enumerate(pss10_questions(), start=1)),
        "answers": list(enumerate(PSS10_ANSWERS)),
        "last": last,
        "shown": shown,
        "band": band,
        "caveat": PSS10_BAND_CAVEAT,
        "recent_days": (_now() - last.at).days if last else None,
        "client_id": new_client_id(),
        "errors": [],
        "given": {},
    }
    ctx.update(extra)
    return ctx


@router.get("/pss")
def pss_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return render(request, "pss.html", _pss_context(db, user, request))


@router.post("/pss")
def pss_submit(
    request: Request,
    client_id: str = Form(""),
    pss_1: str = Form(""),
    pss_2: str = Form(""),
    pss_3: str = Form(""),
    pss_4: str = Form(""),
    pss_5: str = Form(""),
    pss_6: str = Form(""),
    pss_7: str = Form(""),
    pss_8: str = Form(""),
    pss_9: str = Form(""),
    pss_10: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    from ...errors import InputError
    from ...lifestyle import score_pss10

    cid = valid_client_id(client_id)
    answers = (pss_1, pss_2, pss_3, pss_4, pss_5, pss_6, pss_7, pss_8, pss_9, pss_10)
    given = {i: a.strip() for i, a in enumerate(answers, start=1)}
    missing = [i for i, v in given.items() if v == ""]
    errors = []
    if missing:
        errors.append(
            "Answer every question: "
            + ", ".join(f"question {i}" for i in missing)
            + (" is" if len(missing) == 1 else " are")
            + " not answered (the PSS-10 is scored only when complete)."
        )
    bad = [i for i, v in given.items() if v and v not in ("0", "1", "2", "3", "4")]
    if bad:
        errors.append("Choose one of the five answers for " + ", ".join(f"question {i}" for i in bad) + ".")
    total = None
    if not errors:
        try:
            total = float(score_pss10([int(given[i]) for i in range(1, 11)], source="your answers")["pss10"].iloc[0])
        except InputError as exc:
            errors.append(exc.problem)
    if errors:
        ctx = _pss_context(db, user, request, errors=errors, given=given, client_id=cid)
        return render(request, "pss.html", ctx, status_code=400)
    row, _ = store_once(
        db,
        StressEntry,
        "person_id",
        user.id,
        cid,
        at=_now(),
        pss_items=[int(given[i]) for i in range(1, 11)],
        pss_total=total,
    )
    return RedirectResponse(f"/pss?entry={row.id}#result", status_code=303)
