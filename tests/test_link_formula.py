"""Interaction terms in associate() formulas: R's terms()/model.matrix coding, MaAsLin3's
(metadata, value) split, fits against statsmodels OLS/GLM and lme4, and the checks that name
the columns at fault.

R's numbers are stored literals from ``tests/r/link_formula.R`` (R 4.2.2, lme4 1.1-31,
lmerTest 3.1-3; run by hand from the repository root: ``Rscript tests/r/link_formula.R``);
no test calls R.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.link import _design, _maaslin3
from gutaxis.link.associate import associate

# R's model.matrix(formula, toy): column names, column sums, column sums weighted by row number
R_MODEL_MATRIX = {
    "~a*b": (["(Intercept)", "ay", "az", "bq", "ay:bq", "az:bq"], [30, 10, 10, 15, 5, 5], [465, 155, 165, 255, 85, 90]),
    "~a:b": (
        ["(Intercept)", "ax:bp", "ay:bp", "az:bp", "ax:bq", "ay:bq", "az:bq"],
        [30, 5, 5, 5, 5, 5, 5],
        [465, 65, 70, 75, 80, 85, 90],
    ),
    "~u:a": (
        ["(Intercept)", "u:ax", "u:ay", "u:az"],
        [30, 0.609477636074, 0.13460046887, -0.464027748671],
        [465, 4.7581809972, -9.15933441214, -15.7293053881],
    ),
    "~u + u:a": (
        ["(Intercept)", "u", "u:ay", "u:az"],
        [30, 0.280050356272, 0.13460046887, -0.464027748671],
        [465, -20.1304588031, -9.15933441214, -15.7293053881],
    ),
    "~a + u:a": (
        ["(Intercept)", "ay", "az", "ax:u", "ay:u", "az:u"],
        [30, 10, 10, 0.609477636074, 0.13460046887, -0.464027748671],
        [465, 155, 165, 4.7581809972, -9.15933441214, -15.7293053881],
    ),
    "~b + a + a:b": (
        ["(Intercept)", "bq", "ay", "az", "bq:ay", "bq:az"],
        [30, 15, 10, 10, 5, 5],
        [465, 255, 155, 165, 85, 90],
    ),
    "~u*v*a": (
        ["(Intercept)", "u", "v", "ay", "az", "u:v", "u:ay", "u:az", "v:ay", "v:az", "u:v:ay", "u:v:az"],
        [
            30,
            0.280050356272,
            -0.181117725154,
            10,
            10,
            -0.20812181048,
            0.13460046887,
            -0.464027748671,
            -1.07996954256,
            -5.84069596558,
            -0.739356881229,
            0.35970892532,
        ],
        [
            465,
            -20.1304588031,
            -5.89654254381,
            155,
            165,
            1.00365331235,
            -9.15933441214,
            -15.7293053881,
            39.8536019962,
            -127.956466184,
            -9.2139886866,
            10.8055224495,
        ],
    ),
    "~a*b*u": (
        ["(Intercept)", "ay", "az", "bq", "u", "ay:bq", "az:bq", "ay:u", "az:u", "bq:u", "ay:bq:u", "az:bq:u"],
        [
            30,
            10,
            10,
            15,
            0.280050356272,
            5,
            5,
            0.13460046887,
            -0.464027748671,
            -9.2174243544,
            -4.43016626148,
            -3.46058564907,
        ],
        [
            465,
            155,
            165,
            255,
            -20.1304588031,
            85,
            90,
            -9.15933441214,
            -15.7293053881,
            -149.537931692,
            -70.8467229455,
            -73.007967858,
        ],
    ),
    "~u:v": (["(Intercept)", "u:v"], [30, -0.20812181048], [465, 1.00365331235]),
    "~a:b:u + a": (
        ["(Intercept)", "ay", "az", "ax:bp:u", "ay:bp:u", "az:bp:u", "ax:bq:u", "ay:bq:u", "az:bq:u"],
        [30, 10, 10, 1.93615007992, 4.56476673035, 2.9965579004, -1.32667244384, -4.43016626148, -3.46058564907],
        [465, 155, 165, 10.4414218857, 61.6873885334, 57.2786624699, -5.68324088854, -70.8467229455, -73.007967858],
    ),
    "~b:a + a*b": (
        ["(Intercept)", "ay", "az", "bq", "bq:ay", "bq:az"],
        [30, 10, 10, 15, 5, 5],
        [465, 155, 165, 255, 85, 90],
    ),
    "~u + a:b": (
        ["(Intercept)", "u", "ax:bp", "ay:bp", "az:bp", "ax:bq", "ay:bq", "az:bq"],
        [30, 0.280050356272, 5, 5, 5, 5, 5, 5],
        [465, -20.1304588031, 65, 70, 75, 80, 85, 90],
    ),
    "~(a + b):(u + v)": (
        ["(Intercept)", "ax:u", "ay:u", "az:u", "ax:v", "ay:v", "az:v", "bq:u", "bq:v"],
        [
            30,
            0.609477636074,
            0.13460046887,
            -0.464027748671,
            6.73954778299,
            -1.07996954256,
            -5.84069596558,
            -9.2174243544,
            -0.00787338499162,
        ],
        [
            465,
            4.7581809972,
            -9.15933441214,
            -15.7293053881,
            82.2063216437,
            39.8536019962,
            -127.956466184,
            -149.537931692,
            -1.83961911348,
        ],
    ),
    "~(u + v + w)^2": (
        ["(Intercept)", "u", "v", "w", "u:v", "u:w", "v:w"],
        [30, 0.280050356272, -0.181117725154, 62.1428571429, -0.20812181048, -8.57198039101, -2.04688665706],
        [465, -20.1304588031, -5.89654254381, 1344.28571429, 1.00365331235, -193.339898064, -44.5523590026],
    ),
    "~a/u": (
        ["(Intercept)", "ay", "az", "ax:u", "ay:u", "az:u"],
        [30, 10, 10, 0.609477636074, 0.13460046887, -0.464027748671],
        [465, 155, 165, 4.7581809972, -9.15933441214, -15.7293053881],
    ),
    "~(a + b)/u": (
        ["(Intercept)", "ay", "az", "bq", "ax:bp:u", "ay:bp:u", "az:bp:u", "ax:bq:u", "ay:bq:u", "az:bq:u"],
        [30, 10, 10, 15, 1.93615007992, 4.56476673035, 2.9965579004, -1.32667244384, -4.43016626148, -3.46058564907],
        [
            465,
            155,
            165,
            255,
            10.4414218857,
            61.6873885334,
            57.2786624699,
            -5.68324088854,
            -70.8467229455,
            -73.007967858,
        ],
    ),
    "~u*(a + v)": (
        ["(Intercept)", "u", "ay", "az", "v", "u:ay", "u:az", "u:v"],
        [30, 0.280050356272, 10, 10, -0.181117725154, 0.13460046887, -0.464027748671, -0.20812181048],
        [465, -20.1304588031, 155, 165, -5.89654254381, -9.15933441214, -15.7293053881, 1.00365331235],
    ),
    "~a*b:u": (
        ["(Intercept)", "ay", "az", "bp:u", "bq:u", "ay:bp:u", "az:bp:u", "ay:bq:u", "az:bq:u"],
        [30, 10, 10, 9.49747471067, -9.2174243544, 4.56476673035, 2.9965579004, -4.43016626148, -3.46058564907],
        [465, 155, 165, 129.407472889, -149.537931692, 61.6873885334, 57.2786624699, -70.8467229455, -73.007967858],
    ),
    "~b:a + u": (
        ["(Intercept)", "u", "bp:ax", "bq:ax", "bp:ay", "bq:ay", "bp:az", "bq:az"],
        [30, 0.280050356272, 5, 5, 5, 5, 5, 5],
        [465, -20.1304588031, 65, 80, 70, 85, 75, 90],
    ),
    "~a:u:v + u:v": (
        ["(Intercept)", "u:v", "ay:u:v", "az:u:v"],
        [30, -0.20812181048, -0.739356881229, 0.35970892532],
        [465, 1.00365331235, -9.2139886866, 10.8055224495],
    ),
}
LMER = {  # name: (estimate, std. error, Satterthwaite df)
    "Bacteroides stercoris": {
        "(Intercept)": (-9.98667043356, 1.29852317934, 114.134127919),
        "diagnosisUC": (0.438991174964, 1.7189952358, 116.563382163),
        "diagnosisCD": (-2.69696286816, 1.57359805161, 116.043780418),
        "age": (-2.99503591042, 1.17247355703, 113.975250191),
        "antibioticsYes": (-0.0266033590726, 0.326496092569, 1480.03785567),
        "diagnosisUC:age": (3.9501443662, 1.67512785606, 115.940818667),
        "diagnosisCD:age": (2.59799821307, 1.52851259405, 115.762291989),
    },
    "Alistipes putredinis": {
        "(Intercept)": (-7.7574417912, 1.11469891026, 111.451315255),
        "diagnosisUC": (-4.0625085382, 1.47881559721, 114.531161979),
        "diagnosisCD": (-3.01288217362, 1.35311713105, 113.863889762),
        "age": (1.23705358046, 1.00634382142, 111.233685155),
        "antibioticsYes": (-0.411367655855, 0.334635109857, 1489.13853785),
        "diagnosisUC:age": (-0.24090998757, 1.44027254761, 113.694327561),
        "diagnosisCD:age": (-2.05969526478, 1.31401272857, 113.480483363),
    },
    "Faecalibacterium prausnitzii": {
        "(Intercept)": (-4.01502365331, 0.577583032684, 103.933913537),
        "diagnosisUC": (0.29123312912, 0.771682752425, 108.502645591),
        "diagnosisCD": (-1.95402726966, 0.705012431105, 107.478531344),
        "age": (-0.117795059876, 0.521132403191, 103.51321726),
        "antibioticsYes": (-1.10263694152, 0.258456546773, 1520.42932065),
        "diagnosisUC:age": (-0.68422905581, 0.750004529548, 106.984186782),
        "diagnosisCD:age": (-1.67108303871, 0.6839717794, 106.772180647),
    },
}


def _toy() -> pd.DataFrame:
    # the frame of tests/r/link_formula.R
    k = np.arange(30)
    return pd.DataFrame(
        {
            "a": np.array(["x", "y", "z"])[k % 3],
            "b": np.array(["p", "q"])[(k // 3) % 2],
            "u": np.sin(k + 1.0),
            "v": np.cos(2.0 * k + 1),
            "w": (k % 5) - 2 + k / 7,
        }
    )


def _toy_design(formula, *, checks=True, monkeypatch=None):
    fixed, random = _design.parse_formula(formula)
    variables = {v for t in fixed for v in ((t,) if isinstance(t, str) else t)}
    if not checks:
        monkeypatch.setattr(_design, "_check_rank", lambda *a, **k: None)
        monkeypatch.setattr(_design, "_check_empty_cells", lambda *a, **k: None)
    return _design.build_design(_toy(), fixed, random, {"a": "x"} if "a" in variables else {}, False)


SINGULAR = {"~a:b", "~u + a:b", "~b:a + u"}  # every level of both factors: aliased with the intercept


@pytest.mark.parametrize("formula", list(R_MODEL_MATRIX))
def test_model_matrix_is_rs(formula, monkeypatch):
    names, sums, wsums = R_MODEL_MATRIX[formula]
    d = _toy_design(formula, checks=False, monkeypatch=monkeypatch)
    assert d.columns == names
    np.testing.assert_allclose(d.X.sum(axis=0), sums, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose((d.X * np.arange(1, 31)[:, None]).sum(axis=0), wsums, rtol=1e-10, atol=1e-9)
    # each column is the product of the parts it names
    toy = _toy()
    for j, parts in enumerate(d.parts[1:], start=1):
        x = np.ones(len(toy))
        for v, lev in parts:
            x = x * (toy[v].to_numpy() if lev is None else (toy[v] == lev).to_numpy())
        np.testing.assert_array_equal(d.X[:, j], x)
    if formula in SINGULAR:
        monkeypatch.undo()
        with pytest.raises(InputError, match=r"singular: .*cannot be separated.*\(Intercept\)"):
            _toy_design(formula)


def _r_name(patsy_name: str) -> str:
    if patsy_name == "Intercept":
        return "(Intercept)"
    s = re.sub(r"(\w+)\[T\.(\w+)\]", r"\1\2", patsy_name)
    return re.sub(r"(\w+)\[(\w+)\]", r"\1\2", s)


@pytest.mark.parametrize("formula", [f for f in R_MODEL_MATRIX if f not in SINGULAR])
def test_model_matrix_matches_patsy(formula):
    """patsy (statsmodels' formula engine) codes these full-rank designs as R does; it names the
    variables of an interaction as written, so columns are matched by their set of parts."""
    patsy = pytest.importorskip("patsy")
    d = _toy_design(formula)
    P = patsy.dmatrix(formula.replace("^", "**"), _toy(), return_type="dataframe")
    key = lambda name: frozenset(name.split(":"))  # noqa: E731
    ours = {key(c): d.X[:, j] for j, c in enumerate(d.columns)}
    theirs = {key(_r_name(c)): P[c].to_numpy() for c in P.columns}
    assert ours.keys() == theirs.keys()
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-13, atol=1e-13)


def test_parse_formula_follows_r_terms():
    p = _design.parse_formula
    assert p("~ diagnosis * age + (1|subject)") == (["diagnosis", "age", ("diagnosis", "age")], ["subject"])
    assert p("~ a:b + c") == (["c", ("a", "b")], [])  # main effects first
    assert p("~ b:a + a*b") == (["a", "b", ("b", "a")], [])  # variables in order of first appearance
    assert p("~ a*b*c")[0] == ["a", "b", "c", ("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c")]
    assert p("~ (a + b + c)^2")[0] == ["a", "b", "c", ("a", "b"), ("a", "c"), ("b", "c")]
    assert p("~ a/b")[0] == ["a", ("a", "b")]
    assert p("~ a*b:c")[0] == ["a", ("b", "c"), ("a", "b", "c")]  # ':' binds tighter than '*'
    assert p("~ a + a:a + `odd name`:a")[0] == ["a", ("a", "odd name")]
    for bad, why in [
        ("~ log(age)", "function log"),
        ("~ a - b", "remove a term"),
        ("~ (age|subject)", "random"),
        ("~ a:", "incomplete"),
        ("~ (a + b", "parenthes"),
        ("~ a^b", "whole number"),
    ]:
        with pytest.raises(InputError, match=why):
            p(bad)


def _maaslin3_split(name: str, metadata_names) -> tuple[str, str]:
    """MaAsLin3's R/fit.R: the longest metadata name the coefficient name starts with; the value
    is the name without it and without a leading ':' (checked in R on these data)."""
    ordered = sorted(metadata_names, key=len, reverse=True)
    meta = next(m for m in ordered if name.startswith(m))
    if meta == name:
        return meta, name
    rest = name[len(meta) :]
    return meta, rest[1:] if rest.startswith(":") else rest


@pytest.fixture(scope="module")
def hmp2(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return data, meta.loc[data.index]


@pytest.fixture(scope="module")
def hmp2_m3(shared):
    data = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return data, meta.loc[data.index]


def test_interaction_columns_on_standardized_metadata(hmp2):
    _data, meta = hmp2
    fixed, _ = _design.parse_formula("~ diagnosis*antibiotics*age + age:dysbiosis")
    d = _design.build_design(meta, fixed, [], {"diagnosis": "nonIBD"}, True)
    # R 4.2.2's model.matrix on the scaled frame (levels: reference, then as they first appear)
    assert d.columns == [
        "(Intercept)",
        "diagnosisUC",
        "diagnosisCD",
        "antibioticsYes",
        "age",
        "diagnosisUC:antibioticsYes",
        "diagnosisCD:antibioticsYes",
        "diagnosisUC:age",
        "diagnosisCD:age",
        "antibioticsYes:age",
        "age:dysbiosis",
        "diagnosisUC:antibioticsYes:age",
        "diagnosisCD:antibioticsYes:age",
    ]
    z = lambda x: (x - x.mean()) / x.std(ddof=1)  # noqa: E731  (R's scale)
    age, dys = z(meta["age"]).to_numpy(), z(meta["dysbiosis"]).to_numpy()
    uc, yes = (meta["diagnosis"] == "UC").to_numpy(), (meta["antibiotics"] == "Yes").to_numpy()
    # z-scores over every sample, then the samples without an age left out (MaAsLin's order)
    assert d.rows.sum() == meta["age"].notna().sum() < len(meta)
    np.testing.assert_allclose(d.X[:, d.columns.index("age:dysbiosis")], (age * dys)[d.rows], rtol=1e-14)
    np.testing.assert_allclose(
        d.X[:, d.columns.index("diagnosisUC:antibioticsYes:age")], (uc * yes * age)[d.rows], rtol=1e-14
    )
    for c, (m, v) in zip(d.columns[1:], d.terms[1:], strict=True):
        assert (m, v) == _maaslin3_split(c, meta.columns)
    assert d.fixed == [
        "diagnosis",
        "antibiotics",
        "age",
        "diagnosis:antibiotics",
        "diagnosis:age",
        "antibiotics:age",
        "age:dysbiosis",
        "diagnosis:antibiotics:age",
    ]
    assert d.terms[d.columns.index("diagnosisCD:antibioticsYes:age")] == ("diagnosis", "CD:antibioticsYes:age")
    assert d.terms[d.columns.index("age:dysbiosis")] == ("age", "dysbiosis")


@pytest.mark.parametrize(
    "formula",
    [
        "~ diagnosis*age + antibiotics",
        "~ diagnosis*antibiotics + age",
        "~ age*dysbiosis + diagnosis*antibiotics*age",
        "~ age + age:diagnosis + antibiotics",
        "~ diagnosis + diagnosis:age",
    ],
)
def test_lm_with_interactions_matches_statsmodels_ols(hmp2, formula):
    smf = pytest.importorskip("statsmodels.formula.api")
    import statsmodels.api as sm

    data, meta = hmp2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(data, meta, formula=formula, reference={"diagnosis": "nonIBD"})
    assert not res.filtered  # every feature kept: TSS over the whole table below
    tss = data.to_numpy() / data.to_numpy().sum(axis=1, keepdims=True)
    frame = meta.copy()
    for v in ("age", "dysbiosis"):  # standardize=True: z-scores before the design
        frame[v] = (frame[v] - frame[v].mean()) / frame[v].std(ddof=1)
    frame["diagnosis"] = pd.Categorical(frame["diagnosis"], categories=["nonIBD", "CD", "UC"])
    r = res.results.dropna(subset=["metadata"]).copy()
    # coefficient names back from (metadata, value); patsy names an interaction's variables as
    # written, R in order of first appearance in the formula: match columns by their parts
    inter = {(d["metadata"], d["value"]): name for name, d in res.params.get("interactions", {}).items()}
    names = [inter.get((m, v), m if m == v else m + v) for m, v in zip(r["metadata"], r["value"], strict=True)]
    r["key"] = [frozenset(n.split(":")) for n in names]
    for name, (m, v) in zip(names, zip(r["metadata"], r["value"], strict=True), strict=True):
        assert (m, v) == _maaslin3_split(name, meta.columns)
    frame["y"] = 0.0
    model = smf.ols("y " + formula, frame)  # the formula's design once (samples with missing age dropped)
    rows = frame.index.get_indexer(model.data.row_labels)
    checked = 0
    by_taxon = {t: {row.key: row for row in g.itertuples()} for t, g in r.groupby("taxon")}
    for j, taxon in enumerate(data.columns):
        x = tss[:, j]
        y = np.log2(np.where(x == 0, x[x > 0].min() / 2, x))[rows]
        fit = sm.OLS(y, model.exog).fit()
        mine = by_taxon[taxon]
        for k, pname in enumerate(model.exog_names[1:], start=1):
            row = mine[frozenset(_r_name(pname).split(":"))]
            assert row.coef == pytest.approx(fit.params[k], rel=1e-8, abs=1e-12)
            assert row.stderr == pytest.approx(fit.bse[k], rel=1e-8)
            assert row.pval == pytest.approx(fit.pvalues[k], rel=1e-6, abs=1e-300)
            checked += 1
        assert len(mine) == len(model.exog_names) - 1
    assert checked == data.shape[1] * (len(model.exog_names) - 1)


def test_random_intercept_with_interaction_matches_lme4(hmp2):
    from gutaxis.link import _mixed

    data, meta = hmp2
    fixed, random = _design.parse_formula("~ diagnosis * age + antibiotics + (1 | subject)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = _design.build_design(meta, fixed, random, {"diagnosis": "nonIBD"}, True)
    tss = data / data.to_numpy().sum(axis=1, keepdims=True)
    Y = np.column_stack([np.log2(np.where(tss[f] == 0, tss[f][tss[f] > 0].min() / 2, tss[f])) for f in LMER])
    coef, se, _, df, _ = _mixed.lmm_all(d.X, Y[d.rows], [g[1] for g in d.groups])
    for i, f in enumerate(LMER):
        for name, (b, s, nu) in LMER[f].items():
            j = d.columns.index(name)
            assert coef[i, j] == pytest.approx(b, rel=1e-5, abs=1e-6)
            assert se[i, j] == pytest.approx(s, rel=1e-5)
            assert df[i, j] == pytest.approx(nu, rel=1e-4)


def test_maaslin3_interaction_rows(hmp2_m3):
    sm = pytest.importorskip("statsmodels.api")
    data, meta = hmp2_m3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(
            data,
            meta,
            model="maaslin3",
            formula="~ diagnosis*age + antibiotics + reads",
            reference={"diagnosis": "nonIBD", "antibiotics": "No"},
        )
    r = res.results.dropna(subset=["name"])
    names = set(r["name"])
    assert {"diagnosisCD:age", "diagnosisUC:age"} <= names
    for name, m, v in r[["name", "metadata", "value"]].drop_duplicates().itertuples(index=False):
        assert (m, v) == _maaslin3_split(name, meta.columns)
    inter = r[r["name"] == "diagnosisUC:age"]
    assert set(inter["metadata"]) == {"diagnosis"} and set(inter["value"]) == {"UC:age"}
    # each interaction coefficient has its own median comparison (MaAsLin3 groups by name)
    ab = r[(r.model == "abundance") & r.error.isna()]
    assert ab.groupby("name")["null_hypothesis"].nunique().eq(1).all()
    assert (
        ab.loc[ab.name == "diagnosisUC:age", "null_hypothesis"].iloc[0]
        != ab.loc[ab.name == "diagnosisCD:age", "null_hypothesis"].iloc[0]
    )
    assert (res.significant["name"] == "diagnosisUC:age").any()
    # the fits: OLS on the non-zero values, augmented logistic regression on presence
    d = _design.build_design(
        meta,
        *_design.parse_formula("~ diagnosis*age + antibiotics + reads"),
        {"diagnosis": "nonIBD", "antibiotics": "No"},
        True,
    )
    X = d.X
    tss = data.to_numpy() / data.to_numpy().sum(axis=1, keepdims=True)
    n, p = X.shape
    top = ab.groupby("taxon").size().index[:6]
    for taxon in top:
        x = tss[:, list(data.columns).index(taxon)]
        nz = x > 0
        ols = sm.OLS(np.log2(x[nz]), X[nz]).fit()
        w = (p - 1) / (2.0 * n)
        glm = sm.GLM(
            np.concatenate([nz, np.ones(n), np.zeros(n)]).astype(float),
            np.vstack([X, X, X]),
            family=sm.families.Binomial(),
            var_weights=np.r_[np.ones(n), np.full(2 * n, w)],
        ).fit(tol=1e-12)
        mine = r[r.taxon == taxon].set_index(["model", "name"])
        for j, name in enumerate(d.columns[1:], start=1):
            if pd.isna(mine.loc[("abundance", name), "error"]):
                assert mine.loc[("abundance", name), "coef"] == pytest.approx(ols.params[j], rel=1e-8)
                assert mine.loc[("abundance", name), "stderr"] == pytest.approx(ols.bse[j], rel=1e-8)
            assert mine.loc[("prevalence", name), "coef"] == pytest.approx(glm.params[j], rel=1e-5, abs=1e-7)
            # R's glm (and MaAsLin3) take the standard errors from the weights of the last IRLS step
            assert mine.loc[("prevalence", name), "stderr"] == pytest.approx(glm.bse[j], rel=1e-3)


def test_maaslin3_level_checks_use_the_factor_not_the_interaction_columns(hmp2_m3):
    data, meta = hmp2_m3
    present = data.to_numpy() > 0
    diag = meta["diagnosis"].to_numpy()
    n_levels = np.array([len(set(diag[present[:, j]])) for j in range(data.shape[1])])
    no_base = np.array([not (present[:, j] & (diag == "nonIBD")).any() for j in range(data.shape[1])])
    for formula, baseline_checked in [("~ diagnosis*age", True), ("~ age + age:diagnosis", False)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = associate(
                data, meta, model="maaslin3", formula=formula, reference={"diagnosis": "nonIBD"}, warn_prevalence=False
            ).results
        ab = r[r.model == "abundance"].drop_duplicates("taxon").set_index("taxon")["error"]
        idx = [list(data.columns).index(t) for t in ab.index]
        # R: "No data points have the baseline factor level" where a coefficient name starts with
        # the factor's name; then lm's "contrasts can be applied only to factors with 2 or more levels"
        exp_base = no_base[idx] & baseline_checked
        assert ((ab == _maaslin3.ERR_BASELINE).to_numpy() == exp_base).all()
        exp_contr = (n_levels[idx] < 2) & ~exp_base
        got = (ab == _maaslin3.ERR_CONTRASTS).to_numpy()
        assert (got == exp_contr).all() and got.sum() < len(got) / 2


def test_singular_interactions_name_the_columns(hmp2):
    data, meta = hmp2
    cut = meta[~((meta["diagnosis"] == "UC") & (meta["antibiotics"] == "Yes"))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            InputError,
            match=r"diagnosisUC:antibioticsYes is all zero \(no sample modelled has "
            r"diagnosis = UC and antibiotics = Yes: an empty cell\)",
        ):
            associate(
                data,
                cut,
                formula="~ diagnosis*antibiotics + age",
                reference={"diagnosis": "nonIBD"},
                match="intersection",
            )
        with pytest.raises(InputError, match=r"diagnosisUC:antibioticsYes:age is all zero"):
            associate(
                data,
                cut,
                formula="~ diagnosis + antibiotics + age + diagnosis:antibiotics:age",
                reference={"diagnosis": "nonIBD"},
                match="intersection",
            )
        with pytest.raises(
            InputError,
            match=r"singular: diagnosis\w+:antibiotics\w+ cannot be separated .*"
            r"\(Intercept\).*write 'a\*b'",
        ):
            associate(data, meta, formula="~ diagnosis:antibiotics", reference={"diagnosis": "nonIBD"})
    with pytest.raises(InputError, match="reference given for 'site'"):
        associate(data, meta, formula="~ diagnosis*age", reference={"diagnosis": "nonIBD", "site": "MGH"})


def test_fixed_effect_terms_and_params(hmp2):
    data, meta = hmp2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = associate(data, meta, formula="~ age + diagnosis + diagnosis:age", reference={"diagnosis": "nonIBD"})
        b = associate(data, meta, fixed_effects="age,diagnosis,diagnosis:age", reference={"diagnosis": "nonIBD"})
        c = associate(
            data, meta, fixed_effects=["age", "diagnosis", ("age", "diagnosis")], reference={"diagnosis": "nonIBD"}
        )
    # R: '~ age + diagnosis + diagnosis:age' names the interaction age:diagnosis (variable order)
    assert a.params["fixed_effects"] == b.params["fixed_effects"] == ["age", "diagnosis", "age:diagnosis"]
    assert set(a.params["interactions"]) == {"age:diagnosisCD", "age:diagnosisUC"}
    assert a.params["interactions"]["age:diagnosisCD"] == {
        "metadata": "age",
        "value": "diagnosisCD",
        "parts": [["age", None], ["diagnosis", "CD"]],
    }
    key = ["feature", "metadata", "value"]
    for other in (b, c):
        pd.testing.assert_frame_equal(
            a.results.sort_values(key).reset_index(drop=True), other.results.sort_values(key).reset_index(drop=True)
        )
    plain = associate(data, meta, formula="~ age + diagnosis", reference={"diagnosis": "nonIBD"})
    assert "interactions" not in plain.params


def test_cli_and_report_with_interactions(shared, tmp_path):
    from typer.testing import CliRunner

    from gutaxis.cli import app
    from gutaxis.report._associate_plots import _plot

    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    data = data[list(data.columns[:30])]
    dpath, mpath = tmp_path / "features.tsv", tmp_path / "metadata.tsv"
    data.to_csv(dpath, sep="\t", index_label="ID")
    meta.to_csv(mpath, sep="\t", index_label="ID")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "associate",
            str(dpath),
            str(mpath),
            "-o",
            str(out),
            "--formula",
            "~ diagnosis * antibiotics + age * dysbiosis",
            "--reference",
            "diagnosis,nonIBD",
        ],
    )
    assert res.exit_code == 0, res.output
    allr = pd.read_csv(out / "all_results.tsv", sep="\t")
    sig = pd.read_csv(out / "significant_results.tsv", sep="\t")
    assert {("diagnosis", "CD:antibioticsYes"), ("diagnosis", "UC:antibioticsYes"), ("age", "dysbiosis")} <= set(
        map(tuple, allr[["metadata", "value"]].dropna().values)
    )
    assert (sig["value"].astype(str).str.contains(":") | (sig["value"] == "dysbiosis")).any()
    params = json.loads((out / "params.json").read_text())["params"]
    assert params["interactions"]["diagnosisUC:antibioticsYes"]["parts"] == [
        ["diagnosis", "UC"],
        ["antibiotics", "Yes"],
    ]
    html = (out / "report.html").read_text()
    heat = html[html.index("aria-label='heatmap") :]
    heat = heat[: heat.index("</svg>")]
    assert "diagnosisUC:antibioticsYes" in heat or "diagnosisCD:antibioticsYes" in heat or "age:dysbiosis" in heat
    assert "diagnosis-UC:antibioticsYes" not in heat  # interaction columns are labelled by coefficient name
    # the plots of interaction rows: a strip per level combination, or the outcome against the
    # product of the numeric variables
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = associate(
            data, meta, formula="~ diagnosis * antibiotics + age * dysbiosis", reference={"diagnosis": "nonIBD"}
        )
    row = r.results[r.results["value"] == "UC:antibioticsYes"].iloc[0]
    svg = _plot(r, row)
    assert "~ diagnosisUC:antibioticsYes" in svg and "UC / Yes" in svg and "nonIBD / No" in svg
    row = r.results[(r.results["metadata"] == "age") & (r.results["value"] == "dysbiosis")].iloc[0]
    svg = _plot(r, row)
    assert "~ age:dysbiosis" in svg and "age x dysbiosis" in svg and svg.count("<circle") > 100
