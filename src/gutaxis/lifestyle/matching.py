"""Free-text food matching with portion words: "1 cup kimchi" -> (NDB_No, description, grams).

:class:`FoodMatcher` matches what people write ("greek yogurt", "slice of sourdough",
"2 eggs", "150 g brown rice", "a banana") to a USDA SR28 item and converts the portion to
grams with the item's household measures (``GmWt_Desc1``/``GmWt_Desc2``), mass units (g, kg,
oz, lb) or volume units (cup, tbsp, tsp, fl oz, ml) scaled from a volume measure.

Every result says how sure it is: ``status`` is ``"matched"`` (all words found in the item's
description), ``"low_confidence"`` (some words not found, or a close runner-up with different
words; the candidates are listed) or ``"unmatched"`` (nothing adequate; candidates listed, no
guess). A portion that cannot be converted leaves ``grams`` empty and says why in ``note``.

Favourites: :meth:`FoodMatcher.remember` (or an alias CSV with ``phrase, ndb_no, grams``)
maps a person's own phrase ("my usual porridge") to an item and, optionally, grams per portion.

The parts live in their own modules: portion parsing (:func:`parse_portion`, :class:`Portion`)
in ``_portion_parse``, portion -> grams (:func:`portion_grams`) in ``_portion_grams``, and the
scoring vocabulary (synonyms, stop words, food-group preferences) in ``_food_words``; this
module keeps the matcher, its result and the favourites reader, and re-exports the rest.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from . import _text
from ._csvsafe import unescape_cell
from ._food_words import (
    _COOKED_WORDS,
    _DEFAULT_WORDS,
    _DRIED_OK_GROUPS,
    _FLAVOUR_WORDS,
    _FORM_WORDS,
    _GENERIC_HEADS,
    _GROUP_PENALTY,
    _IMITATION_WORDS,
    _NEUTRAL,
    _PARTS,
    _PLAIN_COOKING,
    _PREFER_COOKED,
    _PREFER_RAW,
    _QUERY_STOP,
    _SOFT,
    _STATE_WORDS,
    _SYNONYMS,
)
from ._portion_grams import _fmt, _measure_unit, _measures, portion_grams
from ._portion_grams import _portion_words as _portion_words  # re-exported (gutaxis.lifestyle.diary reads it here)
from ._portion_parse import MASS_G, VOLUME_CUP, Portion, parse_portion

__all__ = ["FoodMatch", "FoodMatcher", "Portion", "parse_portion", "portion_grams", "read_aliases"]


@dataclass
class FoodMatch:
    """Result of matching one phrase."""

    query: str
    status: str  # "matched", "low_confidence" or "unmatched"
    ndb_no: str | None
    description: str | None
    grams: float | None
    quantity: float
    unit: str | None
    confidence: float
    portion_basis: str = ""
    source: str = "usda"  # "usda" or "alias"
    note: str = ""
    candidates: list[tuple[str, str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "query",
                "status",
                "ndb_no",
                "description",
                "grams",
                "quantity",
                "unit",
                "confidence",
                "portion_basis",
                "source",
                "note",
            )
        }
        d["candidates"] = "; ".join(f"{n} {desc} ({s:.2f})" for n, desc, s in self.candidates)
        return d


def read_aliases(path: str | os.PathLike) -> pd.DataFrame:
    """Read a favourites/alias CSV: ``phrase, food_id[, grams]`` (grams per one portion).

    ``food_id`` is an FNDDS food code (8 digits), an SR28 NDB number (1-5 digits, zero-padded),
    a gutaxis dish (``gx_...``) or one of your own foods; the older column name ``ndb_no`` is
    read too. Every bad row is an :class:`~gutaxis.errors.InputError` naming the file, row and column.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("alias file not found", source=p, hint="give a CSV with columns phrase, food_id, grams")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    id_col = "food_id" if "food_id" in df.columns else "ndb_no"
    for col in ("phrase", id_col):
        if col not in df.columns:
            raise InputError(f"missing column {col!r}", source=p, hint="columns: phrase, food_id, grams (optional)")
    out = []
    for i, r in enumerate(df.to_dict("records"), start=2):
        phrase, fid = str(unescape_cell(r["phrase"])).strip(), str(r[id_col]).strip()
        if not phrase:
            raise InputError(f"row {i}, column 'phrase': empty", source=p, hint="write the words you use for this food")
        if re.fullmatch(r"\d{1,5}", fid):
            fid = fid.zfill(5)
        elif not re.fullmatch(r"\d{8}|[A-Za-z][\w.-]{0,63}", fid):
            raise InputError(
                f"row {i}, column {id_col!r}: {fid!r} is not a food id",
                source=p,
                hint="an FNDDS food code (8 digits), an SR28 NDB number (e.g. 09040) or your own food's id",
            )
        grams = str(r.get("grams", "")).strip()
        g = None
        if grams:
            try:
                g = float(grams)
            except ValueError:
                g = -1.0
            if not (g > 0 and math.isfinite(g)):
                raise InputError(
                    f"row {i}, column 'grams': {grams!r}",
                    source=p,
                    hint="grams per portion must be a positive number (or empty)",
                )
        out.append({"phrase": phrase, "food_id": fid, "ndb_no": fid, "grams": g})
    return pd.DataFrame(out, columns=["phrase", "food_id", "ndb_no", "grams"])


