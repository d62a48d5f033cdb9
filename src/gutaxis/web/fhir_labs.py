"""The import of lab Observations (CRP, faecal calprotectin) from a FHIR R4B Bundle.

Holds :func:`read_lab_bundle` (all or nothing: every entry that cannot be read is named) and the
:class:`LabValue` it returns, read on the Your data page into the person's lab results. Kept separate
from the export (:mod:`gutaxis.web.fhir`) because it reads another party's Bundle rather than writing
ours; the two share only the value sets (:mod:`gutaxis.web.fhir_valuesets`). Every public name stays
importable from :mod:`gutaxis.web.fhir`.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from ..errors import InputError
from .fhir_valuesets import valuesets

__all__ = ["LabValue", "read_lab_bundle"]


class LabValue:
    """One lab value read from a Bundle entry."""

    __slots__ = ("entry", "marker", "measured_on", "source_id", "value")

    def __init__(self, entry: int, marker: str, value: float, measured_on: datetime, source_id: str):
        self.entry, self.marker, self.value, self.measured_on, self.source_id = (
            entry,
            marker,
            value,
            measured_on,
            source_id,
        )

    def __repr__(self) -> str:
        return (
            f"LabValue(entry={self.entry}, marker={self.marker!r}, value={self.value!r}, "
            f"measured_on={self.measured_on!r})"
        )


_LAB_STATUS = ("final", "amended", "corrected")


def read_lab_bundle(data: bytes | str, *, source: str = "the FHIR file") -> list[LabValue]:
    """The CRP and faecal-calprotectin values of a FHIR R4B Bundle (all or nothing).

    Every Observation must carry LOINC 1988-5 (CRP, ``mg/L``) or 38445-3 (faecal calprotectin,
    ``ug/g``) with a UCUM ``valueQuantity``, a final status and an effective date; any other entry
    type is passed over. Raises :class:`~gutaxis.errors.InputError` naming each entry that is wrong.
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    from ..lifestyle.person import MARKERS

    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InputError("is not JSON", source=source, hint="export the results as a FHIR Bundle (.json)") from None
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise InputError("is not a FHIR Bundle (resourceType must be 'Bundle')", source=source)
    try:
        Bundle.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InputError(f"is not a valid FHIR R4B Bundle: {where}: {first['msg']}", source=source) from None
    vs = valuesets()
    by_code = {(s["system"], s["code"]): s for s in vs["observations"].values() if s.get("marker")}
    out: list[LabValue] = []
    problems: list[str] = []
    today = datetime.now()
    for n, entry in enumerate(raw.get("entry") or [], start=1):
        res = entry.get("resource") or {}
        if res.get("resourceType") != "Observation":
            continue
        name = f"entry {n} (Observation/{res.get('id', '?')})"
        codings = (res.get("code") or {}).get("coding") or []
        spec = next(
            (by_code[(c.get("system"), c.get("code"))] for c in codings if (c.get("system"), c.get("code")) in by_code),
            None,
        )
        if spec is None:
            found = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "no coding"
            problems.append(f"{name}: code {found} is not CRP (LOINC 1988-5) or faecal calprotectin (LOINC 38445-3)")
            continue
        if res.get("status") not in _LAB_STATUS:
            problems.append(f"{name}: status {res.get('status')!r} is not a final result ({', '.join(_LAB_STATUS)})")
            continue
        q = res.get("valueQuantity")
        if not isinstance(q, dict) or not isinstance(q.get("value"), (int, float)):
            problems.append(f"{name}: no valueQuantity with a number")
            continue
        if q.get("system") != vs["ucum_system"] or q.get("code") != spec["unit"]:
            problems.append(
                f"{name}: unit {q.get('system')}|{q.get('code')} is wrong for {spec['display']}; "
                f"give it in UCUM {spec['unit']}"
            )
            continue
        when_text = res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start") or res.get("issued")
        try:
            when = _parse_when(when_text)
        except ValueError:
            problems.append(f"{name}: no effective date (effectiveDateTime)")
            continue
        if when > today:
            problems.append(f"{name}: the date measured ({when:%Y-%m-%d}) is in the future")
            continue
        marker = spec["marker"]
        unit, lo, hi = MARKERS[marker]
        value = float(q["value"])
        if not lo <= value <= hi:
            problems.append(f"{name}: {value:g} {unit} is outside the possible {lo:g}-{hi:g} for {marker}")
            continue
        out.append(LabValue(n, marker, value, when, str(res.get("id") or n)))
    if problems:
        raise InputError(
            "has entries that cannot be read: " + "; ".join(problems),
            source=source,
            hint="nothing was imported; fix or remove these entries",
        )
    if not out:
        raise InputError(
            "holds no CRP (LOINC 1988-5) or faecal calprotectin (LOINC 38445-3) Observation", source=source
        )
    return out


def _parse_when(text) -> datetime:
    """A FHIR date or dateTime as a naive local datetime (a date alone is midnight)."""
    if not isinstance(text, str) or not text:
        raise ValueError("no date")
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time())
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.astimezone().replace(tzinfo=None) if dt.tzinfo else dt
