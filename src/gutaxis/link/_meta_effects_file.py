"""Per-study effects read from a long TSV/CSV file (feature, study, effect, se or variance).

:func:`read_effects` turns such a table into the features x studies matrices of effects and
standard errors that :func:`gutaxis.link.meta.meta_analysis` pools (``gutaxis meta EFFECTS.tsv``).
It is kept apart from :mod:`gutaxis.link.meta` because it is a file reader, with its own checks
of the file's columns and values, and the pooling does not need it. It is imported from there as
``gutaxis.link.meta.read_effects`` (and ``gutaxis.link``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._permutations import show_ids

__all__ = ["read_effects"]


def read_effects(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read per-study effects from a long TSV/CSV: columns ``feature``, ``study``, ``effect`` and
    ``se`` (or ``variance``), one row per feature and study. Returns ``(effects, std_errors)``
    as features x studies DataFrames for :func:`meta_analysis`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source=path) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            "not a text file, so not an effects table",
            source=path,
            hint="an effects table is TSV/CSV (feature, study, effect, se); a profile (.h5ad, BIOM, "
            "...) needs --study COLUMN --label COLUMN --case VALUE",
        ) from exc
    first = text.splitlines()[0] if text.strip() else ""
    sep = "\t" if "\t" in first else ","
    from io import StringIO

    frame = pd.read_csv(StringIO(text), sep=sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    cols = {c.lower(): c for c in frame.columns}
    need = ["feature", "study", "effect"]
    lacking = [c for c in need if c not in cols]
    if lacking or not ({"se", "variance"} & set(cols)):
        raise InputError(
            f"missing column(s) {', '.join(lacking + ([] if {'se', 'variance'} & set(cols) else ['se']))}"
            f" (columns: {show_ids(list(frame.columns), 8)})",
            source=path,
            hint="the effects file needs columns feature, study, effect and se (or variance)",
        )
    f, s, e = frame[cols["feature"]].astype(str), frame[cols["study"]].astype(str), frame[cols["effect"]]
    if "se" in cols:
        se = pd.to_numeric(frame[cols["se"]], errors="coerce")
    else:
        se = np.sqrt(pd.to_numeric(frame[cols["variance"]], errors="coerce"))
    e = pd.to_numeric(e, errors="coerce")
    key = pd.MultiIndex.from_arrays([f, s])
    if key.has_duplicates:
        dup = key[key.duplicated()][0]
        raise InputError(
            f"feature {dup[0]!r} appears twice for study {dup[1]!r}",
            source=path,
            hint="keep one row per feature and study",
        )
    bad = (e.isna() | se.isna()) & ~(frame[cols["effect"]].isna())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"non-numeric effect or standard error on data row {i + 1} (feature {f.iloc[i]!r}, study {s.iloc[i]!r})",
            source=path,
            hint="use numbers; leave a row out if it has none",
        )
    long = pd.DataFrame({"feature": f, "study": s, "effect": e.to_numpy(), "se": se.to_numpy()})
    effects = long.pivot(index="feature", columns="study", values="effect")
    std_errors = long.pivot(index="feature", columns="study", values="se")
    order = list(dict.fromkeys(f))
    studies = list(dict.fromkeys(s))
    return effects.reindex(index=order, columns=studies), std_errors.reindex(index=order, columns=studies)
