"""How each cohort of the atlas is loaded and harmonised.

Every loader returns a :class:`Cohort`: a samples x taxa table of **relative abundances over the
whole community** at one common rank (genus where the cohort's taxonomy allows, class for Sun
et al. 2024, whose only public profile is class-level), the metadata with one ``group`` column
(``control`` / ``case``), the covariates the cohort records (age, sex, BMI, site, sequencing
batch), and the blocking of paired or repeated samples (iMSMS households, HMP2 participants).
A cohort that cannot be analysed raises :class:`NotAnalysable` with the reason; the pipeline
lists it in the report (never skipped silently).

Files are read from ``data_dir/<folder>/`` (the layout of the shared data folder, one folder
per dataset as named in :data:`COHORTS`); with ``data_dir=None`` the files of datasets in the
package's registry (``gutaxis datasets list``) are downloaded and sha256-checked by
:func:`gutaxis.io.datasets.fetch`; the others need a local copy (``--data-dir``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from ..errors import GutaxisError, InputError
from ..taxonomy import parse_lineage

__all__ = [
    "COHORTS",
    "Cohort",
    "CohortSpec",
    "NotAnalysable",
    "collapse_lineages",
    "load_cohort",
    "provenance_summary",
]

#: covariates are adjusted for when recorded for at least this share of the cohort's samples
MIN_COVARIATE_COVERAGE = 0.8


class NotAnalysable(GutaxisError):
    """A cohort the atlas cannot analyse; the message is the reason shown in the report."""


@dataclass
class Cohort:
    name: str
    disease: str
    dataset: str
    rank: str
    table: pd.DataFrame  # samples x taxa, relative abundance (rows sum to <= 1)
    metadata: pd.DataFrame  # index = samples; 'group' (control/case) + covariates + block column
    covariates: list[str] = field(default_factory=list)
    block: str | None = None  # random intercept in associate, strata in PERMANOVA
    permute: str = "within"  # how the PERMANOVA permutations respect the blocks
    caveats: list[str] = field(default_factory=list)
    design: str = ""

    @property
    def n_cases(self) -> int:
        return int((self.metadata["group"] == "case").sum())

    @property
    def n_controls(self) -> int:
        return int((self.metadata["group"] == "control").sum())


@dataclass(frozen=True)
class CohortSpec:
    name: str
    disease: str
    dataset: str  # folder under data_dir (and registry name where registered)
    loader: str  # name of the loader function in this module
    args: tuple = ()
    citation: str = ""


#: registry names of the folders that the dataset registry holds under another name
_REGISTRY = {"maaslin2_hmp2": "hmp2_maaslin2", "gmhi2020_validation": "gmhi2020_validation"}

_SUN = (
    "Sun W et al. A population-scale analysis of 36 gut microbiome studies reveals universal species "
    "signatures for common diseases. npj Biofilms Microbiomes 2024. doi:10.1038/s41522-024-00567-9"
)
_GESPIC = (
    "Essex M, Rios Rodriguez V, et al. Spondyloarthritis, acute anterior uveitis, and Crohn's disease have "
    "both shared and distinct gut microbiota. 2023 (PubMed 37471465; medRxiv 2022.05.13.22275044)"
)

COHORTS: tuple[CohortSpec, ...] = (
    CohortSpec(
        "1000RA",
        "RA",
        "ra1000_16s",
        "_ra1000",
        citation="1000RA cohort, Peking University People's Hospital (github.com/JerryHnuPKUPH/1000RA)",
    ),
    CohortSpec(
        "GMHI validation RA",
        "RA",
        "gmhi2020_validation",
        "_gmhi",
        ("Rheumatoid arthritis",),
        citation="Gupta VK et al. Nat Commun 2020;11:4635. doi:10.1038/s41467-020-18476-8",
    ),
    CohortSpec("Sun2024 ZhangX_2015", "RA", "sun2024_gm_common_diseases", "_sun", ("ZhangX_2015",), _SUN),
    CohortSpec("Sun2024 ChenB_2020", "SLE", "sun2024_gm_common_diseases", "_sun", ("ChenB_2020",), _SUN),
    CohortSpec(
        "iMSMS",
        "MS",
        "imsms_ms_16s",
        "_imsms",
        citation="iMSMS Consortium. Cell 2022;185:3467. doi:10.1016/j.cell.2022.08.021",
    ),
    CohortSpec(
        "GMHI validation AS",
        "AS",
        "gmhi2020_validation",
        "_gmhi",
        ("N-5",),
        citation="Gupta VK et al. Nat Commun 2020;11:4635. doi:10.1038/s41467-020-18476-8",
    ),
    CohortSpec("Sun2024 HuangR_2020", "AS", "sun2024_gm_common_diseases", "_sun", ("HuangR_2020",), _SUN),
    CohortSpec("Sun2024 ZhouC_2020", "AS", "sun2024_gm_common_diseases", "_sun", ("ZhouC_2020",), _SUN),
    CohortSpec("GESPIC axSpA", "AS", "gespic_essex2023", "_gespic", ("S",), _GESPIC),
    CohortSpec(
        "HMP2",
        "IBD",
        "maaslin2_hmp2",
        "_hmp2",
        citation="Lloyd-Price J et al. Nature 2019;569:655. doi:10.1038/s41586-019-1237-9",
    ),
    CohortSpec(
        "Gevers ileum (MLRepo)",
        "IBD",
        "mlrepo_ibd_gevers_sokol",
        "_gevers",
        citation="Gevers D et al. Cell Host Microbe 2014;15:382. doi:10.1016/j.chom.2014.02.005; "
        "Vangay P et al. GigaScience 2019;8:giz042",
    ),
    CohortSpec(
        "Sokol (MLRepo)",
        "IBD",
        "mlrepo_ibd_gevers_sokol",
        "_sokol",
        citation="Sokol H et al. Gut 2017;66:1039. doi:10.1136/gutjnl-2015-310746; "
        "Vangay P et al. GigaScience 2019;8:giz042",
    ),
    CohortSpec(
        "MetAML Nielsen/MetaHIT",
        "IBD",
        "metaml_pasolli2016",
        "_metaml",
        citation="Pasolli E et al. PLoS Comput Biol 2016;12:e1004977; Nielsen HB et al. Nat Biotechnol 2014;32:822",
    ),
    CohortSpec("GESPIC CD", "IBD", "gespic_essex2023", "_gespic", ("C",), _GESPIC),
    CohortSpec("Sun2024 HeQ_2017", "IBD", "sun2024_gm_common_diseases", "_sun", ("HeQ_2017",), _SUN),
    CohortSpec("Sun2024 WengY_2019", "IBD", "sun2024_gm_common_diseases", "_sun", ("WengY_2019",), _SUN),
    CohortSpec("Sun2024 ZhuQ_2021", "Graves' disease", "sun2024_gm_common_diseases", "_sun", ("ZhuQ_2021",), _SUN),
    CohortSpec("Sun2024 LiuP_2021", "myasthenia gravis", "sun2024_gm_common_diseases", "_sun", ("LiuP_2021",), _SUN),
    CohortSpec("Sun2024 YeZ_2018", "Behçet's disease", "sun2024_gm_common_diseases", "_sun", ("YeZ_2018",), _SUN),
    CohortSpec("Sun2024 YeZ_2020 (VKH)", "uveitis", "sun2024_gm_common_diseases", "_sun", ("YeZ_2020",), _SUN),
    CohortSpec("GESPIC AAU", "uveitis", "gespic_essex2023", "_gespic", ("U",), _GESPIC),
)


# --------------------------------------------------------------------------- files


def _file(data_dir, folder: str, name: str, cohort: str) -> Path:
    if data_dir is not None:
        path = Path(data_dir) / folder / name
        if not path.is_file():
            raise NotAnalysable(f"{path} not found (the {folder} dataset is not in {data_dir})")
        return path
    from ..io import datasets

    reg = _REGISTRY.get(folder, folder)
    try:
        datasets.dataset_info(reg)
    except InputError:
        raise NotAnalysable(
            f"the {folder} dataset is not in the dataset registry (its licence does not allow "
            "redistribution, or its files are derived); pass --data-dir with a local copy"
        ) from None
    return cast(Path, datasets.fetch(f"{reg}/{name}", progress=False))  # "dataset/file": one path


def provenance_summary(data_dir, folder: str) -> dict:
    """Title, source, licence and citation lines of a dataset's PROVENANCE.md (empty without one)."""
    if data_dir is None:
        from ..io import datasets

        try:
            info = datasets.dataset_info(_REGISTRY.get(folder, folder))
        except InputError:
            return {}
        return {
            "title": info.get("title", ""),
            "source": info.get("source", ""),
            "licence": info.get("licence", ""),
            "citation": info.get("citation", ""),
        }
    path = Path(data_dir) / folder / "PROVENANCE.md"
    if not path.is_file():
        return {}
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    title = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("# ")), folder)
    source = next((ln for ln in lines if ln.lower().startswith("source:")), "")
    licence = " ".join(ln for ln in lines if re.search(r"licen[cs]e", ln, re.IGNORECASE))
    cite = " ".join(ln for ln in lines if ln.lower().startswith("cite") or " cite " in f" {ln.lower()} ")
    return {"title": title, "source": source, "licence": licence, "citation": cite}


