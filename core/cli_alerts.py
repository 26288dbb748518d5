"""`segplan alerts`: a version's control-chart rule breaks or boundary-drift alerts, as a CSV file.

Registered on the `core.cli` app by the import at the bottom of core/cli.py. Reads only,
unless ``--record`` asks to remember the drift alerts (a write, audited, for roles that may
segment). A problem the user can fix exits 1 with one line, before any file is written.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from core.cli_common import (
    BUCKETS,
    DbOption,
    RequiredOutOption,
    RequiredVersionOption,
    UserOption,
    _acting_user,
    _choice,
    _open_store,
    _required_out,
    _required_version,
    _run,
    _write_csv,
    app,
)
from core.errors import SegplanError

KINDS = ("rules", "drift")
#: CSV columns per kind (drift: the level's key columns first).
RULE_COLUMNS = ("segment", "segment_label", "kpi", "period", "value", "centre", "lcl", "ucl", "rules", "rule_words",
                "lines", "base", "successes", "chart")
DRIFT_COLUMNS = ("segment", "segment_label", "saved_relative_margin", "relative_margin", "nearest_segment",
                 "nearest_segment_label", "active", "change")


@app.command()
def alerts(
    ctx: typer.Context,
    version: RequiredVersionOption = None,
    out: RequiredOutOption = None,
    kind: Annotated[str, typer.Option(
        "--kind", help="rules: points of the KPI control charts that break a Western Electric rule; "
        "drift: items drifting toward a segment boundary (clustering and ABC x XYZ versions).")] = "rules",
    bucket: Annotated[str, typer.Option("--bucket", help="Period of the KPIs (rules): week or month of the order date.")
                      ] = "week",
    last_periods: Annotated[Optional[int], typer.Option(
        "--last-periods", help="Chart only the last N complete periods (rules; default: all).", show_default=False)
    ] = None,
    record: Annotated[bool, typer.Option(
        "--record", help="Remember the drift alerts raised and cleared (audited; needs a role that may segment).")
    ] = False,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows, segments and out as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """A version's alerts: KPI control-chart rule breaks per segment and period, or boundary drift per item."""

    def body() -> None:
        from core import alerts as core_alerts

        version_id = _required_version(version)
        target = _required_out(out)
        chosen = _choice("--kind", kind, KINDS)
        period = _choice("--bucket", bucket, BUCKETS)
        if record and chosen != "drift":
            raise SegplanError("--record goes with --kind drift", hint="only the drift alerts have a state to remember")
        extra: dict[str, object] = {}
        with _open_store(ctx, db) as store:
            if chosen == "rules":
                frame = core_alerts.control_alerts(store, version_id, period, last_periods=last_periods)
                frame = frame[list(RULE_COLUMNS)]
            else:
                acting = _acting_user(store, user, "segment") if record else None
                frame = core_alerts.boundary_alerts(store, version_id)
                reason = frame.attrs.get("reason")
                if reason:
                    raise SegplanError(reason, hint="choose a clustering or ABC x XYZ version, see `segplan versions`")
                if record:
                    extra["recorded"] = core_alerts.record_boundary_alerts(store, version_id, frame, acting)
                extra["new_items"] = int(frame.attrs.get("new_items", 0))
                keys = [c for c in ("customer_id", "product_id") if c in frame.columns]
                frame = frame[[*keys, *DRIFT_COLUMNS]]
        _write_csv(frame, target)
        if as_json:
            segments = int(frame["segment"].astype("string").nunique()) if len(frame) else 0
            typer.echo(json.dumps({"rows": int(len(frame)), "segments": segments, **extra, "out": str(target)}))
        else:
            typer.echo(f"{len(frame):,} {'rule breaks' if chosen == 'rules' else 'drift alerts'} -> {target}")

    _run(body)
