"""Multivariable associations between features (taxa) and metadata, MaAsLin2's LM path in Python.

Mallick H, Rahnavard A, McIver LJ, et al. Multivariable association discovery in population-scale
meta-omics studies. PLoS Comput Biol 2021;17:e1009442. doi:10.1371/journal.pcbi.1009442

Every feature is fitted at once: ordinary least squares through one QR of the design
(:mod:`._lm`); random intercepts by REML with Satterthwaite degrees of freedom, as
``lmerTest::lmer`` computes them, for all features in lockstep (:mod:`._mixed`).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._stats import CORRECTIONS, p_adjust
from .._typing import AbundanceData, ClientLike, MetadataLike, PathLike
from .._validation import abundance_matrix
from ..errors import InputError
from . import _design, _normalize

__all__ = ["CORRECTIONS", "MODELS", "RESULT_COLUMNS", "AssociationResult", "associate", "p_adjust"]

MODELS = ("LM", "maaslin3")
#: Columns of ``all_results.tsv`` as MaAsLin2 writes them.
RESULT_COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]


@dataclass
class AssociationResult:
    """What :func:`associate` returns.

    ``results``: one row per (feature, metadata, value) with MaAsLin2's columns plus ``error``
    and ``warning`` (and ``taxon``, the feature ID as given), sorted as MaAsLin2 sorts
    ``all_results.tsv`` (by q-value; ties keep feature order). Features that were filtered or
    whose model failed have a row with the reason in ``error``.
    """

    results: pd.DataFrame
    params: dict
    notes: list[str] = field(default_factory=list)
    filtered: list[dict] = field(default_factory=list)
    data: pd.DataFrame | None = None  # normalised (untransformed) features of the samples modelled
    metadata: pd.DataFrame | None = None
    provenance: dict | None = None  # inputs (paths, sha256), parameters, version: gutaxis._provenance.record

    @property
    def significant(self) -> pd.DataFrame:
        """Rows with ``qval <= max_significance`` (MaAsLin2's ``significant_results.tsv``); for
        ``model="maaslin3"`` MaAsLin3's rule (joint q, or individual q of a row without error)."""
        r = self.results
        if self.params.get("model") == "maaslin3":
            from ._maaslin3 import significant

            return significant(r, self.params["max_significance"])
        return r[r["qval"] <= self.params["max_significance"]].reset_index(drop=True)

    def __repr__(self) -> str:
        r = self.results
        n_feat = r["feature"].nunique()
        qcol = "qval_individual" if self.params.get("model") == "maaslin3" else "qval"
        return (
            f"AssociationResult(model={self.params['model']!r}, {n_feat} features, "
            f"{int(r[qcol].notna().sum())} tests, {len(self.significant)} with q <= "
            f"{self.params['max_significance']})"
        )

    def write(
        self,
        directory: str | os.PathLike,
        *,
        report: bool = True,
        overwrite: bool = False,
        figures: bool = True,
        plot_variable: str | None = None,
    ) -> dict[str, Path]:
        """Write ``all_results.tsv``, ``significant_results.tsv``, ``params.json`` (and
        ``report.html`` with ``report=True``; the folder ``figures/`` with ``figures=True``, as
        MaAsLin 2 writes it: ``heatmap.pdf`` and one PDF of the plots of ``plot_variable``,
        default the first fixed effect, see :mod:`gutaxis.link._associate_figures`) into
        ``directory``; returns the paths.

        All or nothing: the files are written into a temporary folder beside ``directory``
        that replaces it only once every file is written (:func:`gutaxis._outputs.atomic_dir`),
        so a failed or interrupted write leaves the earlier folder as it was. A ``directory``
        that already holds files is refused unless ``overwrite=True`` (which replaces it).
        """
        from .._outputs import atomic_dir

        out = Path(directory)
        names = ["all_results.tsv", "significant_results.tsv", "params.json"] + (["report.html"] if report else [])
        names += ["figures"] if figures else []
        with atomic_dir(out, overwrite=overwrite, what="folder for the association results") as tmp:
            cols = [c for c in self.results.columns]
            for name, frame in (("all_results.tsv", self.results), ("significant_results.tsv", self.significant)):
                frame[cols].to_csv(tmp / name, sep="\t", index=False, na_rep="NA", float_format="%.15g")
            meta = {
                "params": self.params,
                "notes": self.notes,
                "filtered": self.filtered,
                "provenance": self.provenance,
            }
            (tmp / "params.json").write_text(json.dumps(meta, indent=2, default=str))
            view = self
            if (report or figures) and self.params.get("model") == "maaslin3":
                from ._maaslin3 import report_view

                view = report_view(self)
            drawn = None
            if figures:
                from ._associate_figures import write_figures

                drawn = write_figures(view, tmp / "figures", variable=plot_variable)
            if report:
                from ..report import associate as report_associate

                report_associate.write_associate_report(
                    view, tmp / "report.html", plot_variable=plot_variable, figures=drawn
                )
        return {name: out / name for name in names}


def _single_feature(norm: str) -> str:
    what = "1 in every sample" if norm == "TSS" else "0 in every sample"
    return f"{norm} makes a single feature constant ({what}), so nothing can be associated with it"


def _parse_reference(reference) -> dict[str, str]:
    if reference is None:
        return {}
    if isinstance(reference, dict):
        return {str(k): str(v) for k, v in reference.items()}
    if isinstance(reference, str):
        out = {}
        for part in [p for p in reference.replace(";", "|").split("|") if p.strip()]:
            bits = [b.strip() for b in part.rsplit(",", 1)]  # the variable's name may hold commas
            if len(bits) != 2 or not all(bits):
                raise InputError(
                    f"cannot read reference {part!r}",
                    source="reference",
                    hint="write 'variable,level' (several separated by ';'), e.g. 'diagnosis,nonIBD'",
                )
            out[bits[0]] = bits[1]
        return out
    raise InputError(
        f"reference must be a dict or a 'variable,level' string, got {type(reference).__name__}",
        source="reference",
        hint="e.g. reference={'diagnosis': 'nonIBD'}",
    )


def _as_list(x, columns=()) -> list:
    """Effects as a list: a string is split at its commas (not inside parentheses or backticks,
    and not at all when it is a column's whole name: ``"Group (1=HC,2=RA)"``, ``"a,b"``)."""
    if x is None:
        return []
    if isinstance(x, str):
        if x.strip() in set(map(str, columns)):
            return [x.strip()]
        return [s.strip() for s in _design.split_top(x, ",") if s.strip()]
    return [tuple(map(str, s)) if isinstance(s, (tuple, list)) else str(s) for s in x]  # tuple: an interaction


def _load(path, metadata, match: str):
    """A profile file through the package's one reader (:func:`gutaxis.io.read_profile`, as the
    other commands read it), the metadata joined; the values of a plain table kept as given."""
    from ..io import read_metadata, read_profile

    if isinstance(metadata, (str, os.PathLike)):
        metadata = read_metadata(metadata)
    adata = read_profile(path, metadata=metadata, how="inner" if match == "intersection" else "exact", keep_values=True)
    if metadata is None:
        return adata, None
    columns = [c for c in adata.uns["provenance"]["metadata"]["columns"] if c in adata.obs.columns]
    meta = adata.obs[columns].copy()
    meta.attrs["source"] = adata.uns["provenance"]["metadata"].get("source")
    return adata, meta


def _read_inputs(
    data: Any, metadata: Any, match: str = "exact"
) -> tuple[np.ndarray, pd.Index, list[str], pd.DataFrame, Any]:
    """Abundance frame (samples x features) and metadata frame, oriented and validated."""
    from .._validation import _is_anndata
    from ._associate_dask import is_lazy

    if isinstance(data, (str, os.PathLike)):
        data, metadata = _load(data, metadata, match)
    if isinstance(metadata, (str, os.PathLike)):
        from ..io import read_metadata

        metadata = read_metadata(metadata)
    if metadata is not None and not isinstance(metadata, pd.DataFrame):  # before the orientation check reads it
        raise InputError(f"metadata must be a DataFrame or a path, got {type(metadata).__name__}", source="metadata")
    if _is_anndata(data):
        # a plain table read with keep_values: the values as given (MaAsLin2 models them unscaled)
        layer = "values" if "values" in data.layers else None
        if is_lazy(data.layers[layer] if layer else data.X):  # read block by block on the workers
            X, samples, features = (data.layers[layer] if layer else data.X), data.obs_names, data.var_names
        else:
            X, samples, features = abundance_matrix(data, layer=layer, name="data")
        if metadata is None:
            metadata = data.obs.copy()
    elif isinstance(data, pd.DataFrame):
        frame = data
        if (
            metadata is not None
            and not frame.index.astype(str).isin(metadata.index.astype(str)).any()
            and frame.columns.astype(str).isin(metadata.index.astype(str)).any()
        ):
            frame = frame.T  # samples were columns (MaAsLin2 accepts either orientation)
        X, samples, features = abundance_matrix(frame, name="data")
    else:
        X, samples, features = abundance_matrix(data, name="data")
    if metadata is None:
        raise InputError(
            "no metadata: pass metadata= or an AnnData with obs columns",
            source="metadata",
            hint="read it with gutaxis.read_metadata(path)",
        )
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(f"metadata must be a DataFrame or a path, got {type(metadata).__name__}", source="metadata")
    import scipy.sparse as sp

    if not is_lazy(X):
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return (
        X,
        pd.Index([str(s) for s in samples]),
        [str(f) for f in features],
        metadata,
        (data if _is_anndata(data) else None),
    )


def _match_samples(samples: pd.Index, metadata: pd.DataFrame, match: str):
    meta = metadata.copy()
    meta.index = pd.Index([str(i) for i in meta.index])
    dup = meta.index[meta.index.duplicated()]
    if len(dup):
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in the metadata", source="metadata", hint="keep one row per sample"
        )
    in_meta = samples.isin(meta.index)
    extra_meta = meta.index[~meta.index.isin(samples)]
    no_meta = samples[~in_meta]
    filtered, notes = [], []
    if not in_meta.any():
        from ..io.metadata import compare_ids

        ids = compare_ids(samples, meta.index)
        case = f"{ids.describe_case()}; " if ids.case_only else ""
        raise InputError(
            f"no sample ID of the data matches the metadata: {case}data e.g. {', '.join(samples[:3])}; "
            f"metadata e.g. {', '.join(meta.index[:3])}",
            source="metadata",
            hint="write the IDs alike (letter case counts)"
            if ids.case_only
            else "check the ID column of the metadata and the orientation of the table",
        )
    if len(no_meta) or len(extra_meta):
        from ..io.metadata import compare_ids

        ids = compare_ids(samples, meta.index)
        parts = [ids.describe_case()] if ids.case_only else []
        if len(no_meta):
            parts.append(
                f"{len(no_meta)} sample(s) have no metadata: {', '.join(no_meta[:10])}"
                f"{' ...' if len(no_meta) > 10 else ''}"
            )
        if len(extra_meta):
            parts.append(
                f"{len(extra_meta)} metadata row(s) match no sample: {', '.join(extra_meta[:10])}"
                f"{' ...' if len(extra_meta) > 10 else ''}"
            )
        if match != "intersection":
            raise InputError(
                "; ".join(parts),
                source="metadata",
                hint="fix the IDs, or pass match='intersection' (CLI: --intersection) to model only "
                "the samples in both",
            )
        if len(no_meta):
            filtered.append(
                {
                    "what": "samples without metadata",
                    "reason": "left out (match='intersection')",
                    "n": len(no_meta),
                    "ids": list(no_meta),
                }
            )
        if len(extra_meta):
            filtered.append(
                {
                    "what": "metadata rows matching no sample",
                    "reason": "left out (match='intersection')",
                    "n": len(extra_meta),
                    "ids": list(extra_meta),
                }
            )
        notes.extend(parts)
        from ..io import FilteredWarning

        warnings.warn("; ".join(parts) + " — modelling the intersection", FilteredWarning, stacklevel=3)
    return np.asarray(in_meta), meta.loc[samples[in_meta]], filtered, notes


