"""Helpers the bench suites share: the repository root, timing points, the machine's load, the
code version measured, exact sums. Used by `bench.ingest_features` and `bench.bench_monitor`."""

from __future__ import annotations

import math
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _now() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process over all its threads): a point to time steps from."""
    return time.perf_counter(), time.process_time()


def _span(start: tuple[float, float], end: tuple[float, float]) -> list[float]:
    """[wall seconds, CPU seconds] between two `_now` points."""
    return [end[0] - start[0], end[1] - start[1]]


def _nan_fsum(values) -> float:
    """Exact sum of the values that are not NaN/NULL."""
    return math.fsum(float(v) for v in values if v is not None and not math.isnan(float(v)))


def _load() -> str:
    """The machine's load, printed with every run: wall times mean little without it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def _code_version() -> str:
    """The commit of the code being measured, and whether core/ has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "core"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit (not a git checkout)"
    return f"commit {commit}" + (" + uncommitted changes in core/" if dirty else "")
