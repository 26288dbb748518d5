"""`python -m bench` (and `make bench`): ingest + product features, segplan vs pandas vs raw DuckDB."""

from bench.ingest_features import main

raise SystemExit(main())
