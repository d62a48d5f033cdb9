"""The autoimmune atlas (gutaxis.atlas): verdict rule, reuse of associate (HMP2 against MaAsLin 2's
reference output), independent checks of the per-cohort numbers, cohorts listed with reasons,
MicrobiomeHD agreement, and the claims table rendered in Chromium.

Fast: small cohorts only (Sokol, GESPIC CD, HMP2), few permutations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _cli import cli
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from gutaxis.atlas import (
    COHORTS,
    Cohort,
    analyse_cohort,
    associate_cohort,
    load_claims,
    load_cohort,
    run_atlas,
)
from gutaxis.atlas.claims import group_members, verdict
from gutaxis.atlas.run import microbiomehd_agreement
from gutaxis.errors import InputError
from gutaxis.link import associate
from gutaxis.report.atlas import write_atlas

KEY = ["feature", "metadata", "value"]


def _spec(name):
    return next(s for s in COHORTS if s.name == name)


@pytest.fixture(scope="module")
def data_dir(shared):
    return shared("data")


@pytest.fixture(scope="module")
def small(data_dir):
    """Sokol + GESPIC CD (IBD) and GMHI RA (not analysable), 99 permutations."""
    return run_atlas(data_dir, cohorts=["Sokol (MLRepo)", "GESPIC CD", "GMHI validation RA"], permutations=99)


# --------------------------------------------------------------------------- verdict rule, worked by hand


@pytest.mark.parametrize(
    "est, se, p, pooled, lo, hi, i2, direction, expected",
    [
        ([-0.5, -0.3], [0.1, 0.1], [1e-6, 0.003], -0.4, -0.54, -0.26, 0.0, "lower", "supported"),
        ([-0.5, -0.3], [0.1, 0.1], [1e-6, 0.003], -0.4, -0.54, -0.26, 80.0, "lower", "mixed"),  # I² >= 75
        ([0.5, 0.3], [0.1, 0.1], [1e-6, 0.003], 0.4, 0.26, 0.54, 0.0, "lower", "contradicted"),
        ([0.5, 0.3], [0.1, 0.1], [1e-6, 0.003], 0.4, 0.26, 0.54, 0.0, "higher", "supported"),
        ([-0.5, 0.6], [0.1, 0.1], [1e-6, 1e-6], 0.05, -0.7, 0.8, 90.0, "lower", "mixed"),  # significant both ways
        ([-0.05], [0.1], [0.6], -0.05, -0.246, 0.146, np.nan, "lower", "mixed"),  # CI includes 0
        ([], [], [], np.nan, np.nan, np.nan, np.nan, "lower", "not testable in data we hold"),
    ],
)
def test_verdict_rule_hand_worked(est, se, p, pooled, lo, hi, i2, direction, expected):
    v = verdict(est, se, p, pooled, lo, hi, i2, direction, untestable_reason="nothing")
    assert v.verdict == expected
    if expected.startswith("not testable"):
        assert v.reason == "nothing"


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError):
        verdict([0.1], [0.1], [0.5], 0.1, -0.1, 0.3, np.nan, "down")


def test_claim_groups_from_package_data():
    genera, _ = group_members("lactobacillus_2020")
    assert len(genera) == 25 and {"lactobacillus", "limosilactobacillus", "ligilactobacillus"} <= genera
    patho, note = group_members("panel:pathobiont")
    assert {"escherichia", "klebsiella", "escherichia-shigella"} <= patho and "prevotella" not in patho
    assert "prevotella_copri" in note  # species entries are said to be left out at genus rank
    claims = load_claims()
    assert set(claims["direction"]) <= {"lower", "higher"} and claims["citation"].str.len().min() > 10


# --------------------------------------------------------------------------- the atlas reuses associate


def test_hmp2_association_step_equals_maaslin2_reference(shared):
    """The atlas's association step, on HMP2 with the call of the reference run, reproduces
    MaAsLin 2's all_results.tsv (../shared/reference, MaAsLin2 1.15.1)."""
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    meta["group"] = meta["diagnosis"]
    cohort = Cohort("HMP2 species", "IBD", "maaslin2_hmp2", "species", data, meta)
    res = associate_cohort(
        cohort,
        fixed_effects=["diagnosis", "dysbiosis", "antibiotics", "age"],
        random_effects=["site", "subject"],
        reference="diagnosis,nonIBD",
        normalization="TSS",
        standardize=False,
    )
    expected = pd.read_csv(shared("reference", "maaslin2_hmp2_all_results.tsv"), sep="\t")
    expected["value"] = expected["value"].astype(str)
    ours = res.results.copy()
    ours["value"] = ours["value"].astype(str)
    m = ours.merge(expected, on=KEY, suffixes=("", "_R"))
    assert len(m) == len(expected) == len(ours)
    rel = (m["coef"] - m["coef_R"]).abs() / m["coef_R"].abs().clip(lower=1e-12)
    # lme4 stops on a flat REML surface for a few features (tests/test_link_associate_parity.py)
    assert (rel < 1e-4).mean() > 0.95 and rel.median() < 1e-6
    assert set(map(tuple, m.loc[m.qval <= 0.25, KEY].values)) == set(map(tuple, m.loc[m.qval_R <= 0.25, KEY].values))


