"""Run vegan (R) for the method tests: ``vegan(mode, table, tmp_path, arg)``.

R is a dependency of the test suite (.ci/run installs r-base-core and r-cran-vegan): without
Rscript and vegan the calling test skips with a reason, and fails where the environment
variable CI is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

R_SCRIPT = Path(__file__).resolve().parent / "r" / "vegan_methods.R"


def _rscript() -> str:
    exe = shutil.which("Rscript")
    ok = (
        exe is not None
        and subprocess.run([exe, "-e", "library(vegan)"], capture_output=True, check=False).returncode == 0
    )
    if not ok:
        if os.environ.get("CI"):
            pytest.fail("Rscript with vegan is required under CI (.ci/run installs r-base-core r-cran-vegan)")
        pytest.skip("Rscript with the vegan package is not installed")
    return exe


def vegan(mode: str, table: pd.DataFrame, tmp_path: Path, arg: str | None = None) -> pd.DataFrame:
    """Run tests/r/vegan_methods.R on ``table`` and read its result back."""
    exe = _rscript()
    src, dst = tmp_path / f"{mode}_in.tsv", tmp_path / f"{mode}_out.tsv"
    table.to_csv(src, sep="\t", float_format="%.17g", index_label="sample")
    cmd = [exe, str(R_SCRIPT), mode, str(src), str(dst)] + ([arg] if arg is not None else [])
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(dst, sep="\t", index_col=0)
