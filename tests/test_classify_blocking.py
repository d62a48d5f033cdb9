"""Acceptance (d): blocking. No fold ever splits a group (property test), each sample is tested
once per repeat, splits are reproducible; leave-one-out gives n folds (SIAMCAT issue #6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutaxis.classify import RepeatedStratifiedGroupKFold, cross_validate, make_classifier


@st.composite
def grouped_labels(draw, mixed: bool = False):
    n_splits = draw(st.integers(2, 5))
    n_groups = draw(st.integers(2 * n_splits, 30))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_groups, max_size=n_groups))
    # at least n_splits groups of each class
    labels = (
        [1] * n_splits
        + [0] * n_splits
        + draw(st.lists(st.integers(0, 1), min_size=n_groups - 2 * n_splits, max_size=n_groups - 2 * n_splits))
    )
    groups, y = [], []
    for g, (size, lab) in enumerate(zip(sizes, labels, strict=True)):
        for _ in range(size):
            groups.append(f"g{g}")
            y.append(lab if not mixed else draw(st.integers(0, 1)))
    y = np.array(y)
    if mixed and (y.sum() < n_splits or (len(y) - y.sum()) < n_splits):
        y[:n_splits] = 1
        y[-n_splits:] = 0
    perm = draw(st.permutations(range(len(y))))
    return n_splits, np.asarray(groups)[perm], y[list(perm)], draw(st.integers(0, 2**31 - 1))


def _check(n_splits, groups, y, seed, n_repeats=3):
    cv = RepeatedStratifiedGroupKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    seen = {}
    for r, _f, tr, te in cv.iter_folds(None, y, groups):
        assert not set(groups[tr]) & set(groups[te]), "a group spans training and test"
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
        seen.setdefault(r, []).append(te)
    assert len(seen) == n_repeats
    for tests in seen.values():
        assert len(tests) == n_splits
        allt = np.sort(np.concatenate(tests))
        np.testing.assert_array_equal(allt, np.arange(len(y)))  # every sample tested exactly once per repeat
    again = [te for _, _, _, te in RepeatedStratifiedGroupKFold(n_splits, n_repeats, seed).iter_folds(None, y, groups)]
    first = [te for _, _, _, te in cv.iter_folds(None, y, groups)]
    assert all(np.array_equal(a, b) for a, b in zip(again, first, strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_labels())
def test_no_fold_splits_a_group(case):
    _check(*case)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_labels(mixed=True))
def test_no_fold_splits_a_mixed_group(case):
    _check(*case)


def _toy(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2, int), np.zeros(n // 2, int)]
    X = rng.lognormal(size=(n, 12))
    X[y == 1, :2] *= 3
    X = pd.DataFrame(
        X / X.sum(1, keepdims=True), index=[f"s{i:02d}" for i in range(n)], columns=[f"t{j}" for j in range(12)]
    )
    return X, pd.Series(y, index=X.index)


def test_cross_validate_keeps_each_group_in_one_fold():
    X, y = _toy()
    groups = pd.Series([f"subject{i // 2}" for i in range(len(y))], index=X.index)  # pairs of samples
    res = cross_validate("ridge", X, y, groups=groups, n_splits=5, n_repeats=3, random_state=7, n_bootstrap=20)
    folds_per_group = res.predictions.groupby(["repeat", "group"])["fold"].nunique()
    assert (folds_per_group == 1).all()
    assert res.scheme["blocked"] and res.scheme["n_groups"] == 20
    assert "blocked by group (20 groups)" in res.scheme["description"]


def test_leave_one_out_has_n_folds():
    X, y = _toy(30)
    res = cross_validate(make_classifier("ridge", filter=None), X, y, n_splits="loo", random_state=0, n_bootstrap=20)
    assert len(res.folds) == 30 and res.folds["n_test"].eq(1).all()
    assert res.scheme["description"].startswith("within-study: leave-one-out")
    groups = pd.Series([f"p{i // 3}" for i in range(30)], index=X.index)
    res_g = cross_validate(
        make_classifier("ridge", filter=None), X, y, groups=groups, n_splits="loo", random_state=0, n_bootstrap=20
    )
    assert len(res_g.folds) == 10  # one fold per group
