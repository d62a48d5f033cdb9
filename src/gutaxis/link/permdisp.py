"""PERMDISP: a test of homogeneity of multivariate dispersions (distance to group centres).

Anderson (2006), Biometrics 62:245-253, doi:10.1111/j.1541-0420.2005.00440.x; as vegan's
``betadisper`` + ``permutest.betadisper`` (Oksanen et al., https://CRAN.R-project.org/package=vegan):

1. Principal coordinates of the distance matrix: eigenvectors of ``G = -1/2 J D^2 J`` scaled
   by ``sqrt(|eigenvalue|)``, keeping every axis with ``|lambda / lambda_1| > 1e-7`` — the
   negative ones too (non-Euclidean distances such as Bray-Curtis have them).
2. Group centres: centroids (means) or spatial medians (``center="median"``; computed on the
   positive and on the negative axes separately, as vegan).
3. The distance of each sample to its group centre,
   ``z = sqrt(|sum_pos (x - c)^2 - sum_neg (x - c)^2|)``: the negative axes are imaginary and
   subtract (the correction for negative eigenvalues). With ``bias_adjust``,
   ``z * sqrt(n_g / (n_g - 1))``.
4. One-way ANOVA F of ``z`` by group. Permutations shuffle the residuals of that ANOVA
   (``z`` minus its group mean) and refit, as ``permutest.betadisper``;
   ``p = (#{F_perm >= F_obs} + 1) / (permutations + 1)`` with both F rounded to 12 digits,
   as vegan.

scikit-bio's ``permdisp`` uses the positive axes only (and, by default, only 10 of them) and
recomputes the centres for every permutation, so its F equals ours where the distances are
Euclidean and all axes are kept, and its p-values follow a different (also valid) scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
import scipy.linalg

from .._typing import AbundanceData, DistanceLike, SampleLabels
from ..errors import InputError
from ._permutations import align_metadata, distance_input, gower_centered, permutation_batches, show_ids

__all__ = ["PermdispResult", "permdisp"]

_EIG_TOL = 1e-7  # vegan betadisper: axes with |lambda / lambda_1| <= TOL are dropped


@dataclass
class PermdispResult:
    """Result of :func:`permdisp`.

    Attributes
    ----------
    table
        ANOVA table, rows ``Groups`` and ``Residual``; columns ``Df``, ``SumOfSqs``, ``MeanSqs``,
        ``F``, ``p`` (as vegan's ``permutest``).
    distances
        Distance of every sample to its group centre (vegan's ``$distances``).
    dispersion
        Mean distance to the centre per group.
    centers
        Group centres in principal-coordinate space (groups x axes).
    eigenvalues
        Eigenvalues of the axes kept (negative ones included).
    """

    table: pd.DataFrame
    distances: pd.Series
    dispersion: pd.Series
    centers: pd.DataFrame
    eigenvalues: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def F(self) -> float:
        return float(self.table.at["Groups", "F"])

    @property
    def p(self) -> float:
        return float(self.table.at["Groups", "p"])


def _grouping(grouping, labels: pd.Index, metadata, distance, source: str) -> tuple[np.ndarray, list, str]:
    if isinstance(grouping, str):
        if metadata is None and type(distance).__name__ == "AnnData":
            metadata = distance.obs
        if metadata is None:
            raise InputError(
                f"grouping {grouping!r} is a column name but no metadata was given",
                source=source,
                hint="pass metadata=DataFrame, or the groups themselves (a Series indexed by sample)",
            )
        meta = align_metadata(labels, metadata, source="metadata")
        if grouping not in meta.columns:
            raise InputError(
                f"unknown column {grouping!r}",
                source="metadata",
                hint=f"the metadata columns are: {show_ids([str(c) for c in meta.columns], 12)}",
            )
        values, name = meta[grouping], grouping
    elif isinstance(grouping, pd.Series) and not isinstance(labels, pd.RangeIndex):
        values = align_metadata(labels, grouping.to_frame("group"), source="grouping")["group"]
        name = str(grouping.name) if grouping.name is not None else "group"
    else:
        arr = np.asarray(grouping, dtype=object).ravel()
        if len(arr) != len(labels):
            raise InputError(
                f"grouping has {len(arr)} values for {len(labels)} samples",
                source=source,
                hint="give one group per sample, in the distance matrix's order",
            )
        values, name = pd.Series(arr, index=labels), "group"
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(
            f"group {name!r} is missing for {int(missing.sum())} sample(s): {show_ids(labels[missing])}",
            source=source,
            hint="give every sample a group, or leave those samples out",
        )
    codes, levels = pd.factorize(values, sort=True)
    if len(levels) < 2:
        raise InputError(
            f"group {name!r} has a single level ({levels[0]!r}): nothing to compare",
            source=source,
            hint="PERMDISP needs at least two groups",
        )
    return codes.astype(np.int64), list(levels), name


def _spatial_median(X: np.ndarray, tol: float = 1e-12, maxiter: int = 10000) -> np.ndarray:
    """Point minimising the sum of Euclidean distances to the rows of ``X`` (Weiszfeld's
    iteration with the Vardi & Zhang 2000 modification for an iterate on a data point,
    doi:10.1073/pnas.97.4.1423), started at the coordinate-wise median as vegan's ``ordimedian``."""
    if X.shape[1] == 0 or len(X) == 1:
        return X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
    y = np.median(X, axis=0)
    scale = max(float(np.abs(X).max()), 1e-300)
    for _ in range(maxiter):
        diff = X - y
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        at = d <= 1e-14 * scale
        w = 1.0 / d[~at]
        T = (w[:, None] * X[~at]).sum(axis=0) / w.sum()
        eta = int(at.sum())
        if eta:
            R = (w[:, None] * diff[~at]).sum(axis=0)
            r = float(np.linalg.norm(R))
            gamma = min(1.0, eta / r) if r > 0 else 1.0
            y_new = (1.0 - gamma) * T + gamma * y
        else:
            y_new = T
        if np.linalg.norm(y_new - y) <= tol * scale:
            return y_new
        y = y_new
    return y


def permdisp(
    distance: DistanceLike | AbundanceData,
    grouping: SampleLabels,
    *,
    permutations: int = 999,
    seed: int | None = None,
    center: str = "centroid",
    bias_adjust: bool = False,
    metadata: pd.DataFrame | None = None,
    metric: str | None = None,
) -> PermdispResult:
    """PERMDISP (vegan ``betadisper`` + ``permutest``): do groups differ in dispersion?

    Parameters
    ----------
    distance
        Square distance matrix (DataFrame labelled by sample, ndarray, scikit-bio
        ``DistanceMatrix``), or a table of abundances (AnnData / samples x taxa DataFrame) with
        ``metric`` (see :func:`gutaxis.permanova`).
    grouping
        A column of ``metadata`` (or of an AnnData's ``obs``), a Series indexed by sample ID,
        or one label per sample in the matrix's order.
    permutations
        Permutations of the ANOVA residuals (0: no p-value).
    seed
        Seed of ``numpy.random.default_rng``; the permutations are drawn over the samples in ID
        order, so the same seed gives the same p whatever the order of the samples.
    center
        ``"centroid"`` (default) or ``"median"`` (spatial median; vegan's default).
    bias_adjust
        Multiply distances by ``sqrt(n_g / (n_g - 1))`` (vegan ``bias.adjust``), for small groups.
    metadata
        DataFrame indexed by sample ID, when ``grouping`` is a column name.
    metric
        ``"braycurtis"`` or ``"jaccard"`` when ``distance`` is a table of abundances.

    Returns
    -------
    PermdispResult
        ``.table`` (ANOVA with permutation p), ``.distances``, ``.dispersion``, ``.centers``,
        ``.eigenvalues``; ``.F`` and ``.p``.

    Notes
    -----
    Anderson (2006), doi:10.1111/j.1541-0420.2005.00440.x; Anderson, Ellingsen & McArdle (2006),
    doi:10.1111/j.1461-0248.2006.00926.x; vegan ``betadisper``.
    """
    source = "permdisp"
    if center not in ("centroid", "median"):
        raise InputError(f"center={center!r} is not one of 'centroid', 'median'", source=source)
    if int(permutations) != permutations or permutations < 0:
        raise InputError(f"permutations must be a whole number >= 0, got {permutations!r}", source=source)
    n_perm = int(permutations)
    D, labels, origin = distance_input(distance, metric=metric, source=source)
    codes, levels, name = _grouping(grouping, labels, metadata, distance, source)
    n, k = len(labels), len(levels)
    if n - k < 1:
        raise InputError(f"{n} samples in {k} groups leave no residual degrees of freedom", source=source)

    G = gower_centered(D)
    w, V = scipy.linalg.eigh(G, overwrite_a=True, check_finite=False)
    w, V = w[::-1], V[:, ::-1]
    keep = np.abs(w / w[0]) > _EIG_TOL
    w, V = w[keep], V[:, keep]
    X = V * np.sqrt(np.abs(w))
    pos = w > 0
    counts = np.bincount(codes, minlength=k)
    if center == "centroid":
        C = np.zeros((k, X.shape[1]))
        np.add.at(C, codes, X)
        C /= counts[:, None]
    else:
        C = np.zeros((k, X.shape[1]))
        for g in range(k):
            Xg = X[codes == g]
            C[g, pos] = _spatial_median(Xg[:, pos])
            C[g, ~pos] = _spatial_median(Xg[:, ~pos])
    diff = X - C[codes]
    d_pos = np.einsum("ij,ij->i", diff[:, pos], diff[:, pos])
    d_neg = np.einsum("ij,ij->i", diff[:, ~pos], diff[:, ~pos])
    z = np.sqrt(np.abs(d_pos - d_neg))
    if bias_adjust:
        z = z * np.sqrt(counts[codes] / np.maximum(counts[codes] - 1, 1))

    # one-way ANOVA of z by group, and its residual permutations
    means = np.bincount(codes, weights=z, minlength=k) / counts
    resid = z - means[codes]
    ss_between = float(np.sum(counts * (means - z.mean()) ** 2))
    ss_within = float(np.sum(resid**2))
    df_b, df_w = k - 1, n - k
    F_obs = (ss_between / df_b) / (ss_within / df_w) if ss_within > 0 else np.inf
    p = np.nan
    if n_perm:
        if seed is None:
            seed = int(cast(int, np.random.SeedSequence().entropy) % 2**63)
        ind = np.zeros((n, k))
        ind[np.arange(n), codes] = 1.0
        exceed = 0
        F0 = np.round(F_obs, 12)
        # drawn over the samples in ID order (p[order] = order[pi]): p does not depend on their order
        order = (
            None
            if isinstance(labels, pd.RangeIndex)
            else np.argsort(np.asarray([str(x) for x in labels], dtype=object), kind="stable")
        )
        for perms in permutation_batches(n, n_perm, seed, batch=max(1, 2**22 // n)):
            if order is not None:
                mapped = np.empty_like(perms)
                mapped[:, order] = order[perms]
                perms = mapped
            R = resid[perms]  # (b, n) permuted residuals
            M = (R @ ind) / counts  # group means of the permuted residuals
            grand = R.mean(axis=1, keepdims=True)
            mss = ((M - grand) ** 2 * counts).sum(axis=1)
            rss = ((R - M[:, codes]) ** 2).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                Fp = (mss / df_b) / (rss / df_w)
            exceed += int(np.sum(np.round(Fp, 12) >= F0))
        p = (exceed + 1.0) / (n_perm + 1.0)
    table = pd.DataFrame(
        {
            "Df": [df_b, df_w],
            "SumOfSqs": [ss_between, ss_within],
            "MeanSqs": [ss_between / df_b, ss_within / df_w],
            "F": [F_obs, np.nan],
            "p": [p, np.nan],
        },
        index=pd.Index(["Groups", "Residual"], name="term"),
    )
    axes = [f"PCoA{i + 1}" for i in range(X.shape[1])]
    params = {
        "grouping": name,
        "center": center,
        "bias_adjust": bool(bias_adjust),
        "permutations": n_perm,
        "seed": seed,
        "distance": origin,
        "n_samples": n,
        "negative_axes": int((~pos).sum()),
        "method": "PERMDISP (vegan betadisper + permutest equivalent)",
    }
    table.attrs["params"] = params
    return PermdispResult(
        table=table,
        distances=pd.Series(z, index=pd.Index(labels, name="sample"), name="distance_to_center"),
        dispersion=pd.Series(means, index=pd.Index(levels, name=name), name="mean_distance"),
        centers=pd.DataFrame(C, index=pd.Index(levels, name=name), columns=axes),
        eigenvalues=w,
        params=params,
    )
