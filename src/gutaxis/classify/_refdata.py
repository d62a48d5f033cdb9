"""Readers of the reference data sets the tests, the benchmark and the user guide evaluate
(private; the files live in ``../shared/data``, never in the package).

- :func:`load_siamcat_zeller`: SIAMCAT's example data (Zeller et al. 2014 Mol Syst Biol
  10:766, doi:10.15252/msb.20145645): specI relative abundances, 141 samples, 53 CRC / 88 controls.
- :func:`load_metaml`: MetAML's stool subset (Pasolli et al. 2016 PLoS Comput Biol 12:e1004977,
  doi:10.1371/journal.pcbi.1004977) with the six disease data sets selected as MetAML's
  ``scripts/dataset_selection_abundance.txt`` does, species rows (``s__`` without ``t__``),
  features constant within the data set dropped (MetAML's ``classification.py``).
- :func:`load_hmp2`: HMP2 (Lloyd-Price et al. 2019 Nature 569:655) as shipped with MaAsLin2:
  1,595 stool metagenomes x 87 MetaPhlAn2 species, 130 subjects; label IBD (CD + UC) vs nonIBD.
- :func:`load_mlrepo_ibd`: MLRepo's IBD tasks (Vangay et al. 2019 GigaScience giz042): Gevers
  2014 RISK (pediatric CD vs non-IBD, ileal or rectal biopsies) and Sokol (adult CD + UC vs
  healthy, stool), 16S closed-reference Greengenes lineages.
- :func:`load_nielsen_ibd`: MetAML's Nielsen 2014 IBD samples whose subjects are not in
  ``metahit``, one sample per subject (the notes' §2E set).
- :func:`to_genus`: any of these summed to genus with :func:`gutaxis.taxonomy.collapse`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "METAML_DATASETS",
    "MLREPO_IBD_TASKS",
    "first_per_subject",
    "load_hmp2",
    "load_metaml",
    "load_mlrepo_ibd",
    "load_nielsen_ibd",
    "load_siamcat_zeller",
    "metaml_table",
    "to_genus",
]

#: data set -> (dataset_name values, case rule, control rule, rows to drop)
METAML_DATASETS: dict[str, dict[str, Any]] = {
    "cirrhosis": {"datasets": ["Quin_gut_liver_cirrhosis"], "column": "disease", "case": ["cirrhosis"]},
    "colorectal": {
        "datasets": ["Zeller_fecal_colorectal_cancer"],
        "column": "group",
        "case": ["crc"],
        "control": ["control"],
    },
    "ibd": {"datasets": ["metahit"], "column": "disease", "case": ["ibd_ulcerative_colitis", "ibd_crohn_disease"]},
    "obesity": {
        "datasets": ["Chatelier_gut_obesity"],
        "column": "disease",
        "case": ["obesity"],
        "drop": {"disease": ["n"]},
    },
    "t2d": {
        "datasets": ["t2dmeta_long", "t2dmeta_short"],
        "column": "disease",
        "case": ["t2d"],
        "drop": {"gender": ["-", " -"]},
    },
    "wt2d": {
        "datasets": ["WT2D"],
        "column": "disease",
        "case": ["t2d"],
        "drop": {"disease": ["impaired_glucose_tolerance"]},
    },
}

_cache: dict = {}


def load_siamcat_zeller(folder: str | os.PathLike):
    """``(features, labels, metadata)``: samples x 1,754 specI relative abundances (with the
    ``UNMAPPED`` row), 0/1 labels (1 = cancer) and the numeric metadata."""
    folder = Path(folder)
    feat = pd.read_csv(folder / "feat_crc_zeller_msb_mocat_specI.tsv", sep="\t", index_col=0).T
    lab = pd.read_csv(folder / "label_crc_zeller_msb_mocat_specI.tsv", sep="\t", skiprows=1, header=None)
    y = pd.Series(
        (lab.iloc[1].astype(float).to_numpy() > 0).astype(int), index=lab.iloc[0].astype(str).to_numpy(), name="crc"
    )
    meta = pd.read_csv(folder / "num_metadata_crc_zeller_msb_mocat_specI.tsv", sep="\t", index_col=0)
    feat.index = feat.index.astype(str)
    meta.index = meta.index.astype(str)
    return feat, y.loc[feat.index], meta.reindex(feat.index)


def metaml_table(path: str | os.PathLike):
    """``(metadata, species)`` of MetAML's ``abundance_stoolsubset.txt.bz2`` (all 1,989 samples);
    species in percent, as in the file."""
    key = str(Path(path).resolve())
    if key not in _cache:
        raw = pd.read_csv(path, sep="\t", index_col=0, header=None, dtype=str)
        first = np.flatnonzero(raw.index.str.startswith("k__"))[0]
        meta = raw.iloc[:first].T
        meta.index = raw.loc["sampleID"].astype(str).to_numpy()
        rows = raw.index[first:]
        species = rows[rows.str.contains("s__") & ~rows.str.contains("t__")]
        ab = raw.loc[species].astype(float).T
        ab.index = meta.index
        ab.columns = [c.split("|")[-1] for c in ab.columns]
        _cache[key] = (meta, ab)
    meta, ab = _cache[key]
    return meta.copy(), ab.copy()


def load_metaml(path: str | os.PathLike, dataset: str):
    """``(species, labels, metadata)`` of one MetAML disease data set (see :data:`METAML_DATASETS`):
    samples x species (percent), 0/1 labels (1 = disease), the metadata rows."""
    spec = METAML_DATASETS[dataset]
    meta, ab = metaml_table(path)
    keep = meta["dataset_name"].isin(spec["datasets"]).to_numpy()
    for col, bad in spec.get("drop", {}).items():
        keep &= ~meta[col].isin(bad).to_numpy()
    if "control" in spec:
        keep &= meta[spec["column"]].isin(spec["case"] + spec["control"]).to_numpy()
    meta, ab = meta.loc[keep], ab.loc[keep]
    # sample IDs repeat across MetAML's data sets but not within one; make them unique anyway
    if meta.index.has_duplicates:
        ids = meta["dataset_name"] + ":" + meta.index
        meta.index = ids
        ab.index = ids
    ab = ab.loc[:, ab.max(axis=0) > ab.min(axis=0)]  # MetAML drops features constant in the data set
    y = pd.Series(meta[spec["column"]].isin(spec["case"]).astype(int).to_numpy(), index=meta.index, name=dataset)
    return ab, y, meta


def load_hmp2(folder: str | os.PathLike):
    """``(species, labels, metadata)`` of MaAsLin2's HMP2 example: samples x 87 species
    (proportions as in the file), 0/1 labels (1 = IBD: ``diagnosis`` CD or UC; 0 = nonIBD) and the
    metadata (``subject``, ``site``, ``age``, ``antibiotics``, ``collection``, ...). Subjects
    have many samples each: block by ``metadata["subject"]``."""
    folder = Path(folder)
    ab = pd.read_csv(folder / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(folder / "HMP2_metadata.tsv", sep="\t", index_col=0)
    ab.index = ab.index.astype(str)
    meta.index = meta.index.astype(str)
    meta = meta.loc[ab.index]
    # MetaPhlAn2 clade names ("Subdoligranulum unclassified" is s__Subdoligranulum_unclassified
    # under g__Subdoligranulum), so that genus collapse keeps them
    ab.columns = ["s__" + str(c).replace(" ", "_") for c in ab.columns]
    y = pd.Series(meta["diagnosis"].isin(["CD", "UC"]).astype(int).to_numpy(), index=ab.index, name="ibd")
    return ab, y, meta


def first_per_subject(meta: pd.DataFrame, subject: str = "subject", order: str = "collection") -> pd.Index:
    """The sample IDs of each subject's first sample (smallest ``order``; ties: first ID)."""
    m = meta.assign(_id=meta.index).sort_values([subject, order, "_id"], kind="mergesort")
    return pd.Index(m.loc[~m[subject].duplicated(), "_id"].sort_values().to_numpy())