# --------------------------------------------------------------------------- harmonisation


def collapse_lineages(table: pd.DataFrame, rank: str) -> pd.DataFrame:
    """Sum a samples x features table to the names at ``rank`` parsed from the feature names
    (lineage strings or species names; :func:`gutaxis.taxonomy.parse_lineage`); features without
    a name at that rank go to ``unassigned`` (kept for the totals)."""
    lin = parse_lineage(pd.Series(table.columns.astype(str), index=table.columns))
    names = lin[rank].where(lin[rank].notna(), "unassigned").astype(str)
    return table.T.groupby(names.to_numpy()).sum().T


def _relative(table: pd.DataFrame, cohort: str) -> pd.DataFrame:
    """Relative abundances over the whole community (unassigned included in the total, then dropped)."""
    table = table.astype(np.float64)
    total = table.sum(axis=1)
    empty = total <= 0
    if empty.all():
        raise InputError("every sample sums to zero", source=cohort)
    rel = table.loc[~empty].div(total[~empty], axis=0)
    return rel.drop(columns=[c for c in rel.columns if c == "unassigned"])


def _covariates(meta: pd.DataFrame, candidates: list[str], notes: list[str]) -> list[str]:
    out = []
    for c in candidates:
        if c not in meta.columns:
            continue
        col = meta[c]
        cover = float(col.notna().mean())
        if cover < MIN_COVARIATE_COVERAGE:
            notes.append(f"{c} not adjusted for: recorded for {cover:.0%} of samples (< {MIN_COVARIATE_COVERAGE:.0%})")
        elif col.dropna().nunique() < 2:
            notes.append(f"{c} not adjusted for: a single value")
        else:
            out.append(c)
    return out


