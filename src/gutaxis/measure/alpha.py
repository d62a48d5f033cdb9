"""Alpha diversity: richness, Shannon, Simpson, inverse Simpson, Pielou evenness, Chao1.

Definitions follow vegan's ``diversity()``, ``specnumber()`` and ``estimateR()`` (Oksanen et al.,
https://CRAN.R-project.org/package=vegan). Every index is computed from the per-sample
proportions ``p = x / sum(x)`` of the values as given: the table is not renormalised beyond
that, so unclassified mass kept as a feature counts like any other feature (as in vegan).

- richness ``S``: number of taxa with ``x > 0``.
- Shannon ``H = -sum p ln p`` (Shannon 1948, doi:10.1002/j.1538-7305.1948.tb01338.x); divided
  by ``ln(base)`` for another logarithm base.
- Simpson ``1 - sum p^2`` (Gini-Simpson; Simpson 1949, doi:10.1038/163688a0) and inverse
  Simpson ``1 / sum p^2``.
- Pielou evenness ``J = H / ln S`` (Pielou 1966, doi:10.1016/0022-5193(66)90013-0); undefined
  (NaN) when ``S <= 1``. It does not depend on ``base``.
- Chao1, bias-corrected: ``S_obs + F1 (F1 - 1) / (2 (F2 + 1))`` with ``F1``/``F2`` the numbers of
  singletons/doubletons (Chao 1987, doi:10.2307/2531532), as vegan ``estimateR`` and
  scikit-bio ``chao1(bias_corrected=True)``. Needs integer counts.

All indices come from one pass over the stored values of each sample (numba, parallel over
samples): O(nnz) for sparse tables; zeros of dense tables are skipped without conversion,
which measured faster than converting to CSR first. The same pass validates the values
(negative, NaN, inf), so the table is read once and not copied (float64 input).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AbundanceData
from .._validation import _check_table, _check_values, _float64_matrix, _is_anndata, zero_sum_samples
from ..errors import InputError
from . import _kernels

__all__ = [
    "ALPHA_METRICS",
    "DEFAULT_ALPHA_METRICS",
    "alpha_diversity",
    "chao1",
    "inverse_simpson",
    "pielou",
    "richness",
    "shannon",
    "simpson",
]

ALPHA_METRICS = ("richness", "shannon", "simpson", "inverse_simpson", "pielou", "chao1")
DEFAULT_ALPHA_METRICS = ALPHA_METRICS


class _Sums:
    """Per-sample sufficient statistics from one kernel pass, which also validates the values."""

    __slots__ = ("f1", "f2", "nnz", "nonint", "p2", "plogp", "suspect", "total")

    def __init__(self, X):
        n = X.shape[0]
        self.total = np.empty(n)
        self.nnz = np.empty(n, dtype=np.int64)
        self.plogp = np.empty(n)
        self.p2 = np.empty(n)
        self.f1 = np.empty(n, dtype=np.int64)
        self.f2 = np.empty(n, dtype=np.int64)
        self.nonint = np.empty(n, dtype=np.int64)
        self.suspect = np.empty(n, dtype=np.bool_)
        args = (self.total, self.nnz, self.plogp, self.p2, self.f1, self.f2, self.nonint, self.suspect)
        nchunk = 8 * numba.get_num_threads()
        if sp.issparse(X):
            X = X.tocsr()
            indptr = X.indptr.astype(np.int64, copy=False)
            data = np.ascontiguousarray(X.data, dtype=np.float64)
            _kernels.alpha_sums_csr(indptr, data.view(np.uint64), nchunk, *args)
        else:
            X = np.asarray(X, dtype=np.float64)
            if not (X.flags.c_contiguous or X.flags.f_contiguous):
                X = np.ascontiguousarray(X)
            # read in place, C or F order (what DataFrame.to_numpy often returns)
            _kernels.alpha_sums_dense(X.view(np.uint64), nchunk, *args)


def _matrix_and_sums(data, layer, name, n_jobs):
    """Validated ``(X, samples, features, sums)``: the checks of
    :func:`gutaxis._validation.abundance_matrix`, the value checks fused into the kernel pass.

    The kernel flags rows holding anything but zeros and positive finite values; only then
    is the full check run, which raises the same :class:`InputError` naming the first bad
    cell (a flagged -0.0 passes it, and the kernel has left it out like any zero)."""
    X, samples, features = _float64_matrix(data, layer=layer, name=name)
    _check_table(X, samples, features, name=name)
    with _kernels.threads(n_jobs):
        st = _Sums(X)
    if st.suspect.any():
        _check_values(X, samples, features, name=name)
    return X, samples, features, st


def _first_noninteger(X, rows, samples, features):
    """(sample, taxon, value) of the first non-integer cell in the first non-integer row."""
    i = int(rows[0])
    if sp.issparse(X):
        a, b = X.indptr[i], X.indptr[i + 1]
        vals, cols = X.data[a:b], X.indices[a:b]
    else:
        vals = X[i]
        cols = np.arange(X.shape[1])
    k = int(np.flatnonzero(vals != np.floor(vals))[0])
    return samples[i], features[int(cols[k])], float(vals[k])


def alpha_diversity(
    data: AbundanceData,
    metrics: Sequence[str] | str = DEFAULT_ALPHA_METRICS,
    *,
    base: float = np.e,
    layer: str | None = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Alpha diversity indices per sample.

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame of relative abundances or counts (dense or sparse).
    metrics
        Any of ``richness``, ``shannon``, ``simpson`` (1 - sum p^2), ``inverse_simpson``,
        ``pielou``, ``chao1``. With the default (all six), Chao1 is computed only when counts
        are available and is otherwise left out with a note in ``attrs["notes"]``; asking for
        ``chao1`` explicitly without counts raises :class:`InputError`.
    base
        Logarithm base of Shannon (default e, nats, as vegan and scikit-bio >= 0.6.1).
    layer
        AnnData layer to use instead of ``X``.
    n_jobs
        Numba threads (default: all cores).

    Returns
    -------
    DataFrame indexed by sample, one float column per metric (in the order asked).
    ``attrs["params"]`` holds the parameters, ``attrs["notes"]`` explains any NaN or omitted
    metric, ``attrs["counts_source"]`` says where Chao1 counts came from.

    Notes
    -----
    Counts are the values of the table itself when every value is an integer, else an
    AnnData's ``layers["counts"]`` (when ``layer`` is not given). Samples summing to zero raise
    :class:`InputError` (every index divides by the total).

    Examples
    --------
    Two samples of three genera (counts); hand-checked: Shannon of (0.6, 0.3, 0.1) is
    -(0.6 ln 0.6 + 0.3 ln 0.3 + 0.1 ln 0.1) = 0.898, Gini-Simpson 1 - (0.36 + 0.09 + 0.01) = 0.54.

    >>> import pandas as pd
    >>> from gutaxis import alpha_diversity
    >>> counts = pd.DataFrame({"Bacteroides": [60, 0], "Faecalibacterium": [30, 50], "Prevotella": [10, 50]},
    ...                       index=["s1", "s2"])
    >>> alpha_diversity(counts, ["richness", "shannon", "simpson"]).round(3)
            richness  shannon  simpson
    sample
    s1           3.0    0.898     0.54
    s2           2.0    0.693     0.50
    """
    default = metrics is DEFAULT_ALPHA_METRICS
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in ALPHA_METRICS]
    if unknown or not metrics:
        raise InputError(
            f"unknown alpha diversity metric {unknown[0]!r}" if unknown else "no alpha diversity metric requested",
            source="alpha_diversity",
            hint=f"choose from {', '.join(ALPHA_METRICS)}",
        )
    if not (np.isfinite(base) and base > 0 and base != 1):
        raise InputError(f"logarithm base {base!r} is not usable", source="alpha_diversity", hint="use e, 2 or 10")

    X, samples, features, st = _matrix_and_sums(data, layer, "table", n_jobs)
    zero_sum_samples(st.total[:, None], samples)

    notes: list[str] = []
    counts_source = None
    cst = None
    if "chao1" in metrics:
        if not st.nonint.any():
            counts_source, cst = ("X" if layer is None else f"layers[{layer!r}]"), st
        elif layer is None and _is_anndata(data) and "counts" in data.layers:
            C, _, _, cst = _matrix_and_sums(data, "counts", "layers['counts']", n_jobs)
            zero_sum_samples(cst.total[:, None], samples, name="layers['counts']")
            if cst.nonint.any():
                s, t, v = _first_noninteger(C, np.flatnonzero(cst.nonint), samples, features)
                raise InputError(
                    f"chao1 needs integer counts but layers['counts'] holds {v!r} for sample {s!r}, taxon {t!r}",
                    source="layers['counts']",
                    hint="store raw read counts in layers['counts']",
                )
            counts_source = "layers['counts']"
        elif default:
            metrics = tuple(m for m in metrics if m != "chao1")
            notes.append(
                "chao1 omitted: it needs integer counts (singletons/doubletons) and the table holds "
                "non-integer values (relative abundances) with no layers['counts']"
            )
        else:
            s, t, v = _first_noninteger(X, np.flatnonzero(st.nonint), samples, features)
            raise InputError(
                f"chao1 needs integer counts but the table holds non-integer values (e.g. {v!r} for "
                f"sample {s!r}, taxon {t!r})",
                source="alpha_diversity",
                hint="pass raw read counts, or an AnnData with layers['counts']; relative abundances "
                "have no singletons or doubletons",
            )

    out = {}
    for m in metrics:
        if m == "richness":
            out[m] = st.nnz.astype(np.float64)
        elif m == "shannon":
            h = -st.plogp
            out[m] = h / np.log(base) if base != np.e else h
        elif m == "simpson":
            out[m] = 1.0 - st.p2
        elif m == "inverse_simpson":
            out[m] = 1.0 / st.p2
        elif m == "pielou":
            with np.errstate(divide="ignore", invalid="ignore"):
                j = np.where(st.nnz > 1, -st.plogp / np.log(np.maximum(st.nnz, 2)), np.nan)
            low = np.flatnonzero(st.nnz <= 1)
            if len(low):
                notes.append(
                    f"pielou is NaN for {len(low)} sample(s) with richness <= 1 (H / ln S is 0/0), "
                    f"e.g. {samples[low[0]]!r}"
                )
            out[m] = j
        elif m == "chao1":
            assert cst is not None  # chao1 is kept only with integer counts found above
            f1 = cst.f1.astype(np.float64)
            out[m] = cst.nnz + f1 * (f1 - 1.0) / (2.0 * (cst.f2 + 1.0))
    result = pd.DataFrame(out, index=samples, columns=list(metrics))
    result.attrs["params"] = {"metrics": list(metrics), "base": float(base), "layer": layer}
    result.attrs["notes"] = notes
    if counts_source is not None and "chao1" in metrics:
        result.attrs["counts_source"] = counts_source
    return result


