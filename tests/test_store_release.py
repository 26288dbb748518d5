"""The app lets go of the database file when idle, so a scheduled command can write it.

`Store(path, release_after=S)` closes its connection once nothing has used it for S seconds (no
`in_use()` scope, no open transaction, no `cursor()` call within S seconds) and reopens it on the
next use. Another process (the CLI) can then open and write the file; the store sees that write
after it reopens. A use within the window, an open scope or an open transaction keeps the file
held, and another process gets the lock-wait message. Threads reading through release/reopen
cycles never fail; a reopen while another process holds the file waits for it without holding up
other threads. End to end: the app under `streamlit run` with SEGPLAN_RELEASE_AFTER=1 lets a
`segplan ingest` through while a browser has it open, and Home shows the new rows on reload.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import SegplanError
from core.store import Store
from conftest import copy_of

ROOT = Path(__file__).resolve().parents[1]
RELEASE = 0.5


def _other_process(path: Path, code: str, lock_wait: float = 0) -> str:
    """Run ``code`` in another process with ``store`` open on ``path`` (or print HELD): its output."""
    program = f"""
from core.errors import SegplanError
from core.store import Store
try:
    store = Store({str(path)!r}, lock_wait={lock_wait})
except SegplanError as err:
    print("HELD", err.message)
else:
    with store:
{"".join("        " + line + chr(10) for line in code.strip().splitlines())}"""
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _customers(store: Store) -> int:
    return store.cursor().execute("SELECT count(*) FROM customers").fetchone()[0]


@pytest.fixture
def releasing(tiny_sample_file, tmp_path):
    with Store(copy_of(tiny_sample_file, tmp_path), release_after=RELEASE) as store:
        yield store


def test_an_idle_store_lets_go_and_another_process_writes_then_it_reopens(releasing):
    store = releasing
    before = _customers(store)
    assert store.holds_file
    assert _wait_until(lambda: not store.holds_file), "the store did not release the file when idle"
    out = _other_process(store.path, """
with store.transaction() as cur:
    cur.execute("INSERT INTO customers (customer_id) VALUES ('FROM-CRON')")
print("WROTE")
""")
    assert out.strip() == "WROTE"
    assert _customers(store) == before + 1             # reopened on use, and sees the other write
    assert store.holds_file
    assert store.cursor().execute("SELECT count(*) FROM customers WHERE customer_id = 'FROM-CRON'").fetchone()[0] == 1
    with store.transaction() as cur:                   # and writes again
        cur.execute("INSERT INTO customers (customer_id) VALUES ('FROM-APP')")
    assert _customers(store) == before + 2


def test_a_use_within_the_window_keeps_the_file(releasing):
    store = releasing
    stop = threading.Event()
    failures: list[str] = []

    def keep_using() -> None:
        try:
            while not stop.is_set():
                _customers(store)
                time.sleep(RELEASE / 5)
        except Exception as exc:  # noqa: BLE001
            failures.append(repr(exc))

    user = threading.Thread(target=keep_using)
    user.start()
    try:
        time.sleep(RELEASE * 3)
        assert store.holds_file
        done = subprocess.run([sys.executable, "-m", "core.cli", "runs", "--db", str(store.path)], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, "SEGPLAN_LOCK_WAIT": "1"}, timeout=60)
        assert store.holds_file
    finally:
        stop.set()
        user.join(timeout=10)
    assert failures == []
    assert done.returncode == 1
    assert "held by another segplan process" in done.stderr and "gave up after waiting 1 s" in done.stderr


def test_an_open_scope_in_another_thread_is_never_released(releasing):
    store = releasing
    _customers(store)
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with store.in_use():
            _customers(store)
            inside.set()
            leave.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        time.sleep(RELEASE * 3)                         # far longer than the window, the scope still open
        assert store.holds_file
        assert not store.release_if_idle()
        assert _other_process(store.path, "print('OPENED')").startswith("HELD")
        assert store.holds_file
    finally:
        leave.set()
        holder.join(timeout=10)
    assert _wait_until(lambda: not store.holds_file)   # the scope ended: idle again, released
    assert _other_process(store.path, "print('OPENED')").strip() == "OPENED"


def test_an_open_transaction_is_never_released(releasing):
    store = releasing
    before = _customers(store)
    with store.transaction() as cur:
        cur.execute("INSERT INTO customers (customer_id) VALUES ('SLOW')")
        time.sleep(RELEASE * 3)
        assert store.holds_file
        assert not store.release_if_idle()
        assert _other_process(store.path, "print('OPENED')").startswith("HELD")
        cur.execute("INSERT INTO customers (customer_id) VALUES ('SLOWER')")
    assert _customers(store) == before + 2


def test_the_write_lock_alone_keeps_the_file(releasing):
    """Belt and braces: even with no scope counted, the closer refuses while a write holds the lock."""
    store = releasing
    held, leave = threading.Event(), threading.Event()

    def writer() -> None:
        with store._write_lock:
            held.set()
            leave.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        time.sleep(RELEASE * 2)
        assert store.holds_file and not store.release_if_idle()
    finally:
        leave.set()
        thread.join(timeout=10)
    assert _wait_until(lambda: not store.holds_file)


def test_many_threads_read_through_releases_and_reopens(releasing):
    store = releasing
    expected = _customers(store)
    generations: set[int] = set()
    failures: list[str] = []
    reads = {"count": 0}
    cycles, readers = 8, 4
    barrier = threading.Barrier(readers)
    rng = random.Random(0)
    pauses = [[rng.uniform(RELEASE * 0.9, RELEASE * 2.4) if c % 2 else RELEASE * 2.5 for _ in range(readers)]
              for c in range(cycles)]

    def reader(number: int) -> None:
        try:
            for cycle in range(cycles):
                end = time.monotonic() + 0.2
                while time.monotonic() < end:      # a burst of reads, each on this thread's cursor
                    if _customers(store) != expected:
                        failures.append("wrong count")
                    store.cursor().execute("SELECT count(*) FROM orders").df()
                    generations.add(store._generation)
                    reads["count"] += 1
                barrier.wait(timeout=60)
                time.sleep(pauses[cycle][number])  # idle: some wake while the store lets go, some after
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
            failures.append(f"reader {number}: {exc!r}")

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert reads["count"] >= cycles * readers
    assert len(generations) >= cycles // 2, generations   # the readers went through several reopens
    assert _customers(store) == expected


def test_a_reopen_waits_for_the_file_and_other_threads_carry_on(releasing):
    """While another process holds the file, the next use waits for it (lock wait) without holding up
    threads that only end their scopes; it then reads what that process wrote."""
    store = releasing
    before = _customers(store)
    assert _wait_until(lambda: not store.holds_file)
    child = subprocess.Popen([sys.executable, "-c", f"""
