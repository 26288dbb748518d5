"""Control charts: p-chart limits against published examples and by hand, XmR by hand, each Western Electric rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.control_charts import p_chart, western_electric, xmr_chart
from core.errors import SegplanError


def test_p_chart_with_a_standard_value_matches_the_published_limits():
    # https://justaaa.com/statistics-and-probability/90864-random-samples-of-size-n-400-are-taken-from-a
    # n = 400, p = 0.15: CL 0.15, UCL 0.2036, LCL 0.0964; of the proportions 0.06, 0.11, 0.09,
    # 0.08, 0.14, 0.16 the first lies below the LCL (so do the 3rd and 4th, by the same limits).
    proportions = [0.06, 0.11, 0.09, 0.08, 0.14, 0.16]
    chart = p_chart([p * 400 for p in proportions], [400] * 6, p_standard=0.15)
    assert chart["centre"].tolist() == [0.15] * 6
    assert chart["ucl"].round(4).tolist() == [0.2036] * 6
    assert chart["lcl"].round(4).tolist() == [0.0964] * 6
    assert chart["value"].tolist() == pytest.approx(proportions)
    beyond = [("1" in rules.split(",")) for rules in chart["rules"]]
    assert beyond == [True, False, True, True, False, False]


def test_p_chart_of_montgomery_orange_juice_cans():
    # Montgomery, Introduction to Statistical Quality Control (frozen orange juice cans, trial
    # limits from 30 samples of n = 50): p̄ = 347/1500 = 0.2313, UCL 0.4102, LCL 0.0524;
    # samples 15 and 23 are above the UCL. The counts are those of the R package qcc's
    # `orangejuice` data set, which cites Montgomery (github.com/luca-scr/qcc, data/orangejuice.txt,
    # the 30 rows with trial = TRUE); the limits are as the book states them.
    nonconforming = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                     8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    chart = p_chart(nonconforming, [50] * 30)
    assert chart.attrs["centre"] == pytest.approx(347 / 1500)
    assert round(chart.attrs["centre"], 4) == 0.2313
    assert chart["ucl"].round(4).unique().tolist() == [0.4102]
    assert chart["lcl"].round(4).unique().tolist() == [0.0524]
    above = [i + 1 for i, v in enumerate(chart["value"]) if v > chart["ucl"].iloc[i]]
    assert above == [15, 23]


def test_p_chart_limits_vary_with_the_size_of_each_point():
    # by hand: p̄ = (1 + 8 + 45) / (10 + 40 + 150) = 0.27; sigma_i = sqrt(0.27 * 0.73 / n_i)
    chart = p_chart([1, 8, 45], [10, 40, 150])
    assert chart.attrs["centre"] == pytest.approx(0.27)
    sigma = [math.sqrt(0.27 * 0.73 / n) for n in (10, 40, 150)]
    assert chart["sigma"].tolist() == pytest.approx(sigma)
    assert chart["ucl"].tolist() == pytest.approx([0.691177, 0.480589, 0.378748], abs=1e-6)
    # n = 10: 0.27 - 0.4212 < 0, clipped to 0
    assert chart["lcl"].tolist() == pytest.approx([0.0, 0.059411, 0.161252], abs=1e-6)
    assert chart["value"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert chart["rules"].tolist() == ["", "", ""]


def test_p_chart_upper_limit_is_clipped_to_one_and_an_empty_point_has_no_limits():
    chart = p_chart([2, 0, 1], [2, 0, 4])
    assert chart["ucl"].iloc[0] == 1.0
    assert np.isnan(chart["value"].iloc[1]) and np.isnan(chart["lcl"].iloc[1]) and chart["rules"].iloc[1] == ""


def test_p_chart_refuses_impossible_counts():
    with pytest.raises(SegplanError, match="successes <= n"):
        p_chart([5], [4])
    with pytest.raises(SegplanError, match="one n per point"):
        p_chart([1, 2], [4])


def test_xmr_chart_by_hand():
    # mean 12; moving ranges 2, 1, 4, 3 -> MR̄ 2.5; X limits 12 ± 2.66 * 2.5; MR UCL 3.267 * 2.5
    chart = xmr_chart([10, 12, 11, 15, 12])
    assert chart["centre"].unique().tolist() == [12.0]
    assert chart["ucl"].iloc[0] == pytest.approx(18.65)
    assert chart["lcl"].iloc[0] == pytest.approx(5.35)
    assert chart["moving_range"].tolist()[1:] == [2.0, 1.0, 4.0, 3.0] and np.isnan(chart["moving_range"].iloc[0])
    assert chart["mr_centre"].iloc[0] == pytest.approx(2.5)
    assert chart["mr_ucl"].iloc[0] == pytest.approx(8.1675)
    assert not chart["mr_beyond_ucl"].any()
    assert chart["rules"].tolist() == [""] * 5


def test_xmr_chart_flags_a_shift_and_skips_missing_values():
    chart = xmr_chart([10, 10, 11, np.nan, 10, 30])
    # MR over the known values 10, 10, 11, 10, 30: 0, 1, 1, 20 -> MR̄ 5.5
    assert chart["mr_centre"].iloc[0] == pytest.approx(5.5)
    assert chart["moving_range"].iloc[4] == 1.0 and np.isnan(chart["moving_range"].iloc[3])
    assert chart["mr_beyond_ucl"].tolist() == [False] * 5 + [True]
    with pytest.raises(SegplanError, match="at least 2 values"):
        xmr_chart([1.0, np.nan])


@pytest.mark.parametrize("series, flagged_at, rule", [
    ([0, 0.5, 3.5, -0.2], 2, "1"),
    ([-0.2, 0.5, -3.2], 2, "1"),
    ([0.5, 2.5, -0.5, 2.5], 3, "2"),
    ([-2.2, 0.1, -2.4], 2, "2"),
    ([1.5, 1.5, 0.5, 1.5, 1.5], 4, "3"),
    ([-1.2, -1.5, -1.1, 0.3, -1.8], 4, "3"),
    ([0.5] * 8, 7, "4"),
    ([-0.1] * 8, 7, "4"),
])
def test_each_western_electric_rule_is_flagged_where_its_pattern_completes(series, flagged_at, rule):
    rules = western_electric(series, 0.0, 1.0)
    assert rules[flagged_at] == rule
    assert all(r == "" for i, r in enumerate(rules) if i != flagged_at)


def test_a_clean_series_breaks_no_rule():
    clean = [0.5, -0.5, 1.2, -1.2, 0.3, -2.1, 0.8, -0.4, 0.1, -0.9, 0.6, -0.2]
    assert western_electric(clean, 0.0, 1.0) == [""] * len(clean)
    # the same points on the opposite sides of 2 sigma do not make rule 2
    assert western_electric([2.5, -2.5, 0.0], 0.0, 1.0) == ["", "", ""]
    # 7 in a row is not 8, and a point on the centre breaks the run
    assert western_electric([0.5] * 7 + [0.0] + [0.5] * 7, 0.0, 1.0) == [""] * 15


def test_rules_use_per_point_centre_and_sigma():
    # the same value is beyond 3 sigma where sigma is small, within where it is large
    assert western_electric([0.5, 0.5], [0.2, 0.2], [0.05, 0.5]) == ["1", ""]
    with pytest.raises(SegplanError, match="one per point"):
        western_electric([1, 2, 3], [0, 0], 1)
