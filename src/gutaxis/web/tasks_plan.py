"""The ``build_plan`` job: a plan draft from the person's records, as ``gutaxis plan`` builds it.

The records shared with the requesting dietitian are written into a temporary person's folder
and read back with :func:`gutaxis.lifestyle.read_person` (:mod:`gutaxis.web.records`); the food
data is chosen by :func:`gutaxis.lifestyle.food_database_for` from the app's settings (the CLI's
``--fndds/--sr28/--usda/--nova``) and the plan is :func:`gutaxis.lifestyle.build_plan` with
``settings.plan_draws`` model patients. The result is stored as a draft :class:`PlanVersion`
(see :func:`plan_content` for what it holds).
"""

from __future__ import annotations

import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import GutaxisError
from . import audit, jobs
from .access import active_consent
from .models import Job, PlanVersion, User
from .records import SCOPE_FILES, person_from_records

__all__ = ["build_plan_job", "clean", "next_number", "plan_content"]


def clean(v):
    """A JSON-safe copy: numpy scalars as Python numbers, tuples as lists, NaN/inf as None."""
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            v = v.item()
        except (ValueError, TypeError):
            return str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return str(v)


def _item(sg) -> dict:
    return {
        "id": sg.id,
        "title": sg.title,
        "text": sg.text,
        "grade": sg.grade,
        "citation": sg.citation,
        "why": sg.why,
        "target": "",
        "general_target": sg.target or "",
        "cautions": list(sg.cautions),
        "discuss": sg.discuss or "",
    }


def plan_content(plan) -> dict:
    """What a plan version stores: ``items`` (the suggestions shown, in order: id, title, text, grade,
    citation, why, target — the dietitian's individual target, empty at first —, cautions),
    ``limits``, ``withheld``, ``not_evaluated``, ``notes``, ``effect`` (:meth:`SimulatedEffect.to_dict`),
    ``coverage`` (the meal log's coverage message), ``disclaimer``, ``food_table`` and ``drafted``
    (id and title of every suggestion as built, which the simulation covers)."""
    from ..lifestyle.plan import NOT_AVAILABLE

    eff = plan.effect.to_dict() if plan.effect is not None else {"available": False, "message": NOT_AVAILABLE}
    cov = getattr(plan.assessment, "coverage", None) or {}
    return clean(
        {
            "items": [_item(s) for s in plan.suggestions],
            "drafted": [{"id": s.id, "title": s.title} for s in plan.suggestions],
            "limits": [
                {"id": s.id, "title": s.title, "text": s.text, "grade": s.grade, "citation": s.citation}
                for s in plan.limits
            ],
            "withheld": [
                {"id": w.id, "title": w.title, "reason": w.reason, "grade": w.grade, "citation": w.citation}
                for w in plan.withheld
            ],
            "not_evaluated": [
                {"id": n.get("id"), "title": n.get("title"), "reason": n.get("reason")} for n in plan.not_evaluated
            ],
            "notes": list(plan.notes),
            "effect": eff,
            "coverage": cov.get("message", ""),
            "disclaimer": plan.disclaimer,
            "food_table": plan.assessment.foods_note,
            "synthetic": bool(plan.person.synthetic),
        }
    )


def next_number(db: Session, person_id: int) -> int:
    return int(db.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.person_id == person_id)) or 0) + 1


@jobs.handler("build_plan")
def build_plan_job(db: Session, job: Job, settings, progress) -> dict:
    """Build a draft plan for ``job.person_id`` from the records shared with ``job.requested_by``."""
    from ..lifestyle.fooddb import food_database_for
    from ..lifestyle.plan import build_plan

    person = db.get(User, job.person_id)
    dietitian = db.get(User, job.requested_by) if job.requested_by is not None else None
    if person is None or person.role != "person" or dietitian is None:
        raise GutaxisError("this person's records are no longer available")
    scopes = None
    if dietitian.id != person.id:  # consent is checked again: it may have changed since the request
        c = active_consent(db, person.id, dietitian.id)
        scopes = c.scopes.split(",") if c is not None else []
        if "plan" not in scopes:
            raise GutaxisError("the person no longer shares their plan with you")
    progress("reading the records")
    p = person_from_records(db, person, base=settings.data_dir / "tmp", upload_dir=settings.upload_dir, scopes=scopes)
    used = [
        s
        for s, f in SCOPE_FILES.items()
        if (f == "meals" and p.meals is not None)
        or (f == "stress" and p.stress is not None)
        or (f == "symptoms" and p.symptoms is not None)
        or (f == "profile" and p.profile is not None)
    ]
    if dietitian.id != person.id:
        audit.record(db, dietitian.id, person.id, "read", "plan", f"draft built from {', '.join(used)}")
        db.commit()
    progress("loading the food data")
    table, note = food_database_for(
        p, fndds=settings.fndds, sr28=settings.sr28, usda_path=settings.usda, nova_path=settings.nova
    )
    progress(f"scores, rules and the twin ({settings.plan_draws} model patients)")
    plan = build_plan(p, foods=table, foods_note=note, reference=settings.reference, n_draws=settings.plan_draws)
    progress("saving the draft")
    content = plan_content(plan)
    content["built_from"] = used
    pv = PlanVersion(
        person_id=person.id, number=next_number(db, person.id), status="draft", content=content, created_by=dietitian.id
    )
    db.add(pv)
    db.flush()  # committed by run_job with the job's "done": a worker killed in between leaves neither
    return {"plan_version_id": pv.id, "number": pv.number, "items": len(content["items"])}
