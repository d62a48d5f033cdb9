"""The ``import_diary`` job: a Cronometer servings CSV, a MyFitnessPal Nutrition Summary or a gutaxis
meal log -> one :class:`MealEntry` per row of the file.

Reading is :func:`gutaxis.lifestyle.read_diary` (its :class:`~gutaxis.errors.InputError` names the
row and column and becomes the job's message, with the person's own file name in place of the
server's path). Rows keep the file's own per-entry values in ``MealEntry.nutrients``; the foods are
shaped for the pages through :func:`gutaxis.lifestyle.resolve_diary`. Each row's client id is
derived from the upload and the row, so running the job again stores nothing twice.
"""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import select

from ..errors import InputError
from ..lifestyle.imports import ENTRY_COLUMNS
from . import food, jobs
from .models import MealEntry, Upload

__all__ = ["BATCH", "import_diary"]

BATCH = 500
_FOREIGN = ("cronometer", "myfitnesspal")
_NOT_NUTRIENTS = set(ENTRY_COLUMNS)  # what the Cronometer and MyFitnessPal readers return beside nutrients


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        v = v.item()
    return v


def _public(exc: InputError, path, filename: str) -> str:
    """The reader's message about the person's file, naming it as the person named it (never the server path)."""
    problem = str(exc.problem).replace(str(path), filename)
    hint = f" — {exc.hint}" if exc.hint else ""
    if "--dayfirst" in hint:  # the CLI's words; here the choice is on the import form
        hint = (
            " — import it again and choose under Dates: day first (UK, 04/03/2024 = 4 March) or month first "
            "(US, 04/03/2024 = April 3)"
        )
    return f"{filename}: {problem}{hint}"


def _fail(db, upload: Upload, message: str):
    upload.status, upload.error = "failed", message
    db.commit()
    raise InputError(message)


def _foreign_items(settings, df: pd.DataFrame) -> dict[str, list[dict]]:
    """Items per row of a Cronometer/MyFitnessPal table (the file's values; the USDA food the name matches)."""
    try:
        resolved = food.resolve(settings, df)
        db, matcher = food.tables(settings)
    except food.FoodDataMissing as exc:
        missing = "NOVA group and fermented flag need the food tables: " + str(exc)
        out: dict[str, list[dict]] = {}
        for r in df.to_dict("records"):
            out[r["source_row"]] = [
                {
                    "text": r["text"],
                    "description": r.get("food_name") or r["text"],
                    "grams": _clean(r.get("grams")),
                    "food_id": None,
                    "status": "nutrients_given",
                    "counted": True,
                    "portion_assumed": False,
                    "portion_basis": "from the imported file",
                    "note": missing,
                    "note_plain": missing,
                    "nova": None,
                    "fermented": False,
                    "live_cultures": "",
                    "fiber_g": _clean(r.get("fiber_g")),
                    "energy_kcal": _clean(r.get("energy_kcal")),
                }
            ]
        return out
    out = {}
    names = dict(zip(df["source_row"], df["food_name"], strict=True))
    for row_id, grp in resolved.groupby("source_row", sort=False):
        items = food.items_from_resolved(grp)
        name = names.get(row_id)
        if isinstance(name, str) and name.strip():
            m = matcher.match(name)  # the USDA food this name is, for its NOVA group (the file has none)
            if m.status == "matched" and m.food_id in db.foods.index:
                for it in items:
                    nova = db.foods.at[m.food_id, "nova"]
                    it["nova"] = None if pd.isna(nova) else int(nova)
                    it["usda_food_id"], it["usda_description"] = m.food_id, m.description
                    it["note"] = it["note_plain"] = f"USDA food for the NOVA group: {m.description}"
        out[row_id] = items
    return out


