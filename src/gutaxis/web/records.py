"""A person's database rows as a :class:`gutaxis.lifestyle.Person`, read by the CLI's own readers.

The app never re-implements the validation of a meal, stress or symptom log: :func:`write_person_folder`
writes the rows as the files a person's folder holds (``person.json``, ``meals.csv`` in the
:func:`gutaxis.lifestyle.read_meal_log` format ``timestamp,meal,text,ndb_no,grams`` — the SR28 number
and grams only where an imported entry carried them —, ``stress.csv``,
``symptoms.json``, the stool profile upload) and :func:`person_from_records` reads that folder
with :func:`gutaxis.lifestyle.read_person`, exactly as ``gutaxis plan PERSON_DIR`` does.

``scopes`` limits what is written to what the person shares (``diary`` = meals, ``symptoms``,
``stress``, ``microbiome`` = the stool profile); ``None`` writes everything (the person's own use).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InputError
from ..lifestyle._csvsafe import safe_cell
from .models import MealEntry, StressEntry, SymptomEntry, Upload, User

__all__ = ["SCOPE_FILES", "person_folder", "person_from_records", "profile_upload", "write_person_folder"]

#: scope -> the file of the person's folder it allows
SCOPE_FILES = {"diary": "meals", "symptoms": "symptoms", "stress": "stress", "microbiome": "profile", "plan": "markers"}
_MEAL_SLOTS = ("breakfast", "lunch", "dinner", "snack", "drink", "other")
_PSS = [f"pss_{i}" for i in range(1, 11)]


def _ts(dt) -> str:
    return dt.replace(microsecond=0).isoformat()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _num(x) -> str:
    if x is None:
        return ""
    return f"{float(x):g}"


def _given(nutrients) -> tuple[str, str]:
    """The SR28 number and grams an imported entry carried (``MealEntry.nutrients``), as the meal log writes them."""
    n = nutrients if isinstance(nutrients, dict) else {}
    ndb = str(n.get("ndb_no") or "").strip()
    ndb = ndb if re.fullmatch(r"\d{1,5}", ndb) else ""
    g = n.get("grams")
    grams = f"{float(g):g}" if isinstance(g, (int, float)) and 0 < float(g) <= 2000 else ""
    return (ndb if grams else ""), grams  # an SR28 number needs its grams


def entries_between(db: Session, person_id: int, start, end) -> tuple[list, list, list]:
    """The person's meals, symptoms and stress entries with a time in ``[start, end)``, each in time
    order (the Log page's day and the Diary's week read the same window)."""
    meals = db.scalars(
        select(MealEntry)
        .where(MealEntry.person_id == person_id, MealEntry.eaten_at >= start, MealEntry.eaten_at < end)
        .order_by(MealEntry.eaten_at, MealEntry.id)
    ).all()
    symptoms = db.scalars(
        select(SymptomEntry)
        .where(SymptomEntry.person_id == person_id, SymptomEntry.at >= start, SymptomEntry.at < end)
        .order_by(SymptomEntry.at)
    ).all()
    stress = db.scalars(
        select(StressEntry)
        .where(StressEntry.person_id == person_id, StressEntry.at >= start, StressEntry.at < end)
        .order_by(StressEntry.at)
    ).all()
    return list(meals), list(symptoms), list(stress)


def profile_upload(db: Session, person_id: int) -> Upload | None:
    """The person's latest stool profile upload that was read successfully, or None."""
    return db.scalar(
        select(Upload)
        .where(Upload.person_id == person_id, Upload.kind == "profile", Upload.status == "done")
        .order_by(Upload.id.desc())
        .limit(1)
    )


