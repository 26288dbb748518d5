"""The one DuckDB file behind segplan: where it is, its schema and migrations, and how to write.

All execution goes through a `Store`: it owns the process's connection, hands each thread its
own cursor, serialises writes, and makes every write one transaction so that a load that
fails half way leaves the file as it was.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import SegplanError
from core.model import BASE_TABLES, TABLES

log = logging.getLogger(__name__)

DEFAULT_DB_PATH = Path("data/segplan.duckdb")
DB_ENV_VAR = "SEGPLAN_DB"
#: Seconds to keep retrying the open while another process holds the file (the app, a CLI run).
#: The default outlasts the app's default idle release (SEGPLAN_RELEASE_AFTER, 30 s) with room for
#: a short burst of use; scheduled jobs should wait longer (SEGPLAN_LOCK_WAIT=600 in cron).
LOCK_WAIT_ENV_VAR = "SEGPLAN_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 60.0

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
    """How long to wait for a file another process holds: ``$SEGPLAN_LOCK_WAIT``, else 60 s."""
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
                    hint=f"only one process can open the file for writing; the app lets go of it after "
                         f"SEGPLAN_RELEASE_AFTER seconds (default 30) without use: set {LOCK_WAIT_ENV_VAR} to wait "
                         f"longer (600 for a scheduled job), or stop the app (or the other command) and try again",
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


def _release_when_idle(store_ref: weakref.ref[Store], stop: threading.Event, release_after: float) -> None:
    """The idle-release thread of one store: look a few times per ``release_after`` (at most once a
    second); ends when the store is closed or gone."""
    interval = min(max(release_after / 4, 0.05), 1.0)
    while not stop.wait(interval):
        store = store_ref()
        if store is None:
            return
        try:
            store.release_if_idle()
        except Exception:  # noqa: BLE001 - a failed close must not end the thread; the next use reopens
            log.exception("releasing %s failed", store.path)
        del store


class Store:
    """The database file, opened once per process.

    Reads use `cursor()` (one per thread); writes use `transaction()`, which serialises them
    and commits all or nothing.

    **Letting go of the file when idle** (``release_after``, the app: ``ui.state.get_store``).
    DuckDB lets one process hold a file for writing, and a long-lived process (the app) would
    hold it for ever, so a scheduled command could never write it. With ``release_after=S`` a
    daemon thread closes the connection (and with it every cursor, which releases the file)
    once the store has been idle for S seconds; the next `cursor()` or `transaction()` opens it
    again, waiting like the first open while another process holds it. Idle means all of:

    - no `in_use()` scope is active (a counter: scopes nest and may be held by many threads);
    - no `transaction()` is open (each is an `in_use()` scope, and the closer also refuses
      while it cannot take the write lock);
    - no thread has called `cursor()`, entered or left a scope within the last S seconds.

    The check and the close happen under the store's open lock, and so do `cursor()` (which
    marks the use and hands out a cursor of the current connection) and installing a reopened
    connection, so a cursor is never handed out from a connection being closed. Cursors kept
    per thread carry the connection's generation; every release and reopen bumps it, and
    `cursor()` then makes the thread a new one.

    The one assumption: code that uses a cursor outside any scope finishes with it within S
    seconds of getting it (``store.cursor().execute(...).df()`` does at once). The app makes
    this hold by running every script run inside ``store.in_use()`` (app.py), and work done
    outside a script run (deferred downloads, pages/approvals.py) takes its own scope; a long
    query in new code outside both must take a scope too. A counter plus a timestamp was chosen
    over tracking each cursor's end, which callers (``cursor().execute().df()``) never signal.

    The first open is made at construction (so a missing, held or too new file is reported
    there) and migrates the file; a reopen does not check or migrate the schema again (a command
    of the same segplan that opened the file meanwhile left it at the same schema). A reopen
    waits for the file without holding the open lock, so scopes still end meanwhile. Without
    ``release_after`` (the CLI, tests, tools) the file is held until `close()`; after `close()`
    the store never reopens.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
                 lock_wait: float | None = None, release_after: float | None = None) -> None:
        """Open (and migrate) the file; ``lock_wait`` seconds (default `lock_wait_seconds`) while
        another process holds it, then a `SegplanError` naming the file. ``release_after``: close
        the file after that many idle seconds and reopen it on the next use (see the class)."""
        self.path = resolve_db_path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise SegplanError(f"database {self.path} does not exist", hint="run `segplan init` first")
        if release_after is not None and not 0 < release_after < float("inf"):
            raise SegplanError(f"release_after={release_after!r} is not a positive number of seconds")
        self.lock_wait = lock_wait_seconds() if lock_wait is None else lock_wait
        self.release_after = release_after
        self._open_lock = threading.Lock()     # guards _con, _generation, _active, _last_use, _closed
        self._reopen_lock = threading.Lock()   # one reopen at a time (it may wait for the file)
        self._con: duckdb.DuckDBPyConnection | None = _connect(self.path, read_only, self.lock_wait)
        self._generation = 1                   # bumped by every release: cursors of older ones are closed
        self._active = 0                       # in_use() scopes (and transactions) open now
        self._last_use = time.monotonic()
        self._closed = False
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._stop = threading.Event()
        if not read_only:
            self.migrate()
        if release_after is not None:
            threading.Thread(target=_release_when_idle, args=(weakref.ref(self), self._stop, release_after),
                             name=f"segplan-release-{self.path.name}", daemon=True).start()

    # -- connections ---------------------------------------------------------------------
    def _reopen(self) -> None:
        """Open the connection again if it was released. Waiting for the file (another process may
        hold it) happens outside the open lock, so scopes can end and the closer can look meanwhile."""
        with self._reopen_lock:
            with self._open_lock:
                if self._closed or self._con is not None:
                    return
            con = _connect(self.path, self.read_only, self.lock_wait)
            with self._open_lock:
                if self._closed:
                    con.close()
                    return
                self._con = con
                self._generation += 1
                self._last_use = time.monotonic()
        log.info("reopened %s", self.path)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection (reopened if it was released), with the open lock held and the use
        marked: the closer cannot close it until the block ends and ``release_after`` has passed."""
        while True:
            if self._con is None:
                self._reopen()
            with self._open_lock:
                if self._closed:
                    raise SegplanError(f"database {self.path} was closed by this process")
                if self._con is None:       # released again between the reopen and here: once more
                    continue
                self._last_use = time.monotonic()
                yield self._con
                return

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the file (DuckDB connections are not shared across threads)."""
        with self._connection() as con:
            local = self._local
            if getattr(local, "generation", None) != self._generation:
                local.cursor = con.cursor()
                local.generation = self._generation
            return local.cursor

    @contextmanager
    def in_use(self) -> Iterator[Store]:
        """A scope inside which the file is never released (with ``release_after``): wrap work
        that uses cursors for longer than a moment, or outside the app's script runs."""
        with self._open_lock:
            self._active += 1
            self._last_use = time.monotonic()
        try:
            yield self
        finally:
            with self._open_lock:
                self._active -= 1
                self._last_use = time.monotonic()

    @property
    def holds_file(self) -> bool:
        """Whether the connection is open now (False after an idle release, until the next use)."""
        return self._con is not None

    def release_if_idle(self) -> bool:
        """Close the connection if the store is idle (see the class); True when it was closed now."""
        with self._open_lock:
            if self._con is None or self._active or self.release_after is None:
                return False
            if time.monotonic() - self._last_use < self.release_after:
                return False
            if not self._write_lock.acquire(blocking=False):   # a write is open (belt and braces)
                return False
            try:
                self._con.close()
                self._con = None
                self._generation += 1
            finally:
                self._write_lock.release()
        log.info("released %s after %g s idle", self.path, self.release_after)
        return True

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write, all or nothing: commits on success, rolls back on any exception."""
        if self.read_only:
            raise SegplanError(f"database {self.path} is open read-only")
        with self.in_use(), self._write_lock:
            with self._connection() as con:
                cur = con.cursor()
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
        self._stop.set()
        with self._open_lock:
            self._closed = True
            if self._con is not None:
                self._con.close()
                self._con = None

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
