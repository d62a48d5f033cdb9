"""A person's medications: read, matched against the medications table, and the flags they set.

Medications are used or refused, never silently ignored: each is matched against the package
table ``gutaxis/data/medications.tsv`` (:func:`medication_table`), which names the flags a drug
sets (mycophenolate, rituximab, cyclophosphamide, tacrolimus, ciclosporin and prednisolone at
20 mg/day or more set ``strong_immunosuppression``; methotrexate sets ``methotrexate``; systemic
glucocorticoids set ``glucocorticoid``) and a note for the dietitian with its citation. A name
the table does not know is kept and reported as "not recognised by gutaxis: no rule applied";
a dose that a rule needs but that is not given is reported, not guessed. A flag set by a
medication is on even where ``flags`` says false (the safe direction), and the plan says which
medication set it (:meth:`gutaxis.lifestyle.person.Person.flag_sources`).

Doses are read from the text (``"prednisolone 40 mg daily"``) or given as ``dose_mg`` with a
``frequency``; a daily dose is worked out where the frequency is understood. Local (topical or
inhaled) forms are recognised but the table's systemic rules do not apply to them.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["NOT_RECOGNISED", "medication_table", "read_medications"]

#: the status of a medication the table does not know
NOT_RECOGNISED = "not recognised by gutaxis: no rule applied"
_MED_COLUMNS = ("pattern", "drug", "drug_class", "flag", "condition", "note_for_dietitian", "citation")
_CONDITION_RE = re.compile(r"\s*(daily_dose_mg)\s*(>=|<=|==|>|<)\s*(\d+(?:\.\d+)?)\s*")
_MED_KEYS = {"name", "dose", "dose_mg", "frequency"}
#: keys of a medication as kept (accepted back, e.g. from a saved plan, and recomputed)
_MED_DERIVED = {
    "given",
    "drug",
    "drug_class",
    "recognised",
    "flags",
    "note",
    "rules",
    "assumptions",
    "daily_dose_mg",
    "citations",
    "status",
}
#: forms whose use is local (skin, eye, airway): the systemic rules of the table do not apply
_LOCAL_FORM = re.compile(
    r"\b(cream|ointment|gel|lotion|topical|eye ?drops?|ear ?drops?|inhaler|inhaled|inhalation|"
    r"nasal spray|mouthwash|enema|suppositor(?:y|ies)|foam)\b",
    re.IGNORECASE,
)
_DOSE_RE = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(mg|milligrams?|g|grams?|mcg|micrograms?|\u00b5g|ug)(?![a-z])", re.IGNORECASE
)
_MG_PER = {
    "mg": 1.0,
    "milligram": 1.0,
    "milligrams": 1.0,
    "g": 1000.0,
    "gram": 1000.0,
    "grams": 1000.0,
    "mcg": 1e-3,
    "microgram": 1e-3,
    "micrograms": 1e-3,
    "\u00b5g": 1e-3,
    "ug": 1e-3,
}
#: (pattern, administrations per day), checked in this order
_FREQUENCIES = (
    (r"every\s+(?:2|two)\s+weeks|fortnightly|every other week|biweekly", 1.0 / 14.0),
    (r"every\s+(?:4|four)\s+weeks|monthly|once a month|per month|/\s*month", 1.0 / 28.0),
    (r"every\s+(?:6|six)\s+months", 1.0 / 182.0),
    (r"weekly|once a week|per week|a week|/\s*w(?:ee)?k|every week|\bqw\b|\bq1w\b", 1.0 / 7.0),
    (r"every other day|alternate days|on alternate days|\bqod\b|\beod\b", 0.5),
    (r"four times|\b4 times\b|\bqds\b|\bqid\b|\bx\s*4\b|every 6 hours", 4.0),
    (r"three times|\b3 times\b|\btds\b|\btid\b|\bx\s*3\b|every 8 hours", 3.0),
    (r"twice|\b2 times\b|\bbd\b|\bbid\b|\bb\.d\.|\bx\s*2\b|every 12 hours", 2.0),
    (
        (
            r"once daily|once a day|daily|per day|a day|/\s*day|/\s*d\b|\bod\b|\bqd\b|every morning|each morning|"
            r"at night|\bnocte\b|\bmane\b|every day|each day"
        ),
        1.0,
    ),
)


@lru_cache(maxsize=1)
def _medication_rows() -> tuple:
    from .._data import package_table

    df = package_table("medications.tsv", comment="#", dtype=str, keep_default_na=False)
    return _validate_medications(df, "gutaxis/data/medications.tsv")


def _validate_medications(df: pd.DataFrame, src: str) -> tuple:
    """The rows of a medication table, checked: lower-case pattern that compiles, known flags,
    condition ``any`` or ``daily_dose_mg>=N``, a note, a citation with DOI/PMID/ISBN/URL."""
    from .person import FLAGS  # not at the top: person imports this module
    from .rules import _CITE_RE

    missing = [c for c in _MED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", source=src)
    rows = []
    for i, r in enumerate(df.itertuples(index=False)):
        where = f"row {i + 1} ({r.drug!r})"
        pat = r.pattern.strip()
        if not pat or pat != pat.lower():
            raise InputError(f"{where}: the pattern must be lower-case and not empty", source=src)
        try:
            rx = re.compile(r"(?<![a-z0-9])(?:" + pat + r")(?![a-z0-9])")
        except re.error as exc:
            raise InputError(f"{where}: pattern {pat!r} is not a regular expression ({exc})", source=src) from None
        flags = [f.strip() for f in r.flag.replace(",", ";").split(";") if f.strip()]
        bad = [f for f in flags if f not in FLAGS]
        if bad:
            raise InputError(f"{where}: flag(s) {bad} not known", source=src, hint="use one of: " + ", ".join(FLAGS))
        cond = r.condition.strip() or "any"
        if cond != "any" and not _CONDITION_RE.fullmatch(cond):
            raise InputError(f"{where}: condition {cond!r} is not 'any' or 'daily_dose_mg>=N'", source=src)
        if not r.note_for_dietitian.strip():
            raise InputError(f"{where}: no note for the dietitian", source=src)
        if not _CITE_RE.search(r.citation or ""):
            raise InputError(f"{where}: the citation has no DOI, PMID, ISBN or URL", source=src)
        rows.append(
            {
                "pattern": pat,
                "regex": rx,
                "drug": r.drug.strip(),
                "drug_class": r.drug_class.strip(),
                "flags": flags,
                "condition": cond,
                "note": r.note_for_dietitian.strip(),
                "citation": r.citation.strip(),
            }
        )
    return tuple(rows)


def medication_table() -> pd.DataFrame:
    """The medication rules (package data ``gutaxis/data/medications.tsv``), validated on load:
    pattern, drug, drug_class, flag(s), condition (``any`` or ``daily_dose_mg>=N``), the note for
    the dietitian and its citation (DOI/PMID/ISBN/URL, required)."""
    return pd.DataFrame(
        [{k: (";".join(v) if k == "flags" else v) for k, v in r.items() if k != "regex"} for r in _medication_rows()]
    )


def _number(v, what: str, src: str) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise InputError(f"{what}: {v!r} is not a number", source=src)
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
    else:
        m = _DOSE_RE.fullmatch(str(v).strip())
        if m:
            x = float(m.group(1).replace(",", ".")) * _MG_PER[m.group(2).lower()]
        else:
            try:
                x = float(str(v).strip().replace(",", "."))
            except ValueError:
                raise InputError(
                    f"{what}: {v!r} is not a dose in mg",
                    source=src,
                    hint="give dose_mg as a number of milligrams, e.g. 40",
                ) from None
    if not math.isfinite(x) or x < 0:
        raise InputError(f"{what}: {v!r} is not a dose in mg", source=src)
    return x


def _per_day(text: str) -> float | None:
    t = f" {text.lower()} "
    for pat, k in _FREQUENCIES:
        if re.search(pat, t):
            return k
    return None


def _condition_holds(cond: str, med: dict) -> tuple[bool | None, str]:
    """(True/False, "") or (None, why it cannot be judged); may add to ``med['assumptions']``."""
    if cond == "any":
        return True, ""
    m = _CONDITION_RE.fullmatch(cond)
    if m is None:  # the rules table is validated when read, so this does not happen
        raise ValueError(f"medication rule condition {cond!r} is not 'any' or 'daily_dose_mg>=N'")
    _, op, val = m.groups()
    x = med.get("daily_dose_mg")
    if x is None and med.get("dose_mg") is not None and not med.get("frequency"):
        x = med["dose_mg"]
        note = (
            f"no frequency given: {med['dose_mg']:g} mg was taken as the daily dose to judge '{cond.replace(' ', '')}'"
        )
        if note not in med["assumptions"]:
            med["assumptions"].append(note)
    if x is None:
        why = (
            "no dose given"
            if med.get("dose_mg") is None
            else f"the frequency {med.get('frequency')!r} was not understood"
        )
        return None, why
    v = float(val)
    return {">=": x >= v, ">": x > v, "<=": x <= v, "<": x < v, "==": x == v}[op], ""


def _one_medication(entry, i: int, src: str) -> dict:
    where = f"medications[{i}]"
    if isinstance(entry, str):
        text = entry.strip()
        if not text:
            raise InputError(
                f"{where} is empty", source=src, hint="give the medication's name, e.g. 'prednisolone 5 mg'"
            )
        name, dose_mg, freq, dose_text = text, None, "", ""
        m = _DOSE_RE.search(text)
        if m:
            dose_text = m.group(0)
            dose_mg = float(m.group(1).replace(",", ".")) * _MG_PER[m.group(2).lower()]
            rest = text[m.end() :].strip(" ,;")
            freq = rest if _per_day(rest) is not None else ""
        elif _per_day(text) is not None:
            freq = text
    elif isinstance(entry, dict):
        extra = sorted(set(entry) - _MED_KEYS - _MED_DERIVED)
        if extra:
            raise InputError(
                f"{where}: unknown key(s) {extra}",
                source=src,
                hint="a medication object has name, dose_mg and frequency (dose as text also allowed)",
            )
        name = str(entry.get("name") or "").strip()
        if not name:
            raise InputError(
                f"{where} has no name",
                source=src,
                hint='e.g. {"name": "methotrexate", "dose_mg": 15, "frequency": "weekly"}',
            )
        dose_mg = _number(entry.get("dose_mg"), f"{where} ({name}), dose_mg", src)
        dose_text = str(entry.get("dose") or "").strip()
        if dose_mg is None and dose_text:
            m = _DOSE_RE.search(dose_text)
            if m:
                dose_mg = float(m.group(1).replace(",", ".")) * _MG_PER[m.group(2).lower()]
        if dose_mg is None:
            m = _DOSE_RE.search(name)
            if m:
                dose_mg = float(m.group(1).replace(",", ".")) * _MG_PER[m.group(2).lower()]
                dose_text = dose_text or m.group(0)
        if dose_mg is not None and not dose_text:
            dose_text = f"{dose_mg:g} mg"
        freq = str(entry.get("frequency") or "").strip()
        text = " ".join(x for x in (name, dose_text, freq) if x)
    else:
        raise InputError(
            f"{where}: {entry!r} is not a medication",
            source=src,
            hint="give a name ('methotrexate 15 mg weekly') or an object with name, dose_mg, frequency",
        )
    med = {
        "name": name,
        "given": entry,
        "dose": dose_text,
        "frequency": freq,
        "dose_mg": dose_mg,
        "daily_dose_mg": None,
        "drug": None,
        "drug_class": "",
        "recognised": False,
        "flags": [],
        "note": "",
        "rules": [],
        "citations": [],
        "assumptions": [],
        "status": "",
    }
    per_day = _per_day(freq) if freq else None
    if freq and per_day is None:
        med["assumptions"].append(f"frequency {freq!r} not understood: no daily dose worked out")
    if dose_mg is not None and per_day is not None:
        med["daily_dose_mg"] = dose_mg * per_day
    low = text.lower()
    local = _LOCAL_FORM.search(low)
    notes = []
    for row in _medication_rows():
        if not row["regex"].search(low):
            continue
        med["recognised"] = True
        if med["drug"] is None:
            med["drug"], med["drug_class"] = row["drug"], row["drug_class"]
        rule = {
            "drug": row["drug"],
            "flags": list(row["flags"]),
            "condition": row["condition"],
            "note": row["note"],
            "citation": row["citation"],
            "applied": False,
            "reason": "",
        }
        if local:
            rule["reason"] = f"{local.group(0)}: a local (topical or inhaled) form, so the systemic rules do not apply"
        else:
            ok, why = _condition_holds(row["condition"], med)
            if ok:
                rule["applied"] = True
                for f in row["flags"]:
                    if f not in med["flags"]:
                        med["flags"].append(f)
                if row["note"] not in notes:
                    notes.append(row["note"])
                if row["citation"] not in med["citations"]:
                    med["citations"].append(row["citation"])
            elif ok is None:
                rule["reason"] = (
                    f"{why}, so whether '{row['condition']}' holds could not be judged: "
                    + (", ".join(row["flags"]) or "no flag")
                    + " not set (set it by hand if the "
                    "clinician judges so)"
                )
            else:
                rule["reason"] = (
                    f"'{row['condition']}' does not hold: " + (", ".join(row["flags"]) or "no flag") + " not set"
                )
        med["rules"].append(rule)
    if not med["recognised"]:
        med["status"] = NOT_RECOGNISED
        med["note"] = NOT_RECOGNISED
        return med
    if local:
        med["status"] = "recognised, local (topical or inhaled) form: no systemic rule applied"
    else:
        unjudged = [r["reason"] for r in med["rules"] if not r["applied"] and "could not be judged" in r["reason"]]
        med["status"] = "recognised" + ("; " + "; ".join(unjudged) if unjudged else "")
    med["note"] = " ".join(notes) if notes else med["status"]
    if med["assumptions"]:
        med["note"] += " (" + "; ".join(med["assumptions"]) + ")"
    return med


def read_medications(value, *, source: str = "person") -> list[dict]:
    """A person's medications as kept: each matched against :func:`medication_table`.

    ``value`` is a list of strings (``"prednisolone 40 mg"``, ``"methotrexate 15 mg weekly"``) or
    objects (``{"name": ..., "dose_mg": ..., "frequency": ...}``); a single string or object is
    taken as a list of one. Names the table does not know are kept with the status
    :data:`NOT_RECOGNISED` (never an error); entries that are not medications at all (a number, an
    object without a name, a dose that is not a number) are :class:`~gutaxis.errors.InputError`.
    A dose without a frequency is taken as once a day only where a rule needs a daily dose, and
    the assumption is recorded.
    """
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise InputError(
            f"medications must be a list, got {type(value).__name__}",
            source=source,
            hint='e.g. ["prednisolone 5 mg daily", {"name": "methotrexate", "dose_mg": 15, "frequency": "weekly"}]',
        )
    out = []
    for i, entry in enumerate(value):
        if (
            isinstance(entry, dict)
            and "given" in entry
            and isinstance(entry["given"], (str, dict))
            and "rules" in entry
        ):
            entry = entry["given"]  # a medication as kept: read again from what was given
        out.append(_one_medication(entry, i, source))
    return out
