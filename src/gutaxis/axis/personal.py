"""Personal twin: a patient initialised from what is measured, and forecasts of a plan's effect.

:func:`twin` builds an *ensemble* of ``n_draws`` model patients that agree with one person's data:

1. Candidates: parameter vectors from the priors (``axis_parameters.tsv``) and usual inputs from the
   population distributions (:mod:`gutaxis.axis.population`), with the person's diet summary and
   PSS-10 (``load = PSS/40``) fixed where given, and the disease flags set.
2. Profile: taxa are mapped to the model's guilds by ``gutaxis/data/axis_guilds.tsv`` (finest rank
   first: species, genus, family, phylum; everything else is the *others* guild Bc) and diversity is
   the Hill number of order 1 (``exp`` Shannon) of the profile, after unclassified and non-bacterial
   reads are removed and the rest renormalised. The observation model is a likelihood on the guild
   shares (observed share proportional to the true share times a log-normal error per guild, see
   :func:`_fit_guilds`): each candidate draws its error, its person-specific growth offsets ``dg_*``
   and ``R_ref`` are solved (from the right-hand side itself) for that draw, and the plausibility
   filter of step 3 does the rejection. Guild fractions below 1e-4 (detection limit) are raised to 1e-4.
3. Each candidate relaxes to the steady state of its inputs (365 days); implausible or unconverged
   candidates are dropped (:data:`~gutaxis.axis.population.PLAUSIBLE_BOUNDS`). The twin is *fitted*
   when at least :data:`FIT_MIN_SHARE` of the fixed :data:`N_CANDIDATES` stay (so the verdict does not
   depend on ``n_draws``); otherwise it says the model could not be fitted and falls back on merely
   converged candidates (``meta["fitted"]`` is False).
4. Weights: for healthy people, the prevalence weight of the population (CoLaus IL-6/TNF/CRP
   density over the candidates' density, Allen 2016); times the likelihood of the measured markers
   (CRP, IL-6, LBP, faecal calprotectin with log-normal observation models, and for RA the DAS28 with a
   normal one, all in ``gutaxis/data/axis_twin_observations.tsv``), tempered if needed so that the effective sample
   size stays >= ``max(30, n_draws/4)``.
5. ``n_draws`` draws are taken by systematic resampling (seeded).

:func:`forecast` simulates every draw under its usual inputs and under the plan, and reports the
median and the 5-95 % band of each endpoint, of its change from baseline and of the plan's effect
(plan minus usual, per draw). The band is the spread of the model's parameters among people who
match the measurements: it is **not** a prediction interval for the person, and the tool is for
discussion and hypothesis generation, not clinical decisions.

The profile -> guilds mapping of step 2 (:func:`profile_guilds`, :func:`guild_table`, :data:`GUILDS`) lives
in :mod:`gutaxis.axis._profile_guilds` and is importable from here as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError
from . import equations as eq
from ._profile_guilds import GUILDS, guild_table, profile_guilds
from .engine import fast_quantities, healthy_state, simulate, steady_state
from .inputs import Schedule, stress_load_from_pss10
from .parameters import sample_parameters
from .population import HEALTHY_BASELINE_TARGET, PLAUSIBLE_BOUNDS, _sample_inputs, _target_logpdf, initial_state

__all__ = [
    "DIET_KEYS",
    "ENDPOINTS",
    "ENDPOINT_UNITS",
    "FIT_MIN_SHARE",
    "MARKERS",
    "N_CANDIDATES",
    "Forecast",
    "Twin",
    "forecast",
    "guild_table",
    "profile_guilds",
    "twin",
]

#: prior candidates of a twin (fixed: the fit decision must not depend on the number of draws)
N_CANDIDATES = 2000
#: a twin is *fitted* when at least this share of the candidates (and FIT_MIN_COUNT of them) stay
#: within plausible physiological ranges; otherwise the model cannot say anything about the person
FIT_MIN_SHARE = 0.0125
FIT_MIN_COUNT = 20

_GUILD_STATES = (eq.S_B, eq.S_L, eq.S_PB, eq.S_BC)
_GROWTH = ("r_B", "r_L", "r_Pb", "r_Bc")
_DG = ("dg_B", "dg_L", "dg_Pb", "dg_Bc")
_FLOOR = 1e-4

#: forecast endpoints -> model output (``disease_activity`` is DAS28 for RA, the SLEDAI proxy for SLE
#: and the Baker tissue-inflammation state ``p`` otherwise)
ENDPOINTS = {
    "diversity": "R",
    "butyrate": "butyrate",
    "permeability": "lm",
    "il6": "il6",
    "crp": "CRP",
    "tnf": "tnf",
    "lps": "lps",
    "treg": "Treg",
    "cortisol": "cortisol",
    "disease_activity": None,
}
ENDPOINT_UNITS = {
    "diversity": "effective number of taxa",
    "butyrate": "mM (faecal)",
    "permeability": "L/M ratio",
    "il6": "pg/mL",
    "crp": "mg/L",
    "tnf": "pg/mL",
    "lps": "fold-change vs reference",
    "treg": "% CD4+",
    "cortisol": "ug/dL",
    "disease_activity": "DAS28 (RA), SLEDAI proxy (SLE), effector activity p (MS; > 0.5 = relapse), Baker p (healthy)",
}

#: diet-summary keys (and accepted aliases) -> model input
DIET_KEYS = {
    "fiber": "fiber",
    "fiber_g": "fiber",
    "fibre": "fiber",
    "fermented": "fermented",
    "fermented_servings": "fermented",
    "fermented_food": "fermented",
    "probiotic": "probiotic",
    "probiotic_log10_cfu": "probiotic",
    "upf": "upf",
    "upf_pct": "upf",
    "ultra_processed": "upf",
    "sugar": "sugar",
    "added_sugar": "sugar",
    "added_sugar_g": "sugar",
    "satfat": "satfat",
    "saturated_fat": "satfat",
    "satfat_pct": "satfat",
    "mindbody": "mindbody",
    "mindbody_min": "mindbody",
    "propionate": "propionate",
    "dmard": "dmard",
    "stress": "stress",
}


@lru_cache(maxsize=1)
def _observation_table() -> pd.DataFrame:
    with resources.files("gutaxis.data").joinpath("axis_twin_observations.tsv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, sep="\t").set_index("marker")


MARKERS = ("crp", "il6", "lbp", "calprotectin", "das28")
#: markers that only mean something for one disease
MARKER_DISEASE = {"das28": "ra"}


@dataclass
class Twin:
    """An ensemble of model patients consistent with one person's measurements.

    ``params`` ``(N_PARAMS, n_draws)``, ``inputs`` (usual inputs) ``(N_INPUTS, n_draws)`` and
    ``states`` (steady states) ``(N_STATES, n_draws)``; ``observed`` holds what was used and
    ``meta`` the effective sample size, candidate counts, tempering and seed.
    """

    params: np.ndarray
    inputs: np.ndarray
    states: np.ndarray
    disease: str
    observed: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def n_draws(self) -> int:
        return self.params.shape[1]

    def baseline(self) -> pd.DataFrame:
        """Median and 5-95 % band of each endpoint at baseline (rows: endpoints)."""
        vals = _endpoint_values(self.states, self.params, self.inputs, self.disease)
        rows = {k: _band(v) for k, v in vals.items()}
        df = pd.DataFrame(rows).T[["median", "p05", "p95"]]
        df["unit"] = [ENDPOINT_UNITS[k] for k in df.index]
        return df


def _band(v, axis=-1) -> dict:
    q = np.nanpercentile(v, [50, 5, 95], axis=axis)
    return {"median": q[0], "p05": q[1], "p95": q[2]}


def _endpoint_values(states, params, inputs, disease) -> dict:
    f = fast_quantities(states, params, inputs)
    y = np.moveaxis(states, -2, 0)
    out = {}
    for k, name in ENDPOINTS.items():
        if name is None:
            if disease == "ra":
                out[k] = f["das28"]
            elif disease == "sle":
                out[k] = f["sledai"]
            else:
                out[k] = y[eq.S_P]
        elif name in eq.STATE_NAMES:
            out[k] = y[eq.STATE_NAMES.index(name)]
        else:
            out[k] = f[name]
    return out


def _normalise_disease(disease) -> str:
    d = "healthy" if disease in (None, "", "none", "healthy") else str(disease).lower()
    if d not in PLAUSIBLE_BOUNDS:
        raise InputError(f"unknown disease {disease!r}", hint="use None (healthy), 'ra', 'sle' or 'ms'")
    return d


def _apply_diet(U: np.ndarray, diet, pss10) -> dict:
    used = {}
    for k, v in (diet or {}).items():
        key = DIET_KEYS.get(str(k).lower())
        if key is None:
            raise InputError(f"unknown diet key {k!r}", hint=f"use one of {', '.join(sorted(set(DIET_KEYS)))}")
        v = float(v)
        if not np.isfinite(v) or v < 0:
            raise InputError(f"diet value for {k!r} must be a number >= 0, got {v}")
        U[eq.INPUT_NAMES.index(key)] = v
        used[key] = v
    if pss10 is not None:
        U[eq.U_S] = stress_load_from_pss10(float(pss10))
        used["pss10"] = float(pss10)
    return used


#: observation model of a profile's guild shares (see :func:`_fit_guilds`): log-SD, per guild
#: (B, L, Pb, Bc), of the factor by which one stool sample's share differs from the person's
#: steady-state share.
#: * Sample-to-sample variation within a person: pooled within-subject variance of the centred
#:   log-ratio guild shares of the non-IBD subjects of HMP2 with >= 3 samples (27 subjects, 426
#:   samples over a year; ``maaslin2_hmp2``, a calibration cohort), solved for independent per-guild
#:   log factors: B 0.60, L 1.06 (zeros at the 1e-4 floor inflate it), Pb 0.87 (Proteobacteria are the
#:   most volatile), Bc 0.65. Daily profiles vary as much (Vandeputte et al. 2021, Nat Commun 12,
#:   doi:10.1038/s41467-021-27098-7: most genera vary more from day to day than between people).
#: * Protocol bias: taxon detection efficiencies multiply the true shares (McLaren et al. 2019, eLife
#:   8:e46923, doi:10.7554/eLife.46923); assumed within a factor 2 per guild (95 %): ln 2 / 1.96.
SHARE_TEMPORAL_LOG_SD = (0.60, 1.06, 0.87, 0.65)
SHARE_BIAS_LOG_SD = float(np.log(2.0) / 1.959964)
SHARE_LOG_SD = tuple(float(np.hypot(t, SHARE_BIAS_LOG_SD)) for t in SHARE_TEMPORAL_LOG_SD)


def _latent_normals(P: np.ndarray, k: int) -> np.ndarray:
    """``(k, n)`` standard normals, one column per candidate, seeded by the candidates' parameters
    (themselves drawn from the twin's seed): the same seed gives the same twin, and the twin's own
    random stream is left as it was."""
    import hashlib

    digest = hashlib.blake2b(np.ascontiguousarray(P, dtype=np.float64).tobytes(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little")).standard_normal((k, P.shape[1]))


def _fit_guilds(P: np.ndarray, U: np.ndarray, guilds: np.ndarray, diversity: float) -> np.ndarray:
    """Set ``R_ref`` and ``dg_*`` of each candidate so that its steady state is a guild composition of
    which the measured shares are a plausible observation, and its diversity the measured one.

    Before, every candidate's steady state *was* the measured composition (an exact solve). One stool
    sample is not a person's steady state, though: guild shares of the same person vary between
    samples by a factor of about 2 (SD; HMP2 non-IBD subjects, :data:`SHARE_TEMPORAL_LOG_SD`), and
    every protocol detects some taxa more readily than others (:data:`SHARE_BIAS_LOG_SD`). The exact
    solve read a single sample's Enterobacteriaceae bloom (40 % of the classified reads in
    SRR1761667) as the person's permanent pathobiont level, 20 times the reference: in every candidate
    endotoxin, Th17, IL-6 and CRP then lay beyond the plausible ranges, so the twin could not be
    fitted (issue 11), whereas the same person's typical level may be several-fold lower. Observation
    model now::

        observed share_i = t_i e_i / sum_j t_j e_j,   log e_i ~ N(0, SHARE_LOG_SD_i^2) independently,

    where ``t`` is the candidate's steady-state composition. Each candidate draws its own ``e``
    (seeded from the candidate) and sets ``t_i = (share_i / e_i) / sum_j (share_j / e_j)``, a draw from
    the likelihood of ``t`` given the measured shares; ``dg_*`` are then solved exactly (from the
    right-hand side) for ``t``, and ``R_ref`` for the measured diversity. The plausibility filter of
    :func:`twin` keeps the candidates whose physiology lies within ``PLAUSIBLE_BOUNDS`` (unchanged):
    with the likelihood as proposal this is rejection sampling of the posterior of the parameters and
    the steady-state composition given the profile (flat prior on the composition's log-ratios; the
    offsets ``dg_*`` follow from it and are 0 in the virtual population). So a healthy profile is
    matched within the stated tolerance, a factor ``exp(1.96 SHARE_LOG_SD_i)`` (95 %: 4 for B, 9 for
    L, 6 for Pb, 4 for Bc, before renormalisation) centred on the measurement, and a strongly
    dysbiotic one by the part of that tolerance that is physiologically possible, and no further: a
    profile that needs more (e.g. a majority of Enterobacteriaceae) is still reported as not fitted.

    The ensemble's median composition is the measured one where all of the tolerance is plausible;
    a single candidate's composition differs from it.
    """
    n = P.shape[1]
    z = _latent_normals(P, len(GUILDS))
    shares = np.maximum(np.asarray(guilds, float), _FLOOR)
    t = shares[:, None] * np.exp(-np.asarray(SHARE_LOG_SD, float)[:, None] * z)
    t /= t.sum(axis=0, keepdims=True)
    y = healthy_state(P)
    for i, s in enumerate(_GUILD_STATES):
        y[s] = t[i]
    y[eq.S_R] = diversity
    iR = eq.PARAM_NAMES.index("R_ref")
    kR = P[eq.PARAM_NAMES.index("k_R")]
    dy = eq.rhs(y, P, U, np.empty_like(y))
    r_target = diversity + dy[eq.S_R] / kR
    P[iR] = P[iR] * diversity / r_target
    for d in _DG:
        P[eq.PARAM_NAMES.index(d)] = 0.0
    dy = eq.rhs(y, P, U, np.empty_like(y))
    for s, r, d in zip(_GUILD_STATES, _GROWTH, _DG, strict=True):
        P[eq.PARAM_NAMES.index(d)] = -dy[s] / (P[eq.PARAM_NAMES.index(r)] * y[s])
    assert P.shape[1] == n
    return y


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


def _relax_candidates(P: np.ndarray, U: np.ndarray, y0: np.ndarray, d: str, rng):
    """Relax every candidate to the steady state of its inputs (365 days) from ``y0``.

    Returns ``(y, readouts, converged, plausible, failures)``: the states, the read-outs (fast
    quantities and states by name), the converged and the plausible candidates, and per bound of
    :data:`~gutaxis.axis.population.PLAUSIBLE_BOUNDS` how many converged candidates fail it.
    """
    init = initial_state(P, d, rng)
    y0[eq.S_P], y0[eq.S_A] = init[eq.S_P], init[eq.S_A]
    y, rel = steady_state(P, U, y0, days=365, dt=0.5)
    ok = np.isfinite(y).all(axis=0) & ((rel < 2e-3) | (d == "ms"))
    r = {k: np.asarray(v) for k, v in fast_quantities(y, P, U).items()}
    r.update({k: y[i] for i, k in enumerate(eq.STATE_NAMES)})
    plaus = ok.copy()
    failures = {}
    for k, (lo, hi) in PLAUSIBLE_BOUNDS[d].items():
        inside = (r[k] >= lo) & (r[k] <= hi)
        plaus &= inside
        failures[k] = int((ok & ~inside).sum())
    return y, r, ok, plaus, failures


def twin(
    profile=None,
    *,
    markers: Mapping | None = None,
    pss10: float | None = None,
    diet: Mapping | None = None,
    disease: str | None = None,
    n_draws: int = 200,
    seed: int = 0,
    sample: str | None = None,
    n_candidates: int | None = None,
) -> Twin:
    """Initialise a personal twin from what is measured (see the module docstring).

    Parameters
    ----------
    profile : AnnData, samples x taxa DataFrame, Series (one sample) or path of a profile
        (read by :func:`gutaxis.io.read_profile`); one sample, or name it with ``sample``. Optional.
    markers : {"crp": mg/L, "il6": pg/mL, "lbp": ug/mL, "calprotectin": ug/g, "das28": score (RA only)}, any
        subset; their observation models are ``gutaxis/data/axis_twin_observations.tsv``. Optional.
    pss10 : Perceived Stress Scale score 0-40. Optional.
    diet : usual diet, keys of :data:`DIET_KEYS` (fiber g/d, fermented servings/d, upf % energy,
        sugar g/d, satfat % energy, probiotic log10 CFU/d, mindbody min/d). Missing items are drawn
        from the population distributions (and so widen the band).
    disease : None (healthy), ``"ra"``, ``"sle"`` or ``"ms"``
    n_draws : ensemble size
    seed : everything is seeded; the same inputs and seed give the same twin
    sample : which sample of a multi-sample profile
    n_candidates : prior candidates (default :data:`N_CANDIDATES`, the same for every ``n_draws``, so that
        whether the twin fits does not depend on how many draws are asked for)

    Returns
    -------
    :class:`Twin`
    """
    d = _normalise_disease(disease)
    if int(n_draws) < 1:
        raise InputError("n_draws must be >= 1")
    n_draws = int(n_draws)
    n_cand = int(n_candidates or N_CANDIDATES)
    rng = np.random.default_rng(seed)
    P = sample_parameters(n_cand, rng)
    U = _sample_inputs(n_cand, d, rng)
    observed = {"disease": d, "diet": _apply_diet(U, diet, pss10)}

    y0 = healthy_state(P)
    if profile is not None:
        g = profile_guilds(profile, sample=sample)
        if len(g) != 1:
            raise InputError(f"the profile has {len(g)} samples; name one with sample=...", source="profile")
        row = g.iloc[0]
        shares = np.maximum(row[list(GUILDS)].to_numpy(float), _FLOOR)
        observed["profile"] = {
            "sample": str(g.index[0]),
            **{k: float(row[k]) for k in GUILDS},
            "diversity": float(row["diversity"]),
            "n_taxa": int(row["n_taxa"]),
        }
        y0 = _fit_guilds(P, U, shares, float(row["diversity"]))
    y, r, ok, plaus, _ = _relax_candidates(P, U, y0, d, rng)
    # The fit decision is a share of a fixed candidate set, so it does not depend on n_draws.
    fitted = bool(plaus.sum() >= max(FIT_MIN_SHARE * n_cand, FIT_MIN_COUNT))
    keep = plaus if fitted else ok
    if not fitted:
        # said, not hidden: such a twin's levels (e.g. IL-6, LPS) can lie far outside physiology
        what = f"this {d} profile" if profile is not None else f"these {d} data (no stool profile was given)"
        warnings.warn(
            f"the model could not be fitted to {what}: only {int(plaus.sum())} of {n_cand} model patients stayed "
            f"within plausible physiological ranges (at least {FIT_MIN_SHARE:.2%} are needed). This says nothing "
            "about the person's health; the twin falls back on merely converged model patients, whose levels and "
            "forecasts are not interpretable as a person's",
            UserWarning,
            stacklevel=2,
        )
    if keep.sum() == 0:
        raise InputError(
            "no model patient reproduces these measurements", hint="check units of markers and the profile"
        )
    idx = np.flatnonzero(keep)
    logw = np.zeros(idx.size)
    if d == "healthy" and idx.size > 10:
        from scipy.stats import gaussian_kde

        t = HEALTHY_BASELINE_TARGET
        z = np.log(np.vstack([r[k][idx] for k in t["markers"]]))
        logw += _target_logpdf(z, t) - np.log(gaussian_kde(z)(z))
    loglik = np.zeros(idx.size)
    obs_t = _observation_table()
    used_markers = {}
    for k, v in (markers or {}).items():
        key = str(k).lower()
        if key not in obs_t.index:
            raise InputError(f"unknown marker {k!r}", hint=f"use one of {', '.join(MARKERS)}")
        v = float(v)
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"marker {k!r} must be a positive number, got {v}")
        if key in MARKER_DISEASE and MARKER_DISEASE[key] != d:
            raise InputError(
                f"marker {k!r} is a {MARKER_DISEASE[key].upper()} score; this twin is {d}",
                hint=f"give it only with disease={MARKER_DISEASE[key]!r}",
            )
        row = obs_t.loc[key]
        model = r[row["output"]][idx] * float(row["scale"])
        if row["error"] == "normal":
            loglik += -0.5 * ((v - model) / float(row["sd"])) ** 2
        else:  # log-normal
            loglik += -0.5 * ((np.log(v) - np.log(model)) / float(row["sd"])) ** 2
        used_markers[key] = v
    observed["markers"] = used_markers
    ess_min = min(max(30.0, n_draws / 4.0), idx.size / 2.0)
    temp = 1.0
    if _ess(logw + loglik) < ess_min:
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if _ess(logw + mid * loglik) >= ess_min:
                lo = mid
            else:
                hi = mid
        temp = lo
    lw = logw + temp * loglik
    w = np.exp(lw - lw.max())
    w /= w.sum()
    # systematic resampling
    pos = (rng.random() + np.arange(n_draws)) / n_draws
    pick = idx[np.minimum(np.searchsorted(np.cumsum(w), pos), idx.size - 1)]
    meta = {
        "seed": seed,
        "n_candidates": n_cand,
        "n_converged": int(ok.sum()),
        "n_plausible": int(plaus.sum()),
        "fitted": fitted,
        "fit_min_share": FIT_MIN_SHARE,
        "ess": _ess(lw),
        "tempering": temp,
        "n_unique": int(np.unique(pick).size),
    }
    return Twin(P[:, pick].copy(), U[:, pick].copy(), y[:, pick].copy(), d, observed, meta)


def _plan_schedule(plan_inputs, days: int) -> Schedule:
    if isinstance(plan_inputs, Schedule):
        if plan_inputs.n_groups != 1:
            raise InputError("a plan schedule must have one group")
        if plan_inputs.n_days < days:
            raise InputError(f"the plan schedule covers {plan_inputs.n_days} days, fewer than {days}")
        return Schedule(plan_inputs.mult[:days].copy(), plan_inputs.add[:days].copy())
    if not isinstance(plan_inputs, Mapping):
        raise InputError("plan_inputs must be a mapping {input: daily level} or a Schedule")
    s = Schedule.baseline(days)
    for k, v in plan_inputs.items():
        key = DIET_KEYS.get(str(k).lower(), str(k).lower())
        if key == "pss10":
            s.set(stress=float(stress_load_from_pss10(float(v))))
            continue
        if key not in eq.INPUT_NAMES:
            raise InputError(f"unknown plan input {k!r}", hint=f"inputs are {', '.join(eq.INPUT_NAMES)} (and pss10)")
        s.set(**{key: float(v)})
    return s


@dataclass
class Forecast:
    """Trajectories of the twin's draws under their usual inputs and under a plan.

    ``plan`` and ``usual`` map each endpoint of :data:`ENDPOINTS` to an ``(n_times, n_draws)`` array
    over ``days``. Use :meth:`band` for a median and 5-95 % band over time and :meth:`summary` for
    the end-of-plan table.
    """

    days: np.ndarray
    plan: dict
    usual: dict
    disease: str
    meta: dict = field(default_factory=dict)

    @property
    def endpoints(self) -> tuple:
        return tuple(self.plan)

    def _series(self, endpoint: str, which: str) -> np.ndarray:
        if endpoint not in self.plan:
            raise InputError(f"unknown endpoint {endpoint!r}", hint=f"endpoints: {', '.join(self.plan)}")
        p, u = self.plan[endpoint], self.usual[endpoint]
        if which == "plan":
            return p
        if which == "usual":
            return u
        if which == "change":
            return p - p[:1]
        if which == "effect":
            return p - u
        raise InputError(f"unknown which={which!r}", hint="use 'plan', 'usual', 'change' or 'effect'")

    def band(self, endpoint: str, which: str = "plan") -> pd.DataFrame:
        """Median and 5-95 % band over time; ``which``: plan, usual, change (plan vs day 0) or effect (plan - usual)."""
        b = _band(self._series(endpoint, which), axis=1)
        return pd.DataFrame(b, index=pd.Index(self.days, name="day"))[["median", "p05", "p95"]]

    def summary(self, day: float | None = None) -> pd.DataFrame:
        """One row per endpoint at ``day`` (default the last): baseline, plan value, change and effect bands."""
        i = -1 if day is None else int(np.searchsorted(self.days, day))
        rows = {}
        for k in self.plan:
            row = {"unit": ENDPOINT_UNITS[k], "baseline": float(np.nanmedian(self.plan[k][0]))}
            for which, lab in (("plan", "value"), ("change", "change"), ("effect", "effect")):
                b = _band(self._series(k, which)[i])
                row.update({f"{lab}_{q}": float(v) for q, v in b.items()})
            rows[k] = row
        df = pd.DataFrame(rows).T
        df.index.name = "endpoint"
        df.attrs["day"] = float(self.days[i])
        return df

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: day, endpoint, which (plan/usual/change/effect), median, p05, p95."""
        parts = []
        for k in self.plan:
            for which in ("plan", "usual", "change", "effect"):
                b = self.band(k, which).reset_index()
                b.insert(1, "endpoint", k)
                b.insert(2, "which", which)
                parts.append(b)
        return pd.concat(parts, ignore_index=True)


