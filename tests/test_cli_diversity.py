"""``gutaxis diversity``: alpha and beta diversity of a real 16S cohort (iMSMS ASV counts) against
scikit-bio called directly on the same counts and tree, and the command's refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_measure_phylo import build_tree, lineage_paths
from typer.testing import CliRunner

from gutaxis.cli import app

skbio = pytest.importorskip("skbio")


@pytest.fixture(scope="module")
def cohort(shared, tmp_path_factory):
    counts = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_counts.tsv.gz"), sep="\t", index_col=0)
    taxonomy = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_sequences_taxonomy.tsv"), sep="\t", index_col=0)[
        "taxonomy"
    ]
    table = counts.iloc[:, 5::31].iloc[:, :24].T  # samples x ASVs, 24 samples spread over the cohort
    table = table.loc[:, (table > 0).any()]
    tree = build_tree(lineage_paths(taxonomy.loc[table.columns]))
    folder = tmp_path_factory.mktemp("diversity")
    table.T.rename_axis("feature").to_csv(folder / "asv.tsv", sep="\t")  # features as rows, as QIIME exports
    tree.write(str(folder / "tree.nwk"), format="newick")
    return table, tree, folder


def run(*args):
    return CliRunner().invoke(app, ["diversity", *map(str, args)])


def test_alpha_beta_faith_unifrac_match_scikit_bio(cohort, tmp_path):
    table, tree, folder = cohort
    out = tmp_path / "div"
    r = run(folder / "asv.tsv", "-o", out, "--tree", folder / "tree.nwk", "--alpha", "richness,shannon,chao1",
            "--beta", "braycurtis,jaccard,unweighted_unifrac,weighted_unifrac")  # fmt: skip
    assert r.exit_code == 0, r.output
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0).loc[table.index]
    X = table.to_numpy().astype(int)
    ids, taxa = list(table.index), list(table.columns)
    from skbio.diversity import alpha_diversity as sk_alpha
    from skbio.diversity import beta_diversity as sk_beta

    assert np.array_equal(alpha["richness"].to_numpy(), (X > 0).sum(1))
    assert np.allclose(alpha["shannon"], [skbio.diversity.alpha.shannon(x, base=np.e) for x in X], rtol=1e-12)
    assert np.allclose(alpha["chao1"], [skbio.diversity.alpha.chao1(x, bias_corrected=True) for x in X], rtol=1e-12)
    faith = sk_alpha("faith_pd", X, ids=ids, taxa=taxa, tree=tree)
    assert np.allclose(alpha["faith_pd"], faith.loc[ids], rtol=1e-12)
    for metric, kw in (("braycurtis", {}), ("jaccard", {}), ("unweighted_unifrac", {"taxa": taxa, "tree": tree}),
                       ("weighted_unifrac", {"taxa": taxa, "tree": tree})):  # fmt: skip
        ours = pd.read_csv(out / f"beta_{metric}.tsv", sep="\t", index_col=0).loc[ids, ids]
        # unrarefied, Bray-Curtis compares relative abundances (the profile's X), not depth-dependent counts
        given = {"jaccard": X > 0, "braycurtis": X / X.sum(1, keepdims=True)}.get(metric, X)
        ref = sk_beta(metric, given, ids=ids, **kw).to_data_frame()
        assert np.allclose(ours.to_numpy(), ref.loc[ids, ids].to_numpy(), atol=1e-12), metric
        pc = pd.read_csv(out / f"pcoa_{metric}.tsv", sep="\t", index_col=0)
        assert list(pc.columns) == ["PC1", "PC2"] and set(pc.index) == set(ids)
    record = json.loads((out / "provenance.json").read_text())
    assert record["params"]["beta"][-1] == "weighted_unifrac"
    assert 0 < record["params"]["pcoa_proportion_explained"]["braycurtis"][0] < 1


def test_rarefy_to_a_depth_leaves_out_the_shallow_samples_and_says_which(cohort, tmp_path):
    table, _, folder = cohort
    totals = table.sum(axis=1).sort_values()
    depth = int(totals.iloc[3])  # three samples have fewer reads (ties aside)
    shallow = sorted(totals.index[totals < depth])
    out = tmp_path / "rare"
    r = run(folder / "asv.tsv", "-o", out, "--rarefy", depth, "--seed", 7, "--beta", "none")
    assert r.exit_code == 0, r.output
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert sorted(set(table.index) - set(alpha.index)) == shallow and len(shallow) >= 1
    record = json.loads((out / "provenance.json").read_text())["params"]["rarefaction"]
    assert record["depth"] == depth and sorted(record["dropped"]) == shallow and record["seed"] == 7
    assert f"left out {len(shallow)} sample(s)" in " ".join(r.output.split())
    # subsampling only removes reads: no sample gains a feature
    full = (table.loc[alpha.index] > 0).sum(axis=1)
    assert (alpha["richness"] <= full).all() and (alpha["richness"] < full).any()
    assert not list(out.glob("beta_*"))
    again = tmp_path / "again"
    assert run(folder / "asv.tsv", "-o", again, "--rarefy", depth, "--seed", 7, "--beta", "none").exit_code == 0
    assert (again / "alpha.tsv").read_bytes() == (out / "alpha.tsv").read_bytes()  # same seed, same table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beta", "unweighted_unifrac"], "needs --tree"),
        (["--beta", "bray"], "unknown metric"),
        (["--alpha", "shannon,shannon"], "names a metric twice"),
        (["--rarefy", "-5"], "whole number of reads"),
        (["--rarefy", "lots"], "whole number of reads"),
    ],
)
def test_refusals_name_the_option_and_write_nothing(cohort, tmp_path, args, message):
    _, _, folder = cohort
    out = tmp_path / "never"
    r = run(folder / "asv.tsv", "-o", out, *args)
    assert r.exit_code != 0 and message in " ".join(r.output.split())
    assert not out.exists()


def test_relative_abundances_cannot_be_rarefied(shared, tmp_path):
    path = shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt")
    out = tmp_path / "x"
    r = run(path, "-o", out, "--rarefy", "min")
    assert r.exit_code != 0 and "relative abundances cannot be rarefied" in " ".join(r.output.split())
    assert not out.exists()
