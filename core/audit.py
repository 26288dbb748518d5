"""The audit trail: every write appends who, when, what, before and after, and why.

Rows are only ever inserted (no function here or anywhere else updates or deletes them), and
each row carries ``row_hash`` = sha256 of the previous row's hash and its own content, so an
edit made behind segplan's back (a hand-run UPDATE) breaks the chain and `verify_chain` says
where. Record an event with the cursor of the write's own transaction, so that the change and
its audit row commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.store import Store

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

#: Columns of `audit_trail`, in order.
AUDIT_COLUMNS = ("event_id", "event_at", "user_name", "action", "entity", "entity_id", "before", "after", "reason")


def _json(value: Any) -> str | None:
    """Canonical JSON (sorted keys) so the hash of an event does not depend on dict order."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _row_hash(prev_hash: str, event_at: dt.datetime, user: str | None, action: str, entity: str,
              entity_id: str | None, before: str | None, after: str | None, reason: str | None) -> str:
    content = json.dumps([prev_hash, event_at.isoformat(), user, action, entity, entity_id, before, after, reason],
                         separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def record(cur: duckdb.DuckDBPyConnection, *, user: str | None, action: str, entity: str,
           entity_id: object = None, before: Any = None, after: Any = None, reason: str | None = None) -> int:
    """Append one event inside the caller's transaction; returns its ``event_id``.

    ``before``/``after`` are JSON-able values (dicts, lists, numbers, text); dates and other
    objects are written as text.
    """
    last = cur.execute("SELECT row_hash FROM audit_log ORDER BY event_id DESC LIMIT 1").fetchone()
    prev_hash = last[0] if last else ""
    event_at = dt.datetime.now()
    key = None if entity_id is None else str(entity_id)
    before_json, after_json = _json(before), _json(after)
    row_hash = _row_hash(prev_hash, event_at, user, action, entity, key, before_json, after_json, reason)
    row = cur.execute(
        """INSERT INTO audit_log (event_at, user_name, action, entity, entity_id, before, after, reason,
                                  prev_hash, row_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING event_id""",
        [event_at, user, action, entity, key, before_json, after_json, reason, prev_hash, row_hash],
    ).fetchone()
    return int(row[0])


def audit_trail(store: Store, *, user: str | None = None, action: str | None = None, entity: str | None = None,
                since: dt.datetime | dt.date | None = None, until: dt.datetime | dt.date | None = None) -> pd.DataFrame:
    """The trail, oldest first, filtered by any of user, action, entity and time (``until`` exclusive)."""
    conditions, params = [], []
    for column, value in (("user_name", user), ("action", action), ("entity", entity)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        conditions.append("event_at >= ?")
        params.append(since)
    if until is not None:
        conditions.append("event_at < ?")
        params.append(until)
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    return store.cursor().execute(
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log {where} ORDER BY event_id", params  # noqa: S608 - fixed columns
    ).df()


@dataclass(frozen=True)
class ChainCheck:
    events: int
    broken_at: int | None     # event_id of the first event whose hash does not match, None when intact

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(store: Store) -> ChainCheck:
    """Recompute every row's hash in order; the first mismatch means the trail was edited outside segplan."""
    rows = store.cursor().execute(
        """SELECT event_id, event_at, user_name, action, entity, entity_id, before, after, reason, prev_hash, row_hash
           FROM audit_log ORDER BY event_id"""
    ).fetchall()
    prev = ""
    for event_id, event_at, user, action, entity, key, before, after, reason, prev_hash, row_hash in rows:
        expected = _row_hash(prev, event_at, user, action, entity, key, before, after, reason)
        if prev_hash != prev or row_hash != expected:
            return ChainCheck(len(rows), int(event_id))
        prev = row_hash
    return ChainCheck(len(rows), None)