import sys
from core.store import Store
store = Store({str(store.path)!r}, lock_wait=30)
with store.transaction() as cur:
    cur.execute("INSERT INTO customers (customer_id) VALUES ('HELD-BY-CHILD')")
print("HOLDING", flush=True)
sys.stdin.readline()                                     # keeps the file until told to end
store.close()
"""], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: list[object] = []
    try:
        child_store_open = child.stdout.readline()
        assert "HOLDING" in child_store_open, child.stderr.read()[-2000:]
        waiter = threading.Thread(target=lambda: result.append(_customers(store)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not result          # waiting for the file
        start = time.monotonic()
        with store.in_use():                             # scopes begin and end meanwhile
            pass
        assert time.monotonic() - start < 0.5
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=60)
    waiter.join(timeout=60)
    assert result == [before + 1]


def test_release_after_must_be_positive(tiny_sample_file, tmp_path):
    with pytest.raises(SegplanError, match="release_after"):
        Store(copy_of(tiny_sample_file, tmp_path), release_after=0)


def test_a_closed_store_does_not_reopen(tiny_sample_file, tmp_path):
    store = Store(copy_of(tiny_sample_file, tmp_path), release_after=RELEASE)
    store.close()
    with pytest.raises(SegplanError, match="closed"):
        store.cursor()


def test_the_app_takes_release_after_from_the_environment(monkeypatch):
    from ui.state import release_after_seconds

    monkeypatch.delenv("SEGPLAN_RELEASE_AFTER", raising=False)
    assert release_after_seconds() == 30.0
    monkeypatch.setenv("SEGPLAN_RELEASE_AFTER", "1.5")
    assert release_after_seconds() == 1.5
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv("SEGPLAN_RELEASE_AFTER", bad)
        with pytest.raises(SegplanError, match="SEGPLAN_RELEASE_AFTER"):
            release_after_seconds()


# -- end to end: the app, a browser, and a scheduled ingest --------------------------------------
def test_a_scheduled_ingest_runs_while_the_app_is_open(tiny_sample_file, tmp_path, monkeypatch):
    from browser_support import CHROMIUM, CHROMIUM_ARGS, require_chromium, serving, settle

    require_chromium()
    from playwright.sync_api import sync_playwright

    path = copy_of(tiny_sample_file, tmp_path)
    with Store(path) as store:
        before = _customers(store)
    csv = tmp_path / "new_customers.csv"
    csv.write_text("customer_id,customer_name\nCRON-1,First\nCRON-2,Second\nCRON-3,Third\n")
    monkeypatch.setenv("SEGPLAN_RELEASE_AFTER", "1")

    def customers_shown(page) -> str:
        page.locator('[data-testid="stMetricLabel"]').first.wait_for()
        metrics = dict(zip(page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
                           page.locator('[data-testid="stMetricValue"]').all_inner_texts(), strict=True))
        return metrics["customers (rows)"]

    with serving(path) as url, sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_context(viewport={"width": 1500, "height": 1000}).new_page()
            page.set_default_timeout(30_000)
            page.goto(url)
            settle(page)
            assert customers_shown(page) == f"{before:,}"
            time.sleep(2)                                # idle for longer than SEGPLAN_RELEASE_AFTER
            done = subprocess.run([sys.executable, "-m", "core.cli", "ingest", "customers", str(csv), "--db", str(path),
                                   "--json"], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "SEGPLAN_LOCK_WAIT": "30"}, timeout=120)
            assert done.returncode == 0, done.stderr
            assert '"rows_loaded": 3' in done.stdout
            page.reload()
            settle(page)
            assert customers_shown(page) == f"{before + 3:,}"
            assert not page.locator('[data-testid="stException"]').count()
        finally:
            chromium.close()
