"""Fault test of the web app on loopback: clients keep writing while the server is SIGKILLed and restarted.

Two scenarios, the acceptance bar of issue 16 ("nothing lost under faults"):

1. **Writes**: ``--clients`` (20) threads log meals (POST /log/meal, each with its own client id, the
   app's idempotency key) for ``--seconds`` (60) of server uptime while the server's whole process
   group (server and job worker) is killed with SIGKILL ``--kills`` (3) times, evenly over the uptime,
   and started again (the restarts' downtime comes on top; the clients keep trying through it). A client behaves as an
   offline-first client does: a write not acknowledged (connection refused or reset, timeout, 5xx)
   is sent again, with the same client id, until the server acknowledges it (303). At the end every
   acknowledged write must be stored exactly once, no client id or write twice, and no write stored
   that was never acknowledged (every pending write is re-sent until acknowledged).
2. **Plan job** (needs the food data of ../shared): a dietitian's ``build_plan`` job runs in the
   worker; the worker process alone is SIGKILLed mid-job. The server starts a new worker, which
   re-queues the job once its heartbeat lapses and runs it to the end: the job is done, and exactly
   one draft plan version exists. Then the same with the whole server killed mid-job and restarted.

Printed: writes acknowledged (and before each kill), rows stored, duplicates, writes stored but never
acknowledged, failed attempts the clients retried, kills; for the plan job its attempts, status and
plan versions. Exit code 1 when a check fails.

Run: .venv/bin/python bench/bench_faults.py [--seconds 60] [--clients 20] [--kills 3]
     [--database-url postgresql+psycopg://...]  (default: a file SQLite database in a temporary folder)
tests/web/test_web_faults.py runs the same code for ~20 s on SQLite and on a throwaway PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(data_dir: Path, database_url: str | None, food: bool = False):
    from gutaxis.web.settings import Settings

    kw = {}
    if food:
        kw = dict(
            fndds=SHARED / "fndds_portions",
            sr28=SHARED / "usda_sr28_full",
            usda=SHARED / "usda_sr28_abbrev" / "ABBREV.txt",
        )
    return Settings(data_dir=data_dir, database_url=database_url, **kw)


def people(data_dir: Path, database_url: str | None, n: int) -> list[tuple[int, str, str]]:
    """n people with a session each, (user id, session token, CSRF token), written as the app does
    (logins are argon2id-slow on purpose and not what is tested)."""
    from gutaxis.web.app import create_app
    from gutaxis.web.models import User, WebSession
    from gutaxis.web.security import new_token, token_hash

    app = create_app(_settings(data_dir, database_url))
    out = []
    try:
        with app.state.sessions() as db:
            for i in range(n):
                u = User(email=f"fault{i}@example.org", name=f"fault {i}", password_hash="!", role="person")
                db.add(u)
                db.flush()
                tok, csrf = new_token(), new_token()
                db.add(WebSession(token_hash=token_hash(tok), user_id=u.id, csrf_token=csrf))
                out.append((u.id, tok, csrf))
            db.commit()
    finally:
        app.state.engine.dispose()
    return out


class Server:
    """``python -m gutaxis serve`` in its own process group (server + job worker), killed with SIGKILL."""

    def __init__(self, data_dir: Path, database_url: str | None, *, food: bool = False, env: dict | None = None):
        self.data_dir, self.database_url = Path(data_dir), database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.food, self.env = food, env or {}
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / "server.log"

    def start(self, timeout: float = 120.0) -> None:
        cmd = [sys.executable, "-m", "gutaxis", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        if self.food:
            cmd += ["--fndds", str(SHARED / "fndds_portions"), "--sr28", str(SHARED / "usda_sr28_full")]
            cmd += ["--usda", str(SHARED / "usda_sr28_abbrev" / "ABBREV.txt")]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the kill takes the worker too
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        deadline = time.time() + timeout
        import httpx

        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the whole process group (server and worker), as a crash or an OOM kill does."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        _wait_gone(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            _wait_gone(self.proc.pid)

    def members(self) -> list[int]:
        return session_members(self.proc.pid) if self.proc is not None else []

    def worker_pids(self) -> list[int]:
        """The job worker(s): spawned children of the server (not multiprocessing's resource tracker)."""
        out = []
        for p in self.members():
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if p != self.proc.pid and b"spawn_main" in cmd:
                out.append(p)
        return out


def session_members(sid: int) -> list[int]:
    """Live processes of session ``sid`` (Linux /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d))
    return out


def _wait_gone(sid: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while session_members(sid) and time.time() < deadline:
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------ writes


@dataclass
class ClientLog:
    uid: int
    acked: list[tuple[str, str, float]] = field(default_factory=list)  # client id, text, time acknowledged
    retries: int = 0  # attempts that got no acknowledgement and were sent again
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # 4xx: a client bug, must stay empty
    unfinished: list[str] = field(default_factory=list)  # still unacknowledged when the drain deadline passed


def _client(base: str, who, stop: threading.Event, drain_until: list[float], rec: ClientLog, seed: int) -> None:
    import httpx

    uid, tok, csrf = who
    rng = random.Random(seed)
    headers = {"cookie": f"__Host-gutaxis={tok}", "accept": "text/html"}
    n = 0
    pending: tuple[str, str] | None = None
    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as c:
        while True:
            if pending is None:
                if stop.is_set():
                    return
                n += 1
                pending = (str(uuid.uuid4()), f"fault client {uid} write {n}: {rng.choice(TEXTS)}")
            elif stop.is_set() and drain_until and time.time() > drain_until[0]:
                rec.unfinished.append(pending[0])
                return
            cid, text = pending
            data = {"text": text, "client_id": cid, "csrf_token": csrf}
            try:
                r = c.post("/log/meal", data=data, headers=headers)
            except httpx.TransportError:  # refused (down), reset (killed mid-request) or timed out
                rec.retries += 1
                time.sleep(0.1 + 0.2 * rng.random())
                continue
            if r.status_code == 303:
                rec.acked.append((cid, text, time.time()))
                pending = None
                time.sleep(rng.uniform(0.02, 0.15))  # think time
            elif r.status_code >= 500 or r.status_code == 429:
                rec.retries += 1
                time.sleep(0.1 + 0.2 * rng.random())
            else:
                rec.rejected.append((cid, r.status_code, r.text[:200]))
                pending = None


TEXTS = ["porridge with blueberries", "1 medium banana", "2 eggs and toast", "1 cup kimchi", "an apple"]


def run_writes(
    data_dir: Path,
    database_url: str | None = None,
    *,
    seconds: float = 60,
    clients: int = 20,
    kills: int = 3,
    drain_seconds: float = 60,
) -> dict:
    """Scenario 1; returns the figures and ``problems`` (empty when every check holds)."""
    data_dir = Path(data_dir)
    who = people(data_dir, database_url, clients)
    server = Server(data_dir, database_url)
    server.start()
    stop, drain_until = threading.Event(), []
    logs = [ClientLog(uid) for uid, _, _ in who]
    threads = [
        threading.Thread(target=_client, args=(server.base, w, stop, drain_until, rec, i), daemon=True)
        for i, (w, rec) in enumerate(zip(who, logs, strict=True))
    ]
    kill_times, restart_seconds = [], []
    try:
        for t in threads:
            t.start()
        up = seconds / (kills + 1)  # the server is up this long before each kill and after the last
        for _ in range(kills):
            time.sleep(up)
            kill_times.append(time.time())
            server.kill()
            r0 = time.time()
            server.start()
            restart_seconds.append(time.time() - r0)
        time.sleep(up)
        drain_until.append(time.time() + drain_seconds)
        stop.set()
        for t in threads:
            t.join(drain_seconds + 30)
    finally:
        stop.set()
        server.stop()
    return {
        **_check_writes(database_url or _settings(data_dir, None).database_url, logs, kill_times),
        **{
            "seconds": seconds,
            "clients": clients,
            "kills": len(kill_times),
            "restart_seconds": [round(s, 2) for s in restart_seconds],
        },
    }


def _check_writes(url: str, logs: list[ClientLog], kill_times: list[float]) -> dict:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT person_id, client_id, text FROM meal_entry")).all()
    finally:
        engine.dispose()
    stored = Counter((int(p), c) for p, c, _ in rows)
    texts = Counter(t for _, _, t in rows)
    acked = {(rec.uid, cid): t for rec in logs for cid, t, _ in rec.acked}
    problems = []
    lost = [k for k in acked if stored[k] == 0]
    twice = [k for k, n in stored.items() if n > 1] + [t for t, n in texts.items() if n > 1]
    wrong_text = [k for k, t in acked.items() if stored[k] == 1 and t not in texts]
    never_acked = [k for k in stored if k not in acked]
    acked_list = [k for rec in logs for k in ((rec.uid, cid) for cid, _, _ in rec.acked)]
    if lost:
        problems.append(f"{len(lost)} acknowledged write(s) not stored, e.g. {lost[:3]}")
    if twice:
        problems.append(f"{len(twice)} write(s) stored more than once, e.g. {twice[:3]}")
    if len(acked_list) != len(set(acked_list)):
        problems.append("a client id was acknowledged twice")
    if wrong_text:
        problems.append(f"{len(wrong_text)} write(s) stored with another text")
    if never_acked:
        problems.append(f"{len(never_acked)} stored write(s) were never acknowledged although the clients drained")
    rejected = [r for rec in logs for r in rec.rejected]
    if rejected:
        problems.append(f"{len(rejected)} write(s) refused with 4xx, e.g. {rejected[:2]}")
    unfinished = sum(len(rec.unfinished) for rec in logs)
    if unfinished:
        problems.append(f"{unfinished} write(s) still unacknowledged when the drain ended")
    before = [sum(1 for rec in logs for *_, at in rec.acked if at < kt) for kt in kill_times]
    return {
        "acknowledged": len(acked),
        "acknowledged_before_each_kill": before,
        "stored": len(rows),
        "duplicates": sum(n - 1 for n in stored.values() if n > 1),
        "lost": len(lost),
        "stored_never_acknowledged": len(never_acked),
        "retried_attempts": sum(rec.retries for rec in logs),
        "problems": problems,
    }


# ---------------------------------------------------------------------------------------- plan job

EXAMPLE = resources.files("gutaxis") / "data" / "example_person"


def seed_plan_case(data_dir: Path, database_url: str | None) -> tuple[int, int]:
    """The example person's diary, stress and symptoms, and a dietitian they share everything with:
    (person id, dietitian id)."""
    from gutaxis.web.app import create_app
    from gutaxis.web.models import SCOPES, Consent, MealEntry, StressEntry, SymptomEntry, User

    app = create_app(_settings(data_dir, database_url))
    try:
        meta = json.loads((EXAMPLE / "person.json").read_text())
        with app.state.sessions() as db:
            p = User(email="plan-person@example.org", name="plan person", password_hash="!", role="person")
            p.sex, p.age, p.conditions, p.synthetic = (
                meta["sex"],
                float(meta["age"]),
                ",".join(meta["conditions"]),
                True,
            )
            d = User(email="plan-dietitian@example.org", name="plan dietitian", password_hash="!", role="dietitian")
            db.add_all([p, d])
            db.flush()
            db.add(Consent(person_id=p.id, dietitian_id=d.id, scopes=",".join(SCOPES)))
            with (EXAMPLE / "meals.csv").open() as fh:
                for r in csv.DictReader(fh):
                    db.add(
                        MealEntry(
                            person_id=p.id,
                            client_id=str(uuid.uuid4()),
                            eaten_at=datetime.fromisoformat(r["timestamp"]),
                            meal=r["meal"],
                            text=r["text"],
                            items=[],
                        )
                    )
            with (EXAMPLE / "stress.csv").open() as fh:
                for r in csv.DictReader(fh):
                    db.add(
                        StressEntry(
                            person_id=p.id,
                            client_id=str(uuid.uuid4()),
                            at=datetime.fromisoformat(r["timestamp"]),
                            rating=float(r["rating"]) if r["rating"] else None,
                            pss_items=[int(r[f"pss_{i}"]) for i in range(1, 11)] if r["pss_1"] else None,
                            practice=r["practice"],
                            minutes=float(r["minutes"]) if r["minutes"] else None,
                        )
                    )
            for s in json.loads((EXAMPLE / "symptoms.json").read_text()):
                db.add(
                    SymptomEntry(
                        person_id=p.id,
                        client_id=str(uuid.uuid4()),
                        at=datetime.fromisoformat(s["timestamp"]),
                        onset=datetime.fromisoformat(s["onset"]) if s.get("onset") else None,
                        symptom=s.get("symptom", ""),
                        rating=s.get("rating"),
                        bristol=s.get("bristol"),
                        note=s.get("note", ""),
                    )
                )
            db.commit()
            return p.id, d.id
    finally:
        app.state.engine.dispose()


def _job(url: str, job_id: int) -> dict:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, progress, attempts, result, locked_by FROM job WHERE id = :id"), {"id": job_id}
            ).one()
            versions = conn.execute(
                text("SELECT id FROM plan_version WHERE person_id = (SELECT person_id FROM job WHERE id = :id)"),
                {"id": job_id},
            ).all()
    finally:
        engine.dispose()
    result = row.result if isinstance(row.result, dict) or row.result is None else json.loads(row.result)
    return {
        "status": row.status,
        "progress": row.progress,
        "attempts": row.attempts,
        "result": result,
        "locked_by": row.locked_by,
        "versions": sorted(int(v[0]) for v in versions),
    }


def _enqueue_plan(url: str, pid: int, did: int) -> int:
    from gutaxis.web import jobs
    from gutaxis.web.db import make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            return jobs.enqueue(db, "build_plan", pid, requested_by=did, params={"client_id": str(uuid.uuid4())}).id
    finally:
        engine.dispose()


def _wait_job(url: str, job_id: int, until, timeout: float) -> dict:
    deadline = time.time() + timeout
    while True:
        j = _job(url, job_id)
        if until(j) or time.time() > deadline:
            return j
        time.sleep(0.05)


def run_plan_kills(
    data_dir: Path,
    database_url: str | None = None,
    *,
    kill: tuple[str, ...] = ("worker", "server"),
    lapse: float = 2.0,
    timeout: float = 300,
) -> dict:
    """Scenario 2: the worker, then the whole server (``kill`` says which), SIGKILLed in the middle of a
    plan job; the job must end done, with exactly one new plan version."""
    data_dir = Path(data_dir)
    url = database_url or _settings(data_dir, None).database_url
    pid, did = seed_plan_case(data_dir, database_url)
    server = Server(data_dir, database_url, food=True, env={"GUTAXIS_JOB_LAPSE_SECONDS": str(lapse)})
    server.start()
    out, problems = {}, []
    running = lambda j: j["status"] != "queued" and j["progress"] not in ("started", "reading the records")  # noqa: E731
    finished = lambda j: j["status"] in ("done", "failed")  # noqa: E731
    try:
        for how in kill:
            jid = _enqueue_plan(url, pid, did)
            versions_before = _job(url, jid)["versions"]
            t_enqueued = time.time()
            j = _wait_job(url, jid, lambda j: running(j) or finished(j), timeout)
            t_killed = time.time()
            if j["status"] != "running":
                problems.append(f"{how}: the job was {j['status']} before it could be killed mid-run ({j['progress']})")
                break
            at = j["progress"]
            if how == "worker":
                victims = server.worker_pids()
                if len(victims) != 1:
                    problems.append(f"expected one worker process, found {victims}")
                    break
                os.kill(victims[0], signal.SIGKILL)
                killed_status = _job(url, jid)
                _wait_gone_pid(victims[0])
                dead = victims[0]
                respawned = _wait_for(lambda dead=dead: [p for p in server.worker_pids() if p != dead], 30)
                if not respawned:
                    problems.append("the server started no new worker after its worker was killed")
            else:
                server.kill()
                killed_status = _job(url, jid)
                server.start()
            j = _wait_job(url, jid, finished, timeout)
            new_versions = [v for v in j["versions"] if v not in versions_before]
            out[how] = {
                "killed_during": at,
                "status_when_killed": killed_status["status"],
                "status": j["status"],
                "attempts": j["attempts"],
                "new_plan_versions": len(new_versions),
                "seconds_to_kill": round(t_killed - t_enqueued, 1),
                "seconds_kill_to_done": round(time.time() - t_killed, 1),
            }
            if j["status"] != "done":
                problems.append(f"{how} killed: the job ended {j['status']} ({j['progress']})")
            elif j["attempts"] < 2:
                problems.append(f"{how} killed: the job ran {j['attempts']} time(s): the kill missed it")
            if len(new_versions) != 1:
                problems.append(f"{how} killed: {len(new_versions)} new plan version(s), expected exactly 1")
            elif (j["result"] or {}).get("plan_version_id") != new_versions[0]:
                problems.append(f"{how} killed: the job's result names another plan version than the one stored")
    finally:
        server.stop()
    out["problems"] = problems
    return out


def _wait_gone_pid(pid: int, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)


def _wait_for(fn, timeout: float):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--database-url", default=None, help="an EMPTY database (default: SQLite in a temporary folder)")
    ap.add_argument("--no-plan", action="store_true", help="skip the plan-job scenario")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="gutaxis-faults-") as tmp:
        t0 = time.time()
        w = run_writes(
            Path(tmp) / "writes", args.database_url, seconds=args.seconds, clients=args.clients, kills=args.kills
        )
        print(
            f"writes: {w['clients']} clients for {w['seconds']} s, {w['kills']} SIGKILLs of the server "
            f"(restarts took {w['restart_seconds']} s); acknowledged {w['acknowledged']} "
            f"(before each kill: {w['acknowledged_before_each_kill']}), stored {w['stored']}, "
            f"duplicates {w['duplicates']}, lost {w['lost']}, stored but never acknowledged "
            f"{w['stored_never_acknowledged']}, attempts retried {w['retried_attempts']} "
            f"({time.time() - t0:.0f} s)"
        )
        for p in w["problems"]:
            print("  PROBLEM:", p)
        ok &= not w["problems"]
        if not args.no_plan:
            if not (SHARED / "fndds_portions").is_dir():
                print("plan job: skipped (needs ../shared/data/fndds_portions beside the checkout)")
            elif args.database_url:
                print("plan job: skipped with --database-url (it needs a second empty database)")
            else:
                p = run_plan_kills(Path(tmp) / "plan")
                for how in ("worker", "server"):
                    if how in p:
                        print(f"plan job, {how} SIGKILLed: {p[how]}")
                for prob in p["problems"]:
                    print("  PROBLEM:", prob)
                ok &= not p["problems"]
    print("all checks hold" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