def check_options(
    *,
    normalization: str = "TSS",
    transform: str = "LOG",
    model: str = "LM",
    min_abundance: float = 0.0,
    min_prevalence: float | None = None,
    min_variance: float = 0.0,
    max_significance: float | None = None,
    correction: str = "BH",
    match: str = "exact",
    reml_optimizer: str = "lme4",
    **maaslin3_options,
) -> dict:
    """Check the options of :func:`associate` before any work (the CLI calls it before reading the
    inputs); returns them normalised (upper-case names, the model's defaults filled in).

    Raises
    ------
    InputError
        Naming the option, its value and the values allowed.
    """
    norm = str(normalization).upper()
    tr = str(transform).upper()
    is_m3 = str(model).lower() == "maaslin3"
    if min_prevalence is None:
        min_prevalence = 0.0 if is_m3 else 0.1
    if max_significance is None:
        max_significance = 0.1 if is_m3 else 0.25
    from ._mixed import OPTIMIZERS

    _check_ranges(min_abundance, min_prevalence, min_variance, max_significance)

    if reml_optimizer not in OPTIMIZERS:
        raise InputError(
            f"unknown reml_optimizer {reml_optimizer!r}",
            source="reml_optimizer",
            hint=f"use one of {', '.join(OPTIMIZERS)}",
        )
    if maaslin3_options and not is_m3:
        raise InputError(
            f"unexpected option(s) {', '.join(maaslin3_options)} for model={model!r}",
            source="model",
            hint="these options belong to model='maaslin3'",
        )
    if is_m3:
        from . import _maaslin3

        m3_opts = {
            "augment": True,
            "median_comparison_abundance": True,
            "median_comparison_prevalence": False,
            "warn_prevalence": True,
            "max_prevalence": 1.0,
            "seed": 1,
        }
        unknown = [k for k in maaslin3_options if k not in m3_opts]
        if unknown:
            raise InputError(
                f"unknown option(s) {', '.join(unknown)} for model='maaslin3'",
                source="model",
                hint=f"options: {', '.join(m3_opts)}",
            )
        m3_opts.update(maaslin3_options)
        if str(correction).upper() != "BH":
            raise InputError(
                "model='maaslin3' uses Benjamini-Hochberg q-values only here",
                source="correction",
                hint="use correction='BH'",
            )
        if norm not in _maaslin3.NORMALIZATIONS or tr not in _maaslin3.TRANSFORMS:
            raise InputError(
                f"model='maaslin3' supports normalization {', '.join(_maaslin3.NORMALIZATIONS)} and "
                f"transform {', '.join(_maaslin3.TRANSFORMS)}, not {norm}/{tr}",
                source="transform",
                hint="use normalization='TSS', transform='LOG' (MaAsLin3's defaults)",
            )
    elif norm not in _normalize.NORMALIZATIONS:
        raise InputError(
            f"unknown normalization {normalization!r}",
            source="normalization",
            hint=f"use one of {', '.join(_normalize.NORMALIZATIONS)}",
        )
    if not is_m3 and tr not in _normalize.TRANSFORMS:
        raise InputError(
            f"unknown transform {transform!r}",
            source="transform",
            hint=f"use one of {', '.join(_normalize.TRANSFORMS)}",
        )
    model_key = {"lm": "LM", "maaslin3": "maaslin3"}.get(str(model).lower())
    if model_key is None:
        raise InputError(f"unknown model {model!r}", source="model", hint=f"use one of {', '.join(MODELS)}")
    corr = {c.lower(): c for c in CORRECTIONS}.get(str(correction).lower())
    if corr is None:
        raise InputError(
            f"unknown correction {correction!r}", source="correction", hint=f"use one of {', '.join(CORRECTIONS)}"
        )
    if not is_m3 and tr in ("AST", "LOGIT") and norm not in ("TSS", "NONE"):
        raise InputError(
            f"transform {tr} needs normalization TSS or NONE (MaAsLin2's rule), not {norm}",
            source="transform",
            hint="use normalization='TSS'",
        )
    if match not in ("exact", "intersection"):
        raise InputError(f"unknown match={match!r}", source="match", hint="use 'exact' or 'intersection'")

    out = {
        "normalization": norm,
        "transform": tr,
        "model": model_key,
        "correction": corr,
        "min_abundance": float(min_abundance),
        "min_prevalence": float(min_prevalence),
        "min_variance": float(min_variance),
        "max_significance": float(max_significance),
        "match": match,
        "reml_optimizer": reml_optimizer,
    }
    if is_m3:
        if not (0.0 <= _number(m3_opts["max_prevalence"], "max_prevalence") <= 1.0):
            raise InputError(
                f"max_prevalence must lie in [0, 1], got {m3_opts['max_prevalence']!r}",
                source="max_prevalence",
                hint="a fraction of the samples, e.g. 1.0 (the default)",
            )
        out["maaslin3_options"] = m3_opts
    return out


