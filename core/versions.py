"""Saved segmentation versions: run the engine on the database's items, save, load, list, rename.

A version is one `SegmentationResult` with the level and bucket it was computed at, saved in
one transaction: its settings and results in ``segment_versions``, one row per item in
``segment_assignments`` (bulk-inserted from the frame by DuckDB, never row by row), one row per
segment in ``segment_profiles``, the k scan in ``segment_k_scan`` and its history in
``segment_version_events`` (see docs/data-model.md).

**Fingerprint.** A version made by `run_segmentation` is fingerprinted on the database
contents (a hash of every data-model column of every row, lineage columns left out) and the
settings (engine parameters plus how the items were built: level, bucket, ABC measure), not on
the items frame: DuckDB sums floating-point values in parallel, so a feature such as
``demand_std`` can differ in its last bit between two runs on the same data, and a hash of the
frame would call the same data different. Same data and same settings give the same
fingerprint, so `is_current` can tell whether a saved version still matches the database;
the assignments are the same too (distances equal up to that last-bit noise).

Status starts as ``draft``; governance (submit, approve, reject, supersede) comes later.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.classify import MEASURE_COLUMNS, MEASURES
from core.audit import record as audit_record
from core.errors import SegplanError
from core.features import feature_catalog, key_columns
from core.segment import METHODS, SegmentationResult, segment
from core.segment_methods import CLUSTER_METHODS
from core.segment_items import default_features, segmentation_items
from core.model import BASE_TABLES
from core.segment_prep import KEY_COLUMNS, _fingerprint_from_hash, key_columns_of
from core.store import Store, quote_ident
from core.version_features import features_to_keep, stage_features, write_features

#: Planner names for engine methods: ABC x XYZ is the engine's nine-box.
METHOD_ALIASES = {"abc_xyz": "nine_box"}
#: Columns of `assignments` after the level's key columns.
ASSIGNMENT_COLUMNS = ("segment", "segment_label", "distance_own", "distance_next", "boundary_margin")
_ASSIGNMENT_IDENTIFIERS = frozenset(ASSIGNMENT_COLUMNS)


@dataclass(frozen=True)
class SavedVersion:
    """A segmentation saved in the database: its id, where it was computed, and the result."""

    version_id: int
    level: str
    bucket: str
    result: SegmentationResult
    created_at: dt.datetime | None = None
    user_name: str | None = None
    status: str = "draft"
    note: str | None = None


def engine_method(method: str) -> str:
    """The engine's name of a method (``abc_xyz`` -> ``nine_box``), checked to exist."""
    name = METHOD_ALIASES.get(method, method)
    if name not in METHODS:
        choices = [*CLUSTER_METHODS, *METHOD_ALIASES, *(m for m in METHODS if m not in CLUSTER_METHODS)]
        raise SegplanError(f"unknown method {method!r} for parameter 'method'", hint="choose one of: " + ", ".join(choices))
    return name


def _check_feature_names(level: str, features: Sequence[str] | None, weights: Mapping[str, float] | None) -> None:
    """Unknown feature names fail before any work is done, naming the feature and the level."""
    known = [spec.name for spec in feature_catalog(level)]
    for parameter, names in (("features", features or ()), ("weights", (weights or {}).keys())):
        for name in names:
            if name not in known:
                raise SegplanError(f"{parameter}: unknown feature {name!r} at level {level!r}",
                                   hint="choose from: " + ", ".join(known))


