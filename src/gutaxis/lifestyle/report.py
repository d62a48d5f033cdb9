"""The plan's reports live in :mod:`gutaxis.report` (``gutaxis.report.plan``, one home for every
report); this module keeps ``from gutaxis.lifestyle.report import write_plan_reports`` working.
"""

from __future__ import annotations

from ..report.plan import (  # noqa: F401  (the constants the module re-exported before it moved)
    ASSUMED_COLUMNS,
    COVERAGE_THRESHOLD,
    DIET_SCORES,
    NOT_JUDGED,
    REPORT_FILES,
    TOP_FOOD_SCORES,
    effect_figure,
    weeks_figure,
    write_plan_reports,
)

__all__ = ["REPORT_FILES", "effect_figure", "weeks_figure", "write_plan_reports"]
