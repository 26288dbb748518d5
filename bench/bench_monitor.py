"""Monitoring at scale: delivery KPIs, cost-to-serve, control alerts and overrides on N order lines.

Run: ``python -m bench monitor [--lines 1000000] [--repeat 5] [--overrides 1000]`` (or
``python bench/bench_monitor.py ...``). The order lines are the ingest benchmark's
(`bench.orders_csv.generate_orders_csv`, cached under bench/out/), loaded by segplan's own
``ingest_file`` into a temporary database. That file has no delivered quantity, weight or
shipment, so a deterministic delivered quantity (about 8 % of lines short-shipped) and a
weight per line are then written by one UPDATE, so that OTIF, fill rate and the per-kg driver
have something to measure. Then, untimed: a k-means product version (k = 6) and a k-means
customer version (`core.versions.run_segmentation`), the sample data's cost rates, and the
overrides (`core.overrides.add_override`: items spread over the product version, each moved
to the next segment).

Four benchmarks, each against a baseline in the same process, round robin over the repeats
(one untimed warm-up pair first, which also gives the checks), medians of wall and CPU seconds:

1. ``core.kpi.segment_kpis(store, product_version, "week")`` vs raw DuckDB: the same GROUP BY
   (orders joined to the version's saved assignments; lines, on-time, OTIF, fill, cycle time
   per segment and week) fetched into a DataFrame;
2. ``core.cost_to_serve.cost_to_serve(store, "customer", customer_version)`` vs raw DuckDB summing
   the same drivers per customer (an order belongs to one customer, so count DISTINCT) times the
   same rates, joined to the version's assignments;
3. ``core.alerts.control_alerts(store, product_version, "week")`` (p- and XmR charts, Western
   Electric rules over every segment and KPI) vs ``segment_kpis`` alone: the charts' overhead;
4. ``core.overrides.effective_assignments(store, product_version)`` with the overrides vs
   ``core.versions.assignments`` (the model's assignments only).

Steps 1-3 run before the overrides are added, so the raw baselines join the saved assignments
and must give the same figures (checked). ``baseline/segplan`` is baseline seconds over segplan
seconds, as in the other suites: above 1x segplan is faster, below 1x it takes longer.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `core` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import _code_version, _load, _now, _span
from bench.orders_csv import CSV_COLUMNS, DEFAULT_OUT_DIR, DEFAULT_SEED, generate_orders_csv

DEFAULT_LINES = 1_000_000
DEFAULT_REPEAT = 5
DEFAULT_OVERRIDES = 1_000
K = 6
USER = "bench"
#: The sample data's cost rates (sample_data/cost_rates.csv): activity, driver, rate, currency.
COST_RATES = (
    ("order handling", "per_order", 4.5, "EUR"),
    ("invoicing", "per_order", 1.2, "EUR"),
    ("picking", "per_line", 0.85, "EUR"),
    ("handling", "per_unit", 0.04, "EUR"),
    ("packing", "per_shipment", 2.5, "EUR"),
    ("transport", "per_shipment", 12.0, "EUR"),
    ("transport", "per_kg", 0.18, "EUR"),
)
REL_TOLERANCE = 1e-9

# About 8 % of lines short-shipped (a random part of the quantity delivered), the rest in full;
# a weight per unit by product. Hash-drawn, so a seed gives the same database.
_DELIVERY_SQL = """
UPDATE orders SET
    delivered_quantity = CASE WHEN hash(order_id, line_number, $seed, 21) % 100 < 8
                              THEN floor(quantity * ((hash(order_id, line_number, $seed, 22) % 100) / 100.0))
                              ELSE quantity END,
    weight_kg = round(quantity * (0.05 + (hash(product_id, $seed, 23) % 400) / 100.0), 3)
