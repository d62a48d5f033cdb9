"""The ``gutaxis diversity`` command: alpha and beta diversity of a cohort in one run, as QIIME 2's
``diversity core-metrics`` does (optional rarefaction, Faith's PD and UniFrac with a tree, PCoA).

A face over :mod:`gutaxis.measure`: every number comes from the Python API, which this command
only calls and writes. Output is one folder, written whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import stdout as _stdout
from ._inputs import ID_COLUMN_HELP, INTERSECTION_HELP, TAXONOMY_HELP, load_profile

_DEFAULT_BETA = "braycurtis,jaccard"


def _names(text: str, option: str, allowed: tuple[str, ...]) -> list[str]:
    from ..errors import InputError

    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise InputError(
            f"{option}: unknown metric(s) {', '.join(unknown) or '(none given)'}",
            source=option,
            hint=f"choose from {', '.join(allowed)} (comma-separated)",
        )
    if len(set(names)) != len(names):
        raise InputError(f"{option} names a metric twice: {text!r}", source=option, hint="name each metric once")
    return names


@app.command("diversity")
def diversity_cmd(
    profile: Path = typer.Argument(..., help="Profile file: MetaPhlAn, BIOM, QIIME 2 .qza, CSV/TSV or .h5ad."),
    out_dir: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Folder for alpha.tsv, beta_<metric>.tsv, pcoa_<metric>.tsv and provenance.json.",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", "-m", help="Sample metadata (CSV/TSV); its columns are copied into alpha.tsv."
    ),
    alpha: str = typer.Option(
        "richness,shannon,simpson,pielou",
        "--alpha",
        help="Alpha metrics, comma-separated: richness, shannon, simpson, inverse_simpson, pielou, chao1 "
        "(chao1 needs counts).",
    ),
    beta: str = typer.Option(
        _DEFAULT_BETA,
        "--beta",
        help="Beta metrics, comma-separated: braycurtis, jaccard, aitchison, robust_aitchison, "
        "unweighted_unifrac, weighted_unifrac (UniFrac needs --tree). 'none' for no beta diversity. "
        "Without --rarefy, Bray-Curtis compares relative abundances and weighted UniFrac the read counts.",
    ),
    tree: Path | None = typer.Option(
        None,
        "--tree",
        help="Newick tree whose tips are the features: adds Faith's PD to alpha.tsv and allows UniFrac.",
    ),
    rarefy: str | None = typer.Option(
        None,
        "--rarefy",
        metavar="DEPTH|min",
        help="Subsample every sample to DEPTH reads first (or 'min': the smallest sample total); samples "
        "with fewer reads are left out and listed. Needs integer counts.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the rarefaction (same seed, same table)."),
    pcoa_axes: int = typer.Option(2, "--pcoa-axes", min=0, help="PCoA axes per beta metric (0: no PCoA)."),
    format: str | None = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    orientation: str | None = typer.Option(
        None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."
    ),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Alpha and beta diversity of a cohort (QIIME 2 core-metrics style): optional rarefaction, Faith's PD
    and UniFrac with a tree, PCoA per distance."""
    with _guard():
        import pandas as pd

        from .._outputs import atomic_dir, check_output_dir
        from .._provenance import record as provenance_record
        from ..errors import InputError
        from ..measure import alpha_diversity, beta_diversity, faith_pd, pcoa
        from ..measure import rarefy as rarefy_table
        from ..measure.beta import BETA_METRICS

        alpha_metrics = _names(
            alpha, "--alpha", ("richness", "shannon", "simpson", "inverse_simpson", "pielou", "chao1")
        )
        beta_metrics = [] if beta.strip().lower() == "none" else _names(beta, "--beta", BETA_METRICS)
        needs_tree = [m for m in beta_metrics if m.endswith("unifrac")]
        if needs_tree and tree is None:
            raise InputError(
                f"--beta {','.join(needs_tree)} needs --tree",
                source="--beta",
                hint="give the features' Newick tree with --tree FILE, or choose non-phylogenetic metrics",
            )
        depth: int | None = None
        if rarefy is not None and rarefy.strip().lower() != "min":
            try:
                depth = int(rarefy)
            except ValueError:
                depth = 0
            if depth <= 0:
                raise InputError(
                    f"--rarefy must be a whole number of reads above 0 or 'min', got {rarefy!r}",
                    source="--rarefy",
                    hint="e.g. --rarefy 10000, or --rarefy min for the smallest sample total",
                )
        inputs = [profile, metadata, tree, taxonomy]
        check_output_dir(out_dir, overwrite=overwrite, what="diversity folder", inputs=inputs)  # before any work
        adata = load_profile(
            profile,
            metadata=metadata,
            id_column=id_column,
            format=format,
            orientation=orientation,
            intersection=intersection,
            taxonomy=taxonomy,
        )
        data = adata
        params: dict = {"alpha": alpha_metrics, "beta": beta_metrics, "tree": str(tree) if tree else None}
        dropped: list[str] = []
        counts_layer = "counts" if "counts" in adata.layers else None  # read counts kept beside X's proportions
        if rarefy is not None:
            data = rarefy_table(adata, depth, seed=seed, layer=counts_layer)
            dropped = [str(s) for s in data.attrs.get("dropped", [])]
            params["rarefaction"] = {"depth": int(data.attrs["params"]["depth"]), "seed": seed, "dropped": dropped}
            if len(data) == 0:
                raise InputError(
                    f"--rarefy {rarefy}: no sample has that many reads",
                    source=str(profile),
                    hint="choose a smaller depth (the sample totals are in the table's column sums)",
                )
        table = alpha_diversity(data, alpha_metrics)
        if tree is not None:
            table["faith_pd"] = faith_pd(data, tree)
        if metadata is not None:
            meta = adata.obs.loc[table.index]
            table = pd.concat([table, meta.drop(columns=[c for c in meta.columns if c in table.columns])], axis=1)
        # weighted UniFrac weighs read counts: give it the counts when the profile has them
        counted = data if data is not adata or counts_layer is None else adata.to_df(layer=counts_layer)
        distances = {
            m: beta_diversity(counted if m == "weighted_unifrac" else data, m, tree=tree if "unifrac" in m else None)
            for m in beta_metrics
        }
        with atomic_dir(out_dir, overwrite=overwrite, what="diversity folder", inputs=inputs) as tmp:
            table.to_csv(tmp / "alpha.tsv", sep="\t", float_format="%.15g", index_label="sample")
            explained = {}
            for m, dist in distances.items():
                dist.to_csv(tmp / f"beta_{m}.tsv", sep="\t", float_format="%.15g")
                if pcoa_axes and len(dist) > 1:
                    coords = pcoa(dist, n_components=min(pcoa_axes, len(dist)))
                    coords.to_csv(tmp / f"pcoa_{m}.tsv", sep="\t", float_format="%.15g", index_label="sample")
                    explained[m] = [float(x) for x in coords.attrs.get("proportion_explained", [])]
            params["pcoa_proportion_explained"] = explained
            record = provenance_record("gutaxis diversity", params=params, adata=adata, n_samples=len(table))
            (tmp / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        con = _stdout()
        if dropped:
            con.print(
                f"rarefaction to {params['rarefaction']['depth']} reads left out {len(dropped)} sample(s) with "
                f"fewer reads: {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}"
            )
        con.print(
            f"diversity of {len(table)} samples: alpha ({', '.join(alpha_metrics + (['faith_pd'] if tree else []))})"
            + (f", beta ({', '.join(beta_metrics)})" if beta_metrics else "")
            + f"; written to {out_dir}"
        )
