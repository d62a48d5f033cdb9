"""The atlas pipeline: every cohort through the same steps, then meta-analysis, shared vs specific
taxa, the MicrobiomeHD comparison and the claims table (:func:`run_atlas`, its result
:class:`AtlasResult`).

Per cohort: :func:`analyse_cohort` (:mod:`.per_cohort`) on the harmonised table of
:mod:`.cohorts`, one task per cohort on a cluster when a client is given. Across cohorts
(:mod:`.across_cohorts`): per disease and rank, random-effects meta-analysis (REML, I²;
:func:`gutaxis.link.meta_analysis`), shared vs specific genera, the MicrobiomeHD comparison and the
claims table. Genus and class rows are never pooled together.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from .._typing import ClientLike, PathLike
from . import claims as _claims
from .across_cohorts import CALL_Q, _meta, claims_table, microbiomehd_agreement, shared_specific
from .cohorts import COHORTS, CohortSpec, NotAnalysable, load_cohort
from .per_cohort import ATLAS_OPTIONS, analyse_cohort, associate_cohort

__all__ = ["ATLAS_OPTIONS", "CALL_Q", "AtlasResult", "analyse_cohort", "associate_cohort", "run_atlas"]

#: columns of the per-cohort tables when no cohort could be analysed
_EMPTY = {
    "associations": ["cohort", "disease", "rank", "feature", "coef", "stderr", "N", "N.not.0", "pval", "qval"],
    "groups": ["cohort", "disease", "rank", "claim", "coef", "stderr", "N", "pval", "qval", "members"],
    "alpha": ["cohort", "disease", "rank", "smd", "smd_se", "pval", "N"],
    "permanova": ["cohort", "disease", "rank", "R2", "p"],
}


@dataclass
class AtlasResult:
    cohorts: pd.DataFrame  # one row per cohort: status, reason, n, covariates, alpha, PERMANOVA, licence
    associations: pd.DataFrame  # per cohort x taxon (group = case coefficient)
    groups: pd.DataFrame  # per cohort x claim group
    alpha: pd.DataFrame  # per cohort
    permanova: pd.DataFrame  # per cohort
    meta: pd.DataFrame  # per disease x rank x taxon
    claims: pd.DataFrame  # the claims table
    claim_evidence: pd.DataFrame  # per claim x cohort (the forest plots)
    shared: pd.DataFrame  # genus x disease calls, shared vs specific
    microbiomehd: pd.DataFrame  # agreement per disease
    timings: pd.DataFrame
    params: dict = field(default_factory=dict)


def _cohort(spec: CohortSpec, data_dir, claims: pd.DataFrame, permutations: int, seed: int):
    """One cohort's row of the cohort table, its analysis (``None`` when not analysed) and its wall
    time: one task of :func:`run_atlas` (on the cluster, one per cohort)."""
    from .cohorts import provenance_summary

    t0 = time.perf_counter()
    out = None
    prov = provenance_summary(data_dir, spec.dataset)
    row = {
        "cohort": spec.name,
        "disease": spec.disease,
        "dataset": spec.dataset,
        "status": "analysed",
        "reason": "",
        "citation": spec.citation,
        "licence": prov.get("licence", ""),
        "source": prov.get("source", ""),
        "dataset_title": prov.get("title", ""),
    }
    try:
        cohort = load_cohort(spec, data_dir)
        out = analyse_cohort(cohort, claims, permutations=permutations, seed=seed)
        row.update(
            rank=cohort.rank,
            n_cases=cohort.n_cases,
            n_controls=cohort.n_controls,
            taxa=cohort.table.shape[1],
            covariates=", ".join(cohort.covariates) or "none",
            block=cohort.block or "",
            design=cohort.design,
            caveats="; ".join(cohort.caveats),
        )
    except NotAnalysable as exc:
        row.update(status="not analysed", reason=str(exc))
    return row, out, time.perf_counter() - t0


def run_atlas(
    data_dir: PathLike | None = None,
    *,
    cohorts: list[str] | None = None,
    permutations: int = 999,
    seed: int = 2026,
    progress: Callable[[str, float | None], None] | None = None,
    client: ClientLike | None = None,
) -> AtlasResult:
    """Run the whole atlas. ``data_dir``: folder holding the dataset folders (``None``: the
    dataset registry); ``cohorts``: names of ``COHORTS`` to run (default all);
    ``progress(stage, None)`` is called when a stage starts and ``progress(stage, seconds)`` when it
    ends, with its wall time (the same times are in ``timings``). ``client`` (a
    :class:`dask.distributed.Client`): each cohort is one task on the cluster (the workers read
    ``data_dir``, so it must be on a file system they share); the results are the same."""
    if client is not None:
        from ..scale import check_client

        client = check_client(client, "atlas")
    specs: list[CohortSpec] = list(COHORTS)
    if cohorts:
        names = {s.name for s in specs}
        unknown = [c for c in cohorts if c not in names]
        if unknown:
            from ..errors import InputError

            raise InputError(
                f"unknown cohort {unknown[0]!r}", source="atlas", hint="one of: " + "; ".join(sorted(names))
            )
        specs = [s for s in specs if s.name in set(cohorts)]
    claims = _claims.load_claims()
    timings, rows = [], []
    parts: dict[str, list] = {"associations": [], "groups": [], "alpha": [], "permanova": []}
    if client is not None:  # cohorts as tasks on the cluster; the tables are assembled here, in cohort order
        from ..scale.blocks import run_tasks

        done = run_tasks(
            client,
            _cohort,
            [(spec, data_dir, claims, permutations, seed) for spec in specs],
            name="gutaxis-atlas",
            progress=(lambda k, n: progress(f"cohorts {k}/{n}", None)) if progress else None,
        )
    else:
        done = []
        for spec in specs:
            if progress:
                progress(f"cohort {spec.name}", None)
            done.append(_cohort(spec, data_dir, claims, permutations, seed))
            if progress:
                progress(f"cohort {spec.name}", done[-1][2])
    for spec, (row, out, dt) in zip(specs, done, strict=True):
        if out is not None:
            for k, frames in parts.items():
                frames.append(out[k] if isinstance(out[k], pd.DataFrame) else pd.DataFrame([out[k]]))
        row["seconds"] = dt
        rows.append(row)
        timings.append({"stage": f"cohort {spec.name}", "seconds": dt})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        cat = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame(columns=_EMPTY[k])) for k, v in parts.items()}
    coh = pd.DataFrame(rows).reindex(
        columns=list(
            dict.fromkeys(
                [*rows[0].keys(), "rank", "n_cases", "n_controls", "taxa", "covariates", "block", "design", "caveats"]
            )
        )
    )
    if len(cat["permanova"]):
        coh = coh.merge(
            cat["permanova"][["cohort", "R2", "p"]].rename(columns={"R2": "permanova_R2", "p": "permanova_p"}),
            on="cohort",
            how="left",
        )
        coh = coh.merge(
            cat["alpha"][["cohort", "coef", "pval", "mannwhitney_p"]].rename(
                columns={"coef": "shannon_diff", "pval": "shannon_p"}
            ),
            on="cohort",
            how="left",
        )

    if progress:
        progress("meta-analysis", None)
    t0 = time.perf_counter()
    assoc = cat["associations"]
    meta = _meta(assoc, "feature", "coef", "stderr") if len(assoc) else pd.DataFrame()
    dt = time.perf_counter() - t0
    timings.append({"stage": "meta-analysis", "seconds": dt})
    if progress:
        progress("meta-analysis", dt)

    if progress:
        progress("shared/specific, MicrobiomeHD, claims", None)
    t0 = time.perf_counter()
    shared = shared_specific(meta) if len(meta) else pd.DataFrame()
    mhd = microbiomehd_agreement(meta, data_dir) if len(meta) else pd.DataFrame()
    analysed = coh[coh.status == "analysed"]
    diseases = list(dict.fromkeys(coh["disease"]))
    ranks = {d: sorted(set(analysed.loc[analysed.disease == d, "rank"]), key=lambda r: r != "genus") for d in diseases}
    ctab, evidence = claims_table(claims, cat["alpha"], cat["groups"], diseases, ranks)
    dt = time.perf_counter() - t0
    timings.append({"stage": "shared/specific, MicrobiomeHD, claims", "seconds": dt})
    if progress:
        progress("shared/specific, MicrobiomeHD, claims", dt)
    params = {
        "options": ATLAS_OPTIONS,
        "call_q": CALL_Q,
        "permutations": permutations,
        "seed": seed,
        "verdict_alpha": _claims.ALPHA,
        "verdict_i2_high": _claims.I2_HIGH,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    return AtlasResult(
        cohorts=coh,
        associations=assoc,
        groups=cat["groups"],
        alpha=cat["alpha"],
        permanova=cat["permanova"],
        meta=meta,
        claims=ctab,
        claim_evidence=evidence,
        shared=shared,
        microbiomehd=mhd,
        timings=pd.DataFrame(timings),
        params=params,
    )
