"""The one DuckDB file behind segplan: where it is, its schema and migrations, and how to write.

All execution goes through a `Store`: it owns the process's connection, hands each thread its
own cursor, serialises writes, and makes every write one transaction so that a load that
fails half way leaves the file as it was.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import SegplanError
from core.model import BASE_TABLES, TABLES

DEFAULT_DB_PATH = Path("data/segplan.duckdb")
DB_ENV_VAR = "SEGPLAN_DB"
#: Seconds to keep retrying the open while another process holds the file (the app, a CLI run).
LOCK_WAIT_ENV_VAR = "SEGPLAN_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 10.0

#: Columns every data-model table carries besides its own: which ingest run wrote the row,
#: and the row's number in its source file (for tracing any figure back to its input).
LINEAGE_COLUMNS = (("run_id", "BIGINT"), ("source_row", "BIGINT"))

#: System tables; with the data-model tables, the only identifiers `quote_ident` accepts.
SYSTEM_TABLES = ("meta", "ingest_runs", "ingest_rejects", "source_mappings")


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database file: ``--db PATH`` when given, else ``$SEGPLAN_DB``, else data/segplan.duckdb."""
    if explicit:
        return Path(explicit)
    if os.environ.get(DB_ENV_VAR):
        return Path(os.environ[DB_ENV_VAR])
    return DEFAULT_DB_PATH


