"""Load test of the web app on loopback: 50 virtual users for 60 s on one server worker.

Each user has a session made beforehand (logins are argon2id-slow on purpose and not what is
measured), thinks 0.5-2 s between requests, and either logs a meal (POST /log/meal: CSRF token,
a fresh client id, the text matched against FNDDS) or reads the week's diary (GET /diary), half
and half. Printed: requests/s, p50/p95/p99 latency per kind, errors, and whether the stored
meal rows equal the writes the server acknowledged (303) with no duplicate client id.

The peer is the floor of the same stack: a bare FastAPI + SQLite app that stores the typed text
and renders a list, with no session check, CSRF, matching or audit, under the same load in the
same run. The ratio of p95 latencies is the last line.

Run: .venv/bin/python bench/bench_web_load.py [--users 50] [--seconds 60]
(needs ../shared beside the checkout for the FNDDS food tables). Loopback only; bounded.
Target (issue 10): p95 < 250 ms, zero errors, stored rows == acknowledged writes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEXTS = [
    "porridge with blueberries",
    "1 medium banana",
    "2 eggs and toast",
    "1 cup kimchi",
    "an apple",
    "greek yogurt with honey",
    "chicken curry with rice",
    "a glass of orange juice",
    "1 cup cooked lentils",
    "handful of almonds",
    "150 g salmon",
    "flat white",
]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _settings(data_dir: Path):
    from gutaxis.web.settings import Settings

    return Settings(
        data_dir=data_dir,
        fndds=SHARED / "fndds_portions",
        sr28=SHARED / "usda_sr28_full",
        usda=SHARED / "usda_sr28_abbrev" / "ABBREV.txt",
    )


def serve_gutaxis(data_dir: str, port: int) -> None:
    import uvicorn

    from gutaxis.web import food
    from gutaxis.web.app import create_app

    settings = _settings(Path(data_dir))
    app = create_app(settings)
    food.tables(settings)  # loaded before the first request, as a running server has it
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_floor(data_dir: str, port: int) -> None:
    """The peer: the same framework, server and database, none of the app's work."""
    import html

    import uvicorn
    from fastapi import FastAPI, Form
    from fastapi.responses import HTMLResponse, RedirectResponse

    path = Path(data_dir) / "floor.db"
    import threading

    con = sqlite3.connect(path, check_same_thread=False)
    lock = threading.Lock()  # one connection shared by the server's threads: one statement at a time
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS meal (id INTEGER PRIMARY KEY, person INT, client_id TEXT UNIQUE, text TEXT)"
    )
    app = FastAPI()

    @app.post("/log/meal")
    def meal(text: str = Form(""), client_id: str = Form(""), person: int = Form(0)):
        with lock, con:
            con.execute(
                "INSERT OR IGNORE INTO meal (person, client_id, text) VALUES (?, ?, ?)", (person, client_id, text)
            )
        return RedirectResponse("/log", status_code=303)

    @app.get("/diary")
    def diary(person: int = 0):
        with lock:
            rows = con.execute("SELECT text FROM meal WHERE person = ? ORDER BY id DESC LIMIT 50", (person,)).fetchall()
        return HTMLResponse("<ul>" + "".join(f"<li>{html.escape(r[0])}</li>" for r in rows) + "</ul>")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _sessions(data_dir: Path, n: int) -> list[tuple[int, str, str]]:
    """n people with a session each: (user id, session token, CSRF token), written as the app does."""
    from gutaxis.web.app import create_app
    from gutaxis.web.models import User, WebSession
    from gutaxis.web.security import new_token, token_hash

    app = create_app(_settings(data_dir))
    out = []
    with app.state.sessions() as db:
        for i in range(n):
            u = User(email=f"load{i}@example.org", name=f"load {i}", password_hash="!", role="person")
            db.add(u)
            db.flush()
            tok, csrf = new_token(), new_token()
            db.add(WebSession(token_hash=token_hash(tok), user_id=u.id, csrf_token=csrf))
            out.append((u.id, tok, csrf))
        db.commit()
    app.state.engine.dispose()
    return out


