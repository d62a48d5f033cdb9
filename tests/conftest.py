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
