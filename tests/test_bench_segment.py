"""Tiny run of the segmentation benchmark through `python -m bench segment`'s entry point.

No timings are asserted; only that the harness runs, prints both contenders with a ratio and
an aim line, and that the baseline found the same segments as segplan on the grouped data.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_segment
from bench.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
NUMBER_ROW = r"\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d\d\s+\d+\.\d\dx"


def test_tiny_run_prints_both_contenders_and_they_agree(capsys):
    code = main(["segment", "--items", "5000", "--repeat", "2"])
    out = capsys.readouterr().out

    assert code == 0, out
    assert "segmentation: 5,000 items x 8 features, k=6, seed 0, 2 weight changes (median)" in out
    assert re.search(r"^first fit \(prepare \+ cluster \+ result\): \d+\.\d\d s, cpu \d+\.\d\d s$", out, re.M), out
    assert re.search(r"^contender\s+seconds\s+min\s+max\s+cpu s\s+baseline/segplan\s+ARI merged\s+ARI raw\s+SSE ratio$",
                     out, re.M), out
    assert re.search(r"^segplan" + NUMBER_ROW + r"\s+-\s+-\s+-$", out, re.M), out
    assert re.search(r"^segplan" + NUMBER_ROW, out, re.M).group(0).rstrip().endswith("1.00x"), out
    row = re.search(r"^sklearn KMeans" + NUMBER_ROW + r"\s+(\d\.\d{3})\s+(-?\d\.\d{3})\s+(\d+\.\d{3})$", out, re.M)
    assert row, out
    ari_merged, sse_ratio = float(row.group(1)), float(row.group(3))
    # Same matrix, same seed, same restarts: the same clusters, once merged by the same rule.
    assert ari_merged > 0.99 and sse_ratio == pytest.approx(1.0, abs=0.01), out
    assert "MiniBatchKMeans" not in out  # only above the engine's mini-batch threshold
    assert "aim: none stated for 5,000 items" in out


def test_run_returns_what_it_printed(capsys):
    numbers = bench_segment.run(3_000, repeats=1)
    out = capsys.readouterr().out
    assert set(numbers["median"]) == {bench_segment.SEGPLAN, bench_segment.KMEANS}
    assert f"{numbers['median'][bench_segment.SEGPLAN]:.3f}" in out
    assert numbers["ari"][bench_segment.KMEANS] > 0.99
    assert numbers["aim_met"] is None


def test_minibatch_baseline_and_aim_verdict(capsys, monkeypatch):
    # A lower stated aim size and mini-batch threshold exercise the 1M code path on 4k items.
    monkeypatch.setattr(bench_segment, "AIMS", {4_000: 1e9})
    options = bench_segment.ClusterOptions(minibatch_threshold=1_000)
    numbers = bench_segment.run(4_000, repeats=1, options=options)
    out = capsys.readouterr().out
    assert re.search(r"^sklearn MiniBatchKMeans" + NUMBER_ROW, out, re.M), out
    assert "engine k-means path: mini-batch" in out
    assert "aim: re-segment 4,000 items under 1e+09 s median:" in out and out.count("PASS") == 1
    assert 0.0 < numbers["ari"][bench_segment.MINIBATCH] <= 1.0
    assert numbers["aim_met"] is True


def test_suite_dispatch_keeps_ingest_options(monkeypatch):
    calls = []
    import bench.bench_segment as seg
    import bench.ingest_features as ing

    monkeypatch.setattr(ing, "main", lambda argv: calls.append(("ingest", argv)) or 0)
    monkeypatch.setattr(seg, "main", lambda argv: calls.append(("segment", argv)) or 0)
    assert main(["--rows", "300"]) == 0
    assert main(["ingest", "--rows", "300"]) == 0
    assert main(["segment", "--items", "10"]) == 0
    assert main([]) == 0
    assert calls == [("ingest", ["--rows", "300"]), ("ingest", ["--rows", "300"]), ("segment", ["--items", "10"]),
                     ("ingest", []), ("segment", [])]


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "bench", "segment", "--help"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--repeat" in proc.stdout, proc.stderr
