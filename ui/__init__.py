"""Streamlit-side shared code: the cached store, cached data, session state, error display.

Everything here may import streamlit; `core/` never does.
"""
