"""A taxonomy for a table of unnamed features (ASV/OTU IDs, hashes or sequences).

QIIME 2 and DADA2/Deblur pipelines keep the taxonomy beside the feature table: a
``FeatureData[Taxonomy]`` artifact (``taxonomy.qza``) or its export, a TSV with one row per feature::

    Feature ID<TAB>Taxon<TAB>Confidence
    #q2:types<TAB>categorical<TAB>numeric        <- optional (QIIME 2 metadata)
    4b5eeb30...<TAB>d__Bacteria; p__Firmicutes; ...; g__Faecalibacterium; s__prausnitzii<TAB>0.98

:func:`read_taxonomy` reads either (the ``.qza`` with the defensive zip and YAML handling of
:mod:`gutaxis.io.qiime2`; the members are read from memory, nothing is extracted to disk).
The ID column is ``Feature ID`` (or ``FeatureID``, ``#OTU ID``, ``OTU ID``, ``ASV ID``, ``id``, else the
first column); the taxon column ``Taxon`` (or ``taxonomy``, ``lineage``). :func:`attach_taxonomy`
joins it to a cohort's features by ID: ``var`` gets the lineage by rank (parsed by
:func:`gutaxis.taxonomy.parse_lineage`: Greengenes, SILVA, GTDB spellings) and ``var["confidence"]``;
the feature IDs stay as they are. Features without a taxonomy are named in a :class:`TaxonomyWarning`
(count and examples); a taxonomy that matches no feature is an :class:`~gutaxis.errors.InputError`.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd

from ..errors import InputError
from ._container import file_sha256, format_ids

__all__ = ["TaxonomyWarning", "attach_taxonomy", "read_taxonomy"]

# header names, compared without case, spaces and underscores
_ID_NAMES = frozenset({"featureid", "#featureid", "otuid", "#otuid", "asvid", "id"})
_TAXON_NAMES = frozenset({"taxon", "taxonomy", "lineage", "consensuslineage"})
_CONFIDENCE_NAMES = frozenset({"confidence", "consensus"})
_HINT = (
    "give a QIIME 2 taxonomy: a TSV with the columns 'Feature ID' and 'Taxon' (optionally 'Confidence'), as "
    "`qiime tools export` writes it, or the taxonomy.qza itself"
)
#: QIIME 2 artifact types read as a taxonomy
TAXONOMY_TYPES = ("FeatureData[Taxonomy]",)
#: largest taxonomy.tsv member of a .qza (uncompressed), bytes
MAX_TAXONOMY_BYTES = 512 << 20


class TaxonomyWarning(UserWarning):
    """Some features of the table have no row in the taxonomy (their lineage stays unknown)."""


def read_taxonomy(path: str | os.PathLike) -> pd.DataFrame:
    """Read a feature taxonomy: QIIME 2 TSV or ``taxonomy.qza``.

    Returns
    -------
    DataFrame indexed by feature ID (str) with ``Taxon`` and, when given, ``Confidence``;
    ``attrs``: ``source``, ``sha256``, ``format`` (``tsv`` or ``qza``) and, for a .qza,
    ``artifact_uuid``.

    Raises
    ------
    InputError
        For a missing/unreadable file, another artifact type, no ID or taxon column, duplicate
        or empty feature IDs.
    """
    import zipfile

    source = str(path)
    if not os.path.exists(source):
        raise InputError("file not found", source=source, hint="check the path of --taxonomy")
    if os.path.isdir(source):
        raise InputError("is a directory, not a file", source=source, hint=_HINT)
    attrs = {"source": source, "sha256": file_sha256(path)}
    if zipfile.is_zipfile(source):
        from .qiime2 import _read_artifact

        member, payload, metadata, _, _ = _read_artifact(
            path,
            types=TAXONOMY_TYPES,
            member="data/taxonomy.tsv",
            limit=MAX_TAXONOMY_BYTES,
            limit_name="feature_taxonomy.MAX_TAXONOMY_BYTES",
            hint=_HINT,
            type_hint="give the FeatureData[Taxonomy] artifact (e.g. the output of `qiime feature-classifier "
            "classify-sklearn`), or its exported taxonomy.tsv",
            what="a taxonomy",
        )
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"{member} is not UTF-8 text ({exc.reason})", source=source, hint=_HINT) from None
        attrs.update(
            format="qza", artifact_uuid=str(metadata.get("uuid", member.split("/", 1)[0]))[:100], member=member
        )
    else:
        from ._text import read_lines

        lines = read_lines(path)
        text = "\n".join(lines.text)
        attrs["format"] = "tsv"
    frame = _parse(text, source)
    frame.attrs = attrs
    return frame


def _parse(text: str, source: str) -> pd.DataFrame:
    rows = [line.rstrip("\r") for line in text.split("\n")]
    rows = [r for r in rows if r.strip()]
    if not rows:
        raise InputError("the taxonomy is empty", source=source, hint=_HINT)
    header = [h.strip() for h in rows[0].split("\t")]
    keys = [re.sub(r"[\s_]+", "", h.casefold()) for h in header]
    if len(header) < 2:
        raise InputError(
            f"the header has one column ({header[0][:60]!r}): a taxonomy TSV is tab-separated",
            source=source,
            hint=_HINT,
        )
    id_col = next((i for i, k in enumerate(keys) if k in _ID_NAMES), 0)
    tax_col = next((i for i, k in enumerate(keys) if k in _TAXON_NAMES and i != id_col), None)
    if tax_col is None:
        raise InputError(
            f"no taxon column in the header ({', '.join(map(repr, header[:6]))})", source=source, hint=_HINT
        )
    conf_col = next((i for i, k in enumerate(keys) if k in _CONFIDENCE_NAMES and i not in (id_col, tax_col)), None)
    ids, taxa, conf = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        if row.startswith("#"):  # '#q2:types' and other QIIME 2 directives
            continue
        cells = row.split("\t")
        fid = cells[id_col].strip() if id_col < len(cells) else ""
        if not fid:
            raise InputError(f"row {number} has no feature ID", source=source, hint="give every row a feature ID")
        ids.append(fid)
        taxa.append(cells[tax_col].strip() if tax_col < len(cells) else "")
        if conf_col is not None:
            value = cells[conf_col].strip() if conf_col < len(cells) else ""
            try:
                conf.append(float(value) if value else np.nan)
            except ValueError:
                conf.append(np.nan)
    if not ids:
        raise InputError("the taxonomy has a header but no rows", source=source, hint=_HINT)
    index = pd.Index(ids, dtype=object, name="Feature ID")
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()
        raise InputError(
            f"feature ID {dup[0]!r} has more than one row ({len(dup)} duplicated ID(s))",
            source=source,
            hint="keep one taxonomy row per feature",
        )
    out = pd.DataFrame({"Taxon": taxa}, index=index)
    if conf_col is not None:
        out["Confidence"] = conf
    return out


def attach_taxonomy(adata, taxonomy, *, source: str | None = None):
    """Join a feature taxonomy to ``adata``'s features (in place; returns ``adata``).

    Parameters
    ----------
    adata
        A cohort from a gutaxis reader.
    taxonomy
        A path (:func:`read_taxonomy`) or a DataFrame indexed by feature ID with a ``Taxon`` column.
    source
        Name used in messages for a DataFrame.

    The matched features' ``var`` lineage columns are replaced by the parsed taxonomy;
    ``uns["provenance"]["taxonomy"]`` records the file, its sha256, the format and how many
    features matched.
    """
    from ..taxonomy import RANKS, parse_lineage

    if not isinstance(taxonomy, pd.DataFrame):
        taxonomy = read_taxonomy(taxonomy)
    src = source or taxonomy.attrs.get("source") or "taxonomy"
    if "Taxon" not in taxonomy.columns:
        raise InputError("the taxonomy has no 'Taxon' column", source=src, hint=_HINT)
    tax_ids = pd.Index(taxonomy.index.astype(str))
    features = pd.Index(adata.var_names.astype(str))
    have = features.isin(tax_ids)
    n_match = int(have.sum())
    if n_match == 0:
        raise InputError(
            f"no feature of the table is in the taxonomy ({len(tax_ids)} feature IDs there, e.g. "
            f"{format_ids(list(tax_ids[:3]), limit=3)}; "
            f"the table's are e.g. {format_ids(list(features[:3]), limit=3)})",
            source=src,
            hint="give the taxonomy of this feature table (the same ASV/OTU IDs, e.g. from the same "
            "DADA2/Deblur run), or check that the table's features are its first column",
        )
    missing = list(features[~have])
    if missing:
        warnings.warn(
            f"{src}: {len(missing)} of {len(features)} features have no taxonomy (e.g. "
            f"{format_ids(missing, limit=5)}); their lineage stays unknown",
            TaxonomyWarning,
            stacklevel=3,
        )
    rows = taxonomy.set_axis(tax_ids).loc[features[have]]
    parsed = parse_lineage(pd.Series(rows["Taxon"].to_numpy(dtype=object), index=rows.index))
    var = adata.var.copy()
    columns = [*RANKS, "taxon", "rank", "lineage"]
    for col in columns:
        if col not in var.columns:
            var[col] = np.nan
        values = var[col].astype(object).to_numpy(copy=True)
        values[have] = parsed[col].astype(object).to_numpy() if col in parsed.columns else np.nan
        var[col] = values
    if "Confidence" in rows.columns:
        conf = np.full(len(features), np.nan)
        conf[have] = pd.to_numeric(rows["Confidence"], errors="coerce").to_numpy(dtype=float)
        var["confidence"] = conf
    adata.var = var
    prov = adata.uns.setdefault("provenance", {})
    prov["taxonomy"] = {
        "source": taxonomy.attrs.get("source", source),
        "sha256": taxonomy.attrs.get("sha256"),
        "format": taxonomy.attrs.get("format", "DataFrame"),
        "artifact_uuid": taxonomy.attrs.get("artifact_uuid"),
        "n_features": len(features),
        "n_matched": n_match,
        "n_without_taxonomy": len(missing),
        "without_taxonomy": missing[:200],
        "n_taxonomy_rows": len(tax_ids),
    }
    return adata
