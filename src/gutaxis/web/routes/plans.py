"""The signed plan: drafts built by a job, edited by the dietitian, signed, compared; the person's view.

A draft (:class:`PlanVersion` ``status="draft"``) comes from the ``build_plan`` job
(:mod:`gutaxis.web.tasks_plan`). The dietitian reorders, removes, rewrites items and sets an
individual target per item (``POST .../edit`` with ``op`` = ``up``, ``down``, ``remove``, ``text``,
``target`` or ``copy``), then signs it: ``signed_by``, ``signer_name`` and ``signed_at`` come from
the session, never from the form, and ``sha256`` is :func:`plan_hash`. A signed version never
changes: an edit of it makes a new draft whose ``parent_id`` is the signed one. The person sees
signed versions only (a draft's id answers 404).

Dietitian (scope ``plan``): ``POST /clients/{pid}/plan/draft``, ``GET /clients/{pid}/plan``,
``GET /clients/{pid}/plan/compare?a=&b=``, ``GET /clients/{pid}/plan/{vid}``,
``POST /clients/{pid}/plan/{vid}/edit``, ``POST /clients/{pid}/plan/{vid}/sign``.
Person: ``GET /plan``, ``GET /plan/{vid}``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import cast

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from .. import jobs
from ..access import access, deny
from ..deps import dietitian_user, get_db, person_user, render
from ..idempotency import new_client_id, valid_client_id
from ..models import Job, PlanVersion, User, utcnow
from ..tasks_plan import next_number
from .consent import client_scopes, display_name
from .sharing import shared_notes

router = APIRouter()

__all__ = [
    "EDIT_OPS",
    "apply_edit",
    "canonical_json",
    "compare_versions",
    "plan_hash",
    "router",
    "signed_payload",
    "verify",
]

EDIT_OPS = ("up", "down", "remove", "text", "target", "copy")
MAX_ITEM_TEXT = 3000
MAX_TARGET = 300


# --------------------------------------------------------------------------- signing
def canonical_json(obj) -> bytes:
    """The canonical JSON that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_payload(pv: PlanVersion) -> dict:
    """What a signature covers: the content, the version number, the person, the signer's name and the time."""
    return {
        "content": pv.content,
        "number": pv.number,
        "person_id": pv.person_id,
        "signer": pv.signer_name,
        "signed_at": pv.signed_at.isoformat() if pv.signed_at else None,
    }


def plan_hash(pv: PlanVersion) -> str:
    """sha256 (hex) of :func:`canonical_json` of :func:`signed_payload`."""
    return hashlib.sha256(canonical_json(signed_payload(pv))).hexdigest()


def verify(pv: PlanVersion) -> bool:
    """True when a signed version still hashes to the sha256 stored when it was signed."""
    return pv.status == "signed" and bool(pv.sha256) and plan_hash(pv) == pv.sha256


# --------------------------------------------------------------------------- editing
def apply_edit(
    content: dict, op: str, item: str = "", pos: int | None = None, text: str = "", target: str = ""
) -> dict:
    """A copy of ``content`` with one edit applied to its ``items``.

    ``up``/``down`` move ``item`` when it is still at ``pos`` (a repeated submit moves it once);
    ``remove`` drops it; ``text`` and ``target`` set its text or individual target; ``copy`` changes
    nothing (a new draft of a signed version).
    """
    if op not in EDIT_OPS:
        raise HTTPException(400, "Unknown change: use " + ", ".join(EDIT_OPS) + ".")
    new = copy.deepcopy(content)
    items = new.setdefault("items", [])
    if op == "copy":
        return new
    idx = next((i for i, it in enumerate(items) if it.get("id") == item), None)
    if idx is None:
        if op == "remove":
            return new  # removed already
        raise HTTPException(409, "That item is not in this version (any more): reload the page.")
    if op in ("up", "down"):
        if pos is not None and pos != idx:
            return new  # moved already (a repeated submit)
        j = idx - 1 if op == "up" else idx + 1
        if 0 <= j < len(items):
            items[idx], items[j] = items[j], items[idx]
    elif op == "remove":
        items.pop(idx)
    elif op == "text":
        value = text.replace("\r\n", "\n").strip()
        if not value:
            raise HTTPException(400, "An item needs a text; remove it instead.")
        if len(value) > MAX_ITEM_TEXT:
            raise HTTPException(400, f"The text is too long: at most {MAX_ITEM_TEXT} characters.")
        items[idx]["text"] = value
    elif op == "target":
        value = " ".join(target.split())
        if len(value) > MAX_TARGET:
            raise HTTPException(400, f"The target is too long: at most {MAX_TARGET} characters.")
        items[idx]["target"] = value
    return new


