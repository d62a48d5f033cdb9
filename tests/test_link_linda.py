"""LinDA (gutaxis.link.linda), the compositional differential-abundance method beside MaAsLin.

Independent references: statsmodels' OLS on a CLR computed here, R's ``density()`` for the
kernel-density mode, a simulation whose compositional shift is known exactly, and null
simulations (real 1000RA genus counts, labels permuted) whose discoveries are all false.
The full FDR/power comparison with MaAsLin2-style ``associate`` is ``bench/bench_da_fdr.py``.
"""

from __future__ import annotations

import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from _vegan import _rscript
from scipy import stats

import gutaxis
from gutaxis.errors import InputError
from gutaxis.link.linda import kde_mode


def _nb_table(rng, n=80, m=120):
    mu = np.exp(rng.normal(3, 1.5, m))
    counts = rng.negative_binomial(2, 2 / (2 + mu[None, :]), size=(n, m)).astype(float)
    ids = [f"s{i:03d}" for i in range(n)]
    return pd.DataFrame(counts, index=ids, columns=[f"taxon_{j}" for j in range(m)])


def test_fit_equals_statsmodels_and_r_density_mode(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(11)
    table = _nb_table(rng)
    meta = pd.DataFrame(
        {"group": np.where(np.arange(80) % 2 == 0, "A", "B"), "age": rng.normal(50, 12, 80)}, index=table.index
    )
    res = gutaxis.linda(table, meta, formula="~ group + age", reference={"group": "A"}, bias_se=None)
    assert res.params["model"] == "LinDA" and res.params["zero_handling"] == "pseudo-count 0.5 added"
    boot = gutaxis.linda(table, meta, formula="~ group + age", reference={"group": "A"})  # bias_se="bootstrap"
    rb = boot.results.set_index(["feature", "metadata"])
    r = res.results.set_index(["feature", "metadata"])
    # the paper's steps, by other code: log2(counts + 0.5), centred per sample, statsmodels OLS
    W = np.log2(table.to_numpy() + 0.5)
    W -= W.mean(axis=1, keepdims=True)
    design = sm.add_constant(np.column_stack([(meta["group"] == "B").astype(float), meta["age"]]))
    raw = np.empty((W.shape[1], 2))
    se = np.empty((W.shape[1], 2))
    for j in range(W.shape[1]):
        fit = sm.OLS(W[:, j], design).fit()
        raw[j], se[j] = fit.params[1:], fit.bse[1:]
        df = fit.df_resid
    # the bias (the mode of the raw coefficients) against R's density(): within one of R's grid steps
    exe = _rscript()
    for c, (name, var) in enumerate((("groupB", "group"), ("age", "age"))):
        src = tmp_path / f"{name}.txt"
        np.savetxt(src, raw[:, c], fmt="%.17g")
        code = (
            f"x <- scan('{src}', quiet=TRUE); d <- density(x); "
            "cat(sprintf('%.17g %.17g', d$x[which.max(d$y)], diff(d$x[1:2])))"
        )
        out = subprocess.run([exe, "-e", code], capture_output=True, text=True, check=True).stdout.split()
        r_mode, r_step = float(out[0]), float(out[1])
        bias = res.params["bias"][name]
        assert abs(bias - r_mode) <= 1.01 * r_step, (name, bias, r_mode, r_step)
        # corrected estimates, their errors and t-test p-values, from statsmodels' fit and that bias
        rows = r.xs(var, level="metadata").loc[table.columns]
        assert np.abs(rows["coef"].to_numpy() - (raw[:, c] - bias)).max() < 1e-10
        assert np.abs(rows["stderr"].to_numpy() - se[:, c]).max() < 1e-10
        p = 2 * stats.t.sf(np.abs((raw[:, c] - bias) / se[:, c]), df)
        assert np.abs(rows["pval"].to_numpy() - p).max() < 1e-12
        # BH within the coefficient
        q = stats.false_discovery_control(p, method="bh")
        assert np.abs(rows["qval"].to_numpy() - q).max() < 1e-12
        # default: the bootstrap variance of the bias joins each squared standard error
        brow = rb.xs(var, level="metadata").loc[table.columns]
        v = boot.params["bias_se"][name] ** 2
        assert 0 < v < raw[:, c].var()
        assert boot.params["bias"][name] == bias  # same estimate, only its error is added
        assert np.abs(brow["stderr"].to_numpy() - np.sqrt(se[:, c] ** 2 + v)).max() < 1e-10
        pb = 2 * stats.t.sf(np.abs((raw[:, c] - bias) / np.sqrt(se[:, c] ** 2 + v)), df)
        assert np.abs(brow["pval"].to_numpy() - pb).max() < 1e-12


def test_bias_recovers_a_known_compositional_shift():
    """Absolute log2 abundances normal around a feature mean; 10% of the features 8x (3 log2
    units) in group B. Closing the samples shifts every CLR coefficient by -3 * 0.1 = -0.3;
    LinDA's mode finds it, and the null features stay null. TSS + log (MaAsLin2's default)
    reads the shift as a decrease of every null feature."""
    rng = np.random.default_rng(5)
    n, m = 200, 150
    group = np.repeat(["A", "B"], n // 2)
    planted = rng.choice(m, size=15, replace=False)
    effect = np.zeros(m)
    effect[planted] = 3.0
    log2_abs = rng.normal(8, 2, m)[None, :] + rng.normal(0, 1, (n, m)) + (group == "B")[:, None] * effect[None, :]
    absolute = 2.0**log2_abs
    counts = np.round(1e7 * absolute / absolute.sum(axis=1, keepdims=True))  # no zeros: no pseudo-count
    ids = [f"s{i}" for i in range(n)]
    names = [f"f{j}" for j in range(m)]
    table = pd.DataFrame(counts, index=ids, columns=names)
    meta = pd.DataFrame({"group": group}, index=ids)
    res = gutaxis.linda(table, meta, formula="~ group", reference={"group": "A"})
    assert res.params["zero_handling"] == "none (no zeros)"
    assert res.params["bias"]["groupB"] == pytest.approx(-0.3, abs=0.06)
    r = res.results.set_index("feature")
    truth = pd.Series(False, index=names)
    truth.iloc[planted] = True
    called = r["qval"] < 0.05
    assert called[truth.index[truth]].all()  # every planted feature found
    false = called[truth.index[~truth]].sum()
    assert false <= 3, false  # ~5% of 135 nulls at most by chance; 0 expected often
    assert r.loc[truth.index[truth], "coef"].mean() == pytest.approx(3.0, abs=0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tss = gutaxis.associate(table, meta, formula="~ group", reference={"group": "A"}).results
    tss_false = ((tss["qval"] < 0.05) & tss["taxon"].isin(truth.index[~truth])).sum()
    assert tss_false > 100, tss_false  # the compositional shift, called as differential abundance


def test_null_real_cohort_permuted_labels(shared):
    """40 simulations: 60 random 1000RA samples, random labels. Every discovery is false; with
    BH at q < 0.05 the chance of any (the FDR under the complete null) is at most 5%: allow 6 of
    40 (P(more than 6 | 5%) ~ 0.002)."""
    counts = pd.read_csv(shared("data", "ra1000_16s", "ra1000_genus_counts.tsv.gz"), sep="\t", index_col=0).T
    counts = counts.loc[:, (counts > 0).mean() > 0.1]  # 217 genera, as the bench
    rng = np.random.default_rng(2022)
    any_false = 0
    for _ in range(40):  # the default tests (bias_se="bootstrap")
        rows = rng.choice(len(counts), size=60, replace=False)
        table = counts.iloc[rows]
        labels = np.array(["A"] * 30 + ["B"] * 30)
        rng.shuffle(labels)
        meta = pd.DataFrame({"group": labels}, index=table.index)
        res = gutaxis.linda(table, meta, formula="~ group", reference={"group": "A"})
        any_false += int((res.results["qval"] < 0.05).any())
    assert any_false <= 6, any_false


def test_kde_mode_of_a_mixture():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.7, 0.3, 900), rng.normal(4.0, 0.5, 100)])
    assert kde_mode(x) == pytest.approx(0.7, abs=0.08)
    assert kde_mode(np.array([2.0])) == 2.0
    assert np.isnan(kde_mode(np.array([np.nan])))


