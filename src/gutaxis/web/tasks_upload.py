"""The ``parse_profile`` job: read an uploaded stool profile and compute the gut health card.

Every number comes from the package: :func:`gutaxis.read_profile` reads the file (MetaPhlAn
2/3/4, BIOM v1/v2, ``.qza``, CSV/TSV), :func:`gutaxis.measure.health_indices` gives GMHI,
alpha diversity and the panel shares, :func:`gutaxis.measure.percentiles` places them among
the healthy reference of ``settings.reference`` when there is one. This module only lays the
results out in plain language (the card is stored as JSON in ``Upload.result`` and
``Job.result``). A file's problem (an :class:`~gutaxis.errors.InputError`, which names the
row, column or sample) becomes the job's message, with the file named as the person named it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

from .._validation import finite_or_none as _finite
from ..errors import GutaxisError, InputError
from . import jobs
from .models import Upload
from .upload_safety import (
    HDF5_MAGIC,
    TEXT_SUFFIXES,
    UploadRefused,
    check_hdf5_sizes,
    suffix_of,
    unpack_gzip,
)

__all__ = ["CARD_VERSION", "INDEX_TEXT", "LARGE_UNCLASSIFIED", "REFERENCE_MISSING", "build_card", "parse_profile"]

CARD_VERSION = 1
#: an unclassified share from which the card opens with it
LARGE_UNCLASSIFIED = 0.2
#: index column -> (plain heading, what it means); the order of the card
INDEX_TEXT = {
    "GMHI": (
        "Gut Microbiome Health Index (GMHI)",
        (
            "Weighs species seen more often in healthy people against species seen more often in people with a "
            "disease. Above 0 the profile looks more like those of healthy people, below 0 more like those of "
            "people with a disease."
        ),
    ),
    "shannon": (
        "Diversity (Shannon index)",
        ("How many kinds of bacteria there are and how evenly they share the gut together; higher means more diverse."),
    ),
    "richness": (
        "Number of species found",
        ("How many different species the profile lists; it also depends on how deeply the sample was sequenced."),
    ),
    "inverse_simpson": (
        "Effective number of common species",
        (
            "How many equally common species would give the same diversity; higher means the gut is "
            "shared by more species."
        ),
    ),
    "simpson": (
        "Chance that two bacteria differ (Simpson index)",
        "The chance that two bacteria picked at random belong to different species, from 0 to 1.",
    ),
    "pielou": (
        "Evenness (Pielou index)",
        "How evenly the species share the gut, from 0 to 1; low means a few species dominate.",
    ),
    "chao1": (
        "Estimated number of species (Chao1)",
        "The species found plus an estimate of rare ones missed, from the species seen once or twice.",
    ),
}
REFERENCE_MISSING = (
    "Comparisons with healthy people (percentiles) need a healthy reference, and this app has none set up. "
    "Whoever runs the app can build one from a cohort with healthy people labelled, e.g. "
    "`gutaxis reference cohort.biom --metadata samples.tsv --healthy Phenotype=Healthy -o reference.json`, "
    "and start the app with `gutaxis serve --reference reference.json`."
)
_TEMP_STEM = "profile"


@jobs.handler("parse_profile")
def parse_profile(db, job, settings, progress) -> dict:
    """Read the upload of ``job.params["upload_id"]`` and store its gut card on the upload."""
    upload = db.get(Upload, int((job.params or {}).get("upload_id", 0) or 0))
    if upload is None or upload.person_id != job.person_id:
        raise GutaxisError("The uploaded file of this job no longer exists; upload it again.")
    try:
        card = build_card(upload, settings, progress)
    except GutaxisError as exc:
        upload.status, upload.error, upload.result = "failed", str(exc), None
        db.commit()
        raise
    upload.status, upload.error, upload.result = "done", "", card
    return card


def build_card(upload: Upload, settings, progress=lambda message: None) -> dict:
    """The gut card of ``upload`` (a JSON-able dict); :class:`InputError` naming the upload's file."""
    stored = settings.upload_dir / upload.stored_name
    name = upload.filename
    if not stored.is_file():
        raise InputError("the stored file is missing", source=name, hint="upload the profile again")
    from .person_keys import readable

    with tempfile.TemporaryDirectory(prefix=".job-", dir=settings.upload_dir) as tmp:
        try:
            progress("reading the profile")
            with readable(upload, stored) as plain:  # a sealed file (gutaxis.web.person_keys) opened for the read
                adata, local = _read(plain, name, Path(tmp), settings)
            if adata.n_obs != 1:
                shown = ", ".join(map(str, list(adata.obs_names[:5]))) + (", ..." if adata.n_obs > 5 else "")
                raise InputError(
                    f"this file holds {adata.n_obs} samples ({shown}); the gut card describes one person's sample",
                    source=local,
                    hint="upload the profile of your own sample alone (one sample per file)",
                )
            progress("computing diversity, GMHI and the bacterial groups")
            card = _card(adata, local, name, settings, progress)
        except UploadRefused as exc:
            raise InputError(exc.message) from None
        except GutaxisError as exc:
            raise InputError(_named(str(exc), Path(tmp), name)) from None
    return card


