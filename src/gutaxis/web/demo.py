"""The seeded demo of ``gutaxis serve --demo``: one dietitian and two clearly SYNTHETIC clients.

The clients' logs are the shipped SYNTHETIC example person (``gutaxis/data/example_person``),
moved to the recent past: Alex (RA) logged until yesterday and shares everything; Sam (SLE)
stopped logging ten days ago and shares diary and symptoms only, so the caseload shows its flags.
Passwords are drawn fresh at every start and printed; nothing here describes a real person.
"""

from __future__ import annotations

import secrets
import shutil
import uuid
from datetime import timedelta
from importlib import resources

import pandas as pd
from sqlalchemy import select

from . import food, jobs
from .models import Consent, MealEntry, StressEntry, SymptomEntry, Upload, User, utcnow
from .security import totp_new_secret

__all__ = ["DEMO_ACCOUNTS", "seed_demo"]

#: email -> (role, name, conditions, sex, age, scopes shared, days since the last log)
DEMO_ACCOUNTS = {
    "dietitian@demo.gutaxis.invalid": ("dietitian", "Demo Dietitian (SYNTHETIC)", "", None, None, "", 0),
    "alex@demo.gutaxis.invalid": (
        "person",
        "Alex (SYNTHETIC)",
        "RA",
        "female",
        46.0,
        "diary,symptoms,stress,microbiome,plan",
        1,
    ),
    "sam@demo.gutaxis.invalid": ("person", "Sam (SYNTHETIC)", "SLE", "female", 34.0, "diary,symptoms", 10),
}


def _example(name: str):
    return resources.files("gutaxis") / "data" / "example_person" / name


def seed_demo(app) -> list[str]:
    """Create the demo accounts and their logs once; (re)set their passwords; return lines to print."""
    settings = app.state.settings
    pw = app.state.passwords
    lines = ["Demo accounts (SYNTHETIC data; passwords are new at every start):"]
    with app.state.sessions() as db:
        users = {}
        for email, (role, name, conditions, sex, age, _, _) in DEMO_ACCOUNTS.items():
            u = db.scalar(select(User).where(User.email == email))
            password = secrets.token_urlsafe(9)
            if u is None:
                u = User(
                    email=email,
                    name=name,
                    role=role,
                    conditions=conditions,
                    sex=sex,
                    age=age,
                    synthetic=True,
                    password_hash="",
                )
                db.add(u)
            u.password_hash = pw.hash(password)
            if role == "dietitian" and not u.totp_last_step:
                u.totp_secret, u.totp_last_step = totp_new_secret(), 1  # the printed key is the confirmed one
            db.flush()
            users[email] = u
            lines.append(f"  {role:9s} {email}  password: {password}")
        db.commit()
        diet = users["dietitian@demo.gutaxis.invalid"]
        lines.append(
            f"  the dietitian's two-step key: {diet.totp_secret}  (add it to an authenticator app, or print "
            f"the current code with: python -c \"import pyotp; print(pyotp.TOTP('{diet.totp_secret}').now())\")"
        )
        fresh = []
        for email, (role, _, _, _, _, scopes, days_ago) in DEMO_ACCOUNTS.items():
            u = users[email]
            if role != "person" or db.scalar(select(MealEntry.id).where(MealEntry.person_id == u.id).limit(1)):
                continue
            db.add(Consent(person_id=u.id, dietitian_id=diet.id, scopes=scopes))
            _seed_logs(db, settings, u, days_ago, keep_days=28 if days_ago == 1 else 14)
            fresh.append(u)
        db.commit()
        alex = users["alex@demo.gutaxis.invalid"]
        if alex in fresh:
            _seed_profile(db, settings, alex)
    if any(u.email.startswith("alex") for u in fresh):
        jobs.run_pending(app.state.sessions, settings)  # the profile is read before the first page
    problem = food.food_problem(settings)
    if problem:
        lines.append("  note: " + problem)
    return lines


def _seed_logs(db, settings, user: User, days_ago: int, keep_days: int) -> None:
    """The example person's logs, read by the package's own readers and moved as one block so that the
    meal log's last day is ``days_ago`` days ago (times of day and the logs' alignment kept)."""
    from ..lifestyle import read_meal_log, read_stress_log, read_symptom_log

    meals = read_meal_log(_example("meals.csv"))
    stress = read_stress_log(_example("stress.csv"))
    sym = read_symptom_log(_example("symptoms.json"))
    last = pd.Timestamp((utcnow() - timedelta(days=days_ago)).date())
    delta = last - meals["timestamp"].max().normalize()
    start = last - pd.Timedelta(days=keep_days - 1)

    def when(t):
        return None if pd.isna(t) else (t + delta).to_pydatetime()

    for r in meals[meals["timestamp"] + delta >= start].itertuples(index=False):
        at = when(r.timestamp)
        db.add(
            MealEntry(
                person_id=user.id,
                client_id=str(uuid.uuid4()),
                eaten_at=at,
                meal=r.meal or "",
                text=r.text,
                items=food.match_meal(settings, r.text, at, r.meal or ""),
                source="typed",
            )
        )
    pss_cols = [f"pss_{i}" for i in range(1, 11)]
    for r in stress[stress["timestamp"] + delta >= start].to_dict("records"):
        has_pss = not pd.isna(r["pss10"])
        db.add(
            StressEntry(
                person_id=user.id,
                client_id=str(uuid.uuid4()),
                at=when(r["timestamp"]),
                rating=None if pd.isna(r["rating"]) else float(r["rating"]),
                pss_items=[int(r[c]) for c in pss_cols] if has_pss else None,
                pss_total=float(r["pss10"]) if has_pss else None,
                practice=r["practice"] or "",
                minutes=None if pd.isna(r["minutes"]) else float(r["minutes"]),
            )
        )
    for r in sym[sym["timestamp"] + delta >= start].to_dict("records"):
        db.add(
            SymptomEntry(
                person_id=user.id,
                client_id=str(uuid.uuid4()),
                at=when(r["timestamp"]),
                onset=when(r["onset"]) if r["onset"] != r["timestamp"] else None,
                symptom=r["symptom"] or "",
                rating=None if pd.isna(r["rating"]) else float(r["rating"]),
                bristol=None if pd.isna(r["bristol"]) else int(r["bristol"]),
                note=r["note"] or "",
            )
        )


def _seed_profile(db, settings, user: User) -> None:
    stored = secrets.token_hex(16)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    with _example("profile_metaphlan.txt").open("rb") as src, open(settings.upload_dir / stored, "wb") as dst:
        shutil.copyfileobj(src, dst)
    up = Upload(
        person_id=user.id,
        client_id=str(uuid.uuid4()),
        filename="profile_metaphlan.txt",
        stored_name=stored,
        size=(settings.upload_dir / stored).stat().st_size,
        kind="profile",
        status="queued",
    )
    db.add(up)
    db.commit()
    jobs.enqueue(db, "parse_profile", user.id, params={"upload_id": up.id})
