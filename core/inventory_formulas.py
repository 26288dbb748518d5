"""Textbook inventory formulas, elementwise over numpy arrays: the standard normal loss
function and its inverse, safety stock, safety factor, expected fill rate and the EOQ.

`core.policy` applies them per item and per segment policy; its module docstring states the
units and the formulas with their sources (Chopra & Meindl 6th ed. ch. 11-12; Silver, Pyke &
Thomas 4th ed. ch. 6 and Appendix B).
"""

from __future__ import annotations

import numpy as np

#: bisection bracket for the inverse loss function: G(-6) = 6.0000 (demand almost surely
#: exceeds nothing) and G(8) < 1e-16, so every attainable target lies inside
_Z_LOWER, _Z_UPPER = -6.0, 8.0
#: halvings of the bracket (14 / 2^20 ~ 1e-5) before Newton steps take z to machine precision
_BISECTIONS = 20
_NEWTON_STEPS = 3


# --- normal loss function ------------------------------------------------------------------


def loss_function(z: np.ndarray | float) -> np.ndarray:
    """Standard normal loss function G(z) = phi(z) - z (1 - Phi(z)), the expected shortfall of a
    standard normal beyond z (Silver, Pyke & Thomas 4th ed., Appendix B; Chopra & Meindl 6th ed.
    ch. 12, ESC with ss / sigma_L = z). ``1 - Phi(z)`` is taken as Phi(-z) so large z keep
    their precision."""
    from scipy.special import ndtr

    z = np.asarray(z, dtype=float)
    phi = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return phi - z * ndtr(-z)


def loss_function_inverse(target: np.ndarray | float) -> np.ndarray:
    """z with G(z) = target, elementwise: fixed-count bisection, then Newton steps.

    G is strictly decreasing and convex with G'(z) = -(1 - Phi(z)), so the bisection brackets
    the root to 14 / 2^20 and Newton's method, quadratic from there, finishes it. Targets above
    G(-6) give -6, targets at or below G(8) (including 0) give 8; NaN stays NaN.
    """
    from scipy.special import ndtr

    target = np.asarray(target, dtype=float)
    low = np.full(target.shape, _Z_LOWER)
    high = np.full(target.shape, _Z_UPPER)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (low + high)
        above = loss_function(mid) > target  # still too much shortage: z must grow
        low = np.where(above, mid, low)
        high = np.where(above, high, mid)
    z = 0.5 * (low + high)
    for _ in range(_NEWTON_STEPS):
        z = np.clip(z + (loss_function(z) - target) / ndtr(-z), low, high)  # stays in the bracket
    return np.where(np.isnan(target), np.nan, z)


# --- per-item formulas ---------------------------------------------------------------------


def safety_stock(z: np.ndarray | float, demand_mean: np.ndarray | float, demand_std: np.ndarray | float,
                 lead_time: np.ndarray | float, lead_time_std: np.ndarray | float = 0.0,
                 review_period: np.ndarray | float = 0.0) -> np.ndarray:
    """z * sqrt((L + R) sigma_d^2 + d^2 sigma_L^2), all in one time unit (Chopra & Meindl 6th ed.
    ch. 12, impact of supply uncertainty; R per Silver, Pyke & Thomas 4th ed. ch. 6, (R, S))."""
    return np.asarray(z, dtype=float) * _sigma_protection(demand_mean, demand_std, lead_time, lead_time_std,
                                                           review_period)


def _sigma_protection(demand_mean, demand_std, lead_time, lead_time_std, review_period) -> np.ndarray:
    d, sd = np.asarray(demand_mean, dtype=float), np.asarray(demand_std, dtype=float)
    period = np.asarray(lead_time, dtype=float) + np.asarray(review_period, dtype=float)
    return np.sqrt(period * sd**2 + d**2 * np.asarray(lead_time_std, dtype=float) ** 2)


def safety_factor(service_level: np.ndarray | float, service_level_type: np.ndarray | str,
                  sigma_protection: np.ndarray | float, order_quantity: np.ndarray | float) -> np.ndarray:
    """z for a cycle service level (Phi^-1(CSL)) or a fill rate (G(z) = (1 - beta) Q / sigma_P).

    With no uncertainty (sigma_P = 0) or nothing ordered (Q = 0) a fill-rate target needs no
    protection: z = 0.
    """
    from scipy.special import ndtri

    level = np.asarray(service_level, dtype=float)
    sigma = np.asarray(sigma_protection, dtype=float)
    q = np.asarray(order_quantity, dtype=float)
    is_fill = np.asarray(service_level_type) == "fill_rate"
    solvable = is_fill & (sigma > 0) & (q > 0)
    shape = np.broadcast(level, sigma, q, is_fill).shape
    z_fill = np.zeros(shape)
    if solvable.any():  # solve only where a fill rate is asked and can be met by stock
        pick = np.broadcast_to(solvable, shape)
        level_b, sigma_b, q_b = (np.broadcast_to(a, shape)[pick] for a in (level, sigma, q))
        z_fill[pick] = loss_function_inverse((1.0 - level_b) * q_b / sigma_b)
    return np.where(is_fill, z_fill, ndtri(level))


def expected_fill_rate(z: np.ndarray | float, sigma_protection: np.ndarray | float,
                       order_quantity: np.ndarray | float) -> np.ndarray:
    """1 - sigma_P G(z) / Q, clipped to [0, 1]; NaN when Q = 0 (Chopra & Meindl 6th ed. ch. 12, fill rate)."""
    q = np.asarray(order_quantity, dtype=float)
    shortage = np.asarray(sigma_protection, dtype=float) * loss_function(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 1.0 - shortage / q
    return np.where(q > 0, np.clip(rate, 0.0, 1.0), np.nan)


def economic_order_quantity(annual_demand: np.ndarray | float, ordering_cost: float, holding_rate: float,
                            unit_cost: np.ndarray | float) -> np.ndarray:
    """sqrt(2 D S / (h c)) (Chopra & Meindl 6th ed. ch. 11, EOQ); NaN where c is unknown or not positive."""
    c = np.asarray(unit_cost, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.sqrt(2.0 * np.asarray(annual_demand, dtype=float) * ordering_cost / (holding_rate * c))
    return np.where(c > 0, q, np.nan)
