"""Many users at once and killed processes: the file stays whole.

Threads: one process (the app) serves every session. Reader threads run feature and KPI
queries while one thread loads order files and another saves versions; readers never fail and
never see half a write (row counts are one of the totals between whole loads, every run's rows
match its ingest_runs row, every version has all its assignments), and the writes never overlap.

Processes: DuckDB lets one process open a file for writing. A second one (the CLI while the
app runs) waits up to SEGPLAN_LOCK_WAIT seconds, then gets one clear line naming the file (the app
letting go of the file when idle is tests/test_store_release.py). A
process killed (SIGKILL) inside a load, an approval or a long multi-statement write leaves the
file as before that write: it opens, the schema is intact, no row of the write is there, and the
audit chain verifies.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.audit import verify_chain
from core.errors import SegplanError
from core.features import compute_features
from core.ingest import ingest_file
from core.kpi import segment_kpis
from core.store import DEFAULT_LOCK_WAIT, SCHEMA_VERSION, Store, lock_wait_seconds
from core.versions import run_segmentation
from conftest import copy_of, tables_of

ROOT = Path(__file__).resolve().parents[1]
#: How long a child process may take to reach its marker (imports, reading the file).
MARKER_TIMEOUT_S = 60


def orders_csv(path: Path, first_order: int, lines: int, products: list[str]) -> Path:
    """``lines`` order lines with new order ids, spread over the given products and a year."""
    start = dt.date(2025, 1, 6)
    rows = ["order_id,order_date,customer_id,product_id,quantity,unit_price"]
    rows += [f"N{first_order + i},{start + dt.timedelta(days=i % 360)},CN{i % 50},{products[i % len(products)]},"
             f"{1 + i % 7},{2.5 + i % 5}" for i in range(lines)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _products(store: Store) -> list[str]:
    return [r[0] for r in store.cursor().execute("SELECT DISTINCT product_id FROM orders ORDER BY 1").fetchall()]


def _count(store: Store, sql: str, params: list | None = None) -> int:
    return int(store.cursor().execute(sql, params or []).fetchone()[0])


# -- threads -------------------------------------------------------------------------------------
def test_readers_see_whole_writes_while_writers_take_turns(tiny, tmp_path):
    store = tiny
    loads, lines = 3, 2_000
    files = [orders_csv(tmp_path / f"more_{i}.csv", 1_000_000 * (i + 1), lines, _products(store)) for i in range(loads)]
    before = _count(store, "SELECT count(*) FROM orders")
    totals = {before + k * lines for k in range(loads + 1)}
    version_id = run_segmentation(store, "product", "abc_xyz").version_id

    # every write's time inside the write lock, to show that no two overlap
    spans: list[tuple[float, float, str]] = []
    original = store.transaction

    def timed_transaction():
        from contextlib import contextmanager

        @contextmanager
        def wrapped():
            with original() as cur:
                start = time.perf_counter()
                try:
                    yield cur
                finally:
                    spans.append((start, time.perf_counter(), threading.current_thread().name))
        return wrapped()

    store.transaction = timed_transaction
    writers_done = threading.Event()
    problems: list[str] = []
    reads = {"count": 0}
    seen: set[int] = set()

    def reader() -> None:
        try:
            while not writers_done.is_set():
                total = _count(store, "SELECT count(*) FROM orders")
                seen.add(total)
                if total not in totals:
                    problems.append(f"half a load: {total} order lines")
                torn = _count(store, """SELECT count(*) FROM ingest_runs r WHERE r.table_name = 'orders'
                                          AND r.rows_loaded <> (SELECT count(*) FROM orders o WHERE o.run_id = r.run_id)""")
                if torn:
                    problems.append(f"{torn} runs without all their rows")
                partial = _count(store, """SELECT count(*) FROM segment_versions v WHERE v.items <>
                                             (SELECT count(*) FROM segment_assignments a WHERE a.version_id = v.version_id)""")
                if partial:
                    problems.append(f"{partial} versions without all their assignments")
                compute_features(store, "product", "week")
                segment_kpis(store, version_id, "week")
                reads["count"] += 1
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
            problems.append(f"reader failed: {exc!r}")

    def loader() -> None:
        for path in files:
            ingest_file(store, "orders", path, user="loader")

    def saver() -> None:
        for _ in range(3):
            run_segmentation(store, "product", "abc_xyz", user="saver")

    readers = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(3)]
    writers = [threading.Thread(target=loader, name="loader"), threading.Thread(target=saver, name="saver")]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    writers_done.set()
    for thread in readers:
        thread.join(timeout=60)
    store.transaction = original

    assert problems == []
    assert reads["count"] >= 3
    assert len(seen) >= 2, seen       # the readers ran while the loads landed, not only before or after
    assert _count(store, "SELECT count(*) FROM orders") == before + loads * lines
    assert _count(store, "SELECT count(*) FROM ingest_runs WHERE user_name = 'loader'") == loads
    assert _count(store, "SELECT count(*) FROM segment_versions WHERE user_name = 'saver'") == 3
    writes = sorted(spans)
    assert {name for *_, name in writes} >= {"loader", "saver"}
    for (_, end, first), (start, _, second) in zip(writes, writes[1:]):
        assert start >= end, f"a write of {second} began before one of {first} ended"
    assert verify_chain(store).intact


# -- a second process ----------------------------------------------------------------------------
def _child(code: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def _wait_for_marker(child: subprocess.Popen, marker: str) -> None:
    """Read the child's output until it prints ``marker`` (it then sits inside its write)."""
    deadline = time.monotonic() + MARKER_TIMEOUT_S
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if marker in line:
            return
        if not line and child.poll() is not None:
            raise AssertionError(f"child ended ({child.returncode}) before {marker!r}: {child.stderr.read()[-2000:]}")
    child.kill()
    raise AssertionError(f"child did not reach {marker!r} in {MARKER_TIMEOUT_S} s")