def _finish(
    spec: CohortSpec,
    rank: str,
    table: pd.DataFrame,
    meta: pd.DataFrame,
    candidates: list[str],
    *,
    block: str | None = None,
    permute: str = "within",
    caveats=(),
    design: str = "",
) -> Cohort:
    if "group" not in meta.columns:
        raise InputError("no group column after harmonisation", source=spec.name)
    meta = meta[meta["group"].isin(["case", "control"])].copy()
    common = table.index.intersection(meta.index)
    if len(common) == 0:
        raise InputError(
            "no sample ID of the abundance table is in the metadata",
            source=spec.name,
            hint="check the sample ID columns of the two files",
        )
    rel = _relative(table.loc[common], spec.name)
    meta = meta.loc[rel.index]
    notes = list(caveats)
    covs = _covariates(meta, candidates, notes)
    keep = ["group", *covs] + ([block] if block else [])
    meta = meta[list(dict.fromkeys(keep))]
    n_case, n_ctrl = int((meta.group == "case").sum()), int((meta.group == "control").sum())
    if n_case < 5 or n_ctrl < 5:
        raise NotAnalysable(f"{n_case} cases and {n_ctrl} controls: fewer than 5 in a group")
    rel = rel.loc[:, (rel > 0).any(axis=0)]
    return Cohort(spec.name, spec.disease, spec.dataset, rank, rel, meta, covs, block, permute, notes, design)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _sex(s: pd.Series) -> pd.Series:
    m = {"m": "male", "male": "male", "1": "male", "f": "female", "female": "female", "2": "female", "0": "female"}
    return s.astype(str).str.strip().str.lower().map(m)


# --------------------------------------------------------------------------- loaders


