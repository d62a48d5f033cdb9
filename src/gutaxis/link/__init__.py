"""Cohort-level links between taxa and conditions: associations, PERMANOVA, meta-analysis."""

from .associate import AssociationResult, associate, p_adjust
from .linda import linda
from .meta import MetaResult, forest_plot, meta_analysis, per_study_associations, read_effects
from .permanova import permanova
from .permdisp import PermdispResult, permdisp

__all__ = [
    "associate",
    "linda",
    "AssociationResult",
    "p_adjust",
    "permanova",
    "permdisp",
    "PermdispResult",
    "meta_analysis",
    "MetaResult",
    "forest_plot",
    "per_study_associations",
    "read_effects",
]
