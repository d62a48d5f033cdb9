"""Multivariable associations between features (taxa) and metadata, MaAsLin2's LM path in Python.

Mallick H, Rahnavard A, McIver LJ, et al. Multivariable association discovery in population-scale
meta-omics studies. PLoS Comput Biol 2021;17:e1009442. doi:10.1371/journal.pcbi.1009442

Every feature is fitted at once: ordinary least squares through one QR of the design
(:mod:`._lm`); random intercepts by REML with Satterthwaite degrees of freedom, as
``lmerTest::lmer`` computes them, for all features in lockstep (:mod:`._mixed`).

This module holds the result (:class:`AssociationResult`) and the public :func:`associate`; the
inputs and options are read and checked before any fit in :mod:`._associate_inputs`
(:func:`check_options`, :data:`MODELS` are importable from here as before).
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
from ..errors import InputError
from . import _design, _normalize
from ._associate_inputs import (
    MODELS,
    _as_list,
    _match_samples,
    _parse_reference,
    _read_inputs,
    _single_feature,
    check_options,
)

__all__ = ["CORRECTIONS", "MODELS", "RESULT_COLUMNS", "AssociationResult", "associate", "p_adjust"]

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
