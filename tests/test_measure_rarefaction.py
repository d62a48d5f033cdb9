"""Rarefaction and rarefaction curves (gutaxis.measure.rarefaction).

References: the exact hypergeometric expectation worked by hand for a small sample, Monte
Carlo means of gutaxis's subsamples against it (within 4 standard errors), and vegan's
``rarefy()`` on a real 16S cohort (iMSMS ASV counts), run by ``tests/r/vegan_methods.R``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _vegan import vegan

import gutaxis
from gutaxis.errors import InputError
from gutaxis.measure import expected_richness, rarefaction_curve, rarefy


@pytest.fixture(scope="module")
def imsms(shared) -> pd.DataFrame:
    """30 iMSMS samples x the ASVs seen in them (read counts)."""
    c = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_counts.tsv.gz"), sep="\t", index_col=0)
    sub = c.iloc[:, 7::37].iloc[:, :30].T
    return sub.loc[:, (sub > 0).any()]


def test_expected_richness_hand_worked_and_monte_carlo():
    # one sample with A = 3, B = 1, C = 1 reads (N = 5), subsampled to d = 2 reads:
    # P(A absent) = C(2, 2) / C(5, 2) = 1/10, P(B absent) = P(C absent) = C(4, 2) / C(5, 2) = 6/10
    # E[S_2] = (1 - 1/10) + 2 (1 - 6/10) = 1.7
    one = pd.DataFrame([[3, 1, 1]], index=["s"], columns=["A", "B", "C"])
    assert expected_richness(one, 2).loc["s"] == pytest.approx(1.7, abs=1e-12)
    # the same sample 20,000 times, each row an independent subsample
    many = pd.DataFrame(np.tile([3, 1, 1], (20000, 1)), index=[f"s{i}" for i in range(20000)], columns=["A", "B", "C"])
    sub = rarefy(many, 2, seed=1)
    assert (sub.sum(axis=1) == 2).all() and (sub.to_numpy() <= many.to_numpy()).all()
    rich = (sub > 0).sum(axis=1)
    se = rich.std(ddof=1) / np.sqrt(len(rich))
    assert abs(rich.mean() - 1.7) < 4 * se, (rich.mean(), se)
    # richness 1 happens only as {A, A}: P = C(3, 2) / C(5, 2) = 3/10
    p1 = (rich == 1).mean()
    assert abs(p1 - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(rich))


def test_rarefy_real_sample_matches_exact_expectation(imsms):
    s = imsms.iloc[[0]]
    copies = pd.DataFrame(
        np.repeat(s.to_numpy(), 3000, axis=0), index=[f"r{i}" for i in range(3000)], columns=imsms.columns
    )
    sub = rarefy(copies, 500, seed=7)
    rich = (sub > 0).sum(axis=1)
    exact = expected_richness(s, 500).iloc[0]
    se = rich.std(ddof=1) / np.sqrt(len(rich))
    assert abs(rich.mean() - exact) < 4 * se, (rich.mean(), exact, se)


def test_expected_richness_and_curve_equal_vegan(imsms, tmp_path):
    for depth in (100, 1000, 1993):
        ref = vegan("rarefy", imsms, tmp_path, str(depth))["richness"]
        ours = expected_richness(imsms, depth)
        assert list(ref.index) == list(ours.index)
        err = np.abs(ours.to_numpy() - ref.to_numpy()).max()
        assert err < 1e-9, (depth, err)
    curve = rarefaction_curve(imsms, [100, 1000, 1993])
    ref = vegan("rarefy", imsms, tmp_path, "1000")["richness"]
    assert np.abs(curve[1000].to_numpy() - ref.to_numpy()).max() < 1e-9


def test_curve_shape_and_end_point(imsms):
    curve = rarefaction_curve(imsms, n_depths=15)
    totals = imsms.sum(axis=1)
    assert curve.columns[-1] == totals.max()
    vals = curve.to_numpy()
    ok = ~np.isnan(vals)
    # NaN exactly where the depth exceeds the sample's reads; increasing elsewhere
    assert (ok == (curve.columns.to_numpy()[None, :] <= totals.to_numpy()[:, None])).all()
    for row, mask in zip(vals, ok, strict=True):
        assert (np.diff(row[mask]) >= -1e-9).all()
    # at its own depth a sample's expected richness is its observed richness
    s = imsms.index[0]
    at_n = expected_richness(imsms.loc[[s]], int(totals[s])).iloc[0]
    assert at_n == pytest.approx(float((imsms.loc[s] > 0).sum()), abs=1e-9)
    assert np.allclose(curve[1].dropna(), 1.0, atol=1e-12)  # one read: one feature


def test_rarefy_seeded_even_depth_and_drops_short_samples(imsms):
    depth = 5000
    short = imsms.index[imsms.sum(axis=1) < depth]
    assert len(short) > 0  # iMSMS depths start at ~2,000 reads
    with pytest.warns(UserWarning, match=f"fewer than {depth} reads.*{short[0]}"):
        a = rarefy(imsms, depth, seed=3)
    assert list(a.attrs["dropped"]) == list(short)
    assert (a.sum(axis=1) == depth).all()
    assert (a.to_numpy() <= imsms.loc[a.index].to_numpy()).all()
    with pytest.warns(UserWarning):
        b = rarefy(imsms, depth, seed=3)
    with pytest.warns(UserWarning):
        c = rarefy(imsms, depth, seed=4)
    assert a.equals(b) and not a.equals(c)
    # default depth: the smallest sample total; nothing dropped
    d = gutaxis.rarefy(imsms, seed=0)
    assert (d.sum(axis=1) == imsms.sum(axis=1).min()).all() and len(d) == len(imsms)


def test_relative_abundances_are_refused(imsms):
    rel = imsms.div(imsms.sum(axis=1), axis=0)
    for f in (lambda: rarefy(rel, 10), lambda: expected_richness(rel, 10), lambda: rarefaction_curve(rel)):
        with pytest.raises(InputError, match=r"sample '.+', feature '.+'.*count table"):
            f()
    with pytest.raises(InputError, match="depth must be a whole number"):
        rarefy(imsms, 10.5)


def test_expected_richness_equals_exact_rational_value(imsms):
    """Against the formula in exact rational arithmetic (Python's integers and fractions)."""
    from fractions import Fraction
    from math import comb

    d = 100
    ours = expected_richness(imsms.iloc[:4], d)
    for s, row in imsms.iloc[:4].iterrows():
        x = [int(v) for v in row[row > 0]]
        n = sum(x)
        den = comb(n, d)
        exact = sum(Fraction(den - comb(n - v, d), den) for v in x)
        assert abs(ours[s] - float(exact)) < 1e-10, (s, ours[s], float(exact))
