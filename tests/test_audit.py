"""The audit trail: each kind of write appends exactly its event, in the write's own transaction;
the hash chain finds edits made behind segplan's back; nothing in the code edits the trail."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import core.ingest
import core.policy_plan
import core.versions
from core.audit import audit_trail, verify_chain
from core.errors import SegplanError
from core.ingest import ingest_file
from core.policy_plan import save_policies, version_policies
from core.users import add_user, set_role
from core.versions import rename_segment, run_segmentation
from page_data import ORDERS_CSV

ROOT = Path(__file__).resolve().parents[1]


def _events(store) -> int:
    return int(store.cursor().execute("SELECT count(*) FROM audit_log").fetchone()[0])


def _new_events(store, since: int):
    return audit_trail(store).query("event_id > @since")


def _orders_file(tmp_path: Path) -> Path:
    path = tmp_path / "erp_orders.csv"
    path.write_text(ORDERS_CSV)
    return path


def test_an_ingest_appends_one_event_with_the_run_file_mode_and_rows(store, tmp_path):
    result = ingest_file(store, "orders", _orders_file(tmp_path), user="ana")
    trail = audit_trail(store)
    assert len(trail) == 1
    event = trail.iloc[0]
    assert (event["user_name"], event["action"], event["entity"], event["entity_id"]) == ("ana", "ingest", "table", "orders")
    assert json.loads(event["after"]) == {"run_id": result.run_id, "file": "erp_orders.csv", "mode": "append",
                                          "rows_read": 4, "rows_accepted": 3, "rows_rejected": 1}
    assert event["before"] is None


def test_an_ingest_without_user_names_the_os_user(store, tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "batch-job")
    ingest_file(store, "orders", _orders_file(tmp_path))
    assert audit_trail(store)["user_name"].tolist() == ["batch-job"]


def test_a_failed_ingest_appends_no_event(store, tmp_path):
    bad = tmp_path / "no_quantity.csv"
    bad.write_text("order_id,order_date,customer_id,product_id\nA1,2025-01-06,C1,P1\n")
    with pytest.raises(SegplanError, match="quantity"):
        ingest_file(store, "orders", bad, user="ana")
    assert _events(store) == 0


def test_an_ingest_that_fails_after_its_event_rolls_the_event_back_with_the_rows(store, tmp_path, monkeypatch):
    """The event is written in the load's transaction: a failure after it leaves neither."""
    real = core.ingest.audit_record

    def record_then_fail(cur, **event):
        real(cur, **event)
        raise RuntimeError("disk full")

    monkeypatch.setattr(core.ingest, "audit_record", record_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(store, "orders", _orders_file(tmp_path), user="ana")
    assert _events(store) == 0
    assert store.cursor().execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert store.cursor().execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == 0


def test_a_segmentation_run_appends_one_run_event(tiny):
    since = _events(tiny)
    saved = run_segmentation(tiny, "product", "abc_xyz", user="ana", note="weekly refresh")
    new = _new_events(tiny, since)
    assert new["action"].tolist() == ["run"]
    event = new.iloc[0]
    assert (event["user_name"], event["entity"], event["entity_id"]) == ("ana", "version", str(saved.version_id))
    stored_method = tiny.cursor().execute("SELECT method FROM segment_versions WHERE version_id = ?",
                                          [saved.version_id]).fetchone()[0]
    assert json.loads(event["after"]) == {"level": "product", "method": stored_method, "k": saved.result.k,
                                          "items": len(saved.result.assignments),
                                          "fingerprint": saved.result.fingerprint}
    assert event["reason"] == "weekly refresh"


def test_a_run_that_fails_after_its_event_saves_neither_version_nor_event(tiny, monkeypatch):
    real = core.versions.audit_record

    def record_then_fail(cur, **event):
        real(cur, **event)
        raise RuntimeError("interrupted")

    since = _events(tiny)
    versions_before = tiny.cursor().execute("SELECT count(*) FROM segment_versions").fetchone()[0]
    monkeypatch.setattr(core.versions, "audit_record", record_then_fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_segmentation(tiny, "product", "abc_xyz", user="ana")
    assert _events(tiny) == since
    assert tiny.cursor().execute("SELECT count(*) FROM segment_versions").fetchone()[0] == versions_before


def test_a_rename_appends_one_event_with_the_label_before_and_after(tiny):
    saved = run_segmentation(tiny, "product", "abc_xyz", user="ana")
    segment = str(saved.result.profile["segment"].iloc[0])
    old_label = saved.result.label_of(saved.result.profile["segment"].iloc[0])
    since = _events(tiny)
    rename_segment(tiny, saved.version_id, segment, "Fast movers", user="ben")
    new = _new_events(tiny, since)
    assert new["action"].tolist() == ["rename"]
    event = new.iloc[0]
    assert (event["user_name"], event["entity"], event["entity_id"]) == ("ben", "version", str(saved.version_id))
    assert json.loads(event["before"]) == {"segment": segment, "label": old_label}
    assert json.loads(event["after"]) == {"segment": segment, "label": "Fast movers"}


def test_a_refused_rename_appends_nothing(tiny):
    saved = run_segmentation(tiny, "product", "abc_xyz", user="ana")
    since = _events(tiny)
    with pytest.raises(SegplanError):
        rename_segment(tiny, saved.version_id, "no such segment", "X", user="ben")
    assert _events(tiny) == since


def test_a_policy_edit_appends_one_event_per_changed_segment(tiny):
    saved = run_segmentation(tiny, "product", "abc_xyz", user="ana")
    policies = version_policies(tiny, saved.version_id)
    first, second = policies[0], policies[1]
    since = _events(tiny)
    save_policies(tiny, saved.version_id,
                  [dataclasses.replace(first, service_level=0.991), dataclasses.replace(second, allocation_tier=5)],
                  user="ann")
    new = _new_events(tiny, since)
    assert new["action"].tolist() == ["policy_edit", "policy_edit"]
    assert new["user_name"].unique().tolist() == ["ann"]
    by_segment = {row.entity_id: row for row in new.itertuples()}
    assert set(by_segment) == {f"{saved.version_id}/{first.segment}", f"{saved.version_id}/{second.segment}"}
    edit = by_segment[f"{saved.version_id}/{first.segment}"]
    assert edit.before is None                    # the default policy was never saved: created
    assert json.loads(edit.after)["service_level"] == 0.991

    since = _events(tiny)
    save_policies(tiny, saved.version_id, [dataclasses.replace(first, service_level=0.95)], user="bob")
    again = _new_events(tiny, since)
    assert len(again) == 1
    assert json.loads(again.iloc[0]["before"])["service_level"] == 0.991
    assert json.loads(again.iloc[0]["after"])["service_level"] == 0.95

    since = _events(tiny)
    save_policies(tiny, saved.version_id, [dataclasses.replace(first, service_level=0.95)], user="bob")
    assert _events(tiny) == since               # nothing changed: nothing written, nothing logged


def test_a_user_change_appends_its_event(store):
    add_user(store, "root", "admin", "pw", by=None)
    add_user(store, "alice", "planner", "pw", by="root")
    since = _events(store)
    set_role(store, "alice", "viewer", by="root")
    assert _new_events(store, since)["action"].tolist() == ["user_role"]


# -- the hash chain -----------------------------------------------------------------------------
def _a_few_events(store, tmp_path: Path) -> None:
    ingest_file(store, "orders", _orders_file(tmp_path), user="ana")
    add_user(store, "root", "admin", "pw", by=None)
    add_user(store, "alice", "planner", "pw", by="root")


def test_the_chain_of_real_writes_verifies(store, tmp_path):
    _a_few_events(store, tmp_path)
    check = verify_chain(store)
    assert check.intact and check.events == 3


@pytest.mark.parametrize("edit", [
    "UPDATE audit_log SET user_name = 'mallory' WHERE event_id = 2",
    "UPDATE audit_log SET after = '{\"role\":\"viewer\"}' WHERE event_id = 2",
    "DELETE FROM audit_log WHERE event_id = 2",
])
def test_an_edit_made_with_raw_sql_breaks_the_chain_where_it_was_made(store, tmp_path, edit):
    _a_few_events(store, tmp_path)
    with store.transaction() as cur:
        cur.execute(edit)
    check = verify_chain(store)
    assert not check.intact
    assert check.broken_at in (2, 3)    # the edited row, or (deleted) the row after it


# -- nothing edits the trail ----------------------------------------------------------------------
_EDITS_AUDIT_LOG = re.compile(
    r"\b(update|delete\s+from|truncate(\s+table)?|drop\s+table(\s+if\s+exists)?|alter\s+table|insert\s+or\s+replace\s+into)"
    r"\s+audit_log\b", re.IGNORECASE)


def test_the_scan_pattern_catches_edits():
    assert _EDITS_AUDIT_LOG.search('cur.execute("UPDATE audit_log SET reason = ?")')
    assert _EDITS_AUDIT_LOG.search("DELETE  FROM audit_log WHERE event_id = 1")
    assert _EDITS_AUDIT_LOG.search("truncate audit_log")
    assert _EDITS_AUDIT_LOG.search("DROP TABLE IF EXISTS audit_log")
    assert not _EDITS_AUDIT_LOG.search("INSERT INTO audit_log (event_at) VALUES (?)")


def test_no_code_in_core_pages_or_ui_updates_or_deletes_audit_rows():
    offenders = []
    for folder in ("core", "pages", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if _EDITS_AUDIT_LOG.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "the audit trail is append-only:\n" + "\n".join(offenders)
