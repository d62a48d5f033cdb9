"""How well does lme4 reproduce its own MaAsLin2 reference when only the sample order changes?

MaAsLin2's reference run (``../shared/reference/maaslin2_hmp2_all_results.tsv``: TSS, LOG, fixed
diagnosis, dysbiosis, antibiotics, age; random site and subject) is redone here with the same R,
lme4 and lmerTest (``bench/r/maaslin2_lm_path.R``), once with the samples in the file's order and
then with the rows of the feature table shuffled (the same data, the same model). On a few
features the REML surface is flat in the site variance and BOBYQA's stopping point moves with
rounding, so lme4 misses its own reference there. gutaxis (``reml_optimizer="lme4"``) is compared
with the reference the same way: the same 1e-4 relative criterion, feature by feature.

Run: .venv/bin/python bench/lme4_row_order.py [N_ORDERS]   (needs Rscript with lme4 and lmerTest:
apt-get install r-base-core r-cran-lme4 r-cran-lmertest)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.link.associate import associate

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
R_SCRIPT = Path(__file__).resolve().parent / "r" / "maaslin2_lm_path.R"
KEY = ["feature", "metadata", "value"]
FIXED = ["diagnosis", "dysbiosis", "antibiotics", "age"]


def compare(result: pd.DataFrame, reference: pd.DataFrame) -> tuple[list[str], float, float]:
    """Features with a coefficient or standard error off by more than 1e-4 relative; the largest
    relative differences of coefficients and q-values."""
    a, b = result.copy(), reference.copy()
    for d in (a, b):
        d["value"] = d["value"].astype(str)
    m = b.merge(a, on=KEY, suffixes=("_ref", ""))
    assert len(m) == len(b), "rows missing"
    rc = np.abs(m["coef"] - m["coef_ref"]) / np.abs(m["coef_ref"])
    rs = np.abs(m["stderr"] - m["stderr_ref"]) / np.abs(m["stderr_ref"])
    rq = np.abs(m["qval"] - m["qval_ref"]) / np.abs(m["qval_ref"])
    return sorted(set(m.loc[(rc > 1e-4) | (rs > 1e-4), "feature"])), float(rc.max()), float(rq.max())


def main() -> None:
    n_orders = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if shutil.which("Rscript") is None:
        print("Rscript not found: apt-get install r-base-core r-cran-lme4 r-cran-lmertest")
        return
    base = SHARED / "data" / "maaslin2_hmp2"
    reference = pd.read_csv(SHARED / "reference" / "maaslin2_hmp2_all_results.tsv", sep="\t")
    table = pd.read_csv(base / "HMP2_taxonomy.tsv", sep="\t", index_col=0, dtype=str)
    n_feat = reference["feature"].nunique()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n_orders + 1):
            shuffled = table if k == 0 else table.sample(frac=1.0, random_state=k)
            path = Path(tmp) / f"features_{k}.tsv"
            shuffled.to_csv(path, sep="\t")
            out = Path(tmp) / f"r_{k}.tsv"
            subprocess.run(
                [
                    "Rscript",
                    str(R_SCRIPT),
                    str(path),
                    str(base / "HMP2_metadata.tsv"),
                    str(out),
                    "LOG",
                    "TSS",
                    ",".join(FIXED),
                ],
                check=True,
                capture_output=True,
            )
            off, rc, rq = compare(pd.read_csv(out, sep="\t"), reference)
            label = "file order      " if k == 0 else f"shuffled rows #{k}"
            print(
                f"lme4 in R, {label}: {len(off)}/{n_feat} features off by > 1e-4 (max rel coef {rc:.1e}, "
                f"q {rq:.1e}) {off}"
            )
    data = pd.read_csv(base / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(base / "HMP2_metadata.tsv", sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for opt in ("lme4", "exact"):
            res = associate(
                data,
                meta,
                fixed_effects=FIXED,
                random_effects=["site", "subject"],
                reference="diagnosis,nonIBD",
                standardize=False,
                reml_optimizer=opt,
            ).results
            off, rc, rq = compare(res, reference)
            print(
                f"gutaxis reml_optimizer={opt!r}: {len(off)}/{n_feat} features off by > 1e-4 (max rel coef "
                f"{rc:.1e}, q {rq:.1e}) {off}"
            )


if __name__ == "__main__":
    main()
