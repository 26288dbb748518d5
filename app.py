"""segplan: the Streamlit entry file. Sets the page up, the session once, and the navigation.

Run with `streamlit run app.py` (or `make run`); the database is $SEGPLAN_DB, else
data/segplan.duckdb. Navigation follows the role: a page is listed only for roles that may
take its action (core.auth.PERMISSIONS).
"""

import streamlit as st

from core.auth import can
from ui.auth import deny_page, sign_in_page, signed_in, user_box
from ui.state import init_session, store_in_use

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
    st.session_state["nav_pages"] = ["Sign in"]
    with store_in_use():   # the app never lets go of the file in the middle of a run (core.store.Store)
        st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()
user_box()
role = st.session_state.get("role", "admin")
sections: dict[str, list] = {}
denied: dict[str, str] = {}   # title -> action of the pages the role may not open
for section, path, title, icon, action in PAGES:
    # Pages the role may not see stay registered but hidden, so links to them (e.g. "Load data"
    # on Home) still resolve; opening one shows why instead of the page.
    allowed = can(role, action)
    page = st.Page(path, title=title, icon=icon, default=path == "pages/home.py",
                   visibility="visible" if allowed else "hidden")
    if not allowed:
        denied[title] = action
    sections.setdefault(section, []).append(page)
# the titles the navigation lists, for pages deciding whether to offer a link (and for tests)
st.session_state["nav_pages"] = [title for _, _, title, _, action in PAGES if can(role, action)]
current = st.navigation(sections, expanded=True)   # every page listed: no "View more" fold
with store_in_use():   # the app never lets go of the file in the middle of a run (core.store.Store)
    if current.title in denied:
        deny_page(current.title, denied[current.title])
    else:
        current.run()
