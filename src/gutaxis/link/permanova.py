"""PERMANOVA: permutational multivariate analysis of variance on a distance matrix.

Anderson (2001), Austral Ecology 26:32-46, doi:10.1111/j.1442-9993.2001.01070.pp.x;
McArdle & Anderson (2001), Ecology 82:290-297, doi:10.1890/0012-9658(2001)082[0290:FMMTCD]2.0.CO;2.
The table is that of vegan's ``adonis2`` (Oksanen et al., https://CRAN.R-project.org/package=vegan):

- ``G = -1/2 J D^2 J`` is the Gower-centred matrix of squared distances; the total sum of
  squares is ``trace(G)``.
- The model matrix is built as R's ``model.matrix`` spans it (terms ordered by degree, as R's
  ``terms()``), centred. For every term an orthonormal basis ``Q_k`` of what it adds is found
  (sequentially for ``by="terms"``; against all other terms for ``by="margin"``, testing only
  the terms not contained in a higher-order term, as vegan's ``drop.scope``). A term's sum of
  squares is ``trace(Q_k' G Q_k)``; ``F_k = (SS_k / Df_k) / (SS_res / Df_res)``, with the
  residual of the full model.
- Permutations reorder the samples (the rows and columns of ``G``; within blocks with
  ``strata``), the same permutation for all terms, as vegan's default "reduced" model without
  conditions. ``p = (#{F_perm >= F_obs - sqrt(eps)} + 1) / (permutations + 1)``. The seeded
  permutations are drawn over the samples in ID order, so that p does not depend on the order
  in which the samples come.
- Whole-block permutations (``strata`` with ``permute="whole"``; vegan's ``how(plots =
  Plots(strata, type = "free"), within = Within("none"))``): a permutation ``pi`` of the blocks
  gives every sample of block ``k`` the values of block ``pi[k]`` for the columns that are
  constant within blocks (a subject's diagnosis); samples are never exchanged within a block.
  vegan's ``permute`` requires blocks of equal size; here the block sizes stay where they are and
  only the block-level labels move, so unequal blocks are fine. Group sizes in samples then
  change from one permutation to the next, so each permutation is a refit: the fit is computed
  at block level, with ``S = B' G B`` (``B`` the samples x blocks indicator) and ``N`` the block
  sizes, ``trace(H G) = trace(Qt' N^-1/2 S N^-1/2 Qt)`` for ``Qt`` an orthonormal basis of
  ``N^1/2 [1, W[pi]]`` (``W`` the block-level model matrix): one batched QR of ``blocks x
  columns`` matrices per batch of permutations. On equal blocks this is vegan's permutation
  distribution. With ``blocks! - 1 <= permutations`` every block permutation is enumerated and
  p is exact. A column that varies within blocks cannot move with its block unless the blocks
  are of equal size: then the k-th sample (in ID order) of block ``k`` takes the values of the
  k-th sample of block ``pi[k]``, as vegan does, with a warning (such a term is not tested by
  whole-block permutations); on unequal blocks it is an error.

Fast path. ``trace(Q_p' G Q_p) = sum_c q_pc' G q_pc`` for the permuted basis ``Q_p = Q[perm]``.
For a batch of permutations the permuted basis vectors are stacked as the columns of one
``n x (m b)`` matrix ``Z`` and ``z' G z = 2 z' L z`` with ``L`` the lower triangle of ``G``
(half diagonal): one triangular matrix product (BLAS ``dtrmm``, ``n^2`` flops per column,
half of a general product) gives every quadratic form of the batch. Work is
``O(n^2 * rank * permutations)`` in BLAS-3 blocks; memory is ``D`` and ``G`` plus one batch.

Mixed precision (from 1,500 samples; ``precision="double"`` turns it off): the permuted
products run in float32 (``strmm``, twice the speed), which moves a permuted F by about 1e-6
relative (measured on every run: the first 16 permutations are computed both ways, and the run
falls back to float64 if the error exceeds 1e-5). Every permutation whose F lies within 0.1% of
``max(F_obs, 1)`` of an observed F is recomputed in float64, so each comparison
``F_perm >= F_obs`` — hence p — is decided in float64, with a margin of about 1,000 times the
float32 rounding error.

Layout: the formula and the design it spans (:class:`Term`, :func:`parse_formula`, the bases per
term) are in ``gutaxis.link._permanova_design``; the permutations restricted by blocks (the scheme
checks, :class:`PermutationWarning`, the block-level refit of whole-block permutations) in
``gutaxis.link._permanova_blocks``; here are the permutation engine (``_run``, also run block by
block on a Dask cluster by ``gutaxis.link._permanova_dask``) and :func:`permanova`. Import every
public name from this module: it re-exports the other two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from scipy.linalg import blas

from .._typing import AbundanceData, ClientLike, DistanceLike, SampleLabels
from ..errors import InputError
from ._permanova_blocks import (
    PermutationWarning,
    _balanced_sample_batches,
    _block_model,
    _block_run,
    _block_sums,
    _check_scheme,
)
from ._permanova_design import Term as Term
from ._permanova_design import _build_design, _Design, parse_formula
from ._permutations import (
    align_metadata,
    block_permutation_batches,
    distance_input,
    gower_centered,
    permutation_batches,
    show_ids,
    strata_codes,
)

__all__ = ["PermutationWarning", "parse_formula", "permanova"]

_EPS = np.sqrt(np.finfo(np.float64).eps)  # vegan: F.perm >= F.0 - EPS
_BATCH_BYTES = 2**25  # 32 MiB per stacked batch of permuted basis vectors


# ---------------------------------------------------------------------------------------------
# engine


def _lower_half(G: np.ndarray) -> np.ndarray:
    """Turn the C-contiguous symmetric ``G`` (in place) into its upper triangle with half the
    diagonal; return the F-contiguous transposed view: the lower triangle ``L``, ``G = L + L'``."""
    n = len(G)
    idx = np.arange(n)
    step = max(1, 2**22 // n)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        rows = G[r0:r1]
        rows[idx[None, :] < idx[r0:r1, None]] = 0.0
    G[idx, idx] *= 0.5
    return G.T


def _quadratic_forms(L: np.ndarray, U: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """``out[j, c] = u_c[perm_j]' G u_c[perm_j]`` for a batch of permutations (``G = L + L'``);
    in the precision of ``L`` (float64 or float32), returned as float64."""
    b, n = perms.shape
    m = U.shape[1]
    # rows of Z^T: (permutation j, column c) -> U[perms[j], c]; C-contiguous, so Z is F-contiguous
    Zt = np.ascontiguousarray(U.T[:, perms].transpose(1, 0, 2)).reshape(b * m, n)
    Z = Zt.T
    trmm = blas.strmm if L.dtype == np.float32 else blas.dtrmm
    M = trmm(1.0, L, Z, lower=1)  # L @ Z, n^2 flops per column
    return 2.0 * np.einsum("ij,ij->j", Z, M).astype(np.float64).reshape(b, m)


@dataclass
class _Result:
    ss: np.ndarray  # observed SS per tested term
    df: np.ndarray
    ss_res: float
    df_res: int
    total: float
    F: np.ndarray
    F_perm: np.ndarray  # (permutations, terms)
    precision: str  # "double" or "mixed"
    rechecked: int  # permutations recomputed in float64 (mixed precision)


_MIXED_MIN_N = 1500  # below this the float64 products are cheap enough
_MIXED_WINDOW = 1e-3  # permuted F within this (relative to max(F_obs, 1)) of F_obs are recomputed in float64
_MIXED_MAX_ERR = 1e-5  # float32 screening is abandoned if its relative error on F exceeds this
_MIXED_CHECK = 16  # permutations of the first batch computed both ways to measure that error


def _run(
    G: np.ndarray,
    design: _Design,
    n_perm: int,
    seed,
    strata,
    progress: Callable | None,
    precision: str = "mixed",
    order: np.ndarray | None = None,
    batches: Callable[[int], Iterator[np.ndarray]] | None = None,
) -> _Result:
    """Observed sums of squares and F per tested term, and the permuted F. ``G`` is overwritten.

    ``precision="mixed"`` (large ``n``): permutations are screened with float32 products (twice
    as fast); every permutation whose F lies within ``_MIXED_WINDOW * max(F_obs, 1)`` of an
    observed F is recomputed in float64, so the counts ``F_perm >= F_obs`` (hence p) are those
    of a float64 computation: float32 rounding moves F by about 1e-6 relative, and the first
    batch measures it (``_MIXED_CHECK`` permutations both ways); above ``_MIXED_MAX_ERR`` the run
    falls back to float64. The observed statistics are always float64.

    ``order``: the samples' positions in sample-ID order. The permutations are drawn over the
    samples in that order and mapped to the matrix's positions, so the same seed gives the same
    p-values whatever the order of the samples in the input.

    ``batches``: ``batches(size)`` yields the permutations (already in the matrix's positions)
    instead of :func:`permutation_batches`; ``order`` and ``strata`` are then not used.
    """
    n = len(G)
    if order is not None and strata is not None:
        strata = np.asarray(strata)[order]
    total = float(np.trace(G))
    L = _lower_half(G)
    blocks = list(design.bases) + ([design.full] if design.full is not None else [])
    U = np.hstack(blocks)
    owner = np.repeat(np.arange(len(blocks)), [B.shape[1] for B in blocks])
    n_terms = len(design.bases)
    group = np.zeros((U.shape[1], len(blocks)))
    group[np.arange(U.shape[1]), owner] = 1.0  # column -> block sums
    df = np.array([B.shape[1] for B in design.bases], dtype=np.float64)
    df_res = n - 1 - design.rank

    def F_of(perms, Lx, Ux):
        ss = _quadratic_forms(Lx, Ux, perms) @ group
        fit = ss[:, n_terms] if design.full is not None else ss.sum(axis=1)
        return (ss[:, :n_terms] / df) / ((total - fit) / df_res)[:, None], ss[:, :n_terms], total - fit

    F_obs, ss_obs, res_obs = F_of(np.arange(n)[None, :], L, U)
    F_obs = F_obs[0]
    mixed = precision == "mixed" and n >= _MIXED_MIN_N and n_perm > 0
    if mixed:
        L32, U32 = L.astype(np.float32), U.astype(np.float32)  # L32 keeps L's Fortran order
    window = _MIXED_WINDOW * np.maximum(np.abs(F_obs), 1.0)
    F_perm = np.empty((n_perm, n_terms))
    rechecked = 0
    if n_perm:
        cols = int(np.clip(_BATCH_BYTES // (8 * n), 16, 512))
        batch = max(1, cols // U.shape[1])
        done = 0
        source = (
            batches(batch) if batches is not None else permutation_batches(n, n_perm, seed, strata=strata, batch=batch)
        )
        for perms in source:
            if order is not None and batches is None:  # drawn in sample-ID order: p[order] = order[pi]
                mapped = np.empty_like(perms)
                mapped[:, order] = order[perms]
                perms = mapped
            if mixed:
                F = F_of(perms, L32, U32)[0]
                if done == 0:
                    k = min(_MIXED_CHECK, len(perms))
                    exact = F_of(perms[:k], L, U)[0]
                    err = float(np.max(np.abs(F[:k] - exact) / np.maximum(np.abs(exact), 1e-300)))
                    if not err <= _MIXED_MAX_ERR:
                        mixed = False
                        F = F_of(perms, L, U)[0]
                    else:
                        F[:k] = exact
                if mixed:
                    near = (np.abs(F - F_obs) <= window).any(axis=1)
                    if near.any():
                        F[near] = F_of(perms[near], L, U)[0]
                        rechecked += int(near.sum())
            else:
                F = F_of(perms, L, U)[0]
            F_perm[done : done + len(perms)] = F
            done += len(perms)
            if progress is not None:
                progress(done, n_perm)
    return _Result(
        ss_obs[0], df, float(res_obs[0]), int(df_res), total, F_obs, F_perm, "mixed" if mixed else "double", rechecked
    )


# ---------------------------------------------------------------------------------------------
# public


def permanova(
    distance: DistanceLike | AbundanceData,
    metadata: pd.DataFrame | None,
    formula_or_terms: str | Sequence[str],
    *,
    by: str = "terms",
    permutations: int = 999,
    strata: SampleLabels | None = None,
    permute: str = "within",
    seed: int | None = None,
    metric: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    precision: str = "mixed",
    client: ClientLike | None = None,
) -> pd.DataFrame:
    """PERMANOVA as vegan's ``adonis2``: a table of Df, SumOfSqs, R2, F and p per term.

    Parameters
    ----------
    distance
        A square distance matrix: DataFrame labelled by sample on both axes (e.g. from
        :func:`gutaxis.beta_diversity`), ndarray or ``numpy.memmap`` (matched to the metadata
        rows by position), or an object with ``.data`` and ``.ids`` (a scikit-bio
        ``DistanceMatrix``). Or a table of abundances (AnnData, or samples x taxa DataFrame)
        with ``metric``; an AnnData without ``metric`` uses Bray-Curtis.
    metadata
        DataFrame indexed by sample ID holding the formula's columns; ``None`` with an AnnData
        uses its ``obs``. Metadata rows matching no sample and samples without metadata are an
        :class:`~gutaxis.errors.InputError` that lists them.
    formula_or_terms
        ``"~ Phenotype"``, ``"~ diagnosis + age"``, ``"~ a * b"`` (``a + b + a:b``), or a list of
        terms ``["diagnosis", "age"]``. Numeric columns are continuous; others (text, bool,
        category) categorical; ``C(column)`` makes a numeric column categorical. Terms are
        ordered by degree, as R does.
    by
        ``"terms"`` (sequential, type I, vegan's default) or ``"margin"`` (each term against the
        model of all other terms; terms contained in an interaction are not tested).
    permutations
        Number of permutations (0: no p-values).
    strata
        Metadata column (or one label per sample) of blocks, e.g. ``"subject"`` for repeated
        measures; how the blocks restrict the permutations is ``permute``'s choice.
    permute
        With ``strata``: ``"within"`` (default) exchanges samples only within their block (vegan's
        ``how(blocks = strata)``), for terms that vary within blocks (time, treatment period);
        ``"whole"`` exchanges whole blocks: every sample of a block takes the block-level values
        of another block, samples within a block are never exchanged (vegan's ``how(plots =
        Plots(strata = strata, type = "free"), within = Within(type = "none"))``), for terms
        constant within blocks (a subject's diagnosis). Blocks of unequal size are allowed
        (vegan's ``permute`` refuses them): the block-level labels are permuted among blocks, each
        permutation refitted. With ``blocks! - 1 <= permutations`` all block permutations are
        enumerated (exact p). A ``PermutationWarning`` names a term the scheme cannot test:
        constant within blocks under ``"within"`` (its p is 1 by construction), varying within
        blocks under ``"whole"``; the latter is an error when the blocks are of unequal size.
    seed
        Seed of ``numpy.random.default_rng``; the same seed and data give the same p-values, in
        whatever order the samples come (the permutations are drawn over the samples in ID
        order; an unlabelled matrix in its own order). ``None`` draws one, recorded in
        ``attrs["params"]["seed"]``.
    metric
        ``"braycurtis"`` or ``"jaccard"``: ``distance`` is a table of abundances (see
        :func:`gutaxis.beta_diversity`; values as given, no renormalisation).
    progress
        Called as ``progress(done, permutations)`` after each batch of permutations.
    precision
        ``"mixed"`` (default): from 1,500 samples on, permutations are screened in float32 and
        every one whose F comes within 0.1% of an observed F is recomputed in float64, so p
        equals the float64 result (see the module notes); ``"double"``: all in float64. The
        observed Df, SumOfSqs, R2 and F are float64 either way.
    client
        A :class:`dask.distributed.Client` (or a scheduler address): the permutations are drawn
        here from the same seeded stream and their F computed in blocks on the cluster, so the
        table (p included) equals the single-machine one for the same seed (``docs/scale.md``).
        Whole-block permutations of block-level terms run on this machine.

    Returns
    -------
    pandas.DataFrame
        Rows: the tested terms, ``Residual``, ``Total``; columns ``Df``, ``SumOfSqs``, ``R2``,
        ``F``, ``p``. ``attrs["params"]`` holds the formula, ``by``, permutations, seed, strata,
        the permutation scheme (``permute``: ``"free"``, ``"within"`` or ``"whole"``, with the
        number and sizes of the blocks) and the distance's origin; ``attrs["n_samples"]`` the
        number of samples.

    Notes
    -----
    Anderson (2001), doi:10.1111/j.1442-9993.2001.01070.pp.x; McArdle & Anderson (2001),
    doi:10.1890/0012-9658(2001)082[0290:FMMTCD]2.0.CO;2; vegan ``adonis2``.
    """
    return _permanova(
        distance,
        metadata,
        formula_or_terms,
        by=by,
        permutations=permutations,
        strata=strata,
        permute=permute,
        seed=seed,
        metric=metric,
        progress=progress,
        precision=precision,
        client=client,
    )[0]


def _permanova(
    distance,
    metadata,
    formula_or_terms,
    *,
    by="terms",
    permutations=999,
    strata=None,
    permute="within",
    seed=None,
    metric=None,
    progress=None,
    precision="mixed",
    client=None,
) -> tuple[pd.DataFrame, _Result]:
    """:func:`permanova`, also returning the engine's result (with the permuted F)."""
    source = "permanova"
    if client is not None:
        from ..scale import check_client

        client = check_client(client, source)
    if precision not in ("mixed", "double"):
        raise InputError(f"precision={precision!r} is not one of 'mixed', 'double'", source=source)
    if by not in ("terms", "margin"):
        raise InputError(
            f"by={by!r} is not one of 'terms', 'margin'",
            source=source,
            hint="'terms' tests terms sequentially, 'margin' each against all others",
        )
    try:
        n_perm = int(permutations)
    except (TypeError, ValueError):
        n_perm = -1
    if n_perm < 0 or n_perm != permutations:
        raise InputError(f"permutations must be a whole number >= 0, got {permutations!r}", source=source)
    if permute not in ("within", "whole"):
        raise InputError(
            f"permute={permute!r} is not one of 'within', 'whole'",
            source=source,
            hint="'within' exchanges samples within their block of strata; 'whole' exchanges whole "
            "blocks (for terms constant within blocks, e.g. a subject's diagnosis)",
        )
    if permute == "whole" and strata is None:
        raise InputError(
            "permute='whole' needs strata: the column whose blocks are exchanged whole",
            source=source,
            hint="e.g. strata='subject', permute='whole' (command line: --strata subject --permute whole)",
        )
    terms = parse_formula(formula_or_terms)
    if metadata is None:
        if type(distance).__name__ == "AnnData":
            metadata = distance.obs
        else:
            raise InputError(
                "no metadata given",
                source=source,
                hint="pass a DataFrame indexed by sample ID with the formula's columns",
            )
    D, labels, origin = distance_input(distance, metric=metric, source=source)
    meta = align_metadata(labels, metadata, source="metadata")
    codes = strata_codes(strata, meta, labels, source=source)
    design = _build_design(meta, terms, by, source="metadata")
    if seed is None:  # a fresh SeedSequence's entropy is one int
        seed = int(cast(int, np.random.SeedSequence().entropy) % 2**63)
    strata_name = strata if isinstance(strata, str) or strata is None else "given per sample"
    scheme: dict = {"permute": "free"}
    block_level, batches, complete = False, None, False
    if codes is not None:
        sizes = np.bincount(codes)
        scheme = {
            "permute": permute,
            "blocks": len(sizes),
            "block_sizes": (
                f"all {int(sizes[0])}" if (sizes == sizes[0]).all() else f"{int(sizes.min())} to {int(sizes.max())}"
            ),
        }
        if n_perm > 0:  # the scheme matters only when there are permutations
            block_level, varying = _check_scheme(meta, terms, design.labels, codes, str(strata_name), permute, source)
        if permute == "whole" and n_perm > 0:
            if len(sizes) < 2:
                raise InputError(
                    f"strata {strata_name!r} has a single block: there is nothing to exchange",
                    source=source,
                    hint="whole-block permutations need at least two blocks",
                )
            complete = math.factorial(len(sizes)) - 1 <= n_perm
            if complete:
                n_perm = math.factorial(len(sizes)) - 1
            scheme["complete_enumeration"] = complete

            n_blocks, n_drawn = len(sizes), n_perm

            def block_batches(batch: int) -> Iterator[np.ndarray]:
                return block_permutation_batches(n_blocks, n_drawn, seed, batch=batch, complete=complete)

            if not block_level:
                if not (sizes == sizes[0]).all():
                    raise InputError(
                        f"column(s) {show_ids(varying)} vary within blocks of {strata_name!r}, whose sizes differ "
                        f"({int(sizes.min())} to {int(sizes.max())} samples): whole-block permutations can only "
                        "move values that are constant within blocks",
                        source=source,
                        hint=f"test the within-{strata_name} terms with permute='within' (--permute within) and the "
                        f"{strata_name}-level terms alone with permute='whole'",
                    )
                batches = _balanced_sample_batches(codes, labels, block_batches)
    G = gower_centered(D)
    del D
    order = None
    if not isinstance(labels, pd.RangeIndex):  # labelled samples: results independent of their order
        order = np.argsort(np.asarray([str(x) for x in labels], dtype=object), kind="stable")
    if permute == "whole" and block_level:
        assert codes is not None  # block_level needs strata
        S = _block_sums(G, codes)
        res = _run(G, design, 0, seed, None, None, precision, order)
        model = _block_model(meta, codes, terms, design, by, source="metadata")
        nb = len(sizes)
        batch = int(np.clip(_BATCH_BYTES // (8 * nb * model.W.shape[1] * 3), 1, 4096))
        res.F_perm = _block_run(
            S,
            sizes,
            res.total,
            model,
            design,
            len(terms),
            block_permutation_batches(nb, n_perm, seed, batch=batch, complete=complete),
            n_perm,
            progress,
        )
    elif client is not None:  # the same permutations, their F in blocks on the cluster
        from ._permanova_dask import run as run_dask

        res = run_dask(client, G, design, n_perm, seed, codes, progress, precision, order, batches)
    else:
        res = _run(G, design, n_perm, seed, codes, progress, precision, order, batches=batches)
    del G
    if n_perm:
        exceed = (res.F_perm >= res.F - _EPS).sum(axis=0)
        p = (exceed + 1.0) / (n_perm + 1.0)
    else:
        p = np.full(len(res.F), np.nan)
    rows = [*design.labels, "Residual", "Total"]
    n = len(labels)
    table = pd.DataFrame(
        {
            "Df": np.r_[res.df, res.df_res, n - 1].astype(int),
            "SumOfSqs": np.r_[res.ss, res.ss_res, res.total],
            "R2": np.r_[res.ss, res.ss_res, res.total] / res.total,
            "F": np.r_[res.F, np.nan, np.nan],
            "p": np.r_[p, np.nan, np.nan],
        },
        index=pd.Index(rows, name="term"),
    )
    table.attrs["params"] = {
        "formula": "~ " + " + ".join(t.label for t in terms),
        "by": by,
        "permutations": n_perm,
        "seed": seed,
        "strata": strata_name,
        **scheme,
        "distance": origin,
        "precision": res.precision,
        "rechecked_in_float64": res.rechecked,
        "method": "PERMANOVA (vegan adonis2 equivalent)",
    }
    table.attrs["n_samples"] = n
    return table, res