def _named(message: str, tmp: Path, name: str) -> str:
    """A message with the job's temporary paths replaced by the file's own name."""
    for p in sorted(tmp.iterdir(), key=lambda q: -len(str(q))):
        message = message.replace(str(p), name)
    return message.replace(str(tmp), name)


def _read(stored: Path, name: str, tmp: Path, settings):
    """``(adata, local path)``: the stored upload read by :func:`gutaxis.read_profile` from a job-local copy."""
    from .. import read_profile

    suffix = suffix_of(name)
    fmt = None
    if suffix.endswith(".gz"):
        inner = suffix[: -len(".gz")]
        local = tmp / f"{_TEMP_STEM}{inner if inner in TEXT_SUFFIXES else '.txt'}"
        unpack_gzip(stored, local, settings, shown=name)  # bounded by settings.max_unpacked
    else:
        local = tmp / f"{_TEMP_STEM}{suffix or '.txt'}"
        try:
            os.link(stored, local)
        except OSError:
            shutil.copyfile(stored, local)
        if suffix == ".biom":
            fmt = "biom"
            with open(local, "rb") as handle:
                if handle.read(8) == HDF5_MAGIC:
                    check_hdf5_sizes(local, settings, shown=name)
        elif suffix == ".qza":
            fmt = "qza"
            _check_qza_tables(local, tmp, name, settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what the reader left out is in uns["provenance"]["filtered"]
        adata = read_profile(local, format=fmt)
    return adata, local


def _check_qza_tables(local: Path, tmp: Path, name: str, settings) -> None:
    """HDF5 tables inside a ``.qza`` declare bounded sizes (the request checked the zip itself)."""
    with zipfile.ZipFile(local) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".biom") and info.file_size <= settings.max_unpacked:
                part = tmp / "member.biom"
                with archive.open(info) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                with open(part, "rb") as handle:
                    if handle.read(8) == HDF5_MAGIC:
                        check_hdf5_sizes(part, settings, shown=f"{name} ({info.filename})")
                part.unlink()


def number_text(key: str, v: float | None) -> str:
    """How the card writes an index value."""
    if v is None:
        return "not available"
    if key in ("richness",) or (key == "chao1" and float(v).is_integer()):
        return f"{v:.0f}"
    if key == "chao1":
        return f"{v:.1f}"
    return f"{v:.2f}"


def percent_text(fraction: float | None) -> str:
    """A share (0-1) as a percentage for the card."""
    if fraction is None:
        return "not available"
    p = 100.0 * fraction
    if p == 0:
        return "0%"
    if p < 0.01:
        return "below 0.01%"
    if p < 10:
        return f"{p:.2f}%"
    return f"{p:.1f}%"


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def percentile_text(p: float | None) -> str | None:
    if p is None:
        return None
    k = round(p)
    return f"{ordinal(k)} percentile of healthy people: higher than about {k}% of them (50th is typical)"


