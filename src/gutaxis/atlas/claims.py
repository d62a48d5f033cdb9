"""The seed's claims (package data ``atlas_claims.tsv``) and the rule that turns evidence into a verdict.

Verdict rule (:func:`verdict`), applied to one claim in one disease at one taxonomic rank. The
evidence is one effect per cohort (cases minus controls, with its standard error and p-value)
and the random-effects pooled estimate with its 95% CI and I² (one cohort: its own estimate
and a normal CI). "For" means in the claimed direction (lower, or higher), "against" the other.

1. No cohort gives an estimate -> **not testable in data we hold** (the reason says why: no
   cohort at this rank, the taxa absent, or below the prevalence filter).
2. At least one cohort significant (p < 0.05) for and at least one significant against ->
   **mixed**.
3. The pooled CI lies wholly on the claimed side of 0 -> **supported**, unless I² >= 75%
   (cohorts differ more than chance allows), then **mixed**.
4. The pooled CI lies wholly on the other side -> **contradicted** (I² >= 75%: **mixed**).
5. Otherwise (the CI includes 0) -> **mixed**: no consistent difference in the data we hold.
   This is not evidence that there is no difference.

The verdict is never stronger than the data: a verdict from a single cohort says so in
``basis``, and class-level rows are kept apart from genus-level rows (never pooled together).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._data import package_table

__all__ = ["ALPHA", "I2_HIGH", "VERDICTS", "Verdict", "group_members", "load_claims", "verdict"]

#: significance level of a single cohort's effect in rule 2
ALPHA = 0.05
#: I² (percent) from which heterogeneity turns a one-sided pooled result into "mixed"
I2_HIGH = 75.0
VERDICTS = ("supported", "contradicted", "mixed", "not testable in data we hold")


def load_claims() -> pd.DataFrame:
    """The claims table (``gutaxis/data/atlas_claims.tsv``)."""
    return package_table("atlas_claims.tsv", dtype=str, keep_default_na=False)


def _key(name: str) -> str:
    return str(name).strip().strip("[]").replace("_", " ").casefold()


def group_members(members: str) -> tuple[set[str], str]:
    """Genus names (matching keys: casefolded, brackets dropped) of a claim's group, and a note.

    ``lactobacillus_2020``: the 25 genera of the former *Lactobacillus*
    (:func:`gutaxis.taxonomy.lactobacillus_group`); ``panel:<entry or panel>``: the ``genus=``
    clauses of those entries of ``panels.tsv`` (species and family clauses cannot be matched on a
    genus table and are reported in the note)."""
    if members == "lactobacillus_2020":
        from ..taxonomy import lactobacillus_group

        return {_key(g) for g in lactobacillus_group()}, "the 25 genera of the former genus Lactobacillus"
    if members.startswith("panel:"):
        from ..measure.panels import load_panels

        name = members.split(":", 1)[1]
        panels = load_panels()
        rows = panels[(panels["entry"] == name) | (panels["panel"] == name)]
        genera, left = set(), []
        for _, row in rows.iterrows():
            found = False
            for clause in str(row["match"]).split(";"):
                rank, _, names = clause.partition("=")
                if rank.strip() == "genus":
                    genera |= {_key(n) for n in names.split(",") if n.strip()}
                    found = True
            if not found:
                left.append(row["entry"])
        note = f"{len(genera)} genera" + (f"; left out at genus rank: {', '.join(left)}" if left else "")
        return genera, note
    raise ValueError(f"unknown claim members {members!r}")


@dataclass
class Verdict:
    verdict: str
    reason: str


def verdict(
    estimates,
    std_errors,
    pvalues,
    pooled: float,
    ci_low: float,
    ci_high: float,
    i2: float,
    direction: str,
    *,
    untestable_reason: str = "no cohort gives an estimate",
) -> Verdict:
    """Apply the rule of the module docstring. ``direction`` is ``"lower"`` or ``"higher"`` (the
    claim's direction of the effect cases - controls)."""
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction must be 'lower' or 'higher', got {direction!r}")
    est = np.asarray(estimates, dtype=float)
    p = np.asarray(pvalues, dtype=float)
    ok = np.isfinite(est) & np.isfinite(np.asarray(std_errors, dtype=float))
    if not ok.any() or not np.isfinite(pooled):
        return Verdict(VERDICTS[3], untestable_reason)
    sign = -1.0 if direction == "lower" else 1.0
    sig = ok & np.isfinite(p) & (p < ALPHA)
    n_for = int((sig & (sign * est > 0)).sum())
    n_against = int((sig & (sign * est < 0)).sum())
    if n_for and n_against:
        return Verdict("mixed", f"{n_for} cohort(s) significant in the claimed direction and {n_against} against")
    lo, hi = sorted((sign * ci_low, sign * ci_high))
    het = np.isfinite(i2) and i2 >= I2_HIGH
    if lo > 0:
        if het:
            return Verdict("mixed", f"pooled CI on the claimed side but I² = {i2:.0f}% (>= {I2_HIGH:.0f}%)")
        return Verdict("supported", "pooled 95% CI wholly in the claimed direction")
    if hi < 0:
        if het:
            return Verdict("mixed", f"pooled CI on the opposite side but I² = {i2:.0f}% (>= {I2_HIGH:.0f}%)")
        return Verdict("contradicted", "pooled 95% CI wholly in the opposite direction")
    return Verdict("mixed", "pooled 95% CI includes 0: no consistent difference in the data we hold")
