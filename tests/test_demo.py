"""gutaxis.demo.demo_cohort: a seeded, clearly labelled SYNTHETIC cohort."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from gutaxis.demo import _norm, demo_cohort
from gutaxis.errors import InputError

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "strain", "taxon", "rank", "lineage")


@pytest.fixture(scope="module")
def cohort():
    return demo_cohort(n_healthy=40, n_dysbiotic=40, seed=0)


def test_shape_labels_and_synthetic_marks(cohort):
    assert cohort.shape[0] == 80
    assert cohort.obs["group"].value_counts().to_dict() == {"healthy": 40, "dysbiotic": 40}
    for col in ("group", "subject_id", "age", "sex", "synthetic"):
        assert col in cohort.obs.columns
    assert cohort.obs["synthetic"].all()
    assert cohort.uns["synthetic"] is True
    assert "SYNTHETIC" in cohort.uns["title"] and "SYNTHETIC" in cohort.uns["description"]
    assert cohort.obs_names.is_unique and cohort.obs["subject_id"].is_unique
    assert cohort.obs["age"].between(18, 90).all()
    prov = cohort.uns["provenance"]
    assert prov["reader"] == "gutaxis.demo.demo_cohort" and prov["params"]["seed"] == 0
    assert prov["filtered"] == []


def test_counts_and_proportions(cohort):
    counts = cohort.layers["counts"]
    assert np.array_equal(counts, np.round(counts)) and (counts >= 0).all()
    depth = counts.sum(axis=1)
    assert (depth >= 15000).all() and (depth <= 80000).all()
    np.testing.assert_allclose(cohort.X, counts / depth[:, None], rtol=0, atol=1e-15)
    np.testing.assert_allclose(cohort.X.sum(axis=1), 1.0)
    # rare taxa seen once or twice: what Chao1 needs
    assert ((counts == 1).sum(axis=1) > 0).mean() > 0.5


def test_var_follows_the_data_contract(cohort, shared):
    for col in RANKS:
        assert col in cohort.var.columns
    assert (cohort.var["rank"] == "species").all()
    assert (
        cohort.var["lineage"]
        .astype(str)
        .str.match(r"^k__(Bacteria|Archaea)\|p__\w+\|c__\w+\|o__\w+\|f__\w+\|g__\w+\|s__\w+$")
        .all()
    )
    assert cohort.var_names.tolist() == cohort.var["species"].astype(str).tolist()
    # real species names: the 7 GMHI health-prevalent species and common gut species are there
    mh = [_norm(s) for s in shared("data", "gmhi2020_validation", "MH_species.txt").read_text().split()]
    names = {_norm(s) for s in cohort.var_names}
    assert set(mh) <= names
    for sp in (
        "Faecalibacterium prausnitzii",
        "Prevotella copri",
        "Akkermansia muciniphila",
        "Escherichia coli",
        "Ruminococcus gnavus",
        "Lacticaseibacillus rhamnosus",
        "Bifidobacterium longum",
    ):
        assert sp in cohort.var_names
    assert cohort.var.loc["Escherichia coli", "family"] == "Enterobacteriaceae"
    assert pd.isna(cohort.var.loc["Bacteroidales bacterium ph8", "genus"])


def test_same_seed_same_cohort_other_seed_other_cohort():
    a, b, c = demo_cohort(10, 12, seed=7), demo_cohort(10, 12, seed=7), demo_cohort(10, 12, seed=8)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.layers["counts"], b.layers["counts"])
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert not np.array_equal(a.layers["counts"], c.layers["counts"])
    assert a.shape == (22, a.n_vars)


def test_generates_in_under_a_second():
    demo_cohort(5, 5)  # imports done
    t0 = time.perf_counter()
    demo_cohort(n_healthy=100, n_dysbiotic=100, seed=3)
    assert time.perf_counter() - t0 < 1.0


def test_groups_differ_in_the_published_direction(cohort):
    from gutaxis.measure import alpha_diversity, gmhi, panel_abundance

    g = gmhi(cohort)
    healthy = (cohort.obs["group"] == "healthy").to_numpy()
    # sanity property: healthy mostly GMHI > 0, dysbiotic mostly < 0
    assert (g[healthy] > 0).mean() >= 0.85
    assert (g[~healthy] < 0).mean() >= 0.85
    alpha = alpha_diversity(cohort)
    assert "chao1" in alpha.columns and (alpha["chao1"] >= alpha["richness"]).all()
    for col in ("richness", "shannon", "chao1"):
        assert alpha.loc[healthy, col].median() > alpha.loc[~healthy, col].median()
    panels = panel_abundance(cohort)
    assert panels.loc[healthy, "butyrate_producers"].median() > 3 * panels.loc[~healthy, "butyrate_producers"].median()
    assert panels.loc[~healthy, "enterobacteriaceae"].median() > 10 * panels.loc[healthy, "enterobacteriaceae"].median()
    assert panels.loc[~healthy, "ruminococcus_gnavus"].median() > panels.loc[healthy, "ruminococcus_gnavus"].median()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gmhi_sign_holds_for_other_seeds(seed):
    from gutaxis.measure import gmhi

    c = demo_cohort(30, 30, seed=seed)
    g = gmhi(c).to_numpy()
    healthy = (c.obs["group"] == "healthy").to_numpy()
    assert (g[healthy] > 0).mean() >= 0.8 and (g[~healthy] < 0).mean() >= 0.8


def test_one_group_only_and_bad_sizes(tmp_path):
    only = demo_cohort(n_healthy=3, n_dysbiotic=0)
    assert set(only.obs["group"]) == {"healthy"}
    with pytest.raises(InputError, match="at least one sample"):
        demo_cohort(0, 0)
    with pytest.raises(InputError, match="n_healthy"):
        demo_cohort(-1, 3)
    # writable as .h5ad (NaN lineage ranks are categoricals, not mixed objects)
    only.write_h5ad(tmp_path / "demo.h5ad")