def forecast(twin: Twin, plan_inputs, days: int, *, adherence: float = 1.0, dt: float = 0.5) -> Forecast:
    """Forecast a plan's effect on a :class:`Twin` over ``days`` days.

    Parameters
    ----------
    twin : from :func:`twin`
    plan_inputs : mapping ``{input: daily level}`` held from day 0 (inputs of
        :data:`~gutaxis.axis.equations.INPUT_NAMES` or :data:`DIET_KEYS` aliases, ``pss10`` for a
        stress target), or a one-group :class:`~gutaxis.axis.inputs.Schedule` (relative to the
        person's usual inputs) for phased plans
    days : horizon in days (daily read-outs 0..days)
    adherence : 0-1, the fraction of the change from usual inputs that is carried out

    Returns
    -------
    :class:`Forecast`
    """
    days = int(days)
    if days < 1:
        raise InputError("days must be >= 1")
    if not 0.0 <= float(adherence) <= 1.0:
        raise InputError(f"adherence must lie in 0-1, got {adherence}")
    plan = _plan_schedule(plan_inputs, days)
    sch = Schedule(
        np.concatenate([np.ones_like(plan.mult), plan.mult], axis=2),
        np.concatenate([np.zeros_like(plan.add), plan.add], axis=2),
    )
    n = twin.n_draws
    P = np.concatenate([twin.params, twin.params], axis=1)
    U = np.concatenate([twin.inputs, twin.inputs], axis=1)
    Y = np.concatenate([twin.states, twin.states], axis=1)
    group = np.repeat([0, 1], n)
    adh = np.concatenate([np.ones(n), np.full(n, float(adherence))])
    tr = simulate(P, Y, U, sch, group, adh, dt=dt)
    vals = _endpoint_values(tr.states, tr.params, tr.inputs, twin.disease)
    usual = {k: v[:, :n] for k, v in vals.items()}
    planv = {k: v[:, n:] for k, v in vals.items()}
    return Forecast(tr.days, planv, usual, twin.disease, {"adherence": float(adherence), "days": days, "dt": dt})
