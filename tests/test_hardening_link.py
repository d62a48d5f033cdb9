"""Reliability audit (../shared/science/audit-reliability.md), the link area: ``associate``,
``permanova`` and ``meta`` on malformed metadata, tables and output paths, and order independence.

Each test is named by the audit's case id and rebuilds its reproduction in ``tmp_path`` from
../shared/data/maaslin2_hmp2 (subsampled by subject where the audit used all of HMP2).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import cli

from gutaxis.errors import InputError
from gutaxis.link.associate import associate
from gutaxis.link.permanova import permanova

LM = ["--fixed", "diagnosis", "--reference", "diagnosis,nonIBD"]
KEY = ["feature", "metadata", "value"]


@pytest.fixture(scope="module")
def hmp2(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return data, meta


def _subset(hmp2, n_subjects=30, n_features=25, with_missing_age=False):
    """The samples of the first subjects (and of those with a missing age), in the files' orders."""
    data, meta = hmp2
    subjects = sorted(meta["subject"].unique())[:n_subjects]
    if with_missing_age:
        subjects += sorted(meta.loc[meta["age"].isna(), "subject"].unique())
    m = meta[meta["subject"].isin(subjects)]
    d = data.loc[data.index.isin(m.index), list(data.columns[:n_features])]
    d = d[d.sum(axis=1) > 0]  # the readers refuse empty samples
    return d, m.loc[m.index.isin(d.index)]


def _write(tmp_path, data, meta, name="t.tsv", sep="\t"):
    dpath, mpath = tmp_path / name, tmp_path / "m.tsv"
    data.to_csv(dpath, sep=sep, index_label="ID")
    meta.to_csv(mpath, sep="\t", index_label="ID")
    return dpath, mpath


def _age_with(meta, value):
    """The audit's edit: missing ages set to 40, then the first row's age replaced by ``value``."""
    m = meta.copy()
    m["age"] = m["age"].fillna(40).astype(object)
    m.iloc[0, m.columns.get_loc("age")] = value
    return m


def _sorted_results(result):
    r = result.results
    key = KEY + (["model"] if "model" in r.columns else [])
    return r.assign(**{k: r[k].astype(str) for k in key}).sort_values(key, kind="stable").reset_index(drop=True), key


def _assert_same_results(a, b, rtol=1e-12):
    (ra, key), (rb, _) = _sorted_results(a), _sorted_results(b)
    assert ra[key].equals(rb[key])
    for col in ra.columns:
        if ra[col].dtype.kind == "f":
            np.testing.assert_allclose(rb[col].to_numpy(), ra[col].to_numpy(), rtol=rtol, atol=0, err_msg=col)
        else:
            assert ra[col].fillna("").astype(str).equals(rb[col].fillna("").astype(str)), col


# ============================================================================ wrong numbers: P13, P14
@pytest.mark.parametrize("value", ["unknown", "41,5"], ids=["P13", "P14"])
def test_P13_P14_permanova_numeric_column_with_one_word_refused(hmp2, tmp_path, value):
    d, m = _subset(hmp2)
    first = m.index[0]
    dpath, mpath = _write(tmp_path, d, _age_with(m, value))
    out = tmp_path / "p.tsv"
    res = cli("permanova", dpath, "-m", mpath, "--formula", "~ age", "--permutations", 9, "-o", out)
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "Traceback" not in res.output
    assert "'age'" in res.output and first in res.output and repr(value) in res.output
    if value == "41,5":
        assert "decimal comma" in res.output
    assert not out.exists()
    # the API on a DataFrame read by pandas (an object column) says the same
    with pytest.raises(InputError, match=rf"column 'age'.*{first}.*{value!r}"):
        permanova(d, _age_with(m, value), "~ age", metric="braycurtis", permutations=9, seed=1)
    # without the cell, age is one numeric term (Df 1), as before
    dpath, mpath = _write(tmp_path, d, _age_with(m, 40.0))
    ok = cli("permanova", dpath, "-m", mpath, "--formula", "~ age", "--permutations", 9, "-o", out)
    assert ok.exit_code == 0, ok.output
    assert pd.read_csv(out, sep="\t", index_col=0).loc["age", "Df"] == 1


