"""A seeded SYNTHETIC cohort for demonstrations, tutorials and tests.

:func:`demo_cohort` draws healthy and dysbiotic stool profiles over real gut species names
(MetaPhlAn-style lineages in ``var``) from a Dirichlet-multinomial, so the cohort has read
counts (``layers["counts"]``, for Chao1) and proportions (``X``). The numbers are invented:
they look like shotgun profiles but describe no person. Everything it returns is labelled
SYNTHETIC (``obs["synthetic"]``, ``uns["synthetic"]``, ``uns["title"]``).

The design follows the direction of published contrasts, not their sizes: healthy profiles are
richer and more even, carry more butyrate producers and more of the 7 health-prevalent
species of the Gut Microbiome Health Index; dysbiotic profiles are poorer, with blooms of
Enterobacteriaceae and *Ruminococcus gnavus* and more health-scarce species
(Gupta et al. 2020, Nat Commun 11:4635, doi:10.1038/s41467-020-18476-8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._typing import AnnDataObject
from .measure.gmhi import gmhi_species
from .taxonomy import normalize_name

__all__ = ["DEMO_GROUPS", "demo_cohort"]

DEMO_GROUPS = ("healthy", "dysbiotic")

_RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")

# Lineages above genus (MetaPhlAn 3-style names), keyed by genus or by the order/family of
# species without a named genus.
_UPPER = {
    "Faecalibacterium": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae"),
    "Subdoligranulum": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae"),
    "Anaerotruncus": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae"),
    "Flavonifractor": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae"),
    "Oscillibacter": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Oscillospiraceae"),
    "Roseburia": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
    "Coprococcus": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
    "Anaerostipes": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
    "Dorea": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
    "Blautia": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
    "Eubacterium": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Eubacteriaceae"),
    "Clostridium": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Clostridiaceae"),
    "Christensenella": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Christensenellaceae"),
    "Holdemania": ("Bacteria", "Firmicutes", "Erysipelotrichia", "Erysipelotrichales", "Erysipelotrichaceae"),
    "Solobacterium": ("Bacteria", "Firmicutes", "Erysipelotrichia", "Erysipelotrichales", "Erysipelotrichaceae"),
    "Streptococcus": ("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Streptococcaceae"),
    "Lactobacillus": ("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Lactobacillaceae"),
    "Lacticaseibacillus": ("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Lactobacillaceae"),
    "Limosilactobacillus": ("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Lactobacillaceae"),
    "Enterococcus": ("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Enterococcaceae"),
    "Veillonella": ("Bacteria", "Firmicutes", "Negativicutes", "Veillonellales", "Veillonellaceae"),
    "Bacteroides": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Bacteroidaceae"),
    "Prevotella": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Prevotellaceae"),
    "Alistipes": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Rikenellaceae"),
    "Parabacteroides": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Tannerellaceae"),
    "Odoribacter": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Marinifilaceae"),
    "Barnesiella": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Barnesiellaceae"),
    "Bifidobacterium": ("Bacteria", "Actinobacteria", "Actinobacteria", "Bifidobacteriales", "Bifidobacteriaceae"),
    "Collinsella": ("Bacteria", "Actinobacteria", "Coriobacteriia", "Coriobacteriales", "Coriobacteriaceae"),
    "Atopobium": ("Bacteria", "Actinobacteria", "Coriobacteriia", "Coriobacteriales", "Atopobiaceae"),
    "Eggerthella": ("Bacteria", "Actinobacteria", "Coriobacteriia", "Eggerthellales", "Eggerthellaceae"),
    "Akkermansia": ("Bacteria", "Verrucomicrobia", "Verrucomicrobiae", "Verrucomicrobiales", "Akkermansiaceae"),
    "Sutterella": ("Bacteria", "Proteobacteria", "Betaproteobacteria", "Burkholderiales", "Sutterellaceae"),
    "Escherichia": ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacterales", "Enterobacteriaceae"),
    "Klebsiella": ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacterales", "Enterobacteriaceae"),
    "Enterobacter": ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacterales", "Enterobacteriaceae"),
    "Citrobacter": ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacterales", "Enterobacteriaceae"),
    "Haemophilus": ("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Pasteurellales", "Pasteurellaceae"),
    "Bilophila": ("Bacteria", "Proteobacteria", "Deltaproteobacteria", "Desulfovibrionales", "Desulfovibrionaceae"),
    "Desulfovibrio": ("Bacteria", "Proteobacteria", "Deltaproteobacteria", "Desulfovibrionales", "Desulfovibrionaceae"),
    "Fusobacterium": ("Bacteria", "Fusobacteria", "Fusobacteriia", "Fusobacteriales", "Fusobacteriaceae"),
    "Methanobrevibacter": ("Archaea", "Euryarchaeota", "Methanobacteria", "Methanobacteriales", "Methanobacteriaceae"),
    # species named after a higher taxon (no genus): (kingdom .. family or order), family may be None
    "Bacteroidales": ("Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", None),
    "Lachnospiraceae": ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae"),
}
# Species whose family differs from their genus' entry above.
_FAMILY_OVERRIDE = {
    "Ruminococcus gnavus": "Lachnospiraceae",
    "Ruminococcus torques": "Lachnospiraceae",
    "Ruminococcus bromii": "Ruminococcaceae",
}
_UPPER["Ruminococcus"] = ("Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae")

# Role of each demo species -> (weight healthy, prevalence healthy, weight dysbiotic, prevalence dysbiotic).
# Weights are relative mean abundances before the per-sample Dirichlet draw; invented, not measured.
_ROLE_PARAMS = {
    "health_prevalent": (1.2, 0.80, 0.4, 0.40),
    "health_scarce": (0.25, 0.40, 1.2, 0.60),
    "butyrate": (5.0, 0.95, 0.8, 0.40),
    "core": (3.0, 0.92, 2.5, 0.60),
    "enterobacteria": (0.15, 0.30, 6.0, 0.85),
    "oral": (0.15, 0.30, 0.8, 0.50),
    "probiotic": (0.4, 0.45, 0.3, 0.25),
    "other": (0.8, 0.75, 0.5, 0.40),
}
# (species, role[, weight_h, prev_h, weight_d, prev_d]); GMHI roles are assigned from the lists.
_SPECIES = (
    ("Faecalibacterium prausnitzii", "butyrate", 14.0, 0.98, 1.5, 0.55),
    ("Roseburia intestinalis", "butyrate"),
    ("Roseburia inulinivorans", "butyrate"),
    ("Roseburia hominis", "butyrate"),
    ("Eubacterium rectale", "butyrate", 8.0, 0.95, 1.0, 0.5),
    ("Eubacterium hallii", "butyrate"),
    ("Coprococcus comes", "butyrate"),
    ("Coprococcus eutactus", "butyrate"),
    ("Anaerostipes hadrus", "butyrate"),
    ("Ruminococcus bromii", "butyrate"),
    ("Bacteroides vulgatus", "core", 8.0, 0.95, 8.0, 0.85),
    ("Bacteroides uniformis", "core", 5.0, 0.92, 3.0, 0.7),
    ("Bacteroides fragilis", "core", 1.0, 0.6, 3.0, 0.7),
    ("Bacteroides thetaiotaomicron", "core"),
    ("Bacteroides ovatus", "core"),
    ("Bacteroides stercoris", "core"),
    ("Prevotella copri", "core", 20.0, 0.30, 8.0, 0.15),
    ("Alistipes putredinis", "core"),
    ("Alistipes onderdonkii", "core"),
    ("Alistipes shahii", "core"),
    ("Parabacteroides distasonis", "core"),
    ("Parabacteroides merdae", "core"),
    ("Odoribacter splanchnicus", "core"),
    ("Barnesiella intestinihominis", "core"),
    ("Dorea longicatena", "core"),
    ("Dorea formicigenerans", "core"),
    ("Blautia obeum", "core"),
    ("Blautia wexlerae", "core"),
    ("Ruminococcus torques", "core"),
    ("Collinsella aerofaciens", "core"),
    ("Oscillibacter sp", "other"),
    ("Christensenella minuta", "other", 0.6, 0.5, 0.1, 0.15),
    ("Methanobrevibacter smithii", "other", 1.0, 0.45, 0.2, 0.15),
    ("Akkermansia muciniphila", "other", 2.5, 0.55, 2.0, 0.45),
    ("Bilophila wadsworthia", "other"),
    ("Desulfovibrio piger", "other"),
    ("Bifidobacterium longum", "probiotic", 2.0, 0.8, 0.5, 0.35),
    ("Bifidobacterium bifidum", "probiotic"),
    ("Lacticaseibacillus rhamnosus", "probiotic", 0.2, 0.25, 0.2, 0.2),
    ("Lactobacillus acidophilus", "probiotic", 0.2, 0.2, 0.2, 0.15),
    ("Limosilactobacillus reuteri", "probiotic", 0.2, 0.2, 0.2, 0.15),
    ("Streptococcus thermophilus", "probiotic"),
    ("Escherichia coli", "enterobacteria", 0.4, 0.55, 10.0, 0.9),
    ("Klebsiella pneumoniae", "enterobacteria", 0.08, 0.1, 5.0, 0.6),
    ("Enterobacter cloacae", "enterobacteria"),
    ("Citrobacter freundii", "enterobacteria"),
    ("Enterococcus faecalis", "enterobacteria", 0.15, 0.3, 2.0, 0.6),
    ("Enterococcus faecium", "enterobacteria", 0.1, 0.2, 1.5, 0.45),
    ("Streptococcus salivarius", "oral", 0.4, 0.5, 1.5, 0.7),
    ("Veillonella parvula", "oral", 0.2, 0.3, 1.5, 0.65),
    ("Haemophilus parainfluenzae", "oral", 0.3, 0.4, 0.8, 0.5),
    ("Ruminococcus gnavus", "health_scarce", 0.3, 0.4, 8.0, 0.85),
    ("Subdoligranulum variabile", "health_scarce", 0.6, 0.45, 1.5, 0.7),
    ("Clostridium nexile", "health_scarce"),
    ("Flavonifractor plautii", "health_scarce"),
    ("Eggerthella lenta", "health_scarce"),
    ("Anaerotruncus colihominis", "health_scarce"),
    ("Holdemania filiformis", "health_scarce"),
    ("Clostridium bolteae", "health_scarce"),
    ("Clostridium clostridioforme", "health_scarce"),
    ("Clostridium symbiosum", "health_scarce"),
    ("Clostridium hathewayi", "health_scarce"),
    ("Fusobacterium nucleatum", "health_scarce"),
    ("Streptococcus anginosus", "health_scarce"),
    ("Streptococcus vestibularis", "health_scarce"),
    ("Veillonella atypica", "health_scarce"),
    ("Lactobacillus salivarius", "health_scarce"),
    ("Bifidobacterium dentium", "health_scarce"),
    ("Atopobium parvulum", "health_scarce"),
    ("Solobacterium moorei", "health_scarce"),
    ("Alistipes senegalensis", "health_prevalent"),
    ("Bacteroidales bacterium ph8", "health_prevalent"),
    ("Bifidobacterium adolescentis", "health_prevalent", 3.0, 0.8, 0.3, 0.25),
    ("Bifidobacterium angulatum", "health_prevalent"),
    ("Bifidobacterium catenulatum", "health_prevalent"),
    ("Lachnospiraceae bacterium 8_1_57FAA", "health_prevalent"),
    ("Sutterella wadsworthensis", "health_prevalent"),
)


def _norm(name: str) -> str:
    return normalize_name(name).lower()


def _gmhi_lists() -> tuple[set[str], set[str]]:
    """Normalised health-prevalent (MH) and health-scarce (MN) GMHI species names."""
    table = gmhi_species()
    mh, mn = ({_norm(s) for s in table.loc[table["group"] == g, "species"]} for g in ("MH", "MN"))
    return mh, mn


def _species_table() -> pd.DataFrame:
    mh, mn = _gmhi_lists()
    rows = []
    for entry in _SPECIES:
        name, role = entry[0], entry[1]
        if _norm(name) in mh:
            role = "health_prevalent"
        elif _norm(name) in mn and role != "enterobacteria":
            role = "health_scarce"
        params = entry[2:] if len(entry) > 2 else _ROLE_PARAMS[role]
        first = name.split(" ")[0]
        upper = _UPPER[first]
        kingdom, phylum, klass, order, family = upper
        family = _FAMILY_OVERRIDE.get(name, family)
        genus = None if first in ("Bacteroidales", "Lachnospiraceae") else first
        parts = [
            f"k__{kingdom}",
            f"p__{phylum}",
            f"c__{klass}",
            f"o__{order}",
            f"f__{family or order + '_noname'}",
            f"g__{genus or (family or order) + '_noname'}",
            "s__" + name.replace(" ", "_"),
        ]
        rows.append(
            dict(
                kingdom=kingdom,
                phylum=phylum,
                **{"class": klass},
                order=order,
                family=family,
                genus=genus,
                species=name,
                strain=None,
                taxon=name,
                rank="species",
                lineage="|".join(parts),
                demo_role=role,
                gmhi_set="health_prevalent" if _norm(name) in mh else ("health_scarce" if _norm(name) in mn else ""),
                w_h=params[0],
                p_h=params[1],
                w_d=params[2],
                p_d=params[3],
            )
        )
    return pd.DataFrame(rows).set_index("species", drop=False)


def demo_cohort(n_healthy: int = 40, n_dysbiotic: int = 40, seed: int = 0) -> AnnDataObject:
    """A SYNTHETIC cohort of healthy and dysbiotic gut profiles (Dirichlet-multinomial counts).

    Parameters
    ----------
    n_healthy, n_dysbiotic
        Number of samples per group (each >= 0, together >= 1).
    seed
        Seed of the random generator; the same seed gives the same cohort.

    Returns
    -------
    anndata.AnnData
        ``X``: relative abundances (proportions, rows sum to 1); ``layers["counts"]``: read counts
        (sequencing depth 15,000-80,000 reads); ``obs``: ``group`` (healthy / dysbiotic),
        ``subject_id``, ``age`` (years), ``sex``, ``synthetic`` (True); ``var``: species with
        MetaPhlAn-style lineages; ``uns["synthetic"] = True`` and ``uns["provenance"]``.

    Notes
    -----
    Invented data over real species names. The healthy group is richer and carries the
    health-prevalent GMHI species and butyrate producers; the dysbiotic group is poorer, with
    Enterobacteriaceae / *Ruminococcus gnavus* blooms and health-scarce species (direction only,
    after Gupta et al. 2020, doi:10.1038/s41467-020-18476-8). Not for scientific inference.
    """
    import anndata as ad

    from . import __version__
    from .errors import InputError

    for label, n in (("n_healthy", n_healthy), ("n_dysbiotic", n_dysbiotic)):
        if int(n) != n or n < 0:
            raise InputError(f"{label} must be a whole number >= 0, got {n!r}", source="demo_cohort")
    n_healthy, n_dysbiotic = int(n_healthy), int(n_dysbiotic)
    if n_healthy + n_dysbiotic == 0:
        raise InputError(
            "the demo cohort needs at least one sample", source="demo_cohort", hint="set n_healthy or n_dysbiotic > 0"
        )

    table = _species_table()
    rng = np.random.default_rng(seed)
    n = n_healthy + n_dysbiotic
    is_h = np.r_[np.ones(n_healthy, bool), np.zeros(n_dysbiotic, bool)]
    w = np.where(is_h[:, None], table["w_h"].to_numpy()[None, :], table["w_d"].to_numpy()[None, :])
    prev = np.where(is_h[:, None], table["p_h"].to_numpy()[None, :], table["p_d"].to_numpy()[None, :])

    present = rng.random(w.shape) < prev
    # keep every sample non-empty: the most abundant expected species of the group is always present
    present[np.arange(n), np.argmax(w, axis=1)] = True
    # individuality: log-normal scatter of each species' weight, then a Dirichlet draw
    weights = w * present * rng.lognormal(0.0, 1.0, size=w.shape)
    concentration = np.where(is_h, 200.0, 25.0)[:, None]
    alpha = concentration * weights / weights.sum(axis=1, keepdims=True)
    gam = rng.gamma(np.where(alpha > 0, alpha, 1.0)) * (alpha > 0)
    gam_sum = gam.sum(axis=1, keepdims=True)
    p = gam / np.where(gam_sum > 0, gam_sum, 1.0)
    depth = np.round(rng.lognormal(np.log(35000.0), 0.4, size=n)).clip(15000, 80000).astype(np.int64)
    counts = rng.multinomial(depth, p).astype(np.float64)
    # a sample whose draw lost every read (vanishingly rare) keeps one read of its top species
    empty = counts.sum(axis=1) == 0
    counts[empty, np.argmax(p[empty], axis=1)] = 1.0
    X = counts / counts.sum(axis=1, keepdims=True)

    width = len(str(max(n_healthy, n_dysbiotic, 1)))
    ids = [f"DEMO-H{i + 1:0{width}d}" for i in range(n_healthy)] + [
        f"DEMO-D{i + 1:0{width}d}" for i in range(n_dysbiotic)
    ]
    obs = pd.DataFrame(
        {
            "group": pd.Categorical(np.where(is_h, "healthy", "dysbiotic"), categories=list(DEMO_GROUPS)),
            "subject_id": [f"SUBJ-{i + 1:03d}" for i in rng.permutation(n)],
            "age": rng.integers(22, 76, size=n),
            "sex": pd.Categorical(rng.choice(["female", "male"], size=n), categories=["female", "male"]),
            "synthetic": True,
        },
        index=pd.Index(ids, name="sample"),
    )
    var = table.drop(columns=["w_h", "p_h", "w_d", "p_d"]).copy()
    var.index = pd.Index(var["species"].to_list())
    for col in (*_RANKS, "strain", "taxon", "rank", "lineage", "demo_role", "gmhi_set"):
        var[col] = var[col].astype("category")  # NaN where unknown; writable to .h5ad
    title = "SYNTHETIC demo cohort (invented data — not real people)"
    params = {"n_healthy": n_healthy, "n_dysbiotic": n_dysbiotic, "seed": int(seed)}
    adata = ad.AnnData(X=X, obs=obs, var=var, layers={"counts": counts})
    adata.uns["synthetic"] = True
    adata.uns["title"] = title
    adata.uns["description"] = (
        "SYNTHETIC data from gutaxis.demo.demo_cohort: Dirichlet-multinomial draws over real gut species "
        "names; healthy and dysbiotic groups differ in the direction of published contrasts only. "
        "Describes no real person; not for scientific inference."
    )
    adata.uns["provenance"] = {
        "gutaxis_version": __version__,
        "reader": "gutaxis.demo.demo_cohort",
        "source": "synthetic (generated, no input file)",
        "sha256": None,
        "params": params,
        "filtered": [],
    }
    return adata