def compare_versions(a: dict, b: dict) -> dict:
    """Items added, removed, changed (text, target, title) and moved from content ``a`` to ``b``."""
    ia = {it["id"]: (i, it) for i, it in enumerate(a.get("items", []))}
    ib = {it["id"]: (i, it) for i, it in enumerate(b.get("items", []))}
    added = [ib[k][1] for k in sorted((k for k in ib if k not in ia), key=lambda k: ib[k][0])]
    removed = [ia[k][1] for k in sorted((k for k in ia if k not in ib), key=lambda k: ia[k][0])]
    common_a = [k for k in sorted(ia, key=lambda k: ia[k][0]) if k in ib]
    common_b = [k for k in sorted(ib, key=lambda k: ib[k][0]) if k in ia]
    changed, moved = [], []
    for k in common_b:
        old, new = ia[k][1], ib[k][1]
        fields = [
            {"field": f, "old": old.get(f, ""), "new": new.get(f, "")}
            for f in ("title", "text", "target")
            if (old.get(f) or "") != (new.get(f) or "")
        ]
        if fields:
            changed.append({"id": k, "title": new.get("title", k), "fields": fields})
        if common_a.index(k) != common_b.index(k):
            moved.append({"id": k, "title": new.get("title", k), "old": ia[k][0] + 1, "new": ib[k][0] + 1})
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "moved": moved,
        "same": not (added or removed or changed or moved),
    }


# --------------------------------------------------------------------------- dietitian routes
def _version(db: Session, pid: int, vid: int) -> PlanVersion | None:
    pv = db.get(PlanVersion, vid)
    return pv if pv is not None and pv.person_id == pid else None


def _version_or_deny(db: Session, user: User, pid: int, vid: int, what: str = "") -> PlanVersion:
    """The version ``vid`` of person ``pid``, or 404 after one ``denied`` row (whoever asks)."""
    pv = _version(db, pid, vid)
    if pv is None:
        deny(db, user, "plan", f"plan id {vid} {what}".strip(), subject=pid)
    return pv


def _label(pv: PlanVersion | None, vid) -> str:
    return f"plan v{pv.number}" if pv is not None else f"plan id {vid}"


def _plan_jobs(db: Session, pid: int, limit: int = 5) -> Sequence[Job]:
    return db.scalars(
        select(Job).where(Job.person_id == pid, Job.kind == "build_plan").order_by(Job.id.desc()).limit(limit)
    ).all()


