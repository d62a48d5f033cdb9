"""What each step of the profile report (:func:`gutaxis.report.html.write_report`) hands to the next:
the checked input, the indices, their placement against a healthy reference, the values shown and
the tables of the page. Each is built once, by its step, and only read after."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ProfileIndices", "ReferencePlacement", "ReportInput", "ReportTables", "ShownValues"]


@dataclass
class ReportInput:
    """The arguments of ``write_report``, checked (:func:`gutaxis.report._profile_input.check_input`)."""

    adata: Any  # AnnData, only the groups kept
    out: Path
    sample: str | None  # the one sample reported on (asked for, or the only one); None for a cohort
    synthetic: bool
    group_col: str | None
    labels: pd.Series | None  # group of each sample (str; None where missing)
    order: list[str]  # groups in the order the report shows them
    group_auto: bool  # the group column was detected, not named
    kept_groups: list[str] | None  # groups= as parsed; None: all
    n_before: int | None  # samples before the groups were kept
    ref: Any  # HealthyReference supplied, or None
    ref_path: Path | None  # its JSON file, when given as a path

    @property
    def single(self) -> bool:
        """A report on one sample."""
        return self.sample is not None


@dataclass
class ProfileIndices:
    """GMHI, alpha diversity, panel entries and (for a cohort with a healthy group) the HMP2
    dysbiosis score of every sample."""

    table: pd.DataFrame  # samples x indices; attrs emptied (pandas copies them on every operation)
    attrs: dict  # health_indices' attrs: notes, gmhi, panels
    panel_attrs: dict
    entries: dict  # panel entry name -> its panel row (panel, taxon, role, caveat, citation, ...)
    panel_cols: list[str]
    core_cols: list[str]  # GMHI, diversity, dysbiosis score
    counts: dict  # GMHI's species sets: {"n_mh", "n_mn"}
    healthy_mask: np.ndarray | None  # samples of a healthy group, where the group column has one
    dysbiosis: dict | None  # how the dysbiosis score was computed; None when it was not


@dataclass
class ReferencePlacement:
    """The healthy reference (supplied, built from the cohort, or none) and the percentiles against it."""

    info: dict  # available, description, note, source, n_samples, built_from
    pct: pd.DataFrame | None  # percentiles of every sample
    den: dict  # denominator_context: the unclassified share of the samples shown
    prof: dict  # profiler_context: the profilers of the profile and the reference
    not_measurable: dict  # panel entry -> why this table cannot measure it


@dataclass
class ShownValues:
    """What goes into the report: one sample's rows, or the whole cohort's."""

    indices: pd.DataFrame
    percentiles: pd.DataFrame | None
    panels: pd.DataFrame
    labels: dict  # index column -> its label in tables
    short: dict  # index column -> its label in figures and cards


@dataclass
class ReportTables:
    """The page's tables, summary cards and opening lines, for one sample or a cohort."""

    lead: str
    subtitle: str
    n_taxa_present: int | None = None  # one sample: taxa detected
    index_rows: list[dict] = field(default_factory=list)  # one sample
    panels: list[dict] = field(default_factory=list)
    cards: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)  # cohort: {"name": group, "n": its samples}
    group_rows: list[dict] = field(default_factory=list)
    percentile_rows: list[dict] = field(default_factory=list)
    group_summary: dict = field(default_factory=dict)  # column -> group -> n, median, q1, q3
    group_summary_pct: dict = field(default_factory=dict)  # column -> group -> median percentile
