"""Cohort-level links between taxa and conditions: associations, PERMANOVA, meta-analysis."""