def _card(adata, local: Path, name: str, settings, progress) -> dict:
    from ..measure import health_indices, percentiles
    from ..measure.panels import load_panels

    prov = adata.uns.get("provenance", {})
    sample = str(adata.obs_names[0])
    if sample == _TEMP_STEM:  # a MetaPhlAn file without a sample label is named after its file
        base = name[:-3] if name.lower().endswith(".gz") else name
        sample = base.rpartition(".")[0] or base
    unclassified = None
    if "unclassified_fraction" in adata.obs.columns:
        u = _finite(adata.obs["unclassified_fraction"].iloc[0])
        if u is not None:
            unclassified = {
                "fraction": u,
                "percent": round(100 * u),
                "text": f"{100 * u:.0f}%",
                "large": u >= LARGE_UNCLASSIFIED,
            }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = health_indices(adata)
    row = table.iloc[0]

    reference, reference_note, pct = None, None, {}
    if settings.reference is not None:
        progress("comparing with healthy people")
        from ..measure import HealthyReference

        try:
            ref = HealthyReference.from_json(settings.reference)
        except GutaxisError:
            reference_note = (
                "The healthy reference set up for this app cannot be read, so no comparison with "
                "healthy people is shown; tell whoever runs the app."
            )
        else:
            try:
                p = percentiles(table, ref)
            except InputError:
                reference_note = (
                    "The healthy reference set up for this app holds none of these measures, so no "
                    "comparison with healthy people is shown."
                )
            else:
                pct = {str(c): _finite(p[c].iloc[0]) for c in p.columns}
                reference = {"source": ref.source, "n_samples": ref.n_samples}
    else:
        reference_note = REFERENCE_MISSING

    indices = []
    for key, (label, meaning) in INDEX_TEXT.items():
        if key not in table.columns:
            continue
        v = _finite(row[key])
        if v is None and key == "chao1":
            continue  # needs read counts: not shown rather than shown empty
        indices.append(
            {
                "key": key,
                "label": label,
                "meaning": meaning,
                "value": v,
                "text": number_text(key, v),
                "percentile": pct.get(key),
                "percentile_text": percentile_text(pct.get(key)),
            }
        )

    panels = []
    entries = load_panels().set_index("entry")
    not_measurable = (table.attrs.get("panels") or {}).get("not_measurable") or {}
    for key in entries.index:
        if key not in table.columns:
            continue
        e = entries.loc[key]
        v = _finite(row[key])
        text = "not measurable in this profile" if key in not_measurable else percent_text(v)
        panels.append(
            {
                "key": key,
                "label": str(e["taxon"]).split(" (")[0],
                "group": str(e["panel"]),
                "role": str(e["role"]),
                "direction": str(e["direction_in_disease"]),
                "caveat": str(e["caveat"]),
                "value": v,
                "text": text,
                "percentile": pct.get(key),
                "percentile_text": percentile_text(pct.get(key)),
            }
        )

    notes = [str(n) for n in table.attrs.get("notes", [])]

    def names(ids) -> str:
        return ", ".join(str(entries.loc[k, "taxon"]).split(" (")[0] if k in entries.index else str(k) for k in ids)

    absent = [
        k
        for f in table.attrs.get("filtered", [])
        if f.get("what") == "panel entries"
        for k in f.get("ids", [])
        if k not in not_measurable
    ]
    if absent:
        notes.append(f"Not found in this profile (shown as 0%): {names(absent)}.")
    if not_measurable:  # the profile's features cannot be matched to these taxa: no number rather than a false 0
        notes.append(
            f"Not measurable in this profile (no feature matches their taxa; a table of unnamed "
            f"features needs its taxonomy): {names(not_measurable)}."
        )
    return {
        "version": CARD_VERSION,
        "filename": name,
        "sample": sample,
        "format": prov.get("detected_format"),
        "format_reason": prov.get("format_reason"),
        "n_features": int(adata.n_vars),
        "unclassified": unclassified,
        "indices": indices,
        "panels": panels,
        "notes": notes,
        "reference": reference,
        "reference_note": reference_note,
        "gmhi_citation": (table.attrs.get("citation") or {}).get("GMHI"),
    }