class FoodMatcher:
    """Match free-text food phrases to a USDA SR28 food table.

    Parameters
    ----------
    foods
        :func:`gutaxis.lifestyle.read_usda_abbrev` output (or :func:`load_food_table`).
    aliases
        Favourites: a DataFrame from :func:`read_aliases` or a mapping ``phrase -> ndb_no`` or
        ``phrase -> (ndb_no, grams per portion)``.
    min_coverage
        Below this share of the (weighted) query words found in the best item, the result is
        ``"unmatched"``.
    n_candidates
        How many candidates each result lists.
    """

    def __init__(self, foods: pd.DataFrame, aliases=None, *, min_coverage: float = 0.6, n_candidates: int = 5):
        if "description" not in foods.columns:
            raise InputError(
                "the food table has no 'description' column",
                source="FoodMatcher",
                hint="pass gutaxis.lifestyle.read_usda_abbrev(...) output",
            )
        self.foods = foods
        self.min_coverage = float(min_coverage)
        self.n_candidates = int(n_candidates)
        self._aliases: dict[str, tuple[str, float | None, str]] = {}
        self._build_index()
        if aliases is not None:
            if isinstance(aliases, pd.DataFrame):
                for r in aliases.itertuples(index=False):
                    g = getattr(r, "grams", None)
                    self.remember(r.phrase, r.ndb_no, None if g is None or pd.isna(g) else float(g))
            else:
                for phrase, v in dict(aliases).items():
                    ndb, g = (v, None) if isinstance(v, str) else (v[0], v[1])
                    self.remember(phrase, ndb, g)

    # ------------------------------------------------------------ index
    def _build_index(self) -> None:
        desc = self.foods["description"].astype(str).tolist()
        self._ids = self.foods.index.astype(str).tolist()
        self._desc = desc
        self._groups = [i[:2] for i in self._ids]
        self._tokens: list[set[str]] = []
        self._rank: list[dict[str, int]] = []  # token -> rank of its segment (0 = the main word)
        self._words: list[list[tuple]] = []  # (tokens, rank, paren, after_with, after_without)
        df: dict[str, int] = {}
        postings: dict[str, list[int]] = {}
        for j, d in enumerate(desc):
            segs = _text.description_words(d)
            words: list[tuple[tuple[str, ...], int, bool, bool, bool]] = []
            if len(segs) == 1 and len(segs[0]) > 1:
                # one segment in English word order ("POTATO PANCAKES", "SILK PLN SOY YOGURT"): every word
                # before a "with ..." part is a main word
                for w in segs[0]:
                    words.append(
                        (
                            tuple(w["tokens"]),
                            8 if w["paren"] else (1 if w["after_with"] else 0),
                            w["paren"],
                            w["after_with"],
                            w["after_without"],
                        )
                    )
            else:
                r = 0
                for seg in segs:
                    ss = {t for w in seg for t in w["tokens"]}
                    generic = ss <= (_GENERIC_HEADS | _NEUTRAL)
                    for w in seg:
                        rk = 9 if generic else (8 if w["paren"] else r)
                        words.append((tuple(w["tokens"]), rk, w["paren"], w["after_with"], w["after_without"]))
                    if not generic:
                        r += 1
            if re.search(r"OIL[- ]?(RSTD|ROASTED|POPPED)", d.upper()):
                words = [(tuple(t for t in w[0] if t != "oil"), *w[1:]) for w in words]
            rank: dict[str, int] = {}
            for toks_w, rk, *_ in words:
                for t in toks_w:
                    rank[t] = min(rank.get(t, 99), rk)
            toks = set(rank)
            if "salt" in toks:
                extra = "unsalted" if ("without" in toks or "no" in toks) else "salted"
                toks.add(extra)
                rank.setdefault(extra, 9)
            self._tokens.append(toks)
            self._rank.append(rank)
            self._words.append(words)
            for t in toks:
                df[t] = df.get(t, 0) + 1
                postings.setdefault(t, []).append(j)
        n = len(desc)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._postings = postings

    def _idf_of(self, t: str) -> float:
        return self._idf.get(t, math.log(len(self._desc) + 1))

    # ------------------------------------------------------------ aliases
    def remember(self, phrase: str, ndb_no: str, grams: float | None = None) -> None:
        """Add a favourite: ``phrase`` (as the person writes it) -> NDB number, grams per portion."""
        ndb = str(ndb_no).strip().zfill(5)
        if ndb not in self.foods.index:
            raise InputError(
                f"alias {phrase!r}: NDB number {ndb} is not in the food table",
                source="aliases",
                hint="use an NDB_No from USDA SR28 ABBREV.txt",
            )
        key = _text.normalize_phrase(parse_portion(phrase).food or phrase)
        self._aliases[key] = (ndb, grams, phrase)

    # ------------------------------------------------------------ matching
    def _query_tokens(self, food: str) -> list[str]:
        s = food.lower()
        for pat, rep in _SYNONYMS:
            s = re.sub(pat, rep, s)
        toks = [t for t in _text.tokens(s) if t not in _QUERY_STOP and not re.fullmatch(r"[\d.,/%]+", t)]
        seen, out = set(), []
        for t in toks:
            if t not in seen:
                seen.add(t)
                out.append(t)
        return out

    def _score(self, q: list[str], portion: Portion) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score every item for query words ``q``: (score, weighted coverage, share of words found, best rank)."""
        n = len(self._desc)
        weights = np.array([self._idf_of(t) * _SOFT.get(t, 1.0) for t in q])
        total_w = float(weights.sum()) or 1.0
        cover = np.zeros(n)
        raw = np.zeros(n)  # share of query words found as such (no position weighting)
        best_rank = np.full(n, 99)
        matched_sets: dict[int, set[str]] = {}
        for k, t in enumerate(q):
            credit: dict[int, float] = {}
            keys = [t]
            # compound: "soy" + "milk" -> "soymilk"; "sour" + "dough" -> "sourdough"
            if k + 1 < len(q):
                keys.append(q[k] + q[k + 1])
            if k > 0:
                keys.append(q[k - 1] + q[k])
            for key in keys:
                for j in self._postings.get(key, ()):
                    credit[j] = 1.0
            if t in _COOKED_WORDS:  # "baked cod" vs "COD,ATLANTIC,CKD,DRY HEAT"
                for j in self._postings.get("cooked", ()):
                    credit.setdefault(j, 0.7)
            for j, c in credit.items():
                rk = min((self._rank[j].get(key, 99) for key in keys), default=99)
                if c < 1.0:
                    rk = self._rank[j].get("cooked", 9)
                pos = 1.0 if rk <= 1 else (0.9 if rk == 2 else 0.8)
                cover[j] += weights[k] * pos * c
                raw[j] += weights[k] * (1.0 if c >= 1.0 else 0.0)
                if rk < best_rank[j]:
                    best_rank[j] = rk
                matched_sets.setdefault(j, set()).update(key for key in keys if key in self._tokens[j])
                if c < 1.0:
                    matched_sets[j].add("cooked")
        cover /= total_w
        raw /= total_w
        cand = np.flatnonzero(cover > 0)
        score = np.full(n, -np.inf)
        qset = set(q)
        q_state = qset & _STATE_WORDS
        q_forms = qset & _FORM_WORDS
        q_baby = bool(qset & {"baby", "babyfood", "infant", "toddler"})
        for j in cand.tolist():
            toks = self._tokens[j]
            matched = matched_sets.get(j, set())
            g = self._groups[j]
            pen = 0.0
            addition = False
            for wt, rk, paren, after_with, _after_without in self._words[j]:
                w = 0.0
                for t in wt:
                    if t in ("with", "without"):
                        continue
                    if t in _PARTS:  # "WITH SKIN" is the whole food; "WITHOUT SKIN" is not
                        w = max(w, 0.0 if (after_with or t in qset or t in matched) else 0.5)
                        continue
                    if t in matched or t in _NEUTRAL or any(ch.isdigit() for ch in t) or t in qset:
                        continue
                    if any(t.startswith(m) or m.startswith(t) for m in matched if len(m) > 3 and len(t) > 3):
                        continue
                    tw = min(self._idf_of(t), 7.0) / 7.0
                    if t in _IMITATION_WORDS and not (qset & _IMITATION_WORDS):
                        tw += 1.5
                    elif (
                        t in _FORM_WORDS and t not in q_forms and not (t in ("dried", "dry") and g in _DRIED_OK_GROUPS)
                    ):
                        tw += 0.6
                    elif t in _FLAVOUR_WORDS:
                        tw += 0.4
                    w = max(w, tw)
                    if after_with and not paren:
                        addition = True
                if w == 0.0:
                    continue
                if paren:
                    w *= 0.3
                elif rk == 0:  # an unmatched main word changes what the food is
                    w *= 2.0
                pen += w
            if addition:  # "W/VEG", "MADE WITH TOFU": something added to the food
                pen += 0.5
            pen += 0.03 * len(self._words[j])  # tie-breaker: the simpler description
            s = cover[j] - 0.07 * pen
            s += {0: 0.25, 1: 0.18, 2: 0.1}.get(int(best_rank[j]), 0.0)
            if toks & _DEFAULT_WORDS:
                s += 0.04
            s -= 0.0 if (q_baby and g == "03") else _GROUP_PENALTY.get(g, 0.0)
            if not q_state:
                if g in _PREFER_RAW:
                    if "raw" in toks:
                        s += 0.06
                    if toks & (_COOKED_WORDS | {"canned", "frozen"}):
                        s -= 0.04
                elif g in _PREFER_COOKED:
                    if toks & _PLAIN_COOKING:
                        s += 0.06
                    if toks & {"raw", "unprepared", "dry", "uncooked"}:
                        s -= 0.08
                    if "canned" in toks and portion.unit != "can":
                        s -= 0.03
            if portion.unit and portion.unit not in MASS_G:
                units = {_measure_unit(m[2]) for m in _measures(self._row(j))}
                if portion.unit in units or (portion.unit in VOLUME_CUP and units & set(VOLUME_CUP)):
                    s += 0.02
            score[j] = s
        return score, cover, raw, best_rank

    def _row(self, j: int) -> dict:
        r = self.foods.iloc[j]
        return {
            "gmwt_1": r.get("gmwt_1"),
            "gmwt_desc1": r.get("gmwt_desc1"),
            "gmwt_2": r.get("gmwt_2"),
            "gmwt_desc2": r.get("gmwt_desc2"),
            "description": self._desc[j],
            "ndb_no": self._ids[j],
        }

    def match(self, text: str) -> FoodMatch:
        """Match one phrase; see :class:`FoodMatch` for the fields."""
        portion = parse_portion(text)
        food = portion.food or str(text)
        key = _text.normalize_phrase(food)
        grams: float | None
        if key in self._aliases:
            ndb, g_alias, phrase = self._aliases[key]
            row = self._row(self._ids.index(ndb))
            if g_alias is not None and portion.unit is None:
                grams, basis = (
                    portion.quantity * g_alias,
                    f"{_fmt(portion.quantity)} x your portion of {_fmt(g_alias)} g",
                )
            else:
                grams, basis = portion_grams(portion, row)
            return FoodMatch(
                str(text),
                "matched",
                ndb,
                str(row["description"]),
                grams,
                portion.quantity,
                portion.unit,
                1.0,
                basis,
                "alias",
                f"your favourite '{phrase}'",
            )
        q = self._query_tokens(food)
        if not q:
            return FoodMatch(
                str(text),
                "unmatched",
                None,
                None,
                None,
                portion.quantity,
                portion.unit,
                0.0,
                note="no food words found in the phrase",
            )
        score, cover, raw, best_rank = self._score(q, portion)
        ranked = np.argsort(-score, kind="stable")
        order = [j for j in ranked[: max(self.n_candidates, 1) * 4] if np.isfinite(score[j])]
        cands = [(self._ids[j], self._desc[j], float(score[j])) for j in order[: self.n_candidates]]
        if not order or cover[order[0]] < self.min_coverage:
            best = cover[order[0]] if order else 0.0
            return FoodMatch(
                str(text),
                "unmatched",
                None,
                None,
                None,
                portion.quantity,
                portion.unit,
                float(best),
                note=(f"no USDA SR28 item covers the words {q}; pick one of the candidates or add a favourite"),
                candidates=cands,
            )
        j = order[0]
        conf = float(min(1.0, cover[j]))
        reasons = []
        if raw[j] < 0.999:
            toks = self._tokens[j]
            missing = [
                t
                for k, t in enumerate(q)
                if t not in toks
                and not (k + 1 < len(q) and q[k] + q[k + 1] in toks)
                and not (k > 0 and q[k - 1] + q[k] in toks)
            ]
            reasons.append(f"words not in the description: {', '.join(missing)}")
        if best_rank[j] > 2:
            reasons.append("the food word is not among the item's main words")
        if len(order) > 1:
            j2 = order[1]
            if score[j] - score[j2] < 0.01 and self._desc[j2].split(",")[0] != self._desc[j].split(",")[0]:
                reasons.append(f"close runner-up: {self._desc[j2]}")
                conf = min(conf, 0.7)
        status = "matched" if not reasons else "low_confidence"
        if best_rank[j] > 2:
            conf = min(conf, 0.6)
        grams, basis = portion_grams(portion, self._row(j))
        note = "; ".join(reasons)
        if grams is None:
            note = (note + "; " if note else "") + "portion not converted: " + basis
        return FoodMatch(
            str(text),
            status,
            self._ids[j],
            self._desc[j],
            grams,
            portion.quantity,
            portion.unit,
            round(conf, 3),
            basis if grams is not None else "",
            "usda",
            note,
            cands,
        )

    def match_many(self, texts) -> pd.DataFrame:
        """Match many phrases; one row per phrase (columns of :meth:`FoodMatch.as_dict`)."""
        return pd.DataFrame([self.match(t).as_dict() for t in texts])
