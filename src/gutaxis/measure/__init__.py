"""Per-sample gut health: diversity, GMHI, the HMP2 dysbiosis score, taxon panels and
percentiles against a healthy reference.

Every function takes an ``AnnData`` or a samples x taxa ``DataFrame`` and returns pandas
objects indexed by sample.
"""

from .alpha import alpha_diversity, chao1, inverse_simpson, pielou, richness, shannon, simpson
from .beta import beta_blocks, beta_diversity, bray_curtis, cross_blocks, cross_distance, jaccard
from .dysbiosis import dysbiosis_score
from .gmhi import gmhi
from .logratio import aitchison, clr, rclr, robust_aitchison
from .ordination import pcoa
from .panels import panel_abundance
from .phylo import faith_pd, read_tree, unifrac
from .rarefaction import expected_richness, rarefaction_curve, rarefy
from .reference import HealthyReference, build_reference, health_indices, percentiles

__all__ = [
    "HealthyReference",
    "aitchison",
    "alpha_diversity",
    "beta_blocks",
    "beta_diversity",
    "bray_curtis",
    "build_reference",
    "chao1",
    "clr",
    "cross_blocks",
    "cross_distance",
    "dysbiosis_score",
    "expected_richness",
    "faith_pd",
    "gmhi",
    "health_indices",
    "inverse_simpson",
    "jaccard",
    "panel_abundance",
    "pcoa",
    "percentiles",
    "pielou",
    "rarefaction_curve",
    "rarefy",
    "rclr",
    "read_tree",
    "richness",
    "robust_aitchison",
    "shannon",
    "simpson",
    "unifrac",
]