def test_atlas_hmp2_part_is_a_plain_associate_call(data_dir):
    cohort = load_cohort(_spec("HMP2"), data_dir)
    assert cohort.rank == "genus" and cohort.block == "subject" and cohort.permute == "whole"
    out = analyse_cohort(cohort, load_claims(), permutations=19)
    commonest_site = cohort.metadata["site"].value_counts().index[0]  # the documented reference rule
    direct = associate(
        cohort.table,
        cohort.metadata,
        fixed_effects=["group", "age", "antibiotics", "site"],
        random_effects=["subject"],
        reference={"group": "control", "site": commonest_site},
        normalization="NONE",
        transform="LOG",
        min_prevalence=0.1,
    ).results
    direct = direct[(direct.metadata == "group") & (direct.value == "case")].set_index("feature")
    ours = out["associations"].dropna(subset=["coef"]).set_index("feature")
    assert len(ours) == len(direct) > 10
    # rounding-level differences only (the REML optimiser's path)
    np.testing.assert_allclose(ours["coef"], direct.loc[ours.index, "coef"], rtol=1e-7)
    np.testing.assert_allclose(ours["qval"], direct.loc[ours.index, "qval"], rtol=1e-7)


# --------------------------------------------------------------------------- independent checks per cohort


def test_alpha_and_permanova_against_independent_computation(data_dir):
    cohort = load_cohort(_spec("Sokol (MLRepo)"), data_dir)
    assert cohort.covariates == [] and cohort.block is None
    out = analyse_cohort(cohort, load_claims(), permutations=99)
    p = cohort.table.to_numpy()
    p = p / p.sum(axis=1, keepdims=True)
    h = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(axis=1)
    case = (cohort.metadata["group"] == "case").to_numpy()
    a = out["alpha"]
    # no covariates: the LM coefficient is the difference in means
    assert a["coef"] == pytest.approx(h[case].mean() - h[~case].mean(), rel=1e-10)
    assert a["mannwhitney_p"] == pytest.approx(stats.mannwhitneyu(h[case], h[~case]).pvalue, rel=1e-12)
    # PERMANOVA R² = between-group sum of squares / total, from a scipy Bray-Curtis matrix
    keep = (cohort.table > 0).mean(axis=0) > 0.1
    X = cohort.table.loc[:, keep].to_numpy()
    D2 = squareform(pdist(X, "braycurtis")) ** 2
    n = len(X)
    sst = D2.sum() / (2 * n)
    ssw = sum(D2[np.ix_(g, g)].sum() / (2 * g.sum()) for g in (case, ~case))
    assert out["permanova"]["R2"] == pytest.approx((sst - ssw) / sst, rel=1e-9)


def test_meta_pooling_equals_inverse_variance_when_tau2_is_zero(small):
    ev = small.claim_evidence
    row = small.claims[(small.claims.claim == "butyrate_lower") & (small.claims.disease == "IBD")].iloc[0]
    sub = ev[(ev.claim == "butyrate_lower") & (ev.disease == "IBD")]
    assert row["cohorts"] == len(sub) == 2
    w = 1 / sub["se"] ** 2
    fe = float((w * sub["estimate"]).sum() / w.sum())
    q = float((w * (sub["estimate"] - fe) ** 2).sum())
    assert q < 1  # Q below its df: REML's tau² is 0 and the pooled estimate is the fixed-effect one
    assert row["I2"] == pytest.approx(0, abs=1e-8)
    assert row["effect"] == pytest.approx(fe, rel=1e-8)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.959964 / np.sqrt(w.sum()), rel=1e-5)
    assert row["samples"] == int(sub["n"].sum())


# --------------------------------------------------------------------------- every cohort accounted for


def test_cohort_not_analysable_is_listed_with_reason(small):
    c = small.cohorts.set_index("cohort")
    assert c.loc["GMHI validation RA", "status"] == "not analysed"
    assert "no healthy controls from the same study" in c.loc["GMHI validation RA", "reason"]
    assert (c.loc[["Sokol (MLRepo)", "GESPIC CD"], "status"] == "analysed").all()
    assert "BATCH-CONFOUNDED" in c.loc["GESPIC CD", "caveats"]
    assert "MIT" in c.loc["GESPIC CD", "licence"]


