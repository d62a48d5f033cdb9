"""Shared fixtures: where the reference data in ../shared lives.

Tests that need ../shared skip with a clear reason only where it is absent (a user's fresh
clone); CI always has it.
"""

from __future__ import annotations

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
