"""Diary entries as people type them -> foods and grams: "2 eggs and toast", "brocolli", "oat milk latte".

:class:`DiaryMatcher` turns one diary entry into one or more :class:`ItemMatch` es:

1. **Split** compound entries on "and", "with", "&", "+", commas and "on" ("beans on toast"),
   unless the whole entry is itself a known food or dish ("mac and cheese", "fish and chips").
2. **Portion** of each item with :func:`gutaxis.lifestyle.matching.parse_portion` ("half an
   avocado", "2 tbsp", "200g", "6 oz", "a slice of").
3. **Words as people write them**: British/European words (``food_synonyms.tsv``) and spelling
   mistakes (RapidFuzz against the words of the food tables: "brocolli" -> "broccoli").
4. **Food**: the person's aliases, then the everyday-word lexicon (``food_lexicon.tsv``), the cited
   dishes, then a weighted word search over FNDDS (foods as eaten) and SR28.
5. **Grams** from the food's own USDA portions (FNDDS portions, SR28 household measures):
   mass units exactly, volume units through the food's cup/tbsp measures, household words
   (slice, bowl, can, handful…) through the food's matching portion, sizes (small/medium/large),
   and, when no amount is given, FNDDS's "Quantity not specified" portion, flagged as assumed.

Every result says how sure it is. ``status`` is ``"matched"`` (counted), ``"low_confidence"``
(not counted: listed with candidates for the person to confirm), ``"unmatched"`` (not counted),
``"no_portion"`` (food known, amount not convertible) or ``"implausible"`` (over 2 kg in one
entry, or 10 times the food's usual portion). Results are cached by text, so a long diary of
repeated entries is matched once per distinct text.

The parts live in their own modules: the words (synonyms, separators, stop and neutral words)
in ``_diary_words``, and choosing a food's USDA portion for a portion word in
``_diary_portions``; this module keeps the matcher and its result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from . import _text
from ._diary_portions import _cups, _pick
from ._diary_words import (
    _ADDITIONS,
    _FORM_WORDS,
    _GENERIC,
    _GENERIC_HEADS,
    _NEUTRAL,
    _PLACE_RE,
    _SOFT,
    _SPLIT_RE,
    _STOP,
    _synonyms,
    _words,
)
from .fooddb import FoodDatabase, _norm_key, dishes, lexicon
from .matching import MASS_G, VOLUME_CUP, Portion, _portion_words, parse_portion

__all__ = ["MAX_ENTRY_G", "DiaryMatcher", "ItemMatch"]

MAX_ENTRY_G = 2000.0  # one entry above this is not plausible as typed (a unit slip: kg for g)
MAX_PORTIONS = 10.0  # nor is more than 10 times the food's usual portion
_MATCH_MIN = 0.999  # share of the (weighted) words that must be found for a counted match
_LOW_MIN = 0.5
_MAX_EXTRA = 2  # more unmatched words in the description than this: probably another food ("burrito, beef & bean")


@dataclass
class ItemMatch:
    """One food of a diary entry."""

    text: str  # the words of this item, as written
    status: str
    food_id: str | None = None
    description: str | None = None
    grams: float | None = None
    portion_basis: str = ""
    portion_assumed: bool = False
    confidence: float = 0.0
    how: str = ""  # alias, lexicon, dish, search
    note: str = ""
    candidates: list[tuple[str, str, float]] = field(default_factory=list)
    amount_stated: bool = False

    @property
    def counted(self) -> bool:
        return self.status == "matched" and self.grams is not None

    def as_dict(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "text",
                "status",
                "food_id",
                "description",
                "grams",
                "portion_basis",
                "portion_assumed",
                "confidence",
                "how",
                "note",
            )
        }
        d["candidates"] = "; ".join(f"{desc} ({g:.0f} g)" if g == g else desc for _, desc, g in self.candidates)
        return d


class DiaryMatcher:
    """Match diary entries to the foods and portions of a :class:`~gutaxis.lifestyle.fooddb.FoodDatabase`."""

    def __init__(self, db: FoodDatabase, *, n_candidates: int = 3):
        self.db = db
        self.n_candidates = n_candidates
        self._cache: dict[str, list[ItemMatch]] = {}
        self._build()

    # ------------------------------------------------------------------ index
    def _build(self) -> None:
        foods = self.db.foods
        self._ids = foods.index.astype(str).tolist()
        self._desc = foods["description"].astype(str).tolist()
        self._pos = {fid: j for j, fid in enumerate(self._ids)}
        add = foods["additional"].fillna("").astype(str).tolist() if "additional" in foods else [""] * len(foods)
        self._main, self._head, self._add, self._concat = [], [], [], []
        postings: dict[str, set[int]] = {}
        for j, (fid, d, a) in enumerate(zip(self._ids, self._desc, add, strict=True)):
            if len(fid) == 5 and fid.isdigit():  # SR28 short descriptions: expand the abbreviations
                words = _text.tokens(d)
                head = set(_text.tokens(d.split(",")[0]))
            else:
                words = _words(d)
                segs = re.split(r",|\bwith\b", d)
                head = set(_words(segs[0]))
                if head <= _GENERIC_HEADS and len(segs) > 1:  # "Cereal, corn flakes": the food is the 2nd part
                    head |= set(_words(segs[1]))
                    head |= {x + y for x, y in pairwise(_words(segs[1]))}
            concat = {x + y for x, y in pairwise(words) if x.isalpha() and y.isalpha()}
            main = set(words) | concat
            self._concat.append(concat)
            extra = set(_words(a)) - main
            self._main.append(main)
            self._head.append(head)
            self._add.append(extra)
            for t in main | extra:
                postings.setdefault(t, set()).add(j)
        n = len(self._ids)
        self._idf = {t: math.log((n + 1) / (len(js) + 0.5)) for t, js in postings.items()}
        self._postings = postings
        cats = foods["category"].fillna("").astype(str).str.lower().tolist() if "category" in foods else [""] * n
        self._eaten_raw = [
            bool(
                re.search(
                    r"fruit|vegetable|salad|nut|seed|berr|banana|apple|citrus|melon|tomato|lettuce", c + " " + d.lower()
                )
            )
            for c, d in zip(cats, self._desc, strict=True)
        ]
        self._baby = [
            bool(re.search(r"baby ?food|babyfood|infant|toddler", c + " " + d.lower()))
            for c, d in zip(cats, self._desc, strict=True)
        ]
        self._source_rank = np.array(
            [0 if len(i) == 8 and i.isdigit() else (2 if i.startswith("gx_") else 1) for i in self._ids]
        )
        # the lexicon, the dishes and the person's aliases, by normalised words
        self._phrases: dict[str, tuple[str, str]] = {}
        for r in lexicon().itertuples(index=False):
            fid = str(r.food_code if hasattr(r, "food_code") else r.food_id).strip()
            if fid in self._pos:
                self._phrases.setdefault(self._key(r.phrase), (fid, "lexicon"))
        for r in dishes().itertuples(index=False):
            if r.id in self._pos:
                for name in [r.name, *str(r.synonyms).split("|")]:
                    if name.strip():
                        self._phrases.setdefault(self._key(name), (r.id, "dish"))
        for key, (fid, _) in self.db.aliases.items():
            self._phrases[self._key(key)] = (fid, "alias")
        self._lex_vocab = sorted({w for k in self._phrases for w in k.split() if len(w) > 3 and w.isalpha()})
        self._lex_vocab_set = set(self._lex_vocab)
        self._vocab = sorted({t for t in postings if len(t) > 3 and t.isalpha()} | self._lex_vocab_set)
        self._vocab_set = set(self._vocab)

    def _key(self, phrase: str) -> str:
        s = str(phrase).lower()
        for rx, rep in _synonyms():
            s = rx.sub(rep, s)
        return " ".join(w for w in _words(s) if w not in _STOP)

    # ------------------------------------------------------------------ public
    def match_entry(self, text: str) -> list[ItemMatch]:
        """The foods of one diary entry (cached by its normalised text)."""
        norm = re.sub(r"\s+", " ", str(text).strip().lower())
        hit = self._cache.get(norm)
        if hit is None:
            hit = self._match_entry(norm)
            self._cache[norm] = hit
        return hit

    def match(self, text: str) -> ItemMatch:
        """One item, without splitting (for ``gutaxis food match``)."""
        return self._match_item(str(text).strip().lower())

    # ------------------------------------------------------------------ entries
    def _match_entry(self, norm: str) -> list[ItemMatch]:
        norm = _PLACE_RE.sub("", norm).strip(" ,.")
        if not norm:
            return [ItemMatch(norm, "unmatched", note="empty entry")]
        whole = self._match_item(norm)
        raw = [p.strip(" .") for p in _SPLIT_RE.split(norm) if p and p.strip(" .")]
        parts: list[str] = []
        for p in raw:  # "chicken stir fry, 1 cup": a part with an amount only belongs to the food before it
            if parts and not self._key(parse_portion(p).food or ""):
                parts[-1] = f"{p} {parts[-1]}"
            else:
                parts.append(p)
        joined = re.search(r"\b(and|with|on)\b|[,&+]", norm)
        if whole.status == "matched" and not (
            joined and whole.how == "search" and not re.search(r"\b(and|with|on)\b|&", str(whole.description).lower())
        ):
            return [whole]  # a known food or dish ("mac and cheese"), or a description that joins the same way
        if len(parts) < 2:
            return [self._match_item(parts[0])] if parts and parts[0] != norm else [whole]
        items = [self._match_item(p, addition=k > 0) for k, p in enumerate(parts)]
        if whole.status != "matched" or all(i.counted for i in items):
            return self._guideline_additions(items)  # "cheese and crackers" is cheese and crackers
        return [whole]

    # USDA's own amounts for additions, by what they are added to (FNDDS "Guideline amount ..." portions)
    _CONTEXTS = (
        ("beverage", "per fl oz of beverage"),
        ("bread", "per slice of bread/roll"),
        ("hot cereal", "per cup of hot cereal"),
        ("salad", "in salad"),
        ("sandwich", "on regular sandwich"),
        ("vegetable", "per cup of vegetable"),
    )

    def _context(self, it: ItemMatch) -> tuple[str, float] | None:
        """What an item is, as a base for additions, and how many units of it (fl oz, slices, cups)."""
        if not it.counted or it.food_id is None or it.grams is None:
            return None
        fid, grams = it.food_id, it.grams
        j = self._pos[fid]
        cat = str(self.db.foods["category"].iat[j]).lower() if "category" in self.db.foods else ""
        p = self.db.portions_of(fid)
        cup = p[p["measure"].str.match(r"cup\b")]
        cup_g = float(cup["grams"].iloc[0] / cup["amount"].iloc[0]) if len(cup) else 240.0
        if self._is_drink(fid):
            return "beverage", grams / 29.5735
        if re.search(r"yeast bread|rolls and buns|bagel|toast", cat + " " + (it.description or "").lower()):
            sl = p[p["measure"].str.contains("slice") & ~p["measure"].str.contains("snack|thin|thick|crust")]
            per = float(sl["grams"].iloc[0] / sl["amount"].iloc[0]) if len(sl) else 28.0
            return "bread", max(1.0, round(grams / per))
        if re.search(r"oatmeal|cooked cereal", cat):
            return "hot cereal", grams / cup_g
        if "salad" in cat:
            return "salad", 1.0
        if "sandwich" in cat or "burger" in cat:
            return "sandwich", 1.0
        if "vegetable" in cat:
            return "vegetable", grams / cup_g
        return None

    def _guideline_additions(self, items: list[ItemMatch]) -> list[ItemMatch]:
        bases: list[tuple[int, tuple[str, float]]] = []
        for k, it in enumerate(items):
            # milk, butter, sugar... are what is added, never the base it is added to
            if _words(it.text)[-1:] and _words(it.text)[-1] in _ADDITIONS:
                continue
            c = self._context(it)
            if c is not None:
                bases.append((k, c))
        if not bases:
            return items
        for k, it in enumerate(items):
            if it.amount_stated or not it.counted or it.food_id is None or any(k == b for b, _ in bases):
                continue
            rows = self.db.portions_of(it.food_id)
            for b, (kind, units) in bases:
                label = dict(self._CONTEXTS)[kind]
                g = rows[rows["text"].str.lower().str.contains(label, regex=False)]
                if len(g):
                    grams = float(g["grams"].iloc[0]) * units
                    base = items[b].description
                    it.grams = grams
                    it.portion_basis = (
                        f"USDA's guideline amount {label} ({float(g['grams'].iloc[0]):g} g) x {units:.3g} for {base}"
                    )
                    it.portion_assumed = True
                    break
        return items

    def _match_item(self, text: str, *, addition: bool = False) -> ItemMatch:
        portion = parse_portion(text)
        food = portion.food or text
        if addition and not portion.stated and _words(food)[-1:] and _words(food)[-1] in _ADDITIONS:
            unit = _ADDITIONS[_words(food)[-1]]
            portion = Portion(1.0, unit, portion.food, None, True)
            m = self._match_item_portion(text, portion, food)
            m.amount_stated = False
            if m.grams is not None:
                m.portion_basis = f"an addition without an amount taken as 1 {unit}; " + m.portion_basis
                m.portion_assumed = True
            return m
        return self._match_item_portion(text, portion, food)

    def _match_item_portion(self, text: str, portion: Portion, food: str) -> ItemMatch:
        key = self._key(food)
        if not key:
            return ItemMatch(text, "unmatched", note="no food words found")
        corrected: list[str] = []
        if key not in self._phrases:
            key, corrected = self._spell(key)
        found = self._phrases.get(key)
        if found is None:  # "raw sauerkraut", "steamed broccoli": the everyday word without its describing words
            core = " ".join(w for w in key.split() if w not in _SOFT)
            if (
                core
                and core != key
                and core in self._phrases
                and not self._state_conflict(key, core, self._desc[self._pos[self._phrases[core][0]]])
            ):
                found = self._phrases[core]
                corrected = [*corrected, f"read as '{core}'"]
        if found is not None:
            fid, how = found
            return self._with_portion(text, portion, fid, how, 1.0, corrected, [])
        words = [w for w in key.split() if w not in _NEUTRAL or w in ("raw", "cooked", "fried")]
        if not words:
            return ItemMatch(text, "unmatched", note="no food words found")
        j, _score, cover, head_ok, extra_head, cands, extra = self._search(words)
        if j is None or cover < _LOW_MIN:
            return ItemMatch(
                text,
                "unmatched",
                note=f"no USDA food has the words '{' '.join(words)}'",
                candidates=self._cand_list(cands),
            )
        core_ok = all(w in self._main[j] or w in self._add[j] for w in words if w not in _SOFT)
        status = (
            "matched"
            if (
                (cover >= _MATCH_MIN or (core_ok and cover >= 0.6))
                and head_ok
                and extra_head == 0
                and extra <= (_MAX_EXTRA if len(self._ids[j]) != 5 else 1)
            )
            else "low_confidence"
        )
        note = ""
        if status != "matched":
            missing = [w for w in words if w not in self._main[j] and w not in self._add[j] and w not in _SOFT]
            why = []
            if missing:
                why.append("words not found: " + ", ".join(missing))
            if extra_head or extra > _MAX_EXTRA:
                why.append(f"'{self._desc[j]}' may be a different food from what was written")
            elif not head_ok:
                why.append("the food word is not the main word of the USDA description")
            note = "; ".join(why)
        m = self._with_portion(
            text, portion, self._ids[j], "search", round(min(1.0, cover), 3), corrected, cands, status=status
        )
        if note:
            m.note = note + ("; " + m.note if m.note else "")
        return m

    @staticmethod
    def _state_conflict(key: str, core: str, description: str) -> bool:
        """Dropping a cooking word is safe only where the everyday food is itself the cooked one."""
        dropped = set(key.split()) - set(core.split())
        cooking = dropped & {"roasted", "baked", "grilled", "steamed", "boiled", "cooked", "toasted"}
        return bool(cooking) and "raw" in _words(description)

    def _spell(self, key: str) -> tuple[str, list[str]]:
        """Correct misspelt words: towards the everyday lexicon's words first, then the tables' words."""
        from rapidfuzz import fuzz, process

        out, fixed = [], []
        for w in key.split():
            if w in self._lex_vocab_set or len(w) < 4 or not w.isalpha() or len(self._postings.get(w, ())) > 3:
                out.append(w)  # a word of the everyday lexicon, or one common in the USDA tables, is no typo
                continue
            best = process.extractOne(w, self._lex_vocab, scorer=fuzz.ratio, score_cutoff=85)
            if best is None and w not in self._idf:
                best = process.extractOne(w, self._vocab, scorer=fuzz.ratio, score_cutoff=80)
            if best is None or best[0] == w:
                out.append(w)
                continue
            out.append(best[0])
            fixed.append(f"{w} -> {best[0]}")
        return " ".join(out), fixed

    # ------------------------------------------------------------------ search
    def _search(self, words: list[str]):
        weights = np.array([self._idf.get(w, 8.0) * (0.15 if w in _SOFT else 1.0) for w in words])
        total = weights.sum() or 1.0
        cand: dict[int, float] = {}
        for w, wt in zip(words, weights, strict=True):
            for j in self._postings.get(w, ()):
                cand[j] = cand.get(j, 0.0) + wt * (1.0 if w in self._main[j] else 0.75)
        if not cand:
            return None, 0.0, 0.0, False, 0, [], 0
        q = set(words)
        scored = []
        for j, c in cand.items():
            cover = c / total
            head = self._head[j]
            head_ok = bool(head & q)
            extra_head = len([t for t in head - q if t not in _NEUTRAL and t not in _GENERIC_HEADS and not t.isdigit()])
            extra = len(
                [t for t in self._main[j] - q if t not in _NEUTRAL and not t.isdigit() and t not in self._concat[j]]
            )
            s = cover + 0.15 * head_ok - 0.12 * extra_head - 0.025 * extra
            s += 0.05 * bool(_GENERIC.search(self._desc[j])) - 0.01 * self._source_rank[j]
            s -= 0.08 * len((self._main[j] & _FORM_WORDS) - q)  # "Salmon, dried" is not "salmon"
            if self._baby[j] and not q & {"baby", "infant", "toddler"}:
                s -= 0.3
            if "raw" in self._main[j] and "raw" not in q and not self._eaten_raw[j]:
                s -= 0.06  # meat, fish, eggs, grains: as eaten means cooked unless "raw" is written
            scored.append((s, cover, head_ok, extra_head, j, extra))
        scored.sort(key=lambda x: (-x[0], self._ids[x[4]]))
        s, cover, head_ok, extra_head, j, _ = scored[0]
        return j, s, cover, head_ok, extra_head, [x[4] for x in scored[: self.n_candidates + 1]], scored[0][5]

    def _cand_list(self, js) -> list[tuple[str, str, float]]:
        out = []
        for j in js[: self.n_candidates]:
            d = self.db.portions_of(self._ids[j])
            g = float(d.loc[d["default"], "grams"].iloc[0]) if d["default"].any() else float("nan")
            out.append((self._ids[j], self._desc[j], g))
        return out

    # ------------------------------------------------------------------ portions
    def _with_portion(
        self, text, portion: Portion, fid: str, how: str, conf: float, corrected, cands, *, status: str = "matched"
    ) -> ItemMatch:
        desc = self._desc[self._pos[fid]]
        key = self._key(portion.food or text)
        if corrected and key:  # count the food by its corrected name: "1 bananna" is one banana
            portion = Portion(
                portion.quantity,
                portion.unit,
                " ".join(_spell_fixed(key, corrected)),
                portion.size,
                portion.stated,
                portion.text,
            )
        grams, basis, assumed = self.grams(portion, fid)
        alias = self.db.aliases.get(_norm_key(portion.food or text))
        if how == "alias" and alias is not None and alias[1] is not None and portion.unit is None:
            grams, basis, assumed = (
                portion.quantity * alias[1],
                f"{portion.quantity:g} x your portion of {alias[1]:g} g",
                False,
            )
        note = ("spelling read as: " + ", ".join(corrected)) if corrected else ""
        cand_list = self._cand_list([self._pos[fid]] + [j for j in cands if self._ids[j] != fid]) if cands else []
        if grams is None:
            return ItemMatch(
                text,
                "no_portion",
                fid,
                desc,
                None,
                basis,
                False,
                conf,
                how,
                (note + "; " if note else "") + basis,
                cand_list,
            )
        usual = self._usual_grams(fid)
        if grams > MAX_ENTRY_G or (usual and grams > max(MAX_PORTIONS * usual, 500.0) and portion.unit not in MASS_G):
            return ItemMatch(
                text,
                "implausible",
                fid,
                desc,
                grams,
                basis,
                assumed,
                conf,
                how,
                f"{grams:.0f} g in one entry is not plausible — check the amount and unit (g or kg?)",
                cand_list,
            )
        return ItemMatch(
            text,
            status,
            fid,
            desc,
            float(grams),
            basis,
            assumed,
            conf,
            how,
            note,
            cand_list,
            amount_stated=bool(portion.stated),
        )

    def _usual_grams(self, fid: str) -> float | None:
        p = self.db.portions_of(fid)
        if len(p) == 0:
            return None
        d = p[p["default"]]
        return float(d["grams"].iloc[0]) if len(d) else float(np.median(p["grams"] / p["amount"]))

    def grams(self, portion: Portion, fid: str) -> tuple[float | None, str, bool]:
        """Grams of ``portion`` of food ``fid``, how they were found, and whether they were assumed."""
        q, unit = portion.quantity, portion.unit
        p = self.db.portions_of(fid)
        if unit in MASS_G:
            g = q * MASS_G[unit]
            return g, f"{q:g} {unit} = {g:.0f} g", False
        rows = list(p.itertuples(index=False))
        if unit in VOLUME_CUP:
            vol = [(r, _cups(r.measure)) for r in rows]
            vol = [(r, c) for r, c in vol if c]
            if vol:
                vol.sort(key=lambda rc: (len(rc[0].measure), rc[0].measure))
                r, cups = vol[0]
                g = q * VOLUME_CUP[unit] / (r.amount * cups) * r.grams
                return g, f"{q:g} {unit} via {r.table} portion '{r.text}' = {r.grams:g} g", False
            if self._is_drink(fid):
                g = q * VOLUME_CUP[unit] * 236.5882365
                return g, f"{q:g} {unit} of a drink taken as 1 g per ml", False
            return None, "no cup/tbsp measure for this food in USDA; give grams", False
        if unit is not None:
            hit = _pick(rows, {unit}, portion.size)
            if hit is not None:
                g = q * hit.grams / hit.amount
                return g, f"{q:g} x {hit.table} portion '{hit.text}' ({hit.grams / hit.amount:g} g)", False
            for word, mult, note in _portion_words().get(unit, []):
                if word in MASS_G:
                    g = q * mult * MASS_G[word]
                    return g, f"{q:g} {unit} taken as {mult:g} {word} ({note})", True
                if word in VOLUME_CUP:
                    sub = Portion(q * mult, word, portion.food, portion.size, True, portion.text)
                    sub_g, basis, _ = self.grams(sub, fid)
                    if sub_g is not None:
                        return sub_g, f"{q:g} {unit} taken as {mult:g} {word} ({note}); {basis}", True
                hit = _pick(rows, {word}, portion.size)
                if hit is not None:
                    g = q * mult * hit.grams / hit.amount
                    return g, f"{q:g} {unit} taken as '{hit.text}' ({note})", True
        elif (
            portion.stated
            or portion.size
            or (re.match(r"(a|an|one)\s", portion.text or "") and not self._is_drink(fid))
        ):
            article_only = not (portion.stated or portion.size)  # "a pear": one pear; "a cappuccino": the usual cup
            whole = set(_words(portion.food)) | {"each", "item", "fruit", "whole", "medium", "regular"}
            pieces = {"piece", "nut", "berry", "kernel", "clove", "leaf", "egg"}
            hit = _pick(rows, {portion.size}, portion.size) if portion.size else None
            hit = (
                hit or _pick(rows, whole, portion.size) or (None if article_only else _pick(rows, pieces, portion.size))
            )
            if hit is not None:
                g = q * hit.grams / hit.amount
                return g, f"{q:g} x {hit.table} portion '{hit.text}' ({hit.grams / hit.amount:g} g)", False
        default = [r for r in rows if r.default]
        if default:
            r = default[0]
            g = q * r.grams
            what = f"'{portion.unit}' portion" if portion.unit else "amount"
            lead = "no amount given" if not (portion.stated or portion.size) else f"no {what} of this size in USDA"
            return g, f"{lead}: {q:g} x the usual portion ({r.table} '{r.text}', {r.grams:g} g) assumed", True
        serving = [r for r in rows if re.search(r"serving|nlea", r.measure)] or [
            r for r in rows if _cups(r.measure) is None and not re.match(r"(oz|lb|g)\b", r.measure)
        ]
        serving = serving or [r for r in rows if not r.default]
        if serving:
            r = serving[0]
            g = q * r.grams / r.amount
            return g, f"no amount given: {q:g} x '{r.text}' ({r.grams / r.amount:g} g) assumed", True
        return None, "no amount given and no usual portion known for this food; give grams", False

    def _is_drink(self, fid: str) -> bool:
        j = self._pos[fid]
        cat = str(self.db.foods["category"].iat[j]) if "category" in self.db.foods else ""
        words = self._main[j]
        return bool(
            re.search(r"beverage|drink|juice|milk|coffee|tea|beer|wine|liquor|water|soda|smoothie", cat, re.I)
            or words & {"beverage", "juice", "milk", "coffee", "tea", "beer", "wine", "soda", "drink"}
        )


def _spell_fixed(key: str, corrected: list[str]) -> list[str]:
    fix = dict(c.split(" -> ") for c in corrected if " -> " in c)
    return [fix.get(w, w) for w in key.split()]