def _ra1000(spec, data_dir):
    counts = pd.read_csv(
        _file(data_dir, spec.dataset, "ra1000_genus_counts.tsv.gz", spec.name), sep="\t", index_col=0
    ).T
    meta = pd.read_csv(
        _file(data_dir, spec.dataset, "ra1000_sample_metadata.tsv", spec.name), sep="\t", index_col=0, low_memory=False
    )
    col = "Group (1=HC,2=RA)"
    if col not in meta.columns:
        raise InputError(f"no column {col!r}", source=f"{spec.name} metadata")
    out = pd.DataFrame(index=meta.index.astype(str))
    out["group"] = _num(meta[col]).map({1: "control", 2: "case"}).to_numpy()
    out["age"] = _num(meta["Age"]).to_numpy()
    out["sex"] = _num(meta["Gender"]).map({1: "code 1", 2: "code 2"}).to_numpy()  # coded 1/2 in the source
    out["BMI"] = _num(meta["BMI"]).to_numpy()
    out["site"] = meta["Location"].astype(str).to_numpy()
    counts.index = counts.index.astype(str)
    return _finish(
        spec,
        "genus",
        collapse_lineages(counts, "genus"),
        out,
        ["age", "sex", "BMI", "site"],
        caveats=[
            (
                "16S ASVs rarefied to 10,000 reads by the authors; Gender is coded 1/2 without a key "
                "(adjusted for as a two-level factor)"
            )
        ],
        design="RA vs healthy controls, unpaired",
    )


def _gmhi(spec, data_dir, code):
    meta = pd.read_csv(_file(data_dir, spec.dataset, "validation_metadata.csv", spec.name), encoding="utf-8-sig")
    study = meta.iloc[:, 4].astype(str)
    phen = meta.iloc[:, 1].astype(str)
    in_study = study.str.startswith(code)
    healthy_same = in_study & phen.str.contains("Healthy")
    n_case = int((in_study & ~phen.str.contains("Healthy")).sum())
    if not healthy_same.any():
        raise NotAnalysable(
            f"{n_case} cases but no healthy controls from the same study: the validation set's 118 healthy "
            "people come from other studies (N-1, N-8, Healthy_P), so a case-control contrast would measure "
            "study and batch differences, not disease"
        )
    raise NotAnalysable("unexpected GMHI layout: controls in the same study are not supported yet")