def _number(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x):
        raise InputError(
            f"{name} must be a finite number, got {value!r}",
            source=name,
            hint=f"CLI: --{name.replace('_', '-')} with a number",
        )
    return x


def _check_ranges(min_abundance, min_prevalence, min_variance, max_significance) -> None:
    q = _number(max_significance, "max_significance")
    if not 0.0 < q <= 1.0:
        raise InputError(
            f"max_significance must be a q-value threshold in (0, 1], got {max_significance!r}",
            source="max_significance",
            hint="e.g. 0.25 (MaAsLin2's default) or 0.1 (MaAsLin3's); CLI: --max-significance 0.25",
        )
    prev = _number(min_prevalence, "min_prevalence")
    if not 0.0 <= prev <= 1.0:
        raise InputError(
            f"min_prevalence must be a fraction of the samples in [0, 1], got {min_prevalence!r}",
            source="min_prevalence",
            hint="e.g. 0.1 (present in more than 10% of the samples); CLI: --min-prevalence 0.1",
        )
    for name, value in (("min_abundance", min_abundance), ("min_variance", min_variance)):
        if _number(value, name) < 0:
            raise InputError(
                f"{name} must be >= 0, got {value!r}",
                source=name,
                hint=f"0 keeps every feature; CLI: --{name.replace('_', '-')} 0",
            )


