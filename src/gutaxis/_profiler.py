"""Which profiler made a profile: read from the reader's provenance, compared between a profile
and a healthy reference.

Values of the same taxon differ between profilers and their databases (MetaPhlAn 2's markers
against MetaPhlAn 3's or 4's SGBs, 16S pipelines), so a percentile against a reference made with
another profiler is read with care: the report warns when the two differ.

The MetaPhlAn version comes from the database named on the ``#mpa_v..`` line: ``mpa_v20_m200``
is MetaPhlAn 2, ``mpa_v296_...`` MetaPhlAn 2.9, ``mpa_v30_...``/``mpa_v31_...`` MetaPhlAn 3,
``mpa_vJan21_...``, ``mpa_vOct22_...``, ``mpa_vJun23_...`` (SGB databases) MetaPhlAn 4. Without
that line the profiler is ``"MetaPhlAn (version unknown)"``; for other formats ``"unknown"``
unless given.
"""

from __future__ import annotations

import re

__all__ = ["UNKNOWN", "compare_profilers", "profiler_family", "profiler_from_database", "profiler_of"]

UNKNOWN = "unknown"
_MPA_NUMERIC = re.compile(r"^mpa_v(\d)(\d+)?")
_MPA_SGB = re.compile(r"^mpa_v[A-Z][a-z]{2}\d{2}_CHOCOPhlAnSGB", re.IGNORECASE)


def profiler_from_database(database: str | None) -> str:
    """``"MetaPhlAn 3 (mpa_v30_CHOCOPhlAn_201901)"`` from a MetaPhlAn database name."""
    if not database:
        return "MetaPhlAn (version unknown)"
    db = str(database).split(",")[0].strip()
    if _MPA_SGB.match(db):
        return f"MetaPhlAn 4 ({db})"
    m = _MPA_NUMERIC.match(db)
    if m:
        major = m.group(1)
        if db.startswith("mpa_v29"):
            return f"MetaPhlAn 2.9 ({db})"
        return f"MetaPhlAn {major} ({db})"
    return f"MetaPhlAn ({db})"


def profiler_of(data) -> str:
    """The profiler of a cohort read by gutaxis (``uns["provenance"]``), or :data:`UNKNOWN`."""
    uns = getattr(data, "uns", None)
    prov = (uns or {}).get("provenance") if uns is not None else None
    if not isinstance(prov, dict):
        return UNKNOWN
    given = prov.get("profiler")
    if isinstance(given, str) and given.strip():
        return given.strip()
    upstream = prov.get("upstream") if isinstance(prov.get("upstream"), dict) else None
    reader = prov.get("reader")
    if reader != "metaphlan" and upstream is not None:  # an .h5ad written from a MetaPhlAn read
        prov, reader = upstream, upstream.get("reader")
    if reader == "metaphlan":
        return profiler_from_database(prov.get("metaphlan_database"))
    return UNKNOWN


def profiler_family(profiler: str | None) -> str | None:
    """The part compared (``"MetaPhlAn 3"`` of ``"MetaPhlAn 3 (mpa_v30_...)"``); None when unknown."""
    if not profiler or str(profiler).strip().lower() in (UNKNOWN, "", "none") or "version unknown" in str(profiler):
        return None
    return str(profiler).split("(")[0].strip().casefold() or None


def compare_profilers(profile: str | None, reference: str | None) -> tuple[str, str]:
    """``("same" | "differ" | "unknown", sentence)`` for a profile against its reference."""
    a, b = profiler_family(profile), profiler_family(reference)
    if a is not None and b is not None:
        if a == b:
            return "same", f"The profile and the healthy reference were made with the same profiler ({reference})."
        return "differ", (
            f"The profile was made with {profile} but the healthy reference with {reference}: "
            "profilers and their databases detect and name taxa differently, so the percentiles "
            "compare values that are not strictly comparable. Use a reference made with the "
            "profile's profiler where one exists."
        )
    return "unknown", (
        f"The profiler of the {'profile' if a is None else 'healthy reference'} is not known "
        f"(profile: {profile or UNKNOWN}; reference: {reference or UNKNOWN}): check that both were "
        "made with the same profiler before reading the percentiles."
    )
