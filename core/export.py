"""Exports of a version for the ERP: assignments (overrides applied) or policies, as CSV or Parquet.

Every row carries the version, its level and status, who approved it and when, and when it was
exported. Only an approved version (or a superseded one, its status saying so) exports as
such; any other is marked as a draft: ``DRAFT`` in the file name and ``draft`` = true in every
row, so an unapproved plan cannot pass for the one in force.

Text cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) get a leading apostrophe, in both formats (OWASP, "CSV
Injection"); numbers stay numbers, so a negative number is untouched. The file is written to a
temporary file in the target folder and renamed into place, so a killed export never leaves
half a file; the rename and the audit event (action ``export``) happen together.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from core import audit
from core.errors import SegplanError
from core.store import Store

if TYPE_CHECKING:
    import pandas as pd

WHATS = ("assignments", "policies")
FORMATS = ("csv", "parquet")
#: Statuses that export as the plan itself; any other is a draft.
FINAL_STATES = frozenset({"approved", "superseded"})
#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection guidance).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DRAFT_MARK = "DRAFT"


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells starting like a formula begin with an apostrophe; other cells as they were."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values) \
                or pd.api.types.is_datetime64_any_dtype(values):
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[column] = values.where(~risky, "'" + values.where(risky, "").astype(str))
    return out


def draft_name(path: Path) -> Path:
    """``assignments_v12.csv`` -> ``assignments_v12_DRAFT.csv`` (unchanged when the name says DRAFT already)."""
    if DRAFT_MARK in path.name.upper():
        return path
    return path.with_name(f"{path.stem}_{DRAFT_MARK}{path.suffix}")


def export_frame(store: Store, version_id: int, what: str = "assignments",
                 exported_at: dt.datetime | None = None) -> pd.DataFrame:
    """The rows an export writes (before neutralisation): the version's assignments or policies plus
    version_id, level, status, draft, approved_by, approved_at, exported_at."""
    from core.approval import decision
    from core.features import key_columns
    from core.overrides import effective_assignments
    from core.policy_plan import version_policies
    from core.versions import _final_names, _header

    if what not in WHATS:
        raise SegplanError(f"cannot export {what!r}", hint="choose one of: " + ", ".join(WHATS))
    import pandas as pd

    header = _header(store, version_id)
    vid, level = int(header["version_id"]), str(header["level"])
    if what == "assignments":
        keys = list(key_columns(level))
        frame = effective_assignments(store, vid)[[*keys, "segment", "segment_label", "model_segment", "overridden",
                                                   "override_reason"]]
    else:
        names = _final_names(header)
        frame = pd.DataFrame([asdict(p) for p in version_policies(store, vid)])
        frame.insert(1, "segment_label", frame["segment"].map(names))
    decided = decision(store, vid)
    status = str(decided["status"])
    approved = status in FINAL_STATES
    frame = frame.assign(
        version_id=vid, level=level, status=status, draft=not approved,
        approved_by=decided["approved_by"] if approved else None,
        approved_at=pd.Timestamp(decided["approved_at"]) if approved and decided["approved_at"] else pd.NaT,
        exported_at=pd.Timestamp(exported_at or dt.datetime.now()))
    frame["approved_by"] = frame["approved_by"].astype("string")
    frame["approved_at"] = pd.to_datetime(frame["approved_at"])
    return frame


def export_version(store: Store, version_id: int, what: str = "assignments", fmt: str = "csv",
                   out: str | os.PathLike[str] = "export.csv", user: str | None = None) -> Path:
    """Write a version's assignments or policies to ``out``; returns the path written (DRAFT-marked if not approved).

    Needs ``export_approved`` for an approved or superseded version, ``export_draft`` otherwise.
    With no ``user`` the local admin exports, which works only while there are no accounts.
    """
    from core.users import LOCAL_ADMIN, has_accounts, require

    if fmt not in FORMATS:
        raise SegplanError(f"unknown export format {fmt!r}", hint="choose one of: " + ", ".join(FORMATS))
    if what not in WHATS:
        raise SegplanError(f"cannot export {what!r}", hint="choose one of: " + ", ".join(WHATS))
    if user is None and has_accounts(store):
        raise SegplanError("accounts exist, so an export needs the user who makes it", hint="name yourself (--user NAME)")
    user = user or LOCAL_ADMIN
    now = dt.datetime.now()
    frame = export_frame(store, version_id, what, exported_at=now)
    status = str(frame["status"].iloc[0]) if len(frame) else _status(store, version_id)
    draft = status not in FINAL_STATES
    require(store, user, "export_draft" if draft else "export_approved")
    target = Path(out)
    if draft:
        target = draft_name(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    safe = neutralise(frame)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        if fmt == "csv":
            # CRLF rows (RFC 4180): then a cell holding a lone CR or LF is quoted, not split across rows
            safe.to_csv(temp, index=False, date_format="%Y-%m-%dT%H:%M:%S", lineterminator="\r\n")
        else:
            safe.to_parquet(temp, index=False)
        with open(temp, "rb") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
        with store.transaction() as cur:
            audit.record(cur, user=user, action="export", entity="version", entity_id=int(version_id),
                         after={"what": what, "format": fmt, "file": target.name, "rows": len(frame),
                                "status": status, "draft": draft})
            os.replace(temp, target)  # last: if it fails, the audit event rolls back with it
    finally:
        temp.unlink(missing_ok=True)
    return target


def _status(store: Store, version_id: int) -> str:
    from core.approval import _version_row

    return _version_row(store.cursor(), version_id)[2]
