"""`gutaxis serve --demo` as the README runs it: a real server process on loopback with its worker,
the demo's printed logins working, and the demo person's synthetic week on the pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import SHARED


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (food tables) is not beside this checkout")
def test_serve_demo_starts_prints_logins_and_serves_the_seeded_week(tmp_path):
    data = SHARED / "data"
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "gutaxis",
        "serve",
        "--demo",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "d"),
        "--fndds",
        str(data / "fndds_portions"),
        "--sr28",
        str(data / "usda_sr28_full"),
        "--usda",
        str(data / "usda_sr28_abbrev" / "ABBREV.txt"),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            out.append(line)
            if "is running at" in line:
                break
        text = "".join(out)
        assert len(_session_members(proc.pid)) >= 2, "the server started no worker process"
        assert f"http://127.0.0.1:{port}/" in text, text
        logins = dict(re.findall(r"(\S+@demo\.gutaxis\.invalid)\s+password: (\S+)", text))
        assert set(logins) == {
            "dietitian@demo.gutaxis.invalid",
            "alex@demo.gutaxis.invalid",
            "sam@demo.gutaxis.invalid",
        }
        assert "SYNTHETIC" in text
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as c:
            # httpx keeps Secure cookies off plain http; a browser sends them to 127.0.0.1, so pass them by hand
            first = c.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', first.text).group(1)
            pre = re.search(r"__Host-gutaxis-csrf=([^;]+)", first.headers["set-cookie"]).group(1)
            r = c.post(
                "/login",
                data={
                    "email": "alex@demo.gutaxis.invalid",
                    "password": logins["alex@demo.gutaxis.invalid"],
                    "csrf_token": token,
                },
                headers={"cookie": f"__Host-gutaxis-csrf={pre}"},
            )
            assert r.status_code == 303 and r.headers["location"] == "/log"
            cookie = re.search(r"__Host-gutaxis=([^;]+)", r.headers["set-cookie"]).group(1)
            h = {"cookie": f"__Host-gutaxis={cookie}", "accept": "text/html"}
            diary = c.get("/diary", headers=h)
            assert diary.status_code == 200 and "SYNTHETIC" in diary.text
            assert "Fiber per day" in diary.text
            card = c.get("/uploads", headers=h)
            assert card.status_code == 200 and "profile_metaphlan.txt" in card.text
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        _no_worker_left(proc.pid)


def _session_members(sid: int) -> list[int]:
    """Processes of the session the server started (Linux /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
                out.append(int(d))
    return out


def _no_worker_left(server_pid: int) -> None:
    """The job worker process ends with the server (it is never left running on its own)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        left = _session_members(server_pid)
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"process(es) {left} of the server's session outlived it (the job worker?)")
