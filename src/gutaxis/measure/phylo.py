"""Phylogenetic diversity: Faith's PD and unweighted/weighted UniFrac, computed by scikit-bio.

gutaxis does not re-implement these: it reads the tree, checks that every feature of the table
is a tip of it (and names those that are not), and passes the table to scikit-bio
(``skbio.diversity.alpha_diversity("faith_pd", ...)`` and
``skbio.diversity.beta_diversity("unweighted_unifrac" | "weighted_unifrac", ...)``; scikit-bio,
doi:10.5281/zenodo.593387).

- Faith's phylogenetic diversity (Faith 1992, doi:10.1016/0006-3207(92)91201-3): the total
  branch length of the part of the tree that joins the sample's features to the root.
- Unweighted UniFrac (Lozupone & Knight 2005, doi:10.1128/AEM.71.12.8228-8235.2005): the
  fraction of the branch length under either sample that leads to one sample only.
- Weighted UniFrac (Lozupone et al. 2007, doi:10.1128/AEM.01996-06):
  ``sum_i b_i |A_i / A_T - B_i / B_T|`` over branches ``i`` of length ``b_i`` (``A_i``: the
  sample's count under branch ``i``, ``A_T`` its total); ``normalized=True`` divides by
  ``sum_j d_j (A_j / A_T + B_j / B_T)`` over the tips ``j`` at distance ``d_j`` from the root,
  which bounds it to [0, 1]. scikit-bio's default (and gutaxis's) is unnormalized.

Faith's PD and unweighted UniFrac use presence (value > 0) only, so relative abundances work
as well as counts (gutaxis passes presence as 0/1 integers). scikit-bio computes weighted
UniFrac on integer counts (it truncates other values), so a table with non-integer values is
refused for it, with a hint to give the counts.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AbundanceData, TreeLike
from .._validation import abundance_matrix
from ..errors import InputError

__all__ = ["faith_pd", "read_tree", "unifrac"]


def read_tree(tree):
    """A ``skbio.TreeNode`` from a Newick file path (or a TreeNode, returned as is)."""
    from skbio import TreeNode

    if isinstance(tree, TreeNode):
        return tree
    if isinstance(tree, (str, os.PathLike)):
        path = Path(tree)
        if not path.is_file():
            raise InputError("tree file not found", source=path, hint="give the path of a Newick (.nwk/.tre) file")
        try:
            with warnings.catch_warnings():  # its "does not look like a newick file" becomes our error
                warnings.simplefilter("ignore")
                return TreeNode.read(str(path), format="newick")
        except Exception as exc:
            raise InputError(
                f"cannot read a Newick tree: {exc}",
                source=path,
                hint="the file must hold one tree in Newick format, e.g. '((A:1,B:2):1,C:3);'",
            ) from None
    raise InputError(
        f"expected a Newick file path or a skbio.TreeNode, got {type(tree).__name__}",
        source="tree",
        hint="e.g. tree='tree.nwk'",
    )


def _check_tree(tree, features: pd.Index, source: str) -> None:
    tips = [t.name for t in tree.tips()]
    names = pd.Index(tips)
    if names.has_duplicates:
        dup = names[names.duplicated()]
        raise InputError(
            f"the tree has {len(dup)} duplicate tip name(s), e.g. {dup[0]!r}",
            source=source,
            hint="tip names must be unique feature IDs",
        )
    missing = features.difference(names, sort=False)
    if len(missing):
        shown = ", ".join(repr(m) for m in missing[:10])
        raise InputError(
            f"{len(missing)} of {len(features)} feature(s) are not tips of the tree: {shown}"
            f"{' ...' if len(missing) > 10 else ''}",
            source=source,
            hint="use a tree built for these features (tip names = feature IDs), or drop the "
            "features that are not in it before computing phylogenetic diversity",
        )
    no_length = [n for n in tree.traverse(include_self=False) if n.length is None]
    if no_length:
        node = no_length[0]
        raise InputError(
            f"{len(no_length)} branch(es) of the tree have no length (e.g. above {node.name or 'an unnamed node'!r})",
            source=source,
            hint="phylogenetic diversity sums branch lengths: give a tree with a length on every branch",
        )


def _prepare(data, tree, layer, source: str, *, counts: bool):
    X, samples, features = abundance_matrix(data, layer=layer, name=source)
    tree = read_tree(tree)
    _check_tree(tree, features, source)
    X = X.toarray() if sp.issparse(X) else X
    if counts:
        frac = np.floor(X) != X
        if frac.any():
            i, k = np.argwhere(frac)[0]
            raise InputError(
                f"non-integer value {X[i, k]!r} for sample {samples[i]!r}, feature {features[k]!r}: "
                "scikit-bio computes weighted UniFrac on integer counts",
                source=source,
                hint="give the count table (e.g. an AnnData's layers['counts'] with layer='counts')",
            )
        M = X.astype(np.int64)
    else:
        M = (X > 0).astype(np.int64)
    return M, samples, features, tree


def faith_pd(data: AbundanceData, tree: TreeLike, *, layer: str | None = None) -> pd.Series:
    """Faith's phylogenetic diversity of every sample, by scikit-bio.

    Parameters
    ----------
    data
        AnnData or samples x features DataFrame (counts or relative abundances; presence
        ``> 0`` is what counts).
    tree
        Newick file or ``skbio.TreeNode``; every feature must be a tip, every branch needs a
        length.
    layer
        AnnData layer to use instead of ``X``.

    Returns
    -------
    Series indexed by sample, named ``faith_pd``.
    """
    from skbio.diversity import alpha_diversity

    M, samples, features, tree = _prepare(data, tree, layer, "faith_pd", counts=False)
    try:
        pd_ = alpha_diversity("faith_pd", M, ids=list(samples), taxa=list(features), tree=tree)
    except ValueError as exc:
        raise InputError(
            f"scikit-bio refused the table or tree: {exc}",
            source="faith_pd",
            hint="check that the tree is rooted and its tip names are the feature IDs",
        ) from None
    out = pd.Series(np.asarray(pd_, dtype=np.float64), index=samples, name="faith_pd")
    out.attrs["params"] = {"metric": "faith_pd", "engine": "scikit-bio"}
    return out


def unifrac(
    data: AbundanceData,
    tree: TreeLike,
    *,
    weighted: bool = False,
    normalized: bool = False,
    layer: str | None = None,
) -> pd.DataFrame:
    """UniFrac distances between all samples, by scikit-bio.

    Parameters
    ----------
    data
        AnnData or samples x features DataFrame. Unweighted UniFrac uses presence only; weighted
        UniFrac needs integer counts.
    tree
        Newick file or ``skbio.TreeNode`` with every feature as a tip.
    weighted
        Weighted (abundance) instead of unweighted (presence) UniFrac.
    normalized
        Weighted UniFrac only: divide by the tips' mean distance to the root (range [0, 1]).
    layer
        AnnData layer to use instead of ``X``.

    Returns
    -------
    Square DataFrame indexed and labelled by sample.
    """
    from skbio.diversity import beta_diversity

    metric = "weighted_unifrac" if weighted else "unweighted_unifrac"
    if normalized and not weighted:
        raise InputError(
            "normalized=True applies to weighted UniFrac only",
            source=metric,
            hint="unweighted UniFrac is a fraction already; give weighted=True or leave normalized out",
        )
    M, samples, features, tree = _prepare(data, tree, layer, metric, counts=weighted)
    kwargs = {"normalized": bool(normalized)} if weighted else {}
    try:
        dm = beta_diversity(metric, M, ids=list(samples), taxa=list(features), tree=tree, **kwargs)
    except ValueError as exc:
        raise InputError(
            f"scikit-bio refused the table or tree: {exc}",
            source=metric,
            hint="check that the tree is rooted and its tip names are the feature IDs",
        ) from None
    out = pd.DataFrame(np.asarray(dm.data, dtype=np.float64), index=samples, columns=samples.copy())
    out.attrs["params"] = {
        "metric": metric,
        "normalized": bool(normalized) if weighted else None,
        "engine": "scikit-bio",
    }
    return out
