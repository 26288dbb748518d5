"""segplan: the Streamlit entry file. Sets the page up, the session once, and the navigation.

Run with `streamlit run app.py` (or `make run`); the database is $SEGPLAN_DB, else
data/segplan.duckdb. Navigation follows the role: a page is listed only for roles that may
take its action (core.auth.PERMISSIONS).
"""

import streamlit as st

from core.auth import can
from ui.auth import sign_in_page, signed_in, user_box
from ui.state import init_session

st.set_page_config(layout="wide", page_title="segplan", page_icon=":material/hub:")
init_session()

#: section, page file, title, icon, the action a role needs to see the page.
PAGES: list[tuple[str, str, str, str, str]] = [
    ("Data", "pages/home.py", "Home", ":material/home:", "view"),
    ("Data", "pages/data.py", "Data", ":material/upload_file:", "ingest"),
    ("Data", "pages/explore.py", "Explore", ":material/query_stats:", "view"),
    ("Segments", "pages/segment.py", "Segment", ":material/hub:", "view"),
    ("Segments", "pages/explain.py", "Explain", ":material/psychology:", "view"),
    ("Policies", "pages/policies.py", "Policies", ":material/tune:", "view"),
    ("Monitor", "pages/overview.py", "Overview", ":material/monitoring:", "view"),
    ("Monitor", "pages/cost_to_serve.py", "Cost to serve", ":material/payments:", "view"),
    ("Monitor", "pages/monitor.py", "Monitor", ":material/monitor_heart:", "view"),
    ("Governance", "pages/users.py", "Users", ":material/group:", "manage_users"),
    ("Governance", "pages/audit.py", "Audit", ":material/history:", "view_audit"),
    ("Governance", "pages/compare.py", "Compare versions", ":material/compare_arrows:", "view"),
    ("Governance", "pages/approvals.py", "Approvals", ":material/approval:", "view"),
]

# Until someone is signed in (ui/auth.py: OIDC, a local account, or the local admin when
# there are no accounts) the sign-in page is the only page.
if not signed_in():
    st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()
user_box()
role = st.session_state.get("role", "admin")
sections: dict[str, list] = {}
for section, path, title, icon, action in PAGES:
    if can(role, action):
        sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=path == "pages/home.py"))
st.navigation(sections).run()
