"""The app's one store, its cached data, and the session state every page relies on.

Pages call these wrappers instead of core directly when a result is worth keeping between
reruns. Cached data is keyed on the database path and its data version, so a load (which
changes the version) refreshes every page without clearing caches by hand.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from core.errors import SegplanError
from core.store import Store, resolve_db_path

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.runtime.uploaded_file_manager import UploadedFile

#: Session-state keys and their first values; set once per session by the entry file.
#: Cut-off defaults are the usual textbook ones (ABC 80/95 %, XYZ CV 0.5/1.0, SBC 1.32/0.49).
SESSION_DEFAULTS: dict[str, Any] = {
    "data_table": "orders",
    "ingest_mode": "append",
    "allow_returns": False,
    "last_ingest": None,          # the IngestResult of this session's last load
    "uploads": {},                # upload file_id -> temp file path
    "level": "product",
    "bucket": "week",
    "measure": "revenue",
    "abc_pct": (80, 95),
    "xyz_cv": (0.5, 1.0),
    "adi_cutoff": 1.32,
    "cv2_cutoff": 0.49,
    "hist_log": True,             # most features are skewed: a few items carry most volume
}

#: Cached results kept per function; enough for a few levels x buckets x measures.
CACHE_ENTRIES = 24
CACHE_TTL = "2h"


#: Set by the entry file's set-up; a page that runs without it was reached around app.py.
_SESSION_MARK = "segplan_session"


def init_session() -> None:
    """Give every session key its first value; later runs leave the user's choices alone."""
    for key, value in SESSION_DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict) else value
    st.session_state[_SESSION_MARK] = True


def ensure_entry() -> None:
    """Make sure app.py ran before this page; if not, rerun through it. Call first on every page.

    Streamlit quirk: until some session has run `st.navigation`, a folder named ``pages/``
    makes a deep link (e.g. /data as the first visit after a server start) run the page file
    alone, the old multipage mode: no page config, no navigation, no session set-up. Turning
    that mode off and rerunning sends the same page through the entry file.
    """
    if st.session_state.get(_SESSION_MARK):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


# -- the store ----------------------------------------------------------------------------
@st.cache_resource(max_entries=4, show_spinner=False)
def _open_store(db_path: str) -> Store:
    return Store(db_path)


def get_store() -> Store:
    """The process's store for the database in use (SEGPLAN_DB, else data/segplan.duckdb)."""
    return _open_store(str(resolve_db_path()))


def data_version(store: Store) -> str:
    from core.overview import data_version as version

    return version(store)


# -- errors -------------------------------------------------------------------------------
def show_error(err: SegplanError) -> None:
    """A user-fixable problem as a red box: what is wrong, then how to fix it."""
    st.error(f"**{err.message}**" + (f"\n\n{err.hint}" if err.hint else ""), icon=":material/error:")


@contextmanager
def user_errors(stop: bool = True) -> Iterator[None]:
    """Show a SegplanError raised inside as st.error (never a traceback); stop the page if asked."""
    try:
        yield
    except SegplanError as err:
        show_error(err)
        if stop:
            st.stop()


# -- cached data --------------------------------------------------------------------------
@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _features(db_path: str, version: str, level: str, bucket: str) -> pd.DataFrame:
    from core.features import compute_features

    return compute_features(_open_store(db_path), level=level, bucket=bucket)


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _classified(
    db_path: str,
    version: str,
    level: str,
    measure: str,
    bucket: str,
    abc_cutoffs: tuple[float, float],
    xyz_cutoffs: tuple[float, float],
    adi_cutoff: float,
    cv2_cutoff: float,
) -> pd.DataFrame:
    from core.classify import classify
    from core.features import key_columns

    item_features = _features(db_path, version, level, bucket)
    classes = classify(
        _open_store(db_path), level=level, measure=measure, bucket=bucket,
        abc_cutoffs=abc_cutoffs, xyz_cutoffs=xyz_cutoffs,
        adi_cutoff=adi_cutoff, cv2_cutoff=cv2_cutoff, features=item_features,
    )
    if "revenue" not in classes.columns:
        # Planners compare segments by revenue whatever ranked them; carry it along.
        keys = list(key_columns(level))
        classes = classes.merge(item_features[[*keys, "revenue"]], on=keys, how="left", validate="one_to_one")
    return classes


def features(level: str, bucket: str) -> pd.DataFrame:
    """Features per item of the level (cached per data version)."""
    store = get_store()
    return _features(str(store.path), data_version(store), level, bucket)


def classified(
    level: str,
    measure: str,
    bucket: str,
    abc_cutoffs: tuple[float, float],
    xyz_cutoffs: tuple[float, float],
    adi_cutoff: float,
    cv2_cutoff: float,
) -> pd.DataFrame:
    """ABC / XYZ / demand-pattern classes per item, with revenue (cached per data version and arguments)."""
    store = get_store()
    return _classified(
        str(store.path), data_version(store), level, measure, bucket,
        tuple(abc_cutoffs), tuple(xyz_cutoffs), float(adi_cutoff), float(cv2_cutoff),
    )


# -- uploads ------------------------------------------------------------------------------
UPLOAD_DIR = Path(tempfile.gettempdir()) / "segplan-uploads"


def save_upload(upload: UploadedFile) -> Path:
    """Write an uploaded file to a temporary file once (core reads paths, not buffers).

    The file keeps its name so the format is known from the suffix; this session's earlier
    uploads are deleted so temporary files do not pile up.
    """
    uploads: dict[str, str] = st.session_state["uploads"]
    if upload.file_id in uploads and Path(uploads[upload.file_id]).exists():
        return Path(uploads[upload.file_id])
    for old in uploads.values():
        shutil.rmtree(Path(old).parent, ignore_errors=True)
    uploads.clear()
    folder = UPLOAD_DIR / re.sub(r"[^A-Za-z0-9_-]", "_", upload.file_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name).name
    path.write_bytes(upload.getbuffer())
    uploads[upload.file_id] = str(path)
    return path


@st.cache_data(max_entries=8, show_spinner=False)
def file_headers(path: str) -> list[str]:
    """Headers of an uploaded file (cached: the mapping editor reruns on every choice)."""
    from core.ingest import read_headers

    return read_headers(path)


@st.cache_data(max_entries=8, show_spinner=False)
def file_preview(path: str, rows: int = 20) -> pd.DataFrame:
    """The first rows of an uploaded file as text."""
    from core.ingest import preview

    return preview(path, rows)
