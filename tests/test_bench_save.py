"""Tiny run of the save benchmark through `python -m bench save`'s entry point (no timings asserted)."""

from __future__ import annotations

import re

from bench.__main__ import main


def test_tiny_run_prints_both_saves_and_the_feature_rows(capsys):
    code = main(["save", "--items", "2000", "--repeat", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "save a version: 2,000 items, 8 features kept" in out
    assert re.search(r"^without features\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d\d\s+-?\d+\.\d\s+0$", out, re.M), out
    row = re.search(r"^with features\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d\d\s+-?\d+\.\d\s+([\d,]+)$", out, re.M)
    assert row, out
    # 2,000 items x 8 features, less the margins left undefined (about a tenth): one row per value
    rows = int(row.group(1).replace(",", ""))
    assert 2_000 * 7 < rows < 2_000 * 8
    assert re.search(r"^features cost [+-]\d+\.\d{3} s per save", out, re.M), out
