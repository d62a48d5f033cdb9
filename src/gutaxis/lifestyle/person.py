"""One person's bundle: who they are (sex, age, conditions, flags), their stool profile and logs.

A person lives in a folder with a ``person.json`` that names the files beside it::

    {
      "id": "EXAMPLE-01",
      "synthetic": true,
      "sex": "female", "age": 52,
      "conditions": ["RA"],
      "flags": {"strong_immunosuppression": false, "dmard": true},
      "medications": ["prednisolone 40 mg daily", "methotrexate 15 mg weekly",
                      {"name": "mycophenolate mofetil", "dose_mg": 1000, "frequency": "twice daily"}],
      "notes": "free text for the clinician or dietitian",
      "files": {"profile": "profile_metaphlan.txt", "meals": "meals.csv", "stress": "stress.csv",
                "symptoms": "symptoms.json", "foods": "foods.csv"}
    }

Every file is optional except the meal log. ``foods`` is an optional *personal food table*
(per 100 g, the columns of :func:`gutaxis.lifestyle.read_usda_abbrev` plus ``nova``); it makes a
person's folder work offline when the USDA/NOVA tables are not in the dataset cache (the shipped
example carries the 39 USDA SR28 items its meals use). :func:`person_foods` decides which food
table is used and says why.

Condition tags (``RA``, ``SLE``, ``MS``, ``IBD``, ...) select the recommendations whose
population they match; flags switch contraindications on (``strong_immunosuppression``
withholds live probiotics) and flag rules on (``pregnant`` adds the food-safety cautions of
pregnancy). Unknown tags or flags are errors, so that a typo never silently disables a
contraindication.

Medications are used or refused, never silently ignored (:mod:`gutaxis.lifestyle.medications`):
each is matched against the package table ``gutaxis/data/medications.tsv``
(:func:`medication_table`), which names the flags a drug sets and a note for the dietitian with
its citation. A flag set by a medication is on even where ``flags`` says false (the safe
direction), and the plan says which medication set it (:meth:`Person.flag_sources`).

The food tables (:func:`read_food_table`, :func:`person_foods`) live in
:mod:`gutaxis.lifestyle._person_foods` and are importable from here as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._person_foods import MAX_KCAL_PER_100G as MAX_KCAL_PER_100G  # importable from here, as before
from ._person_foods import person_foods, read_food_table
from .medications import NOT_RECOGNISED, medication_table, read_medications

__all__ = [
    "AUTOIMMUNE",
    "CONDITIONS",
    "FLAGS",
    "NOT_RECOGNISED",
    "Person",
    "example_person",
    "example_person_dir",
    "medication_table",
    "person_foods",
    "read_food_table",
    "read_medications",
    "read_person",
]

#: condition tags understood by the recommendation rules -> plain name
CONDITIONS = {
    "RA": "rheumatoid arthritis",
    "SLE": "systemic lupus erythematosus",
    "MS": "multiple sclerosis",
    "IBD": "inflammatory bowel disease",
    "CD": "Crohn's disease",
    "UC": "ulcerative colitis",
    "SpA": "axial spondyloarthritis",
    "PsA": "psoriatic arthritis",
    "gout": "gout",
    "OA": "osteoarthritis",
    "T1D": "type 1 diabetes",
    "psoriasis": "psoriasis",
    "thyroiditis": "autoimmune thyroiditis",
}
#: autoimmune / immune-mediated inflammatory conditions among the tags
AUTOIMMUNE = frozenset({"RA", "SLE", "MS", "IBD", "CD", "UC", "SpA", "PsA", "T1D", "psoriasis", "thyroiditis"})
#: other spellings of condition tags -> tag
_CONDITION_ALIASES = {
    "as": "SpA",
    "axspa": "SpA",
    "ankylosing spondylitis": "SpA",
    "lupus": "SLE",
    "crohn's disease": "CD",
    "crohns": "CD",
    "ulcerative colitis": "UC",
}
#: flags understood by the rules (contraindications, triggers) and the medication table -> meaning.
#: Every flag is used by at least one rule or medication note (tests/test_lifestyle_safety.py).
FLAGS = {
    "strong_immunosuppression": (
        "strongly immunosuppressed (e.g. after organ or stem-cell transplant, during "
        "chemotherapy or neutropenia, high-dose glucocorticoids, or combined potent "
        "immunosuppressants), as judged by the treating clinician; set by mycophenolate, "
        "rituximab, cyclophosphamide, tacrolimus, ciclosporin or prednisolone 20 mg/day or more"
    ),
    "central_venous_catheter": "has a central venous catheter",
    "bowel_stricture": "has a known bowel stricture or a history of bowel obstruction",
    "dmard": (
        "takes a disease-modifying antirheumatic drug (informs the simulation; set by methotrexate, "
        "leflunomide, sulfasalazine, hydroxychloroquine or a TNF blocker)"
    ),
    "pregnant": "is pregnant (adds the food-safety cautions of pregnancy; supplements to be discussed)",
    "kidney_disease": "has chronic kidney disease, including lupus nephritis (diet set with the renal team)",
    "methotrexate": "takes methotrexate (folic acid and alcohol advice)",
    "glucocorticoid": (
        "takes a systemic glucocorticoid such as prednisolone (calcium and vitamin D advice "
        "for bone health when taken for 3 months or more)"
    ),
}
_SEXES = {"female": "female", "f": "female", "woman": "female", "male": "male", "m": "male", "man": "male"}


@dataclass
class Person:
    """A person's bundle. Build it with :func:`read_person` or directly with the loaded logs.

    Attributes
    ----------
    id, sex, age, conditions, flags
        ``sex`` "female"/"male"/None; ``age`` in years or None; ``conditions`` tags of
        ``CONDITIONS``; ``flags`` dict of ``FLAGS`` -> bool, as stated (person.json or
        ``--flag``); the flags in force add those set by medications (``Person.flag``).
    medications
        Given as strings (``"prednisolone 40 mg"``) or objects (``{"name", "dose_mg",
        "frequency"}``); kept as dicts (``read_medications``): ``name``, ``dose`` (text),
        ``frequency``, ``dose_mg``, ``daily_dose_mg`` (None where it cannot be worked out),
        ``drug``, ``drug_class``, ``recognised``, ``flags`` (set by it), ``note`` (for the
        dietitian), ``rules`` (each table rule matched, applied or not, with its citation),
        ``assumptions``.
    notes
        Free text from person.json, kept for the clinician or dietitian.
    meals, stress, symptoms
        Logs as read by :func:`gutaxis.lifestyle.read_meal_log` etc. (None when not logged).
    profile
        A one-sample AnnData (stool profile) or None.
    foods
        A personal food table (per 100 g) or None; see :func:`person_foods`.
    synthetic
        True for invented data (the shipped example): every report then says so.
    """

    id: str = "person"
    sex: str | None = None
    age: float | None = None
    conditions: list[str] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
    meals: pd.DataFrame | None = None
    stress: pd.DataFrame | None = None
    symptoms: pd.DataFrame | None = None
    profile: object | None = None
    foods: pd.DataFrame | None = None
    synthetic: bool = False
    label: str = ""
    source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    medications: list = field(default_factory=list)
    notes: str = ""
    weight_kg: float | None = None
    aliases: pd.DataFrame | None = None
    markers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sex = _sex(self.sex, self.source or "person")
        if self.age is not None:
            try:
                self.age = float(self.age)
            except (TypeError, ValueError):
                raise InputError(
                    f"age {self.age!r} is not a number",
                    source=self.source or "person",
                    hint="give the age in years, e.g. 52",
                ) from None
            if not 0 <= self.age <= 120:
                raise InputError(f"age {self.age:g} is outside 0-120 years", source=self.source or "person")
        self.conditions = _conditions(self.conditions, self.source or "person")
        self.flags = _flags(self.flags, self.source or "person")
        self.medications = read_medications(self.medications, source=self.source or "person")
        self.markers = _markers(self.markers, self.source or "person")
        for m, cond in MARKER_CONDITION.items():
            if m in self.markers and cond not in self.conditions:
                raise InputError(
                    f"marker {m!r} is a {CONDITIONS[cond]} score, but {cond} is not among the conditions",
                    source=self.source or "person",
                    hint=f"add the condition {cond}, or leave {m} out: the model uses it only for {cond}",
                )
        if self.notes is None:
            self.notes = ""
        elif isinstance(self.notes, (list, tuple)):
            self.notes = "\n".join(str(n) for n in self.notes)
        else:
            self.notes = str(self.notes)

    def flag(self, name: str) -> bool:
        """Whether a flag is in force: stated, or set by one of the medications."""
        return bool(self.flags.get(name, False)) or name in self.medication_flags

    @property
    def medication_flags(self) -> dict[str, list[str]]:
        """Flag -> the medications (as given) that set it."""
        out: dict[str, list[str]] = {}
        for m in self.medications:
            for f in m.get("flags", []):
                out.setdefault(f, [])
                if m["name"] not in out[f]:
                    out[f].append(m["name"])
        return out

    def flag_sources(self) -> dict[str, list[str]]:
        """Every flag in force -> where it came from: ``"stated"`` (person.json or ``--flag``) and/or
        the medications that set it."""
        out: dict[str, list[str]] = {}
        for f, v in self.flags.items():
            if v:
                out[f] = ["stated"]
        for f, meds in self.medication_flags.items():
            out.setdefault(f, []).extend(meds)
        return out

    def flags_in_force(self) -> dict[str, bool]:
        """The stated flags with those set by medications switched on."""
        out = dict(self.flags)
        for f in self.medication_flags:
            out[f] = True
        return out

    @property
    def autoimmune(self) -> bool:
        return any(c in AUTOIMMUNE for c in self.conditions)

    def describe(self) -> str:
        """One line: id, sex, age, conditions, flags set."""
        bits = [self.id]
        if self.sex:
            bits.append(self.sex)
        if self.age is not None:
            bits.append(f"{self.age:g} years")
        bits.append(", ".join(CONDITIONS[c] for c in self.conditions) if self.conditions else "no condition given")
        src = self.flag_sources()
        on = [
            k.replace("_", " ")
            + ("" if srcs == ["stated"] else " (from " + ", ".join(x for x in srcs if x != "stated") + ")")
            for k, srcs in src.items()
        ]
        if on:
            bits.append("flags: " + ", ".join(on))
        if self.medications:
            bits.append("medications: " + ", ".join(m["name"] for m in self.medications))
        return " · ".join(bits)


#: measured markers a person or their dietitian may enter -> (unit, possible range), each observed by the
#: twin (``gutaxis.axis.twin``; DAS28 only for RA). SLEDAI and EDSS are refused: the model's lupus activity
#: is a proxy not calibrated to SLEDAI-2K points and the MS model has no disability scale, so they would
#: change nothing (an accepted input must change something).
MARKERS = {
    "crp": ("mg/L", 0.01, 500.0),
    "il6": ("pg/mL", 0.01, 5000.0),
    "lbp": ("µg/mL", 0.1, 200.0),
    "calprotectin": ("µg/g", 1.0, 10000.0),
    "das28": ("DAS28", 0.0, 9.4),
}
#: markers that belong to one condition (DAS28 is a rheumatoid-arthritis score; its range 0-9.4)
MARKER_CONDITION = {"das28": "RA"}


def _markers(v, src) -> dict:
    if not v:
        return {}
    if not isinstance(v, dict):
        raise InputError('markers must be an object such as {"crp": 3.2}', source=src)
    out = {}
    for k, val in v.items():
        key = str(k).strip().lower().replace("-", "").replace(" ", "")
        if key not in MARKERS:
            hint = "use one of: " + ", ".join(MARKERS)
            if key in ("sledai", "sledai2k", "edss"):
                hint = (
                    f"{k} is not used by the model (its lupus activity is not calibrated to SLEDAI points and "
                    "it has no MS disability scale), so it is not accepted: it would change nothing; " + hint
                )
            raise InputError(f"marker {k!r} is not known", source=src, hint=hint)
        unit, lo, hi = MARKERS[key]
        try:
            x = float(val)
        except (TypeError, ValueError):
            raise InputError(f"marker {k!r}: {val!r} is not a number", source=src, hint=f"give it in {unit}") from None
        if not (lo <= x <= hi):
            raise InputError(
                f"marker {k!r}: {x:g} {unit} is outside {lo:g}-{hi:g}",
                source=src,
                hint=f"check the unit: {key} is given in {unit}",
            )
        out[key] = x
    return out


def _sex(v, src):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    s = _SEXES.get(str(v).strip().lower())
    if s is None:
        raise InputError(f"sex {v!r} is not understood", source=src, hint="use 'female' or 'male' (or leave it out)")
    return s


def _conditions(v, src) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = [p for p in v.replace(",", ";").split(";")]
    lookup = {k.lower(): k for k in CONDITIONS}
    lookup.update({k: v for k, v in _CONDITION_ALIASES.items() if k not in lookup})
    out = []
    for c in v:
        c = str(c).strip()
        if not c:
            continue
        key = lookup.get(c.lower())
        if key is None:
            raise InputError(
                f"condition tag {c!r} is not known", source=src, hint="use one of: " + ", ".join(CONDITIONS)
            )
        if key not in out:
            out.append(key)
    return out


def _flags(v, src) -> dict[str, bool]:
    if v is None:
        return {}
    if isinstance(v, (list, tuple, set)):
        v = {str(k): True for k in v}
    if not isinstance(v, dict):
        raise InputError(f"flags must be an object of name: true/false, got {type(v).__name__}", source=src)
    out = {}
    for k, val in v.items():
        key = str(k).strip().lower().replace(" ", "_").replace("-", "_")
        if key not in FLAGS:
            raise InputError(f"flag {k!r} is not known", source=src, hint="use one of: " + ", ".join(FLAGS))
        if isinstance(val, str):
            if val.strip().lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise InputError(f"flag {k!r}: {val!r} is not true/false", source=src)
            val = val.strip().lower() in ("true", "yes", "1")
        if not isinstance(val, (bool, np.bool_, int)):
            raise InputError(f"flag {k!r}: {val!r} is not true/false", source=src)
        out[key] = bool(val)
    return out


# --------------------------------------------------------------------------- reading a folder
_FILE_KEYS = ("profile", "meals", "stress", "symptoms", "foods", "aliases")


def read_person(
    folder: str | os.PathLike | None = None,
    *,
    profile=None,
    meals=None,
    stress=None,
    symptoms=None,
    foods=None,
    sex=None,
    age=None,
    conditions=None,
    flags=None,
    medications=None,
    notes=None,
    id: str | None = None,
    dayfirst: bool | None = None,
    aliases=None,
    weight_kg: float | None = None,
    markers: dict | None = None,
) -> Person:
    """Read a person's folder (``person.json`` + files) and/or explicit files.

    Explicit arguments override what ``person.json`` says. The meal log may be our own CSV/JSON, a
    Cronometer "servings" export or a MyFitnessPal export (:func:`gutaxis.lifestyle.read_diary`);
    ``dayfirst`` gives the order of ambiguous dates such as 01/12/2026 (default: detected, or an
    error). ``files.aliases`` (or ``aliases=``) is a CSV of your own words for foods
    (:func:`gutaxis.lifestyle.read_aliases`); ``weight_kg`` gives protein per kg. Returns a :class:`Person` with the
    logs read (every malformed entry is an :class:`~gutaxis.errors.InputError` naming the file
    and row) and the profile read through :func:`gutaxis.read_profile` (one sample).
    """
    from .logs import read_stress_log, read_symptom_log

    meta: dict = {}
    base = None
    src = "person"
    if folder is not None:
        base = Path(folder)
        if base.is_file() and base.name.endswith(".json"):
            base = base.parent
        if not base.is_dir():
            raise InputError("person folder not found", source=base, hint="give a folder that holds person.json")
        pj = base / "person.json"
        if pj.is_file():
            src = str(pj)
            try:
                meta = json.loads(pj.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON (line {exc.lineno}: {exc.msg})", source=pj) from None
            if not isinstance(meta, dict):
                raise InputError("person.json must hold an object", source=pj)
            known = {
                "id",
                "synthetic",
                "label",
                "sex",
                "age",
                "conditions",
                "flags",
                "files",
                "notes",
                "medications",
                "weight_kg",
                "markers",
            }
            extra = sorted(set(meta) - known)
            if extra:
                raise InputError(f"unknown key(s) {extra}", source=pj, hint="allowed keys: " + ", ".join(sorted(known)))
        else:
            meta = {"files": {}}
            for key, names in (
                ("profile", ("profile_metaphlan.txt", "profile.txt", "profile.tsv", "profile.biom")),
                ("meals", ("meals.csv", "meals.json")),
                ("stress", ("stress.csv", "stress.json")),
                ("symptoms", ("symptoms.csv", "symptoms.json")),
                ("foods", ("foods.csv",)),
            ):
                for n in names:
                    if (base / n).is_file():
                        meta["files"][key] = n
                        break
    files = dict(meta.get("files") or {})
    if not isinstance(files, dict):
        raise InputError("'files' must be an object of name: path", source=src)
    bad = sorted(set(files) - set(_FILE_KEYS))
    if bad:
        raise InputError(f"unknown file key(s) {bad}", source=src, hint="use: " + ", ".join(_FILE_KEYS))
    paths: dict[str, Path] = {}
    for key in _FILE_KEYS:
        given = {
            "profile": profile,
            "meals": meals,
            "stress": stress,
            "symptoms": symptoms,
            "foods": foods,
            "aliases": aliases,
        }[key]
        if given is not None:
            paths[key] = Path(given)
        elif files.get(key):
            p = Path(files[key])
            paths[key] = p if p.is_absolute() or base is None else base / p
    for key, p in paths.items():
        if not p.is_file():
            raise InputError(
                f"{key} file not found", source=p, hint=f"check files.{key} in person.json or the --{key} option"
            )
    if "meals" not in paths:
        raise InputError("no meal log", source=src, hint="give a meal log (files.meals in person.json, or --meals)")
    person = Person(
        id=str(id or meta.get("id") or (base.name if base is not None else "person")),
        sex=sex if sex is not None else meta.get("sex"),
        age=age if age is not None else meta.get("age"),
        conditions=conditions if conditions is not None else meta.get("conditions", []),
        flags={**_flags(meta.get("flags"), src), **_flags(flags, "options")},
        medications=medications if medications is not None else meta.get("medications", []),
        notes=notes if notes is not None else meta.get("notes", ""),
        weight_kg=weight_kg if weight_kg is not None else meta.get("weight_kg"),
        markers={**(meta.get("markers") or {}), **(markers or {})},
        synthetic=bool(meta.get("synthetic", False)),
        label=str(meta.get("label", "")),
        source=src,
        files={k: (p.name if base is not None and p.parent == base else str(p)) for k, p in paths.items()},
    )
    from .imports import read_diary
    from .matching import read_aliases

    person.meals = read_diary(paths["meals"], dayfirst=dayfirst)
    if "stress" in paths:
        person.stress = read_stress_log(paths["stress"], dayfirst=dayfirst)
    if "symptoms" in paths:
        person.symptoms = read_symptom_log(paths["symptoms"], dayfirst=dayfirst)
    if "foods" in paths:
        person.foods = read_food_table(paths["foods"])
    if "aliases" in paths:
        person.aliases = read_aliases(paths["aliases"])
    if "profile" in paths:
        person.profile = _read_one_profile(paths["profile"], person.id)
    return person


def _read_one_profile(path: Path, pid: str):
    import warnings

    from ..io import read_profile

    with warnings.catch_warnings():
        # a MetaPhlAn file's higher ranks are sums of its species rows; the reader records that it kept species only
        warnings.filterwarnings("ignore", message=".*rows at other ranks.*")
        adata = read_profile(path)
    if adata.n_obs != 1:
        raise InputError(
            f"the profile holds {adata.n_obs} samples; a person's profile holds one",
            source=path,
            hint="give the single-sample profile of this person",
        )
    return adata


def example_person_dir():
    """The folder of the shipped SYNTHETIC example person (package data)."""
    return resources.files("gutaxis").joinpath("data", "example_person")


def example_person() -> Person:
    """The shipped SYNTHETIC example person: 4 weeks of meals, stress and symptoms, a stool profile.

    Invented data (made by a seeded script over real USDA foods and real species names); it
    describes no real person and carries its own food table, so it works offline.
    """
    with resources.as_file(example_person_dir()) as d:
        return read_person(d)