def associate(
    data: AbundanceData | PathLike,
    metadata: MetadataLike | None = None,
    *,
    formula: str | None = None,
    fixed_effects: str | Sequence[str | Sequence[str]] | None = None,
    random_effects: str | Sequence[str] | None = None,
    reference: str | dict[str, Any] | None = None,
    normalization: str = "TSS",
    transform: str = "LOG",
    model: str = "LM",
    min_abundance: float = 0.0,
    min_prevalence: float | None = None,
    min_variance: float = 0.0,
    standardize: bool = True,
    max_significance: float | None = None,
    correction: str = "BH",
    output: str | os.PathLike | None = None,
    match: str = "exact",
    reml_optimizer: str = "lme4",
    client: ClientLike | None = None,
    **maaslin3_options: Any,
) -> AssociationResult:
    """Associate every feature with metadata (MaAsLin2's LM path).

    Parameters
    ----------
    data
        AnnData or DataFrame, samples x features (a DataFrame whose *columns* are the metadata's
        sample IDs is transposed). Values as given (relative abundances or counts). Samples are
        modelled in the order of their IDs, so the results do not depend on the order of the rows.
    metadata
        DataFrame indexed by sample ID or a path; defaults to ``data.obs`` for an AnnData.
    formula
        ``"~ diagnosis + age + (1|subject)"``: main effects, interactions (``diagnosis:age``,
        ``diagnosis * age`` = ``diagnosis + age + diagnosis:age``, higher orders; coded as R's
        ``model.matrix``, ``gutaxis.link._design``) and random intercepts; or give ``fixed_effects`` /
        ``random_effects`` (lists or comma-separated strings; a fixed effect may be a term such
        as ``"diagnosis:age"``). With neither, every metadata column is a fixed effect (as
        MaAsLin2). An interaction coefficient's row has MaAsLin3's ``metadata`` (the variable
        its name starts with) and ``value`` (the rest of the name): ``diagnosisCD:age`` ->
        ``diagnosis``, ``CD:age``; ``params["interactions"]`` lists the interaction columns.
    reference
        Reference levels: ``{"diagnosis": "nonIBD"}`` or MaAsLin2's ``"diagnosis,nonIBD"``
        (``;`` between variables). Required for categorical variables with more than two levels.
    normalization
        ``"TSS"``, ``"CLR"`` or ``"NONE"`` (per sample, after filtering).
    transform
        ``"LOG"`` (log2, zeros replaced by half the feature's smallest positive value),
        ``"AST"``, ``"LOGIT"``, ``"NONE"``.
    model
        ``"LM"`` (MaAsLin2: ``lm``, or ``lmerTest::lmer`` by REML with Satterthwaite df when
        there are random effects) or ``"maaslin3"`` (MaAsLin3's abundance + prevalence models,
        ``gutaxis.link._maaslin3``; normalisation ``TSS``/``CLR``/``NONE``, transform ``LOG``/``PLOG``/
        ``NONE``, filters on the normalised table; options ``augment``,
        ``median_comparison_abundance``, ``median_comparison_prevalence``, ``warn_prevalence``,
        ``max_prevalence``, ``seed`` as keyword arguments).
    min_abundance, min_prevalence, min_variance
        ``min_prevalence`` defaults to 0.1 (LM) or 0 (maaslin3). MaAsLin2's filters on the
        input table: keep features above ``min_abundance`` in more than
        ``min_prevalence`` of the samples and with a standard deviation above ``min_variance``.
    standardize
        z-score continuous fixed effects (an interaction is the product of the z-scored
        variables, as R's ``model.matrix`` on MaAsLin's scaled metadata).
    max_significance
        q-value threshold of ``.significant`` in (0, 1] (default 0.25 for LM, 0.1 for maaslin3).
    correction
        ``"BH"`` (default), ``"BY"``, ``"holm"``, ``"hochberg"``, ``"bonferroni"``, over all
        (feature, coefficient) tests.
    output
        If given, write the result files there (``AssociationResult.write``: all or nothing;
        a folder that already holds files is refused).
    match
        ``"exact"``: every sample needs metadata and every metadata row a sample (else
        :class:`InputError` listing them); ``"intersection"``: model the samples in both and
        report the rest.
    reml_optimizer
        With random effects: ``"lme4"`` (default) finds the variance parameters exactly as
        ``lme4::lmer`` does (its start, NLopt's BOBYQA with its settings, its boundary rules), so
        the numbers are MaAsLin2's; ``"exact"`` goes to the REML optimum by Newton's method (a
        lower REML criterion where lme4 stops early on a flat likelihood; the coefficients differ
        from lme4's by far less than their standard errors). See ``docs/link.md``.
    client
        A :class:`dask.distributed.Client` (or a scheduler address): the features are fitted in
        blocks on the cluster and the q-values computed once over all of them, so the results
        equal the single-machine path's (``docs/scale.md``). ``None`` (default): this machine.
        ``model="LM"`` only.

    Returns
    -------
    AssociationResult
    """
    opts = check_options(
        normalization=normalization,
        transform=transform,
        model=model,
        min_abundance=min_abundance,
        min_prevalence=min_prevalence,
        min_variance=min_variance,
        max_significance=max_significance,
        correction=correction,
        match=match,
        reml_optimizer=reml_optimizer,
        **maaslin3_options,
    )
    norm, tr, model_key, corr = opts["normalization"], opts["transform"], opts["model"], opts["correction"]
    is_m3 = model_key == "maaslin3"
    if client is not None:
        from ..scale import check_client

        if is_m3:
            raise InputError("client= runs model='LM'; model='maaslin3' runs on one machine", source="client")
        client = check_client(client)
    min_prevalence, max_significance = opts["min_prevalence"], opts["max_significance"]
    m3_opts = opts.get("maaslin3_options", {})

    X_raw, samples, taxa, meta_table, adata = _read_inputs(data, metadata, match)
    from . import _associate_dask

    lazy = _associate_dask.is_lazy(X_raw)  # a Dask array: filtered, normalised and fitted block by block
    if lazy:
        _associate_dask.check_lazy(client, norm, tr, min_abundance, X_raw)
    if len(taxa) == 1 and norm in ("TSS", "CLR"):
        raise InputError(
            f"the table has a single feature ({taxa[0]!r}): {_single_feature(norm)}",
            source="data",
            hint="give at least 2 features or --normalization NONE (normalization='NONE' in Python)",
        )
    meta_source = (
        str(meta_table.attrs.get("source") or "metadata") if isinstance(meta_table, pd.DataFrame) else "metadata"
    )
    used, meta, filtered, notes = _match_samples(samples, meta_table, match)
    X_raw = X_raw[used]
    samples = samples[used]
    samples_read = list(samples)  # in the input's order, for the provenance record
    # Samples in ID order: the results must not depend on the order of the rows. It sets the
    # order of first appearance of levels (hence of the coefficients, and of the terms whose
    # seeded Monte-Carlo draws MaAsLin3's median comparison takes in turn), and the path of the
    # REML optimiser changes with rounding in the sums over samples.
    order = np.argsort(np.asarray(samples, dtype=object), kind="stable")
    X_raw, samples, meta = X_raw[order], samples[order], meta.iloc[order]

    if formula is not None:
        if fixed_effects is not None or random_effects is not None:
            raise InputError("give either formula= or fixed_effects=/random_effects=, not both", source="formula")
        fixed, random = _design.parse_formula(formula)
    else:
        fixed, random = _as_list(fixed_effects, meta.columns), _as_list(random_effects, meta.columns)
        if not fixed:
            fixed = [c for c in meta.columns if c not in random]
    ref = _parse_reference(reference)
    design = _design.build_design(meta, fixed, random, ref, bool(standardize), source=meta_source)
    notes.extend(design.notes)

    features = _normalize.make_names(taxa)
    params = {
        "formula": formula,
        "fixed_effects": design.fixed,
        "random_effects": design.random,
        "reference": ref,
        "normalization": norm,
        "transform": tr,
        "model": model_key,
        "min_abundance": min_abundance,
        "min_prevalence": min_prevalence,
        "min_variance": min_variance,
        "standardize": bool(standardize),
        "max_significance": max_significance,
        "correction": corr,
        "match": match,
        "reml_optimizer": reml_optimizer if design.groups else None,
        "n_samples": len(samples),
        "n_samples_modelled": int(design.rows.sum()),
        "n_features": len(taxa),
    }
    if design.interactions:
        params["interactions"] = design.interactions
    try:
        from .. import __version__

        params["gutaxis_version"] = __version__
    except Exception:
        pass
    if is_m3:
        params.update(m3_opts)
    from .._provenance import record

    provenance = record(
        "gutaxis associate",
        params=params,
        adata=adata,
        samples=samples_read,
        features=taxa,
        inputs={"metadata": meta_table.attrs.get("source") if adata is None else None},
    )
    if is_m3:
        from . import _maaslin3

        res, data_norm, filt, m3_notes = _maaslin3.fit_maaslin3(
            X_raw,
            samples,
            taxa,
            features,
            design,
            normalization=norm,
            transform=tr,
            min_abundance=min_abundance,
            min_prevalence=min_prevalence,
            max_prevalence=m3_opts["max_prevalence"],
            min_variance=min_variance,
            max_significance=max_significance,
            augment=m3_opts["augment"],
            median_comparison_abundance=m3_opts["median_comparison_abundance"],
            median_comparison_prevalence=m3_opts["median_comparison_prevalence"],
            warn_prevalence=m3_opts["warn_prevalence"],
            seed=m3_opts["seed"],
            reml_optimizer=reml_optimizer,
        )
        filtered.extend(filt)
        notes.extend(m3_notes)
        if filt:
            from ..io import FilteredWarning

            warnings.warn(
                f"{filt[0]['n']} of {len(taxa)} feature(s) filtered out (MaAsLin3 filters); their rows in "
                "the results say why",
                FilteredWarning,
                stacklevel=2,
            )
        result = AssociationResult(
            results=res,
            params=params,
            notes=notes,
            filtered=filtered,
            data=data_norm,
            metadata=meta,
            provenance=provenance,
        )
        if output is not None:
            result.write(output)
        return result

    raw_not0 = totals = None
    if lazy:
        keep, reasons, raw_not0, totals = _associate_dask.filter_lazy(
            client, X_raw, min_prevalence=min_prevalence, min_variance=min_variance, normalization=norm
        )
    else:
        keep, reasons = _normalize.filter_features(
            X_raw, min_abundance=min_abundance, min_prevalence=min_prevalence, min_variance=min_variance
        )
    n_filt = int((~keep).sum())
    if n_filt:
        ids = [taxa[j] for j in np.flatnonzero(~keep)]
        filtered.append(
            {"what": "features", "reason": "abundance/prevalence/variance filters", "n": n_filt, "ids": ids}
        )
        from ..io import FilteredWarning

        warnings.warn(
            f"{n_filt} of {len(taxa)} feature(s) filtered out (min_abundance {min_abundance:g}, "
            f"min_prevalence {min_prevalence:g}, min_variance {min_variance:g}); their rows in the "
            "results say why",
            FilteredWarning,
            stacklevel=2,
        )
    kept = np.flatnonzero(keep)
    if kept.size == 1 and norm in ("TSS", "CLR"):
        raise InputError(
            f"only 1 of the {len(taxa)} features ({taxa[kept[0]]!r}) passes the filters "
            f"(min_abundance {min_abundance:g}, min_prevalence {min_prevalence:g}, min_variance "
            f"{min_variance:g}): {_single_feature(norm)}",
            source="data",
            hint="lower the filters, give at least 2 features, or --normalization NONE "
            "(normalization='NONE' in Python)",
        )
    Xn = None
    if lazy:
        bad_tot, n_not0, fitted = _associate_dask.fit_lazy(
            client,
            X_raw,
            kept,
            totals=totals,
            transform=tr,
            rows=design.rows,
            design_X=design.X,
            codes=[g[1] for g in design.groups],
            optimizer=reml_optimizer,
        )
    else:
        Xn = _normalize.normalize(X_raw[:, kept], norm)
        bad_tot = np.flatnonzero(~np.isfinite(Xn).all(axis=1) & np.isfinite(X_raw[:, kept]).all(axis=1))
    if bad_tot.size:
        ids = [samples[i] for i in bad_tot]
        msg = (
            f"{len(ids)} sample(s) sum to zero over the kept features and cannot be normalised; they are left "
            f"out of every model (as MaAsLin2's na.exclude does): "
            f"{', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
        )
        notes.append(msg)
        filtered.append({"what": "samples", "reason": "zero total over the kept features", "n": len(ids), "ids": ids})
        from ..io import FilteredWarning

        warnings.warn(msg, FilteredWarning, stacklevel=2)
    rows = design.rows
    Xd = design.X
    if Xn is not None:
        n_not0 = (Xn > 0).sum(axis=0)
        Y = _normalize.transform(Xn, tr)[rows]
    from ._lm import ols_all

    fit_info = {}
    if lazy:
        coef, se, pval, df, fit_info = fitted
    elif client is not None:  # features in blocks on the cluster, the same numbers (docs/scale.md)
        from ._associate_dask import fit_blocks

        coef, se, pval, df, fit_info = fit_blocks(client, Xd, Y, [g[1] for g in design.groups], reml_optimizer)
    elif design.groups:
        from ._mixed import lmm_all

        coef, se, pval, df, fit_info = lmm_all(Xd, Y, [g[1] for g in design.groups], optimizer=reml_optimizer)
    else:
        coef, se, pval, df = ols_all(Xd, Y)
        df = np.repeat(df[:, None], Xd.shape[1], axis=1)

    # assemble rows: feature-major, coefficient order (as MaAsLin2's fit.R), intercept left out
    p = Xd.shape[1]
    recs: list[tuple] = []
    for i, j in enumerate(kept):
        warn = ""
        err = ""
        if fit_info:
            gam = fit_info["gamma"][i]
            zero = [design.groups[k][0] for k in range(len(gam)) if gam[k] == 0]
            if zero:
                warn = f"boundary (singular) fit: random-effect variance of {', '.join(zero)} estimated as 0"
            if not fit_info["converged"][i]:
                warn = (warn + "; " if warn else "") + "REML optimisation did not converge"
            if fit_info.get("message") is not None and fit_info["message"][i]:
                warn = (warn + "; " if warn else "") + fit_info["message"][i]
        if not np.all(np.isfinite(coef[i, 1:])):
            err = "model fit failed (non-finite estimates)"
        for c in range(1, p):
            var, val = design.terms[c]
            recs.append(
                (
                    features[j],
                    var,
                    val,
                    coef[i, c],
                    se[i, c],
                    len(samples),
                    int(n_not0[i]),
                    pval[i, c],
                    err,
                    warn,
                    taxa[j],
                    df[i, c],
                )
            )
    for j in np.flatnonzero(~keep):
        recs.append(
            (
                features[j],
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                len(samples),
                int((np.nan_to_num(X_raw[:, j]) > 0).sum() if raw_not0 is None else raw_not0[j]),
                np.nan,
                reasons[j],
                "",
                taxa[j],
                np.nan,
            )
        )
    res = pd.DataFrame.from_records(
        recs,
        columns=[
            "feature",
            "metadata",
            "value",
            "coef",
            "stderr",
            "N",
            "N.not.0",
            "pval",
            "error",
            "warning",
            "taxon",
            "df",
        ],
    )
    res["qval"] = p_adjust(res["pval"].to_numpy(), corr)
    order = np.argsort(np.where(np.isnan(res["qval"]), np.inf, res["qval"]), kind="stable")
    res = res.iloc[order].reset_index(drop=True)
    res = res[[*RESULT_COLUMNS, "error", "warning", "taxon", "df"]]
    data_norm = None if Xn is None else pd.DataFrame(Xn, index=samples, columns=[features[j] for j in kept])
    result = AssociationResult(
        results=res, params=params, notes=notes, filtered=filtered, data=data_norm, metadata=meta, provenance=provenance
    )
    if output is not None:
        result.write(output)
    return result