def test_P13_permanova_C_keeps_a_word_as_a_level(hmp2):
    """``C(age)`` says the column is categorical: a word is then a level like any other."""
    d, m = _subset(hmp2, n_subjects=12)
    table = permanova(d, _age_with(m, "unknown"), "~ C(age)", metric="braycurtis", permutations=0)
    assert table.loc["C(age)", "Df"] == m["age"].fillna(40).iloc[1:].nunique()  # + "unknown" - 1


# ============================================================================ misleading: A16, A36
@pytest.mark.parametrize("value", ["unknown", "41,5"], ids=["A16", "A36"])
def test_A16_A36_associate_numeric_column_with_one_word_names_the_cell(hmp2, tmp_path, value):
    d, m = _subset(hmp2)
    first = m.index[0]
    dpath, mpath = _write(tmp_path, d, _age_with(m, value))
    res = cli(
        "associate", dpath, mpath, "-o", tmp_path / "o", "--fixed", "diagnosis,age", "--reference", "diagnosis,nonIBD"
    )
    assert res.exit_code == 2, res.output
    assert "'age'" in res.output and first in res.output and repr(value) in res.output
    assert "levels" not in res.output  # not the misleading "variable 'age' has 21 levels"
    assert "replace" in res.output  # says what to do
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match=rf"column 'age'.*{first}.*{value!r}"):
        associate(d, _age_with(m, value), fixed_effects="diagnosis,age", reference="diagnosis,nonIBD")


def test_A16_categorical_columns_with_numeric_codes_still_work():
    """A column of mostly words, or of two numeric codes and a word, stays categorical."""
    rng = np.random.default_rng(0)
    n = 40
    idx = [f"S{i:02d}" for i in range(n)]
    data = pd.DataFrame(rng.random((n, 4)), index=idx, columns=list("abcd"))
    meta = pd.DataFrame(
        {
            "visit": np.resize(["1", "2", "baseline", "baseline"], n),
            "group": np.resize(["1", "2", "1", "unknown", "2"], n),
        },
        index=idx,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(data, meta, fixed_effects="visit,group", reference="visit,baseline;group,1")
    assert set(res.results["metadata"].dropna()) == {"visit", "group"}


# ============================================================================ silent: A05
def test_A05_duplicated_feature_column_refused(hmp2, tmp_path):
    d, m = _subset(hmp2)
    dpath, mpath = _write(tmp_path, d, m)
    text = dpath.read_text().split("\n", 1)
    dup = tmp_path / "d.tsv"
    dup.write_text(text[0].replace("Bifidobacterium bifidum", "Bifidobacterium adolescentis") + "\n" + text[1])
    res = cli("associate", dup, mpath, "-o", tmp_path / "o", *LM)
    assert res.exit_code == 2, res.output
    assert "duplicate" in res.output and "Bifidobacterium adolescentis" in res.output
    assert not (tmp_path / "o").exists()


# ============================================================================ silent: A17, A18
def test_A17_A18_samples_without_metadata_values_warned_on_the_console(hmp2, tmp_path):
    d, m = _subset(hmp2, with_missing_age=True)
    n_missing = int(m["age"].isna().sum())
    assert n_missing > 0
    dpath, mpath = _write(tmp_path, d, m)
    out = tmp_path / "o"
    res = cli("associate", dpath, mpath, "-o", out, "--fixed", "diagnosis,age", "--reference", "diagnosis,nonIBD")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("warning:") and "missing" in ln]
    assert lines, res.output
    assert f"{n_missing} sample(s)" in lines[0] and "age" in lines[0]
    with pytest.warns(UserWarning, match=rf"{n_missing} sample\(s\) with missing values in age"):
        associate(d, m, fixed_effects="diagnosis,age", reference="diagnosis,nonIBD")