async def _user(client, base, who, floor, stop_at, rng, log):
    uid, tok, csrf = who
    headers = {"cookie": f"__Host-gutaxis={tok}", "accept": "text/html"}
    while time.perf_counter() < stop_at:
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        if time.perf_counter() >= stop_at:
            break
        write = rng.random() < 0.5
        t0 = time.perf_counter()
        try:
            if write:
                cid = str(uuid.uuid4())
                data = {"text": rng.choice(TEXTS), "client_id": cid, "csrf_token": csrf, "person": str(uid)}
                r = await client.post(base + "/log/meal", data=data, headers=headers)
                ok = r.status_code == 303
            else:
                r = await client.get(base + "/diary" + (f"?person={uid}" if floor else ""), headers=headers)
                ok = r.status_code == 200
            code = r.status_code
        except Exception as exc:
            ok, code = False, type(exc).__name__
        log.append(("meal" if write else "diary", time.perf_counter() - t0, ok, code))


async def _load(port, people, seconds, floor, seed=0):
    import httpx

    base = f"http://127.0.0.1:{port}"
    log: list = []
    limits = httpx.Limits(max_connections=len(people) + 5, max_keepalive_connections=len(people) + 5)
    async with httpx.AsyncClient(follow_redirects=False, timeout=30, limits=limits) as client:
        stop_at = time.perf_counter() + seconds
        rngs = [random.Random(seed * 1000 + i) for i in range(len(people))]
        await asyncio.gather(
            *[_user(client, base, who, floor, stop_at, rng, log) for who, rng in zip(people, rngs, strict=True)]
        )
    return log


def _wait(port, proc, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def _summary(name, log, seconds):
    lat = {k: np.array([t for kind, t, _, _ in log if kind == k]) * 1000 for k in ("meal", "diary")}
    allt = np.concatenate([v for v in lat.values() if v.size])
    errors = [(k, c) for k, _, ok, c in log if not ok]
    print(
        f"{name}: {len(log)} requests in {seconds} s = {len(log) / seconds:.1f} req/s; "
        f"p50 {np.percentile(allt, 50):.1f} ms, p95 {np.percentile(allt, 95):.1f} ms, "
        f"p99 {np.percentile(allt, 99):.1f} ms; errors {len(errors)}" + (f" {errors[:5]}" if errors else "")
    )
    for k, v in lat.items():
        if v.size:
            print(
                f"  {k:5s}: n={v.size} p50 {np.percentile(v, 50):.1f} ms, p95 {np.percentile(v, 95):.1f} ms, "
                f"p99 {np.percentile(v, 99):.1f} ms"
            )
    return float(np.percentile(allt, 95)), len(errors)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    if not (SHARED / "fndds_portions").is_dir():
        print("needs ../shared/data/fndds_portions beside the checkout")
        return 2
    results = {}
    for name in ("gutaxis", "floor"):
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            people = (
                _sessions(data_dir, args.users) if name == "gutaxis" else [(i + 1, "", "") for i in range(args.users)]
            )
            port = _free_port()
            target = "serve_gutaxis" if name == "gutaxis" else "serve_floor"
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                f"import bench_web_load as b; b.{target}({tmp!r}, {port})"
            )
            proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONWARNINGS": "ignore"})
            try:
                _wait(port, proc)
                log = asyncio.run(_load(port, people, args.seconds, floor=name == "floor"))
            finally:
                proc.terminate()
                proc.wait(10)
            p95, errors = _summary(name, log, args.seconds)
            acked = sum(1 for k, _, ok, _ in log if k == "meal" and ok)
            if name == "gutaxis":
                con = sqlite3.connect(data_dir / "gutaxis.db")
                stored = con.execute("SELECT count(*) FROM meal_entry").fetchone()[0]
                dupes = con.execute(
                    "SELECT count(*) - count(DISTINCT person_id || client_id) FROM meal_entry"
                ).fetchone()[0]
                con.close()
                print(
                    f"  stored meal rows {stored}, acknowledged writes {acked}, duplicates {dupes}: "
                    + ("OK" if stored == acked and dupes == 0 else "MISMATCH")
                )
                results[name] = (p95, errors, stored == acked and dupes == 0)
            else:
                results[name] = (p95, errors, True)
    g, f = results["gutaxis"], results["floor"]
    ok = g[0] < 250 and g[1] == 0 and g[2]
    print(f"target p95 < 250 ms, 0 errors, rows == writes: {'met' if ok else 'NOT met'}")
    print(f"ratio p95 gutaxis / bare FastAPI+SQLite floor: {g[0] / f[0]:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
