"""Type aliases of the public API: what gutaxis functions accept, named once.

The public functions take the same few kinds of input (a profile table, a distance matrix, a
metadata table, a path); naming them here keeps the signatures short and the reference pages
consistent.

Classes of other packages (AnnData, scikit-bio's DistanceMatrix and TreeNode, Dask's Client, a
Zarr array, a matplotlib Figure) are imported for type checkers only, so that ``import gutaxis``
stays fast and the optional packages stay optional. At run time each is a forward reference
into its own package: :func:`typing.get_type_hints` resolves it once that package is imported
(as it is whenever a caller holds such an object). Annotate with the aliases below, never with
these class names themselves, so that the reference is not shadowed by its own name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ForwardRef, TypeAlias

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData
    from distributed import Client
    from matplotlib.figure import Figure
    from skbio import DistanceMatrix, TreeNode
    from zarr import Array
else:  # run time: resolved by typing.get_type_hints in the named package, once it is imported
    AnnData = ForwardRef("AnnData", module="anndata")
    Client = ForwardRef("Client", module="distributed")
    Figure = ForwardRef("Figure", module="matplotlib.figure")
    DistanceMatrix = ForwardRef("DistanceMatrix", module="skbio")
    TreeNode = ForwardRef("TreeNode", module="skbio")
    Array = ForwardRef("Array", module="zarr")

#: An ``anndata.AnnData``, e.g. the cohort every reader returns. (Its own name, not ``AnnData``: a
#: forward reference annotated with the very name it refers to would stay unresolved.)
AnnDataObject: TypeAlias = AnnData

#: A samples x features abundance table: an AnnData (``X`` or a layer) or a DataFrame indexed by sample.
AbundanceData: TypeAlias = AnnData | pd.DataFrame

#: A square distance matrix: a labelled DataFrame, a scikit-bio DistanceMatrix or a NumPy array.
DistanceLike: TypeAlias = pd.DataFrame | DistanceMatrix | np.ndarray

#: Sample metadata: a DataFrame indexed by sample, or a path to a TSV/CSV file.
MetadataLike: TypeAlias = pd.DataFrame | str | os.PathLike[str]

#: A file system path.
PathLike: TypeAlias = str | os.PathLike[str]

#: A random seed: an int, a NumPy Generator (used as is), or None (a fresh one).
Seed: TypeAlias = int | np.random.Generator | None

#: A phylogenetic tree: the path of a Newick file, or a scikit-bio TreeNode.
TreeLike: TypeAlias = str | os.PathLike[str] | TreeNode

#: Where to compute: a Dask ``distributed.Client``, or the address of a scheduler (``"tcp://host:8786"``).
ClientLike: TypeAlias = Client | str

#: A Zarr array (``zarr.Array``): a distance matrix written into a ``.zarr`` store.
ZarrArray: TypeAlias = Array

#: A matplotlib Figure.
MplFigure: TypeAlias = Figure

#: A choice of samples: a boolean mask (an array in table order, or a Series indexed by sample ID),
#: a list of sample IDs, or ``(column, value)`` / ``(column, [values])`` of the metadata.
SampleSelection: TypeAlias = np.ndarray | pd.Series | pd.Index | tuple[str, Any] | Sequence[Any]

#: One label per sample: a metadata column name, a Series indexed by sample ID, or a sequence in table order.
SampleLabels: TypeAlias = str | pd.Series | np.ndarray | Sequence[Any]

__all__ = [
    "AbundanceData",
    "AnnDataObject",
    "ClientLike",
    "DistanceLike",
    "MetadataLike",
    "MplFigure",
    "PathLike",
    "SampleLabels",
    "SampleSelection",
    "Seed",
    "TreeLike",
    "ZarrArray",
]
