"""A person's data rights: the export ZIP (GDPR Art. 15/20, HIPAA §164.524), its import into a fresh
database, and erasure (Art. 17).

**Export** (:func:`write_export`, run as the ``export`` job): a ZIP with one CSV per record type
(every column, except the account's password hash and second-factor secret; text cells a
spreadsheet would run as a formula get a leading apostrophe through
:func:`gutaxis.lifestyle._csvsafe.safe_cell`), every uploaded file as uploaded, each signed plan as
a self-contained HTML page and its JSON, the FHIR R4B Bundle (:mod:`gutaxis.web.fhir`) and the same
resources as NDJSON, and ``README.txt``. It is bounded (:data:`EXPORT_LIMIT`); the person's
previous export file is removed when a new one is made and at erasure.

**Import** (:func:`import_export`, ``gutaxis import-account``): the person's own records of such a
ZIP into a database, for a new account: the profile, meals, symptoms, stress and PSS-10 entries,
lab results, uploads with their files, and signed plan versions (their seals kept as signed).
Consents, messages, notes, jobs and the audit trail are not imported: they name accounts of the
old practice and the old server's own log (:data:`NOT_IMPORTED`).

**Erasure** (:func:`erase_person`): every row that refers to the person goes, in one transaction
(entries, uploads, sessions, invitations, consents, messages, notes about them, jobs, throttling
counters under their e-mail, plan versions), then their files (uploads, exports). Signed plan
versions that the practice flagged ``legal_hold`` are kept as :class:`RetainedPlan` under the
keyed pseudonym (:func:`pseudonym`). A linked dietitian then gets 404 everywhere (no consent, no person).

The audit trail. Audit rows are append-only (database triggers) and hash-chained, so they cannot
be rewritten at erasure without breaking the chain; instead they never hold a direct identifier:
only the internal account number (``actor_id``, ``subject_id``; never an e-mail, name or free text).
Erasure deletes the one row that ties that number to a person (``user_account``), appends an
``erased`` event carrying the keyed pseudonym (HMAC-SHA256 with the server's pseudonym key, which
lets the practice link the trail to a retained plan, and nobody without the key link it to anyone),
and the number is never given to another account (:func:`_never_reuse`: on SQLite a new account's
id stays above every erased one; PostgreSQL sequences never go back). The chain still verifies.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import zipfile
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import cast

from sqlalchemy import (
    JSON,
    Boolean,
    CursorResult,
    DateTime,
    Float,
    Integer,
    delete,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from ..errors import GutaxisError, InputError
from ..lifestyle._csvsafe import safe_cell, unescape_cell
from . import audit, jobs, person_keys
from .models import (
    AuditEvent,
    Consent,
    Invitation,
    Job,
    LabResult,
    LoginFailure,
    MealEntry,
    Message,
    Note,
    PlanVersion,
    RetainedPlan,
    StressEntry,
    SymptomEntry,
    Upload,
    User,
    WebSession,
    utcnow,
)

__all__ = [
    "ERASE_PHRASE",
    "EXPORT_LIMIT",
    "EXPORT_TABLES",
    "IMPORTED",
    "NOT_IMPORTED",
    "erase_person",
    "import_export",
    "latest_export",
    "pseudonym",
    "pseudonym_key",
    "write_export",
]

log = logging.getLogger("gutaxis.web.rights")

EXPORT_LIMIT = 400 * 1024 * 1024  # bytes before compression; far above one person's records + uploads
ERASE_PHRASE = "erase my account"
_KEY_ENV = "GUTAXIS_PSEUDONYM_KEY"
#: CSV file -> model; the account's credentials are never exported
EXPORT_TABLES = {
    "account.csv": User,
    "meal_entry.csv": MealEntry,
    "symptom_entry.csv": SymptomEntry,
    "stress_entry.csv": StressEntry,
    "lab_result.csv": LabResult,
    "upload.csv": Upload,
    "plan_version.csv": PlanVersion,
    "consent.csv": Consent,
    "message.csv": Message,
    "note.csv": Note,
    "job.csv": Job,
    "audit_event.csv": AuditEvent,
}
_SECRET_COLUMNS = {"account.csv": ("password_hash", "totp_secret", "totp_last_step")}
#: files of the export that the import reads, and those it does not (with why)
NOT_IMPORTED = {
    "consent.csv": "consents name a dietitian of the old practice",
    "message.csv": "messages belong to a thread with a dietitian of the old practice",
    "note.csv": "notes are written by a dietitian of the old practice",
    "job.csv": "background jobs are the old server's work",
    "audit_event.csv": "the audit trail is the old server's own log",
}


# --------------------------------------------------------------------------- pseudonyms
def pseudonym_key(settings) -> bytes:
    """The server's pseudonym key: ``GUTAXIS_PSEUDONYM_KEY`` or ``<data_dir>/pseudonym.key`` (made once, 0600)."""
    env = os.environ.get(_KEY_ENV)
    if env:
        return env.encode()
    path = Path(settings.data_dir) / "pseudonym.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def pseudonym(settings, user_id: int) -> str:
    """The keyed pseudonym of an account number (HMAC-SHA256, 32 hex digits)."""
    return hmac.new(pseudonym_key(settings), f"gutaxis-account:{int(user_id)}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


@event.listens_for(User, "before_insert")
def _never_reuse(mapper, connection, target) -> None:
    """On SQLite a new row takes max(id)+1, which would hand an erased account's number (still in the
    audit trail) to a new account; keep new ids above every erased one."""
    if target.id is not None or connection.dialect.name != "sqlite":
        return
    erased = connection.scalar(select(func.max(AuditEvent.subject_id)).where(AuditEvent.action == "erased"))
    if erased is not None:
        top = connection.scalar(select(func.max(User.id))) or 0
        if erased >= top:
            target.id = erased + 1


# --------------------------------------------------------------------------- CSV cells
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return safe_cell(json.dumps(value, sort_keys=True, ensure_ascii=False))
    if isinstance(value, float):
        return repr(value)
    return safe_cell(str(value))


def _parse(column, text: str):
    text = unescape_cell(text)
    if text == "":
        return None if column.nullable else ("" if not isinstance(column.type, (Integer, Float)) else None)
    t = column.type
    if isinstance(t, Boolean):
        return text == "true"
    if isinstance(t, Integer):
        return int(text)
    if isinstance(t, Float):
        return float(text)
    if isinstance(t, DateTime):
        return datetime.fromisoformat(text)
    if isinstance(t, JSON):
        return json.loads(text)
    return text


def _columns(name: str, model) -> list:
    skip = _SECRET_COLUMNS.get(name, ())
    return [c for c in model.__table__.columns if c.name not in skip]


def _rows(db: Session, name: str, model, pid: int) -> list:
    if model is User:
        return [db.get(User, pid)]
    q = select(model)
    q = q.where(AuditEvent.subject_id == pid) if model is AuditEvent else q.where(model.person_id == pid)
    if model is PlanVersion:
        q = q.where(PlanVersion.status == "signed")  # drafts are the dietitian's work in progress
    if model is Note:
        q = q.where(Note.shared.is_(True))  # private notes are the clinician's working notes
    return list(db.scalars(q.order_by(model.id)).all())


def _csv(name: str, model, rows: list) -> bytes:
    cols = _columns(name, model)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.name for c in cols])
    for r in rows:
        w.writerow([_cell(getattr(r, c.key)) for c in cols])
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- export
README = """Your gutaxis records, exported {when} UTC
==================================================

What is inside
- account.csv: your profile (e-mail, name, sex, age, conditions, settings). Your password hash and
  two-step login secret are not exported.
- meal_entry.csv, symptom_entry.csv, stress_entry.csv (with your PSS-10 answers), lab_result.csv:
  everything you logged, every column. Times are as you logged them (meals, symptoms, stress) or UTC
  (created_at, granted_at and other stored times).
- upload.csv and uploads/<id>/<file name>: your uploaded files, exactly as you uploaded them, and
  what was read from them.
- plan_version.csv, plans/plan_v<N>.html, plans/plan_v<N>.pdf and plans/plan_v<N>.json: every plan
  version signed for you, with the signer, the time and its sha256 seal. The app shows signed plans as
  web pages; these HTML and PDF files are the same plans and open offline. Drafts your dietitian did
  not sign are not included.
- consent.csv, message.csv, note.csv: whom you shared what with, your messages, and the notes your
  dietitian shared with you (a dietitian's private working notes are not part of this export; ask
  the practice for them).
- job.csv: background work done on your records. audit_event.csv: every recorded access to your
  records (who, when, what), by account number.
- fhir/bundle.json: the same records as a FHIR R4B Bundle (type collection); fhir/resources.ndjson:
  one FHIR resource per line. Codes used: LOINC 106860-0 (PSS-10 total), SNOMED CT 443172007
  (Bristol stool type), LOINC 1988-5 (CRP, mg/L), LOINC 38445-3 (faecal calprotectin, ug/g).
  Symptoms, meals and daily stress are text without a code.

Spreadsheets: a text cell that starts with =, +, - or @ has a leading apostrophe so that no
spreadsheet runs it as a formula; gutaxis removes it again when it reads the file.

Erasure and retention: if you erase your account, everything here is deleted from the server,
except that signed clinical plan versions are retained where the law requires the practice to keep
them (marked "legal_hold" = true in plan_version.csv; {held} of your signed versions are marked
now). Those are kept without your name or e-mail. The audit trail keeps its rows with your account
number only, which then refers to nobody.

Counts: {counts}
"""