@jobs.handler("import_diary")
def import_diary(db, job, settings, progress) -> dict:
    from ..lifestyle import read_diary

    upload = db.get(Upload, int((job.params or {}).get("upload_id", 0)))
    if upload is None or upload.person_id != job.person_id:
        raise InputError("the uploaded file is gone; upload it again")
    path = settings.upload_dir / upload.stored_name
    progress("reading the file")
    from .person_keys import readable

    plain = path
    try:
        with readable(upload, path) as plain:  # a sealed file (gutaxis.web.person_keys) opened for the read
            df = read_diary(plain, dayfirst=(job.params or {}).get("dayfirst"))
    except InputError as exc:
        _fail(db, upload, _public(exc, plain, upload.filename))  # the temporary copy's path named as the file
    fmt = df.attrs.get("format", "gutaxis")
    df = df.reset_index(drop=True)
    df["source_row"] = [f"{r}" if fmt in _FOREIGN else f"{r} #{i}" for i, r in enumerate(df["source_row"])]
    progress(f"matching {len(df)} entries")
    if fmt in _FOREIGN:
        items_of = _foreign_items(settings, df)
    else:
        try:
            resolved = food.resolve(settings, df)
            items_of = {k: food.items_from_resolved(g) for k, g in resolved.groupby("source_row", sort=False)}
        except food.FoodDataMissing as exc:
            items_of = {
                r: food.not_matched_items(t, str(exc)) for r, t in zip(df["source_row"], df["text"], strict=True)
            }
    nutrient_cols = [c for c in df.columns if c not in _NOT_NUTRIENTS]
    new = 0
    records = df.to_dict("records")
    for start in range(0, len(records), BATCH):
        chunk = records[start : start + BATCH]
        ids = [_client_id(upload.id, r["source_row"]) for r in chunk]
        have = set(
            db.scalars(
                select(MealEntry.client_id).where(MealEntry.person_id == upload.person_id, MealEntry.client_id.in_(ids))
            )
        )
        for cid, r in zip(ids, chunk, strict=True):
            if cid in have:
                continue
            if fmt in _FOREIGN:
                given = {c: _clean(r.get(c)) for c in nutrient_cols}
                given.update(
                    food_name=_clean(r.get("food_name")),
                    amount_text=_clean(r.get("amount_text")),
                    grams=_clean(r.get("grams")),
                    time_assumed=bool(r.get("time_assumed")),
                )
                nutrients: dict | None = given
                text = str(r.get("text") or r.get("food_name") or "")
            else:
                nutrients = {
                    k: v
                    for k, v in (("ndb_no", _clean(r.get("ndb_no"))), ("grams", _clean(r.get("grams"))))
                    if v is not None
                } or None
                text = str(r.get("text") or (f"SR28 food {r['ndb_no']}" if r.get("ndb_no") else ""))
            db.add(
                MealEntry(
                    person_id=upload.person_id,
                    client_id=cid,
                    eaten_at=r["timestamp"].to_pydatetime(),
                    meal=str(r.get("meal") or ""),
                    text=text[:500],
                    items=items_of.get(r["source_row"], []),
                    source=fmt if fmt in _FOREIGN else "gutaxis",
                    nutrients=nutrients,
                )
            )
            new += 1
        db.commit()
        progress(f"stored {min(start + BATCH, len(records))} of {len(records)} entries")
    ignored = list(df.attrs.get("ignored_columns", []))
    reasons = dict(df.attrs.get("ignored_reasons", {}))
    if "note" in df.columns and df["note"].ne("").any():  # the meal-log reader strips notes
        ignored.append("note")  # a meal entry here holds no note; say so rather than drop it unseen
        reasons["note"] = "notes on meals are not stored by the web app; keep them in your own file"
    result = {
        "format": fmt,
        "entries": len(records),
        "new": new,
        "days": int(df["date"].nunique()),
        "note": df.attrs.get("note", ""),
        "limited": bool(df.attrs.get("limited", False)),
        "ignored_columns": ignored,
        "ignored_reasons": reasons,
        "missing_columns": list(df.attrs.get("missing_columns", [])),
    }
    upload.status, upload.error, upload.result = "done", "", result
    db.commit()
    return result


def _client_id(upload_id: int, source_row: str) -> str:
    from .idempotency import derived_client_id

    return derived_client_id("import", upload_id, source_row)