#: task -> (taxa table, task files, case values)
MLREPO_IBD_TASKS = {
    "gevers_ileum": ("gevers_gg_taxatable.txt", ["gevers_task-ileum.txt"], ["CD"]),
    "gevers_rectum": ("gevers_gg_taxatable.txt", ["gevers_task-rectum.txt"], ["CD"]),
    "sokol": (
        "sokol_gg_taxatable.txt",
        ["sokol_task-healthy-cd.txt", "sokol_task-healthy-uc.txt"],
        ["Crohn's disease", "Ulcerative Colitis"],
    ),
    "sokol_cd": ("sokol_gg_taxatable.txt", ["sokol_task-healthy-cd.txt"], ["Crohn's disease"]),
    "sokol_uc": ("sokol_gg_taxatable.txt", ["sokol_task-healthy-uc.txt"], ["Ulcerative Colitis"]),
}


def load_mlrepo_ibd(folder: str | os.PathLike, task: str):
    """``(taxa, labels, metadata)`` of one MLRepo IBD task (see :data:`MLREPO_IBD_TASKS`):
    samples x Greengenes lineages (counts turned into proportions), 0/1 labels (1 = CD, or CD/UC
    for ``sokol``), and a metadata frame holding the task's label text (``Var``) and the read
    depth. ``sokol`` joins the two Sokol tasks, whose 19 healthy samples are the same."""
    if task not in MLREPO_IBD_TASKS:
        raise KeyError(f"unknown MLRepo IBD task {task!r}; one of {', '.join(MLREPO_IBD_TASKS)}")
    table, tasks, case = MLREPO_IBD_TASKS[task]
    folder = Path(folder)
    counts = pd.read_csv(folder / table, sep="\t", index_col=0, dtype={0: str})
    counts.columns = counts.columns.astype(str)
    lab = pd.concat([pd.read_csv(folder / t, sep="\t", dtype=str).set_index("#SampleID")["Var"] for t in tasks])
    lab = lab[~lab.index.duplicated()]
    missing = lab.index.difference(counts.columns)
    if len(missing):
        raise ValueError(f"{len(missing)} task sample(s) absent from {table}: {', '.join(missing[:5])}")
    c = counts[lab.index].T.astype(float)
    depth = c.sum(axis=1)
    rel = c.div(depth, axis=0)
    y = pd.Series(lab.isin(case).astype(int).to_numpy(), index=lab.index, name=task)
    meta = pd.DataFrame({"Var": lab, "depth": depth})
    return rel, y, meta


