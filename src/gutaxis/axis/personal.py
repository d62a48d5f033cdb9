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
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError
from . import equations as eq
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

GUILDS = ("B", "L", "Pb", "Bc")
_GUILD_STATES = (eq.S_B, eq.S_L, eq.S_PB, eq.S_BC)
_GROWTH = ("r_B", "r_L", "r_Pb", "r_Bc")
_DG = ("dg_B", "dg_L", "dg_Pb", "dg_Bc")
_RANKS = ("species", "genus", "family", "phylum")
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
def guild_table() -> pd.DataFrame:
    """Taxon -> guild table (``gutaxis/data/axis_guilds.tsv``) with citations."""
    with resources.files("gutaxis.data").joinpath("axis_guilds.tsv").open("r", encoding="utf-8") as fh:
        t = pd.read_csv(fh, sep="\t", dtype=str)
    bad = set(t["guild"]) - set(GUILDS)
    if bad:
        raise InputError(f"unknown guild(s) {sorted(bad)}", source="axis_guilds.tsv")
    return t


@lru_cache(maxsize=1)
def _observation_table() -> pd.DataFrame:
    with resources.files("gutaxis.data").joinpath("axis_twin_observations.tsv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, sep="\t").set_index("marker")


MARKERS = ("crp", "il6", "lbp", "calprotectin", "das28")
#: markers that only mean something for one disease
MARKER_DISEASE = {"das28": "ra"}


#: kingdoms outside the model's bacterial (and archaeal) biomass: excluded, like the unclassified share
_NON_BACTERIAL_KINGDOMS = frozenset({"viruses", "virus", "eukaryota", "eukarya", "fungi", "metazoa", "viridiplantae"})
_VIRAL = re.compile(r"virus|phage|viridae|virales", re.IGNORECASE)
#: a lineage that names nothing below its domain is an unclassified share, not a taxon
_DOMAINS = frozenset({"bacteria", "archaea", "root", "cellular organisms", "life", "all", "prokaryotes"})
#: SILVA 132 numbers clusters of a polyphyletic genus ("Coprococcus 3", "Ruminococcus 2")
_SILVA_CLUSTER = re.compile(r"\s+\d+$")


@lru_cache(maxsize=1)
def _guild_lookup() -> dict:
    """``(rank, lower-case name) -> guild`` from ``axis_guilds.tsv``, plus the 25 genera of the 2020
    *Lactobacillus* split (``lactobacillus_2020.tsv``, Zheng 2020) as guild L, so that profiles that
    name ``Ligilactobacillus ruminis`` or ``Lactobacillus ruminis`` without a family map alike."""
    from ..taxonomy import lactobacillus_group

    tab = guild_table()
    lookup = {
        (r, str(n).lower()): g for r, n, g in zip(tab["rank"], tab["name"], tab["guild"], strict=True) if r != "default"
    }
    for genus in lactobacillus_group():
        lookup.setdefault(("genus", genus.lower()), "L")
    return lookup


def _lineage_frame(data) -> pd.DataFrame:
    """Ranks of each feature (``kingdom`` and :data:`_RANKS`; lower-case names, None where unknown),
    ``name`` (the feature's own normalised name) and ``status``: ``classified``, ``unclassified``
    (MetaPhlAn's ``UNKNOWN``/``UNCLASSIFIED`` row, QIIME's ``Unassigned``, a lineage that names nothing
    below its domain such as ``k__Bacteria``) or ``non-bacterial`` (viruses, phages, eukaryotes)."""
    from .._validation import _is_anndata
    from ..taxonomy import _is_unnamed, normalize_name, parse_lineage

    names = [str(n) for n in (data.var_names if _is_anndata(data) else data.columns)]
    cols = ("kingdom", *_RANKS)
    if _is_anndata(data) and all(r in data.var.columns for r in ("genus", "family", "phylum")):
        var = data.var
        ranks = pd.DataFrame(
            {r: (var[r].to_numpy() if r in var.columns else np.nan) for r in cols}, index=pd.Index(names)
        )
    else:
        parsed = parse_lineage(names)
        ranks = pd.DataFrame(
            {r: (parsed[r].to_numpy() if r in parsed.columns else np.nan) for r in cols}, index=pd.Index(names)
        )

    def clean(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        s = str(v).strip().lower()
        return s or None

    ranks = ranks.apply(lambda c: c.astype(object).map(clean))
    ranks["name"] = [normalize_name(n) for n in names]
    # names that carry their rank in words rather than in a lineage: MetaPhlAn 2's "Escherichia
    # unclassified" (reads of the genus without a species), "Peptostreptococcaceae noname
    # unclassified", "Lachnospiraceae bacterium 1 1 57FAA" (a family-level placeholder species)
    for i, (_, row) in enumerate(ranks.iterrows()):
        if row["genus"] is not None or row["family"] is not None:
            continue
        words = [
            w
            for w in (row["species"] or row["name"] or "").split(" ")
            if w and w.lower() not in ("unclassified", "noname", "bacterium", "sp", "sp.")
        ]
        if not words or not words[0][:1].isalpha() or _is_unnamed(words[0]):
            continue
        first = words[0].lower()
        if first.endswith("aceae"):
            ranks.iat[i, ranks.columns.get_loc("family")] = first
        elif (
            row["species"] is None
            and all(row[r] is None for r in _RANKS)
            and _is_unnamed(row["name"])
            and words[0][:1].isupper()
            and not first.endswith(("ales", "ota", "etes"))
        ):
            ranks.iat[i, ranks.columns.get_loc("genus")] = first
    status = []
    for (_, row), raw in zip(ranks.iterrows(), names, strict=True):
        named = [row[r] for r in _RANKS if row[r] is not None]
        if row["kingdom"] in _NON_BACTERIAL_KINGDOMS or any(_VIRAL.search(s) for s in [*named, row["name"]] if s):
            status.append("non-bacterial")
        elif not named and (
            not row["name"]
            or _is_unnamed(row["name"])
            or row["name"].lower() in _DOMAINS
            or raw.strip().upper() in ("UNKNOWN", "UNCLASSIFIED")
        ):
            status.append("unclassified")
        else:
            status.append("classified")
    ranks["status"] = status
    return ranks


def _match_guild(row, lookup: dict) -> tuple[str, str, str] | None:
    """``(guild, matched rank, matched name)`` of one feature of :func:`_lineage_frame`, finest rank
    first; a plain name of unknown rank (``Faecalibacterium``, ``Enterobacteriaceae``) is looked up at
    every rank; None when nothing matches (the default guild)."""
    for r in _RANKS:
        name = row[r]
        if name is None:
            continue
        if (r, name) in lookup:
            return lookup[(r, name)], r, name
        if r == "genus":
            base = _SILVA_CLUSTER.sub("", name)
            if (r, base) in lookup:
                return lookup[(r, base)], r, base
    if all(row[r] is None for r in _RANKS) and row["name"]:
        plain = _SILVA_CLUSTER.sub("", row["name"].lower())
        for r in _RANKS:
            if (r, plain) in lookup:
                return lookup[(r, plain)], r, plain
    return None


def profile_guilds(profile, sample: str | None = None) -> pd.DataFrame:
    """Guild shares and diversity of each sample of a profile.

    Observation model of the shares (what a profile says about the model's guilds):

    * **Unclassified and non-bacterial reads are removed, and the rest renormalised.** MetaPhlAn 3/4's
      ``UNKNOWN``/``UNCLASSIFIED`` row (reads that hit no marker, often most of a sample), QIIME's
      ``Unassigned``, and lineages that name nothing below the domain (``k__Bacteria``) are reads whose
      guild is unknown: they are neither a guild nor "others", and they are not a taxon, so they
      neither raise the others guild Bc nor lower the diversity. Removing them assumes that they
      split among the guilds like the classified reads (missing at random). Viruses, phages and
      eukaryotes (``k__Viruses``, ``k__Eukaryota``, names with *virus*/*phage*) are not part of the
      model's bacterial biomass and are removed too. ``gutaxis.io.read_profile`` already drops the
      MetaPhlAn unclassified row into ``obs["unclassified_fraction"]``; a DataFrame that still has it
      gives the same shares.
    * **Taxa map to guilds by** ``axis_guilds.tsv``, finest rank first (species, genus, family,
      phylum; a SILVA cluster number such as ``Coprococcus 3`` is ignored; a plain name of unknown
      rank is looked up at every rank), plus the genera of the 2020 *Lactobacillus* split as L;
      everything else is the others guild Bc. Genera of the guild families (Enterobacteriaceae and
      other Proteobacteria -> Pb; Lachnospiraceae/Ruminococcaceae -> B) are listed by genus, so a
      profile of species names without lineage (``Escherichia coli``) maps as a lineage profile does.

    Parameters
    ----------
    profile : AnnData, DataFrame (samples x taxa) or a path read with :func:`gutaxis.io.read_profile`
    sample : keep only this sample

    Returns
    -------
    DataFrame indexed by sample with columns ``B L Pb Bc`` (shares of the classified bacterial mass,
    sum 1), ``diversity`` (Hill number of order 1 of the classified bacterial features), ``n_taxa``,
    ``unclassified`` (share of the sample's reads that were unclassified: ``obs["unclassified_fraction"]``
    where the reader recorded it, else the share of the removed unclassified features) and
    ``non_bacterial`` (share removed as viral or eukaryotic); ``attrs["assignment"]`` holds the
    guild (None for removed features), matched rank (``unclassified``/``non-bacterial`` for removed
    ones) and name of each feature.
    """
    from .._validation import _is_anndata, abundance_frame

    if isinstance(profile, (str, bytes)) or hasattr(profile, "__fspath__"):
        from ..io import read_profile

        profile = read_profile(profile)
    if isinstance(profile, pd.Series):
        profile = profile.to_frame().T
    X = abundance_frame(profile, name="profile")
    obs_uncl = None
    if _is_anndata(profile) and "unclassified_fraction" in profile.obs.columns:
        obs_uncl = pd.to_numeric(profile.obs["unclassified_fraction"], errors="coerce").reindex(X.index)
    if sample is not None:
        if sample not in X.index:
            raise InputError(
                f"sample {sample!r} is not in the profile", hint=f"samples: {', '.join(map(str, X.index[:10]))}"
            )
        X = X.loc[[sample]]
        obs_uncl = None if obs_uncl is None else obs_uncl.loc[[sample]]
    ranks = _lineage_frame(profile if _is_anndata(profile) else X)
    tab = guild_table()
    lookup = _guild_lookup()
    default = tab.loc[tab["rank"] == "default", "guild"]
    default = default.iloc[0] if len(default) else "Bc"
    assign: list[tuple[str | None, str, str]] = []  # (guild, matched rank, matched name)
    for _, row in ranks.iterrows():
        if row["status"] != "classified":
            assign.append((None, row["status"], row["name"]))
            continue
        assign.append(_match_guild(row, lookup) or (default, "default", "*"))
    assignment = pd.DataFrame(assign, index=ranks.index, columns=["guild", "matched_rank", "matched_name"])
    A = X.to_numpy(float)
    tot = A.sum(axis=1)
    if np.any(tot <= 0):
        raise InputError("a sample of the profile sums to zero", source="profile", hint="remove empty samples")
    status = ranks["status"].to_numpy()
    kept = status == "classified"
    A_kept = A[:, kept]
    tot_kept = A_kept.sum(axis=1)
    if np.any(tot_kept <= 0):
        bad = X.index[np.flatnonzero(tot_kept <= 0)[0]]
        raise InputError(
            f"sample {bad!r} has no classified bacterial reads (all unclassified, viral or eukaryotic)",
            source="profile",
            hint="a guild profile needs taxa named at phylum rank or below",
        )
    frac = A_kept / tot_kept[:, None]
    guild_of = assignment["guild"].to_numpy()[kept]
    out = pd.DataFrame(index=X.index)
    for g in GUILDS:
        out[g] = frac[:, guild_of == g].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(frac > 0, frac * np.log(frac), 0.0).sum(axis=1)
    out["diversity"] = np.exp(h)
    out["n_taxa"] = (A_kept > 0).sum(axis=1)
    uncl = A[:, status == "unclassified"].sum(axis=1) / tot
    if obs_uncl is not None:
        u = obs_uncl.to_numpy(float)
        uncl = np.where(np.isfinite(u), u + (1.0 - u) * uncl, uncl)
    out["unclassified"] = uncl
    out["non_bacterial"] = A[:, status == "non-bacterial"].sum(axis=1) / tot
    out.attrs["assignment"] = assignment
    out.attrs["params"] = {
        "table": "axis_guilds.tsv",
        "diversity": "Hill number of order 1 (exp Shannon) of the classified bacterial features",
        "removed": "unclassified and non-bacterial reads, then renormalised",
    }
    return out


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
