"""The app's tables (SQLAlchemy 2 declarative). One row per thing a person or dietitian did.

Times are naive UTC (:func:`utcnow`), the same on SQLite and PostgreSQL. Health records carry
``person_id``; every read of them by anyone but that person goes through
:func:`gutaxis.web.access.access` and leaves an :class:`AuditEvent`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "HEALTH_TABLES",
    "SCOPES",
    "AuditEvent",
    "Base",
    "Consent",
    "Invitation",
    "Job",
    "LabResult",
    "LoginFailure",
    "MealEntry",
    "Message",
    "Note",
    "PlanVersion",
    "RetainedPlan",
    "StressEntry",
    "SymptomEntry",
    "Upload",
    "User",
    "WebSession",
    "utcnow",
]

#: what a person can share with a dietitian, each switched on or off separately
SCOPES = ("diary", "symptoms", "stress", "microbiome", "plan")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # "person" or "dietitian"; never taken from a form after sign-up
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)  # a code is accepted once
    sex: Mapped[str | None] = mapped_column(String(8), nullable=True)
    age: Mapped[float | None] = mapped_column(Float, nullable=True)
    conditions: Mapped[str] = mapped_column(String(200), default="")  # tags as in gutaxis.lifestyle.person
    hide_numbers: Mapped[bool] = mapped_column(Boolean, default=False)  # no kcal/grams shown (ED/ARFID risk)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A server-side session; the cookie holds a random token, the table only its sha256."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    totp_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoginFailure(Base):
    """Failed logins per account and per client address, kept in the database so every worker sees them."""

    __tablename__ = "login_failure"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Invitation(Base):
    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("dietitian_id", "client_id", name="uq_invitation_client"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    dietitian_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))  # the form's id: a retried submit makes no second link
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)


class Consent(Base):
    """A person lets one dietitian see some scopes; revoked_at ends it on the next request."""

    __tablename__ = "consent"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    dietitian_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[str] = mapped_column(String(100))  # comma-separated SCOPES
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class _Logged:
    """Columns shared by the person's own logs: who, the idempotency key, when it was stored."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))  # the form's UUID: a retried submit stores once
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MealEntry(_Logged, Base):
    __tablename__ = "meal_entry"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_meal_client"),)
    eaten_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # local wall-clock time as logged
    meal: Mapped[str] = mapped_column(String(40), default="")
    text: Mapped[str] = mapped_column(Text)  # Text: may be sealed (gutaxis.web.person_keys)
    items: Mapped[list] = mapped_column(JSON, default=list)  # matched foods (description, grams, nova, ...)
    source: Mapped[str] = mapped_column(String(40), default="typed")  # typed, cronometer, myfitnesspal, repeat
    nutrients: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # an import's own per-entry values


class SymptomEntry(_Logged, Base):
    __tablename__ = "symptom_entry"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_symptom_client"),)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    onset: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    symptom: Mapped[str] = mapped_column(String(60), default="")
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0-10
    bristol: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1-7
    note: Mapped[str] = mapped_column(Text, default="")  # Text: may be sealed (gutaxis.web.person_keys)


class StressEntry(_Logged, Base):
    __tablename__ = "stress_entry"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_stress_client"),)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)  # daily 0-10
    pss_items: Mapped[list | None] = mapped_column(JSON, nullable=True)  # PSS-10 answers 0-4, as given
    pss_total: Mapped[float | None] = mapped_column(Float, nullable=True)
    practice: Mapped[str] = mapped_column(String(60), default="")
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)


class LabResult(_Logged, Base):
    """A measured marker (CRP, IL-6, LBP, faecal calprotectin; DAS28 for RA) entered by the person or their
    dietitian; the latest of each is what the twin observes when a plan is drafted."""

    __tablename__ = "lab_result"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_lab_client"),)
    marker: Mapped[str] = mapped_column(String(20))  # a key of gutaxis.lifestyle.person.MARKERS
    value: Mapped[float] = mapped_column(Float)
    measured_on: Mapped[datetime] = mapped_column(DateTime, index=True)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)


class Upload(Base):
    __tablename__ = "upload"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(Text)  # Text: may be sealed (gutaxis.web.person_keys)
    stored_name: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # profile, cronometer, myfitnesspal
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, done, failed
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_upload_client"),)


class Job(Base):
    """Background work (upload parsing, plan building); claimed by one worker at a time."""

    __tablename__ = "job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued, running, done, failed
    progress: Mapped[str] = mapped_column(String(200), default="waiting for the worker")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Note(Base):
    """A dietitian's note on a person's record: shared (an annotation the person sees) or private."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(60), default="")  # e.g. "day:2024-03-04"
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("author_id", "client_id", name="uq_note_client"),)


class Message(Base):
    """One thread per person and dietitian; read when the reader replies or marks it read (never on a GET)."""

    __tablename__ = "message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    dietitian_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (UniqueConstraint("sender_id", "client_id", name="uq_message_client"),)


class PlanVersion(Base):
    """A plan version: a draft the dietitian edits, or a signed version that never changes.

    Signing stores the sha256 of the canonical JSON of the content, the signer and the time;
    editing a signed version makes a new draft whose ``parent_id`` is the signed one.
    """

    __tablename__ = "plan_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft, signed
    content: Mapped[dict] = mapped_column(JSON)  # items (ordered), limits, effect, notes
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plan_version.id"), nullable=True)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: kept (as a :class:`RetainedPlan`) when the person erases their account: a clinical record the law
    #: requires the practice to keep (set by the practice; see gutaxis.web.rights)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    __table_args__ = (UniqueConstraint("person_id", "number", name="uq_plan_number"),)


class RetainedPlan(Base):
    """A signed plan version kept after its person erased their account, because the law requires it.

    It names nobody: ``subject`` is the keyed pseudonym of the erased account
    (:func:`gutaxis.web.rights.pseudonym`), the same one the erasure's audit event carries.
    """

    __tablename__ = "retained_plan"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")  # the seal made at sign-off
    retained_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """Append-only, hash-chained: who read or changed whose health data, or was denied.

    UPDATE and DELETE are refused by the database (triggers on SQLite; PL/pgSQL triggers on PostgreSQL,
    which refuse TRUNCATE too); ``gutaxis admin verify-audit`` checks the chain.
    """

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: the row outlives the account
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(12))  # read, write, denied
    resource: Mapped[str] = mapped_column(String(40))  # diary, symptoms, stress, microbiome, plan, upload, export
    record: Mapped[str] = mapped_column(String(80), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


#: tables that hold a person's health data (export and erasure walk these)
HEALTH_TABLES = (
    "meal_entry",
    "symptom_entry",
    "stress_entry",
    "lab_result",
    "upload",
    "note",
    "message",
    "plan_version",
    "job",
)
