"""Tiny run of the monitoring benchmark through `python -m bench monitor`'s entry point (no timings asserted)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.__main__ import main

BENCHMARKS = ("segment_kpis week", "cost_to_serve customer", "control_alerts week", "effective_assignments")


def test_tiny_run_prints_every_benchmark_with_a_ratio_and_the_checks_agree(tmp_path: Path, capsys):
    code = main(["monitor", "--lines", "3000", "--repeat", "1", "--overrides", "10", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "monitor bench: 3,000 order lines" in out
    assert re.search(r"^benchmark\s+segplan s\s+cpu s\s+baseline s\s+cpu s\s+baseline/segplan\s+extra s\s+baseline$",
                     out, re.M), out
    for name in BENCHMARKS:
        # segplan seconds and cpu, baseline seconds and cpu, the ratio, the extra seconds, the baseline's name
        row = rf"^{re.escape(name)}\s+\d+\.\d{{3}}\s+\d+\.\d\d\s+\d+\.\d{{3}}\s+\d+\.\d\d\s+\d+\.\d\dx\s+[+-]\d+\.\d{{3}}\s+\S"
        assert re.search(row, out, re.M), (name, out)
    for name in ("segment_kpis vs raw DuckDB", "cost_to_serve vs raw DuckDB", "effective_assignments"):
        assert f"check {name}: AGREE" in out, out
    assert "10 overridden" in out
    assert "DISAGREE" not in out
