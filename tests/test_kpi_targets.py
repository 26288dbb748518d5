"""KPI targets per segment come from the segment's policy; status against target by hand."""

from __future__ import annotations

import math

import pytest

from core.kpi_targets import AT_RISK_BAND, SERVICE_KPIS, kpi_status, segment_targets
from core.policy_plan import save_policies, version_policies
from core.sample import build_tiny_database
from core.versions import run_segmentation, version_in_force


@pytest.mark.parametrize(("value", "target", "status"), [
    (0.95, 0.95, "on_target"),
    (0.99, 0.95, "on_target"),
    (0.95 - AT_RISK_BAND, 0.95, "at_risk"),
    (0.9499, 0.95, "at_risk"),
    (0.90, 0.95, "off_target"),
    (None, 0.95, "no_target"),
    (math.nan, 0.95, "no_target"),
    (0.9, None, "no_target"),
])
def test_status_against_target(value, target, status):
    assert kpi_status(value, target) == status


def test_targets_follow_saved_policies_and_no_version_is_in_force_until_approved(store):
    build_tiny_database(store, seed=1)
    version = run_segmentation(store, "product", "nine_box").version_id
    policies = version_policies(store, version)
    targets = segment_targets(store, version)
    assert sorted(targets["segment"]) == sorted(str(p.segment) for p in policies)
    first = policies[0]
    save_policies(store, version, [first.__class__(**{**first.__dict__, "service_level": 0.9123})])
    targets = segment_targets(store, version).set_index("segment")
    for kpi in SERVICE_KPIS:
        assert targets.loc[str(first.segment), kpi] == pytest.approx(0.9123)
    assert version_in_force(store, "product") is None
    with store.transaction() as cur:
        cur.execute("UPDATE segment_versions SET status = 'approved' WHERE version_id = ?", [version])
    assert version_in_force(store, "product") == version
    assert version_in_force(store, "customer") is None