def run_segmentation(
    store: Store,
    level: str,
    method: str,
    *,
    bucket: str = "week",
    k: int | str | None = "auto",
    features: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    min_share: float = 0.05,
    min_items: int = 1,
    seed: int = 0,
    user: str | None = None,
    rules: Sequence[Mapping[str, object]] | None = None,
    measure: str | None = None,
    note: str | None = None,
    **engine_options: Any,
) -> SavedVersion:
    """Build the items of ``level`` from the database, segment them and save the result as a version.

    ``method``: kmeans, hierarchical, hdbscan, gmm, nine_box (or its alias abc_xyz),
    demand_pattern or rules. ``measure`` (revenue, quantity, margin, lines) is what ABC ranks
    on and what ``min_share`` is a share of; ``None`` takes revenue, or quantity when no
    item has positive revenue (order lines without price or net amount). ``engine_options`` go to `core.segment.Segmenter`
    (log, cap_percentile, scaling, options, ...). Nothing is written unless the engine
    succeeds; the save is one transaction.
    """
    name = engine_method(method)
    key_columns(level)
    if measure is not None and measure not in MEASURES:
        raise SegplanError(f"unknown measure {measure!r} for parameter 'measure'", hint="choose one of: " + ", ".join(MEASURES))
    _check_feature_names(level, features, weights)
    items = segmentation_items(store, level, bucket, measure or "revenue")
    if features is None and name in CLUSTER_METHODS:
        # the level's default set (those the data has values for), plus any feature the weights name
        features = list(dict.fromkeys([*default_features(level, items), *(weights or {})]))
    if measure is None:
        measure = "revenue"
        if not (items["revenue"] > 0).any() and (items["quantity"] > 0).any():
            # no prices loaded: rank and size segments by volume instead (features computed again)
            measure = "quantity"
            items = segmentation_items(store, level, bucket, measure)
    if items.empty:
        raise SegplanError(f"no {level} items to segment: no order lines are loaded", hint="load orders first")
    if name == "hdbscan" and k == "auto":
        k = None
    result = segment(items, method=name, k=k, features=features, weights=weights, min_share=min_share,
                     min_items=min_items, seed=seed, rules=rules, measure=MEASURE_COLUMNS[measure], **engine_options)
    return save_segmentation(store, result, level, bucket, measure, user=user, note=note, items=items)


def save_segmentation(store: Store, result: SegmentationResult, level: str, bucket: str, measure: str = "revenue",
                      *, user: str | None = None, note: str | None = None,
                      items: pd.DataFrame | None = None) -> SavedVersion:
    """Save a result computed on `segmentation_items(store, level, bucket, measure)` as a draft version.

    For a page that ran the engine itself (e.g. to reuse a prepared matrix): records how the
    items were built in ``parameters["items"]`` and fingerprints the result on the database
    contents, as `run_segmentation` does, so `is_current` works. ``result`` is not changed;
    the returned version holds the stamped copy. Planner renames in ``result.labels`` are kept.
    """
    stamped = copy.copy(result)
    stamped.parameters = {**result.parameters, "items": {"level": level, "bucket": bucket, "abc_measure": measure}}
    stamped.fingerprint = database_fingerprint(store, stamped.parameters)
    user_name = user or os.environ.get("USER")
    version_id = save_version(store, stamped, level, bucket, user_name, note=note, items=items)
    return SavedVersion(version_id, level, bucket, stamped, user_name=user_name, note=note)


# -- fingerprint ----------------------------------------------------------------------------
def _database_hash(store: Store) -> str:
    """Row count and an order-independent sum of row hashes of every table a segmentation reads.

    `BASE_TABLES` (orders and their masters): inventory snapshots feed no segmentation, so
    loading them leaves versions current.

    Integer arithmetic, so exact and independent of scan order; lineage columns (run_id,
    source_row) are left out, so reloading the same file gives the same hash.
    """
    parts = []
    cur = store.cursor()
    for spec in BASE_TABLES:
        table = spec.name
        columns = ", ".join(quote_ident(c) for c in spec.column_names)
        count, total = cur.execute(
            f"SELECT count(*), coalesce(sum(CAST(hash({columns}) AS HUGEINT)), 0) FROM {quote_ident(table)}"
        ).fetchone()
        parts.append(f"{table}:{count}:{total}")
    return ";".join(parts)


def database_fingerprint(store: Store, parameters: Mapping[str, object]) -> str:
    """The fingerprint of a segmentation of the database's current contents with ``parameters``."""
    return _fingerprint_from_hash(_database_hash(store), parameters)


def is_current(store: Store, version_id: int) -> bool:
    """Whether a version made by `run_segmentation` still matches the database (same data, same settings)."""
    header = _header(store, version_id)
    return database_fingerprint(store, dict(header["parameters"])) == header["fingerprint"]


