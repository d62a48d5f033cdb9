"""Cohort-level links between taxa and conditions: associations, PERMANOVA, meta-analysis."""

from .associate import AssociationResult, associate, p_adjust
from .linda import linda
from .meta import MetaResult, forest_plot, meta_analysis, per_study_associations, read_effects
from .permanova import permanova
from .permdisp import PermdispResult, permdisp

__all__ = [
    "AssociationResult",
    "MetaResult",
    "PermdispResult",
    "associate",
    "forest_plot",
    "linda",
    "meta_analysis",
    "p_adjust",
    "per_study_associations",
    "permanova",
    "permdisp",
    "read_effects",
]
