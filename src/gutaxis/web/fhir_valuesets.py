"""Our FHIR value sets and the checks against them: what a resource of ours may carry.

Holds :func:`valuesets` (the codes, units and statuses we emit, from ``gutaxis/data/fhir_valuesets.json``,
each with its source), :func:`value_set_problems` (what in a resource's JSON is outside them),
:func:`validate` (``fhir.resources`` R4B structure first, then our value sets) and :class:`FhirRefused`.
Kept separate because both sides of the FHIR exchange use them: the export of a person's records
(:mod:`gutaxis.web.fhir`) and the lab import (:mod:`gutaxis.web.fhir_labs`). Every public name stays
importable from :mod:`gutaxis.web.fhir`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["FhirRefused", "validate", "value_set_problems", "valuesets"]


class FhirRefused(ValueError):
    """A resource failed the library's structural validation or our value-set check."""

    def __init__(self, what: str, problems: list[str]):
        self.what, self.problems = what, problems
        super().__init__(f"{what}: " + "; ".join(problems))


@cache
def valuesets() -> dict:
    """The codes and units we emit (package data, with their sources)."""
    return json.loads((resources.files("gutaxis") / "data" / "fhir_valuesets.json").read_text(encoding="utf-8"))


def _allowed_codings() -> set[tuple[str, str]]:
    vs = valuesets()
    out = {(o["system"], o["code"]) for o in vs["observations"].values()}
    out |= {(q["system"], q["code"]) for q in vs["questionnaires"].values()}
    for system, spec in vs["other_codings"].items():
        out |= {(system, c) for c in spec["codes"]}
    return out


# --------------------------------------------------------------------------- checks
def _walk(node, path: str = ""):
    """Every (path, dict) inside a resource's JSON."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def value_set_problems(res: dict) -> list[str]:
    """What in ``res`` (a resource's JSON) is outside our value sets; empty when all is ours."""
    vs = valuesets()
    problems: list[str] = []
    allowed = _allowed_codings()
    rtype = res.get("resourceType", "?")
    for field in ("status", "intent", "lifecycleStatus", "type"):
        key = f"{rtype}.{field}"
        if key in vs["status"] and field in res and res[field] not in vs["status"][key]:
            problems.append(f"{key} {res[field]!r} is not one of {', '.join(vs['status'][key])}")
    for path, node in _walk(res):
        is_coding = "system" in node and "code" in node and not {"value", "unit"} & node.keys()
        if is_coding and (node["system"], node["code"]) not in allowed:
            problems.append(f"{path}: code {node['system']}|{node['code']} is not in our value sets")
        is_quantity = (
            "value" in node and ("unit" in node or "code" in node) and isinstance(node.get("value"), (int, float))
        )
        if is_quantity and (node.get("system") != vs["ucum_system"] or node.get("code") not in vs["units"]):
            problems.append(f"{path}: unit {node.get('system')}|{node.get('code')} is not a UCUM unit we emit")
    if rtype == "Observation":
        codings = (res.get("code") or {}).get("coding") or []
        for spec in vs["observations"].values():
            if any(c.get("system") == spec["system"] and c.get("code") == spec["code"] for c in codings):
                q = res.get("valueQuantity")
                if spec["unit"] is None:
                    if q is not None or not isinstance(res.get("valueInteger"), int):
                        problems.append(f"Observation {spec['code']} ({spec['display']}) takes a valueInteger")
                elif q is None or q.get("code") != spec["unit"]:
                    problems.append(
                        f"Observation {spec['code']} ({spec['display']}) must be in {spec['unit']}, "
                        f"not {(q or {}).get('code')!r}"
                    )
    return problems


def validate(res: dict) -> dict:
    """``res`` parsed by ``fhir.resources`` (R4B) and checked against our value sets; the JSON back.

    Raises :class:`FhirRefused` naming every problem."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    rtype = res.get("resourceType")
    what = f"{rtype}/{res.get('id', '?')}"
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError):
        raise FhirRefused(what, [f"{rtype!r} is not an R4B resource type"]) from None
    try:
        obj = model.model_validate(res)
    except ValidationError as exc:
        raise FhirRefused(what, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]) from None
    problems = value_set_problems(res)
    if problems:
        raise FhirRefused(what, problems)
    return json.loads(obj.model_dump_json(exclude_none=True))