# -- JSON -----------------------------------------------------------------------------------
def _plain(value: object) -> object:
    """A value JSON can hold exactly: numpy scalars as Python numbers, NaN and infinity as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _dumps(value: object) -> str:
    return json.dumps(_plain(value), allow_nan=False, default=str)


def _rows_as_json(frame: pd.DataFrame) -> list[str]:
    """Each row of a small frame (profiles, k scan) as one JSON object, column order kept."""
    columns = list(frame.columns)
    return [_dumps(dict(zip(columns, row, strict=True))) for row in frame.itertuples(index=False, name=None)]


# -- save -----------------------------------------------------------------------------------
def save_version(store: Store, result: SegmentationResult, level: str, bucket: str, user: str | None = None,
                 *, note: str | None = None, items: pd.DataFrame | None = None) -> int:
    """Save ``result`` (computed at ``level`` and ``bucket``) as a new draft version; returns its id.

    ``items``: the frame the result was computed on; the features it used are saved with the
    version (`core.version_features`). Without it they are computed again from the database
    when the result records how its items were built (``parameters["items"]``), else none are kept.
    """
    keys = list(key_columns(level))
    frame = result.assignments
    if key_columns_of(frame) != keys:
        raise SegplanError(f"result has key columns {key_columns_of(frame)}, not those of level {level!r} ({keys})",
                           hint="save the result with the level its items were computed at")
    record = result.to_record()
    staged = frame[[*keys, *ASSIGNMENT_COLUMNS]].assign(item_position=np.arange(len(frame), dtype=np.int64))
    key_select = ", ".join(
        quote_ident(k) if k in keys else f"CAST(NULL AS VARCHAR) AS {quote_ident(k)}" for k in KEY_COLUMNS
    )
    profile = result.profile.drop(columns=["segment_label"], errors="ignore")
    profiles = pd.DataFrame({
        "segment_position": np.arange(len(profile), dtype=np.int32),
        "segment": [str(s) for s in profile["segment"]],
        "profile": _rows_as_json(profile.drop(columns=["segment"])),
    })
    scan = result.k_scan if result.k_scan is not None else pd.DataFrame({"k": []})
    k_scan = pd.DataFrame({"k": scan["k"].astype("int64").to_numpy(),
                           "metrics": _rows_as_json(scan.drop(columns=["k"]))})
    item_features = _item_features(store, result, level, keys, items)
    now = dt.datetime.now()
    with store.transaction() as cur:
        version_id = cur.execute(
            """INSERT INTO segment_versions (created_at, user_name, level, bucket, method, parameters, fingerprint,
                   k, items, metrics, merges, auto_names, labels, imputed, log_features, note)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               RETURNING version_id""",
            [now, user, level, bucket, result.method, _dumps(record["parameters"]), result.fingerprint,
             int(result.k), len(frame), _dumps(record["metrics"]), _dumps(record["merges"]),
             _dumps(record["auto_names"]), _dumps(record["labels"]), _dumps(record["imputed"]),
             _dumps(record["log_features"]), note],
        ).fetchone()[0]
        # One INSERT ... SELECT per table from registered frames: DuckDB reads the columns in bulk.
        # The views live on this transaction's cursor and go when it closes (an aborted
        # transaction refuses even an unregister, which would hide the real error).
        cur.register("staged_assignments", staged)
        cur.register("staged_profiles", profiles)
        cur.register("staged_k_scan", k_scan)
        cur.execute(
            f"""INSERT INTO segment_assignments
                SELECT ?, item_position, {key_select}, CAST(segment AS VARCHAR), CAST(segment_label AS VARCHAR),
                       distance_own, distance_next, boundary_margin
                FROM staged_assignments""",
            [version_id],
        )
        cur.execute("INSERT INTO segment_profiles SELECT ?, segment_position, segment, profile FROM staged_profiles",
                    [version_id])
        cur.execute("INSERT INTO segment_k_scan SELECT ?, k, metrics FROM staged_k_scan", [version_id])
        write_features(cur, version_id, item_features)
        cur.execute("INSERT INTO segment_version_events VALUES (?, ?, ?, 'created', ?)",
                    [version_id, now, user, _dumps({"method": result.method, "k": int(result.k)})])
        audit_record(cur, user=user or os.environ.get("USER"), action="run", entity="version", entity_id=int(version_id),
                     after={"level": level, "method": result.method, "k": int(result.k), "items": len(frame),
                            "fingerprint": result.fingerprint}, reason=note)
        from core.overrides import carry_over  # the level's active overrides follow it to the new version

        carry_over(cur, int(version_id), user)
    return int(version_id)


def _item_features(store: Store, result: SegmentationResult, level: str, keys: list[str],
                   items: pd.DataFrame | None) -> pd.DataFrame:
    """The features to keep with the version, staged for `write_features` (before the transaction)."""
    built = result.parameters.get("items")
    if items is None and isinstance(built, Mapping) and built.get("level") == level:
        items = segmentation_items(store, level, str(built.get("bucket", "week")),
                                   str(built.get("abc_measure") or "revenue"))
    if items is None:
        return pd.DataFrame({"item_position": np.zeros(0, dtype=np.int64)})
    return stage_features(result.assignments, items, keys, features_to_keep(result, level, items))


# -- load -----------------------------------------------------------------------------------
_HEADER_COLUMNS = ("version_id", "created_at", "user_name", "level", "bucket", "method", "parameters", "fingerprint",
                   "k", "metrics", "merges", "auto_names", "labels", "imputed", "log_features", "status", "note")


def _header(store: Store, version_id: int) -> dict[str, object]:
    """The segment_versions row of a version, or the error naming the id."""
    if isinstance(version_id, bool) or not isinstance(version_id, int | np.integer):
        raise SegplanError(f"version {version_id!r} is not a version id", hint="give a whole number, see `segplan versions`")
    row = store.cursor().execute(
        f"SELECT {', '.join(_HEADER_COLUMNS)} FROM segment_versions WHERE version_id = ?", [int(version_id)]
    ).fetchone()
    if row is None:
        raise SegplanError(f"version {version_id} does not exist", hint="see `segplan versions` for the saved versions")
    header = dict(zip(_HEADER_COLUMNS, row, strict=True))
    for name in ("parameters", "metrics", "merges", "auto_names", "labels", "imputed", "log_features"):
        header[name] = json.loads(header[name])
    return header


def _segment_values(values: pd.Series, method: str) -> pd.Series:
    """Saved segment text back to the engine's type: int for clustering, text for rules."""
    if method in CLUSTER_METHODS:
        return values.astype(np.int64)
    return values