def test_missing_dataset_listed_and_bad_column_names_the_cohort(tmp_path, shared):
    res = run_atlas(tmp_path, cohorts=["iMSMS"], permutations=0)
    row = res.cohorts.iloc[0]
    assert row["status"] == "not analysed" and "not found" in row["reason"]
    bad = tmp_path / "gespic_essex2023"
    bad.mkdir()
    t = pd.read_csv(shared("data", "gespic_essex2023", "supp-table-3-master.tsv"), sep="\t", nrows=20)
    t.drop(columns=["clin.Cohort"]).to_csv(bad / "supp-table-3-master.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="GESPIC CD"):
        load_cohort(_spec("GESPIC CD"), tmp_path)


def test_microbiomehd_agreement_share_by_hand(data_dir, shared):
    q = pd.read_csv(shared("data", "microbiomehd_results", "file-S1.qvalues.txt"), sep="\t", index_col=0)
    ibd = q[["ibd_gevers", "ibd_morgan", "ibd_papa", "ibd_willing"]]
    sig = ibd.where(ibd.abs() < 0.05)
    up = sig.index[(sig > 0).any(axis=1) & ~(sig < 0).any(axis=1)]
    down = sig.index[(sig < 0).any(axis=1) & ~(sig > 0).any(axis=1)]
    g_up, g_down = up[0].rsplit("g__", 1)[1], down[0].rsplit("g__", 1)[1]
    # ours: g_up called higher (agrees), g_down called higher too (disagrees)
    meta = pd.DataFrame(
        {"disease": "IBD", "rank": "genus", "feature": [g_up, g_down], "estimate": [1.0, 1.0], "q": [0.001, 0.001]}
    )
    res = microbiomehd_agreement(meta, data_dir).set_index("disease")
    assert res.loc["IBD", "called_in_both"] == 2 and res.loc["IBD", "agree"] == 1
    assert res.loc["IBD", "share_agree"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- report and command line


def test_claims_table_rendered_in_chromium(small, tmp_path, run_browser):
    paths = write_atlas(small, tmp_path / "atlas")
    for name in ("claims.tsv", "cohorts.tsv", "meta_analysis.tsv", "microbiomehd_agreement.tsv"):
        assert paths[name].stat().st_size > 0
    back = pd.read_csv(paths["claims.tsv"], sep="\t")
    assert len(back) == len(small.claims)
    proc = run_browser(tmp_path / "profile", "--virtual-time-budget=3000", "--dump-dom", paths["atlas.html"].as_uri())
    assert proc.returncode == 0
    dom = proc.stdout
    assert 'id="claims-table"' in dom
    assert dom.count("data-verdict=") == len(small.claims)
    for v in set(small.claims["verdict"]):
        assert f'data-verdict="{v}"' in dom
    assert "Forest plot" in dom and "GMHI validation RA" in dom and "no healthy controls" in dom


def test_cli_prints_stage_times_reasons_and_agreement(data_dir, tmp_path):
    r = cli(
        "atlas",
        "--data-dir",
        data_dir,
        "-o",
        tmp_path / "out",
        "--cohort",
        "Sokol (MLRepo)",
        "--cohort",
        "GMHI validation AS",
        "--permutations",
        "19",
    )
    assert r.exit_code == 0, r.output
    assert "cohort Sokol (MLRepo):" in r.output and " s" in r.output and "load average" in r.output
    assert "not analysed: GMHI validation AS" in r.output
    assert "MicrobiomeHD agreement, IBD" in r.output
    assert "lactobacillus_lower" in r.output and (tmp_path / "out" / "atlas.html").is_file()
    bad = cli("atlas", "--data-dir", data_dir, "-o", tmp_path / "o2", "--cohort", "nope")
    assert bad.exit_code == 2 and "unknown cohort" in bad.output


def test_without_data_dir_unregistered_datasets_are_listed_with_the_reason():
    res = run_atlas(None, cohorts=["1000RA", "iMSMS"], permutations=0)
    assert (res.cohorts["status"] == "not analysed").all()
    assert res.cohorts["reason"].str.contains("not in the dataset registry").all()
    assert (res.claims["verdict"] == "not testable in data we hold").all()


def test_a_single_cohort_claim_gets_its_own_estimate_not_untestable():
    """One cohort of a disease: the claim shows that cohort's effect with k = 1 (not 'not testable'); its
    CI is the cohort's own normal interval, worked by hand. (Broke once when the meta-analysis began to
    require two studies by default.)"""
    from gutaxis.atlas.claims import load_claims
    from gutaxis.atlas.run import claims_table

    alpha = pd.DataFrame(
        {
            "cohort": ["one"],
            "disease": ["RA"],
            "rank": ["genus"],
            "smd": [-0.3],
            "smd_se": [0.1],
            "pval": [0.003],
            "N": [100],
        }
    )
    groups = pd.DataFrame(
        columns=["cohort", "disease", "rank", "claim", "coef", "stderr", "pval", "N", "members", "error"]
    )
    table, _ = claims_table(load_claims(), alpha, groups, ["RA"], {"RA": ["genus"]})
    row = table[(table.claim == "lower_diversity") & (table.disease == "RA")].iloc[0]
    assert row["cohorts"] == 1 and row["samples"] == 100
    assert row["effect"] == pytest.approx(-0.3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-0.3 - 1.959964 * 0.1, -0.3 + 1.959964 * 0.1), rel=1e-5)
    assert row["verdict"] == "supported"
