"""Readers of the reference data sets the tests, the benchmark and the user guide evaluate
(private; the files live in ``../shared/data``, never in the package).

- :func:`load_siamcat_zeller`: SIAMCAT's example data (Zeller et al. 2014 Mol Syst Biol
  10:766, doi:10.15252/msb.20145645): specI relative abundances, 141 samples, 53 CRC / 88 controls.
- :func:`load_metaml`: MetAML's stool subset (Pasolli et al. 2016 PLoS Comput Biol 12:e1004977,
  doi:10.1371/journal.pcbi.1004977) with the six disease data sets selected as MetAML's
  ``scripts/dataset_selection_abundance.txt`` does, species rows (``s__`` without ``t__``),
  features constant within the data set dropped (MetAML's ``classification.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_siamcat_zeller", "load_metaml", "METAML_DATASETS", "metaml_table"]

#: data set -> (dataset_name values, case rule, control rule, rows to drop)
METAML_DATASETS = {
    "cirrhosis": {"datasets": ["Quin_gut_liver_cirrhosis"], "column": "disease", "case": ["cirrhosis"]},
    "colorectal": {"datasets": ["Zeller_fecal_colorectal_cancer"], "column": "group", "case": ["crc"],
                   "control": ["control"]},
    "ibd": {"datasets": ["metahit"], "column": "disease", "case": ["ibd_ulcerative_colitis", "ibd_crohn_disease"]},
    "obesity": {"datasets": ["Chatelier_gut_obesity"], "column": "disease", "case": ["obesity"], "drop": {"disease": ["n"]}},
    "t2d": {"datasets": ["t2dmeta_long", "t2dmeta_short"], "column": "disease", "case": ["t2d"],
            "drop": {"gender": ["-", " -"]}},
    "wt2d": {"datasets": ["WT2D"], "column": "disease", "case": ["t2d"],
             "drop": {"disease": ["impaired_glucose_tolerance"]}},
}

_cache: dict = {}


def load_siamcat_zeller(folder: str | os.PathLike):
    """``(features, labels, metadata)``: samples x 1,754 specI relative abundances (with the
    ``UNMAPPED`` row), 0/1 labels (1 = cancer) and the numeric metadata."""
    folder = Path(folder)
    feat = pd.read_csv(folder / "feat_crc_zeller_msb_mocat_specI.tsv", sep="\t", index_col=0).T
    lab = pd.read_csv(folder / "label_crc_zeller_msb_mocat_specI.tsv", sep="\t", skiprows=1, header=None)
    y = pd.Series((lab.iloc[1].astype(float).to_numpy() > 0).astype(int), index=lab.iloc[0].astype(str).to_numpy(),
                  name="crc")
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