def test_errors_and_outputs(tmp_path):
    rng = np.random.default_rng(1)
    table = _nb_table(rng, n=30, m=40)
    meta = pd.DataFrame({"group": ["A", "B"] * 15, "subject": np.repeat(np.arange(15), 2)}, index=table.index)
    with pytest.raises(InputError, match=r"random effects \(subject\).*associate"):
        gutaxis.linda(table, meta, formula="~ group + (1|subject)")
    with pytest.raises(InputError, match=r"1 sample\(s\) of the table have no metadata row: s029.*intersection"):
        gutaxis.linda(table, meta.iloc[:-1], formula="~ group")
    res = gutaxis.linda(table, meta.iloc[:-1], formula="~ group", match="intersection")
    assert res.params["n_samples"] == 29 and "without metadata" in res.notes[0]
    with pytest.raises(InputError, match="pseudocount must be a positive number"):
        gutaxis.linda(table, meta, formula="~ group", pseudocount=0)
    with pytest.raises(InputError, match="needs many features"):
        gutaxis.linda(table.iloc[:, :1], meta, formula="~ group")
    paths = res.write(tmp_path / "out")
    written = pd.read_csv(paths["all_results.tsv"], sep="\t")
    assert {"feature", "coef", "stderr", "pval", "qval", "bias"} <= set(written.columns)
    assert (res.significant["qval"] <= 0.05).all()


