"""Shared machinery of the distance-based permutation tests (PERMANOVA, PERMDISP).

- :func:`distance_input`: any distance the measure module produces (a square labelled
  DataFrame, an ndarray or ``numpy.memmap``, an object with ``.data``/``.ids`` such as a
  scikit-bio ``DistanceMatrix``), or an AnnData / samples x taxa DataFrame of abundances plus a
  metric name, validated into one float64 matrix and its sample labels.
- :func:`align_metadata`: metadata rows in the distance matrix's sample order; unmatched IDs
  on either side are listed in one :class:`~gutaxis.errors.InputError`.
- :func:`permutation_batches`: seeded, reproducible permutations in batches, optionally
  restricted to blocks (``strata``: samples are only exchanged within their block, as
  vegan's ``how(blocks = strata)``). The stream depends only on the seed, the number of samples
  and the blocks, never on the batch size.
- :func:`block_permutation_batches`: seeded permutations of whole blocks (vegan's
  ``how(plots = Plots(strata, type = "free"), within = Within("none"))``), drawn in bulk, or all
  of them when there are few enough.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "align_metadata",
    "block_permutation_batches",
    "distance_input",
    "gower_centered",
    "permutation_batches",
    "show_ids",
    "strata_codes",
]


def show_ids(ids: Sequence, limit: int = 5) -> str:
    """``'a', 'b', 'c' and 2 more`` (at most ``limit`` IDs)."""
    ids = list(ids)
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _is_anndata(obj) -> bool:
    return type(obj).__name__ == "AnnData" and hasattr(obj, "obs_names")


def _looks_like_distance_frame(frame: pd.DataFrame) -> bool:
    return frame.shape[0] == frame.shape[1] and frame.index.equals(frame.columns)


def distance_input(distance, *, metric: str | None = None, source: str = "permanova"):
    """Return ``(D, labels, info)``: a validated square float64 matrix, its sample labels and a
    dict describing where it came from (``{"input": "distance"}`` or ``{"input": "abundance",
    "metric": ...}``).

    ``metric`` given, or an AnnData, or a DataFrame whose rows and columns are not the same
    labels: the input is a table of abundances and the distance is computed with
    :func:`gutaxis.measure.beta_diversity`. ``D`` may be a view of the caller's data: never
    modify it in place.
    """
    info: dict = {"input": "distance"}
    abundance = (
        metric is not None
        or _is_anndata(distance)
        or (isinstance(distance, pd.DataFrame) and not _looks_like_distance_frame(distance))
    )
    if abundance:
        from ..measure import beta_diversity

        metric = "braycurtis" if metric is None else metric
        frame = beta_diversity(distance, metric)
        info = {"input": "abundance", "metric": frame.attrs.get("params", {}).get("metric", metric)}
        D, labels = frame.to_numpy(), pd.Index(frame.index, name="sample")
    elif isinstance(distance, pd.DataFrame):
        D, labels = distance.to_numpy(dtype=np.float64), pd.Index(distance.index, name="sample")
    elif hasattr(distance, "data") and hasattr(distance, "ids") and not isinstance(distance, np.ndarray):
        D, labels = np.asarray(distance.data, dtype=np.float64), pd.Index(list(distance.ids), name="sample")
    else:
        try:
            D = np.asarray(distance, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"cannot read a distance matrix from a {type(distance).__name__}",
                source=source,
                hint="pass a square DataFrame/ndarray of distances, or an AnnData/DataFrame of "
                "abundances with metric='braycurtis' or 'jaccard'",
            ) from exc
        labels = pd.RangeIndex(D.shape[0] if D.ndim == 2 else 0, name="sample")
    _check_distance(D, labels, source)
    if labels.has_duplicates:
        dup = labels[labels.duplicated()]
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in the distance matrix", source=source, hint="make sample IDs unique"
        )
    return D, labels, info


def _check_distance(D: np.ndarray, labels: pd.Index, source: str) -> None:
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 3:
        raise InputError(
            f"expected a square distance matrix of at least 3 samples, got shape {D.shape}",
            source=source,
            hint="pass samples x samples distances (e.g. from gutaxis.beta_diversity)",
        )
    n = D.shape[0]
    lo, hi = float(np.min(D)), float(np.max(D))  # NaN propagates into both
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = np.argwhere(~np.isfinite(D))[0]
        raise InputError(
            f"missing or infinite distance between samples {labels[bad[0]]!r} and {labels[bad[1]]!r}",
            source=source,
            hint="remove empty samples (their Bray-Curtis/Jaccard distances are NaN) and recompute",
        )
    if lo < 0:
        i, j = np.argwhere(D < 0)[0]
        raise InputError(
            f"negative distance between samples {labels[i]!r} and {labels[j]!r}",
            source=source,
            hint="dissimilarities must be >= 0",
        )
    scale = max(hi, 1e-300)
    diag = np.abs(np.diagonal(D))
    if diag.max() > 1e-12 * scale:
        i = int(np.argmax(diag))
        raise InputError(
            f"non-zero self-distance of sample {labels[i]!r}",
            source=source,
            hint="the diagonal of a distance matrix must be 0",
        )
    tile = 512  # compare D[I, J] with D[J, I].T tile by tile (cache friendly, no n x n temporaries)
    for i0 in range(0, n, tile):
        for j0 in range(i0, n, tile):
            a = D[i0 : i0 + tile, j0 : j0 + tile]
            b = D[j0 : j0 + tile, i0 : i0 + tile].T
            diff = np.abs(a - b)
            if diff.max() > 1e-10 * scale:
                i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
                i, j = i0 + i, j0 + j
                raise InputError(
                    f"the distance matrix is not symmetric: d({labels[i]!r}, {labels[j]!r}) differs "
                    f"from d({labels[j]!r}, {labels[i]!r})",
                    source=source,
                    hint="pass a symmetric matrix",
                )


def align_metadata(labels: pd.Index, metadata, *, source: str = "metadata", n_positional: bool = True) -> pd.DataFrame:
    """Metadata rows in the order of ``labels``.

    A DataFrame is matched by sample ID (its index): metadata rows that match no sample and
    samples without metadata are both errors, listed by ID. When ``labels`` is a RangeIndex (an
    unlabelled ndarray of distances) the metadata rows are taken in order and must be as many
    as the samples.
    """
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(
            f"metadata must be a pandas DataFrame indexed by sample ID, got {type(metadata).__name__}",
            source=source,
            hint="read it with gutaxis.read_metadata(path)",
        )
    if isinstance(labels, pd.RangeIndex) and n_positional and not _labels_match(labels, metadata.index):
        if len(metadata) != len(labels):
            raise InputError(
                f"the distance matrix has {len(labels)} samples but the metadata has {len(metadata)} rows",
                source=source,
                hint="an unlabelled matrix is matched to metadata rows by position; "
                "pass a labelled DataFrame to match by sample ID",
            )
        out = metadata.copy()
        out.index = pd.Index(metadata.index, name="sample")
        return out
    meta_ids = pd.Index([str(i) for i in metadata.index], dtype=object)
    sample_ids = pd.Index([str(s) for s in labels], dtype=object)
    if meta_ids.has_duplicates:
        dup = meta_ids[meta_ids.duplicated()]
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in the metadata", source=source, hint="keep one row per sample"
        )
    known_meta, known_samples = set(meta_ids), set(sample_ids)
    extra = [i for i in meta_ids if i not in known_samples]
    missing = [s for s in sample_ids if s not in known_meta]
    problems = []
    if missing:
        problems.append(f"{len(missing)} sample(s) have no metadata: {show_ids(missing)}")
    if extra:
        problems.append(f"{len(extra)} metadata row(s) match no sample: {show_ids(extra)}")
    if problems:
        raise InputError(
            "; ".join(problems),
            source=source,
            hint="check that the metadata IDs are the profile's sample IDs; to test a subset, pass "
            "metadata.loc[samples] and the matching distances",
        )
    out = metadata.copy()
    out.index = meta_ids
    out = out.loc[sample_ids]
    out.index = pd.Index(labels, name="sample")
    return out


def _labels_match(labels: pd.Index, index: pd.Index) -> bool:
    return len(labels) == len(index) and all(str(a) == str(b) for a, b in zip(labels, index, strict=True))


def strata_codes(strata, metadata: pd.DataFrame | None, labels: pd.Index, *, source: str) -> np.ndarray | None:
    """Integer block codes (0..b-1) per sample, or None without strata."""
    if strata is None:
        return None
    if isinstance(strata, str):
        if metadata is None or strata not in metadata.columns:
            cols = [] if metadata is None else list(map(str, metadata.columns))
            raise InputError(
                f"unknown strata column {strata!r}",
                source=source,
                hint=f"choose one of the metadata columns: {show_ids(cols, 10)}",
            )
        values = metadata[strata].to_numpy()
        name = strata
    elif isinstance(strata, pd.Series) and not isinstance(labels, pd.RangeIndex):
        name = str(strata.name) if strata.name is not None else "strata"
        by_id = pd.Series(strata.to_numpy(), index=[str(i) for i in strata.index])
        if by_id.index.has_duplicates:
            raise InputError(f"duplicate sample ID in strata {name!r}", source=source)
        missing = [str(s) for s in labels if str(s) not in by_id.index]
        if missing:
            raise InputError(
                f"{len(missing)} sample(s) have no strata value: {show_ids(missing)}",
                source=source,
                hint="index the strata Series by the distance matrix's sample IDs",
            )
        values = by_id.loc[[str(s) for s in labels]].to_numpy()
    else:
        name = "strata"
        values = np.asarray(strata, dtype=object).ravel()
        if len(values) != len(labels):
            raise InputError(
                f"strata has {len(values)} values for {len(labels)} samples",
                source=source,
                hint="give one block label per sample, in the distance matrix's order",
            )
    values = pd.Series(np.asarray(values), index=labels)
    bad = values.isna().to_numpy()
    if bad.any():
        raise InputError(
            f"strata {name!r} is missing for {bad.sum()} sample(s): {show_ids(labels[bad])}",
            source=source,
            hint="give every sample a block, or leave those samples out",
        )
    codes, _ = pd.factorize(values.astype(str), sort=True)
    return codes.astype(np.int64)


def permutation_batches(
    n: int, permutations: int, seed, *, strata: np.ndarray | None = None, batch: int = 256
) -> Iterator[np.ndarray]:
    """Yield ``(b, n)`` int arrays of permutations of ``range(n)``, ``permutations`` in total.

    Without strata each row is ``rng.permutation(n)``. With strata (block codes per sample),
    each row maps every sample to a sample of the same block, uniformly at random within
    blocks: random keys are sorted inside each block. Seeded with
    ``numpy.random.default_rng(seed)``; the rows do not depend on ``batch``.
    """
    rng = np.random.default_rng(seed)
    done = 0
    if strata is not None:
        strata = np.asarray(strata, dtype=np.int64)
        # positions sorted by block (stable); the k-th slot of block b is the k-th sample of b
        slots = np.argsort(strata, kind="stable")
        base = strata.astype(np.float64)
    while done < permutations:
        b = min(batch, permutations - done)
        if strata is None:
            out = np.empty((b, n), dtype=np.int64)
            for r in range(b):
                out[r] = rng.permutation(n)
        else:
            keys = rng.random((b, n)) + base  # block code + U(0,1): sorts by block, randomly inside it
            order = np.argsort(keys, axis=1, kind="stable")
            out = np.empty((b, n), dtype=np.int64)
            out[:, slots] = order
        done += b
        yield out


def block_permutation_batches(
    n_blocks: int, permutations: int, seed, *, batch: int = 256, complete: bool = False
) -> Iterator[np.ndarray]:
    """Yield ``(b, n_blocks)`` int arrays: row ``r`` is a permutation ``pi`` of the blocks (block ``k``
    takes the block-level values of block ``pi[k]``).

    Random (``complete=False``): ``permutations`` rows in all, uniform over the ``n_blocks!``
    permutations, drawn in bulk (the argsort of uniform keys); seeded with
    ``numpy.random.default_rng(seed)``; the rows do not depend on ``batch``. ``complete=True``:
    every permutation but the identity, in lexicographic order (``n_blocks! - 1`` rows;
    ``permutations`` is ignored), for an exact p.
    """
    if complete:
        import itertools

        every = itertools.permutations(range(n_blocks))
        next(every)  # the identity comes first in lexicographic order
        while True:
            rows = list(itertools.islice(every, batch))
            if not rows:
                return
            yield np.asarray(rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    done = 0
    while done < permutations:
        b = min(batch, permutations - done)
        yield np.argsort(rng.random((b, n_blocks)), axis=1, kind="stable").astype(np.int64)
        done += b


def gower_centered(D: np.ndarray) -> np.ndarray:
    """``G = -1/2 J D^2 J`` (Gower 1966, doi:10.1093/biomet/53.3-4.325) as a new C-contiguous array."""
    G = np.square(D, dtype=np.float64)
    G = np.ascontiguousarray(G)
    row = G.mean(axis=1)
    grand = row.mean()
    G -= row[:, None]
    G -= row[None, :]
    G += grand
    G *= -0.5
    return G
