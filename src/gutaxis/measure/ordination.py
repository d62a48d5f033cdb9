"""Principal coordinates analysis (classical multidimensional scaling).

Gower (1966), doi:10.1093/biomet/53.3-4.325; as vegan/stats ``cmdscale`` and scikit-bio
``pcoa`` (method ``eigh``): eigendecomposition of the double-centred matrix
``B = -1/2 J D^2 J`` (``J = I - 11'/n``). Coordinates on axis ``k`` are ``v_k sqrt(lambda_k)``.

Non-Euclidean distances (Bray-Curtis among them) give negative eigenvalues. They are reported,
not dropped: ``attrs["min_eigenvalue"]`` holds the most negative one, proportions explained
are relative to the sum of *all* eigenvalues (the trace of ``B``, as scikit-bio when fewer
axes than samples are asked for), a warning is given when the negative part is large, and an
axis whose eigenvalue is not positive gets coordinates 0 (as scikit-bio) with a note.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.linalg

from .._typing import AbundanceData, DistanceLike
from ..errors import InputError

__all__ = ["pcoa"]

_FULL_EIGH_MAX = 2000  # up to this many samples all eigenvalues are computed


def _as_distance(distance) -> tuple[np.ndarray, pd.Index]:
    if hasattr(distance, "to_data_frame") and hasattr(distance, "ids"):  # a scikit-bio DistanceMatrix
        distance = distance.to_data_frame()
    if isinstance(distance, pd.DataFrame):
        if not distance.index.equals(distance.columns):
            raise InputError(
                "the distance matrix's row and column labels differ",
                source="pcoa",
                hint="pass a square matrix with the same samples, in the same order, on both axes",
            )
        D = distance.to_numpy(dtype=np.float64)
        labels = pd.Index(distance.index, name="sample")
    else:
        D = np.asarray(distance, dtype=np.float64)
        labels = pd.RangeIndex(D.shape[0] if D.ndim == 2 else 0, name="sample")
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise InputError(
            f"expected a square distance matrix of at least 2 samples, got shape {D.shape}",
            source="pcoa",
        )
    bad = ~np.isfinite(D)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"missing or infinite distance between samples {labels[i]!r} and {labels[j]!r}",
            source="pcoa",
            hint="remove empty samples (their Bray-Curtis/Jaccard distances are NaN) and recompute",
        )
    scale = max(float(np.abs(D).max()), 1.0)
    if (D < 0).any():
        i, j = np.argwhere(D < 0)[0]
        raise InputError(f"negative distance between samples {labels[i]!r} and {labels[j]!r}", source="pcoa")
    if np.abs(np.diagonal(D)).max() > 1e-12 * scale:
        i = int(np.argmax(np.abs(np.diagonal(D))))
        raise InputError(f"non-zero self-distance of sample {labels[i]!r}", source="pcoa")
    asym = np.abs(D - D.T)
    if asym.max() > 1e-10 * scale:
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise InputError(
            f"the distance matrix is not symmetric: d({labels[i]!r}, {labels[j]!r}) != d({labels[j]!r}, {labels[i]!r})",
            source="pcoa",
        )
    return D, labels


def _is_table(x) -> bool:
    """An abundance table (AnnData, or a labelled samples x taxa DataFrame), not a distance matrix."""
    if type(x).__name__ == "AnnData":
        return True
    return isinstance(x, pd.DataFrame) and x.shape[0] != x.shape[1]  # square ones are checked as distances


def pcoa(distance: DistanceLike | AbundanceData, n_components: int = 2, *, metric: str | None = None) -> pd.DataFrame:
    """Principal coordinates of a distance matrix.

    Parameters
    ----------
    distance
        Square symmetric DataFrame labelled by sample (e.g. from :func:`beta_diversity`), a
        scikit-bio ``DistanceMatrix`` (its ids label the samples) or an ndarray, zero diagonal,
        no NaN; or, with ``metric``, an abundance table (AnnData or
        samples x taxa DataFrame) whose distances are computed first by :func:`beta_diversity`
        (blockwise, in bounded memory).
    n_components
        Number of axes (1 <= n_components <= n_samples).
    metric
        The distance to compute from an abundance table (e.g. ``"braycurtis"``, ``"aitchison"``);
        required for a table, refused for a distance matrix.

    Returns
    -------
    DataFrame ``samples x PC1..PCk``. ``attrs``: ``eigenvalues`` (of the k axes, descending),
    ``proportion_explained`` (eigenvalue / sum of all eigenvalues), ``total_inertia`` (that
    sum, the trace of B), ``min_eigenvalue`` (most negative eigenvalue, or the smallest),
    ``notes``. The sign of each axis is fixed so that its largest-magnitude coordinate is
    positive (eigenvectors have arbitrary sign; other tools may flip axes).

    Examples
    --------
    Three samples at equal distances form an equilateral triangle: two axes, each explaining half.

    >>> import pandas as pd
    >>> from gutaxis import pcoa
    >>> d = pd.DataFrame([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]], index=list("xyz"), columns=list("xyz"))
    >>> pcoa(d).attrs["proportion_explained"]
    [0.5, 0.5]
    """
    if _is_table(distance):
        if metric is None:
            what = (
                "an AnnData"
                if type(distance).__name__ == "AnnData"
                else f"a {distance.shape[0]} x {distance.shape[1]} table"
            )
            raise InputError(
                f"pcoa needs distances between samples; it was given {what} of abundances",
                source="pcoa",
                hint="say which distance, e.g. pcoa(adata, metric='braycurtis'), or pass "
                "gutaxis.beta_diversity(adata, metric=...) yourself",
            )
        from .beta import beta_diversity

        distance = beta_diversity(distance, metric=metric)
    elif metric is not None:
        raise InputError(
            "metric= is for an abundance table; this input is already a distance matrix",
            source="pcoa",
            hint="drop metric=, or pass the abundance table instead",
        )
    D, labels = _as_distance(distance)
    n = D.shape[0]
    if not (isinstance(n_components, (int, np.integer)) and 1 <= n_components <= n):
        raise InputError(f"n_components must be an integer in 1..{n}, got {n_components!r}", source="pcoa")
    k = int(n_components)

    B = D * D
    B *= -0.5
    row = B.mean(axis=1)
    B -= row[:, None]
    B -= row[None, :]  # B is symmetric: column means equal row means
    B += row.mean()
    trace = float(np.trace(B))

    if n <= _FULL_EIGH_MAX:
        w, V = scipy.linalg.eigh(B, overwrite_a=True, check_finite=False)
        w_min = float(w[0])
        neg_sum = float(w[w < 0].sum())
        w, V = w[::-1][:k], V[:, ::-1][:, :k]
    else:
        w_min = float(scipy.linalg.eigh(B, eigvals_only=True, subset_by_index=[0, 0], check_finite=False)[0])
        neg_sum = None
        w, V = scipy.linalg.eigh(B, subset_by_index=[n - k, n - 1], overwrite_a=True, check_finite=False)
        w, V = w[::-1], V[:, ::-1]

    w_max = max(float(w[0]), 0.0)
    tol = 1e-10 * max(w_max, abs(w_min), 1e-300)
    w = np.where(np.abs(w) <= tol, 0.0, w)
    notes = []
    if w_min < -tol:
        msg = f"the distances are not Euclidean: the most negative eigenvalue is {w_min:.6g} (largest {w_max:.6g})"
        if neg_sum is not None:
            msg += f"; negative eigenvalues sum to {neg_sum:.6g}"
        notes.append(msg + "; proportions are relative to the sum of all eigenvalues, negatives included")
        if -w_min > 0.05 * w_max:
            warnings.warn(
                "pcoa: " + msg + " — consider a Euclidean distance (e.g. the square root of Bray-Curtis)",
                UserWarning,
                stacklevel=2,
            )
    nonpos = np.flatnonzero(w <= 0)
    if len(nonpos):
        notes.append(
            f"axes {', '.join(f'PC{a + 1}' for a in nonpos)} have eigenvalue <= 0: their coordinates are set to 0"
        )

    # deterministic sign: largest-magnitude coordinate positive
    big = np.argmax(np.abs(V), axis=0)
    V = V * np.where(V[big, np.arange(V.shape[1])] < 0, -1.0, 1.0)
    coords = V * np.sqrt(np.where(w > 0, w, 0.0))

    result = pd.DataFrame(coords, index=labels, columns=[f"PC{a + 1}" for a in range(k)])
    result.attrs["eigenvalues"] = [float(v) for v in w]
    result.attrs["proportion_explained"] = [float(v) / trace if trace != 0 else float("nan") for v in w]
    result.attrs["total_inertia"] = trace
    result.attrs["min_eigenvalue"] = w_min
    result.attrs["notes"] = notes
    result.attrs["params"] = {"n_components": k, "method": "eigh"}
    return result
