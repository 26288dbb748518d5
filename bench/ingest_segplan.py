"""The ``segplan`` contender of the ingest benchmark (`bench.ingest_features`): a fresh
`core.store.Store`, `core.ingest.ingest_file` of the generated CSV, then
`core.features.compute_features(store, "product", "week")`; its result has the shape of the
baselines' (`bench.ingest_baselines`), plus the ingest counts and feature columns.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import _nan_fsum, _now, _span
from bench.orders_csv import CSV_COLUMNS


#: segplan's feature columns are its own; these are the names we recognise for the fingerprint.
_SEGPLAN_FEATURE_NAMES = {
    "demand_mean_units_per_week": ("demand_mean_units_per_week", "demand_mean", "mean_demand", "demand_mean_units"),
    "demand_std_units_per_week": ("demand_std_units_per_week", "demand_std", "std_demand", "demand_std_units"),
    "adi_weeks": ("adi_weeks", "adi", "adi_buckets", "adi_periods"),
    "cv2_nonzero_weeks": ("cv2_nonzero_weeks", "cv2", "cv_squared", "cv2_nonzero"),
}


def run_segplan(csv: Path, workdir: Path) -> dict:
    """segplan itself: a fresh Store, `ingest_file`, then `compute_features(product, week)`.

    The ingest progress callback timestamps each step, which is how the phases (read, validate,
    write, ...) are measured without touching core.
    """
    from core import features as core_features
    from core import ingest as core_ingest
    from core.store import Store

    marks: list[tuple[tuple[float, float], str]] = []

    def progress(fraction: float, message: str) -> None:
        marks.append((_now(), message))

    t0 = _now()
    with Store(workdir / "segplan.duckdb") as store:
        t_open = _now()
        result = core_ingest.ingest_file(
            store, "orders", csv, mapping={c: c for c in CSV_COLUMNS}, mode="replace", progress=progress,
        )
        t_ingest = _now()
        features = core_features.compute_features(store, "product", "week")
        t_features = _now()
        quantity_units, revenue, order_lines = store.cursor().execute(
            "SELECT sum(quantity), sum(coalesce(net_amount, quantity * unit_price)), count(*) FROM orders"
        ).fetchone()

    # Each progress message announces a step; the step lasts until the next message.
    phases = {"open store": _span(t0, t_open)}
    steps = [(t_open, "ingest_file before first progress")] + [(at, f"ingest: {msg}") for at, msg in marks]
    for (start, label), (end, _) in zip(steps, steps[1:] + [(t_ingest, "")]):
        wall, cpu = _span(start, end)
        if wall >= 0.005 or label != steps[0][1]:
            before = phases.get(label, [0.0, 0.0])  # a repeated message adds up
            phases[label] = [before[0] + wall, before[1] + cpu]
    phases["ingest_file total"] = _span(t_open, t_ingest)
    phases["compute_features"] = _span(t_ingest, t_features)

    columns = {c.lower(): c for c in features.columns}
    found = {}
    for key, names in _SEGPLAN_FEATURE_NAMES.items():
        name = next((columns[n] for n in names if n in columns), None)
        if name is not None:
            found[key] = _nan_fsum(features[name])
    return {
        "seconds": t_features[0] - t0[0],
        "phases": phases,
        "totals": {
            "quantity_units": float(quantity_units or 0.0),
            "revenue": float(revenue or 0.0),
            "products": int(len(features)),
            "order_lines": int(order_lines),
        },
        "feature_sums": found,
        "ingest": {"rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                   "rows_rejected": result.rows_rejected, "reject_reasons": result.reject_reasons},
        "feature_columns": list(features.columns),
    }
