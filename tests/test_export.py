"""Safe exports (core/export.py): formula neutralisation in CSV and Parquet, numbers untouched, draft
marking in name and rows, approver and time on approved exports, permissions, atomic write, audit."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

from core import approval, export
from core.audit import audit_trail
from core.errors import SegplanError
from core.export import draft_name, export_version, neutralise
from core.overrides import add_override
from governance_support import add_team, save_rules_version

DANGEROUS = ["=SUM(A1:A9)", "+1+1", "-2+3", "@cmd", "\tTAB", "\rCR"]


@pytest.fixture
def team(store):
    add_team(store)
    return store


def approved_version(store, items=None, names=None) -> int:
    v = save_rules_version(store, items or {"P1": "A", "P2": "B"}, names)
    approval.submit(store, v, "pat")
    approval.approve(store, v, "anna", "fine")
    return v


def test_neutralise_prefixes_each_formula_start_and_leaves_numbers_alone():
    frame = pd.DataFrame({"text": [*DANGEROUS, "plain", "a=b", None],
                          "number": [-1.5, -2.0, 3.0, -4.0, 0.0, -6.0, 7.0, -8.0, 9.0],
                          "whole": [-1, 2, -3, 4, -5, 6, -7, 8, -9]})
    out = neutralise(frame)
    assert list(out["text"][:6]) == ["'=SUM(A1:A9)", "'+1+1", "'-2+3", "'@cmd", "'\tTAB", "'\rCR"]
    assert list(out["text"][6:8]) == ["plain", "a=b"] and pd.isna(out["text"][8])
    assert out["number"].tolist() == frame["number"].tolist()
    assert out["whole"].tolist() == frame["whole"].tolist()
    assert frame["text"][0] == "=SUM(A1:A9)"  # the input is not changed


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_formula_start_is_neutralised_in_the_file(team, tmp_path, fmt):
    """Item ids, segment names and override reasons all come from users or source files."""
    items = {f"P{i}": "A" for i in range(6)} | {bad: "B" for bad in DANGEROUS}
    v = save_rules_version(team, items, {"A": "=HYPERLINK(\"http://x\")", "B": "Runners"})
    add_override(team, v, "P0", "B", "pat", "@SUM(1)")
    approval.submit(team, v, "pat")
    approval.approve(team, v, "anna")
    path = export_version(team, v, "assignments", fmt, tmp_path / f"a.{fmt}", user="vic")
    if fmt == "csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        ids = [r["product_id"] for r in rows]
        labels = {r["segment_label"] for r in rows}
        reasons = [r["override_reason"] for r in rows if r["override_reason"]]
        numbers = [r["version_id"] for r in rows]
    else:
        frame = pd.read_parquet(path)
        ids, labels = list(frame["product_id"]), set(frame["segment_label"])
        reasons = list(frame["override_reason"].dropna())
        numbers = list(frame["version_id"])
        assert frame["version_id"].dtype.kind == "i" and frame["overridden"].dtype == bool  # Parquet keeps types
    assert ids[6:] == ["'" + bad for bad in DANGEROUS]
    assert labels == {"'=HYPERLINK(\"http://x\")", "Runners"}
    assert reasons == ["'@SUM(1)"]
    assert set(numbers) == ({str(v)} if fmt == "csv" else {v})


def test_negative_numbers_in_policies_stay_numbers(team, tmp_path):
    v = approved_version(team)
    path = export_version(team, v, "policies", "parquet", tmp_path / "p.parquet", user="vic")
    frame = pd.read_parquet(path)
    assert frame["service_level"].dtype.kind == "f" and frame["allocation_tier"].dtype.kind == "i"
    negative = neutralise(frame.assign(service_level=-frame["service_level"]))
    assert (negative["service_level"] < 0).all()


def test_approved_export_carries_approver_and_time_and_no_draft_mark(team, tmp_path):
    v = approved_version(team, names={"A": "Runners", "B": "Slow"})
    before = dt.datetime.now()
    path = export_version(team, v, "assignments", "csv", tmp_path / "assignments.csv", user="vic")
    assert path == tmp_path / "assignments.csv"
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["product_id", "segment", "segment_label", "model_segment", "overridden",
                                   "override_reason", "version_id", "level", "status", "draft", "approved_by",
                                   "approved_at", "exported_at"]
    assert set(frame["approved_by"]) == {"anna"} and set(frame["status"]) == {"approved"}
    assert not frame["draft"].any()
    approved_at = approval.decision(team, v)["approved_at"]
    assert set(frame["approved_at"]) == {approved_at.strftime("%Y-%m-%dT%H:%M:%S")}
    assert pd.Timestamp(frame["exported_at"][0]) >= pd.Timestamp(before.replace(microsecond=0))
    parquet = pd.read_parquet(export_version(team, v, "policies", "parquet", tmp_path / "p.parquet", user="vic"))
    assert list(parquet["segment_label"]) == ["Runners", "Slow"]
    assert set(parquet["approved_by"]) == {"anna"}
    assert parquet["approved_at"].iloc[0] == pd.Timestamp(approved_at)


def test_superseded_version_exports_with_its_status(team, tmp_path):
    old = approved_version(team)
    approved_version(team)
    frame = pd.read_csv(export_version(team, old, "assignments", "csv", tmp_path / "old.csv", user="vic"))
    assert set(frame["status"]) == {"superseded"} and not frame["draft"].any()
    assert set(frame["approved_by"]) == {"anna"}


@pytest.mark.parametrize("state", ["draft", "submitted", "rejected"])
def test_unapproved_versions_export_only_marked_draft(team, tmp_path, state):
    v = save_rules_version(team, {"P1": "A", "P2": "B"})
    if state != "draft":
        approval.submit(team, v, "pat")
    if state == "rejected":
        approval.reject(team, v, "anna", "no")
    path = export_version(team, v, "assignments", "csv", tmp_path / f"assignments_v{v}.csv", user="pat")
    assert path.name == f"assignments_v{v}_DRAFT.csv"
    assert not (tmp_path / f"assignments_v{v}.csv").exists()
    frame = pd.read_csv(path)
    assert frame["draft"].all() and set(frame["status"]) == {state}
    assert frame["approved_by"].isna().all() and frame["approved_at"].isna().all()
    parquet = export_version(team, v, "policies", "parquet", tmp_path / "policies.parquet", user="pat")
    assert parquet.name == "policies_DRAFT.parquet" and pd.read_parquet(parquet)["draft"].all()


def test_draft_name():
    from pathlib import Path

    assert draft_name(Path("out/assignments_v12.csv")) == Path("out/assignments_v12_DRAFT.csv")
    assert draft_name(Path("plan_draft.parquet")) == Path("plan_draft.parquet")


def test_a_viewer_may_export_approved_but_not_draft_and_accounts_need_a_user(team, tmp_path):
    tmp_path = tmp_path / "exports"  # the database file lives in tmp_path itself
    tmp_path.mkdir()
    v = save_rules_version(team, {"P1": "A", "P2": "B"})
    with pytest.raises(SegplanError, match=r"vic \(viewer\) may not export draft"):
        export_version(team, v, "assignments", "csv", tmp_path / "a.csv", user="vic")
    with pytest.raises(SegplanError, match="needs the user"):
        export_version(team, v, "assignments", "csv", tmp_path / "a.csv")
    with pytest.raises(SegplanError, match="unknown export format"):
        export_version(team, v, "assignments", "xlsx", tmp_path / "a.xlsx", user="pat")
    assert list(tmp_path.iterdir()) == []


def test_every_export_is_audited(team, tmp_path):
    v = approved_version(team)
    export_version(team, v, "assignments", "csv", tmp_path / "a.csv", user="vic")
    export_version(team, v, "policies", "parquet", tmp_path / "p.parquet", user="anna")
    trail = audit_trail(team, action="export")
    assert list(trail["user_name"]) == ["vic", "anna"]
    assert list(trail["entity_id"]) == [str(v), str(v)]
    assert trail["after"].str.contains('"what":"policies"').tolist() == [False, True]


def test_a_failed_write_leaves_neither_a_file_nor_a_partial_file_nor_an_audit_event(team, tmp_path, monkeypatch):
    v = approved_version(team)
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    target = tmp_path / "a.csv"
    target.write_text("the previous export\n")

    def killed(self, path, **kwargs):
        with open(path, "w") as handle:
            handle.write("product_id,seg")  # half a file, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", killed)
    with pytest.raises(KeyboardInterrupt):
        export_version(team, v, "assignments", "csv", target, user="vic")
    monkeypatch.undo()
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temp file left
    assert audit_trail(team, action="export").empty


def test_rename_failure_rolls_back_the_audit_event(team, tmp_path, monkeypatch):
    v = approved_version(team)

    def refuse(src, dst):
        raise OSError("disk gone")

    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    monkeypatch.setattr(export.os, "replace", refuse)
    with pytest.raises(OSError, match="disk gone"):
        export_version(team, v, "assignments", "csv", tmp_path / "a.csv", user="vic")
    monkeypatch.undo()
    assert audit_trail(team, action="export").empty
    assert list(tmp_path.iterdir()) == []
