"""Feature preparation: imputation, signed log, capping, scaling, weights, fingerprints."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.errors import SegplanError
from core.segment_prep import data_fingerprint, prepare_features, signed_log1p, skewness


def _items(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"product_id": [f"P{i}" for i in range(n)], **columns})


def test_signed_log_keeps_sign_and_zero():
    out = signed_log1p(np.array([-np.e + 1, 0.0, np.e - 1, 99.0]))
    np.testing.assert_allclose(out, [-1.0, 0.0, 1.0, np.log(100.0)])


def test_skewness_hand_case():
    # values 0, 0, 0, 4: mean 1, m2 = 3, m3 = (3*(-1)^3 + 3^3)/4 = 6 -> g1 = 6 / 3**1.5
    assert skewness(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(6 / 3**1.5)
    assert skewness(np.array([2.0, 2.0, 2.0])) == 0.0


def test_median_imputation_is_counted_and_uses_median():
    items = _items(quantity=[1.0, np.nan, 3.0, 10.0, np.nan], cv=[0.1, 0.2, 0.3, 0.4, 0.5])
    prep = prepare_features(items, log="none", cap_percentile=None)
    assert prep.imputed == {"quantity": 2, "cv": 0}
    np.testing.assert_allclose(prep.original[:, 0], [1.0, 3.0, 3.0, 10.0, 3.0])


def test_auto_log_flags_skewed_feature_only():
    rng = np.random.default_rng(0)
    items = _items(revenue=list(rng.lognormal(3, 1.5, 500)), cv=list(rng.normal(1, 0.1, 500)))
    prep = prepare_features(items, log="auto", cap_percentile=None)
    assert prep.log_features == ["revenue"]
    explicit = prepare_features(items, log=["cv"], cap_percentile=None)
    assert explicit.log_features == ["cv"]
    assert prepare_features(items, log="none").log_features == []


def test_cap_at_percentile_before_scaling_hand_case():
    # 0..99 and one outlier 1e6: capping at the 99th percentile pulls the outlier to it.
    values = [float(v) for v in range(100)] + [1e6]
    items = _items(quantity=values)
    capped = prepare_features(items, log="none", cap_percentile=99.0, scaling="standard")
    high = float(np.percentile(values, 99))
    low = float(np.percentile(values, 1))
    assert capped.caps["quantity"] == pytest.approx((low, high))
    # Standard scaling on capped values: the outlier sits near the top of the capped range.
    assert capped.scaled[:, 0].max() < 2.0
    kept = prepare_features(items, log="none", cap_percentile=None, scaling="standard")
    assert kept.caps == {}
    assert kept.scaled[:, 0].max() > 9.0  # the outlier dominates without capping


def test_robust_scaling_centres_on_median_and_divides_by_iqr():
    items = _items(quantity=[1.0, 2.0, 3.0, 4.0, 5.0])
    prep = prepare_features(items, log="none", cap_percentile=None, scaling="robust")
    # median 3, IQR = 4 - 2 = 2
    np.testing.assert_allclose(prep.scaled[:, 0], [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(prep.transform(np.array([[3.0], [7.0]]))[:, 0], [0.0, 2.0])


def test_weights_multiply_and_zero_drops_feature():
    items = _items(quantity=[1.0, 2.0, 3.0, 4.0, 5.0], cv=[5.0, 3.0, 1.0, 2.0, 4.0])
    prep = prepare_features(items, log="none", cap_percentile=None)
    matrix, used = prep.reweight({"quantity": 2.0, "cv": 0})
    assert used == ["quantity"]
    np.testing.assert_allclose(matrix[:, 0], 2.0 * prep.scaled[:, 0])
    with pytest.raises(SegplanError, match="weight of 'cv'"):
        prep.reweight({"cv": 6})
    with pytest.raises(SegplanError, match="unknown feature 'lead'"):
        prep.reweight({"lead": 1})
    with pytest.raises(SegplanError, match="every feature has weight 0"):
        prep.reweight({"quantity": 0, "cv": 0})


def test_bad_parameters_name_the_parameter():
    items = _items(quantity=[1.0, 2.0])
    with pytest.raises(SegplanError, match="scaling"):
        prepare_features(items, scaling="minmax")
    with pytest.raises(SegplanError, match="'nope'"):
        prepare_features(items, features=["nope"])
    with pytest.raises(SegplanError, match="cap_percentile"):
        prepare_features(items, cap_percentile=20)


def test_fingerprint_is_stable_and_sensitive():
    items = _items(quantity=[1.0, 2.0, 3.0])
    params = {"method": "kmeans", "k": 3}
    assert data_fingerprint(items, params) == data_fingerprint(items.copy(), dict(params))
    assert data_fingerprint(items, params) != data_fingerprint(items, {"method": "kmeans", "k": 4})
    changed = items.assign(quantity=[1.0, 2.0, 3.5])
    assert data_fingerprint(items, params) != data_fingerprint(changed, params)


def test_importing_the_engine_does_not_import_sklearn():
    code = "import sys, core.segment; assert 'sklearn' not in sys.modules and 'scipy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
