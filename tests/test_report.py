"""gutaxis.report.write_report: files, numbers, self-containment, the two modes."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from gutaxis.demo import demo_cohort
from gutaxis.errors import InputError
from gutaxis.report import DISCLAIMER, write_report

FILES = ("report.html", "indices.tsv", "percentiles.tsv", "panels.tsv", "summary.json")


def _numbers(obj) -> list[float]:
    """Every number in a JSON document."""
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return [float(obj)]
    return []


def _read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", index_col=0, float_precision="round_trip")


def _external_resources(html: str) -> list[str]:
    """Scripts, styles, images, fonts or frames loaded from anywhere but the page itself."""
    bad = []
    bad += re.findall(r"<script\b[^>]*\bsrc\s*=", html, flags=re.I)
    bad += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^\"'>\s]*", html, flags=re.I)
    bad += re.findall(
        r"<(?:img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*[\"']?(?!data:)[^\"'>\s]+", html, flags=re.I
    )
    bad += re.findall(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", html, flags=re.I)
    bad += re.findall(r"@import", html, flags=re.I)
    bad += re.findall(r"(?:xlink:)?href\s*=\s*[\"']https?://[^\"']*[\"'][^>]*>\s*</?(?:image|use)", html, flags=re.I)
    return bad


@pytest.fixture(scope="module")
def cohort():
    return demo_cohort(n_healthy=30, n_dysbiotic=30, seed=1)


@pytest.fixture(scope="module")
def cohort_report(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("cohort")
    steps = []
    path = write_report(cohort, out, progress=steps.append)
    return path, steps


@pytest.fixture(scope="module")
def reference_json(tmp_path_factory):
    from gutaxis.measure import build_reference

    ref_cohort = demo_cohort(n_healthy=25, n_dysbiotic=0, seed=11)
    ref = build_reference(ref_cohort, healthy=("group", "healthy"), source="synthetic healthy demo samples")
    path = tmp_path_factory.mktemp("ref") / "reference.json"
    ref.to_json(path)
    return path


def test_cohort_files_and_progress(cohort_report, cohort):
    path, steps = cohort_report
    out = path.parent
    assert path.name == "report.html"
    for name in (*FILES, "pcoa.tsv"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert len(steps) >= 5 and steps[0] == "checking the input"
    pcoa = _read_tsv(out / "pcoa.tsv")
    assert pcoa.shape == (cohort.n_obs, 2)


def test_every_tsv_number_is_in_summary_json(cohort_report):
    out = cohort_report[0].parent
    summary = json.loads((out / "summary.json").read_text())
    numbers = set(_numbers(summary))
    indices = _read_tsv(out / "indices.tsv")
    assert {"GMHI", "shannon", "richness", "chao1", "butyrate_producers", "enterobacteriaceae"} <= set(indices.columns)
    for sample, row in indices.iterrows():
        for col, value in row.items():
            if not (isinstance(value, float) and math.isnan(value)):
                assert float(value) in numbers, (sample, col, value)
                assert summary["indices"][sample][col] == float(value)
    for name in ("percentiles.tsv", "panels.tsv", "pcoa.tsv"):
        table = _read_tsv(out / name)
        for v in table.to_numpy().ravel():
            if not math.isnan(v):
                assert float(v) in numbers, (name, v)
    assert summary["percentiles"] is not None


def test_every_number_shown_in_the_html_is_in_summary_json(cohort_report):
    path = cohort_report[0]
    html = path.read_text()
    numbers = set(_numbers(json.loads((path.parent / "summary.json").read_text())))
    shown = [v for v in re.findall(r'data-value="([^"]*)"', html) if v != ""]
    assert len(shown) > 50
    missing = [v for v in shown if float(v) not in numbers]
    assert not missing


def test_provenance_in_summary(cohort_report, cohort):
    from gutaxis import __version__

    summary = json.loads((cohort_report[0].parent / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["gutaxis_version"] == __version__
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", prov["generated_at"])
    assert prov["parameters"]["mode"] == "cohort" and prov["parameters"]["group_column"] == "group"
    assert prov["input"]["reader"] == "gutaxis.demo.demo_cohort"
    assert prov["reference"]["built_from"] == "cohort" and prov["reference"]["n_samples"] == 30
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["title"]
    assert summary["groups"]["counts"] == {"healthy": 30, "dysbiotic": 30}
    assert set(summary["pcoa"]["coordinates"]) == set(cohort.obs_names)


def test_html_is_self_contained_and_accessible(cohort_report):
    html = cohort_report[0].read_text()
    assert not _external_resources(html)
    assert "<style>" in html and "<script>" in html
    assert "Content-Security-Policy" in html
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) >= 2
    assert all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert "<title>" in html.split("<svg", 1)[1]
    for section in ("summary", "groups", "ordination", "percentiles", "panels", "explanations", "methods"):
        assert f'id="{section}"' in html
    assert "SYNTHETIC" in re.search(r"<title>(.*?)</title>", html).group(1)
    assert DISCLAIMER in html
    assert "Akkermansia" in html and "snapshot" in html


def test_external_resource_check_catches_cdn():
    assert _external_resources('<script src="https://cdn.example.org/x.js"></script>')
    assert _external_resources('<link rel="stylesheet" href="//cdn.example.org/x.css">')
    assert _external_resources('<img src="http://example.org/x.png" alt="">')
    assert _external_resources("<style>body{background:url(https://example.org/a.png)}</style>")
    assert not _external_resources(
        '<img src="data:image/png;base64,AAAA" alt=""><a href="https://doi.org/10.1/x">x</a>'
    )


def test_single_sample_without_reference_says_so(cohort, tmp_path):
    one = cohort[["DEMO-D03"]].copy()
    path = write_report(one, tmp_path / "one")
    html = path.read_text()
    assert DISCLAIMER in html
    assert "No healthy reference was supplied" in html
    assert "not a diagnosis" in html
    assert not _external_resources(html)
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["mode"] == "single" and summary["percentiles"] is None and summary["reference"] is None
    assert summary["samples"] == ["DEMO-D03"]
    assert "pcoa.tsv" not in summary["files"] and not (tmp_path / "one" / "pcoa.tsv").exists()
    pct = _read_tsv(tmp_path / "one" / "percentiles.tsv")
    assert pct.isna().all().all()
    # panels with their citations
    assert 'id="panel-beneficial"' in html and 'id="panel-pathobiont"' in html
    assert "https://doi.org/10.1038/s41467-020-18476-8" in html


def test_single_sample_with_supplied_reference(cohort, reference_json, tmp_path):
    one = cohort[["DEMO-H02"]].copy()
    path = write_report(one, tmp_path / "ref", reference=reference_json, title="My sample")
    html = path.read_text()
    assert "No healthy reference was supplied" not in html
    assert "Percentile among healthy" in html
    summary = json.loads((tmp_path / "ref" / "summary.json").read_text())
    pct = summary["percentiles"]["DEMO-H02"]
    assert 0 <= pct["GMHI"] <= 100 and 0 <= pct["shannon"] <= 100
    assert summary["reference"]["built_from"] == "supplied" and summary["reference"]["n_samples"] == 25
    assert len(summary["reference"]["sha256"]) == 64
    assert summary["title"].startswith("SYNTHETIC")  # the input is synthetic whatever the title
    assert DISCLAIMER in html
    numbers = set(_numbers(summary))
    shown = [v for v in re.findall(r'data-value="([^"]*)"', html) if v != ""]
    assert len(shown) > 20 and all(float(v) in numbers for v in shown)


def test_sample_of_a_cohort_uses_its_healthy_group_without_itself(cohort, tmp_path):
    write_report(cohort, tmp_path / "s", sample="DEMO-H05")
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["mode"] == "single" and summary["samples"] == ["DEMO-H05"]
    assert summary["reference"]["n_samples"] == 29  # 30 healthy minus the sample itself
    assert list(_read_tsv(tmp_path / "s" / "indices.tsv").index) == ["DEMO-H05"]  # no other person's numbers


def test_dataframe_input_is_escaped_and_not_synthetic(tmp_path):
    rng = np.random.default_rng(0)
    names = ["Faecalibacterium prausnitzii", "Escherichia coli", "Bifidobacterium adolescentis", "Bacteroides vulgatus"]
    df = pd.DataFrame(
        rng.integers(1, 500, size=(4, 4)).astype(float), index=["<b>S1</b>", "S2", "S3", "S4"], columns=names
    )
    path = write_report(df, tmp_path / "df", title="Cohort <script>alert(1)</script>")
    html = path.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>S1</b>" not in html
    summary = json.loads((tmp_path / "df" / "summary.json").read_text())
    assert summary["synthetic"] is False and "SYNTHETIC" not in html
    assert summary["groups"]["column"] is None


def test_bad_arguments_raise_input_error(cohort, tmp_path):
    with pytest.raises(InputError, match="group column 'nope'"):
        write_report(cohort, tmp_path / "x", group="nope")
    with pytest.raises(InputError, match="sample 'nope'"):
        write_report(cohort, tmp_path / "x", sample="nope")
    with pytest.raises(InputError, match="expected an AnnData"):
        write_report([[1, 2]], tmp_path / "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_report(cohort, tmp_path / "file")


def test_cohort_with_supplied_reference_and_odd_group_labels(cohort, reference_json, tmp_path):
    odd = cohort.copy()
    odd.obs["Phenotype"] = odd.obs["group"].astype(str).replace({"dysbiotic": "<i>IBD</i> & co"})
    odd.obs = odd.obs.drop(columns="group")
    path = write_report(odd, tmp_path / "odd", reference=reference_json, group="Phenotype")
    html = path.read_text()
    assert "<i>IBD</i>" not in html and "&lt;i&gt;IBD&lt;/i&gt; &amp; co" in html
    summary = json.loads((tmp_path / "odd" / "summary.json").read_text())
    assert summary["groups"]["column"] == "Phenotype" and summary["groups"]["auto_detected"] is False
    assert summary["reference"]["built_from"] == "supplied"
    assert set(summary["groups"]["counts"]) == {"healthy", "<i>IBD</i> & co"}
