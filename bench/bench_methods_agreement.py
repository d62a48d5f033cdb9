"""How closely gutaxis's Aitchison / robust Aitchison distances, rarefaction expectations, Faith's
PD and UniFrac agree with scikit-bio and vegan on real cohorts: prints the largest absolute
difference of each comparison (the tests assert the same comparisons against fixed tolerances).

    .venv/bin/python bench/bench_methods_agreement.py

Needs ../shared (HMP2 MetaPhlAn table, iMSMS 16S ASV counts and lineages) and Rscript with vegan.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
R_SCRIPT = ROOT / "tests" / "r" / "vegan_methods.R"


def vegan(mode: str, table: pd.DataFrame, arg: str | None = None) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.tsv", Path(tmp) / "out.tsv"
        table.to_csv(src, sep="\t", float_format="%.17g", index_label="sample")
        subprocess.run(
            ["Rscript", str(R_SCRIPT), mode, str(src), str(dst)] + ([arg] if arg else []),
            check=True,
            capture_output=True,
        )
        return pd.read_csv(dst, sep="\t", index_col=0)


def row(what: str, diff: float, scale: float | None = None) -> None:
    extra = f"   (values up to {scale:.3g})" if scale is not None else ""
    print(f"{what:78} max |diff| = {diff:.2e}{extra}")


def main() -> int:
    from skbio import TreeNode
    from skbio.diversity import alpha_diversity, beta_diversity
    from skbio.stats.composition import closure, clr, multi_replace

    import gutaxis

    hmp2 = pd.read_csv(SHARED / "maaslin2_hmp2" / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    h = hmp2.iloc[::25].iloc[:60]
    h = h.loc[:, (h > 0).any()]
    counts = pd.read_csv(SHARED / "imsms_ms_16s" / "imsms_asv_counts.tsv.gz", sep="\t", index_col=0)
    c60 = counts.iloc[:, ::19].iloc[:, :60].T
    c60 = c60[c60.sum().sort_values(ascending=False).index[:300]]
    print(
        f"HMP2: {h.shape[0]} samples x {h.shape[1]} species (relative abundances); "
        f"iMSMS: {c60.shape[0]} samples x {c60.shape[1]} ASVs (counts)"
    )

    Z = clr(multi_replace(closure(h.to_numpy())))
    ref = cdist(Z, Z)
    D = gutaxis.beta_diversity(h, "aitchison").to_numpy()
    row(
        "Aitchison (multiplicative replacement) vs scikit-bio clr+multi_replace, HMP2", np.abs(D - ref).max(), ref.max()
    )
    ref = vegan("robust.aitchison", h).to_numpy()
    D = gutaxis.beta_diversity(h, "robust_aitchison").to_numpy()
    row("robust Aitchison vs vegan vegdist(x, 'robust.aitchison'), HMP2", np.abs(D - ref).max(), ref.max())
    ref = vegan("robust.aitchison", c60).to_numpy()
    D = gutaxis.beta_diversity(c60, "robust_aitchison").to_numpy()
    row("robust Aitchison vs vegan, iMSMS counts", np.abs(D - ref).max(), ref.max())
    ref = vegan("aitchison", c60, "1").to_numpy()
    D = gutaxis.beta_diversity(c60, "aitchison", pseudocount=1).to_numpy()
    row(
        "Aitchison, pseudocount 1, vs vegan vegdist(x, 'aitchison', pseudocount=1), iMSMS",
        np.abs(D - ref).max(),
        ref.max(),
    )

    r30 = counts.iloc[:, 7::37].iloc[:, :30].T
    r30 = r30.loc[:, (r30 > 0).any()]
    for depth in (100, 1000, 1993):
        ref = vegan("rarefy", r30, str(depth))["richness"].to_numpy()
        ours = gutaxis.expected_richness(r30, depth).to_numpy()
        row(
            f"expected richness at depth {depth} vs vegan rarefy(), 30 iMSMS samples",
            np.abs(ours - ref).max(),
            ref.max(),
        )

    taxonomy = pd.read_csv(SHARED / "imsms_ms_16s" / "imsms_asv_sequences_taxonomy.tsv", sep="\t", index_col=0)[
        "taxonomy"
    ]
    t40 = counts.iloc[:, 3::29].iloc[:, :40].T
    t40 = t40.loc[:, (t40 > 0).any()]
    root = TreeNode()
    nodes = {(): root}
    for asv, lineage in taxonomy.loc[t40.columns].items():
        path = []
        for part in str(lineage).split(";"):
            part = part.strip()
            if not part or part.endswith("__"):
                break
            path.append(part)
        path = tuple(path)
        for d in range(1, len(path) + 1):
            if path[:d] not in nodes:
                node = TreeNode(length=1.0)
                nodes[path[: d - 1]].append(node)
                nodes[path[:d]] = node
        nodes[path].append(TreeNode(name=asv, length=1.0))
    ids, taxa, M = list(t40.index), list(t40.columns), t40.to_numpy().astype(int)
    ref = alpha_diversity("faith_pd", M, ids=ids, taxa=taxa, tree=root).to_numpy()
    row(
        f"Faith's PD vs scikit-bio, iMSMS {len(ids)} samples x {len(taxa)} ASVs, lineage tree",
        np.abs(gutaxis.faith_pd(t40, root).to_numpy() - ref).max(),
        ref.max(),
    )
    for metric, kw, w in (
        ("unweighted_unifrac", {}, False),
        ("weighted_unifrac", {}, True),
        ("weighted_unifrac", {"normalized": True}, True),
    ):
        ref = beta_diversity(metric, M, ids=ids, taxa=taxa, tree=root, **kw).data
        ours = gutaxis.unifrac(t40, root, weighted=w, **kw).to_numpy()
        row(
            f"{metric}{' normalized' if kw else ''} vs scikit-bio, same cohort and tree",
            np.abs(ours - ref).max(),
            ref.max(),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
