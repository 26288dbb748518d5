"""`python -m bench` (and `make bench`): both suites; or one of them by name.

    python -m bench                      # ingest + features at defaults, then segmentation at defaults
    python -m bench ingest [--rows ...]  # ingest + product features: segplan vs pandas vs raw DuckDB
    python -m bench segment [--items ...] [--repeat K]   # re-segmenting after a weight change vs scikit-learn
    python -m bench save [--items ...] [--repeat K]      # saving a version with its per-item features vs without
    python -m bench monitor [--lines ...] [--repeat K]   # KPIs, cost-to-serve, alerts, overrides vs raw DuckDB
    python -m bench --rows ...           # options without a suite name go to ingest, as before the
                                         # segmentation suite existed, so existing commands keep working
"""

from __future__ import annotations

import sys

SUITES = ("ingest", "segment", "save", "monitor")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Imported per suite: the segmentation suite pulls in scikit-learn, which ingest does not need.
    if argv and argv[0] == "segment":
        from bench.bench_segment import main as segment_main

        return segment_main(argv[1:])
    if argv and argv[0] == "save":
        from bench.bench_save import main as save_main

        return save_main(argv[1:])
    if argv and argv[0] == "monitor":
        from bench.bench_monitor import main as monitor_main

        return monitor_main(argv[1:])
    if argv and argv[0] == "ingest":
        argv = argv[1:]
    elif not argv:
        from bench.bench_segment import main as segment_main
        from bench.ingest_features import main as ingest_main

        codes = [ingest_main([])]
        print(flush=True)
        codes.append(segment_main([]))
        return max(codes)
    from bench.ingest_features import main as ingest_main

    return ingest_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