def _final_names(header: Mapping[str, object]) -> dict[str, str]:
    """Segment (as saved text) -> its name: the planner's rename, else the automatic name."""
    auto = dict(header["auto_names"])
    return {seg: dict(header["labels"]).get(seg, name) for seg, name in auto.items()}


def _assignments(store: Store, header: Mapping[str, object]) -> pd.DataFrame:
    keys = key_columns(str(header["level"]))
    columns = ", ".join([*(quote_ident(k) for k in keys),
                         *(quote_ident(c, allowed=_ASSIGNMENT_IDENTIFIERS) for c in ASSIGNMENT_COLUMNS)])
    frame = store.cursor().execute(
        f"SELECT {columns} FROM segment_assignments WHERE version_id = ? ORDER BY item_position",
        [header["version_id"]],
    ).df()
    frame["segment"] = _segment_values(frame["segment"], str(header["method"]))
    return frame


def assignments(store: Store, version_id: int) -> pd.DataFrame:
    """One row per item of a version: key columns of its level, segment, segment_label, distances.

    The model's assignments, as saved. The segment an item is in for planning and monitoring
    (plan, allocation, KPIs, cost-to-serve, exports) is `core.overrides.effective_assignments`,
    the planner's overrides applied; read this one where the model itself is meant.
    """
    return _assignments(store, _header(store, version_id))


def load_version(store: Store, version_id: int) -> SavedVersion:
    """A saved version with its `SegmentationResult` rebuilt (assignments, profile, k scan, names)."""
    header = _header(store, version_id)
    method = str(header["method"])
    cur = store.cursor()
    rows = cur.execute("SELECT segment, profile FROM segment_profiles WHERE version_id = ? ORDER BY segment_position",
                       [header["version_id"]]).fetchall()
    names = _final_names(header)
    profile = pd.DataFrame.from_records(
        [{"segment": seg, "segment_label": names.get(seg), **json.loads(body)} for seg, body in rows])
    if len(profile):
        profile["segment"] = _segment_values(profile["segment"], method)
        # null (an undefined median) back to NaN: numeric columns stay numeric
        for column in profile.columns.difference(["segment", "segment_label", "measure"]):
            profile[column] = pd.to_numeric(profile[column])
    scan_rows = cur.execute("SELECT k, metrics FROM segment_k_scan WHERE version_id = ? ORDER BY k",
                            [header["version_id"]]).fetchall()
    k_scan = pd.DataFrame.from_records([{"k": k, **json.loads(body)} for k, body in scan_rows]) if scan_rows else None
    if k_scan is not None:
        k_scan = k_scan.astype({c: np.float64 for c in k_scan.columns if c != "k"})
    record = {name: header[name] for name in ("method", "parameters", "k", "metrics", "merges", "fingerprint",
                                              "auto_names", "labels", "imputed", "log_features")}
    result = SegmentationResult.from_record(record, _assignments(store, header), profile, k_scan=k_scan)
    return SavedVersion(int(header["version_id"]), str(header["level"]), str(header["bucket"]), result,
                        created_at=header["created_at"], user_name=header["user_name"],
                        status=str(header["status"]), note=header["note"])