"""

#: Raw DuckDB: the statement of `segment_kpis`, written directly against the saved assignments.
RAW_KPI_SQL = """
SELECT coalesce(a.segment, '(not in version)') AS segment,
       coalesce(a.segment_label, '(not in version)') AS segment_label,
       CAST(date_trunc('week', o.order_date) AS DATE) AS period,
       count(*) AS lines,
       count(*) FILTER (WHERE o.promised_date IS NOT NULL AND o.delivered_date IS NOT NULL
                          AND o.delivered_quantity IS NOT NULL) AS otif_base_lines,
       count(*) FILTER (WHERE o.delivered_date <= o.promised_date AND o.delivered_quantity >= o.quantity) AS otif_lines,
       count(*) FILTER (WHERE o.promised_date IS NOT NULL AND o.delivered_date IS NOT NULL) AS on_time_base_lines,
       count(*) FILTER (WHERE o.delivered_date <= o.promised_date) AS on_time_lines,
       coalesce(sum(o.quantity) FILTER (WHERE o.delivered_quantity IS NOT NULL), 0) AS ordered_quantity,
       coalesce(sum(least(o.delivered_quantity, o.quantity)), 0) AS filled_quantity,
       avg(date_diff('day', o.order_date, o.delivered_date)) AS order_cycle_time_days
FROM orders AS o
LEFT JOIN segment_assignments AS a ON a.version_id = $version AND a.product_id = o.product_id
WHERE o.quantity > 0
GROUP BY ALL
ORDER BY segment, period
"""

#: Raw DuckDB: the cost-to-serve drivers per customer times the rates, with the customer's segment.
RAW_COST_SQL = """
WITH per_customer AS (
    SELECT customer_id,
           count(DISTINCT order_id) FILTER (WHERE quantity > 0) AS orders,
           count(*) FILTER (WHERE quantity > 0) AS order_lines,
           coalesce(sum(quantity) FILTER (WHERE quantity > 0), 0) AS units,
           count(DISTINCT CASE WHEN shipment_id IS NOT NULL THEN 's:' || shipment_id
                               ELSE 'o:' || order_id || '@' || coalesce(CAST(ship_date AS VARCHAR), '') END)
               FILTER (WHERE quantity > 0) AS shipments,
           coalesce(sum(weight_kg) FILTER (WHERE quantity > 0), 0) AS weight_kg,
           sum(coalesce(net_amount, quantity * unit_price)) AS revenue,
           sum(coalesce(cost_amount, quantity * unit_cost)) AS cost_of_goods
    FROM orders GROUP BY customer_id
), costed AS (
    SELECT *, $per_order * orders + $per_line * order_lines + $per_unit * units
              + $per_shipment * shipments + $per_kg * weight_kg AS cost_to_serve
    FROM per_customer
)
SELECT c.customer_id, a.segment, coalesce(a.segment_label, 'not in version') AS segment_label,
       c.orders, c.order_lines, c.units, c.shipments, c.weight_kg, c.cost_to_serve,
       c.revenue, c.cost_of_goods, c.revenue - c.cost_of_goods AS gross_margin,
       c.revenue - c.cost_of_goods - c.cost_to_serve AS profit
FROM costed AS c
LEFT JOIN segment_assignments AS a ON a.version_id = $version AND a.customer_id = c.customer_id
ORDER BY c.customer_id
"""


def _driver_rates() -> dict[str, float]:
    """Rate per driver, summed over activities (what the raw baseline multiplies by)."""
    rates: dict[str, float] = {}
    for _, driver, rate, _ in COST_RATES:
        rates[driver] = rates.get(driver, 0.0) + rate
    return rates


def _timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of the process over all its threads)."""
    start = _now()
    out = fn()
    wall, cpu = _span(start, _now())
    return out, wall, cpu


def build_database(store, csv: Path, seed: int) -> tuple[dict[str, int], dict[str, float]]:
    """Load the lines, add deliveries, save the two versions and the rates. Returns (ids, setup seconds)."""
    from core.ingest import ingest_file
    from core.versions import run_segmentation

    setup: dict[str, float] = {}
    _, setup["ingest"], _ = _timed(lambda: ingest_file(store, "orders", csv, mapping={c: c for c in CSV_COLUMNS},
                                                      mode="replace"))

    def deliveries() -> None:
        with store.transaction() as cur:
            cur.execute(_DELIVERY_SQL, {"seed": seed})
            cur.executemany("INSERT INTO cost_rates (activity, driver, rate, currency) VALUES (?, ?, ?, ?)",
                            [list(r) for r in COST_RATES])

    _, setup["deliveries and rates"], _ = _timed(deliveries)
    product, setup["product version"], _ = _timed(
        lambda: run_segmentation(store, "product", "kmeans", k=K, seed=seed, user=USER, note="bench monitor"))
    customer, setup["customer version"], _ = _timed(
        lambda: run_segmentation(store, "customer", "kmeans", k=K, seed=seed, user=USER, note="bench monitor"))
    ids = {"product": int(product.version_id), "customer": int(customer.version_id)}
    return ids, setup


