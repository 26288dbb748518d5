"""Maker-checker approval of segmentation versions: submit, approve, reject, restore.

The states of a version (``segment_versions.status``) and the moves between them::

    draft ──submit──> submitted ──approve──> approved ──(a newer version approved)──> superseded
                        │     ▲                  ▲                                          │
                     reject   │                  └─────────────────restore──────────────────┘
                        ▼     │ submit                 (the approved one in force is superseded)
                      rejected┘  (after changes: renames, overrides, policies)

A rejected version stays editable (renames, overrides, policies) and may be submitted again:
the approver's reason says what to change, and making a new version for a small fix would
lose its overrides' history. Submitted, approved and superseded versions are locked
(`check_editable`): what an approver saw is what stays approved.

Rules: submitting needs ``submit``; approving, rejecting and restoring need ``approve``
(`core.users.require`). The person deciding must not be the one who submitted the version,
whatever their role (names compared ignoring case and surrounding blanks). One approved
version per level is in force (`core.versions.version_in_force`): approving or restoring
supersedes the one in force. Each move writes the new status, a ``segment_version_events``
row and an audit event in one transaction, and re-reads the status inside it, so of two
concurrent approvals the second finds the version already decided and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import audit
from core.errors import SegplanError
from core.store import Store
from core.users import require

if TYPE_CHECKING:
    from collections.abc import Iterable

    import duckdb
    import pandas as pd

STATES = ("draft", "submitted", "approved", "rejected", "superseded")
#: States in which a version can no longer be renamed, overridden or given other policies.
LOCKED = frozenset({"submitted", "approved", "superseded"})
#: Event names in segment_version_events for each audit action.
EVENT_OF = {"submit": "submitted", "approve": "approved", "reject": "rejected", "restore": "restored",
            "supersede": "superseded"}


@dataclass(frozen=True)
class Transition:
    """What one approval step did."""

    version_id: int
    action: str             # submit | approve | reject | restore
    before: str
    after: str
    user: str
    superseded: int | None = None   # the version taken out of force by an approve or restore


def _same_person(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).strip().casefold() == str(b).strip().casefold()


def _version_row(cur: duckdb.DuckDBPyConnection, version_id: int) -> tuple[int, str, str]:
    """(id, level, status) of a version, or the error naming the id."""
    if isinstance(version_id, bool) or not isinstance(version_id, int):
        try:
            version_id = int(str(version_id))
        except ValueError:
            raise SegplanError(f"version {version_id!r} is not a version id",
                               hint="give a whole number, see `segplan versions`") from None
    row = cur.execute("SELECT version_id, level, status FROM segment_versions WHERE version_id = ?",
                      [version_id]).fetchone()
    if row is None:
        raise SegplanError(f"version {version_id} does not exist", hint="see `segplan versions` for the saved versions")
    return int(row[0]), str(row[1]), str(row[2])


def check_editable(cur: duckdb.DuckDBPyConnection, version_id: int, change: str) -> None:
    """Refuse a change (``change`` says it: "renamed", "overridden", ...) to a locked version."""
    _, _, status = _version_row(cur, version_id)
    if status in LOCKED:
        raise SegplanError(f"version {version_id} is {status}: it cannot be {change}",
                           hint="save a new version to change it (a submitted version can be rejected first)")


def submitter(cur: duckdb.DuckDBPyConnection, version_id: int) -> str | None:
    """Who submitted the version last (None when it never was)."""
    row = cur.execute("""SELECT user_name FROM segment_version_events WHERE version_id = ? AND action = 'submitted'
                         ORDER BY event_at DESC LIMIT 1""", [version_id]).fetchone()
    return None if row is None else row[0]


def decision(store: Store, version_id: int) -> dict[str, object]:
    """Who submitted and who approved (or restored) the version last, and when; None where not yet."""
    vid, _, _ = _version_row(store.cursor(), version_id)
    return decisions(store, [vid])[vid]


def decisions(store: Store, version_ids: Iterable[int]) -> dict[int, dict[str, object]]:
    """`decision` of several versions in one query (a page listing a level's versions), by id;
    ids of no version are left out."""
    ids = [int(v) for v in version_ids]
    rows = store.cursor().execute(
        """SELECT v.version_id, v.status,
                  arg_max(e.user_name, e.event_at) FILTER (WHERE e.action = 'submitted'),
                  max(e.event_at) FILTER (WHERE e.action = 'submitted'),
                  arg_max(e.user_name, e.event_at) FILTER (WHERE e.action IN ('approved', 'restored')),
                  max(e.event_at) FILTER (WHERE e.action IN ('approved', 'restored'))
           FROM segment_versions v LEFT JOIN segment_version_events e ON e.version_id = v.version_id
           WHERE list_contains($ids, v.version_id)
           GROUP BY v.version_id, v.status""", {"ids": ids}).fetchall()
    return {int(vid): {"version_id": int(vid), "status": str(status), "submitted_by": s_by, "submitted_at": s_at,
                       "approved_by": a_by, "approved_at": a_at}
            for vid, status, s_by, s_at, a_by, a_at in rows}


def _move(cur: duckdb.DuckDBPyConnection, version_id: int, action: str, before: str, after: str, user: str,
          reason: str | None, now: dt.datetime, **detail: object) -> None:
    """One status change: the row, its version event and its audit event, on the caller's transaction."""
    cur.execute("UPDATE segment_versions SET status = ? WHERE version_id = ?", [after, version_id])
    cur.execute("INSERT INTO segment_version_events VALUES (?, ?, ?, ?, ?)",
                [version_id, now, user, EVENT_OF[action],
                 json.dumps({"from": before, "to": after, "reason": reason, **detail})])
    audit.record(cur, user=user, action=action, entity="version", entity_id=version_id,
                 before={"status": before}, after={"status": after, **detail}, reason=reason)


def _reason(reason: str | None, action: str, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise SegplanError(f"a reason is needed to {action} a version", hint="say why (--reason TEXT)")
    return text or None


def _transition(store: Store, version_id: int, user: str, action: str, allowed_from: tuple[str, ...], after: str,
                reason: str | None, four_eyes: bool) -> Transition:
    """Check, then move inside one transaction that re-reads the state (nothing changes on refusal)."""
    require(store, user, "submit" if action == "submit" else "approve")
    _version_row(store.cursor(), version_id)  # unknown version: say so before anything else
    with store.transaction() as cur:
        vid, level, status = _version_row(cur, version_id)
        if status not in allowed_from:
            raise SegplanError(f"version {vid} is {status}: only a {' or '.join(allowed_from)} version can be "
                               f"{EVENT_OF[action]}", hint=_state_hint(status))
        if four_eyes and _same_person(submitter(cur, vid), user):
            raise SegplanError(f"{user} submitted version {vid} and so may not {action} it",
                               hint="another approver has to decide (maker-checker)")
        now = dt.datetime.now()
        superseded = None
        if after == "approved":
            row = cur.execute("""SELECT max(version_id) FROM segment_versions
                                 WHERE level = ? AND status = 'approved' AND version_id <> ?""", [level, vid]).fetchone()
            superseded = None if row[0] is None else int(row[0])
            # every approved one of the level goes (there is one; older files might hold more)
            for (old,) in cur.execute("""SELECT version_id FROM segment_versions
                                         WHERE level = ? AND status = 'approved' AND version_id <> ?
                                         ORDER BY version_id""", [level, vid]).fetchall():
                _move(cur, int(old), "supersede", "approved", "superseded", user, reason, now, superseded_by=vid)
        _move(cur, vid, action, status, after, user, reason, now,
              **({"superseded": superseded} if after == "approved" else {}))
        if after == "approved":
            count = cur.execute("SELECT count(*) FROM segment_versions WHERE level = ? AND status = 'approved'",
                                [level]).fetchone()[0]
            if count != 1:  # cannot happen under the write lock; never commit two versions in force
                raise SegplanError(f"level {level} would have {count} approved versions", hint="try again")
    return Transition(vid, action, status, after, user, superseded)


def _state_hint(status: str) -> str:
    return {
        "draft": "submit it for approval first",
        "submitted": "an approver approves or rejects it",
        "approved": "it is in force; approve a newer version to replace it",
        "rejected": "change it and submit it again",
        "superseded": "an approver can restore it",
    }.get(status, "see `segplan versions`")


def submit(store: Store, version_id: int, user: str, reason: str | None = None) -> Transition:
    """A draft (or rejected) version goes to the approvers. Needs ``submit``."""
    return _transition(store, version_id, user, "submit", ("draft", "rejected"), "submitted",
                       _reason(reason, "submit", False), four_eyes=False)


def approve(store: Store, version_id: int, user: str, reason: str | None = None) -> Transition:
    """A submitted version comes into force; the level's approved one is superseded. Not by its submitter."""
    return _transition(store, version_id, user, "approve", ("submitted",), "approved",
                       _reason(reason, "approve", False), four_eyes=True)


def reject(store: Store, version_id: int, user: str, reason: str) -> Transition:
    """A submitted version goes back to its planner with the reason (required). Not by its submitter."""
    return _transition(store, version_id, user, "reject", ("submitted",), "rejected",
                       _reason(reason, "reject", True), four_eyes=True)


def restore(store: Store, version_id: int, user: str, reason: str) -> Transition:
    """A superseded version comes back into force (the one in force is superseded); reason required.

    Not by the person who submitted it: restoring is approving it again.
    """
    return _transition(store, version_id, user, "restore", ("superseded",), "approved",
                       _reason(reason, "restore", True), four_eyes=True)


def approval_history(store: Store, version_id: int) -> pd.DataFrame:
    """Everything done to a version, oldest first: when, who, what, status before and after, reason."""
    vid, _, _ = _version_row(store.cursor(), version_id)
    return store.cursor().execute(
        """SELECT event_at, user_name, action,
                  detail->>'from' AS status_before, detail->>'to' AS status_after, detail->>'reason' AS reason,
                  CAST(detail AS VARCHAR) AS detail
           FROM segment_version_events WHERE version_id = ? ORDER BY event_at, rowid""", [vid]).df()