@router.post("/clients/{pid}/plan/draft")
def request_draft(
    request: Request,
    pid: int,
    client_id: str = Form(""),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """Start the ``build_plan`` job; the plan page shows its progress and the draft when done."""
    access(db, user, pid, "plan", action="write", resource="plan", record="draft requested")
    cid = valid_client_id(client_id)
    for j in _plan_jobs(db, pid, 20):  # a repeated submit finds its job
        if j.requested_by == user.id and (j.params or {}).get("client_id") == cid:
            return RedirectResponse(f"/clients/{pid}/plan?job={j.id}", status_code=303)
    job = jobs.submit(request, db, "build_plan", pid, requested_by=user.id, params={"client_id": cid})
    return RedirectResponse(f"/clients/{pid}/plan?job={job.id}", status_code=303)


@router.get("/clients/{pid}/plan")
def plan_versions(
    request: Request,
    pid: int,
    job: int | None = Query(None),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    person = access(db, user, pid, "plan", resource="plan", record="versions")
    versions = db.scalars(
        select(PlanVersion).where(PlanVersion.person_id == pid).order_by(PlanVersion.number.desc())
    ).all()
    signers = {v.id: v.signer_name for v in versions}
    return render(
        request,
        "plan_list.html",
        {
            "title": f"Plan of {display_name(person)}",
            "person": person,
            "versions": versions,
            "signers": signers,
            "jobs": _plan_jobs(db, pid),
            "job_id": job,
            "client_id": new_client_id(),
            "scopes": client_scopes(db, user, pid),
        },
    )


@router.get("/clients/{pid}/plan/compare")
def plan_compare(
    request: Request,
    pid: int,
    a: int = Query(...),
    b: int = Query(...),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    va, vb = _version_or_deny(db, user, pid, a, "compare"), _version_or_deny(db, user, pid, b, "compare")
    person = access(db, user, pid, "plan", resource="plan", record=f"compare {_label(va, a)} {_label(vb, b)}")
    return render(
        request,
        "plan_compare.html",
        {
            "title": f"Compare v{va.number} and v{vb.number}",
            "person": person,
            "a": va,
            "b": vb,
            "diff": compare_versions(va.content, vb.content),
            "scopes": client_scopes(db, user, pid),
        },
    )


@router.get("/clients/{pid}/plan/{vid}")
def plan_version_page(
    request: Request, pid: int, vid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)
):
    pv = _version_or_deny(db, user, pid, vid)
    person = access(db, user, pid, "plan", resource="plan", record=_label(pv, vid))
    parent = db.get(PlanVersion, pv.parent_id) if pv.parent_id else None
    children = db.scalars(select(PlanVersion).where(PlanVersion.parent_id == pv.id).order_by(PlanVersion.number)).all()
    return render(
        request,
        "plan_edit.html",
        {
            "title": f"Plan v{pv.number} of {display_name(person)}",
            "person": person,
            "pv": pv,
            "content": pv.content,
            "parent": parent,
            "children": children,
            "verified": verify(pv) if pv.status == "signed" else None,
            "removed_since": _removed_since(pv.content),
            "client_id": new_client_id,
            "scopes": client_scopes(db, user, pid),
        },
    )


@router.post("/clients/{pid}/plan/{vid}/edit")
def plan_edit(
    pid: int,
    vid: int,
    op: str = Form(..., max_length=12),
    item: str = Form("", max_length=80),
    pos: int | None = Form(None),
    text: str = Form("", max_length=MAX_ITEM_TEXT + 100),
    target: str = Form("", max_length=MAX_TARGET + 100),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """Edit a draft in place; an edit of a signed version makes a new draft (parent = the signed one)."""
    pv = _version_or_deny(db, user, pid, vid, op[:12])
    access(db, user, pid, "plan", action="write", resource="plan", record=f"{_label(pv, vid)} {op[:12]}")
    new_content = apply_edit(pv.content, op, item, pos, text, target)
    if pv.status == "draft":
        if new_content != pv.content:
            db.execute(
                update(PlanVersion)
                .where(PlanVersion.id == pv.id, PlanVersion.status == "draft")
                .values(content=new_content)
            )
            db.commit()
        return RedirectResponse(f"/clients/{pid}/plan/{pv.id}", status_code=303)
    # a signed version never changes: the edit makes a new draft (a repeated submit finds it)
    for d in db.scalars(
        select(PlanVersion).where(
            PlanVersion.parent_id == pv.id, PlanVersion.status == "draft", PlanVersion.created_by == user.id
        )
    ):
        if d.content == new_content:
            return RedirectResponse(f"/clients/{pid}/plan/{d.id}", status_code=303)
    draft = PlanVersion(
        person_id=pid,
        number=next_number(db, pid),
        status="draft",
        content=new_content,
        created_by=user.id,
        parent_id=pv.id,
    )
    db.add(draft)
    db.commit()
    return RedirectResponse(f"/clients/{pid}/plan/{draft.id}", status_code=303)


@router.post("/clients/{pid}/plan/{vid}/sign")
def plan_sign(pid: int, vid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    """Sign a draft: the signer and time come from the session; the sha256 seals the version."""
    pv = _version_or_deny(db, user, pid, vid, "sign")
    access(db, user, pid, "plan", action="write", resource="plan", record=f"{_label(pv, vid)} signed")
    if pv.status != "draft":
        raise HTTPException(409, "This version is signed already; edit it to make a new draft.")
    signed_at = utcnow().replace(microsecond=0)
    probe = PlanVersion(
        content=pv.content,
        number=pv.number,
        person_id=pv.person_id,
        signer_name=display_name(user),
        signed_at=signed_at,
    )
    digest = plan_hash(probe)
    signed = db.execute(
        update(PlanVersion)
        .where(PlanVersion.id == pv.id, PlanVersion.status == "draft")
        .values(status="signed", signed_by=user.id, signer_name=probe.signer_name, signed_at=signed_at, sha256=digest)
    )
    won = cast(CursorResult, signed).rowcount  # an UPDATE's result is a CursorResult
    if won != 1:
        raise HTTPException(409, "This version was signed meanwhile.")
    db.commit()
    return RedirectResponse(f"/clients/{pid}/plan/{pv.id}?signed=1", status_code=303)


def _removed_since(content: dict) -> list[str]:
    """Suggestions the simulation included that the dietitian removed since (not re-simulated)."""
    per = (content.get("effect") or {}).get("per_suggestion") or {}
    now = {it.get("id") for it in content.get("items", [])}
    titles = {d.get("id"): d.get("title") for d in content.get("drafted", [])}
    return [titles.get(k) or k.replace("_", " ") for k in per if not k.startswith("_") and k not in now]


# --------------------------------------------------------------------------- the person's plan
def _signed(db: Session, pid: int) -> Sequence[PlanVersion]:
    return db.scalars(
        select(PlanVersion)
        .where(PlanVersion.person_id == pid, PlanVersion.status == "signed")
        .order_by(PlanVersion.signed_at.desc(), PlanVersion.number.desc())
    ).all()


def _person_plan(request: Request, db: Session, user: User, pv: PlanVersion | None, versions: Sequence[PlanVersion]):
    notes = shared_notes(db, user.id)
    mine = (
        [n for n in notes if n["target"] in ("", f"plan:{pv.id}")]
        if pv is not None
        else [n for n in notes if n["target"] == ""]
    )
    return render(
        request,
        "plan_view.html",
        {
            "title": "Your plan",
            "pv": pv,
            "content": pv.content if pv is not None else None,
            "versions": versions,
            "notes": mine,
            "verified": verify(pv) if pv is not None else None,
            "removed_since": _removed_since(pv.content) if pv is not None else [],
        },
    )


@router.get("/plan")
def my_plan(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    """The person's signed plans, newest first (drafts are never shown)."""
    versions = _signed(db, user.id)
    return _person_plan(request, db, user, versions[0] if versions else None, versions)


@router.get("/plan/{vid}")
def my_plan_version(request: Request, vid: int, user: User = Depends(person_user), db: Session = Depends(get_db)):
    pv = db.get(PlanVersion, vid)
    if pv is None or pv.person_id != user.id or pv.status != "signed":  # a draft is not shown either
        deny(
            db,
            user,
            "plan",
            f"plan id {vid}",
            subject=pv.person_id if pv is not None and pv.person_id != user.id else None,
        )
    return _person_plan(request, db, user, pv, _signed(db, user.id))