def load_nielsen_ibd(path: str | os.PathLike):
    """``(species, labels, metadata)``: MetAML's ``Neilsen_genome_assembly`` samples of IBD (CD,
    UC) and controls (``n``; relatives ``n_relative`` left out) whose subjects are not in
    ``metahit``, the first sample of each subject; species in percent."""
    meta, ab = metaml_table(path)
    metahit = set(meta.loc[meta["dataset_name"] == "metahit", "subjectID"])
    keep = (meta["dataset_name"] == "Neilsen_genome_assembly") & ~meta["subjectID"].isin(metahit)
    keep &= meta["disease"].isin(["n", "ibd_crohn_disease", "ibd_ulcerative_colitis"])
    keep &= ~(keep & meta["subjectID"].where(keep).duplicated(keep="first"))
    keep = keep.to_numpy()
    meta, ab = meta.iloc[keep], ab.iloc[keep]
    if meta.index.has_duplicates:
        raise ValueError("duplicate sample IDs in the Nielsen IBD selection")
    ab = ab.loc[:, ab.max(axis=0) > 0]
    y = pd.Series(meta["disease"].str.startswith("ibd").astype(int).to_numpy(), index=meta.index, name="ibd")
    return ab, y, meta


def to_genus(table: pd.DataFrame) -> pd.DataFrame:
    """Samples x lineages (any of: ``k__...; g__X; s__y`` Greengenes rows, MetaPhlAn ``s__X_y``
    clades, ``X y`` binomials) summed to genus with :func:`gutaxis.taxonomy.collapse`; the
    features without a genus are summed into ``unassigned genus``, which is dropped here (its
    content differs between profilers). Returns samples x genus names."""
    import anndata as ad

    from ..taxonomy import collapse

    var = pd.DataFrame({"lineage": table.columns.astype(str)}, index=[f"f{i}" for i in range(table.shape[1])])
    adata = ad.AnnData(X=table.to_numpy(dtype=np.float64), obs=pd.DataFrame(index=table.index.astype(str)), var=var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = collapse(adata, "genus")
    out = pd.DataFrame(np.asarray(g.X), index=table.index, columns=g.var_names.astype(str))
    return out.drop(columns=[c for c in out.columns if c == "unassigned genus"])
