"""Random-effects meta-analysis against published metafor results (BCG vaccine trials; Normand
1999), a hand-worked DerSimonian-Laird example, and per-study effects built from raw data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.link.meta import forest_plot, meta_analysis, per_study_associations, read_effects

# metafor's dat.bcg (Colditz et al. 1994, JAMA 271:698): TB cases / non-cases, vaccinated and not
BCG = pd.DataFrame(
    {
        "tpos": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
        "tneg": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
        "cpos": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
        "cneg": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
    },
    index=[
        "Aronson 1948",
        "Ferguson & Simes 1949",
        "Rosenthal 1960",
        "Hart & Sutherland 1977",
        "Frimodt-Moller 1973",
        "Stein & Aronson 1953",
        "Vandiviere 1973",
        "TPT Madras 1980",
        "Coetzee & Berjak 1968",
        "Rosenthal 1961",
        "Comstock 1974",
        "Comstock & Webster 1969",
        "Comstock 1976",
    ],
).astype(float)


def _bcg_log_rr():
    """escalc(measure="RR"): log risk ratio and its large-sample variance."""
    t, c = BCG["tpos"] + BCG["tneg"], BCG["cpos"] + BCG["cneg"]
    yi = np.log(BCG["tpos"] / t) - np.log(BCG["cpos"] / c)
    vi = 1 / BCG["tpos"] - 1 / t + 1 / BCG["cpos"] - 1 / c
    return yi, np.sqrt(vi)


def test_bcg_reml_equals_metafor():
    # rma(yi, vi, data=dat) as printed by metafor (Viechtbauer 2010, J Stat Softw 36(3)):
    # tau^2 0.3132 (SE 0.1664), I^2 92.22%, H^2 12.86, Q(12) 152.2330; estimate -0.7145, se 0.1798,
    # z -3.9744, CI -1.0669 .. -0.3622
    yi, sei = _bcg_log_rr()
    t = meta_analysis(yi.to_numpy(), sei.to_numpy(), method="REML").table.iloc[0]
    printed = {
        "estimate": (-0.7145, 4),
        "se": (0.1798, 4),
        "z": (-3.9744, 4),
        "ci_low": (-1.0669, 4),
        "ci_high": (-0.3622, 4),
        "tau2": (0.3132, 4),
        "tau2_se": (0.1664, 4),
        "I2": (92.22, 2),
        "H2": (12.86, 2),
        "Q": (152.2330, 4),
    }
    for key, (want, decimals) in printed.items():
        assert round(t[key], decimals) == pytest.approx(want, abs=1e-12), key
    assert t["Q_df"] == 12 and t["k"] == 13 and t["converged"]


def test_bcg_dersimonian_laird_equals_metafor():
    # metafor's test against Stata metan: estimate -0.7141, CI -1.0644 .. -0.3638, z -3.9952,
    # tau^2 0.3088, I^2 92.1173
    yi, sei = _bcg_log_rr()
    t = meta_analysis(yi, sei, method="DL").table.iloc[0]
    for key, want in {
        "estimate": -0.7141,
        "ci_low": -1.0644,
        "ci_high": -0.3638,
        "z": -3.9952,
        "tau2": 0.3088,
        "I2": 92.1173,
    }.items():
        assert t[key] == pytest.approx(want, abs=0.6e-4), key


def test_normand_1999_mean_differences():
    # dat.normand1999 (Normand 1999, Stat Med 18:321): length of stay, specialist vs routine care;
    # metafor's test: vi (pooled SD) 40.59 2.05 15.28 150.22 20.19 1.22 95.38 8.03 20.69;
    # DL -14.10 [-24.45, -3.75], tau^2 218.72; REML -15.12 [-32.67, 2.43], tau^2 685.20 (Table IX)
    n1, m1, s1, n2, m2, s2 = NORMAND.T
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    vi = sp**2 * (1 / n1 + 1 / n2)
    np.testing.assert_array_equal(vi.round(2), [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03, 20.69])
    dl = meta_analysis(m1 - m2, np.sqrt(vi), method="DL").table.iloc[0]
    assert [round(dl[c], 2) for c in ("estimate", "ci_low", "ci_high", "tau2")] == [-14.10, -24.45, -3.75, 218.72]
    reml = meta_analysis(m1 - m2, np.sqrt(vi), method="REML").table.iloc[0]
    assert [round(reml[c], 2) for c in ("estimate", "ci_low", "ci_high", "tau2")] == [-15.12, -32.67, 2.43, 685.20]


NORMAND = np.array(
    [  # n1, m1, sd1, n2, m2, sd2
        [155, 55, 47, 156, 75, 64],
        [31, 27, 7, 32, 29, 4],
        [75, 64, 17, 71, 119, 29],
        [18, 66, 20, 18, 137, 48],
        [8, 14, 8, 13, 18, 11],
        [57, 19, 7, 52, 18, 4],
        [34, 52, 45, 33, 41, 34],
        [110, 21, 16, 183, 31, 27],
        [60, 30, 27, 52, 23, 20],
    ],
    dtype=float,
)


def test_hand_worked_dersimonian_laird():
    # y = (0, 1, 3), v = (1, 0.5, 0.25): w = (1, 2, 4), sum w = 7, y_FE = 14/7 = 2,
    # Q = 1*4 + 2*1 + 4*1 = 10, C = 7 - 21/7 = 4, tau^2 = (10 - 2)/4 = 2;
    # w* = (1/3, 2/5, 4/9), sum = 53/45, mu = (0 + 2/5 + 4/3)/(53/45) = 78/53, SE = sqrt(45/53);
    # s^2 = 2*7/(49 - 21) = 1/2, I^2 = 2/2.5 = 80%
    t = meta_analysis([0.0, 1.0, 3.0], np.sqrt([1.0, 0.5, 0.25]), method="DL").table.iloc[0]
    assert t["Q"] == pytest.approx(10.0)
    assert t["tau2"] == pytest.approx(2.0)
    assert t["estimate"] == pytest.approx(78 / 53)
    assert t["se"] == pytest.approx(np.sqrt(45 / 53))
    assert t["I2"] == pytest.approx(80.0)
    assert t["H2"] == pytest.approx(5.0)


def test_many_features_at_once_with_missing_studies():
    yi, sei = _bcg_log_rr()
    rng = np.random.default_rng(3)
    Y = pd.DataFrame(
        [yi.to_numpy(), yi.to_numpy()[::-1] + 0.2, rng.normal(size=13), np.full(13, np.nan)],
        index=["f1", "f2", "f3", "none"],
        columns=BCG.index,
    )
    S = pd.DataFrame([sei.to_numpy()] * 4, index=Y.index, columns=Y.columns)
    Y.iloc[2, [0, 5, 7]] = np.nan
    Y.iloc[1, 1:] = np.where(np.arange(12) < 11, np.nan, Y.iloc[1, 1:])  # f2: two studies
    res = meta_analysis(Y, S, method="REML")
    for f in ("f1", "f2", "f3"):
        have = Y.loc[f].notna()
        one = meta_analysis(Y.loc[f][have].to_numpy(), S.loc[f][have].to_numpy(), method="REML").table.iloc[0]
        pd.testing.assert_series_equal(
            res.table.loc[f].drop(["q"]), one.drop(["q"]), check_names=False, check_exact=False, rtol=1e-9
        )
    assert res.table.loc["none", "note"] == "no study has an estimate" and np.isnan(res.table.loc["none", "estimate"])
    assert res.table.loc["f2", "k"] == 2
    assert res.weights.loc["f1"].sum() == pytest.approx(100.0)
    # BH q-values over the three features with a p-value
    p = res.table["p"].dropna().sort_values()
    assert res.table.loc[p.index[-1], "q"] == pytest.approx(p.iloc[-1])


def test_per_study_mean_differences_reproduce_normand(tmp_path):
    # raw samples with exactly the published group means and SDs: the per-study linear-model
    # coefficient and its OLS standard error are escalc's MD with the pooled SD
    rows, meta = [], []
    rng = np.random.default_rng(0)
    for s, (n1, m1, s1, n2, m2, s2) in enumerate(NORMAND):
        for label, n, m, sd in (("specialist", n1, m1, s1), ("routine", n2, m2, s2)):
            x = rng.normal(size=int(n))
            x = (x - x.mean()) / x.std(ddof=1) * sd + m + 1000.0  # shifted to stay >= 0
            rows.extend(x)
            meta.extend([(f"study{s}", label)] * int(n))
    ids = [f"x{i}" for i in range(len(rows))]
    table = pd.DataFrame({"length_of_stay": rows}, index=ids)
    md = pd.DataFrame(meta, index=ids, columns=["study", "care"])
    for method, want in (("DL", [-14.10, -24.45, -3.75, 218.72]), ("REML", [-15.12, -32.67, 2.43, 685.20])):
        res = per_study_associations(
            table,
            metadata=md,
            study="study",
            label="care",
            case="specialist",
            effect="lm",
            transform=None,
            method=method,
        )
        t = res.table.loc["length_of_stay"]
        assert [round(t[c], 2) for c in ("estimate", "ci_low", "ci_high", "tau2")] == want
    assert res.studies["n_case"].tolist() == NORMAND[:, 0].astype(int).tolist()
    path = forest_plot(res, "length_of_stay", path=tmp_path / "forest.svg")
    svg = (tmp_path / "forest.svg").read_text()
    assert "study0" in svg and "RE model (REML)" in svg and path is not None


def test_per_study_hedges_g_by_hand():
    # cases 3, 4, 5 (mean 4, SD 1), controls 1, 2, 3 (mean 2, SD 1): d = 2; with m = 4,
    # J = Gamma(2) / (sqrt(2) Gamma(1.5)) = 1 / (1.414214 * 0.886227) = 0.797885, g = 1.595769,
    # var = 1/3 + 1/3 + g^2 / 12 = 0.878873
    table = pd.DataFrame({"taxon": [3.0, 4.0, 5.0, 1.0, 2.0, 3.0]}, index=list("abcdef"))
    md = pd.DataFrame({"study": "S1", "dx": ["RA"] * 3 + ["HC"] * 3}, index=list("abcdef"))
    res = per_study_associations(table, metadata=md, study="study", label="dx", case="RA", control="HC", transform=None)
    assert res.effects.iloc[0, 0] == pytest.approx(1.595769, abs=1e-6)
    assert res.std_errors.iloc[0, 0] ** 2 == pytest.approx(0.878873, abs=1e-6)
    assert res.table.iloc[0]["note"].startswith("one study")


def test_read_effects_and_bad_input(tmp_path):
    yi, sei = _bcg_log_rr()
    long = pd.DataFrame(
        {"feature": "BCG", "study": BCG.index, "effect": yi.to_numpy(), "variance": sei.to_numpy() ** 2}
    )
    long.to_csv(tmp_path / "effects.tsv", sep="\t", index=False)
    Y, S = read_effects(tmp_path / "effects.tsv")
    assert Y.shape == (1, 13)
    assert meta_analysis(Y, S).table.loc["BCG", "estimate"] == pytest.approx(-0.7145, abs=5e-5)
    long.drop(columns="variance").to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="se"):
        read_effects(tmp_path / "bad.tsv")
    with pytest.raises(InputError, match="not > 0"):
        meta_analysis([0.1, 0.2], [0.1, 0.0])
    with pytest.raises(InputError, match="method"):
        meta_analysis([0.1, 0.2], [0.1, 0.1], method="ML")
    table = pd.DataFrame({"t": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(InputError, match="unknown column 'dx'"):
        per_study_associations(
            table, metadata=pd.DataFrame({"study": ["s", "s"]}, index=["a", "b"]), study="study", label="dx", case="RA"
        )