# ============================================================================ silent: A21
def test_A21_levels_differing_only_in_case_warned(hmp2, tmp_path):
    d, m = _subset(hmp2)
    m = m.copy()
    cd = m.index[m["diagnosis"] == "CD"]
    m.loc[cd[:3], "diagnosis"] = "cd"
    dpath, mpath = _write(tmp_path, d, m)
    res = cli("associate", dpath, mpath, "-o", tmp_path / "o", *LM)
    assert res.exit_code == 0, res.output
    warned = [ln for ln in res.output.splitlines() if ln.startswith("warning:") and "'cd'" in ln]
    assert warned and "'CD'" in warned[0] and "diagnosis" in warned[0], res.output
    m2 = m.copy()
    m2.loc[cd[3:6], "diagnosis"] = " CD"  # whitespace, in a DataFrame not read by read_metadata
    with pytest.warns(UserWarning, match=r"differ only in case or spaces"):
        permanova(d, m2, "~ diagnosis", metric="braycurtis", permutations=0)


# ============================================================================ silent: A10
def test_A10_single_feature_with_tss_refused(hmp2, tmp_path):
    data, meta = hmp2
    subjects = sorted(meta["subject"].unique())[:30]
    m = meta[meta["subject"].isin(subjects)]
    tsv, mpath = _write(tmp_path, data.loc[m.index], m)
    one = tmp_path / "one.tsv"  # `cut -f1,2 $T > one.tsv`: most samples are then empty
    one.write_text("".join("\t".join(line.split("\t")[:2]) + "\n" for line in tsv.read_text().splitlines()))
    res = cli("associate", one, mpath, "-o", tmp_path / "o", *LM)
    assert res.exit_code == 2, res.output
    assert "TSS makes a single feature constant" in res.output and "at least 2 features" in res.output
    assert "--normalization NONE" in res.output
    assert not (tmp_path / "o").exists()
    ok = cli("associate", one, mpath, "-o", tmp_path / "o", *LM, "--normalization", "NONE")
    assert ok.exit_code == 0, ok.output
    assert pd.read_csv(tmp_path / "o" / "all_results.tsv", sep="\t")["pval"].notna().all()
    with pytest.raises(InputError, match="CLR makes a single feature constant"):
        associate(
            data.loc[m.index].iloc[:, :1],
            m,
            fixed_effects="diagnosis",
            reference="diagnosis,nonIBD",
            normalization="CLR",
        )