def test_cli_linda_on_a_count_table(tmp_path):
    from _cli import cli

    rng = np.random.default_rng(4)
    table = _nb_table(rng, n=40, m=60)
    meta = pd.DataFrame({"group": ["ctrl", "case"] * 20}, index=table.index)
    counts_path, meta_path = tmp_path / "counts.tsv", tmp_path / "meta.tsv"
    table.T.to_csv(counts_path, sep="\t", index_label="feature")  # features x samples, as tools write them
    meta.to_csv(meta_path, sep="\t", index_label="sample")
    out = tmp_path / "linda"
    run = cli("linda", counts_path, "-m", meta_path, "-o", out, "--formula", "~ group", "--reference", "group,ctrl")
    assert run.exit_code == 0, run.output
    assert "LinDA:" in run.output and (out / "all_results.tsv").is_file()
    written = pd.read_csv(out / "all_results.tsv", sep="\t")
    direct = gutaxis.linda(table, meta, formula="~ group", reference={"group": "ctrl"}).results
    merged = written.merge(direct, on="feature", suffixes=("_cli", "_api"))
    assert len(merged) == 60
    assert np.abs(merged["coef_cli"] - merged["coef_api"]).max() < 1e-9  # the CLI modelled the counts
    run = cli("linda", counts_path, "-m", meta_path, "-o", tmp_path / "other", "--formula", "~ group + (1|group)")
    assert run.exit_code != 0 and "random effects" in run.output


def test_proportions_replace_zeros_by_half_the_smallest_value():
    rng = np.random.default_rng(8)
    table = _nb_table(rng, n=40, m=50)
    props = table.div(table.sum(axis=1), axis=0)
    meta = pd.DataFrame({"group": ["A", "B"] * 20}, index=table.index)
    res = gutaxis.linda(props, meta, formula="~ group", bias_se=None)
    half = 0.5 * props.to_numpy()[props.to_numpy() > 0].min()
    assert res.params["data_type"] == "proportions" and f"{half:g}" in res.params["zero_handling"]
    W = np.log2(np.where(props.to_numpy() == 0, half, props.to_numpy()))
    W -= W.mean(axis=1, keepdims=True)
    g = (meta["group"] == "B").to_numpy()
    raw = W[g].mean(axis=0) - W[~g].mean(axis=0)  # two groups: the OLS slope is the difference of means
    got = res.results.set_index("feature").loc[props.columns]
    assert np.abs(got["coef"].to_numpy() - (raw - res.params["bias"]["groupB"])).max() < 1e-10