def lock_wait_seconds() -> float:
    """How long to wait for a file another process holds: ``$SEGPLAN_LOCK_WAIT``, else 10 s."""
    raw = os.environ.get(LOCK_WAIT_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SegplanError(f"{LOCK_WAIT_ENV_VAR}={raw!r} is not a number of seconds",
                           hint="set it to 0 or more seconds (0: do not wait)")
    return seconds


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Open the file; while another process holds its lock, retry until ``wait`` seconds have passed.

    DuckDB lets one process write a file (and then no other process may open it at all); the
    file itself is never at risk, so waiting is safe: the caller gets the file or a clear error.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise SegplanError(f"cannot open database {path}: {str(exc).splitlines()[0]}",
                                   hint="check the path and that the file is a segplan database") from exc
            left = deadline - time.monotonic()
            if left <= 0:
                pid = re.search(r"PID (\d+)", str(exc))
                holder = f" (PID {pid.group(1)})" if pid else ""
                raise SegplanError(
                    f"database {path} is held by another segplan process{holder}, such as the app or "
                    f"another command; gave up after waiting {wait:g} s",
                    hint=f"only one process can open the file for writing: stop the app (or the other command) "
                         f"and try again, or set {LOCK_WAIT_ENV_VAR} to wait longer",
                ) from exc
            time.sleep(min(0.1, left))


def _known_identifiers() -> frozenset[str]:
    names: set[str] = set(SYSTEM_TABLES) | set(TABLES)
    for spec in TABLES.values():
        names.update(spec.column_names)
    names.update(name for name, _ in LINEAGE_COLUMNS)
    return frozenset(names)


_IDENTIFIERS = _known_identifiers()


def quote_ident(name: str, allowed: frozenset[str] | set[str] | None = None) -> str:
    """Quote a table or column name for SQL, accepting only known names.

    Values are always bound as parameters; identifiers cannot be, so they pass through here.
    ``allowed`` widens the whitelist for a caller's own derived names (feature columns).
    """
    if name not in _IDENTIFIERS and not (allowed and name in allowed):
        raise SegplanError(f"unknown column or table name {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _table_ddl(table: str) -> str:
    spec = TABLES[table]
    cols = [f"{quote_ident(c.name)} {c.sql_type}" for c in spec.columns]
    cols += [f"{quote_ident(n)} {t}" for n, t in LINEAGE_COLUMNS]
    return f"CREATE TABLE {quote_ident(table)} ({', '.join(cols)})"


def _migration_1() -> list[str]:
    statements = [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE ingest_run_seq START 1",
        """CREATE TABLE ingest_runs (
            run_id BIGINT PRIMARY KEY,
            table_name VARCHAR NOT NULL,
            source_name VARCHAR NOT NULL,   -- file name as the user knows it
            source_key VARCHAR,             -- what a remembered column mapping is keyed on
            file_format VARCHAR,
            mode VARCHAR NOT NULL,          -- append | replace
            mapping VARCHAR,                -- JSON: source header -> data-model column
            options VARCHAR,                -- JSON: ingest options used (allow_returns, ...)
            rows_read BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            status VARCHAR NOT NULL,
            message VARCHAR,
            user_name VARCHAR,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )""",
        """CREATE TABLE ingest_rejects (
            run_id BIGINT NOT NULL,
            source_name VARCHAR NOT NULL,
            row_number BIGINT,              -- line in the file as an editor shows it (header = 1)
            column_name VARCHAR,
            value VARCHAR,
            reason VARCHAR NOT NULL
        )""",
        """CREATE TABLE source_mappings (
            source_key VARCHAR NOT NULL,
            table_name VARCHAR NOT NULL,
            mapping VARCHAR NOT NULL,       -- JSON: source header -> data-model column
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source_key, table_name)
        )""",
    ]
    # the original four tables, named: TABLES grows with later migrations (inventory: 7)
    statements += [_table_ddl(t.name) for t in BASE_TABLES]
    return statements


def _migration_2() -> list[str]:
    """Saved segmentation versions: settings and results, assignments, profiles, k scan, history."""
    return [
        "CREATE SEQUENCE segment_version_seq START 1",
        """CREATE TABLE segment_versions (
            version_id BIGINT PRIMARY KEY DEFAULT nextval('segment_version_seq'),
            created_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            level VARCHAR NOT NULL,         -- product | customer | customer_product
            bucket VARCHAR NOT NULL,        -- week | month
            method VARCHAR NOT NULL,        -- the engine's method name (abc_xyz is saved as nine_box)
            parameters JSON NOT NULL,       -- every setting the result depends on
            fingerprint VARCHAR NOT NULL,   -- hash of input data + parameters
            k INTEGER NOT NULL,             -- segments after merges (noise not counted)
            items BIGINT NOT NULL,
            metrics JSON NOT NULL,          -- undefined metrics as null
            merges JSON NOT NULL,           -- [[from, into, reason], ...]
            auto_names JSON NOT NULL,       -- segment -> automatic name
            labels JSON NOT NULL,           -- segment -> planner's name (renames only)
            imputed JSON NOT NULL,          -- feature -> values filled with the median
            log_features JSON NOT NULL,     -- features that were log-transformed
            status VARCHAR NOT NULL DEFAULT 'draft',  -- draft | submitted | approved | rejected | superseded
            note VARCHAR
        )""",
        """CREATE TABLE segment_assignments (
            version_id BIGINT NOT NULL,
            item_position BIGINT NOT NULL,  -- row order of the result
            customer_id VARCHAR,            -- NULL when not part of the level
            product_id VARCHAR,             -- NULL when not part of the level
            segment VARCHAR NOT NULL,       -- cluster number as text for clustering, name for rules
            segment_label VARCHAR NOT NULL, -- planner's name when renamed, else automatic
            distance_own DOUBLE,
            distance_next DOUBLE,
            boundary_margin DOUBLE
        )""",
        """CREATE TABLE segment_profiles (
            version_id BIGINT NOT NULL,
            segment_position INTEGER NOT NULL,
            segment VARCHAR NOT NULL,
            profile JSON NOT NULL           -- the profile row: items, shares, feature medians
        )""",
        """CREATE TABLE segment_k_scan (
            version_id BIGINT NOT NULL,
            k INTEGER NOT NULL,
            metrics JSON NOT NULL           -- silhouette, davies_bouldin, ... at this k
        )""",
        """CREATE TABLE segment_version_events (
            version_id BIGINT NOT NULL,
            event_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            action VARCHAR NOT NULL,        -- created | renamed (governance adds its own)
            detail JSON
        )""",
    ]


def _migration_3() -> list[str]:
    """Policies per segment, saved with the segmentation version, and the history of their changes."""
    return [
        """CREATE TABLE segment_policies (
            version_id BIGINT NOT NULL,
            segment VARCHAR NOT NULL,       -- as in segment_assignments.segment
            service_level DOUBLE NOT NULL,  -- share, 0 < level < 1
            service_level_type VARCHAR NOT NULL,   -- cycle_service_level | fill_rate
            inventory_strategy VARCHAR NOT NULL,   -- make_to_stock | assemble_to_order | make_to_order
            review_period_days DOUBLE NOT NULL,    -- 0 = continuous review
            forecast_method VARCHAR NOT NULL,      -- auto | ses | holt | holt_winters | croston | sba | tsb
            allocation_tier INTEGER NOT NULL,      -- 1 is served first
            updated_by VARCHAR,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (version_id, segment)
        )""",
        """CREATE TABLE policy_events (
            version_id BIGINT NOT NULL,
            segment VARCHAR NOT NULL,
            event_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            action VARCHAR NOT NULL,        -- created | changed (governance adds its own)
            policy_before JSON,             -- the segment's policy before (null when first saved)
            policy_after JSON NOT NULL      -- the segment's policy after
        )""",
    ]


def _migration_4() -> list[str]:
    """Governance: accounts and roles, the append-only audit trail, overrides of segment assignments."""
    return [
        """CREATE TABLE users (
            user_name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,          -- viewer | planner | approver | admin
            password_hash VARCHAR,          -- NULL for accounts that sign in through OIDC only
            created_at TIMESTAMP NOT NULL,
            created_by VARCHAR,
            active BOOLEAN NOT NULL DEFAULT TRUE
        )""",
        "CREATE SEQUENCE audit_event_seq START 1",
        """CREATE TABLE audit_log (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('audit_event_seq'),
            event_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            action VARCHAR NOT NULL,        -- ingest | run | override | submit | approve | reject | ...
            entity VARCHAR NOT NULL,        -- what was written: table, version, policy, user, override
            entity_id VARCHAR,              -- which one (table name, version id, user name, ...)
            before JSON,                    -- state before the write (NULL when it did not exist)
            after JSON,                     -- state after the write
            reason VARCHAR,
            prev_hash VARCHAR NOT NULL,     -- row_hash of the event before ('' for the first)
            row_hash VARCHAR NOT NULL       -- sha256 over prev_hash and this event: edits break the chain
        )""",
        "CREATE SEQUENCE segment_override_seq START 1",
        """CREATE TABLE segment_overrides (
            override_id BIGINT PRIMARY KEY DEFAULT nextval('segment_override_seq'),
            version_id BIGINT NOT NULL,
            customer_id VARCHAR,            -- NULL when not part of the version's level
            product_id VARCHAR,             -- NULL when not part of the version's level
            model_segment VARCHAR,          -- the model's segment for the item in this version
            segment VARCHAR NOT NULL,       -- the segment the planner moved it to
            reason VARCHAR NOT NULL,
            expires_on DATE,                -- NULL: no expiry
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            carried_from BIGINT,            -- override_id in the earlier version it was carried from
            withdrawn_by VARCHAR,
            withdrawn_at TIMESTAMP
        )""",
    ]


def _migration_5() -> list[str]:
    """Per-item feature values saved with each version, so a later comparison shows what changed
    even after the order data was appended to or replaced (core/version_features.py)."""
    # Long format (one row per item and feature): each version keeps the features it used, and
    # no primary key: at 100k items its index made the save 6x slower and the file 8x larger.
    return [
        """CREATE TABLE segment_item_features (
            version_id BIGINT NOT NULL,
            item_position BIGINT NOT NULL,  -- as in segment_assignments: joins the item's keys
            feature VARCHAR NOT NULL,       -- feature name (core.features catalogue)
            value DOUBLE NOT NULL           -- in the feature's unit; an undefined value has no row
        )""",
    ]


def _migration_6() -> list[str]:
    """Boundary-drift alert state of items (core/alerts.py): one row per change, so the dead band
    remembers across refreshes which items are alerted. Rows are only inserted; an item's
    state is its latest row."""
    return [
        "CREATE SEQUENCE segment_alert_state_seq START 1",
        """CREATE TABLE segment_alert_state (
            state_id BIGINT PRIMARY KEY DEFAULT nextval('segment_alert_state_seq'),
            version_id BIGINT NOT NULL,
            alert VARCHAR NOT NULL,         -- boundary_drift
            customer_id VARCHAR,            -- NULL when not part of the version's level
            product_id VARCHAR,             -- NULL when not part of the version's level
            active BOOLEAN NOT NULL,        -- TRUE: raised by this change; FALSE: cleared
            relative_margin DOUBLE,         -- the item's relative margin on the data of this change
            saved_relative_margin DOUBLE,   -- its relative margin when the version was saved
            changed_at TIMESTAMP NOT NULL,
            user_name VARCHAR
        )""",
    ]


def _migration_7() -> list[str]:
    """Inventory snapshots (`core.model.INVENTORY`), for inventory turns per segment. (6 is taken
    by other work; each migration runs once, in this order.)"""
    return [_table_ddl("inventory")]


#: Schema migrations, in order; the file records the last one applied in meta.schema_version.
MIGRATIONS: tuple[tuple[int, list[str]], ...] = (
    (1, _migration_1()), (2, _migration_2()), (3, _migration_3()), (4, _migration_4()),
    (5, _migration_5()),
    (6, _migration_6()),
    (7, _migration_7()),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class Store:
    """The database file, opened once per process.

    Reads use `cursor()` (one per thread); writes use `transaction()`, which serialises them
    and commits all or nothing.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 lock_wait: float | None = None) -> None:
        """Open (and migrate) the file; ``lock_wait`` seconds (default `lock_wait_seconds`) while
        another process holds it, then a `SegplanError` naming the file."""
        self.path = resolve_db_path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise SegplanError(f"database {self.path} does not exist", hint="run `segplan init` first")
        self._con = _connect(self.path, read_only, lock_wait_seconds() if lock_wait is None else lock_wait)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        if not read_only:
            self.migrate()

    # -- connections ---------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the file (DuckDB connections are not shared across threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write, all or nothing: commits on success, rolls back on any exception."""
        if self.read_only:
            raise SegplanError(f"database {self.path} is open read-only")
        with self._write_lock:
            cur = self._con.cursor()
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            else:
                cur.commit()
            finally:
                cur.close()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        cur = self.cursor()
        exists = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()[0]
        if not exists:
            return 0
        row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Apply the migrations this file has not had yet, each in one transaction."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SegplanError(
                f"database {self.path} has schema version {current}, newer than this segplan ({SCHEMA_VERSION})",
                hint="upgrade segplan",
            )
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction() as cur:
                for sql in statements:
                    cur.execute(sql)
                cur.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)]
                )
        return SCHEMA_VERSION

    # -- small helpers used by pages and CLI ------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        """Rows per data-model table."""
        cur = self.cursor()
        return {t: cur.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchone()[0] for t in TABLES}