def add_overrides(store, version_id: int, n_overrides: int) -> int:
    """Move ``n_overrides`` items spread over the version to the next segment; returns how many were added."""
    from core.overrides import add_override
    from core.versions import assignments

    frame = assignments(store, version_id)
    segments = sorted(set(frame["segment"].tolist()))
    if len(segments) < 2 or n_overrides <= 0:
        return 0
    step = max(1, len(frame) // n_overrides)
    chosen = frame.iloc[::step].head(n_overrides)
    nxt = {s: segments[(i + 1) % len(segments)] for i, s in enumerate(segments)}
    for product, segment in zip(chosen["product_id"], chosen["segment"], strict=True):
        add_override(store, version_id, product, str(nxt[segment]), USER, "bench: planner move")
    return len(chosen)


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=REL_TOLERANCE, abs_tol=1e-6)


def check_kpis(segplan, raw) -> tuple[bool, str]:
    """The segplan KPI frame and the raw one: same rows, same sums of the counted columns."""
    columns = ("lines", "on_time_lines", "otif_lines", "filled_quantity", "ordered_quantity")
    same = len(segplan) == len(raw) and all(_close(segplan[c].sum(), raw[c].sum()) for c in columns)
    words = ", ".join(f"{c} {segplan[c].sum():,.0f}" for c in columns)
    return same, f"{len(segplan):,} segment-weeks ({segplan['segment'].nunique()} segments); {words}"


def check_costs(segplan, raw) -> tuple[bool, str]:
    """The segplan cost-to-serve frame and the raw one: same customers, same totals."""
    columns = ("orders", "order_lines", "shipments", "weight_kg", "cost_to_serve", "profit")
    same = len(segplan) == len(raw) and all(_close(segplan[c].sum(), raw[c].sum()) for c in columns)
    per_item = same and bool((segplan["customer_id"].to_numpy() == raw["customer_id"].to_numpy()).all()) and all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
        for a, b in zip(segplan["cost_to_serve"], raw["cost_to_serve"], strict=True))
    words = ", ".join(f"{c} {segplan[c].sum():,.2f}" for c in ("cost_to_serve", "profit"))
    return per_item, f"{len(segplan):,} customers; {words}"