def test_the_cli_gets_a_clear_message_while_the_app_holds_the_file(tiny):
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "core.cli", "runs", "--db", str(tiny.path)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "SEGPLAN_LOCK_WAIT": "1"}, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(tiny.path) in lines[0]
    assert "held by another segplan process" in lines[0] and "gave up after waiting 1 s" in lines[0]
    assert time.monotonic() - start >= 1.0
    assert tiny.cursor().execute("SELECT count(*) FROM orders").fetchone()[0] > 0   # the holder is unharmed


def test_a_second_process_waits_for_the_file_and_then_opens_it(tiny_sample_file, tmp_path):
    path = copy_of(tiny_sample_file, tmp_path)
    holder = Store(path)
    child = _child(f"""
import time
from core.store import Store
print("opening", flush=True)
start = time.monotonic()
with Store({str(path)!r}, lock_wait=30) as store:
    print("opened after", round(time.monotonic() - start, 2), store.schema_version(), flush=True)
""")
    try:
        _wait_for_marker(child, "opening")
        time.sleep(1.0)           # the child is retrying the open meanwhile
        holder.close()
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    _, _, waited, schema = out.split()
    assert float(waited) >= 0.5 and int(schema) == SCHEMA_VERSION


def test_lock_wait_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEGPLAN_LOCK_WAIT", "2.5")
    assert lock_wait_seconds() == 2.5
    monkeypatch.delenv("SEGPLAN_LOCK_WAIT")
    assert lock_wait_seconds() == DEFAULT_LOCK_WAIT == 60.0   # outlasts the app's default idle release (30 s)
    for bad in ("soon", "-1", "inf"):
        monkeypatch.setenv("SEGPLAN_LOCK_WAIT", bad)
        with pytest.raises(SegplanError, match="SEGPLAN_LOCK_WAIT"):
            lock_wait_seconds()


# -- killed processes ----------------------------------------------------------------------------
def _state(path: Path) -> dict[str, object]:
    """What must not change when a write is killed: row counts, runs, statuses, the audit trail."""
    with Store(path) as store:
        cur = store.cursor()
        return {
            "schema": store.schema_version(),
            "tables": tables_of(store),
            "orders": cur.execute("SELECT count(*) FROM orders").fetchone()[0],
            "quantity": cur.execute("SELECT sum(quantity) FROM orders").fetchone()[0],
            "runs": cur.execute("SELECT count(*), coalesce(max(run_id), 0) FROM ingest_runs").fetchone(),
            "rejects": cur.execute("SELECT count(*) FROM ingest_rejects").fetchone()[0],
            "statuses": cur.execute("SELECT version_id, status FROM segment_versions ORDER BY 1").fetchall(),
            "version_events": cur.execute("SELECT count(*) FROM segment_version_events").fetchone()[0],
            "mappings": cur.execute("SELECT count(*) FROM source_mappings").fetchone()[0],
            "audit": cur.execute("SELECT count(*), max(event_id) FROM audit_log").fetchone(),
            "chain": verify_chain(store).intact,
        }


