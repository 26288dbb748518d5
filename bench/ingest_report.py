"""The checks and aims the ingest benchmark (`bench.ingest_features`) prints after its table:
totals every contender must agree on, the demand-feature fingerprint, and the issue's aims.
"""

from __future__ import annotations

BASELINE = "pandas"

# The aims of the issue, stated for 10M lines on 2 cores.
AIM_ROWS = 10_000_000
AIM_SECONDS = 60.0
AIM_SPEEDUP_VS_PANDAS = 5.0
AIM_PEAK_MB = 3 * 1024


#: Sums of floats in different orders differ in their last bits; beyond this they disagree.
TOTALS_REL_TOLERANCE = 1e-9
FEATURES_REL_TOLERANCE = 1e-6


def _rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def _print_totals_check(results: dict[str, dict]) -> bool:
    """Every contender must find the same quantity, revenue, products and lines."""
    if not results:
        print("totals check: nothing ran")
        return False
    keys = ("quantity_units", "revenue", "products", "order_lines")
    print("totals check: " + ", ".join(keys))
    for name, r in results.items():
        t = r["totals"]
        print(f"  {name:<10} {_fmt_int(t['quantity_units']):>16} {t['revenue']:>20,.2f} {t['products']:>8,} {t['order_lines']:>14,}")
    first = next(iter(results.values()))["totals"]
    disagree = [
        f"{name}.{k}" for name, r in results.items() for k in keys
        if _rel_diff(float(r["totals"][k]), float(first[k])) > TOTALS_REL_TOLERANCE
    ]
    if len(results) < 2:
        print("totals check: only one contender ran, nothing to compare")
        return True
    if disagree:
        print(f"totals check: DISAGREE ({', '.join(disagree)}; relative tolerance {TOTALS_REL_TOLERANCE:g})")
        return False
    print(f"totals check: AGREE (relative tolerance {TOTALS_REL_TOLERANCE:g})")
    return True


def _print_features_check(results: dict[str, dict]) -> None:
    """Sums of the demand features, a fingerprint of their definitions (horizon, zero weeks,
    population std). Information only: the exit status follows the totals check."""
    keys = ("demand_mean_units_per_week", "demand_std_units_per_week", "adi_weeks", "cv2_nonzero_weeks")
    rows = {n: r["feature_sums"] for n, r in results.items() if r.get("feature_sums")}
    if not rows:
        return
    print("features check (sums over products): " + ", ".join(keys))
    for name, sums in rows.items():
        print(f"  {name:<10} " + " ".join(f"{sums[k]:>18,.4f}" if k in sums else f"{'-':>18}" for k in keys))
    reference = BASELINE if BASELINE in rows else next(iter(rows))
    for name, sums in rows.items():
        if name == reference:
            continue
        shared = [k for k in keys if k in sums]
        differ = [k for k in shared if _rel_diff(rows[reference][k], sums[k]) > FEATURES_REL_TOLERANCE]
        verdict = f"DISAGREE on {', '.join(differ)}" if differ else "AGREE"
        print(f"features check {reference} vs {name}: {verdict} ({len(shared)} of {len(keys)} features compared, "
              f"relative tolerance {FEATURES_REL_TOLERANCE:g})")
    if "segplan" in results and "segplan" not in rows:
        print(f"features check segplan: no recognised feature columns in {results['segplan'].get('feature_columns')}")
    print()


def _print_aims(results: dict[str, dict], rows: int) -> None:
    """The issue's aims, judged honestly; the time aim only at 10M rows, where it is stated."""
    print(f"aims (stated for {AIM_ROWS:,} lines on 2 cores):")
    at = "" if rows >= AIM_ROWS else f" [this run: {rows:,} lines, so indicative only]"
    for name in ("segplan", "duckdb", "duckdb_csv"):
        if name not in results:
            continue
        r = results[name]
        if rows >= AIM_ROWS:
            verdict = "PASS" if r["seconds"] < AIM_SECONDS else "MISS"
        else:
            verdict = "NOT JUDGED (needs --rows 10000000)"
        print(f"  {name}: under {AIM_SECONDS:.0f} s: {r['seconds']:.1f} s: {verdict}")
        if BASELINE in results:
            ratio = results[BASELINE]["seconds"] / r["seconds"]
            verdict = "PASS" if ratio >= AIM_SPEEDUP_VS_PANDAS else "MISS"
            print(f"  {name}: at least {AIM_SPEEDUP_VS_PANDAS:.0f}x pandas: {ratio:.1f}x: {verdict}{at}")
        else:
            print(f"  {name}: at least {AIM_SPEEDUP_VS_PANDAS:.0f}x pandas: NOT JUDGED (pandas not run)")
        verdict = "PASS" if r["peak_mb"] < AIM_PEAK_MB else "MISS"
        print(f"  {name}: peak under {AIM_PEAK_MB:,} MB: {r['peak_mb']:,.0f} MB: {verdict}{at}")
    if "segplan" not in results:
        print("  segplan: NOT JUDGED (did not run)")
