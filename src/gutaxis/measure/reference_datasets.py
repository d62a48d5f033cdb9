"""Healthy references built from public cohorts of the dataset registry.

gutaxis ships no reference values in the package: a reference is built on the user's machine from
a public cohort fetched through the registry (:mod:`gutaxis.io.datasets`, checked by sha256), with
the cohort's profiler, licence and citation recorded in the reference JSON. Two commands give a
one-sample report its percentiles::

    gutaxis reference --from-dataset gmhi2020_validation -o healthy.json
    gutaxis report profile.txt -r healthy.json -o report/

(the first downloads the cohort once; on a machine without internet access, copy its files there
and run ``gutaxis datasets fetch gmhi2020_validation --from FOLDER`` first).

=================== =====================================================================
``gmhi2020_validation`` the 118 healthy samples (``Phenotype == "Healthy"``) of the GMHI
                       validation cohort (Gupta et al. 2020, doi:10.1038/s41467-020-18476-8),
                       MetaPhlAn2 species profiles of 10 studies
=================== =====================================================================

The reference's values are computed as for any profile (:func:`~gutaxis.measure.reference.health_indices`,
relative abundances of the classified reads), so a profile is compared on the same denominator.
Its profiler is MetaPhlAn 2: a MetaPhlAn 3/4 profile is compared across profilers, and the
report says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from ..errors import InputError

__all__ = ["REFERENCE_DATASETS", "reference_from_dataset"]

#: how each registry cohort becomes a healthy reference
REFERENCE_DATASETS: dict[str, dict] = {
    "gmhi2020_validation": {
        "profile": "validation_abundance.csv",
        "metadata": "validation_metadata.csv",
        "id_column": "Sample_Ids",
        "healthy": ("Phenotype", "Healthy"),
        "profiler": "MetaPhlAn 2",
        "about": "healthy samples of the GMHI 2020 validation cohort (MetaPhlAn2 species profiles)",
    },
}


def reference_from_dataset(name: str, *, cache: str | os.PathLike | None = None, progress: bool = False):
    """Build the :class:`~gutaxis.measure.reference.HealthyReference` of a registry cohort.

    Parameters
    ----------
    name
        One of :data:`REFERENCE_DATASETS` (``"gmhi2020_validation"``).
    cache
        Dataset cache (default ``$GUTAXIS_DATA_DIR`` or the user cache). Files missing there are
        downloaded (:func:`gutaxis.io.datasets.fetch`); files there are checked by sha256.
    progress
        Show download progress.

    Returns
    -------
    HealthyReference with ``profiler`` set and ``params["dataset"]`` holding the dataset's name,
    licence, citation, source and the sha256 of the files read.
    """
    from ..io import read_profile
    from ..io.datasets import (
        DatasetChecksumError,
        DatasetError,
        cached_file,
        dataset_info,
        fetch,
    )
    from .reference import build_reference

    if name not in REFERENCE_DATASETS:
        raise InputError(
            f"no healthy reference is defined for dataset {name!r}",
            source="gutaxis reference",
            hint=f"use one of: {', '.join(REFERENCE_DATASETS)} (or build one from your own cohort "
            "with PROFILE --healthy COLUMN=VALUE)",
        )
    recipe = REFERENCE_DATASETS[name]
    info = dataset_info(name)
    paths = {}
    for key in ("profile", "metadata"):
        fname = recipe[key]
        path = cached_file(f"{name}/{fname}", cache=cache)  # checked by sha256 when present
        if not path.is_file():
            try:
                path = cast(Path, fetch(f"{name}/{fname}", cache_dir=cache, progress=progress))  # one file: a Path
            except DatasetError as exc:
                if isinstance(exc, DatasetChecksumError):
                    raise
                raise DatasetError(
                    f"{exc}; without internet access, copy the dataset's files to this machine and "
                    f"install them with `gutaxis datasets fetch {name} --from FOLDER`"
                ) from None
        paths[key] = path
    cohort = read_profile(paths["profile"], metadata=paths["metadata"], id_column=recipe["id_column"])
    column, value = recipe["healthy"]
    ref = build_reference(
        cohort,
        healthy=(column, value),
        profiler=recipe["profiler"],
        source=f"{recipe['about']}: samples with {column} == {value!r} (gutaxis dataset {name})",
    )
    ref.params["dataset"] = {
        "name": name,
        "title": info.get("title"),
        "licence": info.get("licence"),
        "citation": info.get("citation"),
        "source": info.get("source"),
        "files": {paths[k].name: info["files"][paths[k].name]["sha256"] for k in ("profile", "metadata")},
    }
    return ref
