"""N-of-1 insights: which factors go with which symptoms in one person's own diary.

For every factor (a food, live-culture fermented food, a high-sugar meal, a high-stress rating,
mind-body practice...), every symptom and every lag window (default 0-6, 6-12, 12-24 and
24-48 h), each symptom rating is classed as *exposed* when the factor occurred within that
window before the symptom's onset, else *unexposed*. Ratings are averaged per day and group,
so a day counts at most once on each side (days, not ratings, are the unit — ratings within a
day are not independent). A test is run only when there are at least ``min_days`` days with and
``min_days`` days without the factor (Bearable's rule is 3 each; the default here is 7).

Each test gives the mean difference (0-10 points), Hedges' g and Cliff's delta, and a
two-sided p-value (Mann-Whitney U with tie correction; an exact permutation test when a group
has fewer than 8 days). The Benjamini-Hochberg false-discovery rate is controlled across
**all** factor x symptom x lag tests of the person (Benjamini Y, Hochberg Y. *J R Stat Soc B*
1995;57:289-300, doi:10.1111/j.2517-6161.1995.tb02031.x). When the data are too few, the
result says so plainly instead of guessing.

These are associations in one person's diary, not causes: a result is something to discuss
with a clinician or registered dietitian, or to test deliberately (e.g. an elimination and
re-introduction planned with them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr
from scipy.stats import rankdata

from .._stats import p_adjust
from ..errors import InputError

__all__ = ["DEFAULT_LAGS", "Insights", "benjamini_hochberg", "factor_events", "n_of_1", "symptom_observations"]

DEFAULT_LAGS: tuple[tuple[float, float], ...] = ((0, 6), (6, 12), (12, 24), (24, 48))
CAVEAT = (
    "These are associations in your own diary, not proof of cause; discuss them with your clinician "
    "or registered dietitian before changing your diet."
)


@dataclass
class Insights:
    """Result of :func:`n_of_1`.

    ``table``: one row per test run (factor, symptom, lag, days with/without, means, effect
    sizes, p, q, passes). ``skipped``: factor x symptom x lag combinations not tested and why.
    ``statement``: the plain-language summary. ``findings``: one sentence per passing test.
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    statement: str
    findings: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    @property
    def significant(self) -> pd.DataFrame:
        return self.table[self.table["passes"]] if len(self.table) else self.table


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a 1-D array (NaN kept as NaN)."""
    return p_adjust(p, "BH")


def _hours(ts) -> np.ndarray:
    return pd.to_datetime(pd.Series(ts)).to_numpy(dtype="datetime64[ns]").astype("int64") / 3.6e12


def symptom_observations(symptoms: pd.DataFrame) -> pd.DataFrame:
    """Symptom ratings as observations (``time`` = onset, ``symptom``, ``rating``) from a symptom log."""
    s = symptoms.dropna(subset=["rating"])
    s = s[s["symptom"].astype(str) != ""]
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(s["onset"]).to_numpy(),
            "symptom": s["symptom"].to_numpy(),
            "rating": s["rating"].to_numpy(dtype=float),
        }
    )
    if "bristol" in symptoms and symptoms["bristol"].notna().any():
        b = symptoms.dropna(subset=["bristol"])
        out = pd.concat(
            [
                out,
                pd.DataFrame(
                    {
                        "time": pd.to_datetime(b["onset"]).to_numpy(),
                        "symptom": "bristol stool type",
                        "rating": b["bristol"].to_numpy(float),
                    }
                ),
            ],
            ignore_index=True,
        )
    return out


def factor_events(
    items: pd.DataFrame | None = None, stress: pd.DataFrame | None = None, *, foods: bool = True, sugar: bool = True
) -> pd.DataFrame:
    """Timed factor events from resolved meals and a stress log.

    Factors: ``food: <USDA description>`` (or the person's words for an unmatched entry),
    ``fermented food (live cultures)``, ``high-sugar meal`` (a meal in the top third of the
    person's own meals by total sugars), ``stress above your median`` (a daily rating above the
    person's median rating), ``<practice> practice`` (mind-body practice minutes > 0).
    Returns columns ``time`` and ``factor``.
    """
    parts = []
    if items is not None and len(items):
        it = items.copy()
        t = pd.to_datetime(it["timestamp"])
        if foods:
            name = it["description"].where(it["description"].notna(), it.get("text", "")).astype(str).str.lower()
            parts.append(pd.DataFrame({"time": t, "factor": "food: " + name}))
        if "live_cultures" in it:
            live = it["live_cultures"] == "yes"
            parts.append(pd.DataFrame({"time": t[live], "factor": "fermented food (live cultures)"}))
        if sugar and "sugars_g" in it and it["sugars_g"].notna().sum() >= 3:
            meal_sugar = it.groupby(t)["sugars_g"].sum(min_count=1).dropna()
            cut = np.quantile(meal_sugar.to_numpy(), 2 / 3)
            high = meal_sugar[meal_sugar > cut]
            parts.append(pd.DataFrame({"time": high.index, "factor": "high-sugar meal (top third of your meals)"}))
    if stress is not None and len(stress):
        s = stress.copy()
        t = pd.to_datetime(s["timestamp"])
        if "rating" in s and s["rating"].notna().sum() >= 3:
            med = float(np.nanmedian(s["rating"].to_numpy(dtype=float)))
            hi = s["rating"] > med
            parts.append(pd.DataFrame({"time": t[hi], "factor": "stress above your median"}))
        if "minutes" in s:
            prac = s[s["minutes"].fillna(0) > 0]
            parts.append(
                pd.DataFrame(
                    {"time": pd.to_datetime(prac["timestamp"]), "factor": prac["practice"].astype(str) + " practice"}
                )
            )
    if not parts:
        return pd.DataFrame(columns=["time", "factor"])
    return pd.concat(parts, ignore_index=True).sort_values("time", kind="stable").reset_index(drop=True)


def _mw_pvalues(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Mann-Whitney p-values (normal approximation, tie and continuity corrected)
    and U statistics for rows of a (T x D) and b (T x D) with NaN padding."""
    v = np.concatenate([a, b], axis=1)
    valid = ~np.isnan(v)
    n1 = (~np.isnan(a)).sum(axis=1).astype(float)
    n2 = (~np.isnan(b)).sum(axis=1).astype(float)
    n = n1 + n2
    r = rankdata(v, axis=1, nan_policy="omit")
    r1 = np.nansum(r[:, : a.shape[1]], axis=1)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    # tie term: sum over tie groups of (t^3 - t) = sum over values of (t_i^2 - 1)
    eq = (v[:, :, None] == v[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    t_i = eq.sum(axis=2).astype(float)
    ties = np.where(valid, t_i**2 - 1.0, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))
        mu = n1 * n2 / 2.0
        z = (np.abs(u1 - mu) - 0.5) / np.sqrt(var)
    p = np.where(var > 0, 2.0 * (1.0 - ndtr(np.maximum(z, 0.0))), 1.0)
    return np.minimum(p, 1.0), u1


def _perm_pvalue(a: np.ndarray, b: np.ndarray, n_perm: int, rng: np.random.Generator) -> float:
    """Two-sided permutation p-value of the difference in means (exact when few arrangements)."""
    from itertools import combinations
    from math import comb

    x = np.concatenate([a, b])
    n1 = len(a)
    obs = abs(a.mean() - b.mean())
    total = x.sum()
    if comb(len(x), n1) <= n_perm:
        idx = np.array(list(combinations(range(len(x)), n1)))
        s1 = x[idx].sum(axis=1)
        diffs = np.abs(s1 / n1 - (total - s1) / (len(x) - n1))
        return float(np.mean(diffs >= obs - 1e-12))
    perm = np.argsort(rng.random((n_perm, len(x))), axis=1)[:, :n1]
    s1 = x[perm].sum(axis=1)
    diffs = np.abs(s1 / n1 - (total - s1) / (len(x) - n1))
    return float((1 + np.sum(diffs >= obs - 1e-12)) / (n_perm + 1))


def n_of_1(
    events: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    lags=DEFAULT_LAGS,
    min_days: int = 7,
    fdr: float = 0.05,
    n_perm: int = 5000,
    seed: int = 0,
) -> Insights:
    """Test every factor x symptom x lag window in one person's diary.

    Parameters
    ----------
    events
        ``time`` (datetime) and ``factor`` (name) of each factor occurrence
        (:func:`factor_events`).
    observations
        ``time`` (symptom onset), ``symptom`` and ``rating`` (0-10)
        (:func:`symptom_observations`).
    lags
        Lag windows in hours ``(lo, hi)``: a rating is exposed when the factor occurred at
        least ``lo`` and less than ``hi`` hours before it. 0 <= lo < hi <= 48.
    min_days
        Minimum days with and days without the factor for a test to run (>= 3).
    fdr
        Benjamini-Hochberg false discovery rate across all tests run.
    n_perm, seed
        Permutations (and their seed) for the exact/permutation test used when a group has
        fewer than 8 days.
    """
    if int(min_days) < 3:
        raise InputError(
            f"min_days={min_days}",
            source="n_of_1",
            hint="at least 3 days with and 3 without a factor are needed to compare anything",
        )
    if not 0 < fdr < 1:
        raise InputError(f"fdr={fdr}", source="n_of_1", hint="a false discovery rate between 0 and 1, e.g. 0.05")
    lags = [(float(lo), float(hi)) for lo, hi in lags]
    for lo, hi in lags:
        if not 0 <= lo < hi <= 48:
            raise InputError(f"lag window ({lo}, {hi}) h", source="n_of_1", hint="windows within 0-48 h with lo < hi")
    for col in ("time", "factor"):
        if col not in events:
            raise InputError(f"events need a {col!r} column", source="n_of_1", hint="use factor_events(...)")
    for col in ("time", "symptom", "rating"):
        if col not in observations:
            raise InputError(
                f"observations need a {col!r} column", source="n_of_1", hint="use symptom_observations(...)"
            )
    rng = np.random.default_rng(seed)
    ev_t = _hours(events["time"]) if len(events) else np.array([])
    fac_codes, factors = (
        pd.factorize(events["factor"].astype(str), sort=True) if len(events) else (np.array([], int), pd.Index([]))
    )
    ev_by_factor = [np.sort(ev_t[fac_codes == k]) for k in range(len(factors))]
    obs = observations.dropna(subset=["rating"])
    ob_t = _hours(obs["time"]) if len(obs) else np.array([])
    ob_y = obs["rating"].to_numpy(dtype=float)
    ob_day = (
        np.floor(
            pd.to_datetime(obs["time"]).dt.normalize().to_numpy(dtype="datetime64[ns]").astype("int64") / 8.64e13
        ).astype(int)
        if len(obs)
        else np.array([], int)
    )
    sym_codes, symptoms = (
        pd.factorize(obs["symptom"].astype(str), sort=True) if len(obs) else (np.array([], int), pd.Index([]))
    )
    lag_names = [f"{lo:g}-{hi:g} h" for lo, hi in lags]

    rows, skipped = [], []
    for s_idx, sym in enumerate(symptoms):
        sel = sym_codes == s_idx
        t, y, day = ob_t[sel], ob_y[sel], ob_day[sel]
        days, dpos = np.unique(day, return_inverse=True)
        nd = len(days)
        if not len(factors):
            break
        # exposure matrix: obs x (factor, lag)
        cols, meta = [], []
        for k, e in enumerate(ev_by_factor):
            for li, (lo, hi) in enumerate(lags):
                cnt = np.searchsorted(e, t - lo, side="right") - np.searchsorted(e, t - hi, side="right")
                cols.append(cnt > 0)
                meta.append((k, li))
        X = np.stack(cols, axis=1).astype(float)  # n_obs x T
        M = np.zeros((nd, len(t)))
        M[dpos, np.arange(len(t))] = 1.0
        cnt_e, cnt_u = M @ X, M @ (1.0 - X)
        sum_e, sum_u = M @ (X * y[:, None]), M @ ((1.0 - X) * y[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            A = np.where(cnt_e > 0, sum_e / cnt_e, np.nan).T  # T x days
            B = np.where(cnt_u > 0, sum_u / cnt_u, np.nan).T
        n1 = (~np.isnan(A)).sum(axis=1)
        n2 = (~np.isnan(B)).sum(axis=1)
        testable = (n1 >= min_days) & (n2 >= min_days)
        for j in np.flatnonzero(~testable):
            k, li = meta[j]
            if n1[j] == 0:
                continue  # factor never in this window before this symptom: nothing to report per lag
            skipped.append(
                {
                    "factor": factors[k],
                    "symptom": sym,
                    "lag": lag_names[li],
                    "n_days_with": int(n1[j]),
                    "n_days_without": int(n2[j]),
                    "reason": f"fewer than {min_days} days with or without the factor in this window",
                }
            )
        idx = np.flatnonzero(testable)
        if not len(idx):
            continue
        a, b = A[idx], B[idx]
        p, u1 = _mw_pvalues(a, b)
        na, nb = n1[idx].astype(float), n2[idx].astype(float)
        small = np.minimum(na, nb) < 8
        for r in np.flatnonzero(small).tolist():
            p[r] = _perm_pvalue(a[r][~np.isnan(a[r])], b[r][~np.isnan(b[r])], n_perm, rng)
        ma, mb = np.nanmean(a, axis=1), np.nanmean(b, axis=1)
        va, vb = np.nanvar(a, axis=1, ddof=1), np.nanvar(b, axis=1, ddof=1)
        sp = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        J = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(sp > 0, (ma - mb) / sp * J, np.nan)
        delta = 2.0 * u1 / (na * nb) - 1.0
        for r, j in enumerate(idx):
            k, li = meta[j]
            rows.append(
                {
                    "factor": factors[k],
                    "symptom": sym,
                    "lag": lag_names[li],
                    "lag_lo_h": lags[li][0],
                    "lag_hi_h": lags[li][1],
                    "n_days_with": int(na[r]),
                    "n_days_without": int(nb[r]),
                    "mean_with": ma[r],
                    "mean_without": mb[r],
                    "mean_diff": ma[r] - mb[r],
                    "hedges_g": g[r],
                    "cliffs_delta": delta[r],
                    "p_value": p[r],
                    "test": "permutation" if small[r] else "mann-whitney",
                }
            )
    cols = [
        "factor",
        "symptom",
        "lag",
        "lag_lo_h",
        "lag_hi_h",
        "n_days_with",
        "n_days_without",
        "mean_with",
        "mean_without",
        "mean_diff",
        "hedges_g",
        "cliffs_delta",
        "p_value",
        "test",
        "q_value",
        "passes",
    ]
    table = pd.DataFrame(rows, columns=cols[:-2])
    table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy()) if len(table) else []
    table["passes"] = table["q_value"] <= fdr if len(table) else []
    table = table.sort_values(["q_value", "p_value"], kind="stable").reset_index(drop=True)
    skipped_df = pd.DataFrame(skipped, columns=["factor", "symptom", "lag", "n_days_with", "n_days_without", "reason"])
    n_days = len(np.unique(ob_day)) if len(ob_day) else 0
    findings = []
    if not len(factors) or not len(obs):
        statement = (
            "Too few data to say anything: the diary needs both logged factors (meals, stress) and timed "
            "symptom ratings."
        )
    elif not len(table):
        statement = (
            f"Too few data to say anything yet: a comparison needs at least {min_days} days with and "
            f"{min_days} days without a factor within a lag window; {n_days} days with symptom ratings "
            "are logged. Keep logging (about 30 days or more helps)."
        )
    else:
        sig = table[table["passes"]]
        if not len(sig):
            statement = (
                f"No factor went with any symptom after allowing for the {len(table)} comparisons made "
                f"(false discovery rate {fdr:.0%}). With {n_days} days logged only large effects could be "
                "found, so this does not show that there are none."
            )
        else:
            for r in sig.itertuples(index=False):
                direction = "higher" if r.mean_diff > 0 else "lower"
                findings.append(
                    f"{r.symptom} was on average {abs(r.mean_diff):.1f} points {direction} (0-10) {r.lag} after "
                    f"{r.factor} (days with: {r.n_days_with}, without: {r.n_days_without}; Hedges g {r.hedges_g:.2f}; "
                    f"q = {r.q_value:.3g})."
                )
            statement = (
                f"{len(sig)} of {len(table)} comparisons passed the false discovery rate of {fdr:.0%}. " + CAVEAT
            )
    params = {
        "lags_h": lags,
        "min_days": int(min_days),
        "fdr": fdr,
        "unit": "day means of symptom ratings",
        "tests": "Mann-Whitney U (tie-corrected normal approximation); permutation when a group has < 8 days",
        "correction": "Benjamini-Hochberg across all factor x symptom x lag tests",
        "n_tests": len(table),
    }
    return Insights(table, skipped_df, statement, findings, params)
