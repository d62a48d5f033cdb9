"""Shared fixtures: where the reference data in ../shared lives.

Tests that need ../shared skip with a clear reason only where it is absent (a user's fresh
clone); CI always has it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """Path under ../shared, or skip the calling test when ../shared is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared (reference data) is not present beside this checkout")
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"expected reference file {path} is missing from ../shared")
    return path


@pytest.fixture(scope="session")
def shared():
    """Callable fixture: ``shared("data", "gmhi2020_validation", "MH_species.txt")``."""
    return shared_path


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection to a non-loopback address fails the test: the whole suite runs offline (browser pages
    have their own guard, tests/web/test_web_browser.py)."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("::1", "localhost") or host.startswith("/")
        ):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _empty_dataset_cache(tmp_path_factory, monkeypatch):
    """Each test starts with an empty dataset cache and a closed mirror, so what a test finds
    never depends on what the machine happens to have downloaded (a cached FNDDS changes which
    food "kimchi" matches). Tests that need a cache build one and set ``GUTAXIS_DATA_DIR``."""
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(tmp_path_factory.mktemp("dataset-cache")))
    monkeypatch.setenv("GUTAXIS_DATA_URL", "http://127.0.0.1:9/")


@pytest.fixture
def unwritable(tmp_path):
    """An empty folder nobody can write into: ``chattr +i`` as root (as in the reliability audit),
    mode 0o500 otherwise."""
    import os
    import subprocess

    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is not available: no folder root cannot write to")
        yield ro
        subprocess.run(["chattr", "-i", str(ro)], capture_output=True)
    else:
        ro.chmod(0o500)
        yield ro
        ro.chmod(0o700)


@pytest.fixture(autouse=True)
def _cli_debug_off():
    """Each test starts with the CLI's ``--debug`` state off (tests share one Typer app)."""
    from gutaxis.cli._app import _state

    _state["debug"] = False
    yield
    _state["debug"] = False


def _mixed_axis_population(n: int):
    """Healthy, RA (started on the chronic branch) and SLE model patients, three arms over 60 days:
    usual; fermented food, fiber and probiotic; stress with a Western diet, mind-body practice and
    propionate. Shared by the engine-agreement tests."""
    import numpy as np

    from gutaxis import axis
    from gutaxis.axis import equations as eq

    rng = np.random.default_rng(11)
    P = axis.sample_parameters(n, rng)
    U = axis.reference_inputs(n)
    U[eq.U_RA, ::3] = 1.0
    U[eq.U_SLE, 1::6] = 1.0
    y0 = axis.healthy_state(P)
    y0[eq.S_P, ::3] = 1.0
    s = axis.Schedule.baseline(60, n_groups=3)
    s.set(10, 40, group=1, fermented=6.0, fiber=40.0, probiotic=10.0)
    s.set(5, 25, group=2, stress=1.0, satfat=18.0, upf=80.0, sugar=150.0, mindbody=30.0, propionate=1.0)
    return P, y0, U, s, np.arange(n) % 3


@pytest.fixture(scope="session")
def mixed_axis_population():
    """Callable fixture: ``mixed_axis_population(n)`` -> ``(P, y0, U, schedule, groups)``."""
    return _mixed_axis_population


def _find_chromium() -> str:
    """Debian's headless Chromium; skipped with the reason where absent, a failure under CI."""
    import os
    import shutil

    found = (
        os.environ.get("GUTAXIS_CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )
    if found is None:
        reason = "headless Chromium is not installed (Debian package `chromium`; see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must provide it")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def chromium() -> str:
    return _find_chromium()


@pytest.fixture(scope="session")
def run_browser(chromium):
    """``run_browser(profile_dir, *args)``: headless Chromium, offline (every host name fails to
    resolve, so a page can only use what it carries), console logged to stderr."""
    import subprocess

    def run(profile: Path, *args: str) -> subprocess.CompletedProcess:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    return run