def _plan_html(pv: PlanVersion) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(resources.files("gutaxis.web") / "templates")),
        autoescape=select_autoescape(("html",)),
    )
    return env.get_template("export_plan.html").render(pv=pv, content=pv.content or {})


def write_export(db: Session, settings, user: User, dest: Path) -> dict:
    """Write ``user``'s export ZIP to ``dest``; returns the row count per CSV.

    Raises :class:`~gutaxis.errors.GutaxisError` when it would exceed :data:`EXPORT_LIMIT`."""
    from . import fhir
    from .plan_pdf import plan_pdf

    total = 0

    def grow(n: int) -> None:
        nonlocal total
        total += n
        if total > EXPORT_LIMIT:
            raise GutaxisError(
                f"the export would be larger than {EXPORT_LIMIT // (1024 * 1024)} MB; ask the practice for it"
            )

    def put(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
        grow(len(data))
        zf.writestr(name, data)

    counts: dict[str, int] = {}
    tmp = dest.with_name(dest.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, model in EXPORT_TABLES.items():
                rows = _rows(db, name, model, user.id)
                counts[name] = len(rows)
                put(zf, name, _csv(name, model, rows))
                if model is Upload:
                    for u in rows:
                        path = settings.upload_dir / u.stored_name
                        if path.is_file():
                            with person_keys.readable(u, path) as plain:  # the export holds the plain file
                                grow(plain.stat().st_size)
                                zf.write(plain, f"uploads/{u.id}/{_safe_member(u.filename)}")
                if model is PlanVersion:
                    for pv in rows:
                        put(zf, f"plans/plan_v{pv.number}.html", _plan_html(pv).encode("utf-8"))
                        put(zf, f"plans/plan_v{pv.number}.pdf", plan_pdf(pv))
                        put(
                            zf,
                            f"plans/plan_v{pv.number}.json",
                            json.dumps(pv.content, indent=1, ensure_ascii=False).encode("utf-8"),
                        )
            bundle = fhir.person_bundle(db, user, settings.upload_dir)
            put(zf, "fhir/bundle.json", json.dumps(bundle, indent=1, ensure_ascii=False).encode("utf-8"))
            put(zf, "fhir/resources.ndjson", fhir.ndjson(bundle).encode("utf-8"))
            held = db.scalar(
                select(func.count())
                .select_from(PlanVersion)
                .where(
                    PlanVersion.person_id == user.id, PlanVersion.status == "signed", PlanVersion.legal_hold.is_(True)
                )
            )
            put(
                zf,
                "README.txt",
                README.format(
                    when=utcnow().strftime("%Y-%m-%d %H:%M"),
                    held=held,
                    counts=", ".join(f"{k} {v}" for k, v in counts.items()),
                ).encode("utf-8"),
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def _safe_member(filename: str) -> str:
    name = Path(str(filename)).name.replace("\\", "_")
    return name if name not in ("", ".", "..") else "file"


def _export_dir(settings) -> Path:
    d = Path(settings.data_dir) / "exports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _export_files(db: Session, settings, person_id: int) -> list[Path]:
    out = []
    for j in db.scalars(select(Job).where(Job.person_id == person_id, Job.kind == "export")):
        name = (j.result or {}).get("file") if isinstance(j.result, dict) else None
        if isinstance(name, str) and name and Path(name).name == name:
            out.append(_export_dir(settings) / name)
    return out


@jobs.handler("export")
def export_job(db: Session, job: Job, settings, progress) -> dict:
    """Build the person's export ZIP (their own request only) and drop their older export files."""
    person = db.get(User, job.person_id)
    if person is None or job.requested_by != person.id:
        raise GutaxisError("an export is made for the person who asks for it only")
    old = _export_files(db, settings, person.id)
    progress("writing your records")
    name = f"{pseudonym(settings, person.id)}-{secrets.token_hex(16)}.zip"  # erasure finds every file by the prefix
    dest = _export_dir(settings) / name
    counts = write_export(db, settings, person, dest)
    db.expire_all()
    if db.scalar(select(User.id).where(User.id == job.person_id)) is None:  # erased meanwhile
        dest.unlink(missing_ok=True)
        raise GutaxisError("this account was erased")
    for p in old:
        p.unlink(missing_ok=True)
    return {"url": "/account/data#export", "file": name, "size": dest.stat().st_size, "counts": counts}


def latest_export(db: Session, settings, person_id: int) -> tuple[Job, Path] | None:
    """The person's newest finished export job and its file, or None."""
    job = db.scalar(
        select(Job)
        .where(Job.person_id == person_id, Job.kind == "export", Job.status == "done")
        .order_by(Job.id.desc())
        .limit(1)
    )
    if job is None:
        return None
    name = (job.result or {}).get("file") if isinstance(job.result, dict) else None
    if not isinstance(name, str) or Path(name).name != name:
        return None
    path = _export_dir(settings) / name
    return (job, path) if path.is_file() else None


# --------------------------------------------------------------------------- import
IMPORTED = (
    "meal_entry.csv",
    "symptom_entry.csv",
    "stress_entry.csv",
    "lab_result.csv",
    "upload.csv",
    "plan_version.csv",
)
_MAX_MEMBERS = 100_000


def _read_csv(zf: zipfile.ZipFile, name: str, model) -> list[dict]:
    if name not in zf.namelist():
        raise InputError(f"has no {name}", source="the export", hint="give the ZIP made by 'Export my records'")
    text = zf.read(name).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    cols = {c.name: c for c in _columns(name, model)}
    missing = [c for c in cols if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{name} lacks the column(s) {', '.join(missing)}", source="the export")
    out = []
    for n, row in enumerate(reader, start=2):
        try:
            out.append({k: _parse(c, row[k]) for k, c in cols.items()})
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{name} row {n}: {type(exc).__name__}", source="the export", hint="the file was changed after export"
            ) from None
    return out


def import_export(db: Session, settings, zip_path: Path, *, password_hash: str, email: str | None = None) -> User:
    """Load an export ZIP into ``db`` as a new person account (all or nothing); returns the account.

    ``email`` overrides the export's (it must be free). Ids are new; links to accounts of the old
    practice (``entered_by``, ``created_by``, ``signed_by``) become empty unless they were the person.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise InputError("is not a ZIP file", source="the export") from None
    written: list[Path] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS or sum(i.file_size for i in infos) > EXPORT_LIMIT:
            raise InputError("is larger than an export can be", source="the export")
        acct = _read_csv(zf, "account.csv", User)
        if len(acct) != 1:
            raise InputError("account.csv must hold one row", source="the export")
        a = acct[0]
        old_id = a.pop("id")
        a["email"] = (email or a["email"]).strip().lower()
        if db.scalar(select(User.id).where(User.email == a["email"])) is not None:
            raise InputError(
                "an account with this e-mail exists already", source="the database", hint="give another e-mail"
            )
        a["role"] = "person"
        user = User(**a, password_hash=password_hash, totp_last_step=0)
        db.add(user)
        db.flush()
        try:
            plan_ids: dict[int, int] = {}
            for name in IMPORTED:
                model = EXPORT_TABLES[name]
                for row in _read_csv(zf, name, model):
                    rid = row.pop("id")
                    row["person_id"] = user.id
                    for f in ("entered_by", "created_by", "signed_by", "requested_by"):
                        if f in row:
                            row[f] = user.id if row[f] == old_id else None
                    if model is Upload:
                        member = f"uploads/{rid}/{_safe_member(row['filename'])}"
                        stored = secrets.token_hex(16)
                        if member in zf.namelist():
                            settings.upload_dir.mkdir(parents=True, exist_ok=True)
                            dest = settings.upload_dir / stored
                            with zf.open(member) as src, open(dest, "wb") as out:
                                written.append(dest)
                                while chunk := src.read(1024 * 1024):
                                    out.write(chunk)
                        row["stored_name"] = stored
                    if model is PlanVersion:
                        parent = row.pop("parent_id")
                        row["parent_id"] = plan_ids.get(parent)
                    obj = model(**row)
                    db.add(obj)
                    db.flush()
                    if isinstance(obj, PlanVersion):
                        plan_ids[rid] = obj.id
            db.commit()
        except BaseException:
            db.rollback()
            for p in written:
                p.unlink(missing_ok=True)
            raise
    return user


# --------------------------------------------------------------------------- erasure
def erase_person(db: Session, settings, user: User) -> dict:
    """Erase ``user`` (a person) and every row and file about them; returns what went, by table.

    Keeps: audit rows (account number only; plus one ``erased`` event with the keyed pseudonym) and
    signed plan versions under ``legal_hold`` as pseudonymous :class:`RetainedPlan` copies."""
    pid = user.id
    if user.role != "person":
        raise GutaxisError("only a person's own account is erased here")
    email = user.email
    person_keys.erase_key(db, pid)  # first: the person's rows and files in every backup stop opening
    files = [settings.upload_dir / u.stored_name for u in db.scalars(select(Upload).where(Upload.person_id == pid))]
    subject = pseudonym(settings, pid)
    files += sorted(set(_export_files(db, settings, pid)) | set(_export_dir(settings).glob(f"{subject}-*.zip")))
    kept = 0
    for pv in db.scalars(
        select(PlanVersion)
        .where(PlanVersion.person_id == pid, PlanVersion.status == "signed", PlanVersion.legal_hold.is_(True))
        .order_by(PlanVersion.number)
    ):
        db.add(
            RetainedPlan(
                subject=subject,
                number=pv.number,
                content=pv.content,
                signer_name=pv.signer_name,
                signed_at=pv.signed_at,
                sha256=pv.sha256,
            )
        )
        kept += 1
    gone: dict[str, int] = {}

    def drop(model, *where) -> None:
        n = cast(CursorResult, db.execute(delete(model).where(*where))).rowcount  # a DELETE's result has the rowcount
        gone[model.__tablename__] = gone.get(model.__tablename__, 0) + n

    drop(WebSession, WebSession.user_id == pid)
    drop(LoginFailure, LoginFailure.key.in_((f"acct:{email}", f"totp:{email}")))
    drop(Invitation, Invitation.person_id == pid)
    drop(Consent, or_(Consent.person_id == pid, Consent.dietitian_id == pid))
    drop(Message, or_(Message.person_id == pid, Message.sender_id == pid))
    drop(Note, or_(Note.person_id == pid, Note.author_id == pid))
    drop(Job, or_(Job.person_id == pid, Job.requested_by == pid))
    for model in (MealEntry, SymptomEntry, StressEntry, Upload):
        drop(model, model.person_id == pid)
    drop(LabResult, or_(LabResult.person_id == pid, LabResult.entered_by == pid))
    # a version's parent is deleted in the same statement; children first keeps every database happy
    while db.scalar(select(func.count()).select_from(PlanVersion).where(PlanVersion.person_id == pid)):
        parents = select(PlanVersion.parent_id).where(PlanVersion.parent_id.is_not(None))
        drop(PlanVersion, PlanVersion.person_id == pid, PlanVersion.id.not_in(parents))
    drop(User, User.id == pid)
    audit.record(db, pid, pid, "erased", "account", f"pseudonym {subject}; {kept} signed plan version(s) retained")
    db.commit()
    missing = 0
    for p in files:
        try:
            p.unlink()
        except FileNotFoundError:
            missing += 1
    log.info(
        "account erased: %d rows, %d files (%d already gone), %d plan versions retained",
        sum(gone.values()),
        len(files),
        missing,
        kept,
    )  # counts only: no person in the log
    gone["files"] = len(files) - missing
    gone["retained_plans"] = kept
    return gone
