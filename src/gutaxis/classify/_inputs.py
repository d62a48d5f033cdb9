"""Checks of what users pass to :mod:`gutaxis.classify` (private).

The feature table goes through :func:`gutaxis._validation.abundance_frame` (AnnData or a
samples x features DataFrame; numbers >= 0, no duplicate IDs). Labels, groups and studies are
matched to its samples by ID and checked here; every problem raises one
:class:`~gutaxis.errors.InputError` that names the samples, groups or classes concerned.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd

from .._validation import abundance_frame
from ..errors import InputError

__all__ = [
    "MIN_PER_CLASS",
    "Inputs",
    "align",
    "binary_labels",
    "by_id",
    "feature_table",
    "labels_from_metadata",
    "prepare",
]

#: fewest samples of each class accepted for training or evaluation (SIAMCAT issue #10)
MIN_PER_CLASS = 5


def _ids(values, n: int = 5) -> str:
    values = [str(v) for v in values]
    return ", ".join(repr(v) for v in values[:n]) + (f" ... ({len(values)} in all)" if len(values) > n else "")


def feature_table(data, *, name: str = "data") -> pd.DataFrame:
    """The checked samples x features table (:func:`~gutaxis._validation.abundance_frame`) with
    sample and feature IDs as text."""
    X = abundance_frame(data, name=name)
    X.index = X.index.astype(str)
    X.columns = X.columns.astype(str)
    return X


def by_id(values: pd.Series) -> pd.Series:
    """A copy of ``values`` indexed by the sample IDs as text (name and ``attrs`` kept)."""
    s = pd.Series(values.to_numpy(), index=values.index.astype(str), name=values.name)
    s.attrs.update(values.attrs)
    return s


def _missing(values: pd.Series) -> np.ndarray:
    s = values
    miss = s.isna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        txt = s.astype(str).str.strip()
        miss |= txt.isin(["", "NA", "nan", "NaN", "None", "nd", "n/a", "N/A"]).to_numpy() & ~s.isna().to_numpy()
    return miss


def labels_from_metadata(metadata: pd.DataFrame, column: str, *, case, control=None) -> pd.Series:
    """0/1 labels (1 = ``case``) from a metadata column, indexed by sample.

    ``case`` and ``control`` are one value or a list of values of ``column``. Without
    ``control`` every other (non-missing) value is a control. Samples whose value is in neither
    list are left out, reported in ``attrs["filtered"]`` and by a ``gutaxis.io.FilteredWarning``;
    samples with a missing value raise an :class:`~gutaxis.errors.InputError` (drop them first, on purpose).
    """
    if column not in metadata.columns:
        raise InputError(
            f"no column {column!r} in the metadata (columns: {_ids(metadata.columns, 10)})",
            source="metadata",
            hint="give the label column's exact name",
        )
    col = metadata[column]
    miss = _missing(col)
    if miss.any():
        raise InputError(
            f"{int(miss.sum())} sample(s) have no value in the label column {column!r}: {_ids(metadata.index[miss])}",
            source="metadata",
            hint="remove those samples or fill their label; nothing is dropped silently",
        )
    text = col.astype(str).str.strip()
    cases = [str(c).strip() for c in (case if isinstance(case, (list, tuple, set)) else [case])]
    unknown = [c for c in cases if c not in set(text)]
    if unknown:
        raise InputError(
            f"case value(s) {_ids(unknown)} do not occur in column {column!r} (values: {_ids(sorted(set(text)), 10)})",
            source="metadata",
            hint="spell the case value as in the file",
        )
    is_case = text.isin(cases)
    if control is None:
        is_control = ~is_case
    else:
        controls = [str(c).strip() for c in (control if isinstance(control, (list, tuple, set)) else [control])]
        bad = [c for c in controls if c not in set(text)]
        if bad:
            raise InputError(
                f"control value(s) {_ids(bad)} do not occur in column {column!r} (values: "
                f"{_ids(sorted(set(text)), 10)})",
                source="metadata",
                hint="spell the control value as in the file",
            )
        is_control = text.isin(controls)
    keep = (is_case | is_control).to_numpy()
    y = pd.Series(
        is_case.to_numpy()[keep].astype(int),
        index=pd.Index(metadata.index[keep].astype(str), name="sample"),
        name=column,
    )
    y.attrs["case"] = cases
    y.attrs["column"] = column
    control_values = sorted(set(text[keep & ~is_case.to_numpy()]))
    y.attrs["classes"] = (
        control_values[0] if len(control_values) == 1 else "control",
        cases[0] if len(cases) == 1 else "case",
    )
    y.attrs["filtered"] = []
    if not keep.all():
        from ..io import FilteredWarning

        left = metadata.index[~keep]
        vals = sorted(set(text[~keep]))
        y.attrs["filtered"].append(
            {
                "what": "samples neither case nor control",
                "reason": f"{column} in {vals}",
                "n": len(left),
                "ids": [str(i) for i in left],
            }
        )
        warnings.warn(
            f"{len(left)} sample(s) with {column} in {vals} are neither case nor control: left out",
            FilteredWarning,
            stacklevel=2,
        )
    return y


def binary_labels(y: pd.Series, *, case=None, source: str = "labels") -> tuple[np.ndarray, tuple]:
    """0/1 array and the (control, case) class names from labels already matched to the samples."""
    miss = _missing(y)
    if miss.any():
        raise InputError(
            f"{int(miss.sum())} sample(s) have no label: {_ids(y.index[miss])}",
            source=source,
            hint="remove unlabelled samples (e.g. data.loc[labels.notna()]) or fill their labels",
        )
    values = y.to_numpy()
    if case is not None:
        cases = [c for c in (case if isinstance(case, (list, tuple, set)) else [case])]
        is_case = np.isin(values.astype(str), [str(c) for c in cases])
        if not is_case.any():
            raise InputError(
                f"no sample has the case label {case!r} (labels: {_ids(sorted(set(map(str, values))), 10)})",
                source=source,
                hint="spell the case label as in the labels",
            )
        others = sorted(set(map(str, values[~is_case])))
        if len(others) > 1:
            raise InputError(
                f"the labels hold more than two classes: case {case!r} and {_ids(others)}",
                source=source,
                hint="use labels_from_metadata(meta, column, case=..., control=...) to name the controls",
            )
        names = (others[0] if others else "control", str(case) if not isinstance(case, (list, tuple, set)) else "case")
        return is_case.astype(int), names
    uniq = pd.unique(values)
    if len(uniq) > 2:
        raise InputError(
            f"the labels hold {len(uniq)} classes ({_ids(sorted(map(str, uniq)), 10)}); a classifier here "
            "separates two",
            source=source,
            hint="pass case=... (and build 0/1 labels for the rest)",
        )
    as_set = set(uniq.tolist())
    if as_set <= {0, 1} or as_set <= {False, True}:
        names = tuple(y.attrs.get("classes", ("control", "case")))
        return values.astype(int), names
    if len(uniq) == 1:
        return np.zeros(len(values), dtype=int), (str(uniq[0]), "case")
    raise InputError(
        f"labels {_ids(sorted(map(str, uniq)))} are not 0/1: which one is the case?",
        source=source,
        hint="pass case=... (the positive class)",
    )


def align(values, samples: pd.Index, *, what: str, source: str) -> pd.Series:
    """A Series of ``values`` matched to ``samples`` by ID (or taken in order when not a Series)."""
    if isinstance(values, pd.Series):
        s = by_id(values)
        if s.index.has_duplicates:
            raise InputError(f"duplicate sample ID {_ids(s.index[s.index.duplicated()])} in the {what}", source=source)
        absent = samples[~samples.isin(s.index)]
        if len(absent):
            raise InputError(
                f"{len(absent)} sample(s) of the table have no {what}: {_ids(absent)}",
                source=source,
                hint=f"give a {what} for every sample, or subset the table to the samples that have one",
            )
        out = s.loc[samples]
        out.attrs.update(values.attrs)
        return out
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != len(samples):
        raise InputError(
            f"{what} has {arr.shape[0] if arr.ndim else 0} values for {len(samples)} samples",
            source=source,
            hint=f"pass one {what} per sample, or a Series indexed by sample ID",
        )
    return pd.Series(arr, index=samples)


class Inputs:
    """The validated, sorted inputs of one evaluation."""

    def __init__(
        self, X: pd.DataFrame, y: np.ndarray, classes: tuple, groups: np.ndarray | None, filtered: list, checksum: str
    ):
        self.X, self.y, self.classes, self.groups = X, y, classes, groups
        self.filtered = filtered
        self.checksum = checksum

    @property
    def samples(self) -> pd.Index:
        return self.X.index


def _checksum(X: pd.DataFrame, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X.to_numpy(dtype=np.float64)).tobytes())
    h.update("\x1f".join(map(str, X.index)).encode())
    h.update("\x1f".join(map(str, X.columns)).encode())
    h.update(np.asarray(y, dtype=np.int8).tobytes())
    return h.hexdigest()


def prepare(
    data,
    y,
    *,
    case=None,
    groups=None,
    mixed_groups: bool = False,
    match: str = "exact",
    min_per_class: int = MIN_PER_CLASS,
    n_splits: int | None = None,
    name: str = "data",
) -> Inputs:
    """Validate and align the table, labels and groups; samples sorted by ID, features by name
    (so that results do not depend on the order of either)."""
    if match not in ("exact", "labelled"):
        raise InputError(f"unknown match {match!r}", source="match", hint="use 'exact' or 'labelled'")
    X = feature_table(data, name=name)
    filtered = []
    if y is None:
        raise InputError("no labels given", source="labels", hint="pass y= (a Series indexed by sample ID)")
    if isinstance(y, str):
        raise InputError(
            f"labels given as the string {y!r}",
            source="labels",
            hint="pass a Series of labels; build one with labels_from_metadata(meta, column, case=...)",
        )
    if match == "labelled" and isinstance(y, pd.Series):
        ys = by_id(y)
        have = X.index.isin(ys.index[~_missing(ys)])
        if not have.all():
            from ..io import FilteredWarning

            left = X.index[~have]
            filtered.append(
                {
                    "what": "samples without a label",
                    "reason": "left out (match='labelled')",
                    "n": len(left),
                    "ids": list(left),
                }
            )
            warnings.warn(
                f"{len(left)} sample(s) of the table have no label and are left out (match='labelled'): {_ids(left)}",
                FilteredWarning,
                stacklevel=3,
            )
            X = X.loc[have]
        y = ys
    filtered.extend(getattr(y, "attrs", {}).get("filtered", []) if isinstance(y, pd.Series) else [])
    ys = align(y, X.index, what="label", source="labels")
    yb, classes = binary_labels(ys, case=case)
    g = None
    if groups is not None:
        gs = align(groups, X.index, what="group", source="groups")
        miss = _missing(gs)
        if miss.any():
            raise InputError(
                f"{int(miss.sum())} sample(s) have no group: {_ids(gs.index[miss])}",
                source="groups",
                hint="give every sample a group (its own ID where it stands alone)",
            )
        g = gs.astype(str).to_numpy()
    order = np.argsort(X.index.to_numpy().astype(str), kind="stable")
    X = X.iloc[order]
    X = X.loc[:, sorted(X.columns)]
    yb = yb[order]
    if g is not None:
        g = g[order]
        check_groups(g, yb, X.index, classes, mixed_groups=mixed_groups)
    check_classes(yb, classes, min_per_class=min_per_class, n_splits=n_splits, groups=g)
    return Inputs(X, yb, classes, g, filtered, _checksum(X, yb))


def check_groups(g: np.ndarray, y: np.ndarray, samples, classes, *, mixed_groups: bool) -> None:
    frame = pd.DataFrame({"g": g, "y": y})
    n_classes = frame.groupby("g")["y"].nunique()
    mixed = n_classes.index[n_classes.to_numpy() > 1]
    if len(mixed) and not mixed_groups:
        first = mixed[0]
        who = list(np.asarray(samples)[g == first])
        raise InputError(
            f"{len(mixed)} group(s) hold both classes, e.g. group {first!r} (samples {_ids(who)})",
            source="groups",
            hint="a subject cannot be both case and control: fix the labels or the "
            "groups; where groups are households or families that do hold cases "
            "and controls, pass mixed_groups=True (CLI: --mixed-groups)",
        )


def check_classes(
    y: np.ndarray, classes, *, min_per_class: int = MIN_PER_CLASS, n_splits=None, groups=None, what: str = "the data"
) -> None:
    n1 = int(np.sum(y == 1))
    n0 = int(np.sum(y == 0))
    if n1 == 0 or n0 == 0:
        only = classes[1] if n1 else classes[0]
        raise InputError(
            f"{what} hold(s) one class only ({len(y)} samples, all {only!r})",
            source="labels",
            hint="a classifier needs cases and controls; check the label column and case value",
        )
    for name, n in ((classes[0], n0), (classes[1], n1)):
        if n < min_per_class:
            raise InputError(
                f"class {name!r} has {n} sample(s) in {what}, fewer than {min_per_class}",
                source="labels",
                hint=f"a classifier needs at least {min_per_class} samples of each class; add samples or merge classes",
            )
    if isinstance(n_splits, int) and n_splits > 1:
        if groups is None:
            small = min(n0, n1)
            unit = "samples"
        else:
            frame = pd.DataFrame({"g": groups, "y": y})
            small = int(min(frame[frame.y == 1].g.nunique(), frame[frame.y == 0].g.nunique()))
            unit = "groups"
        if small < n_splits:
            raise InputError(
                f"the smaller class has {small} {unit}, fewer than the {n_splits} folds asked for",
                source="n_splits",
                hint=f"use at most {small} folds (n_splits=...; CLI --folds)",
            )