def run(lines: int, repeats: int, n_overrides: int, seed: int = DEFAULT_SEED, out_dir: Path = DEFAULT_OUT_DIR) -> int:
    """Build the database, time the four benchmarks, print the table; 0 when every check agrees."""
    import duckdb
    import pandas as pd

    from core.alerts import control_alerts
    from core.cost_to_serve import cost_to_serve
    from core.kpi import segment_kpis
    from core.overrides import effective_assignments
    from core.store import Store
    from core.versions import assignments

    t_gen = time.perf_counter()
    csv, reused = generate_orders_csv(lines, out_dir, seed)
    gen_seconds = time.perf_counter() - t_gen
    print(f"monitor bench: {lines:,} order lines, k-means product and customer versions (k={K}), "
          f"{n_overrides:,} overrides; {repeats} repeats (median), round robin")
    print(f"data: {csv.name} ({'reused' if reused else f'generated in {gen_seconds:.1f} s'}, seed {seed})")
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, core at {_code_version()}, "
          f"{_load()}", flush=True)

    rates = _driver_rates()
    rows: list[tuple[str, str, dict[str, list[float]]]] = []
    checks: list[tuple[str, bool | None, str]] = []  # None: nothing to compare, only what it found
    with tempfile.TemporaryDirectory(prefix="segplan-bench-monitor-") as folder, \
            Store(Path(folder) / "monitor.duckdb") as store:
        ids, setup = build_database(store, csv, seed)
        product, customer = ids["product"], ids["customer"]
        items = {level: len(assignments(store, vid)) for level, vid in ids.items()}
        cur = store.cursor()

        def raw_kpis():
            return cur.execute(RAW_KPI_SQL, {"version": product}).df()

        def raw_costs():
            return cur.execute(RAW_COST_SQL, {"version": customer, **rates}).df()

        benchmarks: list[tuple[str, str, Callable[[], object], Callable[[], object]]] = [
            ("segment_kpis week", "raw DuckDB, the same GROUP BY",
             lambda: segment_kpis(store, product, "week"), raw_kpis),
            ("cost_to_serve customer", "raw DuckDB, the same drivers",
             lambda: cost_to_serve(store, "customer", customer), raw_costs),
            ("control_alerts week", "segment_kpis alone",
             lambda: control_alerts(store, product, "week"), lambda: segment_kpis(store, product, "week")),
        ]
        for name, baseline, seg_fn, base_fn in benchmarks:
            warm_seg, warm_base = seg_fn(), base_fn()  # untimed warm-up; its results are checked
            if name.startswith("segment_kpis"):
                checks.append(("segment_kpis vs raw DuckDB", *check_kpis(warm_seg, warm_base)))
            elif name.startswith("cost_to_serve"):
                checks.append(("cost_to_serve vs raw DuckDB", *check_costs(warm_seg, warm_base)))
            else:
                checks.append(("control_alerts", None, f"{len(warm_seg):,} rule-breaking points over "
                               f"{warm_seg['segment'].nunique() if len(warm_seg) else 0} segments"))
            rows.append((name, baseline, _repeat(seg_fn, base_fn, repeats)))

        _, setup["overrides"], _ = _timed(lambda: add_overrides(store, product, n_overrides))
        warm_seg, warm_base = effective_assignments(store, product), assignments(store, product)
        moved = int(warm_seg["overridden"].sum())
        checks.append(("effective_assignments", len(warm_seg) == len(warm_base) and moved == min(n_overrides, len(warm_base)),
                       f"{len(warm_seg):,} items, {moved:,} overridden"))
        rows.append(("effective_assignments", "versions.assignments (model only)",
                     _repeat(lambda: effective_assignments(store, product), lambda: assignments(store, product),
                             repeats)))

    print("setup (untimed): " + ", ".join(f"{k} {v:.1f} s" for k, v in setup.items())
          + f"; product version {product}: {items['product']:,} items, customer version {customer}: "
            f"{items['customer']:,} items")
    print()
    print(f"{'benchmark':<24}{'segplan s':>10}{'cpu s':>8}{'baseline s':>12}{'cpu s':>8}"
          f"{'baseline/segplan':>18}{'extra s':>9}  baseline")
    for name, baseline, samples in rows:
        seg, base = statistics.median(samples["segplan"]), statistics.median(samples["baseline"])
        seg_cpu, base_cpu = statistics.median(samples["segplan cpu"]), statistics.median(samples["baseline cpu"])
        print(f"{name:<24}{seg:>10.3f}{seg_cpu:>8.2f}{base:>12.3f}{base_cpu:>8.2f}"
              f"{base / seg:>17.2f}x{seg - base:>+9.3f}  {baseline}")
    print("(medians of wall and CPU seconds; baseline/segplan above 1x: segplan is faster; "
          "extra s = segplan - baseline)")
    spreads = ", ".join(f"{name} {min(s['segplan']):.3f}-{max(s['segplan']):.3f}" for name, _, s in rows)
    print(f"segplan min-max: {spreads}")
    ok = True
    for name, same, words in checks:
        if same is None:
            print(f"found {name}: {words}")
            continue
        ok &= same
        print(f"check {name}: {'AGREE' if same else 'DISAGREE'} ({words})")
    print(f"finished {time.strftime('%H:%M UTC', time.gmtime())}, {_load()}", flush=True)
    return 0 if ok else 1


def _repeat(seg_fn: Callable[[], object], base_fn: Callable[[], object], repeats: int) -> dict[str, list[float]]:
    """Time segplan and its baseline ``repeats`` times each, alternately."""
    samples: dict[str, list[float]] = {"segplan": [], "segplan cpu": [], "baseline": [], "baseline cpu": []}
    for _ in range(repeats):
        for key, fn in (("segplan", seg_fn), ("baseline", base_fn)):
            _, wall, cpu = _timed(fn)
            samples[key].append(wall)
            samples[f"{key} cpu"].append(cpu)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, help="order lines (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="timed runs per contender (median)")
    parser.add_argument("--overrides", type=int, default=DEFAULT_OVERRIDES, help="overrides on the product version")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the data and the k-means")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the generated CSV is cached")
    args = parser.parse_args(argv)
    if args.lines < 3 or args.repeat < 1 or args.overrides < 0:
        parser.error("--lines must be at least 3, --repeat at least 1, --overrides 0 or more")
    return run(args.lines, args.repeat, args.overrides, args.seed, args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
