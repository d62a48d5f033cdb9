"""gutaxis: gut microbiome health and its links to autoimmune disease.

Measure gut health from a stool microbiome profile, link taxa to autoimmune conditions,
simulate the gut-immune axis and act on it. The public API is re-exported here; submodules
load on first use so that ``import gutaxis`` (and the CLI) start fast.

gutaxis informs and never diagnoses: discuss personal results with a clinician or a
registered dietitian.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

from .errors import GutaxisError, InputError

try:
    __version__ = version("gutaxis")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

# public name -> module that defines it
_EXPORTS = {
    # io
    "read_profile": "gutaxis.io",
    "read_metaphlan": "gutaxis.io",
    "read_biom": "gutaxis.io",
    "read_qza": "gutaxis.io",
    "read_table": "gutaxis.io",
    "read_h5ad": "gutaxis.io",
    "read_metadata": "gutaxis.io",
    "add_metadata": "gutaxis.io",
    # taxonomy
    "parse_lineage": "gutaxis.taxonomy",
    "normalize_name": "gutaxis.taxonomy",
    "collapse": "gutaxis.taxonomy",
    "lactobacillus_group": "gutaxis.taxonomy",
    # measure
    "alpha_diversity": "gutaxis.measure",
    "shannon": "gutaxis.measure",
    "simpson": "gutaxis.measure",
    "richness": "gutaxis.measure",
    "chao1": "gutaxis.measure",
    "beta_diversity": "gutaxis.measure",
    "bray_curtis": "gutaxis.measure",
    "jaccard": "gutaxis.measure",
    "aitchison": "gutaxis.measure",
    "robust_aitchison": "gutaxis.measure",
    "clr": "gutaxis.measure",
    "rclr": "gutaxis.measure",
    "faith_pd": "gutaxis.measure",
    "unifrac": "gutaxis.measure",
    "rarefy": "gutaxis.measure",
    "expected_richness": "gutaxis.measure",
    "rarefaction_curve": "gutaxis.measure",
    "pcoa": "gutaxis.measure",
    "gmhi": "gutaxis.measure",
    "dysbiosis_score": "gutaxis.measure",
    "panel_abundance": "gutaxis.measure",
    "build_reference": "gutaxis.measure",
    "percentiles": "gutaxis.measure",
    "health_indices": "gutaxis.measure",
    "HealthyReference": "gutaxis.measure",
    # link
    "associate": "gutaxis.link",
    "linda": "gutaxis.link",
    "permanova": "gutaxis.link",
    "permdisp": "gutaxis.link",
    "meta_analysis": "gutaxis.link",
    "per_study_associations": "gutaxis.link",
    "forest_plot": "gutaxis.link",
    "run_atlas": "gutaxis.atlas",
    # report
    "write_report": "gutaxis.report",
    "demo_cohort": "gutaxis.demo",
    # public datasets
    "fetch": "gutaxis.io.datasets",
    "list_datasets": "gutaxis.io.datasets",
}

__all__ = ["GutaxisError", "InputError", "__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if name == "pl":  # the plotting subpackage: gutaxis.pl.pcoa(...) after a plain `import gutaxis`
        return importlib.import_module("gutaxis.pl")
    if module is None:
        raise AttributeError(f"module 'gutaxis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
