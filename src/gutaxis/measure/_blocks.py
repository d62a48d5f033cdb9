"""Row-block sizes of the blockwise distance computations (Bray-Curtis, Jaccard, Aitchison)."""

from __future__ import annotations

from ..errors import InputError

_BLOCK_BYTES = 128 * 2**20  # default float64 block: 128 MiB


def block_size(requested: int | None, n_cols: int) -> int:
    """Rows per block: ``requested``, or as many float64 rows of ``n_cols`` as fit in 128 MiB (1..4096)."""
    if requested is None:
        return max(1, min(4096, _BLOCK_BYTES // (8 * max(n_cols, 1))))
    if int(requested) < 1:
        raise InputError(f"block_size must be >= 1, got {requested!r}", source="beta_diversity")
    return int(requested)
