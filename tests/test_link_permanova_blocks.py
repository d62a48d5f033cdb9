"""PERMANOVA with whole-block (plot) permutations: ``permanova(..., strata=COL, permute="whole")``.

References, each independent of the code under test:
- vegan 2.6-4's ``adonis2`` under ``how(plots = Plots(strata = subject, type = "free"), within =
  Within(type = "none"))``, run through ``Rscript`` on a balanced subset of HMP2 (R computes its
  own Bray-Curtis with ``vegdist``); p agrees within Monte Carlo error, F and R^2 to 1e-9.
- exact enumeration of every block permutation of a 4-block design, each F from scipy's one-way
  ANOVA (Euclidean distances on one variable: PERMANOVA's F is the ANOVA F);
- refits of the sample-level PERMANOVA (no permutations) on metadata whose block-level columns
  were permuted among blocks by hand, on unequal blocks, sequential and marginal.
On the full, unbalanced HMP2 (vegan's permute refuses it) the whole-subject p lies between the
two wrong answers: 1 (within-subject strata) and 0.001 (free permutations).
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import cli
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from gutaxis.errors import InputError
from gutaxis.link._permutations import block_permutation_batches
from gutaxis.link.permanova import PermutationWarning, _permanova, permanova
from gutaxis.measure import beta_diversity

# ---------------------------------------------------------------------------------------------
# HMP2 (MaAsLin2's example: 1,595 samples of 130 subjects, 1 to 26 samples each)


@pytest.fixture(scope="module")
def hmp2(shared):
    folder = shared("data", "maaslin2_hmp2")
    meta = pd.read_csv(folder / "HMP2_metadata.tsv", sep="\t", index_col=0)
    table = pd.read_csv(folder / "HMP2_taxonomy.tsv", sep="\t", index_col=0).loc[meta.index]
    return table, meta, folder


def _balanced_ids(meta: pd.DataFrame) -> list[str]:
    """Every subject with at least 4 samples, its first 4 by collection (ties by sample ID), grouped by subject."""
    ordered = meta.assign(_id=meta.index).sort_values(["subject", "collection", "_id"])
    counts = ordered.groupby("subject").size()
    ordered = ordered[ordered["subject"].isin(counts.index[counts >= 4])]
    return list(ordered.groupby("subject").head(4).index)


_ADONIS2_PLOTS = r"""
suppressPackageStartupMessages({library(vegan); library(permute)})
args <- commandArgs(trailingOnly = TRUE)
tab <- read.delim(args[1], row.names = 1, check.names = FALSE)
meta <- read.delim(args[2], row.names = 1, check.names = FALSE)
ids <- readLines(args[3])
nperm <- as.integer(args[4])
tab <- tab[ids, ]
meta <- meta[ids, ]
meta$diagnosis <- factor(meta$diagnosis)
meta$subject <- factor(meta$subject)
d <- vegdist(tab, method = "bray")
set.seed(as.integer(args[5]))
ctrl <- how(plots = Plots(strata = meta$subject, type = "free"), within = Within(type = "none"), nperm = nperm)
res <- adonis2(d ~ diagnosis, data = meta, permutations = ctrl)
cat(sprintf("VERSIONS R %s.%s vegan %s permute %s\n", R.version$major, R.version$minor,
            packageDescription("vegan")$Version, packageDescription("permute")$Version))