@lru_cache(maxsize=2)
def _class_profile(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", index_col=0)


def _sun(spec, data_dir, project):
    groups = pd.read_csv(_file(data_dir, spec.dataset, "sample.group", spec.name), sep="\t", low_memory=False)
    g = groups[groups["Project_1"] == project].drop_duplicates("Sample").set_index("Sample")
    if g.empty:
        raise NotAnalysable(f"study {project} is not in sample.group")
    prof = _class_profile(_file(data_dir, spec.dataset, "mpa4_class.profile", spec.name))
    table = prof.loc[:, prof.columns.intersection(g.index)].T
    table.columns = [c.replace("c__", "") for c in table.columns]
    out = pd.DataFrame(index=g.index.astype(str))
    out["group"] = g["Group"].map({"Control": "control", "Disease": "case"}).to_numpy()
    out["age"] = _num(g["Age"]).to_numpy()
    out["sex"] = _sex(g["Gender"]).to_numpy()
    out["BMI"] = _num(g["BMI"]).to_numpy()
    caveats = [
        (
            "MetaPhlAn4 class-level profile only (species/genus tables are not in the public snapshot): "
            "genus claims cannot be tested here; diversity is class-level"
        )
    ]
    if project == "WengY_2019":
        caveats.append("CD and UC cases share the same 15 controls; pooled as IBD vs controls")
    return _finish(
        spec,
        "class",
        table,
        out,
        ["age", "sex", "BMI"],
        caveats=caveats,
        design=f"{project}: cases vs controls, unpaired",
    )


def _imsms(spec, data_dir):
    counts = pd.read_csv(_file(data_dir, spec.dataset, "imsms_asv_counts.tsv.gz", spec.name), sep="\t", index_col=0)
    tax = pd.read_csv(
        _file(data_dir, spec.dataset, "imsms_asv_sequences_taxonomy.tsv", spec.name), sep="\t", index_col=0
    )
    lineage = tax["taxonomy"].reindex(counts.index).fillna("")
    genus = parse_lineage(lineage.reset_index(drop=True))["genus"].to_numpy()
    genus = np.where(pd.isna(genus), "unassigned", genus)
    table = counts.groupby(genus).sum().T
    meta = pd.read_csv(
        _file(data_dir, spec.dataset, "imsms_map.txt", spec.name),
        sep="\t",
        encoding="latin-1",
        index_col=0,
        low_memory=False,
    )
    out = pd.DataFrame(index=meta.index.astype(str))
    out["group"] = meta["disease"].map({"MS": "case", "Control": "control"}).to_numpy()
    out["age"] = _num(meta["age"]).to_numpy()
    out["sex"] = _sex(meta["sex"]).to_numpy()
    out["BMI"] = _num(meta["bmi"]).to_numpy()
    out["site"] = meta["site"].astype(str).to_numpy()
    out["household"] = meta["household"].astype(str).to_numpy()
    table.index = table.index.astype(str)
    return _finish(
        spec,
        "genus",
        table,
        out,
        ["age", "sex", "BMI", "site"],
        block="household",
        permute="within",
        caveats=[
            (
                "MS patients paired with household controls: household is a random intercept and "
                "PERMANOVA permutes within households; site is constant within a household"
            )
        ],
        design="MS vs household controls, paired by household",
    )


def _gespic(spec, data_dir, code):
    t = pd.read_csv(_file(data_dir, spec.dataset, "supp-table-3-master.tsv", spec.name), sep="\t")
    t.index = (t["PatientID"].astype(str) + "_b" + t["clin.SeqExp"].astype(str)).to_numpy()
    bins = [
        c
        for c in t.columns
        if c.startswith("tax.")
        and not c.startswith("tax.ASV")
        and c not in ("tax.Observed", "tax.Shannon", "tax.PB_ratio")
    ]
    table = t[bins].copy()
    table.columns = [c[4:] for c in bins]
    # genus bins; family-level bins (names ending in -aceae) are kept as the authors binned them
    out = pd.DataFrame(index=t.index)
    out["group"] = t["clin.Cohort"].map({code: "case", "H": "control"}).to_numpy()
    out["age"] = _num(t["clin.age"]).to_numpy()
    out["sex"] = _num(t["clin.sex"]).map({1: "code 1", 2: "code 2"}).to_numpy()  # coded 1/2 in the source
    out["BMI"] = _num(t["clin.bmi"]).to_numpy()
    out["batch"] = t["clin.SeqExp"].astype(str).to_numpy()
    sub = out[out.group.isin(["case", "control"])]
    in0 = int(((sub.group == "case") & (sub.batch == "0")).sum())
    caveat = (
        f"BATCH-CONFOUNDED: all healthy controls are in sequencing batch 0, cases in both ({in0} of "
        f"{int((sub.group == 'case').sum())} in batch 0); batch is adjusted for, so the contrast rests on "
        "the batch-0 cases; treat the effects as weak evidence"
    )
    # the 442 DA ASVs binned by genus: row sums < 1 (median 0.954); renormalised to the binned share
    return _finish(
        spec,
        "genus",
        table,
        out,
        ["age", "sex", "BMI", "batch"],
        caveats=[caveat, "relative abundances of the 442 ASVs the authors kept, binned by genus"],
        design="cases vs healthy controls, unpaired",
    )


def _hmp2(spec, data_dir):
    data = pd.read_csv(_file(data_dir, spec.dataset, "HMP2_taxonomy.tsv", spec.name), sep="\t", index_col=0)
    meta = pd.read_csv(_file(data_dir, spec.dataset, "HMP2_metadata.tsv", spec.name), sep="\t", index_col=0)
    out = pd.DataFrame(index=meta.index.astype(str))
    out["group"] = meta["diagnosis"].map({"CD": "case", "UC": "case", "nonIBD": "control"}).to_numpy()
    out["age"] = _num(meta["age"]).to_numpy()
    out["antibiotics"] = meta["antibiotics"].astype(str).to_numpy()
    out["site"] = meta["site"].astype(str).to_numpy()
    out["subject"] = meta["subject"].astype(str).to_numpy()
    data.index = data.index.astype(str)
    return _finish(
        spec,
        "genus",
        collapse_lineages(data, "genus"),
        out,
        ["age", "antibiotics", "site"],
        block="subject",
        permute="whole",
        caveats=[
            (
                "repeated samples per participant: subject is a random intercept and PERMANOVA "
                "exchanges whole participants"
            ),
            "the MaAsLin 2 example table holds only 87 species, so genera are partial sums",
        ],
        design="CD and UC vs non-IBD, longitudinal",
    )


def _task(path: Path) -> pd.Series:
    t = pd.read_csv(path, sep="\t", dtype=str)
    return t.set_index(t.columns[0])[t.columns[1]]


def _gevers(spec, data_dir):
    tab = pd.read_csv(_file(data_dir, spec.dataset, "gevers_gg_taxatable.txt", spec.name), sep="\t", index_col=0)
    task = _task(_file(data_dir, spec.dataset, "gevers_task-ileum.txt", spec.name))
    out = pd.DataFrame({"group": task.map({"CD": "case", "no": "control"})}, index=task.index.astype(str))
    table = collapse_lineages(tab.T, "genus")
    table.index = table.index.astype(str)
    return _finish(
        spec,
        "genus",
        table,
        out,
        [],
        caveats=[
            "ileal biopsies, not stool (RISK paediatric cohort); no covariates in the task file",
            "same RISK cohort as MicrobiomeHD's ibd_gevers: not independent of that comparison",
        ],
        design="paediatric CD vs not-IBD, one ileal biopsy per person",
    )


def _sokol(spec, data_dir):
    tab = pd.read_csv(_file(data_dir, spec.dataset, "sokol_gg_taxatable.txt", spec.name), sep="\t", index_col=0)
    labels = pd.concat(
        [
            _task(_file(data_dir, spec.dataset, f, spec.name))
            for f in ("sokol_task-healthy-cd.txt", "sokol_task-healthy-uc.txt")
        ]
    )
    labels = labels[~labels.index.duplicated()]
    grp = labels.map(lambda v: "control" if str(v).lower().startswith("healthy") else "case")
    out = pd.DataFrame({"group": grp}, index=labels.index.astype(str))
    table = collapse_lineages(tab.T, "genus")
    table.index = table.index.astype(str)
    return _finish(
        spec,
        "genus",
        table,
        out,
        [],
        caveats=["no covariates in the task files"],
        design="CD and UC vs healthy, stool, unpaired",
    )


def _metaml(spec, data_dir):
    raw = pd.read_csv(
        _file(data_dir, spec.dataset, "abundance_stoolsubset.txt.bz2", spec.name),
        sep="\t",
        index_col=0,
        header=None,
        dtype=str,
    )
    cols = raw.loc["dataset_name"] == "Neilsen_genome_assembly"
    sub = raw.loc[:, cols]
    sub.columns = sub.loc["sampleID"].astype(str).to_numpy()
    disease = sub.loc["disease"]
    out = pd.DataFrame(index=sub.columns)
    out["group"] = disease.map(
        lambda d: "case" if d in ("ibd_ulcerative_colitis", "ibd_crohn_disease") else ("control" if d == "n" else None)
    ).to_numpy()
    out["age"] = _num(sub.loc["age"].replace("nd", np.nan)).to_numpy()
    out["sex"] = _sex(sub.loc["gender"].replace("nd", np.nan)).to_numpy()
    out["country"] = sub.loc["country"].astype(str).to_numpy()
    genus_rows = [i for i in sub.index if "|g__" in str(i) and "|s__" not in str(i)]
    table = sub.loc[genus_rows].astype(float).T
    table.columns = [str(c).rsplit("|g__", 1)[1] for c in table.columns]
    table = table.loc[:, [c for c in table.columns if not c.endswith("_unclassified")]]
    # MetaPhlAn2 percentages: the genus rows of a sample sum to about 100; unclassified genera dropped
    return _finish(
        spec,
        "genus",
        table,
        out,
        ["age", "sex", "country"],
        caveats=[
            (
                "MetaPhlAn2 genus rows; 'n_relative' (relatives of patients) excluded; 71 of the 110 "
                "samples of MetAML's 'metahit' set are also in this set, so 'metahit' is not analysed "
                "separately (no sample counted twice)"
            )
        ],
        design="UC and CD vs healthy (Denmark, Spain), unpaired",
    )


def load_cohort(spec: CohortSpec, data_dir=None) -> Cohort:
    """Load and harmonise one cohort; :class:`NotAnalysable` (with the reason) when it cannot be analysed.
    Unreadable files or columns raise :class:`~gutaxis.errors.InputError` naming the cohort."""
    loader = globals()[spec.loader]
    try:
        return loader(spec, data_dir, *spec.args)
    except (NotAnalysable, InputError):
        raise
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"cannot harmonise: {exc}",
            source=spec.name,
            hint=f"check the files of {spec.dataset} against its PROVENANCE.md",
        ) from exc
