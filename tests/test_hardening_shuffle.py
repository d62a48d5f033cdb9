"""Issue 12: "the same cohort with its samples shuffled gives identical results in every command".

One test per command not covered elsewhere (associate, maaslin3, permanova, permdisp:
tests/test_hardening_link.py; health indices and the healthy reference: test_hardening_readers.py;
scenario arm order: test_hardening_scenarios.py). Each runs the command through the CLI twice on real
data from ../shared/data (small subsets): once as given, once with the samples (or the diary's
rows) in a shuffled order, in the table and, independently, in the metadata. The outputs are then
put back in sample/feature order and compared numerically.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from _cli import cli

EXAMPLE = resources.files("gutaxis").joinpath("data", "example_person")


def ok(*args):
    r = cli(*args)
    assert r.exit_code == 0, r.output
    return r.output


def same(a: pd.DataFrame, b: pd.DataFrame, by: list[str] | str | None = None, rtol: float = 1e-10, nonempty=True):
    """Equal after sorting both by ``by`` (or by the index); numbers to ``rtol``, the rest exactly."""
    if by is not None:
        a, b = a.sort_values(by).reset_index(drop=True), b.sort_values(by).reset_index(drop=True)
    else:
        a, b = a.sort_index(), b.sort_index()
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and (len(a) > 0 or not nonempty)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=rtol, atol=1e-12)


@pytest.fixture(scope="module")
def gmhi(tmp_path_factory, shared):
    """120 samples of the GMHI validation cohort (60 healthy, 60 not; three of its studies), the
    60 most abundant species, as given and with samples shuffled (table columns and metadata rows
    in two different orders)."""
    d = tmp_path_factory.mktemp("shuffle")
    table = pd.read_csv(shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0)
    meta = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_metadata.csv"), index_col=0, encoding="utf-8-sig"
    )
    meta = meta.loc[:, ~meta.columns.duplicated()]
    meta["study"] = meta["Phenotype_all"].str.extract(r"^(N-\d)", expand=False)
    meta = meta[meta["study"].isin(["N-1", "N-7", "N-8"])]
    rng = np.random.default_rng(12)
    keep = []
    for _, g in meta.groupby(["study", "Phenotype"]):
        keep += list(rng.choice(g.index, size=min(len(g), 20), replace=False))
    meta = meta.loc[sorted(keep), ["Phenotype", "study"]]
    sub = table[meta.index]
    sub = sub.loc[sub.mean(axis=1).sort_values(ascending=False).index[:60]]
    sub.to_csv(d / "t.csv")
    meta.to_csv(d / "m.tsv", sep="\t", index_label="sample")
    cols = rng.permutation(sub.columns)
    sub[cols].to_csv(d / "t_shuf.csv")
    meta.iloc[rng.permutation(len(meta))].to_csv(d / "m_shuf.tsv", sep="\t", index_label="sample")
    assert list(pd.read_csv(d / "t_shuf.csv", index_col=0).columns) != list(sub.columns)
    assert meta["Phenotype"].value_counts().min() >= 40 and meta["study"].nunique() == 3
    return d


def same_rows(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-10, nonempty=True):
    """The same rows in any order: both sorted on every column (numbers rounded for the sort only,
    so that a last-bit difference cannot reorder them), then compared as :func:`same`."""

    def canon(df):
        key = df.copy()
        for c in key.columns:
            key[c] = key[c].round(8) if pd.api.types.is_float_dtype(key[c]) else key[c].astype(str)
        return df.loc[key.sort_values(list(key.columns)).index].reset_index(drop=True)

    same(canon(a), canon(b), rtol=rtol, nonempty=nonempty)


def same_json(a, b, rtol: float = 1e-10, path: str = ""):
    """Equal JSON values; numbers to ``rtol`` (a sum taken in another order may differ in its last bit)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), path
        for k in a:
            same_json(a[k], b[k], rtol, f"{path}/{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_json(x, y, rtol, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=rtol, abs=1e-12), path
    else:
        assert a == b, path


def _both(gmhi, tmp_path, *args, files=("t.csv", "m.tsv")):
    """Run ``args`` (with {t} and {m} for the table and metadata) on the cohort and on the shuffled one."""
    outs = []
    for tag, (t, m) in (("a", files), ("b", tuple(f.replace(".", "_shuf.") for f in files))):
        out = tmp_path / tag
        ok(*[str(x).format(t=gmhi / t, m=gmhi / m, o=out) for x in args])
        outs.append(out)
    return outs


# ----------------------------------------------------------------------------- measure


def test_report_indices_panels_and_pcoa(gmhi, tmp_path):
    a, b = _both(gmhi, tmp_path, "report", "{t}", "-o", "{o}")
    for name in ("indices.tsv", "panels.tsv"):
        same(pd.read_csv(a / name, sep="\t", index_col=0), pd.read_csv(b / name, sep="\t", index_col=0))
    pa, pb = (pd.read_csv(x / "pcoa.tsv", sep="\t", index_col=0) for x in (a, b))
    # the ordination itself, sign included (a sign that follows the row order is order-dependent)
    same(pa, pb, rtol=1e-8)


# ----------------------------------------------------------------------------- meta


def test_meta_per_study_from_a_profile(gmhi, tmp_path):
    a, b = _both(
        gmhi,
        tmp_path,
        "meta",
        "{t}",
        "-m",
        "{m}",
        "--study",
        "study",
        "--label",
        "Phenotype",
        "--case",
        "Unhealthy",
        "--control",
        "Healthy",
        "--plots",
        0,
        "-o",
        "{o}",
    )
    for name in ("meta_analysis.tsv", "study_effects.tsv", "studies.tsv"):
        ta, tb = (pd.read_csv(x / name, sep="\t") for x in (a, b))
        key = [c for c in ("feature", "study") if c in ta.columns] or list(ta.columns[:1])
        same(ta, tb, by=key)


# ----------------------------------------------------------------------------- classify

CV = [
    "--label",
    "Phenotype",
    "--case",
    "Unhealthy",
    "--control",
    "Healthy",
    "--model",
    "lasso",
    "--folds",
    5,
    "--repeats",
    2,
    "--seed",
    3,
    "--no-report",
    "--no-confounders",
]


def test_classify_cv_predictions_per_sample(gmhi, tmp_path):
    a, b = _both(gmhi, tmp_path, "classify", "cv", "{t}", "{m}", *CV, "-o", "{o}")
    pa, pb = (pd.read_csv(x / "predictions.tsv", sep="\t") for x in (a, b))
    key = [c for c in ("sample", "repeat") if c in pa.columns]
    same(pa, pb, by=key)
    sa, sb = (pd.read_csv(x / "summary.tsv", sep="\t") for x in (a, b))
    same(sa, sb, by=list(sa.columns[:1]))


def test_classify_predict_per_sample(gmhi, tmp_path):
    model = tmp_path / "model.pkl"
    ok("classify", "cv", gmhi / "t.csv", gmhi / "m.tsv", *CV, "-o", tmp_path / "cv", "--save-model", model)
    for tag, t in (("a", "t.csv"), ("b", "t_shuf.csv")):
        ok("classify", "predict", model, gmhi / t, "-o", tmp_path / f"{tag}.tsv")
    pa, pb = (pd.read_csv(tmp_path / f"{tag}.tsv", sep="\t") for tag in "ab")
    assert list(pa["sample"]) != list(pb["sample"])
    same(pa, pb, by="sample")


def test_classify_cross_study(gmhi, tmp_path):
    a, b = _both(
        gmhi,
        tmp_path,
        "classify",
        "cross-study",
        "{t}",
        "{m}",
        "--label",
        "Phenotype",
        "--case",
        "Unhealthy",
        "--control",
        "Healthy",
        "--study",
        "study",
        "--mode",
        "matrix",
        "--folds",
        3,
        "--repeats",
        1,
        "--seed",
        2,
        "--no-report",
        "-o",
        "{o}",
    )
    names = sorted(p.name for p in a.glob("*.tsv"))
    assert names == sorted(p.name for p in b.glob("*.tsv")) and names
    for name in names:
        ta, tb = (pd.read_csv(x / name, sep="\t") for x in (a, b))
        same(ta, tb, by=[c for c in ta.columns if ta[c].dtype == object][:3] or list(ta.columns[:1]))


def test_classify_confounders(gmhi, tmp_path):
    outs = []
    for tag, m in (("a", "m.tsv"), ("b", "m_shuf.tsv")):
        out = tmp_path / f"{tag}.tsv"
        ok(
            "classify",
            "confounders",
            gmhi / m,
            "--label",
            "Phenotype",
            "--case",
            "Unhealthy",
            "--control",
            "Healthy",
            "-o",
            out,
        )
        outs.append(pd.read_csv(out, sep="\t"))
    same(*outs, by="column")


# ----------------------------------------------------------------------------- diary: scores, insights, plan


def _shuffled_person(tmp_path, seed=5, before: str | None = None):
    """The example person's folder with the rows of its meal, stress and symptom logs shuffled
    (with ``before``, only the entries before that ISO date, in both copies)."""
    a, b = tmp_path / "person_a", tmp_path / "person_b"
    shutil.copytree(EXAMPLE, a)
    shutil.copytree(EXAMPLE, b)
    rng = np.random.default_rng(seed)
    for name in ("meals.csv", "stress.csv"):
        df = pd.read_csv(a / name, dtype=str, keep_default_na=False)
        if before:
            df = df[df["timestamp"] < before]
            df.to_csv(a / name, index=False)
        df.iloc[rng.permutation(len(df))].to_csv(b / name, index=False)
    sym = json.loads((a / "symptoms.json").read_text())
    if before:
        sym = [e for e in sym if e["timestamp"] < before]
        (a / "symptoms.json").write_text(json.dumps(sym))
    (b / "symptoms.json").write_text(json.dumps([sym[i] for i in rng.permutation(len(sym))]))
    assert (a / "meals.csv").read_text() != (b / "meals.csv").read_text()
    return a, b


def test_diet_scores_with_shuffled_meal_rows(tmp_path):
    pa, pb = _shuffled_person(tmp_path)
    for p, out in ((pa, tmp_path / "a"), (pb, tmp_path / "b")):
        ok("diet", "scores", p / "meals.csv", "--stress", p / "stress.csv", "--foods", p / "foods.csv", "-o", out)
    for name, key in (("daily_scores.csv", "date"), ("weekly_scores.csv", None)):
        ta, tb = (pd.read_csv(x / name) for x in (tmp_path / "a", tmp_path / "b"))
        same(ta, tb, by=key or list(ta.columns[:1]))
    # source_row names the entry's row in the input file, which the shuffle moved; every other column must agree
    ra, rb = (
        pd.read_csv(x / "resolved_meals.csv").drop(columns="source_row") for x in (tmp_path / "a", tmp_path / "b")
    )
    same_rows(ra, rb)


def test_insights_with_shuffled_diary_rows(tmp_path):
    pa, pb = _shuffled_person(tmp_path)
    for p, out in ((pa, tmp_path / "a"), (pb, tmp_path / "b")):
        ok(
            "insights",
            "--meals",
            p / "meals.csv",
            "--symptoms",
            p / "symptoms.json",
            "--stress",
            p / "stress.csv",
            "--foods",
            p / "foods.csv",
            "-o",
            out,
        )
    for name in ("insights.csv", "insights_skipped.csv"):
        ta, tb = (pd.read_csv(x / name) for x in (tmp_path / "a", tmp_path / "b"))
        key = [c for c in ("symptom", "factor", "lag_h", "lag") if c in ta.columns] or list(ta.columns[:2])
        same(ta, tb, by=key)


def test_plan_with_shuffled_diary_rows(tmp_path, monkeypatch):
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(cache))
    pa, pb = _shuffled_person(tmp_path, before="2024-03-15")  # 11 days keep the test short
    for p, out in ((pa, tmp_path / "a"), (pb, tmp_path / "b")):
        ok("plan", p, "-o", out, "--no-simulate")
    ja, jb = (json.loads((x / "plan.json").read_text()) for x in (tmp_path / "a", tmp_path / "b"))
    for j in (ja, jb):
        j.pop("provenance", None)
        j.pop("generated_at", None)
    same_json(ja, jb)
    names = sorted(p.name for p in (tmp_path / "a").glob("*.csv"))
    assert {"recommendations.csv", "daily_scores.csv", "insights.csv", "logged_meals.csv"} <= set(names)
    for name in names:
        ta, tb = (pd.read_csv(x / name) for x in (tmp_path / "a", tmp_path / "b"))
        # source_row: the entry's row in the input file, which the shuffle moved
        ta, tb = (t.drop(columns=[c for c in ("source_row",) if c in t.columns]) for t in (ta, tb))
        same_rows(ta, tb, nonempty=name not in ("assumed_portions.csv", "entries_to_fix.csv"))
