"""Stress: PSS-10 scoring, daily 0-10 stress ratings and mind-body practice minutes.

PSS-10 (Perceived Stress Scale, 10 items; Cohen S, Kamarck T, Mermelstein R. *J Health Soc
Behav* 1983;24:385-96, doi:10.2307/2136404; 10-item form: Cohen & Williamson 1988). Items are
answered 0 (never) to 4 (very often) for the last month; items 4, 5, 7 and 8 are reverse-scored
(0↔4, 1↔3); the total is the sum, 0-40. The published scoring has **no prorating rule** for
unanswered items, so a questionnaire with a missing item is an error, not a guess.

The bands 0-13 "low", 14-26 "moderate", 27-40 "high" are widely used but are **not validated
cut-offs** (the US norm is a mean of about 13, SD about 6); :func:`pss10_band` returns them with
that caveat. The rule and the bands are package data (``gutaxis/data/pss10_scoring.tsv``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .._data import package_table
from ..errors import InputError

__all__ = [
    "PRACTICES",
    "PSS10_ANSWERS",
    "PSS10_BAND_CAVEAT",
    "daily_stress",
    "pss10_band",
    "pss10_questions",
    "score_pss10",
]

PSS10_BAND_CAVEAT = (
    "commonly used PSS-10 bands (0-13 low, 14-26 moderate, 27-40 high), not validated cut-offs; "
    "US norm mean about 13 (SD about 6)"
)
#: the answer scale of every PSS-10 question, 0-4
PSS10_ANSWERS = ("Never", "Almost never", "Sometimes", "Fairly often", "Very often")
PRACTICES = ("mindfulness", "meditation", "yoga", "breathing", "tai chi", "relaxation")


@lru_cache(maxsize=1)
def _scoring() -> tuple[np.ndarray, pd.DataFrame]:
    df = package_table("pss10_scoring.tsv", comment="#", dtype=str, keep_default_na=False)
    items = df[df["kind"] == "item"]
    reverse = np.zeros(10, dtype=bool)
    for r in items.itertuples(index=False):
        reverse[int(r.item_or_band) - 1] = r.reverse_or_low == "yes"
    bands = df[df["kind"] == "band"].rename(columns={"item_or_band": "band", "reverse_or_low": "low"})
    bands = bands.assign(low=bands["low"].astype(int), high=bands["high"].astype(int))[
        ["band", "low", "high", "citation"]
    ]
    return reverse, bands.reset_index(drop=True)


@lru_cache(maxsize=1)
def pss10_questions() -> tuple[str, ...]:
    """The ten PSS-10 questions (each follows "In the last month, how often have you ..."), from
    ``gutaxis/data/pss10_items.tsv`` with their source and licence note."""
    df = package_table("pss10_items.tsv", comment="#", dtype=str, keep_default_na=False)
    return tuple(df.sort_values("item", key=lambda s: s.astype(int))["question"])


def _item_columns(df: pd.DataFrame) -> list[str]:
    for pattern in ("pss_{}", "pss{}", "item{}", "item_{}", "q{}", "{}"):
        cols = [pattern.format(i) for i in range(1, 11)]
        if all(c in df.columns for c in cols):
            return cols
    raise InputError(
        "PSS-10 responses need 10 item columns",
        source="score_pss10",
        hint="name them pss_1 ... pss_10 (or item1..item10); answers 0 (never) to 4 (very often)",
    )


def score_pss10(responses, *, source: str = "PSS-10 responses") -> pd.DataFrame:
    """Score PSS-10 questionnaires.

    Parameters
    ----------
    responses
        A DataFrame with columns ``pss_1``…``pss_10`` (one questionnaire per row), or an array
        of shape (n, 10) / a sequence of 10 answers, each an integer 0-4.
    source
        Named in error messages (e.g. the file the answers came from).

    Returns
    -------
    pandas.DataFrame
        ``pss10`` (total 0-40), ``band`` ("low"/"moderate"/"high", see ``PSS10_BAND_CAVEAT``)
        and the scored items ``scored_1``…``scored_10`` (after reversing items 4, 5, 7, 8).

    Raises
    ------
    InputError
        A missing answer (no prorating rule exists for the PSS-10), or an answer that is not
        an integer 0-4, naming the row and item.
    """
    if isinstance(responses, pd.DataFrame):
        cols = _item_columns(responses)
        raw = responses[cols]
        index = responses.index
    else:
        arr = np.asarray(responses, dtype=object)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 10:
            raise InputError(
                f"expected 10 answers per questionnaire, got shape {arr.shape}",
                source=source,
                hint="give the 10 PSS-10 answers in item order",
            )
        raw = pd.DataFrame(arr, columns=[f"pss_{i}" for i in range(1, 11)])
        index = raw.index
    vals = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    for r in range(vals.shape[0]):
        for c in range(10):
            v, orig = vals[r, c], raw.iat[r, c]
            if (
                orig is None
                or (isinstance(orig, float) and np.isnan(orig))
                or (isinstance(orig, str) and not orig.strip())
            ):
                raise InputError(
                    f"row {index[r]!r}: PSS-10 item {c + 1} is unanswered",
                    source=source,
                    hint="the published PSS-10 scoring has no rule for prorating missing items; answer all 10 items",
                )
            if np.isnan(v) or v not in (0, 1, 2, 3, 4):
                raise InputError(
                    f"row {index[r]!r}: PSS-10 item {c + 1} answer {orig!r} is not allowed",
                    source=source,
                    hint="answers are whole numbers 0 (never), 1, 2, 3, 4 (very often)",
                )
    reverse, _ = _scoring()
    scored = np.where(reverse[None, :], 4 - vals, vals).astype(int)
    out = pd.DataFrame(scored, index=index, columns=[f"scored_{i}" for i in range(1, 11)])
    out.insert(0, "pss10", scored.sum(axis=1))
    out.insert(1, "band", [pss10_band(t) for t in out["pss10"]])
    out.attrs["params"] = {
        "reverse_items": [i + 1 for i in np.flatnonzero(reverse)],
        "band_caveat": PSS10_BAND_CAVEAT,
        "citation": "Cohen S et al. J Health Soc Behav 1983;24:385-96. doi:10.2307/2136404",
    }
    return out


def pss10_band(total: float) -> str:
    """Commonly used band of a PSS-10 total ("low", "moderate", "high"); not a validated cut-off."""
    if total is None or (isinstance(total, float) and np.isnan(total)):
        return ""
    if not 0 <= total <= 40:
        raise InputError(f"PSS-10 total {total} is outside 0-40", source="pss10_band")
    _, bands = _scoring()
    for r in bands.itertuples(index=False):
        if r.low <= total <= r.high:
            return r.band
    return ""  # pragma: no cover


def daily_stress(stress: pd.DataFrame) -> pd.DataFrame:
    """Per-day stress summary from a stress log (:func:`gutaxis.lifestyle.read_stress_log`).

    Returns one row per date: ``stress_rating`` (mean of the day's 0-10 ratings),
    ``practice_min`` (total minutes of mind-body practice) and ``practice_min:<kind>`` per kind,
    ``pss10`` (the day's questionnaire total, where one was filled in) and ``pss10_band``.
    """
    if stress is None or len(stress) == 0:
        return pd.DataFrame(columns=["stress_rating", "practice_min", "pss10", "pss10_band"])
    s = stress.copy()
    s["date"] = pd.to_datetime(s["timestamp"]).dt.normalize()
    out = pd.DataFrame(index=pd.Index(sorted(s["date"].unique()), name="date"))
    if "rating" in s:
        out["stress_rating"] = s.groupby("date")["rating"].mean()
    if "minutes" in s:
        prac = s.dropna(subset=["minutes"])
        out["practice_min"] = prac.groupby("date")["minutes"].sum()
        out["practice_min"] = out["practice_min"].fillna(0.0)
        for kind, grp in prac.groupby("practice"):
            out[f"practice_min:{kind}"] = grp.groupby("date")["minutes"].sum()
    if "pss10" in s:
        pss = s.dropna(subset=["pss10"])
        if len(pss):
            out["pss10"] = pss.groupby("date")["pss10"].last()
            out["pss10_band"] = out["pss10"].map(lambda v: pss10_band(v) if pd.notna(v) else "")
    return out
