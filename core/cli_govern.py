"""`segplan submit|approve|reject|restore|override|export`: maker-checker approval, overrides and exports.

Registered on `core.cli.app` by one import at the bottom of core/cli.py. Every command names the
acting user (``--user``); a refused action (wrong role, own submission, unknown version, wrong
state) prints one line on stderr, exits 1 and changes nothing.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.cli_common import DbOption, ReasonOption, VersionOption, _open_store, _run, _write_csv, app

UserOption = Annotated[str, typer.Option("--user", help="Who acts (their account's role decides what they may do).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the outcome as one JSON object.")]


class What(str, Enum):
    assignments = "assignments"
    policies = "policies"


class Format(str, Enum):
    csv = "csv"
    parquet = "parquet"


def _step(ctx: typer.Context, db: Path | None, step: str, version: int, user: str, reason: str | None,
          as_json: bool) -> None:
    def body() -> None:
        from core import approval

        with _open_store(ctx, db) as store:
            moved = getattr(approval, step)(store, version, user, reason)
        if as_json:
            typer.echo(json.dumps({"version": moved.version_id, "action": moved.action, "from": moved.before,
                                   "to": moved.after, "user": moved.user, "superseded": moved.superseded}))
            return
        typer.echo(f"version {moved.version_id}: {moved.before} -> {moved.after} by {moved.user}")
        if moved.superseded is not None:
            typer.echo(f"version {moved.superseded}: approved -> superseded (no longer in force)")

    _run(body)


@app.command()
def submit(
    ctx: typer.Context,
    version: VersionOption,
    user: UserOption,
    reason: Annotated[Optional[str], typer.Option("--reason", help="A note for the approver.", show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Send a draft (or rejected) version to the approvers."""
    _step(ctx, db, "submit", version, user, reason, as_json)


@app.command()
def approve(
    ctx: typer.Context,
    version: VersionOption,
    user: UserOption,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Approve a submitted version (not your own): it comes into force and supersedes the level's approved one."""
    _step(ctx, db, "approve", version, user, reason, as_json)


@app.command()
def reject(
    ctx: typer.Context,
    version: VersionOption,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="What to change (required).")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Send a submitted version (not your own) back to its planner, saying why."""
    _step(ctx, db, "reject", version, user, reason, as_json)


@app.command()
def restore(
    ctx: typer.Context,
    version: VersionOption,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why the earlier version comes back (required).")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Put a superseded version back in force; the level's approved version is superseded."""
    _step(ctx, db, "restore", version, user, reason, as_json)


@app.command()
def override(
    ctx: typer.Context,
    version: VersionOption,
    item: Annotated[str, typer.Option(
        "--item", help="The item's key: PRODUCT, CUSTOMER, or CUSTOMER|PRODUCT for customer_product versions.")],
    segment: Annotated[str, typer.Option("--segment", help="The segment to move it to: its id or its name.")],
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why the item belongs there (required).")],
    expires: Annotated[Optional[str], typer.Option(
        "--expires", help="The day it stops applying, YYYY-MM-DD (it applies up to the day before; default: no expiry).",
        show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Move one item of a draft or rejected version to another segment, with a reason."""

    def body() -> None:
        from core.overrides import add_override, overrides

        with _open_store(ctx, db) as store:
            override_id = add_override(store, version, item, segment, user, reason, expires_on=expires)
            row = overrides(store, version).set_index("override_id").loc[override_id]
        if as_json:
            typer.echo(json.dumps({"override": override_id, "version": version, "item": row["item"],
                                   "model_segment": row["model_segment"], "segment": row["segment"],
                                   "expires_on": None if row["expires_on"] != row["expires_on"]
                                   else str(row["expires_on"].date())}))
            return
        typer.echo(f"override {override_id}: {row['item']} moved from segment {row['model_segment']} to "
                   f"{row['segment']} ({row['segment_label']}) in version {version}")

    _run(body)


@app.command()
def export(
    ctx: typer.Context,
    version: VersionOption,
    out: Annotated[Path, typer.Option("--out", help="File to write (an unapproved version's name gets _DRAFT).")],
    what: Annotated[What, typer.Option("--what", help="assignments (overrides applied) or policies.")]
    = What.assignments,
    fmt: Annotated[Format, typer.Option("--format", help="csv or parquet.")] = Format.csv,
    user: Annotated[Optional[str], typer.Option(
        "--user", help="Who exports (needed once accounts exist).", show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Write a version's assignments or policies for the ERP, marked DRAFT unless approved."""

    def body() -> None:
        from core.export import FINAL_STATES, _status, export_version

        with _open_store(ctx, db) as store:
            path = export_version(store, version, what.value, fmt.value, out, user)
            draft = _status(store, version) not in FINAL_STATES
        if as_json:
            typer.echo(json.dumps({"version": version, "what": what.value, "format": fmt.value, "path": str(path),
                                   "draft": draft}))
            return
        typer.echo(f"{what.value} of version {version} written to {path}" + (" (not approved: marked DRAFT)"
                                                                             if draft else ""))

    _run(body)


@app.command()
def withdraw(
    ctx: typer.Context,
    override_id: Annotated[int, typer.Option("--override", help="The override's id (see `segplan overrides`).")],
    user: UserOption,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Take an override of a draft or rejected version back: the item returns to the model's segment."""

    def body() -> None:
        from core.overrides import withdraw_override

        with _open_store(ctx, db) as store:
            withdraw_override(store, override_id, user, reason)
        if as_json:
            typer.echo(json.dumps({"override": override_id, "withdrawn_by": user}))
            return
        typer.echo(f"override {override_id} withdrawn by {user}")

    _run(body)


@app.command("overrides")
def list_overrides(
    ctx: typer.Context,
    version: VersionOption,
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV file to write instead of printing.",
                                                show_default=False)] = None,
    active_only: Annotated[bool, typer.Option("--active", help="Only the overrides active today.")] = False,
    db: DbOption = None,
) -> None:
    """The overrides of a version: item, model's and planner's segment, model agrees, reason, carried from."""

    def body() -> None:
        import datetime as dt

        import pandas as pd

        from core.overrides import overrides

        with _open_store(ctx, db) as store:
            frame = overrides(store, version, active_on=dt.date.today() if active_only else None)
        if out is not None:
            _write_csv(frame, out)
            typer.echo(f"{len(frame)} overrides of version {version} written to {out}")
            return
        for row in frame.itertuples(index=False):
            state = "active" if row.active else ("withdrawn" if row.withdrawn_by else "expired")
            model = "model agrees" if row.model_agrees else "model disagrees"
            carried = "" if pd.isna(row.carried_from_version) else f"  carried from version {int(row.carried_from_version)}"
            typer.echo(f"{row.override_id:>5}  {row.item:<20} {row.model_segment!s:>8} -> {row.segment!s:<8} "
                       f"{state:<9} {model:<15} {row.created_by}: {row.reason}{carried}")

    _run(body)
