"""Benchmark: ingest N order lines and compute product features, against pandas and raw DuckDB.

The contenders read the same generated CSV, each in its own subprocess so that its peak
memory is its own:

- ``segplan``: `core.store.Store` on a fresh database file, `core.ingest.ingest_file` then
  `core.features.compute_features(store, "product", "week")`.
- ``pandas``: `pd.read_csv` + `groupby`, the baseline every ratio is taken against.
- ``duckdb``: DuckDB's own `read_csv` into a table of a fresh database file, and the same
  product features in plain SQL, with no validation: the floor of what segplan can reach.
- ``duckdb_csv`` (opt-in): the same SQL straight from `read_csv`, no table stored: the raw
  engine doing exactly the baseline's job, the ceiling for any ratio vs pandas.

Speed is measured, never asserted: every run prints each contender's time beside the pandas
baseline of the same invocation, the peak memory of each, and whether they agree on totals.

This module runs the contenders and prints the table; the data is `bench.orders_csv`, the
contenders `bench.ingest_segplan` and `bench.ingest_baselines`, the checks and aims after the
table `bench.ingest_report`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, _code_version, _load
from bench.ingest_baselines import run_duckdb, run_duckdb_csv, run_pandas
from bench.ingest_report import BASELINE, _fmt_int, _print_aims, _print_features_check, _print_totals_check
from bench.ingest_segplan import run_segplan
from bench.orders_csv import DEFAULT_OUT_DIR, DEFAULT_SEED, LINES_PER_ORDER, generate_orders_csv

DEFAULT_ROWS = 1_000_000
CONTENDERS = ("segplan", "pandas", "duckdb")
#: Opt-in (``--only ...,duckdb_csv``): the raw engine doing exactly the baseline's work, the
#: features straight from the CSV with no table written: the ceiling for any ratio vs pandas.
EXTRA_CONTENDERS = ("duckdb_csv",)


# -- running one contender in its own process ----------------------------------------------

def _worker(argv: list[str]) -> int:
    """Child side: run one contender, print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_features --worker")
    parser.add_argument("--worker", required=True, choices=CONTENDERS + EXTRA_CONTENDERS)
    parser.add_argument("--csv", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--pandas-engine", default="c")
    args = parser.parse_args(argv)
    import resource

    import duckdb  # noqa: F401  imported before the clock starts, for every contender alike
    import pandas  # noqa: F401

    if args.worker == "segplan":
        import core.features  # noqa: F401
        import core.ingest  # noqa: F401
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        if args.worker == "pandas":
            out = run_pandas(args.csv, args.workdir, engine=args.pandas_engine)
        elif args.worker == "duckdb":
            out = run_duckdb(args.csv, args.workdir)
        elif args.worker == "duckdb_csv":
            out = run_duckdb_csv(args.csv, args.workdir)
        else:
            out = run_segplan(args.csv, args.workdir)
    except NotImplementedError as exc:
        out = {"not_implemented": f"{type(exc).__name__}: {exc}".rstrip(": ")}
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (user + system, all threads) of the work: less disturbed than wall time when
    # other processes share the cores, and it shows how much of the 2 cores a contender uses.
    out["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print("BENCH-RESULT " + json.dumps(out), flush=True)
    return 0


def run_contender(name: str, csv: Path, *, pandas_engine: str = "c", keep_dir: Path | None = None) -> dict:
    """Run one contender in a fresh subprocess, which reports its own peak resident memory.

    Its database goes to a temporary folder, or under `keep_dir` (``--keep``) to be inspected.
    """
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        workdir_cm = _KeptDir(Path(tempfile.mkdtemp(prefix=f"{name}-", dir=keep_dir)))
    else:
        workdir_cm = tempfile.TemporaryDirectory(prefix=f"segplan-bench-{name}-")
    with workdir_cm as workdir:
        cmd = [sys.executable, "-m", "bench.ingest_features", "--worker", name,
               "--csv", str(csv), "--workdir", str(workdir), "--pandas-engine", pandas_engine]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    found = [ln for ln in lines if ln.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not found:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"error": f"exit {proc.returncode}: {tail}"}
    result = json.loads(found[-1][len("BENCH-RESULT "):])
    peak = [ln for ln in lines if ln.startswith("BENCH-PEAK-KB ")]
    result["peak_mb"] = int(peak[-1].split()[1]) / 1024 if peak else float("nan")
    result["workdir"] = str(workdir)
    return result


class _KeptDir:
    """A context manager like TemporaryDirectory that leaves its folder in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--worker" in argv:
        return _worker(argv)

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time segplan ingest + product features against pandas read_csv + groupby and raw DuckDB.",
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="order lines to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the median time is reported")
    parser.add_argument("--keep", action="store_true", help="keep each contender's database under the output folder (the CSV is always cached there)")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders: segplan,pandas,duckdb (default all three); also duckdb_csv")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated data")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the generated CSV is cached")
    parser.add_argument("--pandas-engine", default="c", choices=("c", "pyarrow"), help="pd.read_csv engine of the baseline")
    args = parser.parse_args(argv)

    only = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in only if c not in CONTENDERS + EXTRA_CONTENDERS]
    if unknown or not only:
        parser.error(f"--only takes some of {','.join(CONTENDERS + EXTRA_CONTENDERS)}, not {args.only!r}")
    if args.rows < LINES_PER_ORDER or args.repeat < 1:
        parser.error("--rows must be at least 3 and --repeat at least 1")

    import duckdb
    import pandas as pd

    t_gen = time.perf_counter()
    csv, reused = generate_orders_csv(args.rows, args.out_dir, args.seed)
    gen_seconds = time.perf_counter() - t_gen
    size_mb = csv.stat().st_size / 1024 / 1024
    print(f"segplan bench: ingest + product features (week buckets), {args.rows:,} order lines")
    print(f"data: {csv} ({size_mb:,.0f} MB, {'reused' if reused else f'generated in {gen_seconds:.1f} s'}, seed {args.seed})")
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, pandas {pd.__version__} "
          f"(read_csv engine {args.pandas_engine}), {os.cpu_count()} cores; repeat {args.repeat} (median seconds, max peak)")
    print("each contender runs in its own process; seconds exclude interpreter start-up and imports")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, core at {_code_version()}, {_load()}")
    print()

    runs: dict[str, list[dict]] = {c: [] for c in only}
    keep_dir = args.out_dir / f"run-{time.strftime('%Y%m%dT%H%M%S')}" if args.keep else None
    for _ in range(args.repeat):
        for name in only:  # round robin, so background load hits every contender alike
            runs[name].append(run_contender(name, csv, pandas_engine=args.pandas_engine, keep_dir=keep_dir))
    if keep_dir is not None:
        print(f"kept the contenders' databases under {keep_dir}")

    results: dict[str, dict] = {}
    notes: list[str] = []
    failed = False
    for name in only:
        bad = [r for r in runs[name] if "seconds" not in r]
        if bad:
            if "not_implemented" in bad[0]:
                notes.append(f"{name}: NOT RUN: {bad[0]['not_implemented']} (still a stub)")
            else:
                failed = True
                notes.append(f"{name}: FAILED: {bad[0].get('error', 'no result')}")
            continue
        good = runs[name]
        # phases come from the median run by seconds (the lower of the middle two for even K)
        results[name] = dict(sorted(good, key=lambda r: r["seconds"])[(len(good) - 1) // 2])
        results[name]["seconds"] = statistics.median(r["seconds"] for r in good)
        results[name]["peak_mb"] = max(r.get("peak_mb", float("nan")) for r in good)
        results[name]["cpu_seconds"] = statistics.median(r["cpu_seconds"] for r in good)

    base = results.get(BASELINE)
    print(f"{'contender':<10} {'seconds':>9} {'rows/s':>12} {'peak MB':>9} {'vs pandas':>10} {'cpu s':>8}")
    for name in only:
        if name not in results:
            print(f"{name:<10} {'-':>9} {'-':>12} {'-':>9} {'-':>10} {'-':>8}")
            continue
        r = results[name]
        ratio = f"{base['seconds'] / r['seconds']:.1f}x" if base else "n/a"
        print(f"{name:<10} {r['seconds']:>9.2f} {_fmt_int(args.rows / r['seconds']):>12} {r['peak_mb']:>9,.0f} {ratio:>10}"
              f" {r['cpu_seconds']:>8.2f}")
    for note in notes:
        print(note)
    print("(vs pandas = pandas seconds / contender seconds, above 1x is faster; cpu s = user + system"
          " seconds of the work over all threads)")
    print()

    for name in only:
        if name in results:
            which = " of the median run" if len(runs[name]) > 1 else ""
            print(f"phases {name}{which} (wall s / cpu s):")
            for label, (wall, cpu) in results[name]["phases"].items():
                print(f"  {label:<58} {wall:>8.2f} {cpu:>8.2f}")
    if "segplan" in results:
        ing = results["segplan"]["ingest"]
        print(f"segplan ingest: read {ing['rows_read']:,}, loaded {ing['rows_loaded']:,}, rejected {ing['rows_rejected']:,}"
              + (f" {ing['reject_reasons']}" if ing["reject_reasons"] else ""))
    print()

    ok = _print_totals_check(results)
    _print_features_check(results)
    _print_aims(results, args.rows)
    print(f"finished {time.strftime('%H:%M UTC', time.gmtime())}, {_load()}")
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    if "--worker" in sys.argv:
        code = main()
        import resource

        # The child's own peak resident set (kilobytes on Linux), read after all its work.
        print(f"BENCH-PEAK-KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)
        raise SystemExit(code)
    raise SystemExit(main())
