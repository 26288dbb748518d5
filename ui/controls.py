"""Sidebar controls and display names shared by the pages that work on items of a level.

Explore and Segment share the level, bucket and ABC measure (same session keys), so a choice
made on one page holds on the other.
"""

from __future__ import annotations

import streamlit as st

from core.classify import MEASURES
from core.features import BUCKETS, LEVELS

LEVEL_NAMES = {"product": "product", "customer": "customer", "customer_product": "customer x product"}
ITEM_NAMES = {"product": "products", "customer": "customers", "customer_product": "customer-product pairs"}


def item_controls(*, bucket_help: str, measure_help: str) -> tuple[str, str, str]:
    """Level, time bucket and ABC measure, drawn where called (inside ``st.sidebar``)."""
    level = st.selectbox("Level", LEVELS, format_func=LEVEL_NAMES.get, key="level", persist_state="session",
                         help="What one item is: a product, a customer, or one customer's buying of one product.")
    bucket = st.radio("Time bucket", BUCKETS, key="bucket", persist_state="session", horizontal=True, help=bucket_help)
    measure = st.selectbox("ABC measure", MEASURES, key="measure", persist_state="session", help=measure_help)
    return level, bucket, measure