def list_versions(store: Store, level: str | None = None) -> pd.DataFrame:
    """Saved versions, newest first: id, when, who, level, bucket, method, k, items, silhouette, status, note."""
    if level is not None:
        key_columns(level)
    return store.cursor().execute(
        """SELECT version_id, created_at, user_name, level, bucket, method, k, items,
                  CAST(metrics->>'silhouette' AS DOUBLE) AS silhouette, status, note, fingerprint
           FROM segment_versions
           WHERE CAST($level AS VARCHAR) IS NULL OR level = $level
           ORDER BY version_id DESC""",
        {"level": level},
    ).df()


def version_in_force(store: Store, level: str) -> int | None:
    """The approved version of a level (the newest if several were left approved), else None."""
    key_columns(level)
    row = store.cursor().execute(
        """SELECT max(version_id) FROM segment_versions WHERE level = ? AND status = 'approved'""", [level]
    ).fetchone()
    return None if row[0] is None else int(row[0])

def version_stamp(store: Store, *version_ids: int) -> str:
    """What a version's figures depend on besides the data: renames, policy edits, overrides
    (added, withdrawn, and the day, since an override stops applying when it expires) and status.
    A cache key that moves when any of them does; pair it with the data's own version."""
    ids = [int(v) for v in version_ids]
    row = store.cursor().execute(
        """SELECT (SELECT count(*) FROM segment_version_events WHERE list_contains($ids, version_id)),
                  (SELECT count(*) FROM policy_events WHERE list_contains($ids, version_id)),
                  (SELECT count(*) || ':' || coalesce(max(override_id), 0) || ':' || count(withdrawn_at)
                   FROM segment_overrides WHERE list_contains($ids, version_id)),
                  (SELECT string_agg(status, ',' ORDER BY version_id) FROM segment_versions
                   WHERE list_contains($ids, version_id))""", {"ids": ids}).fetchone()
    return ";".join(str(v) for v in (*row, dt.date.today().isoformat()))

# -- planner renames --------------------------------------------------------------------------
def rename_segment(store: Store, version_id: int, segment: object, label: str, user: str | None = None) -> dict[object, str]:
    """Give a segment of a saved version the planner's name; returns every segment's name.

    The name must be non-empty and differ from the other segments' names. Saved in the
    version's labels and in its assignments' segment_label, in one transaction.
    """
    header = _header(store, version_id)
    method = str(header["method"])
    names = _final_names(header)
    key = str(segment)
    if key not in names:
        raise SegplanError(f"version {version_id} has no segment {segment!r}",
                           hint="rename one of: " + ", ".join(names))
    if not isinstance(label, str) or not label.strip():
        raise SegplanError(f"label {label!r} for segment {segment!r} is empty", hint="give a non-empty name")
    label = label.strip()
    taken = {name for seg, name in names.items() if seg != key}
    if label in taken:
        raise SegplanError(f"label {label!r}: another segment of version {version_id} is called that",
                           hint="give each segment its own name")
    labels = dict(header["labels"])
    labels[key] = label
    with store.transaction() as cur:
        from core.approval import check_editable  # here: approval reads this module's tables

        check_editable(cur, header["version_id"], "renamed")  # in the transaction: a submit may have just landed
        cur.execute("UPDATE segment_versions SET labels = ? WHERE version_id = ?", [_dumps(labels), header["version_id"]])
        cur.execute("UPDATE segment_assignments SET segment_label = ? WHERE version_id = ? AND segment = ?",
                    [label, header["version_id"], key])
        cur.execute("INSERT INTO segment_version_events VALUES (?, ?, ?, 'renamed', ?)",
                    [header["version_id"], dt.datetime.now(), user or os.environ.get("USER"),
                     _dumps({"segment": key, "from": names[key], "to": label})])
        audit_record(cur, user=user or os.environ.get("USER"), action="rename", entity="version",
                     entity_id=int(header["version_id"]), before={"segment": key, "label": names[key]},
                     after={"segment": key, "label": label})
    names[key] = label
    convert = int if method in CLUSTER_METHODS else str
    return {convert(seg): name for seg, name in names.items()}