def _kill_inside(code: str, marker: str = "INSIDE", after: float = 0.0) -> None:
    """Run ``code`` in a child, SIGKILL it once it prints ``marker`` (and ``after`` seconds more)."""
    child = _child(code)
    try:
        _wait_for_marker(child, marker)
        time.sleep(after)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL


#: In the child: after the write's audit event is inserted (inside its transaction), say so and stay there.
_PAUSE_AFTER_AUDIT = """
import sys, time
import core.audit
_record = core.audit.record
def record_then_pause(cur, **event):
    event_id = _record(cur, **event)
    print("INSIDE", event["action"], flush=True)
    time.sleep(600)
    return event_id
"""


def test_a_load_killed_inside_its_transaction_leaves_the_file_as_before(tiny_sample_file, tmp_path):
    path = copy_of(tiny_sample_file, tmp_path)
    with Store(path) as store:
        big = orders_csv(tmp_path / "big.csv", 5_000_000, 200_000, _products(store))
    before = _state(path)
    # the child has read, validated and inserted all 200,000 rows and the run when it is killed
    _kill_inside(_PAUSE_AFTER_AUDIT + f"""
import core.ingest
core.ingest.audit_record = record_then_pause
from core.store import Store
from core.ingest import ingest_file
ingest_file(Store({str(path)!r}), "orders", {str(big)!r}, user="killed")
""")
    after = _state(path)
    assert after == before
    assert after["schema"] == SCHEMA_VERSION and after["chain"]
    with Store(path) as store:    # and the file takes the same load afterwards
        result = ingest_file(store, "orders", big, user="again")
        assert result.rows_loaded == 200_000
        assert _count(store, "SELECT count(*) FROM orders") == before["orders"] + 200_000
        assert verify_chain(store).intact


def test_an_approval_killed_half_way_leaves_the_version_in_force(tiny_sample_file, tmp_path):
    from core.approval import approve, submit

    path = copy_of(tiny_sample_file, tmp_path)
    with Store(path) as store:
        first = run_segmentation(store, "product", "abc_xyz", user="alice").version_id
        submit(store, first, "alice")
        approve(store, first, "bob")
        second = run_segmentation(store, "product", "kmeans", k=3, user="alice").version_id
        submit(store, second, "alice")
    before = _state(path)
    assert dict(before["statuses"]) == {first: "approved", second: "submitted"}
    # approving the second supersedes the first, then approves the second: killed between the two
    _kill_inside(_PAUSE_AFTER_AUDIT + f"""
core.audit.record = record_then_pause
from core.store import Store
from core.approval import approve
approve(Store({str(path)!r}), {second}, "bob")
""", marker="INSIDE supersede")
    after = _state(path)
    assert after == before
    with Store(path) as store:     # the approval can simply be made again
        approve(store, second, "bob")
        statuses = dict(store.cursor().execute("SELECT version_id, status FROM segment_versions").fetchall())
        assert statuses == {first: "superseded", second: "approved"}
        assert verify_chain(store).intact


def test_a_long_write_killed_while_it_runs_leaves_nothing_of_it(tiny_sample_file, tmp_path):
    path = copy_of(tiny_sample_file, tmp_path)
    before = _state(path)
    # many statements in one transaction, still writing when killed
    _kill_inside(f"""
from core.audit import record
from core.store import Store
store = Store({str(path)!r})
with store.transaction() as cur:
    for i in range(1_000_000):
        record(cur, user="busy", action="change", entity="table", entity_id="orders", after={{"step": i}})
        cur.execute("INSERT OR REPLACE INTO source_mappings VALUES (?, 'orders', '{{}}', now())", [f"key{{i}}"])
        cur.execute("UPDATE orders SET quantity = quantity + 1 WHERE source_row = ?", [i % 50])
        if i == 200:
            print("INSIDE", flush=True)
""", after=0.5)
    after = _state(path)
    assert after == before
