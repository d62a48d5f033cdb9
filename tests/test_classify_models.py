"""PenalizedLogisticRegression (glmnet's binomial path) against an independent solver and the
optimality (KKT) conditions; SIAMCAT's lambda rule; metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from gutaxis.classify import PenalizedLogisticRegression, make_classifier
from gutaxis.classify._glmnet import binomial_path
from gutaxis.classify._metrics import auprc, auroc, balanced_accuracy
from gutaxis.errors import InputError


def _data(n=120, p=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, p) + rng.normal(size=p)
    beta = np.zeros(p)
    beta[:4] = [1.2, -0.8, 0.6, 0.5]
    Z = (X - X.mean(0)) / X.std(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-(Z @ beta)))).astype(float)
    return X, y


def _l1_logistic(Xs, y, C):
    """An independent L1 logistic solver (scikit-learn's saga), across scikit-learn versions."""
    try:
        clf = LogisticRegression(l1_ratio=1.0, C=C, solver="saga", tol=1e-10, max_iter=200_000)
        clf.fit(Xs, y)
        if not (clf.coef_ == 0).any() and C < 1:  # an old scikit-learn ignoring l1_ratio
            raise TypeError
    except TypeError:  # pragma: no cover
        clf = LogisticRegression(penalty="l1", C=C, solver="saga", tol=1e-10, max_iter=200_000).fit(Xs, y)
    return clf


@pytest.mark.filterwarnings("ignore")
def test_path_matches_independent_l1_solver():
    X, y = _data()
    path = binomial_path(X, y, thresh=1e-10)  # tight: the comparison is with a fully converged solver
    n = len(y)
    mean, sd = X.mean(0), X.std(0)
    Xs = (X - mean) / sd
    for k in (8, 25, 45):
        lam = path["lambdas"][k]
        clf = _l1_logistic(Xs, y, 1.0 / (n * lam))  # glmnet's objective divides the log-likelihood by n
        ref = clf.coef_[0] / sd
        np.testing.assert_allclose(path["coef"][k], ref, atol=1e-3 * max(1.0, np.abs(ref).max()))
        assert ((path["coef"][k] != 0) == (np.abs(ref) > 1e-6)).mean() > 0.95
    # glmnet's default threshold (1e-7) stays within 1% of the converged coefficients
    loose = binomial_path(X, y)
    k = 45
    np.testing.assert_allclose(loose["coef"][k], path["coef"][k], atol=1e-2 * np.abs(path["coef"][k]).max())


def test_kkt_conditions_hold_along_the_path():
    X, y = _data(seed=1)
    path = binomial_path(X, y)
    mean, sd = X.mean(0), X.std(0)
    Xs = (X - mean) / sd
    n = len(y)
    for k in range(0, len(path["lambdas"]), 7):
        lam = path["lambdas"][k]
        b = path["coef"][k] * sd
        eta = X @ path["coef"][k] + path["intercept"][k]
        g = Xs.T @ (y - 1 / (1 + np.exp(-eta))) / n
        active = b != 0
        # zero coefficients: |gradient| <= lambda; active: gradient = lambda * sign(b)
        assert np.all(np.abs(g[~active]) <= lam * (1 + 1e-3) + 1e-6)
        np.testing.assert_allclose(g[active], lam * np.sign(b[active]), rtol=2e-2, atol=1e-4)
    assert path["n_nonzero"][0] == 0  # lambda_max: every coefficient zero


def test_ridge_and_enet_paths_are_dense_and_monotone_in_penalty():
    X, y = _data(seed=2)
    ridge = binomial_path(X, y, alpha=0.0)
    assert (ridge["n_nonzero"][1:] == X.shape[1]).all()
    norms = np.abs(ridge["coef"]).sum(axis=1)
    assert np.all(np.diff(norms) >= -1e-8)
    enet = binomial_path(X, y, alpha=0.5)
    assert enet["n_nonzero"][0] == 0 and enet["n_nonzero"][-1] > 10


def test_siamcat_lambda_rule():
    X, y = _data(seed=3)
    m = PenalizedLogisticRegression().fit(X, y)
    nnz = m.n_nonzero_path_
    k = m.selected_index_
    assert nnz[k] >= 5
    path = binomial_path(X, y)
    acc = [np.mean(((X @ c + b0) > 0) == (y > 0.5)) for c, b0 in zip(path["coef"], path["intercept"], strict=True)]
    eligible = [i for i in range(len(acc)) if nnz[i] >= 5]
    best = max(acc[i] for i in eligible)
    assert acc[k] == best
    assert k == min(i for i in eligible if acc[i] == best)  # first (largest) lambda among ties
    assert m.predict_proba(X).shape == (len(y), 2)
    np.testing.assert_allclose(m.predict_proba(X)[:, 1], 1 / (1 + np.exp(-m.decision_function(X))))


def test_siamcat_code_rule_indexes_the_whole_path():
    """SIAMCAT 2.x's get.best.glmnet.lambda takes ``lambda[f.idx]`` with ``f.idx`` counted among
    the eligible lambdas only; "siamcat-code" reproduces that, "siamcat" the rule as stated."""
    X, y = _data(seed=3)
    a = PenalizedLogisticRegression().fit(X, y)
    b = PenalizedLogisticRegression(lambda_rule="siamcat-code").fit(X, y)
    eligible = np.flatnonzero(a.n_nonzero_path_ >= 5)
    assert b.selected_index_ == int(np.flatnonzero(eligible == a.selected_index_)[0])
    assert b.selected_lambda_ >= a.selected_lambda_


def test_cv_and_fixed_rules():
    X, y = _data(seed=4)
    cv = PenalizedLogisticRegression(lambda_rule="cv", random_state=0).fit(X, y)
    assert 0 < cv.selected_index_ < len(cv.lambda_path_)
    fixed = PenalizedLogisticRegression(lambda_rule="fixed", lambda_=cv.selected_lambda_).fit(X, y)
    np.testing.assert_allclose(fixed.coef_, cv.coef_, atol=1e-4)
    with pytest.raises(InputError, match="lambda_"):
        PenalizedLogisticRegression(lambda_rule="fixed").fit(X, y)
    with pytest.raises(InputError, match="lambda_rule"):
        PenalizedLogisticRegression(lambda_rule="best").fit(X, y)


def test_metrics_equal_scikit_learn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 2)  # ties
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert auprc(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p > 0.5), abs=1e-12)


def test_make_classifier_steps_and_errors():
    pipe = make_classifier("rf", filter=[("abundance", 0.001), ("prevalence", 0.1)], select=20, n_estimators=50)
    assert [s for s, _ in pipe.steps] == ["filter", "filter2", "normalize", "select", "limit", "model"]
    assert pipe.named_steps["model"].n_estimators == 50
    with pytest.raises(InputError, match="unknown model"):
        make_classifier("svm")
    with pytest.raises(InputError, match="unknown parameter"):
        make_classifier("lasso", n_estimators=10)