cat(sprintf("F %.17g\nR2 %.17g\nSS %.17g\nP %.17g\n", res$F[1], res$R2[1], res$SumOfSqs[1], res[["Pr(>F)"]][1]))
cat(sprintf("HEADING %s\n", gsub("\n", " | ", paste(attr(res, "heading"), collapse = " | "))))
"""


def _rscript_or_skip() -> str:
    ok = (
        shutil.which("Rscript") is not None
        and subprocess.run(
            ["Rscript", "-e", "library(vegan); library(permute)"], check=False, capture_output=True
        ).returncode
        == 0
    )
    if not ok:
        if os.environ.get("CI"):  # .ci/run installs r-base-core and r-cran-vegan: missing R is a failure there
            pytest.fail("Rscript with vegan and permute is needed (apt-get install r-base-core r-cran-vegan)")
        pytest.skip("R with vegan is not installed (apt-get install r-base-core r-cran-vegan); CI installs it")
    return "Rscript"


def test_whole_subject_permutations_agree_with_vegan_on_balanced_hmp2(hmp2, tmp_path):
    rscript = _rscript_or_skip()
    table, meta, folder = hmp2
    ids = _balanced_ids(meta)
    assert len(ids) == 4 * 107  # 107 of the 130 subjects have at least 4 samples
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    (tmp_path / "adonis2_plots.R").write_text(_ADONIS2_PLOTS)
    nperm_r = 1999
    proc = subprocess.run(
        [
            rscript,
            str(tmp_path / "adonis2_plots.R"),
            str(folder / "HMP2_taxonomy.tsv"),
            str(folder / "HMP2_metadata.tsv"),
            str(tmp_path / "ids.txt"),
            str(nperm_r),
            "13",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    assert f"Number of permutations: {nperm_r}" in ref["HEADING"], ref["HEADING"]
    assert "Plots: meta$subject, plot permutation: free" in ref["HEADING"], ref["HEADING"]

    D = beta_diversity(table.loc[ids], "braycurtis")
    nperm = 1999
    ours = permanova(D, meta.loc[ids], "~ diagnosis", strata="subject", permute="whole", permutations=nperm, seed=5)
    params = ours.attrs["params"]
    assert params["permute"] == "whole" and params["blocks"] == 107 and params["block_sizes"] == "all 4"
    F, R2, p = ours.loc["diagnosis", "F"], ours.loc["diagnosis", "R2"], ours.loc["diagnosis", "p"]
    assert abs(F - float(ref["F"])) <= 1e-9
    assert abs(R2 - float(ref["R2"])) <= 1e-9
    # both p are Monte Carlo estimates of one exact p: their difference has a binomial SE of
    # sqrt(p (1 - p) (1/n1 + 1/n2)); 4 SE (two-sided false alarm 6e-5) plus the 1/(n+1) offset
    p_r = float(ref["P"])
    pool = (p + p_r) / 2
    se = math.sqrt(pool * (1 - pool) * (1 / nperm + 1 / nperm_r))
    print(
        f"\nbalanced HMP2 ({len(ids)} samples, 107 subjects x 4), ~ diagnosis, Bray-Curtis, whole-subject "
        f"permutations: {ref['VERSIONS']}: F = {float(ref['F']):.12f}, p = {p_r:.4f} ({nperm_r} permutations); "
        f"gutaxis: F = {F:.12f}, p = {p:.4f} ({nperm}); |dF| = {abs(F - float(ref['F'])):.1e}, "
        f"|dp| = {abs(p - p_r):.4f}, binomial SE of the difference {se:.4f}"
    )
    assert abs(p - p_r) <= 4 * se + 1 / (nperm + 1)
    # and the within-subject answer (p = 1) and the free answer are not what vegan gives here
    assert 0.01 < p_r < 0.99


def test_full_unbalanced_hmp2_lies_between_the_two_wrong_answers(hmp2):
    table, meta, _ = hmp2
    D = beta_diversity(table, "braycurtis")
    sizes = meta.groupby("subject").size()
    assert sizes.min() == 1 and sizes.max() == 26  # vegan's permute refuses whole-plot permutations here
    free = permanova(D, meta, "~ diagnosis", permutations=999, seed=1)
    with pytest.warns(PermutationWarning, match="constant within every block of 'subject'"):
        within = permanova(D, meta, "~ diagnosis", strata="subject", permutations=999, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right scheme for a subject-level term: no warning
        whole = permanova(D, meta, "~ diagnosis", strata="subject", permute="whole", permutations=999, seed=1)
    p_free, p_within, p_whole = (t.loc["diagnosis", "p"] for t in (free, within, whole))
    print(
        f"\nfull HMP2 (1,595 samples, 130 subjects of 1 to 26 samples), ~ diagnosis, 999 permutations: "
        f"free p = {p_free:.4f}, within-subject strata p = {p_within:.4f}, whole subjects p = {p_whole:.4f}"
    )
    assert p_free == pytest.approx(0.001) and p_within == 1.0
    assert p_free < p_whole < p_within
    assert whole.attrs["params"]["block_sizes"] == "1 to 26"
    # the three share the observed table; only the permutation scheme differs
    np.testing.assert_allclose(whole["F"].to_numpy()[:1], free["F"].to_numpy()[:1], rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# exact enumeration


def test_exact_enumeration_of_four_unequal_blocks_is_hand_computable():
    # one variable, Euclidean distance: PERMANOVA's F is one-way ANOVA's F. Four subjects of 2, 3, 1
    # and 4 samples; subjects A, B are "case", C, D "control".
    values = {"A": [0.0, 1.0], "B": [0.5, 1.5, 1.0], "C": [5.0], "D": [9.0, 10.0, 11.0, 10.0]}
    status = {"A": "case", "B": "case", "C": "control", "D": "control"}
    subject = [s for s, v in values.items() for _ in v]
    x = np.array([y for v in values.values() for y in v])
    ids = [f"{s}{i}" for s, v in values.items() for i in range(len(v))]
    meta = pd.DataFrame({"subject": subject, "status": [status[s] for s in subject]}, index=ids)
    D = pd.DataFrame(squareform(pdist(x[:, None])), index=ids, columns=ids)

    # 24 block permutations; the status of the 4 subjects takes 6 arrangements (each 4 times),
    # i.e. 3 splits of the subjects into two pairs, each split twice (case/control swapped: same F)
    def anova_F(case_subjects):
        case = np.concatenate([values[s] for s in case_subjects])
        rest = np.concatenate([values[s] for s in values if s not in case_subjects])
        return stats.f_oneway(case, rest).statistic

    F_obs = anova_F(("A", "B"))
    Fs = []
    for perm in itertools.permutations("ABCD"):  # subject k takes the status of subject perm[k]
        Fs.append(anova_F(tuple(s for s, donor in zip("ABCD", perm, strict=True) if status[donor] == "case")))
    Fs = np.array(Fs)
    # by hand: the observed split {A,B} | {C,D} separates the low subjects from the high ones; the
    # other splits {A,C} | {B,D} and {A,D} | {B,C} mix them and have a far smaller F; so 8 of the
    # 24 permutations (those keeping the split) reach F_obs: p = 8/24 = 1/3
    assert np.sum(Fs >= F_obs - 1e-9) == 8 and (np.sort(Fs)[:16] < F_obs / 10).all()
    exact = 8 / 24

    res = permanova(D, meta, "~ status", strata="subject", permute="whole", permutations=999, seed=1)
    assert res.attrs["params"]["complete_enumeration"] is True
    assert res.attrs["params"]["permutations"] == 23  # 4! - 1: every permutation but the identity
    assert res.loc["status", "F"] == pytest.approx(F_obs, rel=1e-12)
    assert res.loc["status", "p"] == pytest.approx(exact, abs=1e-15)

    # with fewer permutations than 4! - 1 they are drawn at random: the estimate is within MC error
    few = permanova(D, meta, "~ status", strata="subject", permute="whole", permutations=20, seed=1)
    assert few.attrs["params"]["complete_enumeration"] is False and few.attrs["params"]["permutations"] == 20

    # a three-level status with unequal blocks: the exact p from scipy over all 24 permutations
    status3 = {"A": "x", "B": "y", "C": "z", "D": "z"}
    meta3 = meta.assign(status=[status3[s] for s in subject])

    def anova3(assign):
        groups = {}
        for s in "ABCD":
            groups.setdefault(assign[s], []).extend(values[s])
        return stats.f_oneway(*groups.values()).statistic

    F3 = anova3(status3)
    F3s = np.array(
        [anova3({s: status3[d] for s, d in zip("ABCD", perm, strict=True)}) for perm in itertools.permutations("ABCD")]
    )
    exact3 = np.mean(F3s >= F3 - 1e-9)
    res3 = permanova(D, meta3, "~ status", strata="subject", permute="whole", permutations=999, seed=1)
    assert res3.loc["status", "F"] == pytest.approx(F3, rel=1e-12)
    assert res3.loc["status", "p"] == pytest.approx(exact3, abs=1e-15)
    assert 0 < exact3 < 1


def test_block_permutation_stream():
    every = np.concatenate(list(block_permutation_batches(4, 0, None, batch=5, complete=True)))
    assert len(every) == 23 and len({tuple(r) for r in every}) == 23
    assert not (every == np.arange(4)).all(axis=1).any()
    a = np.concatenate(list(block_permutation_batches(7, 50, 3, batch=7)))
    b = np.concatenate(list(block_permutation_batches(7, 50, 3, batch=50)))
    assert (a == b).all() and (np.sort(a, axis=1) == np.arange(7)).all()


# ---------------------------------------------------------------------------------------------
# permuted F are refits on block-permuted metadata (unequal blocks)


@pytest.fixture(scope="module")
def unbalanced():
    rng = np.random.default_rng(21)
    sizes = rng.integers(1, 7, 15)  # 15 subjects of 1 to 6 samples
    subject = np.repeat([f"p{k:02d}" for k in range(15)], sizes)
    n = len(subject)
    X = rng.gamma(0.6, 1.0, size=(n, 20)) * (rng.random((n, 20)) < 0.6)
    X[:, 0] += 0.1
    ids = [f"s{i:03d}" for i in range(n)]
    D = pd.DataFrame(squareform(pdist(X, "braycurtis")), index=ids, columns=ids)
    level = dict(zip(sorted(set(subject)), rng.choice(["CD", "UC", "nonIBD"], 15), strict=True))
    age = dict(zip(sorted(set(subject)), rng.normal(40, 10, 15).round(1), strict=True))
    sex = dict(zip(sorted(set(subject)), rng.choice(["f", "m"], 15), strict=True))
    meta = pd.DataFrame(
        {
            "subject": subject,
            "dx": [level[s] for s in subject],
            "age": [age[s] for s in subject],
            "sex": [sex[s] for s in subject],
            "week": rng.integers(0, 10, n),
        },
        index=ids,
    )
    return D, meta


@pytest.mark.parametrize(
    "formula,by", [("~ dx + age", "terms"), ("~ dx + age", "margin"), ("~ dx * sex", "terms"), ("~ dx * sex", "margin")]
)
def test_permuted_F_equal_refits_on_block_permuted_metadata(unbalanced, formula, by):
    D, meta = unbalanced
    nperm = 7
    _, res = _permanova(D, meta, formula, by=by, strata="subject", permute="whole", permutations=nperm, seed=4)
    blocks = sorted(set(meta["subject"]))  # block k is the k-th subject label in sorted order
    code = meta["subject"].map({s: k for k, s in enumerate(blocks)}).to_numpy()
    per_block = meta.groupby("subject")[["dx", "age", "sex"]].first().loc[blocks]
    pis = next(block_permutation_batches(len(blocks), nperm, 4, batch=nperm))
    for j, pi in enumerate(pis):
        moved = per_block.iloc[pi[code]].set_axis(meta.index)  # sample of block k gets block pi[k]'s values
        refit = permanova(D, meta.assign(**{c: moved[c] for c in moved}), formula, by=by, permutations=0)
        np.testing.assert_allclose(res.F_perm[j], refit["F"].to_numpy()[: len(res.F)], rtol=1e-9)


def test_order_of_samples_and_batches_do_not_change_p(unbalanced):
    D, meta = unbalanced
    a = permanova(D, meta, "~ dx", strata="subject", permute="whole", permutations=199, seed=8)
    order = np.random.default_rng(1).permutation(len(D))
    b = permanova(
        D.iloc[order, order], meta.iloc[::-1], "~ dx", strata="subject", permute="whole", permutations=199, seed=8
    )
    assert a.loc["dx", "p"] == b.loc["dx", "p"]
    np.testing.assert_allclose(a["F"].to_numpy()[:1], b["F"].to_numpy()[:1], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# warnings and errors


def test_balanced_whole_blocks_with_a_within_block_term_warn_and_match_vegan_scheme():
    rng = np.random.default_rng(5)
    n_sub, k = 8, 3
    subject = np.repeat([f"p{i}" for i in range(n_sub)], k)
    ids = [f"s{i:02d}" for i in range(n_sub * k)]
    X = rng.gamma(0.7, 1.0, size=(len(ids), 12))
    D = pd.DataFrame(squareform(pdist(X, "braycurtis")), index=ids, columns=ids)
    meta = pd.DataFrame(
        {
            "subject": subject,
            "visit": np.tile(["v1", "v2", "v3"], n_sub),
            "dx": np.repeat(rng.choice(["a", "b"], n_sub), k),
        },
        index=ids,
    )
    with pytest.warns(PermutationWarning, match=r"term 'visit' varies within blocks of 'subject'.*permute='within'"):
        _, res = _permanova(D, meta, "~ dx + visit", strata="subject", permute="whole", permutations=5, seed=2)
    # vegan's scheme: the k-th sample (by ID) of subject b moves with its subject to subject pi[b]'s k-th place
    pis = next(block_permutation_batches(n_sub, 5, 2, batch=5))
    slots = np.arange(n_sub * k).reshape(n_sub, k)  # IDs are in subject, then visit order here
    for j, pi in enumerate(pis):
        perm = np.empty(n_sub * k, dtype=int)
        perm[slots.ravel()] = slots[pi].ravel()
        refit = permanova(D, meta.iloc[perm].set_axis(meta.index), "~ dx + visit", permutations=0)
        np.testing.assert_allclose(res.F_perm[j], refit["F"].to_numpy()[:2], rtol=1e-9)


def test_unequal_blocks_with_a_within_block_term_are_an_error(unbalanced):
    D, meta = unbalanced
    with (
        pytest.raises(InputError, match=r"'week'.*vary within blocks of 'subject'.*permute='within'"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", PermutationWarning)
        permanova(D, meta, "~ dx + week", strata="subject", permute="whole", permutations=9, seed=1)
    with pytest.raises(InputError, match="permute='whole' needs strata"):
        permanova(D, meta, "~ dx", permute="whole", permutations=9)
    with pytest.raises(InputError, match="permute='blocks' is not one of 'within', 'whole'"):
        permanova(D, meta, "~ dx", strata="subject", permute="blocks", permutations=9)


def test_within_strata_warns_for_a_term_constant_within_strata(unbalanced):
    D, meta = unbalanced
    with pytest.warns(
        PermutationWarning,
        match=r"term 'dx' is constant within every block of 'subject'.*p is 1 "
        r"by construction.*permute='whole'",
    ):
        res = permanova(D, meta, "~ dx", strata="subject", permutations=49, seed=1)
    assert res.loc["dx", "p"] == 1.0  # the bug the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a term that varies within subjects: no warning
        permanova(D, meta, "~ week", strata="subject", permutations=9, seed=1)


def test_cli_warns_with_strata_and_runs_whole_subject_permutations(hmp2, tmp_path):
    _, _, folder = hmp2
    base = [
        "permanova",
        folder / "HMP2_taxonomy.tsv",
        "--metadata",
        folder / "HMP2_metadata.tsv",
        "--formula",
        "~ diagnosis",
        "--permutations",
        199,
        "--seed",
        3,
    ]
    res = cli(*base, "--strata", "subject", "-o", tmp_path / "within.tsv")
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "'diagnosis' is constant within every block of 'subject'" in res.output
    assert "--strata subject --permute whole" in res.output
    within = pd.read_csv(tmp_path / "within.tsv", sep="\t", index_col=0)
    assert within.loc["diagnosis", "p"] == 1.0

    res = cli(*base, "--strata", "subject", "--permute", "whole", "-o", tmp_path / "whole.tsv")
    assert res.exit_code == 0, res.output
    assert "warning:" not in res.output and "whole blocks of subject exchanged" in res.output
    whole = pd.read_csv(tmp_path / "whole.tsv", sep="\t", index_col=0)
    assert 0.005 < whole.loc["diagnosis", "p"] < 1.0
    import json

    params = json.loads((tmp_path / "whole.tsv.json").read_text())["params"]
    assert params["permute"] == "whole" and params["blocks"] == 130

    res = cli(*base, "--permute", "whole", "-o", tmp_path / "bad.tsv")
    assert res.exit_code != 0 and "permute='whole' needs strata" in res.output
