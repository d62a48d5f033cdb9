"""Per-sample gut health: diversity, GMHI, the HMP2 dysbiosis score, taxon panels and
percentiles against a healthy reference.

Every function takes an ``AnnData`` or a samples x taxa ``DataFrame`` and returns pandas
objects indexed by sample.
"""

from .logratio import aitchison, clr, rclr, robust_aitchison
from .alpha import alpha_diversity, chao1, inverse_simpson, pielou, richness, shannon, simpson
from .beta import beta_blocks, beta_diversity, bray_curtis, cross_blocks, cross_distance, jaccard
from .dysbiosis import dysbiosis_score
from .gmhi import gmhi
from .ordination import pcoa
from .panels import panel_abundance
from .phylo import faith_pd, read_tree, unifrac
from .rarefaction import expected_richness, rarefaction_curve, rarefy
from .reference import HealthyReference, build_reference, health_indices, percentiles

__all__ = [
    "alpha_diversity",
    "richness",
    "shannon",
    "simpson",
    "inverse_simpson",
    "pielou",
    "chao1",
    "beta_diversity",
    "bray_curtis",
    "jaccard",
    "beta_blocks",
    "cross_distance",
    "cross_blocks",
    "aitchison",
    "robust_aitchison",
    "clr",
    "rclr",
    "faith_pd",
    "unifrac",
    "read_tree",
    "rarefy",
    "expected_richness",
    "rarefaction_curve",
    "pcoa",
    "gmhi",
    "dysbiosis_score",
    "panel_abundance",
    "HealthyReference",
    "build_reference",
    "percentiles",
    "health_indices",
]
