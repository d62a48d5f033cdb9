"""Faith's PD and UniFrac (gutaxis.measure.phylo), computed through scikit-bio.

The tree is built here from the iMSMS ASVs' taxonomy lineages (one node per named rank, the
ASVs as tips, every branch of length 1). Three independent references:

- scikit-bio called directly on the same table and tree;
- the same quantities counted from the lineages by this file's own code (with unit branch
  lengths Faith's PD is the number of distinct lineage nodes above the sample's ASVs, UniFrac
  compares those node sets or the abundances under them);
- a small case worked by hand (3 taxa, 2 samples).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import gutaxis
from gutaxis.errors import InputError
from gutaxis.measure import beta_diversity, faith_pd, unifrac

skbio = pytest.importorskip("skbio")
from skbio import TreeNode  # noqa: E402  (after the importorskip: skip, not fail, without scikit-bio)
from skbio.diversity import alpha_diversity as sk_alpha  # noqa: E402  (same)
from skbio.diversity import beta_diversity as sk_beta  # noqa: E402  (same)


def lineage_paths(taxonomy: pd.Series) -> dict[str, tuple[str, ...]]:
    """ASV -> its named ranks from the root ('k__Bacteria', 'p__...', ...); stops at the first
    unnamed rank ('g__', 's__')."""
    out = {}
    for asv, lineage in taxonomy.items():
        ranks = []
        for part in str(lineage).split(";"):
            part = part.strip()
            if not part or part.endswith("__"):
                break
            ranks.append(part)
        out[asv] = tuple(ranks)
    return out


def build_tree(paths: dict[str, tuple[str, ...]]) -> TreeNode:
    """A rooted tree: one internal node per lineage prefix, the ASVs as tips, branch lengths 1."""
    root = TreeNode()
    nodes: dict[tuple[str, ...], TreeNode] = {(): root}
    for asv, path in paths.items():
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if prefix not in nodes:
                node = TreeNode(length=1.0)
                nodes[path[: depth - 1]].append(node)
                nodes[prefix] = node
        nodes[path].append(TreeNode(name=asv, length=1.0))
    return root


def node_sets(paths, table: pd.DataFrame) -> dict[str, set]:
    """Each sample's branches (identified by the node below them): its ASVs and all their
    lineage prefixes."""
    sets = {}
    for s, row in table.iterrows():
        present = row.index[row.to_numpy() > 0]
        nodes = set()
        for asv in present:
            nodes.add(("tip", asv))
            p = paths[asv]
            nodes.update(p[:d] for d in range(1, len(p) + 1))
        sets[s] = nodes
    return sets


def node_weights(paths, row: pd.Series) -> dict:
    """Proportion of the sample's reads under each branch."""
    w: dict = {}
    total = row.sum()
    for asv, v in row[row > 0].items():
        for key in [("tip", asv)] + [paths[asv][:d] for d in range(1, len(paths[asv]) + 1)]:
            w[key] = w.get(key, 0.0) + v / total
    return w


@pytest.fixture(scope="module")
def cohort(shared):
    counts = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_counts.tsv.gz"), sep="\t", index_col=0)
    taxonomy = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_sequences_taxonomy.tsv"), sep="\t", index_col=0)[
        "taxonomy"
    ]
    table = counts.iloc[:, 3::29].iloc[:, :40].T
    table = table.loc[:, (table > 0).any()]
    paths = lineage_paths(taxonomy.loc[table.columns])
    return table, paths, build_tree(paths)


def test_faith_pd_equals_scikit_bio_and_lineage_count(cohort, tmp_path):
    table, paths, tree = cohort
    assert table.shape[1] > 500
    nwk = tmp_path / "tree.nwk"
    tree.write(str(nwk), format="newick")
    ours = faith_pd(table, nwk)  # from the Newick file
    assert list(ours.index) == list(table.index)
    ref = sk_alpha("faith_pd", table.to_numpy().astype(int), ids=list(table.index), taxa=list(table.columns), tree=tree)
    assert np.abs(ours.to_numpy() - ref.to_numpy()).max() < 1e-9
    counted = pd.Series({s: float(len(n)) for s, n in node_sets(paths, table).items()})
    assert np.abs(ours.to_numpy() - counted.loc[table.index].to_numpy()).max() < 1e-9
    # presence is what counts: relative abundances give the same PD; so does a TreeNode
    rel = table.div(table.sum(axis=1), axis=0)
    assert np.abs(gutaxis.faith_pd(rel, tree).to_numpy() - ours.to_numpy()).max() < 1e-12


