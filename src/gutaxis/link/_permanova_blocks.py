"""PERMANOVA's permutations restricted by blocks (``strata``): within blocks, or of whole blocks.

:func:`_check_scheme` warns (:class:`PermutationWarning`) when the scheme cannot test a term: a term
constant within every block under ``permute="within"``, one that varies within blocks under
``permute="whole"``. Whole-block permutations of block-level terms are a refit per permutation at
block level (:func:`_block_sums`, :func:`_block_model`, :func:`_block_run`; see the notes of
:mod:`gutaxis.link.permanova`); on blocks of equal size, terms that vary within blocks move as
vegan moves them, as sample permutations (:func:`_balanced_sample_batches`).

Kept apart from the sample-permutation engine and the public entry (:mod:`gutaxis.link.permanova`,
which re-exports :class:`PermutationWarning` and is the public place to import it from): the blocked
schemes have their own algebra and checks, and only the entry calls them. This module imports the
design (``gutaxis.link._permanova_design``), never :mod:`gutaxis.link.permanova`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._permanova_design import _RANK_TOL, Term, _Design, _term_matrix


class PermutationWarning(UserWarning):
    """A permutation scheme that cannot test a term (e.g. a term constant within the strata)."""


# ---------------------------------------------------------------------------------------------
# whole-block (plot) permutations


def _constant_within(values: pd.Series, codes: np.ndarray) -> bool:
    """True when ``values`` takes one value in every block (``codes``)."""
    frame = pd.DataFrame({"v": values.astype(str).to_numpy(), "b": codes})
    return bool((frame.groupby("b")["v"].nunique() <= 1).all())


def _block_sums(G: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``S = B' G B``: the sums of ``G`` over every pair of blocks (``B`` the samples x blocks
    indicator, sparse), in O(n^2) time and O(n * blocks) extra memory."""
    from scipy import sparse

    n = len(codes)
    B = sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, int(codes.max()) + 1))
    S = np.asarray(B.T @ G)  # blocks x n
    S = np.asarray(B.T @ S.T).T  # (B' S')' = S B, as G is symmetric
    return (S + S.T) / 2


@dataclass
class _BlockModel:
    W: np.ndarray  # blocks x (1 + columns): intercept and linearly independent block-level columns
    owner: np.ndarray  # term index of each column of W (-1: intercept)
    margins: list[np.ndarray] | None  # by="margin": per tested term, the column order with that term last


def _block_model(
    meta: pd.DataFrame, codes: np.ndarray, terms: list[Term], design: _Design, by: str, source: str
) -> _BlockModel:
    """The block-level model matrix: one row per block (its first sample's values), the columns of
    every term kept when they add to the intercept and the terms before them (as the sample-level
    design, whose ranks they reproduce: ``rank(B W) = rank(W)``)."""
    n_blocks = int(codes.max()) + 1
    first = np.unique(codes, return_index=True)[1]  # in block-code order
    bmeta = meta.iloc[first]
    cache: dict = {}
    with warnings.catch_warnings():  # the sample-level design already warned about these columns
        warnings.simplefilter("ignore")
        mats = [_term_matrix(bmeta, t, source, cache) for t in terms]
    cols, owners = [np.full(n_blocks, 1.0 / np.sqrt(n_blocks))], [-1]
    Q = cols[0][:, None]
    for k, X in enumerate(mats):
        for c in range(X.shape[1]):
            x = X[:, c]
            r = x - Q @ (Q.T @ x)
            r -= Q @ (Q.T @ r)
            norm = np.linalg.norm(r)
            if norm > _RANK_TOL * max(1.0, float(np.linalg.norm(x))):
                cols.append(x)
                owners.append(k)
                Q = np.hstack([Q, (r / norm)[:, None]])
    W, owner = np.column_stack(cols), np.asarray(owners)
    df_terms = [int((owner == k).sum()) for k in range(len(terms))]
    margins = None
    if by == "terms":
        expected = [B.shape[1] for B in design.bases]
        if df_terms != expected:  # pragma: no cover - guarded by rank(B W) = rank(W)
            raise RuntimeError(f"block-level degrees of freedom {df_terms} differ from the design's {expected}")
    else:
        margins = []
        for label in design.labels:
            k = next(i for i, t in enumerate(terms) if t.label == label)
            margins.append(np.r_[np.flatnonzero(owner != k), np.flatnonzero(owner == k)])
    return _BlockModel(W, owner, margins)


