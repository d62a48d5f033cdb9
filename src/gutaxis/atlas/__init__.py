"""The autoimmune atlas: every cohort gutaxis holds, one harmonised analysis, and the seed's claims
checked against the data (see ``docs/atlas.md``).

- :mod:`.cohorts`: how each cohort is loaded and harmonised (disease, case/control, covariates,
  blocking, rank), or why it cannot be analysed;
- :mod:`.per_cohort`: the analysis of one cohort (:func:`analyse_cohort`);
- :mod:`.across_cohorts`: meta-analysis per disease, shared vs specific genera, MicrobiomeHD, the
  claims table;
- :mod:`.run`: the pipeline (:func:`run_atlas`);
- :mod:`.claims`: the claims (package data ``atlas_claims.tsv``) and the verdict rule;
- ``gutaxis.report.atlas``: the HTML report and the TSVs (:func:`write_atlas`).

gutaxis informs and never diagnoses.
"""

from .claims import load_claims, verdict
from .cohorts import COHORTS, Cohort, CohortSpec, NotAnalysable, load_cohort
from .run import ATLAS_OPTIONS, AtlasResult, analyse_cohort, associate_cohort, run_atlas

__all__ = [
    "ATLAS_OPTIONS",
    "COHORTS",
    "AtlasResult",
    "Cohort",
    "CohortSpec",
    "NotAnalysable",
    "analyse_cohort",
    "associate_cohort",
    "load_claims",
    "load_cohort",
    "run_atlas",
    "verdict",
    "write_atlas",
]


def __getattr__(name: str):
    # the report (and matplotlib with it) loads when it is written, not when the atlas is imported
    if name == "write_atlas":
        from ..report.atlas import write_atlas

        return write_atlas
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
