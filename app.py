"""segplan: the Streamlit entry file. Sets the page up, the session once, and the navigation.

Run with `streamlit run app.py` (or `make run`); the database is $SEGPLAN_DB, else
data/segplan.duckdb.
"""

import streamlit as st

from ui.state import init_session

st.set_page_config(layout="wide", page_title="segplan", page_icon=":material/hub:")
init_session()

PAGES = {
    "Data": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("pages/explore.py", title="Explore", icon=":material/query_stats:"),
    ],
    "Segments": [
        st.Page("pages/segment.py", title="Segment", icon=":material/hub:"),
        st.Page("pages/explain.py", title="Explain", icon=":material/psychology:"),
    ],
    "Policies": [
        st.Page("pages/policies.py", title="Policies", icon=":material/tune:"),
    ],
}

st.navigation(PAGES).run()
