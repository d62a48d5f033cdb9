"""Acceptance (b): SIAMCAT parity on its example data (Zeller et al. 2014 CRC, 53 CRC / 88 controls).

SIAMCAT's vignette: abundance filter 0.001 (207 features), LASSO with its lambda rule, AUROC of
the mean prediction over resamples 0.837 (published, 5 x 2). Here: every step inside the
training folds, 10-fold x 10 repeats; the mean-prediction AUROC must reach 0.80 (notes: 0.837
+/- 0.04 given how noisy 5 x 2 is). RF (500 trees in the notes, 0.874 at 10 x 5) must reach 0.85;
the test runs 300 trees x 2 repeats to stay inside the time budget.
"""

from __future__ import annotations

import pytest

from gutaxis.classify import cross_validate, make_classifier
from gutaxis.classify._refdata import load_siamcat_zeller


@pytest.fixture(scope="module")
def zeller(shared):
    return load_siamcat_zeller(shared("data", "siamcat_extdata"))


def test_lasso_siamcat_rule_10x10(zeller):
    X, y, _ = zeller
    res = cross_validate(
        make_classifier("lasso", filter=("abundance", 0.001), normalization="log.std"),
        X,
        y,
        n_splits=10,
        n_repeats=10,
        random_state=0,
        n_bootstrap=200,
    )
    assert res.auroc >= 0.80
    assert res.auroc == pytest.approx(0.837, abs=0.04)
    # every model kept at least 5 features (SIAMCAT's min.nonzero) and the consensus knows Fusobacterium
    nz = res.weights[res.weights["weight"] != 0].groupby(["repeat", "fold"]).size()
    assert len(nz) == 100 and nz.min() >= 5
    robust = res.consensus[res.consensus["robust"]]["feature"]
    assert robust.str.contains("Fusobacterium").any()
    assert (res.consensus["n_models"] == 100).all()


def test_random_forest(zeller):
    X, y, _ = zeller
    res = cross_validate(
        make_classifier("rf", n_estimators=300, n_jobs=2),
        X,
        y,
        n_splits=10,
        n_repeats=2,
        random_state=0,
        n_bootstrap=200,
    )
    assert res.auroc >= 0.85