def _one(data, metric, **kw) -> pd.Series:
    s = alpha_diversity(data, (metric,), **kw)[metric]
    s.attrs = {}
    return s


def shannon(data: AbundanceData, *, base: float = np.e, layer: str | None = None) -> pd.Series:
    """Shannon index ``-sum p log_base p`` per sample (vegan ``diversity(x, "shannon")``)."""
    return _one(data, "shannon", base=base, layer=layer)


def simpson(data: AbundanceData, *, layer: str | None = None) -> pd.Series:
    """Gini-Simpson index ``1 - sum p^2`` per sample (vegan ``diversity(x, "simpson")``)."""
    return _one(data, "simpson", layer=layer)


def inverse_simpson(data: AbundanceData, *, layer: str | None = None) -> pd.Series:
    """Inverse Simpson ``1 / sum p^2`` per sample (vegan ``diversity(x, "invsimpson")``)."""
    return _one(data, "inverse_simpson", layer=layer)


def richness(data: AbundanceData, *, layer: str | None = None) -> pd.Series:
    """Observed richness: number of taxa with a value > 0 (vegan ``specnumber``)."""
    return _one(data, "richness", layer=layer)


def pielou(data: AbundanceData, *, layer: str | None = None) -> pd.Series:
    """Pielou evenness ``H / ln S`` per sample; NaN where richness <= 1."""
    return _one(data, "pielou", layer=layer)


def chao1(data: AbundanceData, *, layer: str | None = None) -> pd.Series:
    """Bias-corrected Chao1 richness from integer counts (vegan ``estimateR``)."""
    return _one(data, "chao1", layer=layer)
