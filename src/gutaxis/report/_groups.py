"""Groups of a cohort report: keeping only some groups (``--groups``) and choosing the groups
that the summary cards show (the largest, as a cohort of 21 groups cannot show them all)."""

from __future__ import annotations

import re

import pandas as pd

from ..errors import InputError

__all__ = ["CARD_RULE", "MAX_CARD_GROUPS", "card_groups", "keep_groups", "parse_groups"]

#: groups shown in the summary cards, at most
MAX_CARD_GROUPS = 4
#: the rule, in the report's words
CARD_RULE = (
    f"the cards show the {MAX_CARD_GROUPS} groups with the most samples (ties in the table's order); "
    "every group is in the tables below"
)


def card_groups(order: list[str], counts: dict[str, int], k: int = MAX_CARD_GROUPS) -> list[str]:
    """The ``k`` groups with the most samples, largest first (ties keep ``order``)."""
    pos = {g: i for i, g in enumerate(order)}
    return sorted(order, key=lambda g: (-int(counts.get(g, 0)), pos[g]))[:k]


def parse_groups(values) -> list[str]:
    """Group names from ``--groups`` values: each value split at its commas (``\\,`` keeps a comma
    inside a name); surrounding spaces dropped."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        for part in re.split(r"(?<!\\),", str(value)):
            part = part.replace("\\,", ",").strip()
            if part and part not in out:
                out.append(part)
    return out


def keep_groups(adata, column: str | None, groups: list[str], *, auto: bool):
    """The samples of ``adata`` whose ``column`` value is one of ``groups`` (a copy), or an error
    naming the groups not found and those there are."""
    if column is None:
        raise InputError(
            "groups= (--groups) needs a group column, and none was found in the sample metadata",
            source="write_report",
            hint="name it with --group-column COLUMN (e.g. Phenotype) and give the metadata with --metadata",
        )
    labels = adata.obs[column].astype(object).where(adata.obs[column].notna(), None)
    labels = labels.map(lambda v: None if v is None else str(v))
    present = list(dict.fromkeys(v for v in labels if v is not None))
    missing = [g for g in groups if g not in present]
    if missing:
        close = [p for p in present if any(m.casefold() == p.casefold() for m in missing)]
        listed = ", ".join(repr(p) for p in sorted(present)[:30])
        raise InputError(
            f"group(s) {', '.join(map(repr, missing))} not in column {column!r}" + (" (auto-detected)" if auto else ""),
            source="write_report",
            hint=("letter case differs: " + ", ".join(map(repr, close)) + "; " if close else "")
            + f"the groups are: {listed}; separate names with commas",
        )
    mask = labels.isin(groups).to_numpy()
    sub = adata[mask].copy()
    if isinstance(sub.obs[column].dtype, pd.CategoricalDtype):
        sub.obs[column] = sub.obs[column].cat.remove_unused_categories()
    return sub