def test_unifrac_equals_scikit_bio_and_lineage_count(cohort):
    table, paths, tree = cohort
    ids, taxa, M = list(table.index), list(table.columns), table.to_numpy().astype(int)
    uw = unifrac(table, tree)
    w = unifrac(table, tree, weighted=True)
    wn = unifrac(table, tree, weighted=True, normalized=True)
    for ours, kwargs, metric in (
        (uw, {}, "unweighted_unifrac"),
        (w, {}, "weighted_unifrac"),
        (wn, {"normalized": True}, "weighted_unifrac"),
    ):
        ref = sk_beta(metric, M, ids=ids, taxa=taxa, tree=tree, **kwargs)
        err = np.abs(ours.to_numpy() - ref.data).max()
        assert err < 1e-9, (metric, kwargs, err)
    # through beta_diversity's metric names
    assert np.abs(beta_diversity(table, "unweighted_unifrac", tree=tree).to_numpy() - uw.to_numpy()).max() < 1e-12
    assert np.abs(beta_diversity(table, "weighted_unifrac", tree=tree).to_numpy() - w.to_numpy()).max() < 1e-12
    # counted from the lineages (unit branch lengths)
    sets = node_sets(paths, table)
    pairs = [(0, 1), (2, 17), (5, 39), (10, 11)]
    for i, j in pairs:
        a, b = sets[ids[i]], sets[ids[j]]
        assert uw.iloc[i, j] == pytest.approx(len(a ^ b) / len(a | b), abs=1e-12)
        wa, wb = node_weights(paths, table.iloc[i]), node_weights(paths, table.iloc[j])
        u = sum(abs(wa.get(k, 0.0) - wb.get(k, 0.0)) for k in set(wa) | set(wb))
        assert w.iloc[i, j] == pytest.approx(u, abs=1e-9)
        # normalisation: tips' depths (lineage length + 1) weighted by both samples' proportions
        depth = {asv: len(paths[asv]) + 1 for asv in taxa}
        den = sum(depth[t] * (wa.get(("tip", t), 0.0) + wb.get(("tip", t), 0.0)) for t in taxa)
        assert wn.iloc[i, j] == pytest.approx(u / den, abs=1e-9)


def test_hand_worked_three_taxa_two_samples():
    tree = TreeNode.read(io.StringIO("((A:1,B:2):1,C:3);"))
    t = pd.DataFrame([[1, 0, 1], [0, 2, 0]], index=["s1", "s2"], columns=["A", "B", "C"])
    # s1 spans A (1), the AB branch (1) and C (3): 5; s2 spans B (2) and AB (1): 3
    assert faith_pd(t, tree).tolist() == [5.0, 3.0]
    # branches under only one sample: A, C, B = 1 + 3 + 2 of the 7 under either -> 6/7
    assert unifrac(t, tree).loc["s1", "s2"] == pytest.approx(6 / 7, abs=1e-12)
    # weighted: A 1*|.5-0| + B 2*|0-1| + AB 1*|.5-1| + C 3*|.5-0| = 4.5
    assert unifrac(t, tree, weighted=True).loc["s1", "s2"] == pytest.approx(4.5, abs=1e-12)
    # normalised by the tips' root distances: s1 .5*2 + .5*3, s2 1*3 -> 5.5
    assert unifrac(t, tree, weighted=True, normalized=True).loc["s1", "s2"] == pytest.approx(4.5 / 5.5, abs=1e-12)


def test_errors_name_the_features_and_what_to_do(tmp_path):
    tree = TreeNode.read(io.StringIO("((A:1,B:2):1,C:3);"))
    t = pd.DataFrame([[1, 0, 1, 4], [0, 2, 0, 1]], index=["s1", "s2"], columns=["A", "B", "C", "Dx"])
    with pytest.raises(InputError, match=r"1 of 4 feature\(s\) are not tips of the tree: 'Dx'.*tree built for"):
        faith_pd(t, tree)
    ok = t.drop(columns="Dx")
    with pytest.raises(InputError, match=r"non-integer value.*sample 's1', feature 'A'.*counts"):
        unifrac(ok / 2.0 + 0.25 * (ok > 0), tree, weighted=True)
    with pytest.raises(InputError, match="no length"):
        faith_pd(ok, TreeNode.read(io.StringIO("((A,B:2):1,C:3);")))
    with pytest.raises(InputError, match="tree file not found"):
        faith_pd(ok, tmp_path / "missing.nwk")
    bad = tmp_path / "bad.nwk"
    bad.write_text("this is not newick (((")
    with pytest.raises(InputError, match="Newick"):
        faith_pd(ok, bad)
    with pytest.raises(InputError, match="needs a phylogenetic tree"):
        beta_diversity(ok, "weighted_unifrac")
    with pytest.raises(InputError, match="normalized=True applies to weighted"):
        unifrac(ok, tree, normalized=True)
