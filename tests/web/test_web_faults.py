"""Nothing acknowledged is lost when the server or the worker is killed (issue 16, "Faults").

The real server (``python -m gutaxis serve``, its own process group with the job worker) on a free
loopback port, run by bench/bench_faults.py's code:

* 20 clients log meals, each write with its own client id, re-sending an unacknowledged write with
  the same id as an offline-first client does, while the server's process group is SIGKILLed three
  times and restarted. The acceptance figure is 60 s of writing; this test runs **20 s of server
  uptime** (plus the restarts' downtime) to stay bounded; ``bench/bench_faults.py`` runs the full
  60 s and prints the counts. On SQLite (a file) and on the throwaway PostgreSQL of conftest.
* A plan job's worker is SIGKILLed mid-job: the server starts a new worker, the job is re-queued when
  its heartbeat lapses and completes, with exactly one plan version (SQLite; ~1 min with the food
  data of ../shared).
* A worker killed right after a plan job built its draft, before the job was marked done, leaves no
  plan version behind (the draft and the job's end are one transaction), on both databases.
* A server killed between storing an upload (or a diary import) and enqueuing its job: the client's
  retry with the same client id enqueues the missing job, once (both databases).
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SHARED
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "bench_faults.py")
bench_faults = importlib.util.module_from_spec(_spec)
sys.modules["bench_faults"] = bench_faults
_spec.loader.exec_module(bench_faults)

needs_food_data = pytest.mark.skipif(
    not (SHARED / "data" / "fndds_portions").is_dir(), reason="needs the food data of ../shared"
)
TEST_SECONDS = 20  # of server uptime; the acceptance's 60 s run is bench/bench_faults.py


def test_twenty_clients_lose_and_duplicate_nothing_while_the_server_is_killed_three_times(tmp_path, database_url):
    data_dir = tmp_path / "app"  # the SQLite half's database lives here (conftest's database_url)
    figures = bench_faults.run_writes(data_dir, database_url, seconds=TEST_SECONDS, clients=20, kills=3)
    print(figures)
    assert figures["problems"] == [], figures
    assert figures["kills"] == 3
    before = figures["acknowledged_before_each_kill"]
    assert before[0] > 0 and before[0] < before[1] < before[2] < figures["acknowledged"], figures
    assert figures["retried_attempts"] > 0, "no write was ever interrupted: the kills did not hit the clients"
    assert figures["stored"] == figures["acknowledged"] and figures["duplicates"] == 0 and figures["lost"] == 0


@needs_food_data
def test_a_plan_job_whose_worker_is_killed_mid_run_completes_once_after_the_worker_restarts(tmp_path):
    out = bench_faults.run_plan_kills(tmp_path / "app", kill=("worker",), lapse=2.0, timeout=240)
    print(out)
    assert out["problems"] == [], out
    w = out["worker"]
    assert w["status_when_killed"] == "running"
    assert (w["status"], w["new_plan_versions"]) == ("done", 1) and w["attempts"] == 2, w


_KILLED_AFTER_DRAFT = textwrap.dedent("""
    import os, signal, sys
    from gutaxis.web import jobs, tasks_plan
    from gutaxis.web.db import make_engine, session_factory
    from gutaxis.web.settings import Settings

    real = tasks_plan.build_plan_job

    @jobs.handler("build_plan")
    def build_then_die(db, job, settings, progress):
        result = real(db, job, settings, progress)
        print("built", result["plan_version_id"], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before run_job marks the job done

    s = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], plan_draws=20, fndds=sys.argv[3] + "/fndds_portions",
                 sr28=sys.argv[3] + "/usda_sr28_full", usda=sys.argv[3] + "/usda_sr28_abbrev/ABBREV.txt")
    sessions = session_factory(make_engine(s.database_url))
    jid = jobs.claim(sessions, "doomed", lapse=jobs._lapse_of(s))
    jobs.run_job(sessions, jid, s, worker="doomed")
""")


@needs_food_data
def test_a_worker_killed_after_building_a_draft_leaves_no_plan_version_behind(app, settings, tmp_path):
    from gutaxis.web import jobs
    from gutaxis.web.models import Job, PlanVersion

    pid, did = bench_faults.seed_plan_case(settings.data_dir, settings.database_url)
    with app.state.sessions() as db:
        jid = jobs.enqueue(db, "build_plan", pid, requested_by=did, params={"client_id": "x"}).id
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_AFTER_DRAFT,
            settings.database_url,
            str(settings.data_dir),
            str(SHARED / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert proc.stdout.startswith("built "), proc.stdout  # the draft was built and flushed, then the kill
    with app.state.sessions() as db:
        job = db.get(Job, jid)
        assert (job.status, job.attempts, job.locked_by) == ("running", 1, "doomed")
        n = db.scalar(select(func.count()).select_from(PlanVersion).where(PlanVersion.person_id == pid))
    assert n == 0, "a killed worker left a plan version whose job is not done: a re-run would add a second"


class _Killed(Exception):
    """The server process dying between two commits (nothing after it runs; the client gets no answer)."""


def _form(kind: str, tmp_path) -> tuple[str, dict, dict]:
    from importlib import resources

    from test_web_person import MFP_HEADER, write_csv

    if kind == "parse_profile":
        data = (resources.files("gutaxis") / "data" / "example_person" / "profile_metaphlan.txt").read_bytes()
        return "/uploads", {}, {"file": ("profile_metaphlan.txt", data, "application/octet-stream")}
    row = ["2024-05-06", "Lunch", "500", "", "", "", "", "", "", "", "", "", "3", "", "", "", "", "", "", ""]
    path = write_csv(tmp_path / "Nutrition-Summary.csv", MFP_HEADER, [row])
    return "/import", {"dates": "detect"}, {"file": (path.name, path.read_bytes(), "text/csv")}


@pytest.mark.parametrize("kind", ["parse_profile", "import_diary"])
def test_an_upload_whose_job_a_kill_lost_gets_it_when_the_client_sends_the_form_again(
    app, settings, person, monkeypatch, tmp_path, kind
):
    """The upload row and its job are two commits; a server killed between them left the upload queued
    for ever, and the client's retry (same client id) only pointed at it."""
    import uuid

    from gutaxis.web import jobs
    from gutaxis.web.models import Job, Upload

    path, data, files = _form(kind, tmp_path)
    data["client_id"] = cid = str(uuid.uuid4())

    def killed(*args, **kw):
        raise _Killed

    with monkeypatch.context() as m:
        m.setattr(jobs, "submit", killed)
        try:
            r = person.post_form(path, dict(data), files=files, page=path)
        except _Killed:
            pass
        else:
            assert r.status_code == 500, r.status_code  # the app's error page: no acknowledgement either way

    def state():
        with app.state.sessions() as db:
            up = db.scalar(select(Upload).where(Upload.person_id == person.user_id, Upload.client_id == cid))
            mine = [
                j
                for j in db.scalars(select(Job).where(Job.person_id == person.user_id, Job.kind == kind))
                if (j.params or {}).get("upload_id") == up.id
            ]
            return up, mine

    up, mine = state()
    assert up.status == "queued" and mine == []  # the half-done state a kill leaves
    for _ in range(2):  # the client's retry, and one more: one job, run once
        r = person.post_form(path, dict(data), files=files, page=path)
        assert r.status_code == 303, r.text[:300]
        up, mine = state()
        assert len(mine) == 1, mine
        assert mine[0].status in ("done", "failed") and mine[0].attempts == 1
        assert up.status != "queued", up.status
