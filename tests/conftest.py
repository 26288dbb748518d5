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


@pytest.fixture(scope="session")
def tiny_sample_file(tmp_path_factory) -> Path:
    """The tiny sample database (core.sample.build_tiny_database, seed 0), built once per test run.
    Tests that write take a copy (`copy_of` or the `tiny` fixture)."""
    from core.sample import build_tiny_database

    path = tmp_path_factory.mktemp("tiny_sample") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
    return path


def copy_of(database: Path, folder: Path) -> Path:
    """A private copy of a database file for one test."""
    import shutil

    path = folder / database.name
    shutil.copy(database, path)
    return path


@pytest.fixture
def tiny(tiny_sample_file: Path, tmp_path: Path):
    """A store on a fresh copy of the tiny sample database."""
    with Store(copy_of(tiny_sample_file, tmp_path)) as store:
        yield store


def tables_of(store: Store) -> set[str]:
    """Names of the tables in a database."""
    return {row[0] for row in store.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}