# ============================================================================ misleading: A12, A13
def test_A12_A13_tsv_named_csv_read_by_the_profile_reader(hmp2, tmp_path):
    d, m = _subset(hmp2, n_features=12)
    tsv, mpath = _write(tmp_path, d, m)
    csv = tmp_path / "t.csv"
    csv.write_bytes(tsv.read_bytes())  # `cp $T t.csv`
    for path, out in ((tsv, "a"), (csv, "b")):
        res = cli("associate", path, mpath, "-o", tmp_path / out, *LM)
        assert res.exit_code == 0, res.output
    a = pd.read_csv(tmp_path / "a" / "all_results.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "b" / "all_results.tsv", sep="\t")
    pd.testing.assert_frame_equal(a, b)
    assert a["feature"].nunique() == d.shape[1]


def test_A12_values_as_given_and_same_as_the_api(hmp2, tmp_path):
    """Through the profile reader the CLI still models the table's values as given (MaAsLin2's
    NONE normalization and filters see them unscaled): the numbers are the API's."""
    d, m = _subset(hmp2)
    dpath, mpath = _write(tmp_path, d.T, m)  # features as rows: the reader turns it round
    res = cli(
        "associate",
        dpath,
        mpath,
        "-o",
        tmp_path / "o",
        *LM,
        "--normalization",
        "NONE",
        "--transform",
        "AST",
        "--min-abundance",
        "0.001",
    )
    assert res.exit_code == 0, res.output
    written = pd.read_csv(tmp_path / "o" / "all_results.tsv", sep="\t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = associate(
            d,
            m,
            fixed_effects="diagnosis",
            reference="diagnosis,nonIBD",
            normalization="NONE",
            transform="AST",
            min_abundance=0.001,
        ).results
    merged = api.merge(written, on=KEY, suffixes=("", "_cli"))
    assert len(merged) == len(api)
    np.testing.assert_allclose(merged["coef_cli"], merged["coef"], rtol=1e-9)
    np.testing.assert_allclose(merged["pval_cli"], merged["pval"], rtol=1e-9)


def test_A12_empty_samples_left_out_as_maaslin2_does(hmp2, tmp_path):
    """The readers refuse empty samples; associate still reads such a table and leaves them out
    of every model with a warning, as MaAsLin2 (and its Python API) does."""
    data, meta = hmp2
    m = meta[meta["subject"].isin(sorted(meta["subject"].unique())[:30])]
    d = data.loc[m.index, list(data.columns[:25])]
    empty = d.index[d.sum(axis=1) == 0]
    assert len(empty) > 0
    dpath, mpath = _write(tmp_path, d, m)
    res = cli("associate", dpath, mpath, "-o", tmp_path / "o", *LM)
    assert res.exit_code == 0, res.output
    assert f"{len(empty)} sample(s) sum to zero" in res.output and empty[0] in res.output
    written = pd.read_csv(tmp_path / "o" / "all_results.tsv", sep="\t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = associate(d, m, fixed_effects="diagnosis", reference="diagnosis,nonIBD").results
    merged = api.merge(written, on=KEY, suffixes=("", "_cli"))
    assert len(merged) == len(api)
    np.testing.assert_allclose(merged["pval_cli"], merged["pval"], rtol=1e-9)


# ============================================================================ raw + non-atomic: A30
def test_A30_bad_max_significance_refused_before_any_file(hmp2, tmp_path):
    d, m = _subset(hmp2)
    dpath, mpath = _write(tmp_path, d, m)
    out = tmp_path / "o"
    res = cli("associate", dpath, mpath, "-o", out, *LM, "--max-significance", "7")
    assert res.exit_code == 2, res.output
    assert "ValueError" not in res.output and "max-significance" in res.output
    assert not out.exists()
    for bad in (
        {"max_significance": 7},
        {"max_significance": 0},
        {"min_prevalence": 1.5},
        {"min_abundance": -1},
        {"min_variance": float("nan")},
    ):
        with pytest.raises(InputError):
            associate(d, m, fixed_effects="diagnosis", reference="diagnosis,nonIBD", **bad)


def test_A30_INT3_outputs_all_or_nothing_and_overwrite(hmp2, tmp_path, monkeypatch):
    d, m = _subset(hmp2, n_features=12)
    dpath, mpath = _write(tmp_path, d, m)
    out = tmp_path / "o"
    first = cli("associate", dpath, mpath, "-o", out, *LM)
    assert first.exit_code == 0, first.output
    before = _contents(out)
    assert {k.split("/")[0] for k in before} == {
        "all_results.tsv",
        "significant_results.tsv",
        "params.json",
        "report.html",
        "figures",
    }
    # a non-empty target is refused without --overwrite (files of an earlier run are never mixed in)
    again = cli(
        "associate", dpath, mpath, "-o", out, "--fixed", "diagnosis,dysbiosis", "--reference", "diagnosis,nonIBD"
    )
    assert again.exit_code == 2 and "--overwrite" in again.output
    # a run that fails while writing leaves the earlier output as it was, and no partial folder
    from gutaxis.report import associate as report_associate

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_associate, "write_associate_report", broken)
    failed = cli(
        "associate",
        dpath,
        mpath,
        "-o",
        out,
        "--fixed",
        "diagnosis,dysbiosis",
        "--reference",
        "diagnosis,nonIBD",
        "--overwrite",
    )
    assert failed.exit_code != 0
    assert _contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tsv", "o", "t.tsv"]
    monkeypatch.undo()
    ok = cli(
        "associate",
        dpath,
        mpath,
        "-o",
        out,
        "--fixed",
        "diagnosis,dysbiosis",
        "--reference",
        "diagnosis,nonIBD",
        "--overwrite",
    )
    assert ok.exit_code == 0, ok.output
    assert json_params(out)["fixed_effects"] == ["diagnosis", "dysbiosis"]


def _contents(folder):
    """Every file under ``folder`` (the figures/ folder included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def json_params(out):
    import json

    return json.loads((out / "params.json").read_text())["params"]


def test_A30_permanova_and_meta_outputs_atomic_and_overwrite(hmp2, tmp_path, monkeypatch):
    d, m = _subset(hmp2, n_subjects=12)
    dpath, mpath = _write(tmp_path, d, m)
    out = tmp_path / "p.tsv"
    args = ["permanova", dpath, "-m", mpath, "--formula", "~ diagnosis", "--permutations", 9, "--seed", 1, "-o", out]
    assert cli(*args).exit_code == 0
    assert out.exists() and out.with_name("p.tsv.json").exists()
    again = cli(*args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert cli(*args, "--overwrite").exit_code == 0
    # meta: a failure while writing (here the forest plots) leaves no folder behind
    effects = pd.DataFrame(
        {"feature": "f", "study": ["a", "b", "c"], "effect": [0.1, 0.3, -0.2], "se": [0.1, 0.2, 0.15]}
    )
    effects.to_csv(tmp_path / "effects.tsv", sep="\t", index=False)
    from gutaxis.link import meta as meta_mod

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(meta_mod, "forest_plot", broken)
    failed = cli("meta", tmp_path / "effects.tsv", "-o", tmp_path / "meta")
    assert failed.exit_code != 0 and not (tmp_path / "meta").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
    monkeypatch.undo()
    assert cli("meta", tmp_path / "effects.tsv", "-o", tmp_path / "meta").exit_code == 0
    again = cli("meta", tmp_path / "effects.tsv", "-o", tmp_path / "meta")
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert cli("meta", tmp_path / "effects.tsv", "-o", tmp_path / "meta", "--overwrite").exit_code == 0


# ============================================================================ raw: O02-O04 (link commands)
def test_O02_O04_bad_output_paths_are_input_errors(hmp2, tmp_path):
    d, m = _subset(hmp2, n_features=12)  # inputs that work: only the output path is wrong
    dpath, mpath = _write(tmp_path, d, m)
    f = tmp_path / "f"
    f.write_text("x")
    folder = tmp_path / "dir"
    folder.mkdir()
    pd.DataFrame({"feature": "f", "study": ["a", "b"], "effect": [0.1, 0.2], "se": [0.1, 0.1]}).to_csv(
        tmp_path / "effects.tsv", sep="\t", index=False
    )
    cases = {
        "associate -o FILE": ["associate", dpath, mpath, "-o", f, *LM],  # O02 FileExistsError
        "associate -o FILE/x": ["associate", dpath, mpath, "-o", f / "x", *LM],
        "meta -o FILE": ["meta", tmp_path / "effects.tsv", "-o", f],
        "permanova -o DIR": ["permanova", dpath, "-m", mpath, "--formula", "~ diagnosis", "-o", folder],  # O03
        "permanova -o FILE/x.tsv": ["permanova", dpath, "-m", mpath, "--formula", "~ diagnosis", "-o", f / "x.tsv"],
    }
    if os.path.isdir("/proc/self"):
        cases["associate -o /proc/x"] = ["associate", dpath, mpath, "-o", "/proc/x", *LM]  # O15 FileNotFoundError
    for name, args in cases.items():
        res = cli(*args)
        assert res.exit_code == 2, (name, res.output)
        assert "error:" in res.output and "Error:" not in res.output.replace("error:", ""), (name, res.output)
        assert " — " in res.output, (name, res.output)  # with a hint
        assert res.output.startswith(f"error: {args[args.index('-o') + 1]}: "), (name, res.output)  # names the path
    assert f.read_text() == "x" and not any(folder.iterdir())


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_O04_no_permission_is_an_input_error(hmp2, tmp_path, unwritable):
    d, m = _subset(hmp2, n_features=12)  # inputs that work: only the output path is wrong
    dpath, mpath = _write(tmp_path, d, m)
    effects = tmp_path / "effects.tsv"
    pd.DataFrame({"feature": "f", "study": ["a", "b"], "effect": [0.1, 0.2], "se": [0.1, 0.1]}).to_csv(
        effects, sep="\t", index=False
    )
    for args in (
        ["associate", dpath, mpath, "-o", unwritable / "o", *LM],
        ["associate", dpath, mpath, "-o", unwritable, *LM],
        ["permanova", dpath, "-m", mpath, "--formula", "~ diagnosis", "-o", unwritable / "p.tsv"],
        ["meta", effects, "-o", unwritable / "meta"],
    ):
        res = cli(*args)
        assert res.exit_code == 2, res.output
        assert "PermissionError" not in res.output and "Errno" not in res.output and " — " in res.output, res.output
        assert res.output.startswith(f"error: {args[args.index('-o') + 1]}: "), res.output  # names the path


# ============================================================================ determinism: E02, E05
def test_E02_shuffled_samples_give_identical_mixed_model_results(hmp2):
    d, m = _subset(hmp2, n_subjects=40, n_features=87)
    kw = {"fixed_effects": "diagnosis,dysbiosis", "random_effects": "site,subject", "reference": "diagnosis,nonIBD"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = associate(d, m, **kw)
        order = np.random.default_rng(0).permutation(len(d))
        b = associate(d.iloc[order], m.sample(frac=1, random_state=1), **kw)
    _assert_same_results(a, b)


def test_E05_shuffled_samples_give_identical_maaslin3_results(hmp2):
    data, meta = hmp2
    d = data.iloc[:300]
    m = meta.loc[d.index]
    kw = {"fixed_effects": "diagnosis", "reference": "diagnosis,nonIBD", "model": "maaslin3"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = associate(d, m, **kw)
        rng = np.random.default_rng(2)
        order, columns = rng.permutation(len(d)), rng.permutation(d.shape[1])
        b = associate(d.iloc[order], m.iloc[order[::-1]], **kw)
        c = associate(d.iloc[order, columns], m, **kw)  # features shuffled too: each keeps its draws
    _assert_same_results(a, b)
    _assert_same_results(a, c)


def test_E_permanova_shuffled_samples_give_identical_p(hmp2):
    """The issue's acceptance ("shuffled samples, identical results in every command") for
    permanova: the seeded permutations are drawn over the samples in ID order."""
    d, m = _subset(hmp2, n_subjects=20)
    m = m.copy()
    m["noise"] = np.random.default_rng(3).normal(size=len(m))  # a term whose p is not at its floor
    order = np.random.default_rng(0).permutation(len(d))
    for strata in (None, "site"):
        a = permanova(d, m, "~ noise + antibiotics", metric="braycurtis", permutations=199, seed=1, strata=strata)
        b = permanova(
            d.iloc[order], m, "~ noise + antibiotics", metric="braycurtis", permutations=199, seed=1, strata=strata
        )
        np.testing.assert_array_equal(a["p"].to_numpy(), b["p"].to_numpy())
        np.testing.assert_allclose(a["F"].to_numpy(), b["F"].to_numpy(), rtol=1e-12)
    from gutaxis.link.permdisp import permdisp

    m["coin"] = np.random.default_rng(4).choice(["heads", "tails"], len(m))
    a = permdisp(d, "coin", metadata=m, metric="braycurtis", permutations=199, seed=1)
    b = permdisp(d.iloc[order], "coin", metadata=m, metric="braycurtis", permutations=199, seed=1)
    assert 0.02 < a.table.loc["Groups", "p"] < 1  # not at its floor: the draws decide it
    assert a.table.loc["Groups", "p"] == b.table.loc["Groups", "p"]
