"""Unit tests of the axis model: Baker core vs BIOMD0000000550, HPA lock-in, positivity,
determinism, and agreement of the numba / numpy / scipy engines."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.optimize import brentq

from gutaxis import axis
from gutaxis.axis import equations as eq
from gutaxis.errors import InputError

MATHML = "{http://www.w3.org/1998/Math/MathML}"


def _sbml_model(path):
    """Parameters, species names and rate rules (as callables) read from an SBML file."""
    root = ET.parse(path).getroot()
    ns = {"s": root.tag.split("}")[0].strip("{")}
    params = {p.get("id"): float(p.get("value")) for p in root.iter(f"{{{ns['s']}}}parameter")}
    names = {sp.get("id"): sp.get("name") for sp in root.iter(f"{{{ns['s']}}}species")}
    init = {sp.get("name"): float(sp.get("initialConcentration")) for sp in root.iter(f"{{{ns['s']}}}species")}

    def ev(node, env):
        tag = node.tag.replace(MATHML, "")
        if tag == "math":
            return ev(next(iter(node)), env)
        if tag == "ci":
            return env[node.text.strip()]
        if tag == "cn":
            return float(node.text)
        if tag == "apply":
            op, *args = list(node)
            op = op.tag.replace(MATHML, "")
            v = [ev(a, env) for a in args]
            if op == "plus":
                return sum(v)
            if op == "minus":
                return -v[0] if len(v) == 1 else v[0] - v[1]
            if op == "times":
                return float(np.prod(v))
            if op == "divide":
                return v[0] / v[1]
            if op == "power":
                return v[0] ** v[1]
        raise NotImplementedError(tag)

    rules = {}
    for rr in root.iter(f"{{{ns['s']}}}rateRule"):
        math = rr.find(f"{MATHML}math")
        rules[names[rr.get("variable")]] = (lambda m: lambda env: ev(m, env))(math)
    ids = {v: k for k, v in names.items()}
    named = {root.find(f".//*[@id='{k}']").get("name"): v for k, v in params.items()}
    _IDS.update({k: root.find(f".//*[@id='{k}']").get("name") for k in params})
    return params, ids, rules, init, named


_IDS: dict = {}


def _name(pid):
    return _IDS[pid]


def _roots(f, lo=1e-6, hi=5.0, n=4001):
    x = np.linspace(lo, hi, n)
    v = np.array([f(t) for t in x])
    i = np.flatnonzero(np.sign(v[:-1]) != np.sign(v[1:]))
    return [brentq(f, x[k], x[k + 1], xtol=1e-14) for k in i]


def _baker_gutaxis(alpha2):
    """Steady states of the gutaxis tissue core with no systemic input (RHS called directly)."""
    P = axis.parameter_matrix(1, {"alpha2": alpha2, "beta_L": 0.0, "beta_17": 0.0, "beta_T": 0.0, "k_A": 1.0})
    y = axis.healthy_state(P)
    u = axis.reference_inputs(1)

    def dp_on_nullcline(pv):
        yy = y.copy()
        yy[eq.S_P] = pv
        # a on its nullcline: solve da/dt = 0 with the gutaxis equation
        yy[eq.S_A] = 0.0
        d = eq.rhs(yy, P, u, np.empty_like(yy))
        yy[eq.S_A] = d[eq.S_A, 0]  # da/dt at a=0 equals the nullcline value of a (da = -a + f(p))
        return float(eq.rhs(yy, P, u, np.empty_like(yy))[eq.S_P, 0])

    return _roots(dp_on_nullcline)


@pytest.fixture(scope="module")
def baker(shared):
    return _sbml_model(shared("data", "biomodels_sbml", "BIOMD0000000550.xml"))


def test_baker_core_matches_biomd550_published_parameters(baker):
    params, ids, rules, init, named = baker
    # the gutaxis table carries the published values
    tab = axis.parameter_table()["value"]
    for k in ("alpha1", "alpha2", "alpha3", "alpha4", "gamma"):
        assert tab[k] == pytest.approx(named[k])

    def sbml_dp(pv):
        env = dict(params)
        env[ids["p"]] = pv
        env[ids["a"]] = 0.0
        a = rules["a"](env)  # da/dt at a = 0 is the a-nullcline value
        env[ids["a"]] = a
        return rules["p"](env)

    ref = _roots(sbml_dp)
    mine = _baker_gutaxis(named["alpha2"])
    # BIOMD0000000550 at its published parameters has a single (healthy) steady state, which is
    # also the SBML's initial condition
    assert len(ref) == 1 == len(mine)
    assert mine[0] == pytest.approx(ref[0], rel=1e-9)
    assert ref[0] == pytest.approx(init["p"], rel=1e-6)


def test_baker_core_bistable_like_biomd550_when_alpha2_raised(baker):
    params, ids, rules, _init, _named = baker
    alpha2_param = next(pid for pid, name in ((k, _name(k)) for k in params) if name == "alpha2")

    def sbml_dp(pv):
        env = dict(params)
        env[alpha2_param] = 12.0
        env[ids["p"]] = pv
        env[ids["a"]] = 0.0
        env[ids["a"]] = rules["a"](env)
        return rules["p"](env)

    ref = _roots(sbml_dp)
    mine = _baker_gutaxis(12.0)
    assert len(ref) == 3 == len(mine)  # low (healthy), saddle, high (chronic)
    np.testing.assert_allclose(mine, ref, rtol=1e-9)
    # both outer states are stable: simulate the gutaxis core from either side of the saddle
    P = axis.parameter_matrix(2, {"alpha2": 12.0, "beta_L": 0.0, "beta_17": 0.0, "beta_T": 0.0, "k_A": 1.0})
    y0 = axis.healthy_state(P)
    y0[eq.S_P] = [ref[1] * 0.9, ref[1] * 1.1]
    tr = axis.simulate(P, y0, axis.reference_inputs(2), axis.Schedule.baseline(200), record="end")
    np.testing.assert_allclose(tr.states[-1, eq.S_P], [ref[0], ref[2]], rtol=1e-5)


def test_hpa_lock_in_after_chronic_stress():
    P = axis.parameter_matrix(2)
    y0 = axis.healthy_state(P)
    U = axis.reference_inputs(2)
    s = axis.Schedule.baseline(400, n_groups=2)
    s.set(0, 120, group=1, stress=1.0)  # 4 months of maximal chronic stress, then back to usual
    tr = axis.simulate(P, y0, U, s, group=np.array([0, 1]))
    cortisol, GR = tr.state("O"), tr.state("GR")
    assert cortisol[-1, 0] == pytest.approx(1.0, abs=1e-6) and GR[-1, 0] == pytest.approx(1.0, abs=1e-6)
    assert GR[119, 1] > 5  # switched to the high-GR state during stress
    assert cortisol[-1, 1] < 0.7  # low cortisol persists 280 days after the stress ended
    assert GR[-1, 1] > 5
    # a short stress (2 weeks) does not switch
    s2 = axis.Schedule.baseline(200).set(0, 14, stress=1.0)
    tr2 = axis.simulate(P[:, :1], y0[:, :1], U[:, :1], s2)
    assert tr2.state("O")[-1, 0] == pytest.approx(1.0, abs=1e-3)


def test_reference_state_is_equilibrium():
    P = axis.sample_parameters(50, np.random.default_rng(3))
    P[eq.PARAM_NAMES.index("react")] = 1.0  # the reference state is defined at unit reactivity
    y = axis.healthy_state(P)
    U = axis.reference_inputs(50)
    dy = eq.rhs(y, P, U, np.empty_like(y))
    # everything but the Baker core and CRP (set approximately) is exactly at rest
    rest = [i for i in range(eq.N_STATES) if i not in (eq.S_P, eq.S_A, eq.S_CRP)]
    assert np.abs(dy[rest]).max() < 1e-9
    f = dict(zip(eq.FAST_NAMES, eq.fast(y, P, U), strict=True))
    np.testing.assert_allclose(f["il6"], P[eq.PARAM_NAMES.index("il6_b")], rtol=0.01)


@pytest.fixture(scope="module")
def mixed(mixed_axis_population):
    return mixed_axis_population(24)


def test_engines_agree(mixed):
    P, y0, U, s, g = mixed
    for scheme in ("etd4", "rk4"):
        a = axis.simulate(P, y0, U, s, g, dt=0.25, method="numba", scheme=scheme)
        b = axis.simulate(P, y0, U, s, g, dt=0.25, method="numpy", scheme=scheme)
        np.testing.assert_allclose(a.states, b.states, rtol=1e-9, atol=1e-12)
    c = axis.simulate(P[:, :6], y0[:, :6], U[:, :6], s, g[:6], method="scipy", rtol=1e-9, atol=1e-12)
    # fixed-step error after step changes of the inputs (and an off-equilibrium start) at dt = 0.25 d ...
    np.testing.assert_allclose(a.states[:, :, :6], c.states, rtol=1e-2, atol=1e-6)
    # ... shrinks with dt
    d = axis.simulate(P[:, :6], y0[:, :6], U[:, :6], s, g[:6], dt=0.05, method="numba")
    np.testing.assert_allclose(d.states, c.states, rtol=1e-4, atol=1e-8)


def test_exponential_integrator_accurate_at_half_day_steps():
    """ETDRK4 at dt = 0.5 d stays within 1 % of LSODA for plausible patients (healthy and RA) under
    abrupt, extreme schedule changes, where classical RK4 at the same step is unstable."""
    h = axis.plausible_patients(150, "healthy", seed=1)
    r = axis.plausible_patients(150, "ra", seed=2)
    k = 8
    P = np.concatenate([h.params[:, :k], r.params[:, :k]], 1)
    U = np.concatenate([h.inputs[:, :k], r.inputs[:, :k]], 1)
    Y = np.concatenate([h.states[:, :k], r.states[:, :k]], 1)
    g = np.arange(P.shape[1]) % 4
    s = axis.Schedule.baseline(60, n_groups=4)
    s.set(10, 40, group=1, fermented=6.0, fiber=40.0, probiotic=10.0)
    s.set(5, 9, group=2, stress=1.0)
    s.set(20, 45, group=2, satfat=18.0, upf=80.0, sugar=150.0)
    s.set(15, 50, group=3, mindbody=30.0, propionate=1.0, stress=0.8)
    ref = axis.simulate(P, Y, U, s, g, method="scipy", rtol=1e-10, atol=1e-12)
    x = axis.simulate(P, Y, U, s, g, dt=0.5)
    rel = np.abs(x.states - ref.states) / (np.abs(ref.states) + 1e-3)
    # within 1 % for every patient except one crossing the HPA switch (GR leaving its saddle, where
    # any integrator's error grows): that one within 15 %
    switching = ref.states[:, eq.S_GR].max(axis=0) > 2.0
    assert switching.sum() <= 2
    assert rel[:, :, ~switching].max() < 1e-2 and rel.max() < 0.15, (rel[:, :, ~switching].max(), rel.max())
    fx, fr = x.outputs(), ref.outputs()
    for k in ("il6", "tnf", "CRP", "lm", "lps", "butyrate"):
        e = np.abs(fx[k] - fr[k]) / np.abs(fr[k])
        assert e[:, ~switching].max() < 1e-2 and e.max() < 0.05, (k, e[:, ~switching].max(), e.max())
    # and it converges: at dt = 0.25 d everything is within 2 %
    y = axis.simulate(P, Y, U, s, g, dt=0.25)
    np.testing.assert_allclose(y.states, ref.states, rtol=2e-2, atol=1e-4)


def test_positivity_under_extreme_inputs():
    rng = np.random.default_rng(5)
    n = 200
    P = axis.sample_parameters(n, rng)
    U = axis.reference_inputs(n)
    y0 = axis.healthy_state(P)
    s = axis.Schedule.baseline(120, n_groups=2)
    s.set(group=0, fiber=0.0, fermented=0.0, upf=100.0, sugar=300.0, satfat=30.0, stress=1.0)
    s.set(group=1, fiber=80.0, fermented=12.0, probiotic=12.0, upf=0.0, sugar=0.0, satfat=3.0, mindbody=120.0)
    tr = axis.simulate(P, y0, U, s, np.arange(n) % 2, dt=0.5)
    assert np.isfinite(tr.states).all()
    assert (tr.states >= 0).all()
    out = tr.outputs()
    assert (out["butyrate"] >= 0).all()  # zero without fermentable fiber
    for k in ("il6", "tnf", "il10", "lps", "lm"):
        assert (out[k] > 0).all(), k


def test_determinism_and_order_independence():
    a = axis.plausible_patients(300, "healthy", seed=7)
    b = axis.plausible_patients(300, "healthy", seed=7)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.states, b.states)
    c = axis.plausible_patients(300, "healthy", seed=8)
    assert not np.array_equal(a.params[:, :5], c.params[:, :5])
    # results do not depend on patient order
    perm = np.random.default_rng(0).permutation(a.n)
    s = axis.Schedule.baseline(30).set(fermented=6.0)
    t1 = axis.simulate(a.params, a.states, a.inputs, s, record="end")
    t2 = axis.simulate(a.params[:, perm], a.states[:, perm], a.inputs[:, perm], s, record="end")
    np.testing.assert_array_equal(t1.states[-1][:, perm], t2.states[-1])


def test_parameter_table_contract():
    t = axis.parameter_table()
    assert tuple(t.index) == eq.PARAM_NAMES
    assert (t["prior_low"] <= t["value"]).all() and (t["value"] <= t["prior_high"]).all()
    src = t["source"]
    ok = src.str.startswith(("doi:", "PMID:", "calibrated: T", "assumed"))
    assert ok.all(), list(src[~ok])
    assert t["note"].str.len().min() > 10


def test_inputs_and_errors():
    assert axis.stress_load_from_pss10(13) == pytest.approx(0.325)
    with pytest.raises(InputError):
        axis.stress_load_from_pss10(41)
    with pytest.raises(InputError):
        axis.Schedule.baseline(10).set(0, 20, fiber=30.0)
    with pytest.raises(InputError):
        axis.reference_inputs(1, coffee=3)
    P = axis.parameter_matrix(2)
    with pytest.raises(InputError):
        axis.simulate(P, axis.healthy_state(P)[:, :1], axis.reference_inputs(2), axis.Schedule.baseline(3))
    with pytest.raises(InputError):
        axis.simulate(P, axis.healthy_state(P), axis.reference_inputs(2), axis.Schedule.baseline(3), dt=0.3)


def test_virtual_population_matches_colaus_and_is_seeded():
    pop = axis.virtual_population(3000, "healthy", seed=3)
    r = pop.readouts()
    for k, med in (("il6", 1.47), ("tnf", 2.89), ("CRP", 1.3)):
        assert np.median(r[k]) == pytest.approx(med, rel=0.12)
    pop2 = axis.virtual_population(3000, "healthy", seed=3)
    np.testing.assert_array_equal(pop.params, pop2.params)