def _block_run(
    S: np.ndarray,
    sizes: np.ndarray,
    total: float,
    model: _BlockModel,
    design: _Design,
    n_terms_all: int,
    batches: Iterator[np.ndarray],
    n_perm: int,
    progress: Callable | None,
) -> np.ndarray:
    """Permuted F per tested term for every block permutation of ``batches``: block ``k`` takes the
    block-level values of block ``pi[k]`` and keeps its size ``sizes[k]``."""
    root = np.sqrt(sizes.astype(np.float64))
    St = S / root[:, None] / root[None, :]  # N^-1/2 S N^-1/2
    df = np.array([B.shape[1] for B in design.bases], dtype=np.float64)
    df_res = len(design.bases[0]) - 1 - design.rank
    F_perm = np.empty((n_perm, len(design.bases)))
    tested = model.owner >= 0
    done = 0
    for perms in batches:
        V = root[None, :, None] * model.W[perms]  # (b, blocks, columns)
        Qt = np.linalg.qr(V)[0]
        ss_col = np.einsum("bic,bic->bc", Qt, St @ Qt)
        fit = ss_col[:, tested].sum(axis=1)
        if model.margins is None:
            ss = np.stack([ss_col[:, model.owner == k].sum(axis=1) for k in range(n_terms_all)], axis=1)
        else:
            ss = np.empty((len(perms), len(model.margins)))
            for j, cols in enumerate(model.margins):
                k = model.owner[cols[-1]]
                Qm = np.linalg.qr(V[:, :, cols])[0]
                last = Qm[:, :, -int((model.owner == k).sum()) :]
                ss[:, j] = np.einsum("bic,bic->b", last, St @ last)
        F_perm[done : done + len(perms)] = (ss / df) / ((total - fit) / df_res)[:, None]
        done += len(perms)
        if progress is not None:
            progress(done, n_perm)
    return F_perm


def _balanced_sample_batches(codes: np.ndarray, labels: pd.Index, block_batches: Callable[[int], Iterator]):
    """Whole-block permutations of equal blocks as sample permutations (vegan's): the k-th sample,
    in ID order, of block ``b`` takes the place of the k-th sample of block ``pi[b]``."""
    if isinstance(labels, pd.RangeIndex):  # an unlabelled matrix: its own order
        ids = np.arange(len(codes))
    else:
        ids = np.asarray([str(x) for x in labels], dtype=object)
    order = np.lexsort((ids, codes))  # by block, then by ID
    slots = order.reshape(int(codes.max()) + 1, -1)  # blocks x samples per block: matrix positions

    def make(batch: int) -> Iterator[np.ndarray]:
        for pis in block_batches(batch):
            out = np.empty((len(pis), len(codes)), dtype=np.int64)
            out[:, slots.ravel()] = slots[pis].reshape(len(pis), -1)
            yield out

    return make


def _check_scheme(
    meta: pd.DataFrame,
    terms: list[Term],
    tested: list[str],
    codes: np.ndarray,
    strata_name: str,
    permute: str,
    source: str,
) -> tuple[bool, list[str]]:
    """Warn when the permutation scheme cannot test a term; return (every formula column constant
    within blocks, the columns that vary within blocks)."""
    columns = list(dict.fromkeys(c for t in terms for c, _ in t.variables))
    varying = [c for c in columns if not _constant_within(meta[c], codes)]
    by_label = {t.label: t for t in terms}
    for label in tested:
        t = by_label[label]
        constant = all(c not in varying for c in t.columns)
        if permute == "within" and constant:
            warnings.warn(
                f"{source}: term {label!r} is constant within every block of {strata_name!r}: permutations within "
                f"blocks never change it, so its p is 1 by construction, whatever the data. To test a "
                f"{strata_name}-level term, exchange whole blocks: permute='whole' (command line: --strata "
                f"{strata_name} --permute whole)",
                PermutationWarning,
                stacklevel=4,
            )
        elif permute == "whole" and not constant:
            which = ", ".join(repr(c) for c in t.columns if c in varying)
            warnings.warn(
                f"{source}: term {label!r} varies within blocks of {strata_name!r} (column {which}): whole-block "
                f"permutations never exchange samples within a block, so its p does not test it. Test "
                f"within-{strata_name} terms with permute='within' (command line: --strata {strata_name} "
                f"--permute within), in a separate run",
                PermutationWarning,
                stacklevel=4,
            )
    return not varying, varying
