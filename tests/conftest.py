"""Shared fixtures: a fresh database per test, and the real datasets in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGPLAN_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def store(tmp_path: Path):
    """An empty, migrated database file in a temporary folder."""
    with Store(tmp_path / "test.duckdb") as s:
        yield s


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset not present: {path}")
    return path
