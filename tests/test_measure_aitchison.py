"""Aitchison and robust Aitchison distances (gutaxis.measure.logratio, beta_diversity metrics).

References, all independent of gutaxis: scikit-bio (``closure`` -> ``multi_replace`` -> ``clr``,
then scipy's Euclidean distances), vegan (``vegdist(x, "robust.aitchison")``,
``vegdist(x, "aitchison", pseudocount = 1)``, ``decostand(x, "rclr")``, run by
``tests/r/vegan_methods.R``) and values worked by hand. R is a dependency of the test suite
(.ci/run installs r-base-core and r-cran-vegan): without Rscript the vegan tests skip with a
reason, and fail where the environment variable CI is set.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _vegan import vegan
from scipy.spatial.distance import cdist

import gutaxis
from gutaxis.errors import InputError
from gutaxis.measure import beta_blocks, beta_diversity, cross_distance


@pytest.fixture(scope="module")
def hmp2(shared) -> pd.DataFrame:
    """60 HMP2 samples (MetaPhlAn relative abundances, many zeros), features seen in them."""
    t = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    sub = t.iloc[::25].iloc[:60]
    return sub.loc[:, (sub > 0).any()]


@pytest.fixture(scope="module")
def imsms_counts(shared) -> pd.DataFrame:
    """60 iMSMS samples (16S ASV read counts), the 300 ASVs with most reads in them."""
    c = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_counts.tsv.gz"), sep="\t", index_col=0)
    sub = c.iloc[:, ::19].iloc[:, :60].T
    return sub[sub.sum().sort_values(ascending=False).index[:300]]


def test_aitchison_equals_scikit_bio_on_hmp2(hmp2, tmp_path):
    from skbio.stats.composition import closure, clr, multi_replace

    X = hmp2.to_numpy()
    assert (X == 0).mean() > 0.3  # zeros to replace: the pseudocount convention matters
    Z = clr(multi_replace(closure(X)))
    ref = cdist(Z, Z)
    D = beta_diversity(hmp2, "aitchison")
    assert list(D.index) == list(hmp2.index) and list(D.columns) == list(hmp2.index)
    err = np.abs(D.to_numpy() - ref).max()
    assert err < 1e-9, err
    assert D.attrs["params"]["pseudocount"] == "multiplicative"
    # clr itself is scikit-bio's
    assert np.abs(gutaxis.clr(hmp2).to_numpy() - Z).max() < 1e-12
    # blockwise: to a .npy file, through beta_blocks and cross_distance, all the same numbers
    mm = beta_diversity(hmp2, "aitchison", out=tmp_path / "d.npy", block_size=7)
    assert np.abs(np.asarray(mm) - ref).max() < 1e-9
    for rows, block in beta_blocks(hmp2, "aitchison", block_size=11):
        assert np.abs(block - ref[rows]).max() < 1e-9
    C = cross_distance(hmp2.iloc[:13], hmp2.iloc[20:], "aitchison", block_size=4)
    assert np.abs(C.to_numpy() - ref[:13, 20:]).max() < 1e-9


def test_robust_aitchison_equals_vegan_on_hmp2(hmp2, tmp_path):
    ref = vegan("robust.aitchison", hmp2, tmp_path)
    D = beta_diversity(hmp2, "robust.aitchison")
    assert list(ref.index) == list(D.index)
    err = np.abs(D.to_numpy() - ref.to_numpy()).max()
    assert err < 1e-9, err
    assert D.to_numpy().max() > 5  # not a degenerate matrix
    rc = vegan("rclr", hmp2, tmp_path)
    assert np.abs(gutaxis.rclr(hmp2).to_numpy() - rc.to_numpy()).max() < 1e-9
    # the same through the convenience function and with robust_aitchison's own name
    assert np.abs(gutaxis.robust_aitchison(hmp2).to_numpy() - ref.to_numpy()).max() < 1e-9


def test_aitchison_fixed_pseudocount_equals_vegan_on_counts(imsms_counts, tmp_path):
    ref = vegan("aitchison", imsms_counts, tmp_path, "1")
    D = beta_diversity(imsms_counts, "aitchison", pseudocount=1)
    err = np.abs(D.to_numpy() - ref.to_numpy()).max()
    assert err < 1e-9, err
    assert D.attrs["params"]["pseudocount"] == 1.0


def test_robust_aitchison_equals_vegan_on_counts_and_is_scale_free(imsms_counts, tmp_path):
    ref = vegan("robust.aitchison", imsms_counts, tmp_path)
    D = beta_diversity(imsms_counts, "robust_aitchison")
    assert np.abs(D.to_numpy() - ref.to_numpy()).max() < 1e-9
    props = imsms_counts.div(imsms_counts.sum(axis=1), axis=0)
    assert np.abs(beta_diversity(props, "robust_aitchison").to_numpy() - ref.to_numpy()).max() < 1e-9


def test_hand_worked_values():
    x = pd.DataFrame([[1.0, 2.0, 4.0], [4.0, 2.0, 1.0]], index=["x", "y"], columns=["a", "b", "c"])
    # clr(x) = (-ln2, 0, ln2), clr(y) = (ln2, 0, -ln2): distance sqrt(2 (2 ln2)^2) = 2 sqrt(2) ln2
    d = beta_diversity(x, "aitchison").loc["x", "y"]
    assert d == pytest.approx(2 * math.sqrt(2) * math.log(2), abs=1e-12)
    # robust: x = (1, 0, 4) -> (-ln2, 0, ln2) over the geometric mean 2 of its positive parts;
    # y = (2, 2, 0) -> (0, 0, 0): distance sqrt(2) ln2
    r = pd.DataFrame([[1.0, 0.0, 4.0], [2.0, 2.0, 0.0]], index=["x", "y"], columns=["a", "b", "c"])
    assert beta_diversity(r, "robust_aitchison").loc["x", "y"] == pytest.approx(math.sqrt(2) * math.log(2), abs=1e-12)
    # multiplicative replacement: D = 3 parts, delta = 1/9; x = (1, 0, 4)/5 -> (0.2*8/9, 1/9, 0.8*8/9)
    p = np.array([0.2 * 8 / 9, 1 / 9, 0.8 * 8 / 9])
    expected = np.log(p) - np.log(p).mean()
    assert np.allclose(gutaxis.clr(r).loc["x"].to_numpy(), expected, atol=1e-14)


def test_errors_name_the_sample_and_what_to_do():
    t = pd.DataFrame([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]], index=["s1", "empty", "s3"], columns=["a", "b"])
    with pytest.raises(InputError, match=r"'empty'.*remove"):
        beta_diversity(t, "aitchison")
    with pytest.raises(InputError, match="'empty'"):
        beta_diversity(t, "robust_aitchison")
    z = pd.DataFrame([[1.0, 0.0], [2.0, 1.0]], index=["s1", "s2"], columns=["a", "b"])
    with pytest.raises(InputError, match=r"sample 's1', feature 'b'.*pseudocount"):
        beta_diversity(z, "aitchison", pseudocount=0)
    with pytest.raises(InputError, match="unknown pseudocount"):
        beta_diversity(z, "aitchison", pseudocount="half")
    with pytest.raises(InputError, match="does not use one"):
        beta_diversity(z, "braycurtis", pseudocount=1)
    with pytest.raises(InputError, match="does not use one"):
        beta_diversity(z, "aitchison", tree="t.nwk")
    with pytest.raises(InputError, match=r"unknown beta diversity metric.*robust_aitchison"):
        beta_diversity(z, "aitchisonn")


def test_permanova_takes_the_new_metrics(hmp2):
    """The distance reaches PERMANOVA by name, as the CLI's --metric passes it."""
    meta = pd.DataFrame({"half": ["a", "b"] * 30}, index=hmp2.index)
    direct = gutaxis.permanova(beta_diversity(hmp2, "robust_aitchison"), meta, "~ half", permutations=99, seed=1)
    by_name = gutaxis.permanova(hmp2, meta, "~ half", permutations=99, seed=1, metric="robust_aitchison")
    assert by_name.loc["half", "F"] == pytest.approx(direct.loc["half", "F"], rel=1e-12)
    assert by_name.loc["half", "p"] == direct.loc["half", "p"]
