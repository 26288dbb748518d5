"""The app's one store, its cached data, and the session state every page relies on.

Pages call these wrappers instead of core directly when a result is worth keeping between
reruns. Cached data is keyed on the database path and its data version, so a load (which
changes the version) refreshes every page without clearing caches by hand.
"""

from __future__ import annotations

import os
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
    # Segment page: the engine's defaults (5 % minimum share, 99th-percentile caps, auto k)
    "seg_method": "kmeans",
    "seg_k_auto": True,
    "seg_k": 4,
    "seg_log": True,
    "seg_outliers": "cap",
    "seg_cap_pct": 99,
    "seg_min_share": 5,
    "seg_min_items": 1,
    "seg_seed": 0,
    "seg_view": "pca",
    "seg_log_axes": True,
    "seg_stability_for": None,    # fingerprint of the result whose stability was asked for
    "seg_current": None,          # how the Segment page's live result was made, for Explain
    "seg_saved": None,            # id of the version this session saved last
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
#: Seconds without use after which the app lets go of the database file, so that a scheduled
#: command (`segplan ingest` from cron) can open it; the next page run opens it again.
RELEASE_ENV_VAR = "SEGPLAN_RELEASE_AFTER"
DEFAULT_RELEASE_AFTER = 30.0


def release_after_seconds() -> float:
    """``$SEGPLAN_RELEASE_AFTER`` (more than 0 seconds), else 30 s."""
    raw = os.environ.get(RELEASE_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_RELEASE_AFTER
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise SegplanError(f"{RELEASE_ENV_VAR}={raw!r} is not a number of seconds",
                           hint="set it to more than 0 seconds (how long the app holds the file unused)")
    return seconds


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_store(db_path: str) -> Store:
    # the app releases the file when idle (core.store.Store); every script run is in use (app.py)
    return Store(db_path, release_after=release_after_seconds())


def get_store() -> Store:
    """The process's store for the database in use (SEGPLAN_DB, else data/segplan.duckdb)."""
    return _open_store(str(resolve_db_path()))


@contextmanager
def store_in_use() -> Iterator[None]:
    """Keep the app's store from releasing the file while the block runs (app.py wraps each page
    run). A store that cannot be opened is left to the page, which shows why."""
    try:
        store = get_store()
    except SegplanError:
        store = None
    if store is None:
        yield
        return
    with store.in_use():
        yield


def data_version(store: Store) -> str:
    from core.overview import data_version as version

    return version(store)


def version_stamp(store: Store, *version_ids: int, data: str | None = None) -> str:
    """Cache key of figures that follow a version's segments: the data's version plus the versions'
    renames, policies, overrides (and today, for expiries) and status (core.versions.version_stamp).
    ``data``: the `data_version` the run has read already (it counts every table's rows)."""
    from core.versions import version_stamp as stamp

    return (data_version(store) if data is None else data) + "|" + stamp(store, *version_ids)


def acting_user() -> str | None:
    """Who the audit trail names for this session's writes: the signed-in user (ui/auth.py)."""
    return st.session_state.get("user_name")


def require_role_of_session(store: Store, action: str) -> None:
    """Refuse (SegplanError) a write the signed-in user's role may not make, before it is made."""
    from core.users import LOCAL_ADMIN, require

    require(store, acting_user() or LOCAL_ADMIN, action)


# -- errors -------------------------------------------------------------------------------
def show_error(err: SegplanError) -> None:
    """A user-fixable problem as a red box: what is wrong, then how to fix it."""
    st.error(f"**{err.message}**" + (f"\n\n{err.hint}" if err.hint else ""), icon=":material/error:")


def stop_with_info(message: str, link: tuple[str, str, str] | None) -> None:
    """The page has nothing to show yet: say why (``message``, markdown), link to the page that
    fixes it (``link``: page file, label, icon; None for no link) and end the run."""
    st.info(message, icon=":material/info:")
    if link is not None:
        st.page_link(link[0], label=link[1], icon=link[2])
    st.stop()


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


# -- segmentation ---------------------------------------------------------------------------
#: Prepared feature matrices kept per process (each ~ items x features floats).
PREPARED_ENTRIES = 8


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _segmentation_items(db_path: str, version: str, level: str, bucket: str, measure: str) -> pd.DataFrame:
    from core.segment_items import segmentation_items as build

    return build(_open_store(db_path), level, bucket, measure)


def segmentation_items(level: str, bucket: str, measure: str) -> pd.DataFrame:
    """Features, classes and master attributes per item (cached per data version)."""
    store = get_store()
    return _segmentation_items(str(store.path), data_version(store), level, bucket, measure)


@st.cache_resource(max_entries=PREPARED_ENTRIES, show_spinner=False)
def _prepared(db_path: str, version: str, level: str, bucket: str, measure: str, features: tuple[str, ...],
              log: str, cap_percentile: float | None) -> Any:
    """Imputed, logged, capped and scaled features: kept so a weight change only reweights."""
    from core.segment import prepare_features

    items = _segmentation_items(db_path, version, level, bucket, measure).reset_index(drop=True)
    return prepare_features(items, list(features), log, cap_percentile)


def _segmenter(db_path: str, version: str, level: str, bucket: str, measure: str, settings: dict[str, Any]) -> Any:
    """A fitted `Segmenter` for the page's settings, reusing the prepared matrix for clustering."""
    from core.classify import MEASURE_COLUMNS
    from core.segment import Segmenter
    from core.segment_methods import CLUSTER_METHODS

    items = _segmentation_items(db_path, version, level, bucket, measure)
    method = settings["method"]
    k = settings.get("k", "auto")
    if method == "hdbscan":
        k = None
    segmenter = Segmenter(
        method=method, k=k, features=settings.get("features"), weights=settings.get("weights"),
        log=settings.get("log", "auto"), cap_percentile=settings.get("cap_percentile", 99.0),
        measure=MEASURE_COLUMNS[measure], min_share=settings["min_share"], min_items=settings["min_items"],
        seed=settings["seed"], rules=settings.get("rules"),
    )
    prepared = None
    if method in CLUSTER_METHODS and settings.get("features"):
        prepared = _prepared(db_path, version, level, bucket, measure, tuple(settings["features"]),
                             settings.get("log", "auto"), settings.get("cap_percentile", 99.0))
    return segmenter.fit(items, prepared=prepared)


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _segmentation(db_path: str, version: str, level: str, bucket: str, measure: str, settings: dict[str, Any]) -> Any:
    return _segmenter(db_path, version, level, bucket, measure, settings).result_


def segmentation(level: str, bucket: str, measure: str, settings: dict[str, Any]) -> Any:
    """The `SegmentationResult` for the Segment page's settings (cached; the prepared matrix is
    reused across weight changes). ``settings``: method, k, features, weights, log,
    cap_percentile, min_share, min_items, seed, rules."""
    store = get_store()
    return _segmentation(str(store.path), data_version(store), level, bucket, measure, settings)


def weighted_matrix(level: str, bucket: str, measure: str, settings: dict[str, Any]) -> Any:
    """The scaled, weighted feature matrix a clustering used (for the PCA view)."""
    store = get_store()
    prepared = _prepared(str(store.path), data_version(store), level, bucket, measure, tuple(settings["features"]),
                         settings.get("log", "auto"), settings.get("cap_percentile", 99.0))
    return prepared.reweight(settings.get("weights"))[0]


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _bootstrap(db_path: str, version: str, level: str, bucket: str, measure: str, settings: dict[str, Any]) -> pd.DataFrame:
    return _segmenter(db_path, version, level, bucket, measure, settings).bootstrap(n_resamples=20)


def bootstrap_stability(level: str, bucket: str, measure: str, settings: dict[str, Any]) -> pd.DataFrame:
    """Bootstrap Jaccard per segment with its reading (20 resamples; cached)."""
    store = get_store()
    return _bootstrap(str(store.path), data_version(store), level, bucket, measure, settings)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _windows(db_path: str, version: str, level: str, bucket: str, measure: str, settings: dict[str, Any],
             k: int | None) -> Any:
    from core.classify import MEASURE_COLUMNS
    from core.segment import compare_windows
    from core.segment_items import window_items

    first, second = window_items(_open_store(db_path), level, bucket, measure)
    engine = {name: value for name, value in settings.items() if name != "k"}
    return compare_windows(first, second, k=k, measure=MEASURE_COLUMNS[measure], **engine)


def window_stability(level: str, bucket: str, measure: str, settings: dict[str, Any], k: int | None) -> Any:
    """The same settings on the first and second half of the history: ARI and migration (cached).

    ``k``: the result's segment count, fixed so the two halves are comparable (None for HDBSCAN).
    """
    store = get_store()
    return _windows(str(store.path), data_version(store), level, bucket, measure, settings, k)


def save_segmentation(result: Any, level: str, bucket: str, measure: str, note: str | None = None) -> int:
    """Save the page's result (with its renames) as a draft version; returns the version id.

    Fingerprinted on the database contents and settings, as `core.versions.run_segmentation`
    does, so `is_current` can tell later whether the data changed.
    """
    import copy

    from core.versions import database_fingerprint, save_version

    store = get_store()
    require_role_of_session(store, "segment")
    saved = copy.copy(result)
    saved.parameters = {**result.parameters, "items": {"level": level, "bucket": bucket, "abc_measure": measure}}
    saved.fingerprint = database_fingerprint(store, saved.parameters)
    return save_version(store, saved, level, bucket, acting_user(), note=note or None)


def saved_versions(level: str | None = None) -> pd.DataFrame:
    """Saved versions, newest first (not cached: a save shows at once)."""
    from core.versions import list_versions

    return list_versions(get_store(), level)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _version(db_path: str, version_id: int) -> Any:
    from core.versions import load_version

    return load_version(_open_store(db_path), version_id)


def saved_version(version_id: int) -> Any:
    """A saved version with its result (cached per id: versions are not changed by the pages)."""
    return _version(str(get_store().path), int(version_id))


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _is_current(db_path: str, version: str, version_id: int) -> bool:
    from core.versions import is_current

    return is_current(_open_store(db_path), version_id)


def version_is_current(version_id: int) -> bool:
    """Whether a saved version still matches the data (hashes every row: cached per data version)."""
    store = get_store()
    return _is_current(str(store.path), data_version(store), int(version_id))


@st.cache_resource(max_entries=4, show_spinner=False)
def _surrogate(db_path: str, version: str, source: str, level: str, bucket: str, measure: str,
               features: tuple[str, ...] | None, _assignments: pd.DataFrame) -> Any:
    from core.explain import fit_surrogate

    items = _segmentation_items(db_path, version, level, bucket, measure)
    return fit_surrogate(items, _assignments, list(features) if features else None, seed=0)


def surrogate(source: str, level: str, bucket: str, measure: str, features: list[str] | None,
              assignments: pd.DataFrame) -> Any:
    """The surrogate model of one segmentation (``source`` names it: a version id or the live
    result's fingerprint), cached per process."""
    store = get_store()
    return _surrogate(str(store.path), data_version(store), source, level, bucket, measure,
                      tuple(features) if features else None, assignments)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _global_explanations(db_path: str, version: str, source: str, level: str, bucket: str, measure: str,
                         sample: int, _surrogate: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    from core.explain import beeswarm_data, segment_importance

    items = _segmentation_items(db_path, version, level, bucket, measure)
    return (segment_importance(_surrogate, items, sample=sample, seed=0),
            beeswarm_data(_surrogate, items, sample=sample, seed=0))


def global_explanations(source: str, level: str, bucket: str, measure: str, sample: int,
                        fitted: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SHAP importance per segment and beeswarm points, from a seeded sample of ``sample`` items."""
    store = get_store()
    return _global_explanations(str(store.path), data_version(store), source, level, bucket, measure, sample, fitted)


# -- policies -------------------------------------------------------------------------------
def _policy_key(policies: Any) -> tuple[tuple[Any, ...], ...]:
    """Policies as plain tuples: a cache key that changes with any setting."""
    import dataclasses

    return tuple(dataclasses.astuple(p) for p in policies)


def _policies_of(key: tuple[tuple[Any, ...], ...]) -> list[Any]:
    from core.policy import SegmentPolicy

    return [SegmentPolicy(*fields) for fields in key]


def version_policies(version_id: int) -> list[Any]:
    """The version's saved policy per segment, else the default by class (not cached: a save shows at once)."""
    from core.policy_plan import version_policies as policies

    return policies(get_store(), int(version_id))


def save_version_policies(version_id: int, policies: Any) -> list[Any]:
    """Save the policies of a version (only changed segments are written and logged); returns all of them."""
    from core.policy_plan import save_policies

    require_role_of_session(get_store(), "edit_policy")
    return save_policies(get_store(), int(version_id), list(policies), acting_user())


@st.cache_data(max_entries=CACHE_ENTRIES, ttl=CACHE_TTL, show_spinner=False)
def _policy_plan(db_path: str, version: str, version_id: int, policies: tuple[tuple[Any, ...], ...],
                 demand_source: str, ordering_cost: float | None, holding_rate: float | None) -> pd.DataFrame:
    from core.policy_plan import policy_items

    return policy_items(_open_store(db_path), version_id, demand_source=demand_source, ordering_cost=ordering_cost,
                        holding_rate=holding_rate, policies=_policies_of(policies))


def policy_plan(version_id: int, policies: Any, demand_source: str = "history", ordering_cost: float | None = None,
                holding_rate: float | None = None) -> pd.DataFrame:
    """Per-item plan of a version under the given policies (cached per data version and policies)."""
    store = get_store()
    return _policy_plan(str(store.path), version_stamp(store, version_id), int(version_id), _policy_key(policies), demand_source,
                        ordering_cost, holding_rate)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _policy_backtest(db_path: str, version: str, version_id: int, bucket: str,
                     policies: tuple[tuple[Any, ...], ...]) -> pd.DataFrame:
    from core.overrides import effective_assignments
    from core.policy_backtest import segment_backtest

    store = _open_store(db_path)
    return segment_backtest(store, effective_assignments(store, version_id), _policies_of(policies), bucket=bucket)


def policy_backtest(version_id: int, bucket: str, policies: Any) -> pd.DataFrame:
    """Forecast WAPE and bias per segment with each segment's policy method, on the segments with
    overrides applied (cached per data version and the version's stamp)."""
    store = get_store()
    return _policy_backtest(str(store.path), version_stamp(store, version_id), int(version_id), bucket,
                            _policy_key(policies))


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _kpi_report(db_path: str, version: str, version_id: int, bucket: str) -> Any:
    from core.kpi_report import kpi_report as report

    return report(_open_store(db_path), version_id, bucket)


def kpi_report(version_id: int, bucket: str, data: str | None = None) -> Any:
    """The version's monitoring table (`core.kpi_report.KpiReport`: delivery KPIs, forecast accuracy,
    inventory turns per segment and period), cached per data version and the version's stamp: a
    saved policy changes the forecast methods and an override (added, withdrawn, expired) moves an
    item, neither changing the data. Takes seconds the first time: forecast accuracy backtests
    every product once per scored period. ``data``: the run's `data_version`, when read already."""
    store = get_store()
    return _kpi_report(str(store.path), version_stamp(store, version_id, data=data), int(version_id), bucket)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _allocation_demo(db_path: str, version: str, weeks: int, stock_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    from core.allocation_demo import demo_inputs

    return demo_inputs(_open_store(db_path), weeks, stock_share)


def allocation_demo(weeks: int, stock_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stock, open lines) made from the last ``weeks`` of orders (cached per data version)."""
    store = get_store()
    return _allocation_demo(str(store.path), data_version(store), int(weeks), float(stock_share))