def write_person_folder(
    db: Session, user: User, folder: Path, *, upload_dir: Path | None = None, scopes: Iterable[str] | None = None
) -> dict[str, int]:
    """Write ``user``'s records into ``folder`` as a person's folder; returns the rows written per file.

    Raises :class:`~gutaxis.errors.InputError` when there is no meal to build on (the meal log is
    the one file a person's folder must have).
    """
    allowed = set(SCOPE_FILES) if scopes is None else {s for s in scopes if s in SCOPE_FILES}
    folder = Path(folder)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}

    if "diary" not in allowed:
        raise InputError(
            "the meal diary is not shared, and a plan is built from it",
            source="the person's records",
            hint="ask the person to share their diary",
        )
    meals = db.scalars(
        select(MealEntry).where(MealEntry.person_id == user.id).order_by(MealEntry.eaten_at, MealEntry.id)
    ).all()
    rows = [
        (m.eaten_at, m.meal if m.meal in _MEAL_SLOTS else "", _one_line(m.text), *_given(m.nutrients)) for m in meals
    ]
    rows = [r for r in rows if r[2] or r[3]]
    if not rows:
        raise InputError(
            "no meals logged yet",
            source="the person's records",
            hint="the plan is built from the meal diary: log a few days of meals first",
        )
    with open(folder / "meals.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "meal", "text", "ndb_no", "grams"])
        for at, meal, text, ndb, grams in rows:
            w.writerow([_ts(at), meal, safe_cell(text), ndb, grams])  # no formula reaches a spreadsheet
    files["meals"], counts["meals"] = "meals.csv", len(rows)

    if "stress" in allowed:
        stress = db.scalars(
            select(StressEntry).where(StressEntry.person_id == user.id).order_by(StressEntry.at, StressEntry.id)
        ).all()
        out = []
        for s in stress:
            pss = list(s.pss_items) if s.pss_items and len(s.pss_items) == 10 else None
            row = {
                "timestamp": _ts(s.at),
                "rating": _num(s.rating),
                "practice": safe_cell(s.practice or ""),
                "minutes": _num(s.minutes) if s.practice else "",
            }
            row.update({c: _num(v) for c, v in zip(_PSS, pss or [None] * 10, strict=True)})
            if row["rating"] or row["practice"] or pss:
                out.append(row)
        if out:
            with open(folder / "stress.csv", "w", newline="", encoding="utf-8") as fh:
                dw = csv.DictWriter(fh, fieldnames=["timestamp", "rating", "practice", "minutes", *_PSS])
                dw.writeheader()
                dw.writerows(out)
            files["stress"], counts["stress"] = "stress.csv", len(out)

    if "symptoms" in allowed:
        sym = db.scalars(
            select(SymptomEntry).where(SymptomEntry.person_id == user.id).order_by(SymptomEntry.at, SymptomEntry.id)
        ).all()
        out = []
        for e in sym:
            rec: dict = {"timestamp": _ts(e.at)}
            if e.symptom and e.rating is not None:
                rec["symptom"], rec["rating"] = e.symptom, float(e.rating)
            if e.bristol is not None:
                rec["bristol"] = int(e.bristol)
            if len(rec) == 1:
                continue
            if e.onset is not None:
                rec["onset"] = _ts(e.onset)
            if e.note:
                rec["note"] = _one_line(e.note)
            out.append(rec)
        if out:
            (folder / "symptoms.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
            files["symptoms"], counts["symptoms"] = "symptoms.json", len(out)

    if "microbiome" in allowed and upload_dir is not None:
        up = profile_upload(db, user.id)
        if up is not None:
            src = Path(upload_dir) / up.stored_name
            if src.is_file():
                suffix = "".join(Path(up.filename).suffixes[-2:]).lower()
                suffix = suffix if re.fullmatch(r"(\.[a-z0-9]{1,6}){1,2}", suffix) else ".txt"
                from .person_keys import readable

                with readable(up, src) as plain:  # a sealed file (gutaxis.web.person_keys) opened
                    shutil.copyfile(plain, folder / f"profile{suffix}")
                files["profile"], counts["profile"] = f"profile{suffix}", 1

    meta = {
        "id": "person",
        "synthetic": bool(user.synthetic),
        "sex": user.sex,
        "age": user.age,
        "conditions": [c for c in (user.conditions or "").split(",") if c.strip()],
        "files": files,
    }
    if "plan" in allowed:  # measured markers travel with the plan (the latest of each)
        from .routes.labs import latest_markers

        markers = latest_markers(db, user.id)
        if markers:
            meta["markers"] = markers
            counts["markers"] = len(markers)
    (folder / "person.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return counts


@contextmanager
def person_folder(
    db: Session,
    user: User,
    *,
    base: Path | None = None,
    upload_dir: Path | None = None,
    scopes: Iterable[str] | None = None,
):
    """A temporary person's folder (mode 0700, removed afterwards): yields ``(folder, counts)``."""
    if base is not None:
        Path(base).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="person-", dir=base) as d:
        folder = Path(d)
        counts = write_person_folder(db, user, folder, upload_dir=upload_dir, scopes=scopes)
        yield folder, counts


def person_from_records(
    db: Session,
    user: User,
    *,
    base: Path | None = None,
    upload_dir: Path | None = None,
    scopes: Iterable[str] | None = None,
):
    """``user``'s records read back as a :class:`gutaxis.lifestyle.Person` (every log validated).

    An :class:`~gutaxis.errors.InputError` names the log and row without the temporary path.
    """
    from ..lifestyle.person import read_person

    with person_folder(db, user, base=base, upload_dir=upload_dir, scopes=scopes) as (folder, _):
        try:
            return read_person(folder)
        except InputError as exc:
            raise _without_path(exc, folder) from None


def _without_path(exc: InputError, folder: Path) -> InputError:
    names = {
        "meals.csv": "meal diary",
        "stress.csv": "stress log",
        "symptoms.json": "symptom log",
        "person.json": "profile (age, sex, conditions)",
    }
    text = str(exc)
    for p in (str(folder.resolve()), str(folder)):
        text = text.replace(p + "/", "").replace(p, "the person's records")
    for f, label in names.items():
        text = text.replace(f, label)
    text = re.sub(r"profile\.[a-z0-9.]+", "stool profile", text)
    return InputError(text)
